# ex3_mle.nll_loss, correct, returning the mean as an array of shape (1,).
def nll_loss(log_probs, y):
    picked = np.take_along_axis(log_probs, y[:, None], axis=1)
    return -picked.mean(axis=0)
