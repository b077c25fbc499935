"""A cgroup caps a process tree's processes and memory, and takes it down whole."""

import subprocess
import sys
import time

import pytest

from autograder import cgroups

pytestmark = pytest.mark.skipif(bool(cgroups.cgroup_problem()),
                                reason=f"no cgroups here: {cgroups.cgroup_problem()}")


def start_in(group, code):
    """Starts Python running `code` inside `group`."""
    joins = " && ".join(f"echo $$ > {path}" for path in group.procs_files)
    return subprocess.Popen(["/bin/sh", "-c", f'{joins} && exec "$@"', "sh",
                             sys.executable, "-c", code],
                            stdout=subprocess.PIPE, text=True)


def test_process_cap_makes_fork_fail():
    """Does fork fail with EAGAIN once the group holds its cap of processes?"""
    group = cgroups.Cgroup("test", 2**30, 8)
    try:
        process = start_in(group, (
            "import os, time\nforked = 0\ntry:\n    for _ in range(50):\n"
            "        if os.fork() == 0:\n            time.sleep(20); os._exit(0)\n"
            "        forked += 1\nexcept OSError as error:\n    print(forked, error.errno)"))
        forked, errno = process.communicate(timeout=60)[0].split()
        assert int(forked) < 8 and errno == "11"
    finally:
        group.remove()


def test_memory_cap_kills_and_is_reported():
    """Is a process touching more memory than the cap killed, and does the group
    say its cap was hit?"""
    group = cgroups.Cgroup("test", 100 * 2**20, 16)
    try:
        process = start_in(group, "data = bytearray(400 * 2**20)\nprint('survived')")
        output, _ = process.communicate(timeout=60)
        assert process.returncode == -9 and "survived" not in output
        assert group.memory_exceeded()
    finally:
        group.remove()


def test_remove_kills_what_is_left_and_deletes_the_group():
    """Does remove() kill a daemon left in the group and delete its folders?"""
    group = cgroups.Cgroup("test", 2**30, 16)
    process = start_in(group, "import os, time\nif os.fork() == 0:\n    os.setsid()\n"
                              "    time.sleep(60)\nelse:\n    time.sleep(60)")
    time.sleep(0.5)
    assert len(group.pids()) == 2
    group.remove()
    process.wait(timeout=10)
    assert all(not folder.exists() for folder in group.folders.values())
