# ex4_logsumexp.logsumexp, correct, SciPy style: the largest term (exactly
# exp(0) = 1) split off and the rest added with log1p.
def logsumexp(x):
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(x - m)
    top = np.argmax(x, axis=-1)[..., None]
    present = np.take_along_axis(e, top, axis=-1) > 0  # False for a row of all -inf
    np.put_along_axis(e, top, 0.0, axis=-1)
    rest = e.sum(axis=-1, keepdims=True)
    return np.where(present, m + np.log1p(rest), -np.inf)[..., 0]
