# ex5_gradients.cross_entropy_grad building the one-hot labels from the
# largest label: it raises when the last classes occur in no label.
def cross_entropy_grad(logits, y):
    onehot = np.eye(y.max() + 1)[y]
    return (_softmax_rows(logits) - onehot) / logits.shape[0]
