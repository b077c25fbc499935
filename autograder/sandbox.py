"""Start the student's kernel in a bubblewrap sandbox, under a memory cap.

nbgrader runs a submission's code in a Jupyter kernel. Here that kernel is
launched through a kernelspec whose command is bubblewrap (Debian's
``bubblewrap`` package): a new mount namespace that holds only the system,
the Python installation, the notebook's own folder, the data files, the few
grader modules the hidden tests import (``exporter`` and its graph readers,
no reference) and the export folder. No network (a new network namespace),
no view of other processes, of the course folder, the gradebook or the
reference implementation. The kernel talks to nbgrader over Unix sockets
(IPC transport) in a runtime folder private to the submission, because TCP
on localhost does not cross a network namespace.

``prlimit`` caps the kernel's address space, so a memory bomb raises
MemoryError inside the kernel instead of taking the machine down.

Where bubblewrap cannot run (not installed, or user namespaces disabled),
the kernel still gets the memory cap, a cleared environment and the IPC
transport, and ``isolation()`` says that it can read the course's files.
"""

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

KERNEL_NAME = "residual-networks-sandbox"
GRADER_ROOT = Path(__file__).resolve().parent
# The grader modules the hidden tests import; none holds a solution.
KERNEL_SIDE_MODULES = ("__init__.py", "exporter.py", "anatomy.py", "graph_steps.py",
                       "graph_match.py")
INSIDE_GRADER = "/grader"  # where those modules appear in the sandbox
INSIDE_DATA = "/signs"
INSIDE_HOME = "/tmp/home"
SYSTEM_FOLDERS = ("/usr", "/bin", "/lib", "/lib64", "/etc")


@dataclass(frozen=True)
class KernelPlaces:
    """The folders one submission's kernel may use.

    Attributes:
        notebook_dir: where nbgrader runs the notebook (the kernel's cwd).
        export_dir: where the hidden tests save the models to verify.
        runtime_dir: the kernel's connection file and sockets.
        data_dir: the data folder (SIGNS_DATA_DIR outside the sandbox).
        data_files: the files of data_dir the notebook reads, relative to it;
            read-only.
    """

    notebook_dir: Path
    export_dir: Path
    runtime_dir: Path
    data_dir: Path
    data_files: tuple

    @property
    def connection_file(self):
        return self.runtime_dir / "kernel.json"


@functools.cache
def bubblewrap_problem():
    """Why bubblewrap cannot sandbox a kernel here, or "" if it can."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    try:
        probe = subprocess.run(
            ["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
            capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap could not start ({error})"
    if probe.returncode != 0:
        return f"bwrap cannot make a sandbox here ({probe.stderr.strip()[:200]})"
    return ""


def isolation(mode):
    """(sandboxed?, a sentence for the instructor) for a sandbox mode.

    Args:
        mode: "auto" (bubblewrap if it works), "bubblewrap" (required) or
            "none" (memory cap only).

    Raises:
        ValueError: an unknown mode, or "bubblewrap" where it cannot run.
    """
    if mode not in ("auto", "bubblewrap", "none"):
        raise ValueError(f"sandbox must be auto, bubblewrap or none, received {mode!r}")
    problem = bubblewrap_problem() if mode != "none" else "the sandbox was turned off"
    if not problem:
        return True, ("Kernels ran in a bubblewrap sandbox: no network, no view of the "
                      "course folder, the gradebook or the reference.")
    if mode == "bubblewrap":
        raise ValueError(f"sandbox=bubblewrap was asked for, but {problem}")
    return False, (f"Kernels ran WITHOUT a sandbox ({problem}): they had a memory cap and "
                   "a cleared environment, but could read the course's files. Install "
                   "bubblewrap (apt-get install bubblewrap) for full isolation.")


def write_kernelspec(jupyter_dir, places, memory_bytes, sandboxed, threads=0):
    """Writes the kernelspec nbgrader will start; returns its argv.

    Args:
        jupyter_dir: a folder to put on JUPYTER_PATH for this submission.
        places: a KernelPlaces.
        memory_bytes: the kernel's address-space cap.
        sandboxed: whether to wrap the kernel in bubblewrap.
        threads: TensorFlow's thread pools' size in the kernel; 0 for its default.
    """
    places.runtime_dir.mkdir(parents=True, exist_ok=True)
    places.export_dir.mkdir(parents=True, exist_ok=True)
    kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    if sandboxed:
        command = [*_bubblewrap_arguments(places, threads), "--", *kernel]
    else:
        environment = [f"{key}={value}"
                       for key, value in _fallback_environment(places, threads).items()]
        command = ["env", "-i", *environment, *kernel]
    argv = ["prlimit", f"--as={int(memory_bytes)}", "--", *command]
    spec_dir = Path(jupyter_dir) / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": argv, "display_name": "Python 3 (grading sandbox)", "language": "python",
        # The interrupt goes as a message: a signal to bwrap would not reach Python.
        "interrupt_mode": "message",
    }, indent=1))
    return argv


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


def kernel_environment(export_dir, data_dir, grader_path, home, threads=0):
    """The kernel's whole environment: nothing of the grader's leaks in."""
    return {
        **thread_environment(threads),
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": home,
        "PYTHONPATH": grader_path,
        "SIGNS_DATA_DIR": data_dir,
        "GRADING_EXPORT_DIR": str(export_dir),
        "NBGRADER_EXECUTION": "autograde",
        "MPLCONFIGDIR": f"{home}/matplotlib",
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
    }


def _bubblewrap_arguments(places, threads):
    arguments = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
                 "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", INSIDE_HOME]
    for folder in SYSTEM_FOLDERS:
        arguments += ["--ro-bind-try", folder, folder]
    for prefix in sorted({sys.base_prefix, sys.prefix}):
        arguments += ["--ro-bind", prefix, prefix]
    for module in KERNEL_SIDE_MODULES:
        arguments += ["--ro-bind", str(GRADER_ROOT / module),
                      f"{INSIDE_GRADER}/autograder/{module}"]
    for name in places.data_files:
        arguments += ["--ro-bind", str(Path(places.data_dir) / name), f"{INSIDE_DATA}/{name}"]
    for folder in (places.notebook_dir, places.export_dir, places.runtime_dir):
        arguments += ["--bind", str(folder), str(folder)]
    arguments += ["--chdir", str(places.notebook_dir), "--clearenv"]
    environment = kernel_environment(places.export_dir, INSIDE_DATA, INSIDE_GRADER,
                                     INSIDE_HOME, threads)
    for key, value in environment.items():
        arguments += ["--setenv", key, value]
    return arguments


def _fallback_environment(places, threads):
    home = str(places.runtime_dir / "home")
    return kernel_environment(places.export_dir, str(places.data_dir),
                              str(GRADER_ROOT.parent), home, threads)
