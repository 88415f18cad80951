# ex5_gradients.cross_entropy_grad without the max shift.
def cross_entropy_grad(logits, y):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(logits)
        p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    return p / len(y)
