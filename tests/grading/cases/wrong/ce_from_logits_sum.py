# ex4_logsumexp.cross_entropy_from_logits summing over the batch.
def cross_entropy_from_logits(logits, y):
    return np.sum(logsumexp(logits) - logits[np.arange(len(y)), y])
