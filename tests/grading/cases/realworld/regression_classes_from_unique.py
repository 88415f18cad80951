# ex5_gradients.softmax_regression_loss_and_grad with a one-hot of
# len(np.unique(y)) columns: it raises when a class occurs in no label.
def softmax_regression_loss_and_grad(W, b, X, y):
    n = X.shape[0]
    Y = np.eye(len(np.unique(y)))[np.searchsorted(np.unique(y), y)]
    logits = X @ W + b
    m = logits.max(axis=1, keepdims=True)
    log_p = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    G = (np.exp(log_p) - Y) / n
    return -np.mean(np.sum(Y * log_p, axis=1)), X.T @ G, G.sum(axis=0)
