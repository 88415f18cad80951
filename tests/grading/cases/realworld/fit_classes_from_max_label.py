# ex3_mle.fit_softmax_regression sizing W from the largest label.
def fit_softmax_regression(X, y, num_classes, lr=0.1, num_steps=100):
    k = int(y.max()) + 1
    n = len(y)
    W, b = np.zeros((X.shape[1], k)), np.zeros(k)
    onehot = np.eye(k)[y]
    for _ in range(num_steps):
        G = (_softmax_rows(X @ W + b) - onehot) / n
        W, b = W - lr * X.T @ G, b - lr * G.sum(0)
    return W, b
