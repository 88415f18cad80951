# ex2_information.kl_divergence in bits (np.log2) instead of nats.
def kl_divergence(p, q):
    with np.errstate(divide="ignore"):
        ratio = np.log2(np.where(p > 0, p, 1.0)) - np.log2(q)
    return np.sum(np.where(p > 0, p * ratio, 0.0), axis=-1)
