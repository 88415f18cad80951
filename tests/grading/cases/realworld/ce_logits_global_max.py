# ex4_logsumexp.cross_entropy_from_logits with its own log-sum-exp over one
# global maximum.
def cross_entropy_from_logits(logits, y):
    m = np.max(logits)
    with np.errstate(divide="ignore"):
        lse = m + np.log(np.sum(np.exp(logits - m), axis=1))
    return float(np.mean(lse - logits[np.arange(len(y)), y]))
