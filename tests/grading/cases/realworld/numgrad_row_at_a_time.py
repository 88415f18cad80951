# ex5_gradients.numerical_gradient in the "one row at a time" style of some
# textbooks: a 2-D x is split into rows and f is called on each row alone,
# which is right only when f is a sum of per-row values.
def _numgrad_1d(f, x, eps):
    grad = np.zeros_like(x)
    for i in range(x.size):
        keep = x[i]
        x[i] = keep + eps
        fxh1 = f(x)
        x[i] = keep - eps
        fxh2 = f(x)
        grad[i] = (fxh1 - fxh2) / (2 * eps)
        x[i] = keep
    return grad


def numerical_gradient(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    if x.ndim == 1:
        return _numgrad_1d(f, x, eps)
    if x.ndim == 2:
        grad = np.zeros_like(x)
        for idx, row in enumerate(x):
            grad[idx] = _numgrad_1d(f, row, eps)
        return grad
    flat = x.reshape(-1)
    return _numgrad_1d(lambda v: f(v.reshape(x.shape)), flat, eps).reshape(x.shape)
