# ex3_mle.categorical_mle forgetting classes that never occur.
def categorical_mle(y, num_classes):
    return np.bincount(y) / len(y)
