# ex5_gradients.cross_entropy_grad with its own softmax over one global maximum.
def cross_entropy_grad(logits, y):
    e = np.exp(logits - logits.max())
    with np.errstate(invalid="ignore"):
        p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    return p / len(y)
