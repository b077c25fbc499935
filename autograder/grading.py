"""Grade one submission with real nbgrader, in a course folder of its own.

Every submission gets a private copy of a template course (generated once),
its own `nbgrader autograde` process and its own kernel. Whatever happens
inside, a GradeResult comes out: a broken notebook, a crash or a timeout is
a row with status "failed" and a reason, never an exception that stops the
class's grading.
"""

import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import course

# The hidden checks print "diagnosis: <tag>" for each mistake they recognise.
DIAGNOSIS_PATTERN = re.compile(r"diagnosis: ([a-z0-9_]+)")
_LOG_LINES_IN_REASON = 3


@dataclass(frozen=True)
class Limits:
    """How long grading may take. Defaults are documented in the README."""

    cell_seconds: int = 120  # one notebook cell; a smoke fit takes ~5 s
    submission_seconds: int = 600  # one whole submission, feedback included


@dataclass
class GradeResult:
    """The outcome of grading one submission."""

    student_id: str
    status: str  # "graded" or "failed"
    reason: str = ""
    scores: dict = field(default_factory=dict)  # grade_id -> points earned
    diagnoses: dict = field(default_factory=dict)  # grade_id -> list of tags
    messages: dict = field(default_factory=dict)  # grade_id -> first error line
    seconds: float = 0.0
    feedback: Path | None = None
    autograded: Path | None = None

    @property
    def total(self):
        return sum(self.scores.values())


def notebook_problem(path):
    """Why `path` cannot be graded as a notebook, or "" if it can."""
    path = Path(path)
    if path.stat().st_size == 0:
        return f"{path.name} is empty"
    try:
        notebook = nbformat.read(path, as_version=4)
    except UnicodeDecodeError:
        return f"{path.name} is not a notebook (not text)"
    except Exception as error:  # nbformat raises several kinds for bad JSON
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return f"{path.name} is not a readable notebook ({type(error).__name__}: {first_line})"
    if not notebook.cells:
        return f"{path.name} is a notebook with no cells"
    return ""


def grade_submission(submission, template_root, work_dir, limits=Limits()):
    """Autogrades one Submission and generates its feedback.

    Args:
        submission: a submissions.Submission.
        template_root: a course folder made by course.make_course.
        work_dir: a folder where this submission's course copy is made.
        limits: time limits.

    Returns:
        A GradeResult; never raises for anything the submission contains.
    """
    started = time.perf_counter()
    result = _grade(submission, Path(template_root), Path(work_dir), limits)
    result.seconds = time.perf_counter() - started
    return result


def _grade(submission, template_root, work_dir, limits):
    student = submission.student_id
    if submission.path is None:
        return GradeResult(student, "failed", submission.problem)
    problem = notebook_problem(submission.path)
    if problem:
        return GradeResult(student, "failed", problem)
    course_root = course.clone_course(template_root, work_dir / student)
    course.submit(course_root, student, submission.path)
    deadline = time.monotonic() + limits.submission_seconds
    try:
        course.run_nbgrader(course_root, "autograde", course.ASSIGNMENT,
                            f"--student={student}", "--force",
                            timeout=limits.submission_seconds)
        scores = course.scores(course_root, student)
        feedback = course.generate_feedback(
            course_root, student, timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return GradeResult(student, "failed",
                           f"grading took longer than {limits.submission_seconds} s "
                           "(the per-submission cap); is a loop left running?")
    except course.NbgraderError as error:
        return GradeResult(student, "failed", _short_log(error))
    autograded = course.autograded_notebook(course_root, student)
    messages, diagnoses = failures_in(autograded, scores)
    reason = "; ".join(f"{grade_id}: {message}" for grade_id, message in messages.items())
    return GradeResult(student, "graded", reason, scores, diagnoses, messages,
                       feedback=feedback, autograded=autograded)


def failures_in(autograded_path, scores):
    """Reads the error of each graded cell that lost points, and its diagnoses.

    Returns:
        (messages, diagnoses): grade_id -> "ErrorName: first line", and
        grade_id -> list of diagnosis tags found in that error.
    """
    notebook = nbformat.read(autograded_path, as_version=4)
    messages, diagnoses = {}, {}
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id not in scores:
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            text = f"{output.get('evalue', '')}"
            first_line = text.strip().splitlines()[0] if text.strip() else ""
            messages[grade_id] = f"{output.get('ename', 'Error')}: {first_line}".rstrip(": ")
            diagnoses[grade_id] = sorted(set(DIAGNOSIS_PATTERN.findall(text)))
    return messages, diagnoses


def _short_log(error):
    """The last few meaningful lines of an nbgrader failure, on one line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    useful = [line for line in lines if "[AutogradeApp" in line and "ERROR" in line]
    return " | ".join((useful or lines)[-_LOG_LINES_IN_REASON:])


def copy_outputs(result, out_dir):
    """Copies a result's feedback and autograded notebook into `out_dir`."""
    for kind, source, suffix in (("feedback", result.feedback, ".html"),
                                 ("autograded", result.autograded, ".ipynb")):
        if source is not None and Path(source).is_file():
            target = Path(out_dir) / kind / f"{result.student_id}{suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            setattr(result, kind, target)
