"""Grade a whole class in parallel and write grades.csv, feedback and results.json.

nbgrader's own `autograde` walks the students one by one and stops on the
first malformed notebook. Here each submission is graded by its own nbgrader
process (grading.grade_submission) and a pool of threads keeps N of them
running; a thread only waits on its subprocess, so threads are enough.
"""

import csv
import dataclasses
import io
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from autograder import course, grading, sandbox, submissions, template_cache
from autograder.journal import (
    Journal,
    file_digest,
    record_of,
    result_of,
    settings_key,
    write_atomically,
)
from autograder.safe_text import csv_cell, printable

EXERCISES = ("identity_block", "convolutional_block", "ResNet50")
RESULTS_FILE = "results.json"
GRADES_FILE = "grades.csv"


def default_workers():
    """One worker per core this process may run on (a cpuset or taskset counts)."""
    return max(1, len(os.sched_getaffinity(0)))


def grade_class(submissions_path, out_dir, workers=None, limits=grading.Limits(),
                stream=sys.stderr, restart=False):
    """Grades every submission under `submissions_path` into `out_dir`.

    Each result goes to the journal in `out_dir` as it finishes; a run with
    the same `out_dir` grades only what the journal does not hold yet.

    Args:
        submissions_path: folder or zip, in a layout submissions.py knows.
        out_dir: folder for grades.csv, results.json, feedback/ and autograded/.
        workers: submissions graded at once (default: the number of cores).
        limits: grading.Limits.
        stream: where the progress bar and the summary go.
        restart: set the journal aside and grade every submission again.

    Returns:
        The list of GradeResult, sorted by student id.

    Raises:
        submissions.SubmissionsError: nothing could be read at submissions_path.
        ValueError: limits.sandbox is "bubblewrap" and bubblewrap cannot run here,
            or the journal in out_dir is not a plain file.
    """
    out_dir = Path(out_dir)
    workers = workers or default_workers()
    if workers > 1 and not limits.threads:  # share the cores instead of fighting over them
        limits = dataclasses.replace(limits, threads=max(1, default_workers() // workers))
    sandboxed, isolation = sandbox.isolation(limits.sandbox)  # fails before any work
    if not sandboxed:
        print(f"warning: {isolation}", file=stream)
    out_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(out_dir, restart)
    with tempfile.TemporaryDirectory(prefix="grading-") as scratch:
        scratch = Path(scratch)
        found = submissions.find_submissions(submissions_path, scratch / "unpacked",
                                             limits.caps())
        template = template_cache.template_course(limits.cell_seconds)
        max_scores = course.max_scores(template)
        settings = settings_key(template, limits)
        results, waiting = [], []
        for submission in found:
            digest = file_digest(submission.path)
            record = journal.finished(submission.student_id, digest, settings)
            if record:
                results.append(result_of(record, out_dir, grading.GradeResult))
            else:
                waiting.append((submission, digest))
        if results:
            print(f"{len(results)} of {len(found)} submissions are already graded in "
                  f"{journal.path} (--restart grades them again)", file=stream)
        progress = Progress(len(waiting), stream)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_grade_safely, submission, template, scratch / "work",
                                   limits): (submission, digest)
                       for submission, digest in waiting}
            for future in as_completed(futures):
                submission, digest = futures[future]
                result = _finish(future.result(), submission, digest, settings, out_dir,
                                 journal)
                results.append(result)
                progress.advance(result, max_scores)
    results.sort(key=lambda r: r.student_id)
    write_grades(out_dir / GRADES_FILE, results, max_scores)
    write_results(out_dir / RESULTS_FILE, results, max_scores, workers, isolation)
    print_summary(results, max_scores, stream)
    return results


def _grade_safely(submission, template, work_dir, limits):
    """grading.grade_submission, with a fault of the grader's own kept to one row."""
    try:
        return grading.grade_submission(submission, template, work_dir, limits)
    except Exception as error:  # a bug of ours must not cost the rest of the class
        return grading.GradeResult(
            submission.student_id, "failed",
            f"the grader failed on this submission ({type(error).__name__}: {error}); "
            "no other submission is affected", grader_failed=True)


def _finish(result, submission, digest, settings, out_dir, journal):
    """Copies a result's files into OUT and journals it; a failure costs this row only."""
    result.file, result.digest, result.settings = submission.file, digest, settings
    try:
        grading.copy_outputs(result, out_dir)
    except OSError as error:
        result.status, result.grader_failed = "failed", True
        result.reason = (f"the grader could not write this submission's feedback "
                         f"({error}); " + result.reason).rstrip("; ")
        result.feedback = result.autograded = None
    try:
        journal.add(record_of(result, out_dir))
    except (OSError, ValueError) as error:
        result.grader_failed = True
        result.reason = f"not journaled ({error}); " + result.reason
    return result


def grade_columns(max_scores):
    """The exercises first, in notebook order, then any further graded parts."""
    return [e for e in EXERCISES if e in max_scores] + [
        g for g in max_scores if g not in EXERCISES]


def write_grades(path, results, max_scores):
    """Writes one row per submission: points per part, total, status, reason.

    Every text cell is made printable and safe for spreadsheets; a row that
    cannot be written becomes a "failed" row, and every other row is written.
    """
    columns = grade_columns(max_scores)
    max_total = sum(max_scores.values())
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student_id", "file", *columns, "total", "max_total", "status",
                     "reason"])
    for r in results:
        try:
            points = [_points(r.scores.get(c, 0.0)) for c in columns]
            row = [r.student_id, r.file, *points, _points(r.total), _points(max_total),
                   r.status, r.reason]
        except (TypeError, ValueError) as error:
            r.grader_failed = True
            row = [r.student_id, r.file, *["0"] * len(columns), "0", _points(max_total),
                   "failed", f"the grader could not write this row ({error})"]
        writer.writerow([csv_cell(cell) for cell in row])
    write_atomically(path, buffer.getvalue())


def write_results(path, results, max_scores, workers, isolation=""):
    """Writes everything the report needs, diagnoses and timings included."""
    records = [record_of(r, Path(path).parent) for r in results]
    payload = {"max_scores": max_scores, "workers": workers, "isolation": isolation,
               "results": records}
    write_atomically(path, json.dumps(payload, indent=1))


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
                   if result.status != "failed" else "failed")
        outcome += " (held for review)" if result.status == "review" else ""
        line = (f"[{bar}] {self.done}/{self.total}  {printable(result.student_id)}: {outcome} "
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
        status = r.status + (f": {printable(r.reason)}" if r.status != "graded" else "")
        print(f"{printable(r.student_id):<{id_width}}  {cells}  {total:>7}  {status}", file=stream)
    counts = {status: sum(r.status == status for r in results)
              for status in ("graded", "review", "failed")}
    print(f"\n{len(results)} submissions: {counts['graded']} graded, {counts['review']} "
          f"held for review, {counts['failed']} failed.", file=stream)
    if counts["review"]:
        print("Held exercises show 0 until an instructor reads the code and runs "
              "python -m autograder accept OUT STUDENT EXERCISE --why TEXT", file=stream)
