# ex3_mle.nll_loss with a one-hot of len(np.unique(y)) columns.
def nll_loss(log_probs, y):
    classes = np.unique(y)
    onehot = (y[:, None] == classes).astype(float)
    return -np.mean(np.sum(onehot * log_probs, axis=1))
