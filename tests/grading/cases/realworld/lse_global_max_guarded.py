# ex4_logsumexp.logsumexp with one global maximum, guarded against -inf:
# the 1-D all -inf case is right, rows far below the maximum are not.
def logsumexp(x):
    x = np.asarray(x, dtype=float)
    c = np.max(x)
    if not np.isfinite(c):
        c = 0.0
    with np.errstate(divide="ignore"):
        return c + np.log(np.exp(x - c).sum(axis=-1))
