"""Hostile submissions: each scores 0 on the function (or module) it attacks,
the rest of the submission keeps its points, and the grader survives with
a valid results.json."""

import json
import os
import re
import time

import pytest
from grading_support import CASES as CASE_DIR
from grading_support import FAST, case_submission, make_submission

from coursepkg.grading.contract import EXERCISES as CONTRACT
from coursepkg.grading.contract import module_of
from coursepkg.grading.grade import grade, write_json

# case file in cases/hostile, the function it replaces, a word its feedback must contain
CASES = [
    ("exit_sys", "kl_divergence", "SystemExit"),
    ("exit_os", "softmax", "exited with code 0"),
    ("exit_signal", "nll_loss", "os.kill"),
    ("kill_parent", "cross_entropy_from_logits", "expected"),
    ("pytest_exit_skip", "log_softmax", "pytest"),
    ("patch_numpy", "entropy", "expected"),
    ("frames", "softmax", "expected"),
    ("always_equal", "categorical_mle", "not a number or a numeric array"),
    ("ndarray_subclass", "cross_entropy_grad", "expected"),
    ("import_torch", "cross_entropy_from_logits", "'torch' is not allowed"),
    ("importlib_scipy", "cross_entropy", "'scipy' is not allowed"),
    ("dunder_import_coursepkg", "softmax_jacobian", "'coursepkg.numpy' is not allowed"),
    ("read_sources", "fit_softmax_regression", "W"),
    ("spec_from_file", "log_softmax", "is not allowed|expected"),
    ("infinite_loop", "numerical_gradient", "timed out"),
    ("infinite_loop_no_signals", "kl_divergence", "timed out"),
    ("memory_bomb", "softmax_jacobian", "MemoryError|timed out"),
    ("fake_results", "softmax", "expected"),
    ("subprocess_shell", "categorical_mle", "is not allowed"),
    ("write_outside", "nll_loss", "is not allowed"),
    ("leak_hidden_inputs", "softmax", "ValueError: inputs so far"),
]


@pytest.mark.parametrize("case, function, word", CASES, ids=[c[0] for c in CASES])
def test_hostile_function(tmp_path, case, function, word):
    module = module_of(function)
    submission = case_submission(tmp_path / "submission", "hostile", case, function)
    report = grade(submission, [module], FAST)
    points = report.by_function()
    assert points[function][0] == 0, [t.output for t in report.tests if t.score]
    for other, (score, maximum) in points.items():
        if other != function:
            assert score == maximum, (other, [t.output for t in report.tests if t.function == other])
    outputs = [t.output for t in report.tests if t.function == function and t.visibility == "visible"]
    assert any(re.search(word, output) for output in outputs), outputs
    hidden = [i for i, t in enumerate(report.tests) if t.visibility == "hidden"]
    assert hidden == list(range(len(report.tests) - len(hidden), len(report.tests))), \
        "hidden tests must run after every visible one"
    for test in report.tests:
        if test.visibility == "hidden":
            assert "[" not in test.output and "inputs so far" not in test.output, test.output
    results = json.loads(write_json(report, tmp_path / "results.json").read_text())
    assert results["score"] == report.score and len(results["tests"]) == len(report.tests)


def test_no_side_effects_outside_the_sandbox():
    assert not os.path.exists("/tmp/coursepkg-pwned")
    assert not any(name.startswith("coursepkg-pwned") for name in os.listdir("/tmp"))


IMPORT_TIME = {
    "ex1_softmax": "def softmax(z):\n    return z +\n",                      # syntax error
    "ex2_information": "raise RuntimeError('boom at import')\n",             # exception
    "ex3_mle": "import os\nos._exit(3)\n",                                   # exit at import
}


def test_import_time_attacks_zero_their_module_only(tmp_path):
    submission = make_submission(tmp_path / "s", IMPORT_TIME)
    (submission / "conftest.py").write_text(
        "import pytest\n\n@pytest.hookimpl(wrapper=True)\n"
        "def pytest_runtest_makereport(item, call):\n"
        "    report = yield\n    report.outcome = 'passed'\n    return report\n")
    (submission / "pytest.ini").write_text("[pytest]\naddopts = -p no:python\n")
    report = grade(submission, limits=FAST)
    points = report.by_function()
    outputs = {m: {t.output for t in report.tests if module_of(t.function) == m} for m in CONTRACT}
    for module, functions in CONTRACT.items():
        for function in functions:
            if module in IMPORT_TIME:
                assert points[function][0] == 0
            else:
                assert points[function][0] == points[function][1], outputs[module]
    assert any("SyntaxError" in o for o in outputs["ex1_softmax"])
    assert any("RuntimeError: boom at import" in o for o in outputs["ex2_information"])
    assert any("exited with code 3" in o for o in outputs["ex3_mle"])


def test_missing_modules_and_functions_score_zero(tmp_path):
    (tmp_path / "ex1_softmax.py").write_text("import numpy as np\n")
    report = grade(tmp_path, ["ex1_softmax", "ex2_information"], FAST)
    outputs = {t.output for t in report.tests}
    assert report.score == 0
    assert "the module defines no function softmax" in outputs
    assert "ex2_information.py is missing from the submission" in outputs


def test_a_full_hostile_submission_is_graded_quickly(tmp_path):
    """Several attacks at once, still well within the time of a few timeouts."""
    snippets = {module_of(f): (CASE_DIR / "hostile" / f"{c}.py").read_text()
                for c, f in [("exit_os", "softmax"), ("always_equal", "categorical_mle"),
                             ("import_torch", "cross_entropy_from_logits")]}
    start = time.perf_counter()
    report = grade(make_submission(tmp_path, snippets), limits=FAST)
    assert time.perf_counter() - start < 10
    points = report.by_function()
    attacked = ("softmax", "categorical_mle", "cross_entropy_from_logits")
    assert all(points[f][0] == 0 for f in attacked)
    assert report.score == 100 - sum(points[f][1] for f in attacked)


# ---------------------------------------------------------------------------
# The wall.  Every case in cases/wall/ first switches the runner's in-process
# guard off (cases/wall/guard_off.py, prepended), so only the kernel's wall
# stands in the way.  The grader runs as a separate process (the CLI), from a
# throw-away copy of the package and the instructor sources, as root and as
# an ordinary user; without the wall (--sandbox none) the same attacks get
# through, which shows that these tests can fail.

import ast  # noqa: E402
import hashlib  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import sysconfig  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

from grading_support import EXERCISES, ROOT  # noqa: E402

WALL = CASE_DIR / "wall"
SECRET = "COURSEPKG_SECRET_TOKEN"
USER_UID = 1_999_999_001  # the "ordinary user" the user-path tests grade as
# the attack of each function in one hostile submission (a fork bomb, a memory hog and
# a process killer too: these run only behind the wall)
ATTACKS = {
    "softmax": "rewrite_results", "entropy": "read_checks", "cross_entropy": "read_environment",
    "kl_divergence": "append_checks", "nll_loss": "kill_grader", "categorical_mle": "fork_bomb",
    "fit_softmax_regression": "read_solution", "logsumexp": "daemon",
    "log_softmax": "write_anywhere", "cross_entropy_from_logits": "network",
    "softmax_jacobian": "memory_hog",
}
UNSAFE_UNWALLED = {"kill_grader", "fork_bomb", "memory_hog", "rewrite_results"}


def new_mark() -> str:
    """A process name (at most 15 characters) for one run's attacks, so that runs
    at the same time (other test sessions on the machine) do not see each other's."""
    return f"cpkg-{os.urandom(4).hex()}"


def wall_submission(folder: Path, attacks: dict[str, str], mark: str) -> Path:
    """The solutions, with ``{function: case}`` attacks (the guard switched off first)."""
    preamble = (WALL / "guard_off.py").read_text()
    snippets: dict[str, str] = {}
    for function, case in attacks.items():
        module = module_of(function)
        snippets[module] = snippets.get(module, preamble) + "\n\n" + (WALL / f"{case}.py").read_text()
    return make_submission(folder, {m: s.replace("cpkg-pwned", mark) for m, s in snippets.items()})


NEEDS_ROOT = "grading as root, as another user and at the uid level needs root (CI runs as root)"


@pytest.fixture
def grader_home():
    """A world-readable copy of the package and the instructor sources to grade from."""
    if os.geteuid() != 0:
        pytest.skip(NEEDS_ROOT)
    home = Path(tempfile.mkdtemp(prefix="coursepkg-wall-"))
    home.chmod(0o755)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "coursepkg", home / "coursepkg", ignore=ignore)
    shutil.copytree(EXERCISES, home / "exercises", ignore=ignore)
    (home / "out").mkdir()
    os.chown(home / "out", USER_UID, USER_UID)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def digest(home: Path, tops=("coursepkg", "exercises")) -> dict[str, str]:
    return {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
            for top in tops for p in sorted((home / top).rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def marked_processes(mark: str) -> list[int]:
    """Live processes named ``mark`` (zombies are dead: a killed process stays one
    until whatever inherited it reaps it)."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text() if entry.isdigit() else ""
            if stat and f"({mark}) " in stat and stat.rpartition(")")[2].split()[0] != "Z":
                pids.append(int(entry))
        except OSError:
            pass
    return pids


def run_grader(home: Path, args: list[str], *, user: bool = False, view: bool = False,
               secret: str = ""):
    """``python -m coursepkg ARGS`` from ``home``, as root or as USER_UID.

    With ``view`` (implied by ``user``), the interpreter and the
    site-packages are bind-mounted into ``home`` in a private mount namespace,
    so that any uid can reach them (the originals may lie in root's home);
    as the user, the grader then drops to USER_UID with no capability left."""
    python = os.path.realpath(sys.executable)
    prefix = os.path.realpath(sys.base_prefix)
    site = os.path.realpath(sysconfig.get_paths()["purelib"])
    command = [python, "-s", "-m", "coursepkg", *args]
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8",
           "PYTHONPATH": f"{home}:{site}", SECRET: secret}
    if user or view:
        seen = home / "view"
        (seen / "py").mkdir(parents=True)
        (seen / "site").mkdir()
        env["PYTHONPATH"] = f"{home}:{seen / 'site'}"
        drop = ["setpriv", f"--reuid={USER_UID}", f"--regid={USER_UID}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--"] if user else []
        command = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                   'mount --bind "$1" "$2" && mount --bind "$3" "$4" && shift 4 && exec "$@"',
                   "sh", prefix, str(seen / "py"), site, str(seen / "site"), *drop,
                   str(seen / "py" / os.path.relpath(python, prefix)), *command[1:]]
    # a session of its own: an attack that reaches the grader's process group stops there
    return subprocess.run(command, cwd=home, env=env, capture_output=True, text=True,
                          timeout=120, start_new_session=True)


class Listener:
    """A TCP server on the first free port of the range the network attack tries;
    it counts the connections that bring this run's ``mark``."""

    def __init__(self, mark: str):
        self.mark = mark.encode()
        self.connections = 0
        self.server = socket.socket()
        for port in range(47800, 47820):
            try:
                self.server.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        self.server.listen(8)
        self.server.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(1.0)
                try:
                    self.connections += connection.recv(64) == self.mark
                except OSError:
                    pass

    def close(self):
        self.running = False
        self.thread.join()
        self.server.close()


def points(results: dict) -> dict[str, list[float]]:
    table: dict[str, list[float]] = {}
    for test in results["tests"]:
        row = table.setdefault(test["name"].split(":")[0].rpartition(".")[2], [0.0, 0.0])
        row[0] += test["score"]
        row[1] += test["max_score"]
    return table


def grade_hostile(home: Path, attacks: dict[str, str], *, user=False, view=False,
                  sandbox=None):
    """Grade the hostile submission; return (process, results or None, evidence)."""
    mark = new_mark()
    submission = wall_submission(home / "submission", attacks, mark)
    out = home / "out" / "results.json"
    secret = f"s3cr3t-{os.getpid()}-{time.time_ns()}"
    before = digest(home)
    listener = Listener(mark)
    try:
        process = run_grader(home, ["grade", str(submission), "--json", str(out), "--timeout",
                                    "1.5", "--memory-mb", "768",
                                    *(["--sandbox", sandbox] if sandbox else [])],
                             user=user, view=view, secret=secret)
        alive = marked_processes(mark)
        # a daemon that survived rewrites the results now (it polls every 50 ms)
        graded = out.read_text() if out.exists() else ""
        patience = (10 if "rewrite_results" in attacks.values() else 0.5) if alive else 0
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline and (out.read_text() if out.exists() else "") == graded:
            time.sleep(0.05)
    finally:
        listener.close()
    for pid in marked_processes(mark):  # only ever found without the wall
        os.kill(pid, 9)
    written = [f"{folder}/{mark}-wall".replace("//", "/")
               for folder in ("/tmp", "/var/tmp", "/dev/shm", "/dev", "/", str(home))
               if os.path.exists(f"{folder}/{mark}-wall")]
    for path in written:
        os.remove(path)
    results = json.loads(out.read_text()) if out.exists() else None
    evidence = {
        "survivors": alive,
        "changed": sorted(k for k, v in digest(home).items() if before.get(k) != v),
        "written": [p.replace(mark, "MARK") for p in written],
        "secret": secret in process.stdout + (out.read_text() if out.exists() else ""),
        "connections": listener.connections,
    }
    return process, results, evidence


def assert_contained(process, results, evidence, attacks, isolation,
                     unwritable=("/var/tmp", "/dev/shm", "/dev", "/")):
    """Every attack scored 0, the rest full marks, nothing got out, and the
    write_anywhere attack could write in none of ``unwritable`` (a sandbox's /,
    /dev and /dev/shm are memory it could fill)."""
    assert process.returncode == 0, process.stderr[-2000:]
    assert results["isolation"] == isolation
    if "write_anywhere" in attacks.values():
        outputs = [t["output"] for t in results["tests"] if ".log_softmax:" in t["name"]]
        wrote = re.search(r"wrote in (\[.*?\])", outputs[0])
        assert wrote and not set(ast.literal_eval(wrote.group(1))) & set(unwritable), outputs
    assert evidence == {"survivors": [], "changed": [], "written": [], "secret": False,
                        "connections": 0}
    table = points(results)
    for function, (score, maximum) in table.items():
        assert score == (0 if function in attacks else maximum), (function, score, maximum)
    assert results["score"] == sum(m for f, (_, m) in table.items() if f not in attacks)
    assert set(attacks) <= set(table)


@pytest.mark.parametrize("user", [False, True], ids=["root", "ordinary-user"])
def test_the_wall_contains_every_attack(grader_home, user):
    """Eleven attacks at once, guard switched off: each scores 0, nothing gets out."""
    start = time.perf_counter()
    process, results, evidence = grade_hostile(grader_home, ATTACKS, user=user)
    assert_contained(process, results, evidence, ATTACKS,
                     "user-namespaces" if user else "namespaces+uid")
    assert time.perf_counter() - start < 30  # no teardown waited out its 10 s limit


@pytest.mark.parametrize("user", [False, True], ids=["root", "ordinary-user"])
def test_the_wall_hides_other_students(grader_home, user):
    classroom = grader_home / "class"
    shutil.copytree(EXERCISES, classroom / "alice")
    wall_submission(classroom / "mallory", {"softmax": "other_student"}, new_mark())
    gradebook = grader_home / "out" / "gradebook.csv"
    process = run_grader(grader_home, ["grade-batch", "class", "--out", str(gradebook),
                                       "--no-progress", "--timeout", "1.5"], user=user)
    assert process.returncode == 0, process.stderr[-2000:]
    results = json.loads((grader_home / "out" / "gradebook.results" / "mallory.json").read_text())
    table = points(results)
    assert table["softmax"][0] == 0
    assert results["score"] == 100 - table["softmax"][1]


def test_the_uid_level_contains_all_but_the_network(grader_home):
    """--sandbox uid (a container without namespaces): a dedicated uid, no namespaces.

    The trusted files are made unreadable by permissions, as run_autograder
    does on Gradescope; the network and the world-writable folders stay reachable
    (documented)."""
    for trusted in ("coursepkg", "exercises"):
        (grader_home / trusted).chmod(0o700)
    process, results, evidence = grade_hostile(grader_home, ATTACKS, view=True, sandbox="uid")
    assert evidence.pop("connections") > 0
    assert evidence["written"] == ["/tmp/MARK-wall", "/var/tmp/MARK-wall", "/dev/shm/MARK-wall"]
    evidence["connections"], evidence["written"] = 0, []
    assert_contained(process, results, evidence, ATTACKS, "uid", unwritable=("/dev", "/"))


def test_without_the_wall_the_attacks_get_through(grader_home):
    """--sandbox none: the guard-less attacks read, write, leak and linger."""
    attacks = {f: c for f, c in ATTACKS.items() if c not in UNSAFE_UNWALLED}
    process, results, evidence = grade_hostile(grader_home, attacks, sandbox="none")
    assert process.returncode == 0, process.stderr[-2000:]
    assert results["isolation"] == "none"
    assert evidence["survivors"] and evidence["secret"] and evidence["connections"]
    assert any("/checks/" in k for k in evidence["changed"])  # the grading tests
    assert any(re.match(r"exercises/ex\d", k) for k in evidence["changed"])  # the solutions
    assert evidence["written"] == ["/tmp/MARK-wall", "/var/tmp/MARK-wall", "/dev/shm/MARK-wall",
                                   "/dev/MARK-wall", "/MARK-wall", f"{grader_home}/MARK-wall"]
    table = points(results)
    assert table["fit_softmax_regression"][0] == table["fit_softmax_regression"][1]
    assert any("def test_" in t["output"] for t in results["tests"] if ".entropy:" in t["name"])


def test_without_the_wall_a_daemon_rewrites_the_results(grader_home):
    process, results, _ = grade_hostile(grader_home, {"softmax": "rewrite_results"},
                                        sandbox="none")
    assert process.returncode == 0 and results == {"score": 100.0, "output": "100 / 100 points",
                                                   "tests": []}


def test_without_the_wall_the_grader_is_killed(grader_home):
    process, results, _ = grade_hostile(grader_home, {"nll_loss": "kill_grader"}, sandbox="none")
    assert process.returncode == -9 and results is None


def test_without_the_wall_other_students_are_read(grader_home):
    classroom = grader_home / "class"
    shutil.copytree(EXERCISES, classroom / "alice")
    wall_submission(classroom / "mallory", {"softmax": "other_student"}, new_mark())
    gradebook = grader_home / "out" / "gradebook.csv"
    process = run_grader(grader_home, ["grade-batch", "class", "--out", str(gradebook),
                                       "--no-progress", "--timeout", "1.5", "--sandbox", "none"])
    assert process.returncode == 0, process.stderr[-2000:]
    results = json.loads((grader_home / "out" / "gradebook.results" / "mallory.json").read_text())
    assert results["score"] == 100


@pytest.mark.skipif(os.geteuid() != 0, reason=NEEDS_ROOT)
def test_the_gradescope_bundle_grades_behind_the_wall(tmp_path):
    """run_autograder, as Gradescope runs it (as root), with every attack at once."""
    from coursepkg.grading.gradescope import build_bundle

    root = tmp_path / "autograder"
    with zipfile.ZipFile(build_bundle(tmp_path / "autograder.zip", call_timeout=1.5)) as bundle:
        bundle.extractall(root / "source")
        assert "apt-get install -y bubblewrap" in bundle.read("setup.sh").decode()
    script = root / "source" / "run_autograder"
    script.chmod(0o755)
    mark, secret = new_mark(), f"s3cr3t-{time.time_ns()}"
    wall_submission(root / "submission", ATTACKS, mark)
    before = digest(root, ("source",))
    env = {"PATH": "/usr/bin:/bin", "AUTOGRADER_ROOT": str(root),
           "AUTOGRADER_PYTHON": sys.executable, SECRET: secret}
    process = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=120,
                             start_new_session=True)
    alive = marked_processes(mark)
    text = (root / "results" / "results.json").read_text()
    evidence = {"survivors": alive, "changed": [k for k, v in digest(root, ("source",)).items()
                                                if before.get(k) != v],
                "written": [p for p in (f"/tmp/{mark}-wall", f"/var/tmp/{mark}-wall")
                            if os.path.exists(p)],
                "secret": secret in text + process.stdout, "connections": 0}
    assert_contained(process, json.loads(text), evidence, ATTACKS, "namespaces+uid")
    assert (root / "source").stat().st_mode & 0o777 == 0o700


# ---------------------------------------------------------------------------
# Found by a hostile review (the guard switched off, as above): each of these
# got through before its fix.

from coursepkg import cli  # noqa: E402

_PATCH_HANDLE = '''
import __main__ as _m, os as _os, sys as _sys
_orig = _m.handle
def _handle(module, function, arrays):
    if function != "softmax":
        return _orig(module, function, arrays)
    inputs = "LEAK" + ";".join(repr(arrays[k].tolist())[:60] for k in sorted(arrays))
    {body}
_m.handle = _handle
'''
LEAKS = {
    # a status of its own choosing, whose message carries the call's inputs
    "status message": 'return ("notimpl", inputs[:480], "single", [], [])',
    # a stray line on the grader's channel, quoted back in the feedback
    "channel": '_os.write(int(_sys.argv[7]), inputs[:39].encode() + b"\\n"); _os._exit(0)',
    # the exit code
    "exit code": "_os._exit(77)",
    # an exception whose class name spells the inputs
    "exception name": 'raise type("LEAK" + str(len(inputs)), (Exception,), {})("x")',
}


@pytest.mark.parametrize("channel", LEAKS)
def test_hidden_feedback_carries_no_text_or_number_the_child_chose(tmp_path, channel):
    submission = make_submission(tmp_path / "s", {"ex1_softmax": _PATCH_HANDLE.format(
        body=LEAKS[channel])})
    report = grade(submission, ["ex1_softmax"], FAST)
    softmax = [t for t in report.tests if t.function == "softmax"]
    hidden = [t.output for t in softmax if t.visibility != "visible"]
    assert hidden and all(t.score == 0 for t in softmax)
    for output in hidden:
        assert "LEAK" not in output and "77" not in output, output


def test_a_deep_folder_tree_does_not_crash_the_teardown(tmp_path, monkeypatch):
    """shutil.rmtree recursed once per level: 3000 folders made the grader
    fail with RecursionError, no results.json, and the submission's other
    sandboxes were never torn down."""
    deep = ("import os as _os\n_fd = _os.open('.', _os.O_RDONLY)\n"
            "for _ in range(3000):\n    _os.mkdir('d', dir_fd=_fd)\n"
            "    _new = _os.open('d', _os.O_RDONLY | _os.O_DIRECTORY, dir_fd=_fd)\n"
            "    _os.close(_fd)\n    _fd = _new\n_os.close(_fd)\n")
    scratch = tmp_path / "scratch"  # the grader's temporary folders, this test's only
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    submission = make_submission(tmp_path / "s", {"ex5_gradients": deep})
    report = grade(submission, ["ex1_softmax", "ex5_gradients"], FAST)
    assert report.score == report.max_score  # the tree is not an attack on a score
    assert os.listdir(scratch) == []


def test_escape_sequences_reach_the_terminal_escaped(tmp_path, capsys):
    """A message or file name with terminal escapes could clear the screen and
    print a fake score on the TA's terminal."""
    fake = "\x1b[2J\x1b[3J\x1b[Hscore 100 / 100\x1b[8m"
    submission = make_submission(tmp_path / "s", {
        "ex1_softmax": f"def softmax(z, axis=-1):\n    raise ValueError({fake!r})\n"})
    (submission / "notes\x1b]0;pwned\x07.py").write_text("x = 1\n")
    cli.main(["grade", str(submission), "--modules", "ex1_softmax", "--timeout", "1.5"])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2J" in out  # shown, escaped
