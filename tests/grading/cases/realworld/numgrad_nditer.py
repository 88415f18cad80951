# ex5_gradients.numerical_gradient, correct, with np.nditer over a copy.
def numerical_gradient(f, x, eps=1e-6):
    x = np.array(x, dtype=np.float64, copy=True)
    grad = np.empty_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        saved = x[i]
        x[i] = saved + eps
        up = f(x)
        x[i] = saved - eps
        down = f(x)
        x[i] = saved
        grad[i] = (up - down) / (2 * eps)
    return grad
