# ex5_gradients.softmax_regression_loss_and_grad, correct, returning a list.
def softmax_regression_loss_and_grad(W, b, X, y):
    z = X @ W + b
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -log_p[np.arange(n), y].mean()
    d = np.exp(log_p)
    d[np.arange(n), y] -= 1
    d /= n
    return [loss, X.T @ d, d.sum(axis=0)]
