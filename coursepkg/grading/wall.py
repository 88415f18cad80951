"""The wall: start a student child, confine it with the kernel, tear it down.

Threat model
------------
The student's module is arbitrary code: Python that switches off every
check written in Python (the runner's audit hook and import finder are a
friendly early error, not a wall), or native code through ``ctypes``.  It
runs with the rights of the process and user it runs as, for as long as it
lives.  It must not be able to

- change any score (results files, the grading tests, the package, the
  gradebook, the bundle's scripts), before, during or after its run;
- read what the trusted side has: instructor sources, the grading tests and
  their expected values, other students' submissions, the grader's
  environment;
- outlive its call (a daemon, a double fork, a ``setsid``);
- stop the grader, slow it past its limits or starve other functions or
  other students;
- reach the network.

The wall that holds this is the kernel's, built with bubblewrap
(``bwrap``, the sandbox tool of Flatpak), one sandbox per child:

- **a file system made of an allow-list**: a fresh root holding, read-only,
  ``/usr`` (and the ``/bin``, ``/lib`` links), the Python installation with
  its ``site-packages`` masked, NumPy's own folder, the requests folder; and
  read-write only the child's working folder and its responses folder.  The
  repository, the instructor sources, the ``coursepkg`` package (grading
  tests included), the results folder, other submissions and the grader's
  home are not in it (and are masked should they lie inside a tree that is);
- **new PID, network, mount, IPC, UTS and cgroup namespaces**: the child
  sees only its own processes and a network with only a loopback device;
  its ``/proc`` shows nothing of the grader, so neither the grader's
  environment nor its command line can be read;
- **a dedicated unprivileged uid and gid** when the grader runs as root
  (a fresh numeric uid per child, from :data:`UID_BASE`, with no groups,
  no capabilities, an empty bounding set and ``no_new_privs``); as an
  ordinary user, an unprivileged **user namespace** instead, in which the
  child has no capability and cannot create further user namespaces;
- **teardown with the namespace**: the sandbox's PID 1 is bubblewrap's
  init; the trusted side kills it through a pidfd, and the kernel kills
  every process of the namespace (daemons, double forks and ``setsid``
  escapees included) before the grader goes on; ``--die-with-parent``
  kills it if the grader dies first;
- **a seccomp filter** (x86-64) refusing system calls a child never needs
  and that widen the kernel's surface or reach past the namespaces: kernel
  keyrings, ``ptrace``, BPF, ``perf_event_open``, ``userfaultfd``,
  ``io_uring``, modules, mounts, new user namespaces, ``setns``;
- **limits** the runner sets as hard limits before the student's code
  runs (address space, CPU seconds, file size, no core files, processes),
  which an unprivileged process cannot raise again, plus the trusted side's
  wall-clock timeout per call.

Results are written only by the trusted side, after every child is dead,
into a folder no child ever sees.

Out of scope: kernel exploits (the namespaces are the kernel's), hardware
side channels, and anything the grader's own machine lets every local
process do.  The inputs of hidden tests necessarily reach the student's
code.  There is no cgroup: memory is bounded per process, the working
folder per file.  Landlock is not used: the mount namespace's allow-list
already keeps out every path a Landlock rule set would.

Levels, strongest first (reported as ``isolation`` in the results):
``namespaces+uid`` (root), ``user-namespaces`` (an ordinary user); then two
that only an explicit choice gets (:func:`find_wall`): ``uid``, a dedicated
uid without namespaces, for a throw-away container that allows no
namespaces (``--sandbox container`` falls back to it), where the network
and world-readable or world-writable files stay reachable, so the trusted
files must be made unreadable by permissions (Gradescope's
``run_autograder`` does); and ``none``, no wall (``--sandbox none``).  If
bwrap is missing or cannot build a sandbox, ``auto`` refuses with a message
naming what to install.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

# Root level: child k of grader process p runs as UID_BASE + (p mod 2**20) * 64 + k mod 64
# (below 2**31: some tools read uids as signed),
# numbers no account uses (systemd and subordinate-id ranges stay far below).
UID_BASE = 2_000_000_000
INSIDE = "/grader"           # where the child's folders appear inside the sandbox
TMP_BYTES = 16 * 2**20       # the sandbox's own /tmp (memory-backed)
LEVELS = ("namespaces+uid", "user-namespaces", "uid", "none")
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; "
                "Fedora: dnf install bubblewrap)")
_counter = itertools.count()
_probed: dict[tuple, str] = {}


class WallUnavailable(ValueError):
    """No OS-level wall can be built here, and none was explicitly waived.

    A ``ValueError``: the command line reports it as an error in its
    arguments (exit status 2), naming what to install or the flag to pass.
    """


@dataclass(frozen=True)
class Wall:
    """How children are confined: ``level`` is one of :data:`LEVELS`."""

    level: str
    bwrap: str | None = None

    @property
    def description(self) -> str:
        """One line for the CLI and the results.

        >>> Wall("none").description
        "none: student code runs unconfined, as the grader's user (--sandbox none)"
        """
        return {
            "namespaces+uid": "namespaces+uid: bubblewrap sandbox (PID, network, mount, IPC "
                              "namespaces, seccomp on x86-64) as a dedicated unprivileged uid",
            "user-namespaces": "user-namespaces: bubblewrap sandbox in an unprivileged user "
                               "namespace (PID, network, mount, IPC namespaces, seccomp on "
                               "x86-64)",
            "uid": "uid: a dedicated unprivileged uid, no namespaces (--sandbox container "
                   "or uid): the network and world-readable files stay reachable",
            "none": "none: student code runs unconfined, as the grader's user (--sandbox none)",
        }[self.level]


MODES = ("auto", "container", "uid", "none")


def find_wall(mode: str = "auto") -> Wall:
    """The wall to grade behind, chosen by ``mode``.

    ``auto``: a bubblewrap sandbox (``namespaces+uid`` as root,
    ``user-namespaces`` otherwise), else :class:`WallUnavailable` naming
    what to install.  ``container`` (inside a throw-away container that
    holds nothing but the grader, like Gradescope's): the same, else, as
    root, the ``uid`` level.  ``uid`` forces that level (root only);
    ``none`` accepts the risk of no wall at all.
    """
    if mode not in MODES:
        raise ValueError(f"sandbox: expected one of {', '.join(MODES)}, got {mode!r}")
    if mode == "none":
        return Wall("none")
    if mode == "uid":
        if os.geteuid() != 0:
            raise WallUnavailable("sandbox: the uid level needs root (it switches to a "
                                  "dedicated uid); as an ordinary user use auto")
        return Wall("uid")
    try:
        return _bubblewrap()
    except WallUnavailable:
        if mode == "container" and os.geteuid() == 0:
            return Wall("uid")
        raise


def _bubblewrap() -> Wall:
    bwrap = shutil.which("bwrap") or shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin")
    if bwrap is None:
        raise WallUnavailable(
            "refusing to run untrusted student code without an OS-level sandbox: bubblewrap "
            f"(bwrap) is not installed; {INSTALL_HINT}, or pass --sandbox none to accept the "
            "risk on a machine where that is acceptable")
    wall = Wall("namespaces+uid" if os.geteuid() == 0 else "user-namespaces", bwrap)
    key = (wall, os.geteuid())
    if key not in _probed:
        _probed[key] = _probe(wall)
    if _probed[key]:
        raise WallUnavailable(
            f"refusing to run untrusted student code: bubblewrap cannot build a sandbox here "
            f"({_probed[key]}).  As an ordinary user this needs unprivileged user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces > 0; on "
            "Ubuntu 24.04 an AppArmor profile for bwrap); in a container, one that allows "
            "namespaces, or --sandbox container (root: a dedicated uid only).  Or pass "
            "--sandbox none to accept the risk.")
    return wall


def _probe(wall: Wall) -> str:
    """'' if a sandbox with this wall runs ``true``, else bwrap's complaint."""
    cell = Cell(wall, [shutil.which("true", path="/usr/bin:/bin") or "/bin/true"], {},
                env={"PATH": "/usr/bin:/bin"}, capture_stderr=True)
    try:
        code = cell.process.wait(timeout=30)
    except subprocess.TimeoutExpired:  # pragma: no cover - a hung bwrap
        cell.kill()
        return "it did not answer within 30 s"
    cell.kill()
    return "" if code == 0 else (cell.stderr.strip()[-300:] or f"exit code {code}")


def _ancestors(path: str):
    parts = Path(path).parts[1:]
    return [os.path.join("/", *parts[:i]) for i in range(1, len(parts))]


def _inside_any(path: str, roots) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def python_executable() -> str:
    """The real interpreter (not a virtual environment's link): the child runs ``-I -S``."""
    return os.path.realpath(sys.executable)


def secret_paths() -> list[str]:
    """Trusted files that must not show inside a read-only tree of the view."""
    package = Path(__file__).resolve().parents[1]
    paths = [str(package), str(package.parent / "exercises")]
    for base in {sys.base_prefix, sys.prefix}:
        for key in ("purelib", "platlib"):
            paths.append(sysconfig.get_paths(vars={"base": base, "platbase": base})[key])
    return [os.path.realpath(p) for p in paths]


def system_view(extra_ro=(), hide=()) -> list[str]:
    """bwrap arguments for the read-only part of the view.

    ``/usr`` and the Python installation, with :func:`secret_paths` masked,
    then the trees of ``extra_ro`` (NumPy) at their own paths.
    """
    args, roots, made = [], [], set()

    def bind(tree):
        for parent in _ancestors(tree):
            if parent not in made and not _inside_any(parent, roots):
                args.extend(["--perms", "0755", "--dir", parent])
                made.add(parent)
        args.extend(["--ro-bind", tree, tree])

    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
            roots.append(top)
    if os.path.exists("/etc/ld.so.cache"):
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    prefix = os.path.realpath(sys.base_prefix)
    if not _inside_any(prefix, roots):
        bind(prefix)
        roots.append(prefix)
    for secret in [*secret_paths(), *(os.path.realpath(p) for p in hide)]:
        if os.path.exists(secret) and _inside_any(secret, roots):
            args += (["--tmpfs", secret] if os.path.isdir(secret)
                     else ["--ro-bind", "/dev/null", secret])
    for tree in extra_ro:
        bind(os.path.realpath(tree))
    return args


# -- a seccomp filter (x86-64): system calls a grading child never needs, refused with
# EPERM: kernel keyrings (not namespaced: an ordinary user's keys would be in reach),
# ptrace and cross-process memory, BPF, perf, userfaultfd, io_uring, modules, kexec,
# mounts, namespaces (a new user namespace, setns), and a few administrative calls.
# clone3 gets ENOSYS (its flags are out of a filter's reach; the C library falls back
# to clone, whose flags are checked).  Other architectures get no filter.
AUDIT_ARCH_X86_64 = 0xC000003E
DENIED_SYSCALLS_X86_64 = {
    "keyctl": 250, "add_key": 248, "request_key": 249, "ptrace": 101, "bpf": 321,
    "perf_event_open": 298, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "kexec_load": 246, "kexec_file_load": 320, "init_module": 175,
    "finit_module": 313, "delete_module": 176, "mount": 165, "umount2": 166, "pivot_root": 155,
    "move_mount": 429, "open_tree": 428, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "mount_setattr": 442, "setns": 308, "acct": 163, "swapon": 167,
    "swapoff": 168, "reboot": 169, "syslog": 103, "quotactl": 179, "process_vm_readv": 310,
    "process_vm_writev": 311, "kcmp": 312, "open_by_handle_at": 304, "name_to_handle_at": 303,
    "vhangup": 153, "iopl": 172, "ioperm": 173, "lookup_dcookie": 212,
}
CLONE_NEWUSER = 0x10000000
_CLONE, _UNSHARE, _CLONE3 = 56, 272, 435


def seccomp_program(machine: str | None = None) -> bytes | None:
    """The filter as classic BPF (``struct sock_filter[]``), or None off x86-64.

    >>> len(seccomp_program("x86_64")) % 8, seccomp_program("riscv64")
    (0, None)
    """
    if (machine or os.uname().machine) != "x86_64":
        return None
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    code = [(ld, "", "", 4), (jeq, 1, 0, AUDIT_ARCH_X86_64), (ret, 0, 0, 0x80000000),
            (ld, "", "", 0), (jge, "eperm", 0, 0x40000000)]  # x32 system calls
    code += [(jeq, "eperm", 0, nr) for nr in sorted(DENIED_SYSCALLS_X86_64.values())]
    code += [(jeq, "enosys", 0, _CLONE3), (jeq, "flags", 0, _CLONE), (jeq, "flags", 0, _UNSHARE),
             (ret, 0, 0, allow)]
    labels = {"flags": len(code), "enosys": len(code) + 3, "eperm": len(code) + 4}
    code += [(ld, "", "", 16), (jset, "eperm", 0, CLONE_NEWUSER), (ret, 0, 0, allow),
             (ret, 0, 0, enosys), (ret, 0, 0, eperm)]
    out = bytearray()
    for i, (op, jt, jf, k) in enumerate(code):
        jt, jf = (labels[j] - i - 1 if isinstance(j, str) and j else j or 0 for j in (jt, jf))
        out += struct.pack("=HBBI", op, jt, jf, k)
    return bytes(out)


def _setpriv(uid: int) -> list[str]:
    """Become ``uid`` (and gid), no groups, no capabilities, ``no_new_privs``."""
    return [shutil.which("setpriv", path="/usr/bin:/bin") or "setpriv", f"--reuid={uid}",
            f"--regid={uid}", "--clear-groups", "--no-new-privs", "--inh-caps=-all",
            "--bounding-set=-all", "--"]


def processes_of(uid: int) -> list[int]:
    """The pids of every live (not zombie) process whose real uid is ``uid``."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
            if int(fields["Uid"].split()[0]) == uid and not fields["State"].strip().startswith("Z"):
                pids.append(int(entry))
        except (OSError, ValueError, KeyError):
            continue
    return pids


def kill_uid(uid: int, timeout: float = 10.0) -> None:
    """Kill every process of ``uid`` and wait until they are gone.

    ``kill(-1, SIGKILL)`` sent *as* ``uid`` reaches exactly its processes,
    in one pass the kernel does not let them fork past.
    """
    deadline = time.monotonic() + timeout
    while processes_of(uid) and time.monotonic() < deadline:
        subprocess.run([*_setpriv(uid), python_executable(), "-I", "-S", "-c",
                        "import os, signal; os.kill(-1, signal.SIGKILL)"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        time.sleep(0.01)


class Cell:
    """One confined child process.

    Parameters
    ----------
    wall : Wall
    argv : list of str, or a function of :meth:`inside` returning one
        The command; paths in it must be the ones the child sees.
    folders : dict
        ``{name: (host path, writable)}``: folders the child gets, at
        ``/grader/<name>`` inside a sandbox (at their host path without one);
        the writable ones become the child's at the uid levels.
    workdir : str, optional
        Name (a key of ``folders``) of the child's working directory.
    env : dict
        The child's whole environment.
    pass_fds : tuple of int
        File descriptors the child inherits.
    extra_ro : sequence of paths
        Trees the sandbox shows read-only at their own paths (NumPy).
    hide : sequence of paths
        Trusted paths to mask should they lie in a tree the sandbox shows.
    capture_stderr : bool
        Keep the child's (and bwrap's) standard error in :attr:`stderr`
        (for the probe; student children write to ``/dev/null``).
    """

    def __init__(self, wall: Wall, argv, folders, *, workdir=None, env, pass_fds=(),
                 extra_ro=(), hide=(), capture_stderr=False):
        self.wall = wall
        self.folders = folders
        self.uid = None
        self._pidfd = None
        self.stderr = ""
        self._err = None
        if wall.level in ("namespaces+uid", "uid"):
            self.uid = UID_BASE + (os.getpid() % 2**20) * 64 + next(_counter) % 64
            kill_uid(self.uid)  # a previous holder of the number, long gone, but be sure
            for host, writable in folders.values():
                # writable folders become the child's; read-only ones its group's
                os.chown(host, self.uid if writable else -1, self.uid)
                os.chmod(host, 0o700 if writable else 0o750)
                if wall.level == "uid":  # no mount namespace: it must walk there itself
                    os.chmod(os.path.dirname(host), 0o711)
        if callable(argv):
            argv = argv(self.inside)
        if capture_stderr:
            err_read, err_write = os.pipe()
        else:
            err_read, err_write = None, subprocess.DEVNULL
        info_read = info_write = None
        extra_fds: list[int] = []  # ours, closed here once the child has them
        if wall.level in ("none", "uid"):
            command, cwd = list(argv), folders[workdir][0] if workdir else None
            if self.uid is not None:
                command = _setpriv(self.uid) + command
        else:
            info_read, info_write = os.pipe()
            cwd = None
            command = [wall.bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc",
                       "--unshare-uts", "--unshare-cgroup-try", "--hostname", "grader",
                       "--die-with-parent", "--new-session", "--info-fd", str(info_write),
                       "--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp",
                       *system_view(extra_ro, hide), "--proc", "/proc", "--dev", "/dev",
                       "--perms", "0755", "--dir", INSIDE]
            for name, (host, writable) in folders.items():
                command += ["--bind" if writable else "--ro-bind", host, self.inside(name)]
            if workdir:
                command += ["--chdir", self.inside(workdir)]
            # bwrap's own tmpfs (the new root, /dev) belong to the child in a user namespace:
            # read-only, or it could fill memory there, past its address-space limit
            command += ["--remount-ro", "/dev", "--remount-ro", "/"]
            program = seccomp_program()
            if program is not None:
                seccomp_read, seccomp_write = os.pipe()
                os.write(seccomp_write, program)  # a few hundred bytes: the pipe holds them
                os.close(seccomp_write)
                command += ["--seccomp", str(seccomp_read)]
                extra_fds.append(seccomp_read)
            if self.uid is None:
                command += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL", "--"]
            else:
                command += ["--", *_setpriv(self.uid)]
            command += argv
            extra_fds.append(info_write)
        fds = tuple(pass_fds) + tuple(extra_fds)
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err_write,
                env=env, pass_fds=fds, start_new_session=True, cwd=cwd)
        finally:
            for fd in [*extra_fds, err_write if capture_stderr else None]:
                if fd is not None:
                    os.close(fd)
        self._err = err_read
        if info_read is not None:
            self._read_info(info_read)

    def inside(self, name: str) -> str:
        """Where the folder ``name`` appears to the child."""
        return self.folders[name][0] if self.wall.level in ("none", "uid") else f"{INSIDE}/{name}"

    def _read_info(self, fd: int):
        """bwrap writes ``{"child-pid": N}`` (the sandbox's PID 1, as seen here)."""
        data, deadline = b"", time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], deadline - time.monotonic())
                chunk = os.read(fd, 4096) if ready else b""
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(fd)
        try:
            self._pidfd = os.pidfd_open(int(json.loads(data)["child-pid"]))
        except (ValueError, KeyError, TypeError, OSError):
            self._pidfd = None  # bwrap failed before starting the sandbox: nothing to kill

    def kill(self):
        """Kill the whole sandbox and wait until every process in it is gone."""
        if self._pidfd is not None:
            try:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            except ProcessLookupError:  # pragma: no cover - it had just exited
                pass
            # readable once PID 1 has exited, which the kernel lets it do only
            # after every other process of its namespace is dead
            select.select([self._pidfd], [], [], 10)
            os.close(self._pidfd)
            self._pidfd = None
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        if self.wall.level == "uid":
            kill_uid(self.uid)  # setsid and double forks left the group, not the uid
        if self._err is not None:
            chunks = []
            while select.select([self._err], [], [], 0)[0]:
                chunk = os.read(self._err, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
            self.stderr += b"".join(chunks).decode("utf-8", "replace")
            os.close(self._err)
            self._err = None
        if self.process.stdin:
            try:
                self.process.stdin.close()
            except OSError:  # pragma: no cover - broken pipe on close
                pass
