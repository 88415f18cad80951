# ex4_logsumexp.cross_entropy_from_logits as -log of a (stable) softmax:
# a probability that rounds to 0 gives log 0 = -inf.
def cross_entropy_from_logits(logits, y):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        return -np.mean(np.log(p[np.arange(len(y)), y]))
