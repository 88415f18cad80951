"""The child runner's pieces, tested in this process (its ``main`` runs only in
the child), and the trusted loader's refusals."""

import ast
import errno
import io
import os
import subprocess
import sys
import time

from pathlib import Path

import numpy as np
import pytest

from coursepkg.grading import _runner as runner
from coursepkg.grading import wall
from coursepkg.grading.sandbox import (
    Limits,
    ScalarFunction,
    StudentError,
    Submission,
    encode_arguments,
    load_untrusted_array,
)


def test_runner_imports_only_stdlib():
    tree = ast.parse(open(runner.__file__).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "the runner may not import from the package"
            names = [node.module]
        else:
            continue
        for name in names:
            assert name.partition(".")[0] in sys.stdlib_module_names | {"numpy"}, name


@pytest.fixture
def guard(tmp_path):
    work, exchange = tmp_path / "work", tmp_path / "io"
    work.mkdir(), exchange.mkdir()
    numpy_dir = os.path.dirname(np.__file__)
    return runner.Guard("ex1_softmax", [os.path.dirname(os.__file__), str(work), str(exchange)],
                        [str(work), str(exchange)], exceptions=[numpy_dir]), work


def test_guard_imports(guard):
    g, _ = guard
    g("import", ("numpy.linalg", None, [], [], []))
    g("import", ("json", None, [], [], []))
    for name in ("torch", "scipy.special", "coursepkg", "ctypes", "subprocess", "socket"):
        with pytest.raises(ImportError, match=f"{name!r} is not allowed"):
            g("import", (name, None, [], [], []))
    with pytest.raises(ImportError):
        runner.DenyFinder("ex1_softmax").find_spec("torch")
    assert runner.DenyFinder("ex1_softmax").find_spec("json") is None


def test_guard_files(guard, tmp_path):
    g, work = guard
    g("open", (str(work / "x.txt"), "w", 0))
    g("open", (os.__file__, "r", 0))
    g("open", (np.__file__, "rb", 0))
    g("open", (3, "r", 0))
    g("os.rename", (str(work / "a"), str(work / "b"), None, None))
    g("os.listdir", (str(work),))
    site = os.path.dirname(os.path.dirname(np.__file__))
    denied = [
        ("open", (os.path.join(site, "scipy", "__init__.py"), "r", 0)),
        ("open", (__file__, "r", 0)),
        ("open", (os.__file__, "w", 0)),
        ("open", (str(tmp_path / "x"), None, os.O_WRONLY | os.O_CREAT)),
        ("open", (os.fsencode(__file__), "rb", 0)),
        ("os.listdir", (str(tmp_path),)),
        ("os.remove", (str(tmp_path / "x"),)),
        ("os.symlink", (__file__, str(work / "link"), None)),
    ]
    for event, args in denied:
        with pytest.raises(PermissionError, match="is not allowed"):
            g(event, args)
    for event in ("os.system", "os.fork", "os.kill", "subprocess.Popen", "ctypes.dlopen",
                  "socket.connect", "resource.setrlimit", "os.exec"):
        with pytest.raises(PermissionError, match=f"{event} is not allowed"):
            g(event, ())
    g("sys._getframe", ())  # harmless: no expected values live in the child


def test_encode_and_decode_round_trip():
    arrays = encode_arguments((np.arange(3.0), 2, ScalarFunction("sum_sin")), {"eps": 1e-3})
    args, kwargs = runner.decode_request(arrays)
    assert args[0].tolist() == [0.0, 1.0, 2.0] and args[1] == 2 and kwargs == {"eps": 1e-3}
    assert args[2](np.zeros(2)) == 0.0
    with pytest.raises(TypeError, match="argument 0: not a numeric array"):
        encode_arguments((np.array(["a"]),), {})
    with pytest.raises(ValueError, match="unknown argument kind"):
        runner.decode_request({"00_pickle_": np.zeros(1)})


class _Module:
    @staticmethod
    def good(x):
        x += 1
        return x * 2, 3

    @staticmethod
    def stub(x):
        raise NotImplementedError()

    @staticmethod
    def exits(x):
        raise SystemExit(4)

    @staticmethod
    def weird(x):
        return {"a": 1}


def test_handle_outcomes():
    arrays = encode_arguments((np.ones(2),), {})
    status, _, kind, outs, afters = runner.handle(_Module, "good", arrays)
    assert (status, kind) == ("ok", "tuple") and outs[0].tolist() == [4.0, 4.0]
    assert afters[0].tolist() == [2.0, 2.0]
    assert runner.handle(_Module, "stub", arrays)[0] == "notimpl"
    assert runner.handle(_Module, "exits", arrays)[:2] == ("raised", "SystemExit: 4")
    assert runner.handle(_Module, "weird", arrays)[0] == "badvalue"
    assert runner.handle(_Module, "absent", arrays)[0] == "missing"


def test_serve_and_load_results(tmp_path):
    np.savez(tmp_path / "req-1.npz", **encode_arguments((np.ones(2),), {}))
    acks = []
    runner.serve(_Module, io.StringIO("1 good\n"), str(tmp_path), acks.append)
    assert acks == ["1"]
    fd = os.open(tmp_path / "res-1", os.O_RDONLY)
    try:
        assert load_untrusted_array(fd, "out-0.npy").tolist() == [4.0, 4.0]
        assert load_untrusted_array(fd, "status.npy", kinds="U")[0] == "ok"
    finally:
        os.close(fd)


def _write(path, array, **kwargs):
    np.save(path, array, **kwargs)


@pytest.mark.parametrize("make, message", [
    (lambda d: _write(d / "x.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True),
     "dtype object is not allowed"),
    (lambda d: _write(d / "x.npy", np.array(["text"])), "dtype <U4 is not allowed"),
    (lambda d: (d / "x.npy").write_bytes(b"not an array at all"), "rejected"),
    (lambda d: os.symlink("/etc/hostname", d / "x.npy"), "no readable result file"),
    (lambda d: (d / "x.npy").write_bytes(
        np.lib.format.magic(1, 0)
        + b"\x46\x00{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000,), }     \n"),
     "size does not match"),
])
def test_loader_refuses_untrusted_files(tmp_path, make, message):
    make(tmp_path)
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with pytest.raises(StudentError, match=message):
            load_untrusted_array(fd, "x.npy")
    finally:
        os.close(fd)


def _npy_with_header(header: bytes) -> bytes:
    """A version-1.0 .npy prefix holding ``header`` (its length as NumPy writes it)."""
    return np.lib.format.magic(1, 0) + len(header).to_bytes(2, "little") + header


@pytest.mark.parametrize("header", [
    # NumPy's header parser raises tokenize.TokenError here, RecursionError on the next:
    b"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), ",
    b"{'descr': '<f8', 'fortran_order': False, 'shape': (" + b"-" * 3000 + b"1,), }\n",
], ids=["unterminated", "deep"])
def test_loader_refuses_headers_that_break_numpys_parser(tmp_path, header):
    """Found by a hostile review: such a header escaped the loader as a grader
    error ("please tell the instructor") instead of the student's bad value."""
    (tmp_path / "x.npy").write_bytes(_npy_with_header(header))
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with pytest.raises(StudentError, match="rejected: not a .npy file") as caught:
            load_untrusted_array(fd, "x.npy")
        assert caught.value.kind == "badvalue"
    finally:
        os.close(fd)


def test_loader_refuses_large_files(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros(1000))
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with pytest.raises(StudentError, match="not a small regular file"):
            load_untrusted_array(fd, "x.npy", max_bytes=100)
    finally:
        os.close(fd)


def test_submission_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="submission: .* is not a directory"):
        Submission(tmp_path / "nope")
    with pytest.raises(ValueError, match="modules: unknown exercise module"):
        Submission(tmp_path, ["ex6"])
    with Submission(tmp_path, ["ex1_softmax"]) as submission:
        with pytest.raises(ValueError, match="function: entropy belongs to ex2_information"):
            submission.function("entropy")
        assert repr(submission.function("softmax")) == "<student function softmax>"
    with pytest.raises(ValueError, match="function: no exercise defines 'nope'"):
        Submission(tmp_path, ["ex1_softmax"]).function("nope")
    with pytest.raises(ValueError, match="memory_mb must be a positive number"):
        Limits(memory_mb=-1)


def test_channel_garbage_and_early_exit(tmp_path):
    """A child that writes on the grader's channel or exits between calls."""
    (tmp_path / "ex1_softmax.py").write_text(
        "import os\n"
        "def softmax(z):\n"
        "    for fd in range(3, 20):\n"
        "        try:\n"
        "            os.write(fd, b'x' * 5000)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return z\n")
    with Submission(tmp_path, ["ex1_softmax"], Limits(call_timeout=2)) as submission:
        with pytest.raises(StudentError, match="garbage|unexpected message"):
            submission.function("softmax")(np.zeros(2))
        with pytest.raises(StudentError, match="an earlier test"):
            submission.function("softmax")(np.zeros(2))


def test_loader_does_not_block_on_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "x.npy")
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with pytest.raises(StudentError, match="not a small regular file"):
            load_untrusted_array(fd, "x.npy")
    finally:
        os.close(fd)


# -- the wall, seen from inside: the student's function reports what it can see

GUARD_OFF = (Path(__file__).with_name("cases") / "wall" / "guard_off.py").read_text()
INSPECT = GUARD_OFF + '''
import numpy as np
import socket


def errno_of(number, *args):
    """The errno of a raw system call (0 if it succeeded)."""
    return 0 if _libc.syscall(number, *args) != -1 else _ctypes.get_errno()


def softmax(z):
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    pids = [p for p in _os.listdir("/proc") if p.isdigit()]
    return np.array([
        int(status["Uid"].split()[0]),
        int(status["NoNewPrivs"]),
        int(status["CapEff"], 16),
        len(pids),
        any(_os.path.exists(f"{REPO}/{name}") for name in ("exercises", "coursepkg")),
        len(socket.if_nameindex()),
        _os.access("/usr", _os.W_OK),
        errno_of(250, 0, 0),            # keyctl: the kernel keyrings are not namespaced
        errno_of(101, 0, 0, 0, 0),      # ptrace(PTRACE_TRACEME)
        errno_of(272, 0x10000000),      # unshare(CLONE_NEWUSER)
        errno_of(435, 0, 0),            # clone3
    ])
'''


def inspect(tmp_path, sandbox):
    (tmp_path / "ex1_softmax.py").write_text(
        f"REPO = {str(Path(__file__).resolve().parents[2])!r}\n" + INSPECT)
    with Submission(tmp_path, ["ex1_softmax"], Limits(sandbox=sandbox)) as submission:
        facts = submission.function("softmax")(np.zeros(2))
        return submission.isolation, dict(zip(
            ["uid", "no_new_privs", "capabilities", "processes", "repository", "interfaces",
             "usr_writable", "keyctl", "ptrace", "new_user_namespace", "clone3"], facts.tolist()))


@pytest.mark.skipif(os.geteuid() != 0, reason="the root levels need root (CI runs as root)")
def test_inside_the_wall_as_root(tmp_path):
    isolation, facts = inspect(tmp_path, "auto")
    assert isolation == "namespaces+uid"
    assert facts.pop("uid") >= wall.UID_BASE
    # no privilege, bubblewrap's PID 1 and this process only, no repository (only the
    # empty folders on the way to NumPy), loopback only, /usr read-only
    expected = {"no_new_privs": 1, "capabilities": 0, "processes": 2, "repository": 0,
                "interfaces": 1, "usr_writable": 0}
    if wall.seccomp_program() is not None:  # x86-64: the seccomp filter refuses these
        expected.update(keyctl=errno.EPERM, ptrace=errno.EPERM, new_user_namespace=errno.EPERM,
                        clone3=errno.ENOSYS)
    assert {k: v for k, v in facts.items() if k in expected} == expected


@pytest.mark.skipif(os.geteuid() != 0, reason="the root levels need root (CI runs as root)")
def test_the_uid_level_and_no_wall(tmp_path):
    isolation, facts = inspect(tmp_path, "uid")
    assert isolation == "uid" and facts["uid"] >= wall.UID_BASE
    assert (facts["no_new_privs"], facts["capabilities"], facts["usr_writable"]) == (1, 0, 0)
    assert facts["processes"] > 2  # no PID namespace: the machine's processes show
    assert facts["ptrace"] == 0 and facts["new_user_namespace"] == 0  # and no seccomp filter
    isolation, facts = inspect(tmp_path, "none")
    assert isolation == "none" and facts["uid"] == os.geteuid() and facts["repository"] == 1


def test_find_wall_modes_and_refusals(monkeypatch):
    with pytest.raises(ValueError, match="sandbox: expected one of auto, container, uid, none"):
        wall.find_wall("maybe")
    with pytest.raises(ValueError, match="sandbox must be one of"):
        Limits(sandbox="off")
    assert wall.find_wall("none") == wall.Wall("none")
    assert all(wall.Wall(level).description.startswith(level) for level in wall.LEVELS)
    monkeypatch.setattr(wall.shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(wall.WallUnavailable, match="apt-get install bubblewrap"):
        wall.find_wall("auto")
    monkeypatch.setattr(wall.os, "geteuid", lambda: 0)
    assert wall.find_wall("container") == wall.find_wall("uid") == wall.Wall("uid")
    monkeypatch.setattr(wall.os, "geteuid", lambda: 1000)
    with pytest.raises(wall.WallUnavailable, match="the uid level needs root"):
        wall.find_wall("uid")
    with pytest.raises(wall.WallUnavailable, match="is not installed"):
        wall.find_wall("container")  # an ordinary user has no fallback


def test_a_broken_bubblewrap_is_refused(monkeypatch):
    """A bwrap that cannot build the sandbox (here: /bin/false) is caught by the probe."""
    broken = wall.Wall("user-namespaces", "/bin/false")
    assert wall._probe(broken) == "exit code 1"
    monkeypatch.setattr(wall, "_probed", {})
    monkeypatch.setattr(wall.shutil, "which", lambda *args, **kwargs: "/bin/false")
    with pytest.raises(wall.WallUnavailable, match="cannot build a sandbox here .exit code 1."):
        wall.find_wall("auto")


@pytest.mark.skipif(os.geteuid() != 0, reason="the root levels need root (CI runs as root)")
def test_a_killed_grader_takes_its_sandboxes_with_it(tmp_path):
    """The child swaps its stdin for a pipe of its own, so the grader's death
    does not end it by end-of-file: only the wall's teardown does."""
    (tmp_path / "ex1_softmax.py").write_text(
        "import os\nr, w = os.pipe()\nos.dup2(r, 0)\n\ndef softmax(z):\n    return z\n")
    grader = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from coursepkg.grading.sandbox import Submission\n"
         "s = Submission(sys.argv[1], ['ex1_softmax'])\n"
         "print(s._child('ex1_softmax').cell.uid, flush=True)\n"
         "time.sleep(60)\n", str(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    uid = int(grader.stdout.readline())
    assert wall.processes_of(uid)
    grader.kill()
    grader.wait()
    deadline = time.monotonic() + 10
    while wall.processes_of(uid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not wall.processes_of(uid)


@pytest.mark.parametrize("sandbox", ["auto", "none"])
def test_how_the_child_ended_is_reported(tmp_path, sandbox):
    """Through bubblewrap (which exits 128 + the signal) as without it."""
    (tmp_path / "ex4_logsumexp.py").write_text(GUARD_OFF + (
        "def logsumexp(z, axis=-1):\n    _os.kill(_os.getpid(), 9)\n\n"
        "def log_softmax(z, axis=-1):\n    _os._exit(3)\n\n"
        "def cross_entropy_from_logits(logits, y):\n    _os._exit(200)\n"))
    with Submission(tmp_path, ["ex4_logsumexp"], Limits(sandbox=sandbox)) as submission:
        for function, message, args in [
                ("logsumexp", "killed by signal SIGKILL", (np.zeros(2),)),
                ("log_softmax", "exited with code 3", (np.zeros(2),)),
                ("cross_entropy_from_logits", "exited with code 200", (np.zeros((1, 2)), [0]))]:
            with pytest.raises(StudentError, match=message):
                submission.function(function)(*args)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching uids needs root")
def test_kill_uid_reaches_processes_that_left_the_group():
    uid = wall.UID_BASE + 2**26 - 1  # beyond what any grader's children use
    started = [subprocess.Popen([*wall._setpriv(uid), "sleep", "60"], start_new_session=True)
               for _ in range(3)]
    assert len(wall.processes_of(uid)) == 3
    wall.kill_uid(uid)
    assert wall.processes_of(uid) == []
    assert [p.wait() for p in started] == [-9, -9, -9]


def test_grade_batch_refuses_once_without_a_wall(tmp_path, monkeypatch):
    from coursepkg.grading.batch import grade_batch

    (tmp_path / "class" / "ann").mkdir(parents=True)
    monkeypatch.setattr(wall.shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(wall.WallUnavailable, match="bubblewrap"):
        grade_batch(tmp_path / "class", tmp_path / "out" / "gradebook.csv", progress=False)
    assert not (tmp_path / "out").exists()


def test_loader_quotes_nothing_of_a_foreign_file(tmp_path):
    """A file that is not a .npy (say, a hard link to a secret) is refused without
    its bytes in the message, and a second name of a file is refused outright."""
    (tmp_path / "x.npy").write_bytes(b"root:$6$secret-hash:19000:0:99999:7:::\n")
    np.save(tmp_path / "a.npy", np.zeros(2))
    os.link(tmp_path / "a.npy", tmp_path / "b.npy")
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with pytest.raises(StudentError, match="not a .npy file") as error:
            load_untrusted_array(fd, "x.npy")
        assert "root" not in str(error.value) and "secret" not in str(error.value)
        with pytest.raises(StudentError, match="not a small regular file"):
            load_untrusted_array(fd, "b.npy")
    finally:
        os.close(fd)
