# ex4_logsumexp.logsumexp subtracting one maximum for the whole array.
def logsumexp(x):
    x = np.asarray(x, dtype=float)
    c = x.max()
    with np.errstate(invalid="ignore", divide="ignore"):
        return c + np.log(np.sum(np.exp(x - c), axis=-1))
