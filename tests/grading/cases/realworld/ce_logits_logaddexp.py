# ex4_logsumexp.cross_entropy_from_logits, correct, with np.logaddexp.reduce.
def cross_entropy_from_logits(logits, y):
    lse = np.logaddexp.reduce(logits, axis=1)
    return np.mean(lse - logits[np.arange(logits.shape[0]), y])
