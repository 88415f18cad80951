# ex3_mle.fit_softmax_regression computing the step but never applying it.
def fit_softmax_regression(X, y, num_classes, lr=0.1, num_steps=100):
    W = np.zeros((X.shape[1], num_classes))
    b = np.zeros(num_classes)
    Y = np.eye(num_classes)[y]
    for _ in range(num_steps):
        G = (_softmax_rows(X @ W + b) - Y) / len(y)
        W - lr * X.T @ G
        b - lr * G.sum(axis=0)
    return W, b
