# ex4_logsumexp.logsumexp with a max shift that is not guarded against -inf.
def logsumexp(x):
    m = np.max(x, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        return np.squeeze(m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True)), -1)
