# ex4_logsumexp.logsumexp without the max shift.
def logsumexp(x):
    with np.errstate(over="ignore"):
        return np.log(np.sum(np.exp(x), axis=-1))
