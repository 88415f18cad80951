# ex3_mle.nll_loss, correct, that asserts its inputs are log-probabilities.
def nll_loss(log_probs, y):
    log_probs = np.asarray(log_probs, dtype=np.float64)
    assert log_probs.ndim == 2 and y.shape == (log_probs.shape[0],)
    assert np.all(log_probs <= 0), "log-probabilities are never positive"
    assert np.allclose(np.exp(log_probs).sum(axis=1), 1.0), "rows must be log-probabilities"
    return -np.mean(log_probs[np.arange(len(y)), y])
