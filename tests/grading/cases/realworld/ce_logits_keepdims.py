# ex4_logsumexp.cross_entropy_from_logits, correct, written with keepdims
# all the way: the mean comes back with shape (1, 1).
def cross_entropy_from_logits(logits, y):
    m = logits.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    picked = np.take_along_axis(logits, y[:, None], axis=1)
    return (lse - picked).mean(axis=0, keepdims=True)
