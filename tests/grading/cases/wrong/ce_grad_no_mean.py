# ex5_gradients.cross_entropy_grad missing its 1/N.
def cross_entropy_grad(logits, y):
    return _softmax_rows(logits) - np.eye(logits.shape[1])[y]
