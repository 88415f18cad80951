# ex2_information.kl_divergence with +eps inside the log, "to avoid log 0".
def kl_divergence(p, q, eps=1e-7):
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    return np.sum(p * np.log((p + eps) / (q + eps)), axis=-1)
