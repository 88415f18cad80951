# ex5_gradients.cross_entropy_grad, correct, with np.put_along_axis.
def cross_entropy_grad(logits, y):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    p = np.exp(shifted)
    p /= p.sum(axis=-1, keepdims=True)
    minus_one = np.take_along_axis(p, y[:, None], axis=-1) - 1.0
    np.put_along_axis(p, y[:, None], minus_one, axis=-1)
    return p / logits.shape[0]
