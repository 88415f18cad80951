# Start other processes (a shell, a fork).
import os


def categorical_mle(y, num_classes):
    import subprocess

    subprocess.run(["sh", "-c", "echo pwned > /tmp/coursepkg-pwned"], check=False)
    if os.fork() == 0:
        os._exit(0)
    return np.bincount(y, minlength=num_classes) / len(y)
