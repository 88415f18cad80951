# ex2_information.entropy computing 0 * log 0 = nan.
def entropy(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(p * np.log(p), axis=-1)
