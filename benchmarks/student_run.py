"""The solutions notebook run top to bottom, as a student runs it: time and accuracy.

Run from the repository root (about 6 minutes)::

    PYTHONPATH=.:solutions/residual_networks python benchmarks/student_run.py

It executes the notebook in a fresh Jupyter kernel with nbclient, with the
full 18-epoch training (no NBGRADER_EXECUTION), then prints the wall-clock
time from starting the kernel to the last cell, the slowest cells and the
test accuracy the notebook printed. Targets: at most 6 minutes, at least 95%.
"""

import argparse
import json
import os
import sys
import time

import nbformat
from nbclient import NotebookClient

from autograder import course

TARGET_SECONDS = 6 * 60
TARGET_ACCURACY = 0.95
REPORT_CELL = "import json; print(json.dumps({'test_accuracy': float(test_accuracy)}))"


def run_notebook():
    """Executes the solutions notebook; returns (seconds, cell timings, accuracy)."""
    os.environ.update(course.grading_environment())
    os.environ.pop("NBGRADER_EXECUTION", None)  # a student's run trains in full
    notebook = nbformat.read(course.SOURCE_ASSIGNMENT / course.NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(REPORT_CELL))
    timings = []

    def timed(cell, cell_index, **_):
        timings.append((time.perf_counter(), cell_index))

    client = NotebookClient(
        notebook, timeout=1800, kernel_name="python3",
        resources={"metadata": {"path": str(course.SOURCE_ASSIGNMENT)}},
        on_cell_executed=timed)
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    accuracy = json.loads(notebook.cells[-1].outputs[0]["text"])["test_accuracy"]
    durations, previous = [], started
    for finished, index in timings:
        durations.append((finished - previous, index))
        previous = finished
    return seconds, durations, accuracy, notebook


def first_line(cell):
    return (cell.source.strip().splitlines() or [""])[0][:70]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slowest", type=int, default=5,
                        help="how many of the slowest cells to list (default 5)")
    args = parser.parse_args(argv)
    seconds, durations, accuracy, notebook = run_notebook()
    met = "met" if seconds <= TARGET_SECONDS else "MISSED"
    print(f"solutions notebook, top to bottom: {seconds:.0f} s "
          f"(target {TARGET_SECONDS} s: {met})")
    met = "met" if accuracy >= TARGET_ACCURACY else "MISSED"
    print(f"test accuracy: {accuracy:.1%} (target {TARGET_ACCURACY:.0%}: {met})")
    print("slowest cells (kernel start-up counts toward the first):")
    for duration, index in sorted(durations, reverse=True)[:args.slowest]:
        print(f"  {duration:6.1f} s  cell {index}: {first_line(notebook.cells[index])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
