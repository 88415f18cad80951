# ex3_mle.fit_softmax_regression, correct, returning a list [W, b].
def fit_softmax_regression(X, y, num_classes, lr=0.1, num_steps=100):
    params = [np.zeros((X.shape[1], num_classes)), np.zeros(num_classes)]
    targets = np.zeros((len(y), num_classes))
    targets[np.arange(len(y)), y] = 1.0
    for _ in range(num_steps):
        G = (_softmax_rows(X @ params[0] + params[1]) - targets) / len(y)
        params = [params[0] - lr * X.T @ G, params[1] - lr * G.sum(axis=0)]
    return params
