# Prepended to every case in this folder: switch the runner's in-process guard
# off first, as a student who read _runner.py would.  The guard is an audit
# hook and a sys.meta_path finder defined in the runner's __main__ module, in
# this very interpreter: patch the hook's class, drop the finder.  After this,
# ctypes (native code) imports, and nothing in Python stands in the way.
import sys as _sys

_runner = _sys.modules["__main__"]
_runner.Guard.__call__ = lambda self, event, args: None
_sys.meta_path[:] = [f for f in _sys.meta_path if type(f).__name__ != "DenyFinder"]

import ctypes as _ctypes  # noqa: E402  (refused while the guard is on)
import os as _os  # noqa: E402
import signal as _signal  # noqa: E402
import time as _time  # noqa: E402

_libc = _ctypes.CDLL(None, use_errno=True)
MARK = b"cpkg-pwned"  # attack processes take it as their name (the tests make it unique)


def _grader():
    """The grading process as seen from here: its pid, cwd and argv (None where hidden)."""
    pid = _os.getppid()
    try:
        cwd = _os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        cwd = None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = [a.decode() for a in handle.read().split(b"\0") if a]
    except OSError:
        argv = []
    return pid, cwd, argv


def _files_under(top, folder_name, suffix=".py", depth=4):
    """Files ending in ``suffix`` in folders named ``folder_name`` below ``top``."""
    found = []
    if not top:
        return found
    base = top.rstrip("/").count("/")
    for path, dirs, files in _os.walk(top):
        if path.count("/") - base >= depth:
            dirs[:] = []
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        if _os.path.basename(path) == folder_name:
            found += [_os.path.join(path, f) for f in files if f.endswith(suffix)]
    return found


def _daemon(work):
    """Leave ``work()`` running in a process that left this one's group and session."""
    if _os.fork() != 0:
        _time.sleep(0.2)
        return
    _os.setsid()
    if _os.fork() != 0:
        _os._exit(0)
    _libc.prctl(15, _ctypes.c_char_p(MARK), 0, 0, 0)  # PR_SET_NAME
    for fd in range(3, 64):  # let go of the grader's channel
        try:
            _os.close(fd)
        except OSError:
            pass
    try:
        work()
    finally:
        _os._exit(0)
