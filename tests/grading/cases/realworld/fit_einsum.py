# ex3_mle.fit_softmax_regression, correct, with einsum and a boolean one-hot.
def fit_softmax_regression(X, y, num_classes, lr=0.1, num_steps=100):
    X = np.asarray(X, dtype=float)
    Y = (np.asarray(y)[:, None] == np.arange(num_classes)).astype(float)
    W = np.zeros((X.shape[1], num_classes))
    b = np.zeros(num_classes)
    for _ in range(num_steps):
        S = np.einsum("nd,dk->nk", X, W) + b
        P = np.exp(S - S.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        R = (P - Y) / X.shape[0]
        W = W - lr * np.einsum("nd,nk->dk", X, R)
        b = b - lr * R.sum(axis=0)
    return W, b
