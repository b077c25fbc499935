"""Grading speed: one correct submission, then a class with 1 and with 2 workers.

Run from the repository root::

    PYTHONPATH=.:solutions/residual_networks python benchmarks/grading_throughput.py
    PYTHONPATH=.:solutions/residual_networks python benchmarks/grading_throughput.py --class-size 20

It copies the solution notebook once per student, so every submission is
correct and takes the full grading path (every check runs, feedback is
generated). Each grading runs `python -m autograder grade` as an instructor
would, in its own process, and the times include making the course.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder import course

SINGLE_RUNS = 3  # the latency figure is a median over this many runs


def make_class(folder, size):
    folder.mkdir(parents=True)
    for index in range(size):
        shutil.copyfile(course.SOURCE_ASSIGNMENT / course.NOTEBOOK,
                        folder / f"student{index:03d}.ipynb")
    return folder


def grade(class_dir, out_dir, workers):
    """Runs the grade command; returns its wall-clock seconds."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder", "grade", str(class_dir),
                    "--out", str(out_dir), "--workers", str(workers)],
                   check=True, env=course.grading_environment(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def autograde_seconds(scratch):
    """Seconds of one bare `nbgrader autograde` of the solution (no feedback)."""
    root = course.make_course(scratch / "single-course")
    course.submit(root, "solution", course.SOURCE_ASSIGNMENT / course.NOTEBOOK)
    started = time.perf_counter()
    scores = course.autograde(root, "solution")
    seconds = time.perf_counter() - started
    assert sum(scores.values()) == 10, scores
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--class-size", type=int, default=6,
                        help="submissions in the class run (default 6)")
    parser.add_argument("--single-only", action="store_true",
                        help="time one submission only, skip the class runs")
    args = parser.parse_args(argv)
    if args.class_size < 2:
        parser.error(f"--class-size must be at least 2, got {args.class_size}")
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as scratch:
        scratch = Path(scratch)
        bare = [autograde_seconds(scratch / f"bare{i}") for i in range(SINGLE_RUNS)]
        print(f"nbgrader autograde of the solution: median {statistics.median(bare):.1f} s "
              f"over {SINGLE_RUNS} runs ({', '.join(f'{s:.1f}' for s in bare)})")
        one = make_class(scratch / "one", 1)
        single = [grade(one, scratch / f"out-one{i}", 1) for i in range(SINGLE_RUNS)]
        print(f"`grade` of one submission (course set-up, autograde, feedback): "
              f"median {statistics.median(single):.1f} s")
        if args.single_only:
            return 0
        many = make_class(scratch / "class", args.class_size)
        times = {w: grade(many, scratch / f"out-{w}", w) for w in (1, 2)}
        for workers, seconds in times.items():
            print(f"{args.class_size} submissions, {workers} worker(s): {seconds:.0f} s, "
                  f"{seconds / args.class_size:.1f} s per submission, "
                  f"{3600 * args.class_size / seconds:.0f} submissions per hour")
        print(f"speed-up with 2 workers: {times[1] / times[2]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
