"""Grade a whole class in parallel and write grades.csv, feedback and results.json.

nbgrader's own `autograde` walks the students one by one and stops on the
first malformed notebook. Here each submission is graded by its own nbgrader
process (grading.grade_submission) and a pool of threads keeps N of them
running; a thread only waits on its subprocess, so threads are enough.
"""

import csv
import dataclasses
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from autograder import course, grading, sandbox, submissions, template_cache

EXERCISES = ("identity_block", "convolutional_block", "ResNet50")
RESULTS_FILE = "results.json"
GRADES_FILE = "grades.csv"


def default_workers():
    """One worker per core this process may run on (a cpuset or taskset counts)."""
    return max(1, len(os.sched_getaffinity(0)))


def grade_class(submissions_path, out_dir, workers=None, limits=grading.Limits(),
                stream=sys.stderr):
    """Grades every submission under `submissions_path` into `out_dir`.

    Args:
        submissions_path: folder or zip, in a layout submissions.py knows.
        out_dir: folder for grades.csv, results.json, feedback/ and autograded/.
        workers: submissions graded at once (default: the number of cores).
        limits: grading.Limits.
        stream: where the progress bar and the summary go.

    Returns:
        The list of GradeResult, sorted by student id.

    Raises:
        submissions.SubmissionsError: nothing could be read at submissions_path.
        ValueError: limits.sandbox is "bubblewrap" and bubblewrap cannot run here.
    """
    out_dir = Path(out_dir)
    workers = workers or default_workers()
    if workers > 1 and not limits.threads:  # share the cores instead of fighting over them
        limits = dataclasses.replace(limits, threads=max(1, default_workers() // workers))
    sandboxed, isolation = sandbox.isolation(limits.sandbox)  # fails before any work
    if not sandboxed:
        print(f"warning: {isolation}", file=stream)
    with tempfile.TemporaryDirectory(prefix="grading-") as scratch:
        scratch = Path(scratch)
        found = submissions.find_submissions(submissions_path, scratch / "unpacked")
        out_dir.mkdir(parents=True, exist_ok=True)
        template = template_cache.template_course(limits.cell_seconds)
        max_scores = course.max_scores(template)
        progress = Progress(len(found), stream)
        results = []
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [
                pool.submit(grading.grade_submission, s, template, scratch / "work", limits)
                for s in found
            ]
            for future in as_completed(futures):
                result = future.result()
                grading.copy_outputs(result, out_dir)
                results.append(result)
                progress.advance(result, max_scores)
    results.sort(key=lambda r: r.student_id)
    write_grades(out_dir / GRADES_FILE, results, max_scores)
    write_results(out_dir / RESULTS_FILE, results, max_scores, workers, isolation)
    print_summary(results, max_scores, stream)
    return results


def grade_columns(max_scores):
    """The exercises first, in notebook order, then any further graded parts."""
    return [e for e in EXERCISES if e in max_scores] + [
        g for g in max_scores if g not in EXERCISES]


def write_grades(path, results, max_scores):
    """Writes one row per submission: points per part, total, status, reason."""
    columns = grade_columns(max_scores)
    max_total = sum(max_scores.values())
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", *columns, "total", "max_total", "status", "reason"])
        for r in results:
            points = [_points(r.scores.get(c, 0.0)) for c in columns]
            writer.writerow([r.student_id, *points, _points(r.total), _points(max_total),
                             r.status, r.reason])


def write_results(path, results, max_scores, workers, isolation=""):
    """Writes everything the report needs, diagnoses and timings included."""
    records = []
    for r in results:
        record = asdict(r)
        record["total"] = r.total
        for key in ("feedback", "autograded"):
            record[key] = str(Path(record[key]).relative_to(path.parent)) if record[key] else None
        records.append(record)
    payload = {"max_scores": max_scores, "workers": workers, "isolation": isolation,
               "results": records}
    Path(path).write_text(json.dumps(payload, indent=1))


def read_results(out_dir):
    """Reads what write_results wrote; raises ValueError naming a bad file."""
    path = Path(out_dir) / RESULTS_FILE
    if not path.is_file():
        raise ValueError(f"{path}: not found; run `python -m autograder grade` first")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def _points(value):
    return f"{value:g}"


class Progress:
    """A one-line progress bar, redrawn in place on a terminal."""

    WIDTH = 30

    def __init__(self, total, stream):
        self.total, self.done, self.stream = total, 0, stream
        self.started = time.perf_counter()
        self.interactive = getattr(stream, "isatty", lambda: False)()

    def advance(self, result, max_scores):
        self.done += 1
        filled = self.WIDTH * self.done // self.total
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        outcome = (f"{result.total:g}/{sum(max_scores.values()):g}"
                   if result.status == "graded" else "failed")
        line = (f"[{bar}] {self.done}/{self.total}  {result.student_id}: {outcome} "
                f"({result.seconds:.0f} s)")
        end = "\n" if not self.interactive or self.done == self.total else ""
        prefix = "\r\033[K" if self.interactive else ""
        print(prefix + line, end=end, file=self.stream, flush=True)


def print_summary(results, max_scores, stream):
    """Prints a table of every submission, then the class's totals."""
    columns = grade_columns(max_scores)
    id_width = max([len("student"), *(len(r.student_id) for r in results)])
    header = f"{'student':<{id_width}}  " + "  ".join(f"{c:>{len(c)}}" for c in columns)
    print(f"\n{header}  {'total':>7}  status", file=stream)
    for r in results:
        cells = "  ".join(f"{_points(r.scores.get(c, 0.0)):>{len(c)}}" for c in columns)
        total = f"{_points(r.total)}/{_points(sum(max_scores.values()))}"
        status = r.status + (f": {r.reason}" if r.status == "failed" else "")
        print(f"{r.student_id:<{id_width}}  {cells}  {total:>7}  {status}", file=stream)
    graded = [r for r in results if r.status == "graded"]
    print(f"\n{len(results)} submissions: {len(graded)} graded, "
          f"{len(results) - len(graded)} failed.", file=stream)
