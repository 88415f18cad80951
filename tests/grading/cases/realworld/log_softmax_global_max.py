# ex4_logsumexp.log_softmax with one maximum for the whole batch.
def log_softmax(z):
    z = np.asarray(z, dtype=float)
    shifted = z - z.max()
    with np.errstate(divide="ignore"):
        return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
