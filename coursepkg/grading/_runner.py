"""The untrusted side of the grader: serve one student module in a child process.

The trusted side never imports this file in the child: it reads its *source
text* and runs it as ``python -I -S -B -c SOURCE ...`` with the student's
file alone in a fresh working directory.  It therefore imports only the
standard library and NumPy (``tests/grading`` checks that), and importing it
runs nothing.

Protocol (``main``'s arguments: student file, module name, requests folder,
the site folder that holds NumPy, memory limit in bytes, CPU seconds, the
file descriptor for acknowledgements, responses folder, process limit):

1. set resource limits (hard: the student's code cannot raise them), import
   NumPy, install the import/file guard, write ``ready``;
2. import the student's module; write ``imported``, or save the error text
   as ``import-error.npy`` and write ``import-error``;
3. for each request line ``K FUNCTION`` on stdin, load the arguments from
   ``req-K.npz`` (no pickle), call the function, save (in the responses
   folder) ``res-K/status.npy``,
   ``res-K/out-I.npy`` and ``res-K/after-I.npy`` (the positional array
   arguments after the call), and write ``K``.

Only plain numeric arrays go back; the trusted side re-checks every file.
The guard here is a friendly early error ("import of 'torch' is not
allowed"), not a wall: it lives in the student's own interpreter, which can
switch it off.  The wall is the kernel's, built around this process by
:mod:`coursepkg.grading.wall`.
"""

import os
import sys

# Top-level stdlib modules a submission may not import, on top of everything
# that is neither the standard library nor NumPy.
DENIED_MODULES = frozenset({
    "ctypes", "_ctypes", "subprocess", "_posixsubprocess", "multiprocessing",
    "_multiprocessing", "concurrent", "socket", "_socket", "ssl", "_ssl",
    "pty", "ftplib", "smtplib", "webbrowser",
})

# Audit events refused outright (prefix match).
DENIED_EVENTS = (
    "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
    "os.forkpty", "os.kill", "os.killpg", "subprocess.", "ctypes.",
    "socket.", "resource.setrlimit", "resource.prlimit", "pty.",
    "sys._current_frames", "cpython.run_", "webbrowser.",
)

# Audit events whose path arguments must lie in the writable folders.
WRITE_EVENTS = {
    "os.remove": (0,), "os.rename": (0, 1), "os.rmdir": (0,), "os.mkdir": (0,),
    "os.chmod": (0,), "os.chown": (0,), "os.link": (0, 1),
    "os.symlink": (0, 1), "os.truncate": (0,), "os.utime": (0,),
    "shutil.rmtree": (0,), "os.mkfifo": (0,), "os.mknod": (0,),
}
# Audit events whose path argument must lie in the readable folders.
READ_EVENTS = {"os.listdir": 0, "os.scandir": 0, "glob.glob": 0, "os.chdir": 0}

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def import_allowed(name, own_module):
    """Whether a submission may import ``name`` (NumPy, its own module, stdlib).

    >>> import_allowed("numpy.linalg", "ex1_softmax"), import_allowed("torch", "x")
    (True, False)
    >>> import_allowed("math", "x"), import_allowed("ctypes", "x")
    (True, False)
    """
    top = name.partition(".")[0]
    if top in ("numpy", own_module):
        return True
    return top in sys.stdlib_module_names and top not in DENIED_MODULES


def _inside(path, roots):
    return any(path == root or path.startswith(root + os.sep) for root in roots)


class Guard:
    """Audit hook: refuses imports, file access and process control.

    ``readable`` and ``writable`` are folders; any path in a folder named
    ``site-packages`` or ``dist-packages`` is unreadable unless it lies in
    one of ``exceptions`` (NumPy's own folder).
    """

    def __init__(self, own_module, readable, writable, exceptions=()):
        self.own_module = own_module
        self.writable = tuple(os.path.realpath(p) for p in writable)
        self.exceptions = tuple(os.path.realpath(p) for p in exceptions) + self.writable
        self.readable = tuple(os.path.realpath(p) for p in readable)

    def may_read(self, path):
        path = os.path.realpath(path)
        if _inside(path, self.exceptions):
            return True
        parts = path.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            return False
        return _inside(path, self.readable)

    def may_write(self, path):
        return _inside(os.path.realpath(path), self.writable)

    def check_path(self, event, path, write):
        if isinstance(path, int) or path is None:
            return
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        path = os.fspath(path)
        if not (self.may_write(path) if write else self.may_read(path)):
            raise PermissionError(f"grader: {event} of {path!r} is not allowed")

    def __call__(self, event, args):
        if event == "import":
            if not import_allowed(args[0], self.own_module):
                raise ImportError(f"grader: import of {args[0]!r} is not allowed")
        elif event == "open":
            path, mode, flags = args
            write = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & WRITE_FLAGS)
            self.check_path(event, path, write)
        elif event in READ_EVENTS:
            self.check_path(event, args[READ_EVENTS[event]], False)
        elif event in WRITE_EVENTS:
            for i in WRITE_EVENTS[event]:
                self.check_path(event, args[i], True)
        elif event.startswith(DENIED_EVENTS):
            raise PermissionError(f"grader: {event} is not allowed")


class DenyFinder:
    """First entry of ``sys.meta_path``: refuses names the guard refuses.

    ``importlib.import_module`` raises no ``import`` audit event for a
    top-level name, so this finder catches it; the path guard stays behind it.
    """

    def __init__(self, own_module):
        self.own_module = own_module

    def find_spec(self, name, path=None, target=None):
        if not import_allowed(name, self.own_module):
            raise ImportError(f"grader: import of {name!r} is not allowed")
        return None


def scalar_functions():
    """The scalar functions a request may name as an argument (``numerical_gradient``)."""
    import numpy as np

    return {
        "sum_sin": lambda v: float(np.sum(np.sin(v))),
        "sum_cubes": lambda v: float(np.sum(np.asarray(v) ** 3)),
        "logsumexp": lambda v: float(np.log(np.sum(np.exp(v)))),
    }


def decode_request(arrays):
    """Arguments from a loaded ``.npz``: keys ``NN_kind_name`` (empty name: positional)."""
    args, kwargs = [], {}
    functions = scalar_functions()
    for key in sorted(arrays):
        _, kind, name = key.split("_", 2)
        value = arrays[key]
        if kind == "array":
            value = value.copy()
        elif kind == "int":
            value = int(value)
        elif kind == "float":
            value = float(value)
        elif kind == "func":
            value = functions[str(value)]
        else:
            raise ValueError(f"unknown argument kind {kind!r}")
        if name:
            kwargs[name] = value
        else:
            args.append(value)
    return args, kwargs


def encode_value(value):
    """``(kind, arrays)`` for a return value: a tuple of numeric arrays or one.

    >>> encode_value((1.0, [2, 3]))[0]
    'tuple'
    >>> encode_value(object())
    Traceback (most recent call last):
    ...
    TypeError: returned object, not a number or a numeric array
    """
    import numpy as np

    kind, items = ("tuple", value) if isinstance(value, tuple) else ("single", (value,))
    if isinstance(value, list) and 1 < len(value) <= 8:
        try:  # [W, b]: results of different shapes in a list travel like a tuple
            whole = np.array(value, subok=False)
        except Exception:
            whole = None
        if whole is None or whole.dtype.kind not in "biuf":
            kind, items = "tuple", value
    arrays = []
    for item in items:
        try:
            array = np.array(item, subok=False)
        except Exception:
            array = None
        if array is None or array.dtype.kind not in "biuf":
            raise TypeError(f"returned {type(item).__name__}, not a number or a numeric array")
        arrays.append(array)
    return kind, arrays


def student_line(error, module):
    """``"\\nat line N of FILE: CODE"`` for the traceback's last frame in the
    student's file (empty if it has none)."""
    import traceback

    path = getattr(module, "__file__", None)
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == path]
    if not frames:
        return ""
    code = (frames[-1].line or "").strip()[:80]
    return f"\nat line {frames[-1].lineno} of {os.path.basename(path)}: {code}"


def handle(module, function, arrays):
    """Call ``module.function`` on decoded arrays; ``(status, message, kind, outs, afters)``."""
    target = getattr(module, function, None)
    if not callable(target):
        return "missing", f"the module defines no function {function}", "single", [], []
    args, kwargs = decode_request(arrays)
    try:
        value = target(*args, **kwargs)
    except NotImplementedError:
        return "notimpl", f"{function} raises NotImplementedError", "single", [], []
    except BaseException as error:  # SystemExit and KeyboardInterrupt too
        text = f"{type(error).__name__}: {error}"[:380] + student_line(error, module)
        return "raised", text, "single", [], []
    try:
        kind, outs = encode_value(value)
    except BaseException as error:
        return "badvalue", str(error)[:500], "single", [], []
    return "ok", "", kind, outs, [a for a in args if hasattr(a, "dtype")]


def write_result(folder, result):
    """Save a :func:`handle` result as ``.npy`` files in a new ``folder``."""
    import numpy as np

    status, message, kind, outs, afters = result
    tmp = folder + ".tmp"
    os.mkdir(tmp)
    np.save(os.path.join(tmp, "status.npy"), np.array([status, message, kind]))
    for prefix, arrays in (("out", outs), ("after", afters)):
        for i, array in enumerate(arrays):
            np.save(os.path.join(tmp, f"{prefix}-{i}.npy"), array, allow_pickle=False)
    os.rename(tmp, folder)


def serve(module, lines, exchange, ack, responses=None):
    """Answer request lines ``K FUNCTION`` until ``lines`` ends.

    Requests are read from ``exchange``, results written to ``responses``
    (default: the same folder).
    """
    import numpy as np

    responses = responses or exchange
    for line in lines:
        number, function = line.split()
        number = str(int(number))
        with np.load(os.path.join(exchange, f"req-{number}.npz"), allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        write_result(os.path.join(responses, f"res-{number}"), handle(module, function, arrays))
        ack(number)


def main():  # pragma: no cover - runs only in the child, see tests/grading
    student_file, module_name, exchange, numpy_site, memory, cpu, ack_fd = sys.argv[1:8]
    responses, processes = sys.argv[8:10]
    import resource

    limits = [
        (resource.RLIMIT_AS, int(memory)),
        (resource.RLIMIT_CPU, int(cpu)),
        (resource.RLIMIT_FSIZE, 64 * 2**20),
        (resource.RLIMIT_CORE, 0),
    ]
    if os.getuid() != 0:  # root ignores it; under the wall the child is never root
        limits.append((resource.RLIMIT_NPROC, int(processes)))
    for limit, value in limits:
        resource.setrlimit(limit, (value, value))

    def ack(text):
        os.write(int(ack_fd), (text + "\n").encode())

    sys.path.append(numpy_site)
    import importlib.util
    import sysconfig
    import zipfile  # noqa: F401  (np.load of the requests needs it)

    import numpy

    sys.path.remove(numpy_site)
    readable = [sysconfig.get_paths()["stdlib"], os.path.dirname(os.__file__),
                os.path.dirname(student_file), exchange, responses, os.devnull, "/dev/urandom"]
    guard = Guard(module_name, readable, [os.path.dirname(student_file), responses],
                  exceptions=[os.path.dirname(numpy.__file__)])
    spec = importlib.util.spec_from_file_location(module_name, student_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    for name in list(sys.modules):
        if name.partition(".")[0] in DENIED_MODULES:
            del sys.modules[name]
    sys.meta_path.insert(0, DenyFinder(module_name))
    sys.addaudithook(guard)
    ack("ready")
    try:
        spec.loader.exec_module(module)
    except BaseException as error:
        numpy.save(os.path.join(responses, "import-error.npy"),
                   numpy.array(f"{type(error).__name__}: {error}"[:500]))
        ack("import-error")
        os._exit(0)
    ack("imported")
    serve(module, sys.stdin, exchange, ack, responses)
    os._exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
