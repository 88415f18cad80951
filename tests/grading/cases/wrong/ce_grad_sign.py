# ex5_gradients.cross_entropy_grad with the sign flipped: onehot - softmax.
def cross_entropy_grad(logits, y):
    return (np.eye(logits.shape[1])[y] - _softmax_rows(logits)) / logits.shape[0]
