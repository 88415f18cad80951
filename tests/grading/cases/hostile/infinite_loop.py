# Never return.
def numerical_gradient(f, x, eps=1e-6):
    while True:
        pass
