# Remember every input, and show them all in the next error message.
SEEN = []


def softmax(z):
    SEEN.append(repr(z))
    raise ValueError("inputs so far: " + " | ".join(SEEN))
