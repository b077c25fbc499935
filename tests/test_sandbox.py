"""The student's kernel runs unprivileged, sees almost nothing, and is bounded.

Each test starts a real kernel (plain Python, so it takes seconds) through
the kernelspec grading writes and the executor grading uses, and asks it
what it can reach. The limits are real kernel limits: cgroups, rlimits and
size-capped tmpfs.
"""

import dataclasses
import json
import os
import socket
import subprocess
import sys
import textwrap

import nbformat
import pytest
from traitlets.config import Config

from autograder import cgroups, course, sandbox, seccomp
from autograder.resilient_execute import ResilientExecute

needs_bubblewrap = pytest.mark.skipif(
    bool(sandbox.bubblewrap_problem()),
    reason=f"no sandbox on this machine: {sandbox.bubblewrap_problem()}")
needs_cgroups = pytest.mark.skipif(
    bool(cgroups.cgroup_problem()), reason=f"no cgroups here: {cgroups.cgroup_problem()}")
MiB = 2**20
BOUNDS = sandbox.Bounds(memory_bytes=1024 * MiB, address_space_bytes=4096 * MiB,
                        max_processes=64, max_open_files=256, max_file_bytes=64 * MiB,
                        home_bytes=32 * MiB, tmp_bytes=32 * MiB)


def run_kernel(tmp_path, monkeypatch, *codes, sandboxed=True, bounds=BOUNDS, timeout=60):
    """Runs each code as a cell of a grading kernel; returns the cells' `found`, as JSON.

    Returns:
        (places, cgroup, results): one result per cell, None where the cell
        printed nothing (it died, say).
    """
    release = tmp_path / "release"
    (release / "resnet_helpers").mkdir(parents=True)
    (release / "resnet_helpers" / "__init__.py").write_text("HELPER = 1\n")
    places = sandbox.KernelPlaces(
        runtime_dir=tmp_path / "work" / "runtime", sockets_dir=tmp_path / "work" / "sockets",
        release_dir=release, data_dir=course.DATA_DIR,
        data_files=tuple(n for n in course.NOTEBOOK_DATA if (course.DATA_DIR / n).is_file()))
    cgroup = None if cgroups.cgroup_problem() else cgroups.Cgroup(
        "test", bounds.memory_bytes, bounds.max_processes)
    with sandbox.claimed_uid() as uid:
        return _run_kernel_as(uid, places, cgroup, tmp_path, monkeypatch, codes, sandboxed,
                              bounds, timeout)


def _run_kernel_as(uid, places, cgroup, tmp_path, monkeypatch, codes, sandboxed, bounds,
                   timeout):
    sandbox.write_kernelspec(tmp_path / "jupyter", places, bounds, sandboxed, uid, cgroup)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        textwrap.dedent(code) + "\nimport json; print(json.dumps(found))") for code in codes])
    config = Config()
    config.KernelManager.transport = "ipc"
    config.KernelManager.connection_file = str(places.connection_file)
    config.KernelManager.ip = str(places.socket_prefix)
    executor = ResilientExecute(
        config=config, timeout=timeout, recovery_timeout=5, kernel_name=sandbox.KERNEL_NAME,
        kernel_uid=uid if sandboxed else -1, kernel_cpu_seconds=bounds.cpu_seconds)
    try:
        executor.preprocess(notebook, {"metadata": {"path": str(tmp_path)}})
    finally:
        if cgroup is not None:
            memory_exceeded = cgroup.memory_exceeded()
            cgroup.remove()
    results = []
    for cell in notebook.cells:
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        lines = [line for line in text.strip().splitlines() if line.startswith(("{", "[", '"'))]
        results.append(json.loads(lines[-1]) if lines else None)
        print(cell.outputs)  # shown when a test fails
    return places, (cgroup is not None and memory_exceeded), results, notebook.cells


@needs_bubblewrap
def test_kernel_sees_its_copy_of_the_release_and_nothing_of_the_grader(tmp_path, monkeypatch):
    """Does the kernel work in a fresh copy of the release, with the data and the
    kernel-side package, and not see the checkout, the reference, secrets,
    the host's /tmp or the folder nbgrader writes?"""
    canary = tmp_path / "canary.txt"
    canary.write_text("host file")
    _, _, (found,), _ = run_kernel(tmp_path, monkeypatch, f"""
        import os, importlib.util
        found = {{
            "cwd": os.getcwd(), "files": sorted(os.listdir(".")),
            "data": sorted(os.listdir(os.environ["SIGNS_DATA_DIR"])),
            "kernel_package": importlib.util.find_spec("autograder.kernel.exporter") is not None,
            "reference": importlib.util.find_spec("autograder.reference") is not None,
            "checkout": os.path.exists({str(course.ROOT / 'autograder' / 'reference.py')!r}),
            "shadow": os.path.exists("/etc/shadow"),
            "etc": sorted(os.listdir("/etc")),
            "host_tmp_canary": os.path.exists({str(canary)!r}),
            "root_home": os.path.exists("/root/.bashrc"),
            "helper": __import__("resnet_helpers").HELPER,
        }}
    """)
    assert found["cwd"] == sandbox.INSIDE_WORKDIR
    assert found["files"] == ["resnet_helpers"] and found["helper"] == 1
    assert "train_signs.h5" in found["data"]
    assert found["kernel_package"] and not found["reference"] and not found["checkout"]
    assert not found["shadow"] and not found["host_tmp_canary"] and not found["root_home"]
    assert set(found["etc"]) <= {"ld.so.cache", "localtime", "passwd"}


@needs_bubblewrap
def test_kernel_is_unprivileged(tmp_path, monkeypatch):
    """Does the kernel run as an unprivileged uid with no capabilities at all,
    unable to gain any (no_new_privs), so it cannot read root's files?"""
    _, _, (found,), _ = run_kernel(tmp_path, monkeypatch, """
        import os
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        found = {"uid": os.getuid(), "euid": os.geteuid(),
                 "caps": [status[k].strip() for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb")],
                 "no_new_privs": status["NoNewPrivs"].strip()}
    """)
    assert found["uid"] == found["euid"]
    assert sandbox.FIRST_SANDBOX_UID <= found["uid"] < (sandbox.FIRST_SANDBOX_UID
                                                         + sandbox.SANDBOX_UIDS)
    assert found["caps"] == ["0000000000000000"] * 4
    assert found["no_new_privs"] == "1"


@needs_bubblewrap
@pytest.mark.skipif(not seccomp.supported(), reason="no seccomp filter for this machine")
def test_kernel_cannot_make_namespaces_or_mount(tmp_path, monkeypatch):
    """Is the kernel refused a user namespace of its own (where it would be root),
    any other namespace and any mount, while it can still start threads and
    processes?"""
    _, _, (found,), _ = run_kernel(tmp_path, monkeypatch, """
        import ctypes, os, subprocess, threading
        libc = ctypes.CDLL(None, use_errno=True)
        def errno_of(result):
            return ctypes.get_errno() if result != 0 else 0
        thread = threading.Thread(target=lambda: None); thread.start(); thread.join()
        found = {
            "unshare_user": errno_of(libc.unshare(0x10000000)),
            "unshare_mount": errno_of(libc.unshare(0x00020000)),
            "mount": errno_of(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
            "unshare_tool": subprocess.run(["unshare", "--user", "--map-root-user", "true"],
                                           capture_output=True).returncode,
            "child": subprocess.run(["true"]).returncode,
        }
    """)
    assert found["unshare_user"] == found["unshare_mount"] == found["mount"] == 1  # EPERM
    assert found["unshare_tool"] != 0 and found["child"] == 0


@needs_bubblewrap
def test_kernel_has_no_network_and_a_clean_environment(tmp_path, monkeypatch):
    """Is a server on the grader's localhost out of reach, and does nothing of
    the grader's environment leak into the kernel's?"""
    monkeypatch.setenv("GRADER_SECRET", "do not show")
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        _, _, (found,), _ = run_kernel(tmp_path, monkeypatch, f"""
            import os, socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
                reached = True
            except OSError:
                reached = False
            found = {{"reached": reached, "environment": sorted(os.environ)}}
        """)
    assert found["reached"] is False
    assert "GRADER_SECRET" not in found["environment"]
    assert "GRADING_CHANNEL" in found["environment"]


@needs_bubblewrap
def test_writable_folders_are_size_capped_tmpfs(tmp_path, monkeypatch):
    """Do the kernel's home, /tmp and /dev/shm fill up at their caps, and is the one host
    folder it touched, its sockets, closed to it once it started?"""
    _, _, (found,), _ = run_kernel(tmp_path, monkeypatch, f"""
        import os
        def fill(path):
            written = 0
            try:
                with open(path, "wb") as f:
                    while written < {4 * BOUNDS.tmp_bytes}:
                        f.write(b"x" * 2**20); f.flush(); written += 2**20
            except OSError as error:
                return [written, error.errno]
            return [written, 0]
        sockets = [p for p in os.listdir({str(tmp_path / 'work' / 'sockets')!r})]
        try:
            open({str(tmp_path / 'work' / 'sockets' / 'extra')!r}, "w")
            sockets_writable = True
        except OSError:
            sockets_writable = False
        found = {{"tmp": fill("/tmp/big"), "home": fill("big"), "shm": fill("/dev/shm/big"),
                  "sockets_writable": sockets_writable, "sockets": len(sockets)}}
    """)
    assert found["tmp"][0] <= BOUNDS.tmp_bytes and found["tmp"][1] == 28  # ENOSPC
    assert found["home"][0] <= BOUNDS.home_bytes and found["home"][1] == 28
    assert found["shm"][0] <= BOUNDS.tmp_bytes and found["shm"][1] == 28
    assert found["sockets"] == len(sandbox.KERNEL_CHANNELS)
    assert not found["sockets_writable"]
    assert not (tmp_path / "work" / "sockets" / "extra").exists()


@needs_bubblewrap
@needs_cgroups
def test_processes_and_open_files_are_capped(tmp_path, monkeypatch):
    """Does a fork bomb stop at the process cap, and opening files at the cap on
    open files, with the kernel still alive?"""
    _, _, (found,), _ = run_kernel(tmp_path, monkeypatch, """
        import os, time
        children, error = [], None
        try:
            for _ in range(500):
                pid = os.fork()
                if pid == 0:
                    time.sleep(30); os._exit(0)
                children.append(pid)
        except OSError as raised:
            error = raised.errno
        for pid in children:
            os.kill(pid, 9); os.waitpid(pid, 0)
        files = []
        try:
            for _ in range(5000):
                files.append(open("/dev/null"))
        except OSError as raised:
            files_error = raised.errno
        found = {"forked": len(children), "fork_error": error, "files": len(files),
                 "files_error": files_error}
    """)
    assert found["forked"] < BOUNDS.max_processes and found["fork_error"] == 11  # EAGAIN
    assert found["files"] < BOUNDS.max_open_files and found["files_error"] == 24  # EMFILE


@pytest.mark.parametrize("sandboxed", [pytest.param(True, marks=needs_bubblewrap), False])
def test_memory_bomb_raises_memory_error_in_the_kernel(tmp_path, monkeypatch, sandboxed):
    """Does allocating past the address-space cap raise MemoryError, leaving the
    kernel alive, with and without the sandbox?"""
    _, _, (found,), _ = run_kernel(tmp_path, monkeypatch, f"""
        try:
            hoard = bytearray({2 * BOUNDS.address_space_bytes})
            found = "allocated"
        except MemoryError:
            found = "MemoryError"
    """, sandboxed=sandboxed)
    assert found == "MemoryError"


@needs_bubblewrap
@needs_cgroups
def test_resident_memory_is_capped_and_named(tmp_path, monkeypatch):
    """Is a kernel that touches more resident memory than its cgroup allows
    stopped, the next cell still run, and the memory cap named as the cause?"""
    _, memory_exceeded, (bomb, after), cells = run_kernel(tmp_path, monkeypatch, f"""
        hoard = bytearray({BOUNDS.memory_bytes + 256 * MiB})  # within RLIMIT_AS, past the cgroup
        found = "survived"
    """, """found = "next cell ran" """)
    assert bomb is None and after == "next cell ran"
    assert "KernelDied" in [o.get("ename") for o in cells[0].outputs]
    assert memory_exceeded


@needs_bubblewrap
def test_cpu_time_is_capped_and_named(tmp_path, monkeypatch):
    """Is a cell that burns CPU past the kernel's RLIMIT_CPU stopped long before
    its wall-clock timeout, with the limit named, and does the restarted kernel
    run the next cell with a fresh budget?"""
    bounds = dataclasses.replace(BOUNDS, cpu_seconds=4)
    _, _, (burner, after), cells = run_kernel(tmp_path, monkeypatch, """
        while True:
            pass
    """, """
        total = sum(range(10**6))
        found = "next cell ran"
    """, timeout=120, bounds=bounds)
    assert burner is None and after == "next cell ran"
    error = next(o for o in cells[0].outputs if o.get("ename") == "KernelDied")
    assert "CPU-time limit of 4 s" in error["evalue"]


@needs_bubblewrap
def test_a_link_planted_in_the_socket_folder_is_never_followed(tmp_path, monkeypatch):
    """If a kernel replaces its sockets with links to a host socket and dies, does
    the restarted kernel work, with the host socket never connected to?"""
    canary_path = tmp_path / "canary.sock"
    with socket.socket(socket.AF_UNIX) as canary:
        canary.bind(str(canary_path))
        canary.listen()
        canary.setblocking(False)
        _, _, (first, second), _ = run_kernel(tmp_path, monkeypatch, f"""
            import os
            folder = {str(tmp_path / 'work' / 'sockets')!r}
            for name in os.listdir(folder):
                try:
                    os.unlink(os.path.join(folder, name))
                    os.symlink({str(canary_path)!r}, os.path.join(folder, name))
                except OSError:
                    pass
            os._exit(0)
            found = "never"
        """, """found = "restarted" """)
        with pytest.raises(BlockingIOError):
            canary.accept()
    assert first is None and second == "restarted"


def test_isolation_says_what_it_gives():
    """Does each sandbox mode say how kernels are isolated, and refuse a bad one?"""
    sandboxed, text = sandbox.isolation("none")
    assert not sandboxed and "WITHOUT a sandbox" in text
    with pytest.raises(ValueError, match="'docker'"):
        sandbox.isolation("docker")
    if sandbox.bubblewrap_problem():
        with pytest.raises(ValueError, match="bubblewrap"):
            sandbox.isolation("bubblewrap")
    else:
        assert sandbox.isolation("bubblewrap") == sandbox.isolation("auto")
        assert sandbox.isolation("auto")[0] is True
        assert "unprivileged" in sandbox.isolation("auto")[1]
    assert os.geteuid() == 0 or "not root" in sandbox.bubblewrap_problem()


def test_each_claim_gets_a_uid_no_other_process_holds(tmp_path):
    """Do two sandboxes alive at once, in this process or in another, get
    different uids, and is a uid free again once its holder is gone, even
    when the holder was killed?"""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from autograder import sandbox\n"
         f"with sandbox.claimed_uid({str(tmp_path)!r}) as uid:\n"
         "    print(uid, flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True, cwd=course.ROOT)
    try:
        held_elsewhere = int(holder.stdout.readline())
        with sandbox.claimed_uid(tmp_path) as first, sandbox.claimed_uid(tmp_path) as second:
            assert len({held_elsewhere, first, second}) == 3
        with sandbox.claimed_uid(tmp_path) as again:
            assert again == first  # released at the end of its block
    finally:
        holder.kill()
        holder.wait()
    with sandbox.claimed_uid(tmp_path) as after_kill:
        assert after_kill == held_elsewhere == sandbox.FIRST_SANDBOX_UID
