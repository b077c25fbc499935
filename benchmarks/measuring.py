"""Shared by the benchmark scripts: timed subprocesses and memory sampling."""

import re
import statistics
import subprocess
import sys
import threading
import time

import psutil

from autograder import course

# The floor a grading is measured against: what any grader of this
# assignment must pay at least once, starting Python, importing TensorFlow
# and building the ResNet-50 it compares with.
FLOOR_PROGRAM = """
import tensorflow
from autograder import reference
reference.ResNet50(input_shape=(64, 64, 3), classes=6)
"""


def run_timed(arguments, **kwargs):
    """Runs a command to its end (it must succeed); returns its wall-clock seconds."""
    started = time.perf_counter()
    subprocess.run(arguments, check=True, env=course.grading_environment(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)
    return time.perf_counter() - started


def floor_seconds():
    """Seconds to start Python, import TensorFlow and build ResNet-50, in a new process."""
    return run_timed([sys.executable, "-c", FLOOR_PROGRAM])


def median_line(label, values, unit="s"):
    listed = ", ".join(f"{v:.1f}" for v in values)
    return f"{label}: median {statistics.median(values):.1f} {unit} ({listed})"


class TreeMemory:
    """Samples the resident memory of a process and all its descendants.

    Each descendant is charged to the submission whose work folder
    (``.../work/<student>/``) appears in its command line or working
    directory, or in an ancestor's (batch.py grades in a temporary
    ``grading-*`` folder): nbgrader, the sandboxed kernel, the
    verifier and the feedback run of one submission are one grading worker.
    The peak per worker is the largest sum over one sample.
    """

    WORK_FOLDER = re.compile(r"/grading-[^/]+/work/([^/\s]+)/")

    def __init__(self, root_pid, interval=0.1):
        self.root = psutil.Process(root_pid)
        self.interval = interval
        self.worker_peaks = {}  # student -> bytes
        self.process_peak = (0, "")  # (bytes, what) of the largest single process
        self.coordinator_peak = 0  # the `grade` process itself
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        owners = {}  # pid -> student, remembered once known
        while not self._stop.is_set():
            try:
                self.coordinator_peak = max(self.coordinator_peak,
                                            self.root.memory_info().rss)
                children = self.root.children(recursive=True)
            except psutil.Error:
                return
            totals = {}
            for child in children:
                try:
                    rss = child.memory_info().rss
                    student = owners.get(child.pid) or self._owner(child, owners)
                except psutil.Error:
                    continue
                if rss > self.process_peak[0]:
                    self.process_peak = (rss, " ".join(child.cmdline()[:4])[:80])
                if student:
                    totals[student] = totals.get(student, 0) + rss
            for student, total in totals.items():
                self.worker_peaks[student] = max(self.worker_peaks.get(student, 0), total)
            time.sleep(self.interval)

    def _owner(self, process, owners):
        for candidate in [process, *process.parents()]:
            if candidate.pid == self.root.pid:
                break
            text = " ".join(candidate.cmdline())
            try:
                text += " " + candidate.cwd() + "/"
            except psutil.Error:
                pass
            found = self.WORK_FOLDER.search(text)
            if found:
                owners[process.pid] = found.group(1)
                return found.group(1)
        return None


def gigabytes(count):
    return f"{count / 2**30:.2f} GB"
