# ex2_information.entropy in bits (np.log2) instead of nats.
def entropy(p):
    p = np.asarray(p, dtype=float)
    logs = np.log2(np.where(p > 0, p, 1.0))
    return -np.sum(p * logs, axis=-1)
