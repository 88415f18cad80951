"""Trusted side of the trust boundary: run student functions in child processes.

A :class:`Submission` starts, for each exercise module the submission holds,
one fresh child (``python -I -S -B``) running the source of
:mod:`coursepkg.grading._runner`, confined by :mod:`coursepkg.grading.wall`
(a bubblewrap sandbox: its own namespaces, an allow-list view of the file
system, a dedicated uid as root).  The child sees three folders: ``work``
(its working directory, holding only the student's file), ``req`` (read
only: the arguments, as ``.npz`` files the trusted side writes) and ``res``
(its answers, ``.npy`` files that are opened without following links or
blocking, size-checked, header-checked (numeric dtype, shape consistent with
the file) and loaded with ``allow_pickle=False``).  Nothing the child
prints is read.

Every call has a wall-clock timeout; on a timeout or a crash the child's
whole sandbox is killed and that function is marked broken (its remaining
tests fail at once), while the module's other functions get a fresh child.
"""

from __future__ import annotations

import math
import os
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .contract import Contract, default_contract
from .wall import MODES, Cell, Wall, find_wall, python_executable

RUNNER_SOURCE = (Path(__file__).with_name("_runner.py")).read_text()
MAX_ARRAY_BYTES = 16 * 2**20
MAX_MESSAGE_CHARS = 500


class StudentError(Exception):
    """The student's code did not produce a value.

    ``kind`` is one of ``missing-module``, ``import``, ``missing``,
    ``notimpl``, ``raised``, ``badvalue``, ``timeout``, ``crashed``.
    """

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class ScalarFunction:
    """A scalar function, named from the runner's menu, passed as an argument.

    >>> ScalarFunction("sum_sin").name
    'sum_sin'
    """

    name: str


@dataclass(frozen=True)
class Call:
    """What a call returned (``value``) and its positional arrays afterwards."""

    value: object
    args_after: tuple


@dataclass(frozen=True)
class Limits:
    """Resource limits of a child, and its wall.

    ``processes`` bounds the processes (threads included) of one child;
    ``sandbox`` chooses the wall (:func:`~coursepkg.grading.wall.find_wall`):
    ``"auto"``, ``"container"``, ``"uid"``, or ``"none"``, which runs
    children without any OS-level wall, an explicit acceptance of the risk.

    >>> Limits(call_timeout=0)
    Traceback (most recent call last):
    ...
    ValueError: call_timeout must be a positive number of seconds, got 0
    """

    call_timeout: float = 3.0
    import_timeout: float = 10.0
    startup_timeout: float = 60.0
    memory_mb: int = 1024
    cpu_seconds: int = 60
    processes: int = 8
    sandbox: str = "auto"

    def __post_init__(self):
        if self.sandbox not in MODES:
            raise ValueError(f"sandbox must be one of {', '.join(MODES)}, got {self.sandbox!r}")
        for name in ("call_timeout", "import_timeout", "startup_timeout", "memory_mb",
                     "cpu_seconds", "processes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}"
                                 if "time" in name or "seconds" in name else
                                 f"{name} must be a positive number, got {value!r}")


def encode_arguments(args, kwargs) -> dict[str, np.ndarray]:
    """Arrays for ``np.savez``, keyed ``NN_kind_name`` (see the runner).

    >>> sorted(encode_arguments((np.zeros(2), 3), {"lr": 0.5}))
    ['00_array_', '01_int_', '02_float_lr']
    """
    items = [(None, a) for a in args] + list(kwargs.items())
    out = {}
    for i, (name, value) in enumerate(items):
        if isinstance(value, ScalarFunction):
            kind, array = "func", np.array(value.name)
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            kind, array = "int", np.array(int(value))
        elif isinstance(value, (float, np.floating)):
            kind, array = "float", np.array(float(value))
        else:
            array = np.asarray(value)
            if array.dtype.kind not in "biuf":
                raise TypeError(f"argument {name or i}: not a numeric array ({array.dtype})")
            kind = "array"
        out[f"{i:02d}_{kind}_{name or ''}"] = array
    return out


def load_untrusted_array(dir_fd: int, name: str, kinds: str = "biuf",
                         max_bytes: int = MAX_ARRAY_BYTES) -> np.ndarray:
    """Load one ``.npy`` written by the child, trusting nothing in it.

    The file is opened without following links or blocking (a FIFO) and
    must be a regular file;
    its header must declare a dtype of one of ``kinds`` and a shape whose
    size matches the bytes present.  Raises ``StudentError("badvalue")``.
    """
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as error:
        raise StudentError("badvalue", f"no readable result file {name} ({error.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        # one link only: not a second name of a file the child could not read itself
        if not (stat.S_ISREG(info.st_mode) and info.st_size <= max_bytes + 4096
                and info.st_nlink == 1):
            raise StudentError("badvalue", f"result file {name} is not a small regular file")
        try:
            version = np.lib.format.read_magic(handle)
            reader = {(1, 0): np.lib.format.read_array_header_1_0,
                      (2, 0): np.lib.format.read_array_header_2_0}[version]
            shape, _, dtype = reader(handle)
        except Exception:  # noqa: BLE001 - the child wrote these bytes: any parser error
            # (tokenize.TokenError, RecursionError, ...) is a rejected file, never a
            # grader error; NumPy's own message would quote the file's bytes back
            raise StudentError("badvalue", f"result file {name} was rejected: "
                                           "not a .npy file") from None
        size = math.prod(shape) * dtype.itemsize
        if dtype.hasobject or dtype.kind not in kinds or dtype.fields is not None:
            problem = f"dtype {dtype} is not allowed"
        elif size > max_bytes or size != info.st_size - handle.tell():
            problem = "its size does not match its header"
        else:
            handle.seek(0)
            try:
                return np.load(handle, allow_pickle=False)
            except Exception:  # noqa: BLE001  # pragma: no cover - checked above
                problem = "it could not be read"
        raise StudentError("badvalue", f"result file {name} was rejected: {problem}")


def _child_environment() -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    return env


class _Child:
    """One child process serving one student module, inside its wall."""

    def __init__(self, module: str, student_file: Path, limits: Limits, wall: Wall, hide=()):
        self.module = module
        self.limits = limits
        self.count = 0
        self.root = tempfile.mkdtemp(prefix=f"coursepkg-{module}-")
        folders = {}
        for name, writable in (("work", True), ("req", False), ("res", True)):
            os.mkdir(os.path.join(self.root, name), 0o700 if writable else 0o755)
            folders[name] = (os.path.join(self.root, name), writable)
        self.requests = folders["req"][0]
        self.responses = folders["res"][0]
        shutil.copyfile(student_file, os.path.join(folders["work"][0], f"{module}.py"))
        self._buffer = b""
        read_fd, write_fd = os.pipe()
        self._ack = read_fd
        numpy_dir = Path(np.__file__).resolve().parent
        trees = [numpy_dir] + [p for p in [numpy_dir.with_name("numpy.libs")] if p.is_dir()]

        def argv(inside):
            return [python_executable(), "-I", "-S", "-B", "-c", RUNNER_SOURCE,
                    f"{inside('work')}/{module}.py", module, inside("req"),
                    str(numpy_dir.parent), str(limits.memory_mb * 2**20),
                    str(int(limits.cpu_seconds)), str(write_fd), inside("res"),
                    str(int(limits.processes))]

        try:
            self.cell = Cell(wall, argv, folders, workdir="work", extra_ro=trees, hide=hide,
                             env=_child_environment(), pass_fds=(write_fd,))
        finally:
            os.close(write_fd)
        self.process = self.cell.process
        self.state = "starting"

    def _read_line(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StudentError("timeout", f"no answer within {timeout:g} s (infinite loop?)")
            ready, _, _ = select.select([self._ack], [], [], left)
            if ready:
                chunk = os.read(self._ack, 4096)
                if not chunk:
                    raise StudentError("crashed", self._death())
                self._buffer += chunk
                if len(self._buffer) > 4096:
                    raise StudentError("crashed", "the child wrote garbage on the grader's channel")
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("ascii", "replace").strip()

    def _death(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - closed the pipe but lives on
            return "the process closed the grader's channel"
        if self.cell.wall.bwrap and 128 < code <= 128 + 64:  # bwrap exits 128 + the signal
            code = 128 - code
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            return f"the process was killed by signal {name} (memory or CPU limit?)"
        return f"the process exited with code {code} (sys.exit, os._exit or similar)"

    def _expect(self, token: str, timeout: float) -> str:
        line = self._read_line(timeout)
        if line != token and not (token == "imported" and line == "import-error"):
            raise StudentError("crashed", f"unexpected message on the grader's channel: {line[:40]!r}")
        return line

    def start(self):
        """Wait for the child to import NumPy and then the student's module."""
        self._expect("ready", self.limits.startup_timeout)
        if self._expect("imported", self.limits.import_timeout) == "import-error":
            dir_fd = os.open(self.responses, os.O_RDONLY | os.O_DIRECTORY)
            try:
                message = str(load_untrusted_array(dir_fd, "import-error.npy", kinds="U"))
            finally:
                os.close(dir_fd)
            raise StudentError("import", f"{self.module}.py could not be imported: "
                                         f"{message[:MAX_MESSAGE_CHARS]}")
        self.state = "ready"

    def call(self, function: str, args, kwargs) -> Call:
        self.count += 1
        number = self.count
        np.savez(os.path.join(self.requests, f"req-{number}.npz"), **encode_arguments(args, kwargs))
        try:
            self.process.stdin.write(f"{number} {function}\n".encode())
            self.process.stdin.flush()
        except OSError:
            raise StudentError("crashed", self._death()) from None
        self._expect(str(number), self.limits.call_timeout)
        return self._read_result(number, function)

    def _read_result(self, number: int, function: str) -> Call:
        try:
            dir_fd = os.open(os.path.join(self.responses, f"res-{number}"),
                             os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            raise StudentError("badvalue", "the child left no result") from None
        try:
            status = load_untrusted_array(dir_fd, "status.npy", kinds="U")
            if status.shape != (3,):
                raise StudentError("badvalue", "malformed status file")
            state, message, kind = (str(s)[:MAX_MESSAGE_CHARS] for s in status)
            if state != "ok":
                known = {"missing", "notimpl", "raised", "badvalue"}
                raise StudentError(state if state in known else "badvalue", message)
            names = set(os.listdir(dir_fd))
            outs = tuple(load_untrusted_array(dir_fd, f"out-{i}.npy")
                         for i in range(8) if f"out-{i}.npy" in names)
            afters = tuple(load_untrusted_array(dir_fd, f"after-{i}.npy")
                           for i in range(8) if f"after-{i}.npy" in names)
        finally:
            os.close(dir_fd)
        if kind == "tuple":
            return Call(outs, afters)
        if len(outs) != 1:
            raise StudentError("badvalue", f"{function} returned no value")
        return Call(outs[0], afters)

    def kill(self):
        """Kill the child's whole sandbox and remove its folders (however the
        student's code shaped them)."""
        try:
            self.cell.kill()
        finally:
            try:
                os.close(self._ack)
            except OSError:
                pass
            remove_tree(self.root)


def remove_tree(path) -> None:
    """Remove a folder a child filled, however deep or locked.

    ``shutil.rmtree`` recurses once per level: a tree a few thousand folders
    deep raises ``RecursionError`` (which ``ignore_errors`` does not cover).
    ``chmod -R`` and ``rm -rf`` walk it without recursion, and a folder the
    child made unreadable is opened up first.
    """
    quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
             "stderr": subprocess.DEVNULL, "check": False}
    subprocess.run(["chmod", "-R", "u+rwx", "--", str(path)], **quiet)
    subprocess.run(["rm", "-rf", "--", str(path)], **quiet)


class StudentFunction:
    """A student function seen from the trusted side: call it like the real one."""

    def __init__(self, submission: "Submission", name: str):
        self.submission = submission
        self.name = name

    def call(self, *args, **kwargs) -> Call:
        """Call the function; return the value and the arguments afterwards."""
        return self.submission.call(self.name, args, kwargs)

    def __call__(self, *args, **kwargs):
        return self.call(*args, **kwargs).value

    def __repr__(self):
        return f"<student function {self.name}>"


class Submission:
    """A submission folder, graded one function call at a time.

    Parameters
    ----------
    directory : path
        Folder holding some of ``ex1_softmax.py`` … ``ex5_gradients.py``;
        every other file in it is ignored.
    modules : sequence of str, optional
        Only these exercise modules (default: all of the contract's).
    limits : Limits, optional
        Timeouts and resource limits of the children, and their wall.
    contract : Contract, optional
        The assignment's modules and functions (default: the course's own,
        :func:`~coursepkg.grading.contract.default_contract`).

    Raises :class:`~coursepkg.grading.wall.WallUnavailable` when no wall can
    be built and ``limits.sandbox`` is not ``"none"``.
    """

    def __init__(self, directory, modules=None, limits: Limits | None = None,
                 contract: Contract | None = None):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise ValueError(f"submission: {self.directory} is not a directory")
        self.contract = contract or default_contract()
        self.modules = self.contract.select(modules)
        self.limits = limits or Limits()
        self.wall = find_wall(self.limits.sandbox)
        self._children: dict[str, _Child] = {}
        self._module_errors: dict[str, StudentError] = {}
        self._broken: dict[str, StudentError] = {}
        for module in self.modules:  # start them all now: they import in parallel
            self._spawn(module)

    def _spawn(self, module: str):
        path = self.directory / f"{module}.py"
        if not path.is_file() or path.is_symlink():
            self._module_errors[module] = StudentError(
                "missing-module", f"{module}.py is missing from the submission")
            return
        self._children[module] = _Child(module, path, self.limits, self.wall,
                                        hide=[self.contract.checks_dir])

    def _child(self, module: str) -> _Child:
        if module in self._module_errors:
            raise self._module_errors[module]
        if module not in self._children:
            self._spawn(module)
        child = self._children[module]
        if child.state == "starting":
            try:
                child.start()
            except StudentError as error:
                self._children.pop(module).kill()
                self._module_errors[module] = error
                raise
        return child

    @property
    def isolation(self) -> str:
        """The wall around the children, one of :data:`~coursepkg.grading.wall.LEVELS`."""
        return self.wall.level

    def function(self, name: str) -> StudentFunction:
        """The student's ``name`` (one of the contract's functions)."""
        module = self.contract.module_of(name)
        if module not in self.modules:
            raise ValueError(f"function: {name} belongs to {module}, which is not being graded")
        return StudentFunction(self, name)

    def call(self, function: str, args, kwargs) -> Call:
        """Run ``function(*args, **kwargs)`` in the module's child."""
        if function in self._broken:
            error = self._broken[function]
            raise StudentError(error.kind, f"{error.message} (an earlier test)")
        module = self.contract.module_of(function)
        child = self._child(module)
        try:
            return child.call(function, args, kwargs)
        except StudentError as error:
            if error.kind in ("timeout", "crashed"):
                self._children.pop(module).kill()
                self._broken[function] = error
            raise

    def close(self):
        """Kill every child and remove the temporary folders."""
        failed = None
        while self._children:  # every child, even if one teardown fails
            _, child = self._children.popitem()
            try:
                child.kill()
            except Exception as error:  # noqa: BLE001 - raised once all are down
                failed = failed or error
        if failed is not None:
            raise failed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


__all__ = ["Submission", "StudentError", "StudentFunction", "ScalarFunction", "Call",
           "Limits"]
