# ex4_logsumexp.cross_entropy_from_logits picking the labels with a one-hot
# of y.max() + 1 columns.
def cross_entropy_from_logits(logits, y):
    onehot = np.eye(y.max() + 1)[y]
    return np.mean(logsumexp(logits) - np.sum(onehot * logits, axis=1))
