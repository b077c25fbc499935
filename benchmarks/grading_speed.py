"""Grading speed and memory: one submission against the floor, then a class.

Run from the repository root (about 20 minutes with the defaults)::

    PYTHONPATH=.:solutions/residual_networks python benchmarks/grading_speed.py
    PYTHONPATH=.:solutions/residual_networks python benchmarks/grading_speed.py --latency-only

Prints, all measured in this one run:

1. the floor (a new Python process that imports TensorFlow and builds
   ResNet-50) and the latency of `python -m autograder grade` on one
   correct submission, each a median of --repeats runs, with their ratio
   (target: at most 3x) and the median time of each grading step;
2. a class of --class-size correct submissions graded with 1 and with 2
   workers, and the speed-up (target: at least 1.6x);
3. the peak resident memory of each grading worker: nbgrader, the sandboxed
   kernel, the verifier and the feedback run of one submission, summed
   (target: at most 1.5 GB).

Every submission is a copy of the solution notebook, so every grading takes
the full path: every check runs, every model is verified, feedback is made.
Each grade command is a new process, as when an instructor runs it, so the
times include making the course.
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.measuring import TreeMemory, floor_seconds, gigabytes, median_line

from autograder import course

TARGET_LATENCY_RATIO = 3.0
TARGET_SPEED_UP = 1.6
TARGET_WORKER_MEMORY = 1.5 * 2**30


def make_class(folder, size):
    folder.mkdir(parents=True)
    for index in range(size):
        shutil.copyfile(course.SOURCE_ASSIGNMENT / course.NOTEBOOK,
                        folder / f"student{index:03d}.ipynb")
    return folder


def grade(class_dir, out_dir, workers):
    """Runs the grade command; returns (seconds, TreeMemory, results.json's records)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "autograder", "grade", str(class_dir), "--out", str(out_dir),
         "--workers", str(workers)],
        env=course.grading_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    with TreeMemory(process.pid) as memory:
        _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"grade failed ({process.returncode}):\n{stderr[-2000:]}")
    records = json.loads((out_dir / "results.json").read_text())["results"]
    wrong = [r["student_id"] for r in records if r["total"] != 10]
    if wrong:
        raise SystemExit(f"correct submissions did not get 10/10: {wrong}")
    return seconds, memory, records


def print_phases(records):
    names = sorted({name for r in records for name in r["phases"]})
    medians = {n: statistics.median(r["phases"][n] for r in records) for n in names}
    print("  median seconds per step: "
          + ", ".join(f"{name} {seconds:.1f}" for name, seconds in medians.items()))


def print_memory(memories):
    peaks = [peak for m in memories for peak in m.worker_peaks.values()]
    largest = max(memories, key=lambda m: m.process_peak[0]).process_peak
    verdict = "met" if max(peaks) <= TARGET_WORKER_MEMORY else "MISSED"
    print(f"peak memory per grading worker: largest {gigabytes(max(peaks))}, median "
          f"{gigabytes(statistics.median(peaks))} over {len(peaks)} gradings "
          f"(target {gigabytes(TARGET_WORKER_MEMORY)}: {verdict})")
    print(f"  largest single process: {gigabytes(largest[0])} ({largest[1]})")
    print(f"  the grade command itself: "
          f"{gigabytes(max(m.coordinator_peak for m in memories))}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--class-size", type=int, default=20,
                        help="submissions in the class runs (default 20)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs behind each median (default 3)")
    parser.add_argument("--latency-only", action="store_true",
                        help="time the floor and one submission only, skip the class runs")
    args = parser.parse_args(argv)
    if args.class_size < 2:
        parser.error(f"--class-size must be at least 2, got {args.class_size}")
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as scratch:
        scratch = Path(scratch)
        floors, singles, memories, records = [], [], [], []
        one = make_class(scratch / "one", 1)
        for index in range(args.repeats):  # interleaved, so load drifts hit both alike
            floors.append(floor_seconds())
            seconds, memory, found = grade(one, scratch / f"out-one{index}", 1)
            singles.append(seconds)
            memories.append(memory)
            records += found
        print(median_line("floor (Python, import TensorFlow, build ResNet-50)", floors))
        print(median_line("grade of one correct submission", singles))
        ratio = statistics.median(singles) / statistics.median(floors)
        verdict = "met" if ratio <= TARGET_LATENCY_RATIO else "MISSED"
        print(f"  {ratio:.1f}x the floor (target {TARGET_LATENCY_RATIO:g}x: {verdict})")
        print_phases(records)
        if not args.latency_only:
            many = make_class(scratch / "class", args.class_size)
            times = {}
            for workers in (1, 2):
                seconds, memory, found = grade(many, scratch / f"out-{workers}", workers)
                times[workers] = seconds
                memories.append(memory)
                print(f"{args.class_size} submissions, {workers} worker(s): {seconds:.0f} s, "
                      f"{seconds / args.class_size:.1f} s per submission, "
                      f"{3600 * args.class_size / seconds:.0f} per hour")
                print_phases(found)
            speed_up = times[1] / times[2]
            verdict = "met" if speed_up >= TARGET_SPEED_UP else "MISSED"
            print(f"  speed-up with 2 workers: {speed_up:.2f}x "
                  f"(target {TARGET_SPEED_UP:g}x: {verdict})")
        print_memory(memories)
    return 0


if __name__ == "__main__":
    sys.exit(main())
