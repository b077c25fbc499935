"""Start the student's kernel, and the verifier, unprivileged and bounded.

A student's kernel is started through a kernelspec whose command builds its
sandbox, in this order, each step before any student code exists:

1. ``sh`` (as the grader) joins a fresh cgroup (``cgroups``: resident memory
   and process caps) and makes the kernel's socket folder anew;
2. ``prlimit`` sets rlimits: address space, open files, file size, no core;
3. ``bwrap`` (Debian's bubblewrap) makes new mount, PID, network, IPC, UTS
   and cgroup namespaces. The kernel sees, read-only: the system's /usr,
   Python and the venv, the kernel-side grader package (``autograder/kernel``,
   one folder), the data files and the release's files; writable: a
   size-capped tmpfs home holding a fresh copy of the release's files (its
   working folder) and a size-capped tmpfs /tmp. Of /etc only the dynamic
   linker's cache, the time zone and a passwd naming the student. Not the
   checkout, the course, the gradebook, the host's /tmp or home, nor any
   other submission: they are not in its mount namespace at all;
4. ``setpriv`` drops to an unprivileged uid with no capabilities (bounding
   set emptied, no_new_privs), and the kernel starts.

The only host folder the kernel can write is its socket folder, because
ZeroMQ's IPC sockets are files. ``pin_kernel_sockets`` locks that folder as
soon as the fresh kernel has bound its sockets, still before any student
code runs, and opens each socket without following links, so the grader
connects to exactly those sockets whatever the kernel does later.

The verifier runs in the same kind of sandbox (``verifier_command``): its
input, the grader's snapshot of the exports, read-only; its output, its
standard output; no writable folder but a small /tmp.

Where bubblewrap cannot run, the kernel still gets the rlimits, the cgroup
where one can be made, a cleared environment, an unprivileged uid when the
grader is root and a working folder of its own, and ``isolation()`` says
that it can read the host's files.
"""

import contextlib
import fcntl
import functools
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from autograder import seccomp
from autograder.kernel.channel import CHANNEL_VARIABLE

KERNEL_NAME = "residual-networks-sandbox"
GRADER_ROOT = Path(__file__).resolve().parent
KERNEL_PACKAGE = GRADER_ROOT / "kernel"  # the only grader code a kernel sees
INSIDE_GRADER = "/grader"  # on the kernel's PYTHONPATH: /grader/autograder/kernel
INSIDE_DATA = "/signs"
INSIDE_RELEASE = "/release"  # the release's files, read-only, copied into the home
INSIDE_HOME = "/home/student"
INSIDE_WORKDIR = f"{INSIDE_HOME}/assignment"
# /etc holds secrets (shadow, keys); these are all Python and its libraries need.
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime")
SOCKET_PREFIX = "kernel"  # ZeroMQ appends -<port> for each channel
KERNEL_CHANNELS = ("shell", "iopub", "stdin", "control", "hb")
SECCOMP_FD = 9  # the descriptor bwrap reads the seccomp filter from
# Unprivileged uids for sandboxed processes: far above any real account, so
# they own nothing on the host.
FIRST_SANDBOX_UID = 2_000_000
SANDBOX_UIDS = 100_000


@dataclass(frozen=True)
class KernelPlaces:
    """The host folders one submission's kernel is made from.

    Attributes:
        runtime_dir: the grader's: the connection file and the passwd the
            kernel sees, read-only. Never writable by the kernel.
        sockets_dir: the kernel's sockets; writable by the kernel only while
            it starts (``pin_kernel_sockets``).
        release_dir: the assignment's files (helpers, images), copied fresh
            into the kernel's working folder.
        data_dir: the data folder (SIGNS_DATA_DIR outside the sandbox).
        data_files: the files of data_dir the notebook reads, relative to it.
    """

    runtime_dir: Path
    sockets_dir: Path
    release_dir: Path
    data_dir: Path
    data_files: tuple

    @property
    def connection_file(self):
        return self.runtime_dir / "kernel.json"

    @property
    def socket_prefix(self):
        return self.sockets_dir / SOCKET_PREFIX


@dataclass(frozen=True)
class Bounds:
    """The kernel limits one sandboxed process tree runs under.

    Attributes:
        memory_bytes: resident memory, tmpfs included (cgroup).
        address_space_bytes: virtual memory (RLIMIT_AS): past it, MemoryError.
        max_processes: processes and threads (cgroup pids, else RLIMIT_NPROC).
        max_open_files: RLIMIT_NOFILE.
        max_file_bytes: the largest file it may write (RLIMIT_FSIZE).
        home_bytes: size of the writable tmpfs home.
        tmp_bytes: size of the writable tmpfs /tmp.
        cpu_seconds: CPU time of each process (RLIMIT_CPU); past it, SIGXCPU.
        threads: TensorFlow's thread pools' size; 0 for its default.
    """

    memory_bytes: int
    address_space_bytes: int
    max_processes: int
    max_open_files: int
    max_file_bytes: int
    home_bytes: int
    tmp_bytes: int
    cpu_seconds: int = 3600
    threads: int = 0


@functools.cache
def bubblewrap_problem():
    """Why bubblewrap cannot sandbox a kernel here, or "" if it can."""
    for tool in ("bwrap", "setpriv", "prlimit"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if os.geteuid() != 0:
        return "the grader is not root, so it cannot give the kernel a uid of its own"
    try:
        with claimed_uid() as uid:
            probe = [*_namespace_arguments(), "--ro-bind", "/usr", "/usr", *_merged_usr(),
                     "--size", str(2**20), "--perms", "1777", "--tmpfs", "/tmp",
                     *_drop_privileges(uid), "/bin/true"]
            result = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap could not start ({error})"
    if result.returncode != 0:
        return f"bwrap cannot make a sandbox here ({result.stderr.strip()[:200]})"
    return ""


def isolation(mode):
    """(sandboxed?, a sentence for the instructor) for a sandbox mode.

    Args:
        mode: "auto" (bubblewrap if it works), "bubblewrap" (required) or
            "none" (limits only).

    Raises:
        ValueError: an unknown mode, or "bubblewrap" where it cannot run.
    """
    if mode not in ("auto", "bubblewrap", "none"):
        raise ValueError(f"sandbox must be auto, bubblewrap or none, received {mode!r}")
    problem = bubblewrap_problem() if mode != "none" else "the sandbox was turned off"
    if not problem:
        return True, ("Kernels and verifiers ran in a bubblewrap sandbox as an "
                      "unprivileged user: no network, no view of the course, the "
                      "gradebook, the reference or other submissions, and memory, "
                      "process, file and output limits.")
    if mode == "bubblewrap":
        raise ValueError(f"sandbox=bubblewrap was asked for, but {problem}")
    user = ("an unprivileged user of their own" if can_drop_privileges()
            else "the grader's own user")
    return False, (f"Kernels ran WITHOUT a sandbox ({problem}): they ran as {user}, with "
                   "resource limits and a cleared environment, but could read the host's "
                   "files. Install bubblewrap (apt-get install bubblewrap) and grade as "
                   "root for full isolation.")


@contextlib.contextmanager
def claimed_uid(lock_dir=None):
    """Yields an unprivileged uid that no other sandbox on this machine holds.

    Each kernel and each verifier gets a uid of its own, claimed with an
    exclusive lock on a file named after it, so that two grading workers, or
    two instructors' runs on one machine, never share a uid, and so neither a
    signal nor a file mode can reach across. The lock lasts until the block
    ends, or until the process holding it dies: no stale claim survives a crash.
    The lock folder is the grader's (root's /run); no kernel can see it.
    """
    folder = Path(lock_dir or _uid_lock_dir())
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for uid in range(FIRST_SANDBOX_UID, FIRST_SANDBOX_UID + SANDBOX_UIDS):
        descriptor = os.open(folder / str(uid),
                             os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            continue
        try:
            yield uid
        finally:
            os.close(descriptor)  # releases the lock
        return
    raise RuntimeError(f"all {SANDBOX_UIDS} sandbox uids are in use (locks in {folder})")


def _uid_lock_dir():
    run = Path("/run")
    if os.geteuid() == 0 and run.is_dir():
        return run / "residual-networks" / "uids"
    return Path(tempfile.gettempdir()) / f"residual-networks-uids-{os.geteuid()}"


def write_kernelspec(jupyter_dir, places, bounds, sandboxed, uid, cgroup=None):
    """Writes the kernelspec nbgrader will start; returns its argv.

    Args:
        jupyter_dir: a folder to put on JUPYTER_PATH for this submission.
        places: a KernelPlaces.
        bounds: a Bounds.
        sandboxed: whether to wrap the kernel in bubblewrap.
        uid: the unprivileged uid the kernel runs as (when the grader is root).
        cgroup: a cgroups.Cgroup the kernel joins, or None.
    """
    places.runtime_dir.mkdir(parents=True, exist_ok=True)
    (places.runtime_dir / "passwd").write_text(
        f"student:x:{uid}:{uid}:student:{INSIDE_HOME}:/bin/sh\n")
    kernel = ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    if sandboxed:
        inner = [*_bubblewrap_arguments(places, bounds, uid), *_drop_privileges(uid),
                 "/bin/sh", "-c", 'cp -R /release/. . && exec "$@"', "sh", *kernel]
    else:
        # The prepare script starts the kernel in a fresh folder; HOME follows it.
        environment = kernel_environment(str(places.data_dir), str(GRADER_ROOT.parent),
                                         "", bounds.threads)
        inner = [*(_drop_privileges(uid) if can_drop_privileges() else []), "env", "-i",
                 *(f"{key}={value}" for key, value in environment.items()
                   if key not in ("HOME", "MPLCONFIGDIR")),
                 "/bin/sh", "-c", 'HOME="$PWD" MPLCONFIGDIR="$PWD/.matplotlib" exec "$@"',
                 "sh", sys.executable, *kernel[1:]]
    seccomp_file = _write_seccomp(places.runtime_dir) if sandboxed else None
    argv = ["/bin/sh", "-c", _prepare_script(places, uid, cgroup, fresh_home=not sandboxed,
                                             seccomp_file=seccomp_file),
            "sh", *_rlimits(bounds, cgroup), *inner]
    spec_dir = Path(jupyter_dir) / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": argv, "display_name": "Python 3 (grading sandbox)", "language": "python",
        # The interrupt goes as a message: a signal to bwrap would not reach Python.
        "interrupt_mode": "message",
    }, indent=1))
    return argv


def _prepare_script(places, uid, cgroup, fresh_home, seccomp_file=None):
    """What runs as the grader just before each (re)start of the kernel.

    The socket folder is made anew each time, so nothing a dead kernel left
    there (a link, a file) is met by the next one or by the grader. Without
    the sandbox, the kernel also gets a fresh home under /tmp, filled while
    it is still the grader's and only then handed over.
    """
    lines = _join_cgroup(cgroup)
    drops = os.geteuid() == 0 if not fresh_home else can_drop_privileges()
    owner = f"{uid}:{uid}" if drops else ""
    sockets = shlex.quote(str(places.sockets_dir))
    lines.append(f"rm -rf {sockets} && mkdir -m 700 {sockets}")
    if owner:  # jupyter_client writes the connection file 0600; only the kernel reads it
        lines += [f"chown {owner} {sockets}",
                  f"chown {owner} {shlex.quote(str(places.connection_file))}"]
    if fresh_home:
        lines += ["home=$(mktemp -d /tmp/residual-networks-kernel-XXXXXXXX)",
                  f'cp -R {shlex.quote(str(places.release_dir))}/. "$home"',
                  *([f'chown -R {owner} "$home"'] if owner else []), 'cd "$home"']
    return " && ".join(lines + [_exec(seccomp_file)])


def _join_cgroup(cgroup):
    """Shell steps that put the shell itself, and so all it becomes, in `cgroup`."""
    return [f"echo $$ > {shlex.quote(str(path))} || exit 111"
            for path in (cgroup.procs_files if cgroup else [])]


def _exec(seccomp_file):
    """The shell's last step: become the next command, the filter open for bwrap."""
    if seccomp_file is None:
        return 'exec "$@"'
    return f'exec "$@" {SECCOMP_FD}< {shlex.quote(str(seccomp_file))}'


def _write_seccomp(folder):
    """Writes the seccomp filter into a folder of the grader's; its path, or None."""
    if not seccomp.supported():
        return None
    path = Path(folder) / "seccomp.bpf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(seccomp.program())
    return path


@functools.cache
def can_drop_privileges():
    """Whether kernels can run as a uid of their own outside bubblewrap: the
    grader is root, and Python can be run by any user (not under /root)."""
    if os.geteuid() != 0:
        return False
    path = Path(os.path.realpath(sys.executable))
    return all(os.stat(folder).st_mode & stat.S_IXOTH for folder in path.parents)


def thread_environment(threads):
    """Variables that cap TensorFlow's thread pools at `threads`; none for 0.

    With several submissions graded at once, each process sized its pools
    for the whole machine, and the pools fought over the cores.
    """
    if not threads:
        return {}
    count = str(int(threads))
    return {"TF_NUM_INTRAOP_THREADS": count, "TF_NUM_INTEROP_THREADS": count,
            "OMP_NUM_THREADS": count}


def kernel_environment(data_dir, grader_path, home, threads=0):
    """The kernel's whole environment: nothing of the grader's leaks in."""
    return {
        **thread_environment(threads),
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": home,
        "USER": "student",
        "PYTHONPATH": grader_path,
        "SIGNS_DATA_DIR": data_dir,
        CHANNEL_VARIABLE: "display",
        "NBGRADER_EXECUTION": "autograde",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
    }


def pin_kernel_sockets(ip_prefix, ports, kernel_uid, links_dir, timeout):
    """Locks a fresh kernel's socket folder and pins its sockets; returns an ip prefix.

    Called after the kernel started and before the grader connects or sends
    any code. Once all the kernel's sockets exist, the folder is handed to
    root, so the kernel can no longer add, remove or replace an entry; each
    socket is opened with O_PATH and O_NOFOLLOW and must be a socket of the
    kernel's uid. The grader then connects through links to those open
    descriptors (``/proc/self/fd/N``), which always reach the same sockets.

    Args:
        ip_prefix: the connection's ip; socket i is at "<ip_prefix>-<ports[i]>".
        ports: the connection's ports, one per channel.
        kernel_uid: the uid that must own every socket.
        links_dir: a folder of the grader's for the links.
        timeout: seconds to wait for the sockets.

    Returns:
        (prefix, descriptors): the ip prefix for the kernel client, and the
        descriptors to close when the kernel is gone.

    Raises:
        RuntimeError: the sockets did not appear in time, or are not sockets.
    """
    sockets_dir = Path(ip_prefix).parent
    paths = [Path(f"{ip_prefix}-{port}") for port in ports]
    deadline = time.monotonic() + timeout
    while not all(os.path.lexists(path) for path in paths):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the kernel did not open its sockets within {timeout} s")
        time.sleep(0.05)
    if os.geteuid() == 0:
        os.chown(sockets_dir, 0, 0, follow_symlinks=False)
    os.chmod(sockets_dir, 0o755)
    links_dir = Path(links_dir)
    shutil.rmtree(links_dir, ignore_errors=True)
    links_dir.mkdir(mode=0o700, parents=True)
    descriptors = []
    for port, path in zip(ports, paths, strict=True):
        descriptor = os.open(path, os.O_PATH | os.O_NOFOLLOW)
        descriptors.append(descriptor)
        found = os.fstat(descriptor)
        if not stat.S_ISSOCK(found.st_mode) or found.st_uid != kernel_uid:
            for opened in descriptors:
                os.close(opened)
            raise RuntimeError(f"{path.name} is not a socket of the kernel's")
        os.symlink(f"/proc/self/fd/{descriptor}", links_dir / f"{SOCKET_PREFIX}-{port}")
    return str(links_dir / SOCKET_PREFIX), descriptors


def verifier_command(snapshot_dir, exercises, bounds, uid, cgroup=None, sandboxed=True):
    """The argv that verifies a snapshot in a sandbox of its own.

    It sees Python, the venv and the grader's code read-only, the snapshot
    read-only, and a small tmpfs /tmp; it writes its verdicts to stdout.
    """
    verifier = ["python", "-m", "autograder.verify", "/snapshot", *exercises]
    environment = {**thread_environment(bounds.threads), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
                   "HOME": "/tmp", "PYTHONPATH": INSIDE_GRADER, "MPLCONFIGDIR": "/tmp",
                   "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    seccomp_file = _write_seccomp(Path(snapshot_dir).parent) if sandboxed else None
    prepare = ["/bin/sh", "-c", " && ".join(_join_cgroup(cgroup) + [_exec(seccomp_file)]), "sh",
               *_rlimits(bounds, cgroup)]
    if not sandboxed:
        environment["PYTHONPATH"] = str(GRADER_ROOT.parent)
        verifier[3] = str(snapshot_dir)
        return [*prepare, "env", "-i", *(f"{k}={v}" for k, v in environment.items()),
                sys.executable, *verifier[1:]]
    made = {"/tmp", "/usr", "/proc", "/dev"}
    arguments = [*_namespace_arguments(seccomp_file),
                 "--size", str(bounds.tmp_bytes), "--perms", "1777", "--tmpfs", "/tmp",
                 *_system_arguments(made), *_bind("--ro-bind", GRADER_ROOT, f"{INSIDE_GRADER}/autograder", made),
                 *_bind("--ro-bind", snapshot_dir, "/snapshot", made), "--chdir", "/tmp",
                 "--clearenv"]
    for key, value in environment.items():
        arguments += ["--setenv", key, value]
    return [*prepare, *arguments, *_drop_privileges(uid), *verifier]


def _rlimits(bounds, cgroup):
    """prlimit's command: the rlimits of a sandboxed process tree, then `--`."""
    return ["prlimit", f"--as={bounds.address_space_bytes}",
            f"--nofile={bounds.max_open_files}", f"--fsize={bounds.max_file_bytes}",
            f"--cpu={bounds.cpu_seconds}:{bounds.cpu_seconds + 5}", "--core=0",
            *([] if cgroup else [f"--nproc={bounds.max_processes}"]), "--"]


def _namespace_arguments(seccomp_file=None):
    # No user namespace: bwrap runs as root, and setpriv then gives the
    # process a real unprivileged uid on the host, not just inside. The
    # seccomp filter keeps it from making a user namespace of its own.
    return ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup", "--die-with-parent", "--new-session",
            *(["--seccomp", str(SECCOMP_FD)] if seccomp_file else [])]


def _merged_usr():
    """/bin, /lib and friends as links into /usr, where the system has merged them."""
    arguments = []
    for name in ("bin", "sbin", "lib", "lib64"):
        target = Path("/") / name
        if target.is_symlink():
            arguments += ["--symlink", os.readlink(target), str(target)]
        elif target.is_dir():
            arguments += ["--ro-bind", str(target), str(target)]
    return arguments


def _system_arguments(made):
    """The read-only system every sandbox needs: /usr, Python, the venv, /proc, /dev."""
    arguments = ["--ro-bind", "/usr", "/usr", *_merged_usr(), "--proc", "/proc",
                 "--dev", "/dev"]
    for path in ETC_FILES:
        arguments += _bind("--ro-bind-try", path, path, made)
    for prefix in sorted({sys.base_prefix, sys.prefix}):
        arguments += _bind("--ro-bind", prefix, prefix, made)
    return arguments


def _bind(option, source, destination, made):
    """A bind, after the folders above its destination, made traversable.

    bwrap run as root makes missing parents with mode 0700, which the
    unprivileged kernel could not enter.
    """
    arguments = []
    for parent in reversed(Path(destination).parents[:-1]):
        if str(parent) not in made:
            made.add(str(parent))
            arguments += ["--perms", "0755", "--dir", str(parent)]
    return [*arguments, option, str(source), str(destination)]


def _bubblewrap_arguments(places, bounds, uid):
    made = {"/tmp", "/usr", "/proc", "/dev", INSIDE_HOME, INSIDE_WORKDIR}
    seccomp_file = places.runtime_dir / "seccomp.bpf" if seccomp.supported() else None
    # The tmpfs mounts come first: a bind under /tmp (a venv or a workspace
    # there) made before them would be hidden by them.
    arguments = [*_namespace_arguments(seccomp_file),
                 "--size", str(bounds.tmp_bytes), "--perms", "1777", "--tmpfs", "/tmp",
                 "--size", str(bounds.home_bytes), "--perms", "1777", "--tmpfs", INSIDE_HOME,
                 "--perms", "1777", "--dir", INSIDE_WORKDIR, *_system_arguments(made),
                 # bwrap's /dev/shm is a tmpfs of half the machine: cap it too.
                 "--size", str(bounds.tmp_bytes), "--perms", "1777", "--tmpfs", "/dev/shm",
                 *_bind("--ro-bind", places.runtime_dir / "passwd", "/etc/passwd", made),
                 *_bind("--ro-bind", KERNEL_PACKAGE, f"{INSIDE_GRADER}/autograder/kernel", made),
                 *_bind("--ro-bind", places.release_dir, INSIDE_RELEASE, made),
                 *_bind("--ro-bind", places.connection_file, places.connection_file, made),
                 *_bind("--bind", places.sockets_dir, places.sockets_dir, made)]
    for name in places.data_files:
        arguments += _bind("--ro-bind", Path(places.data_dir) / name, f"{INSIDE_DATA}/{name}",
                           made)
    arguments += ["--chdir", INSIDE_WORKDIR, "--clearenv"]
    environment = kernel_environment(INSIDE_DATA, INSIDE_GRADER, INSIDE_HOME, bounds.threads)
    for key, value in environment.items():
        arguments += ["--setenv", key, value]
    return arguments


def _drop_privileges(uid):
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
