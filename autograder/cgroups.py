"""Real kernel limits on a group of processes: resident memory and process count.

Each sandboxed process tree (a student's kernel, a verifier) is put in a
cgroup of its own, before it runs anything, with a cap on the memory it
holds (RAM and tmpfs pages, not just address space) and on how many
processes and threads it may have. Past the memory cap the kernel's OOM
killer ends a process of the group, and ``memory_exceeded`` says so; past
the process cap, fork fails with EAGAIN. Both cgroup v1 (a controller per
hierarchy, as on this project's machine) and the unified v2 hierarchy are
handled. Where neither can be written (an unprivileged grader, a container
that does not delegate them), ``cgroup_problem`` says why and grading falls
back to rlimits.
"""

import contextlib
import functools
import os
import time
import uuid
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PREFIX = "residual-networks-"


class Cgroup:
    """One process tree's memory and process caps.

    Attributes:
        folders: controller name -> the cgroup folder the tree joins for it
            (the same folder for both under cgroup v2).
    """

    def __init__(self, name, memory_bytes, max_processes):
        self.version = _version()
        if self.version is None:
            raise OSError(cgroup_problem())
        self.folders = {}
        leaf = f"{PREFIX}{name}-{uuid.uuid4().hex[:8]}"
        for controller, parent in _parents(self.version).items():
            folder = parent / leaf
            folder.mkdir(exist_ok=self.version == 2)
            self.folders[controller] = folder
        self._write("memory.limit_in_bytes" if self.version == 1 else "memory.max",
                    memory_bytes, controller="memory")
        if self.version == 2:
            self._write("memory.swap.max", 0, controller="memory", optional=True)
        self._write("pids.max", max_processes, controller="pids")

    @property
    def procs_files(self):
        """The files a process writes its pid to, to join every controller."""
        return [folder / "cgroup.procs" for folder in dict.fromkeys(self.folders.values())]

    def pids(self):
        """The processes now in the group."""
        found = set()
        for path in self.procs_files:
            with contextlib.suppress(OSError):
                found |= {int(line) for line in path.read_text().split()}
        return sorted(found)

    def memory_exceeded(self):
        """Whether the memory cap was hit since the group was made."""
        folder = self._folder("memory")
        if self.version == 1:
            text = _read(folder / "memory.oom_control")
            kills = dict(line.split() for line in text.splitlines() if line.strip())
            return int(kills.get("oom_kill", 0)) > 0
        events = dict(line.split() for line in _read(folder / "memory.events").splitlines())
        return int(events.get("oom_kill", 0)) > 0

    def peak_memory(self):
        """The most memory the group held, in bytes (0 if unknown)."""
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        return int(_read(self._folder("memory") / name) or 0)

    def remove(self, seconds=5.0):
        """Kills what is left in the group, waits for it to empty, and removes it."""
        deadline = time.monotonic() + seconds
        while self.pids() and time.monotonic() < deadline:
            for pid in self.pids():
                with contextlib.suppress(OSError):
                    os.kill(pid, 9)
            time.sleep(0.05)
        for folder in dict.fromkeys(self.folders.values()):
            with contextlib.suppress(OSError):
                folder.rmdir()

    def _folder(self, controller):
        return self.folders[controller]

    def _write(self, name, value, controller, optional=False):
        try:
            (self._folder(controller) / name).write_text(str(int(value)))
        except OSError:
            if not optional:
                raise


@functools.cache
def cgroup_problem():
    """Why no cgroup can be made here, or "" if one can."""
    version = _version()
    if version is None:
        return ("no writable cgroup hierarchy with the memory and pids controllers "
                f"under {CGROUP_ROOT}")
    try:
        Cgroup("probe", 2**30, 64).remove()
    except OSError as error:
        return f"a cgroup could not be made ({error})"
    return ""


def _version():
    if all(os.access(CGROUP_ROOT / c, os.W_OK) for c in ("memory", "pids")):
        return 1
    controllers = _read(CGROUP_ROOT / "cgroup.controllers").split()
    if {"memory", "pids"} <= set(controllers) and os.access(_v2_parent(), os.W_OK):
        return 2
    return None


def _parents(version):
    """Where this process may make child cgroups: under its own, per controller."""
    if version == 2:
        return {"memory": _v2_parent(), "pids": _v2_parent()}
    own = dict(line.split(":", 2)[1:] for line in
               Path("/proc/self/cgroup").read_text().splitlines() if line.count(":") >= 2)
    return {controller: CGROUP_ROOT / controller / own.get(controller, "/").lstrip("/")
            for controller in ("memory", "pids")}


def _v2_parent():
    own = next((line.split("::", 1)[1] for line in
                Path("/proc/self/cgroup").read_text().splitlines() if line.startswith("0::")),
               "/")
    return CGROUP_ROOT / own.lstrip("/")


def _read(path):
    try:
        return Path(path).read_text()
    except OSError:
        return ""
