# ex2_information.kl_divergence computing KL(q || p).
def kl_divergence(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(np.where(q > 0, q * np.log(q / p), 0.0), axis=-1)
