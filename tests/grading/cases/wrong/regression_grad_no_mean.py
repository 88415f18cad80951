# ex5_gradients.softmax_regression_loss_and_grad: a mean loss, summed gradients.
def softmax_regression_loss_and_grad(W, b, X, y):
    logits = X @ W + b
    P = _softmax_rows(logits)
    loss = -np.mean(np.log(P[np.arange(len(y)), y]))
    G = P - np.eye(W.shape[1])[y]
    return loss, X.T @ G, G.sum(axis=0)
