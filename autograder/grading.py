"""Grade one submission: nbgrader in a sandbox, then verification outside it.

Every submission gets a private copy of a template course (generated once),
its own `nbgrader autograde` process and its own kernel, started in a
sandbox (``sandbox``). The hidden tests there only save what the student's
functions build; a separate process that runs no student code verifies the
saved models against the reference (``verify``), and a static scan reads
the submitted code for cheat attempts (``integrity``). Each exercise scores
the lesser of nbgrader's in-kernel result and the verification, and nothing
for a cheat; the gradebook and the feedback get those final points.

Whatever happens inside, a GradeResult comes out: a broken notebook, a
crash or a timeout is a row with status "failed" and a reason, never an
exception that stops the class's grading.
"""

import contextlib
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import course, integrity, notebook_notes, repair, sandbox
from autograder.verdict import EXERCISES, Verdict

# The hidden checks print "diagnosis: <tag>" for each mistake they recognise.
DIAGNOSIS_PATTERN = re.compile(r"diagnosis: ([a-z0-9_]+)")
_LOG_LINES_IN_REASON = 3


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Defaults are documented in the README."""

    cell_seconds: int = 120  # one notebook cell; a smoke fit takes ~5 s
    submission_seconds: int = 600  # one whole submission, feedback included
    memory_bytes: int = 8 * 2**30  # the kernel's address space (TensorFlow maps ~2 GB)
    verify_seconds: int = 300  # loading and comparing the saved models
    sandbox: str = "auto"  # "auto", "bubblewrap" (required) or "none"
    threads: int = 0  # TensorFlow threads per kernel and verifier; 0: all cores


@dataclass
class GradeResult:
    """The outcome of grading one submission."""

    student_id: str
    status: str  # "graded" or "failed"
    reason: str = ""
    scores: dict = field(default_factory=dict)  # grade_id -> points earned
    diagnoses: dict = field(default_factory=dict)  # grade_id -> list of tags
    messages: dict = field(default_factory=dict)  # grade_id -> first error line
    flags: list = field(default_factory=list)  # integrity findings, one line each
    seconds: float = 0.0
    phases: dict = field(default_factory=dict)  # step -> seconds, for the benchmarks
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
    workspace = work_dir / student
    course_root = course.clone_course(template_root, workspace / "course")
    graded_copy = course.submit(course_root, student, submission.path)
    source_notebook = course_root / "source" / course.ASSIGNMENT / course.NOTEBOOK
    repair.repair_file(graded_copy, source_notebook)
    handed_in = nbformat.read(submission.path, as_version=4)  # for the scan and the notes
    places = _kernel_places(course_root, student, workspace)
    sandboxed, _ = sandbox.isolation(limits.sandbox)
    sandbox.write_kernelspec(workspace / "jupyter", places, limits.memory_bytes, sandboxed,
                             limits.threads)
    course.use_kernel(course_root, sandbox.KERNEL_NAME, places.connection_file)
    deadline = time.monotonic() + limits.submission_seconds
    phases = Phases()
    try:
        with phases("autograde"):
            course.run_nbgrader(course_root, "autograde", course.ASSIGNMENT,
                                f"--student={student}", "--force",
                                timeout=limits.submission_seconds,
                                extra_environment={"JUPYTER_PATH": str(workspace / "jupyter")})
            in_kernel = course.scores(course_root, student)
        with phases("verify"):
            verdicts = _verify(places.export_dir, workspace / "verdicts.json", limits)
        with phases("scan"):
            flags = integrity.scan(handed_in)
        scores = final_scores(in_kernel, verdicts, flags, course.max_scores(course_root))
        course.set_scores(course_root, student, scores)
        autograded = course.autograded_notebook(course_root, student)
        _write_verdicts_into(autograded, verdicts, flags)
        with phases("feedback"):
            feedback, feedback_problem = _feedback(course_root, student, deadline)
    except subprocess.TimeoutExpired:
        return GradeResult(student, "failed",
                           f"grading took longer than {limits.submission_seconds} s "
                           "(the per-submission cap); is a loop left running?")
    except course.NbgraderError as error:
        return GradeResult(student, "failed", _short_log(error))
    messages, diagnoses = failures_in(autograded, scores)
    for exercise, verdict in verdicts.items():
        if exercise in scores and not verdict.passed:
            messages[exercise] = verdict.message.strip().splitlines()[0]
            diagnoses[exercise] = list(verdict.diagnoses)
    for exercise in integrity.affected_scores(flags):
        messages[exercise] = "0 points for a cheat attempt (see the flags)"
    flag_lines = flag_summary(in_kernel, verdicts, flags)
    notes = [note for note in (submission.note, feedback_problem) if note]
    notes += notebook_notes.test_cell_changes(
        handed_in, nbformat.read(source_notebook, as_version=4))
    notes += notebook_notes.cell_faults(nbformat.read(autograded, as_version=4))
    reason = "; ".join([*(f"{grade_id}: {message}" for grade_id, message in messages.items()),
                        *notes, *flag_lines])
    return GradeResult(student, "graded", reason, scores, diagnoses, messages, flag_lines,
                       phases=phases.seconds, feedback=feedback, autograded=autograded)


class Phases:
    """Wall-clock seconds of each named step: `with phases("verify"): ...`."""

    def __init__(self):
        self.seconds = {}

    @contextlib.contextmanager
    def __call__(self, name):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 2)


def _feedback(course_root, student, deadline):
    """(feedback page, "") or (None, why): a grade stands without its feedback."""
    try:
        return course.generate_feedback(
            course_root, student, timeout=max(1.0, deadline - time.monotonic())), ""
    except course.NbgraderError as error:
        return None, f"no feedback page: {_short_log(error)}"


def _kernel_places(course_root, student, workspace):
    data_dir = Path(course.grading_environment()["SIGNS_DATA_DIR"])
    return sandbox.KernelPlaces(
        notebook_dir=course.autograded_notebook(course_root, student).parent,
        export_dir=workspace / "exports", runtime_dir=workspace / "runtime",
        data_dir=data_dir,
        data_files=tuple(name for name in course.NOTEBOOK_DATA if (data_dir / name).is_file()),
    )


def _verify(export_dir, out_path, limits):
    """Runs the verifier in a process of its own; returns exercise -> Verdict."""
    try:
        subprocess.run([sys.executable, "-m", "autograder.verify", str(export_dir),
                        "--out", str(out_path)],
                       env={**course.grading_environment(),
                            **sandbox.thread_environment(limits.threads)},
                       capture_output=True, text=True, timeout=limits.verify_seconds,
                       check=True)
        return {name: Verdict(**fields)
                for name, fields in json.loads(out_path.read_text()).items()}
    except (subprocess.SubprocessError, OSError, ValueError, TypeError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        message = f"the verifier failed: {detail.strip().splitlines()[-1:] or [type(error).__name__]}"
        return {name: Verdict(name, False, message) for name in EXERCISES}


def final_scores(in_kernel, verdicts, flags, max_scores):
    """Each exercise's points: the lesser of nbgrader's and the verifier's, 0 for a cheat.

    Args:
        in_kernel: grade_id -> points nbgrader gave.
        verdicts: exercise -> Verdict.
        flags: integrity.Flag list from the static scan.
        max_scores: grade_id -> the most points the cell can give.
    """
    zeroed = integrity.affected_scores(flags)
    scores = {}
    for grade_id, points in in_kernel.items():
        if grade_id in verdicts:
            verified = max_scores[grade_id] if verdicts[grade_id].passed else 0.0
            points = min(points, verified)
        if zeroed.get(grade_id):
            points = 0.0
        scores[grade_id] = points
    return scores


def flag_summary(in_kernel, verdicts, flags):
    """One line per integrity finding, for grades.csv, the report and feedback."""
    # Exits and trapped signals are faults, not cheats: cell_faults reports them.
    lines = [f"flagged: {integrity.format_flag(flag)}" for flag in flags
             if flag.rule != "exits_early"]
    for exercise, verdict in verdicts.items():
        lines += [f"flagged: {exercise}: {verdict.message.splitlines()[0]}"
                  for flag in verdict.flags if flag == "keras_applications"]
        if in_kernel.get(exercise, 0) > 0 and "nothing_saved" in verdict.flags:
            lines.append(f"flagged: {exercise}: nbgrader passed the hidden test, but it "
                         "saved nothing to verify (was its cell changed or skipped?)")
    return lines


def _write_verdicts_into(autograded_path, verdicts, flags):
    """Puts each verdict under its hidden test cell, for the feedback page."""
    notebook = nbformat.read(autograded_path, as_version=4)
    zeroed = integrity.affected_scores(flags)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or grade_id not in verdicts:
            continue
        verdict, text = verdicts[grade_id], verdicts[grade_id].message
        if zeroed.get(grade_id):  # the cheat comes first: it decided the points
            cheats = "\n".join(integrity.format_flag(f) for f in zeroed[grade_id])
            text = f"0 points for a cheat attempt: {cheats}\n(The verifier found: {text})"
        if verdict.passed and not zeroed.get(grade_id):
            cell.outputs.append(nbformat.v4.new_output(
                "stream", name="stdout", text=f"Verified by the grader: {text}\n"))
        else:
            cell.outputs.append(nbformat.v4.new_output(
                "error", ename="VerificationFailure", evalue=text,
                traceback=[f"VerificationFailure: {text}"]))
    nbformat.write(notebook, autograded_path)


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
    # The exception nbgrader's traceback ends with says most, e.g.
    # "RuntimeError: Hidden test region detected in a non-grade cell; ...".
    raised = [line for line in lines if re.match(r"^[A-Za-z_.]*(Error|Exception): ", line)]
    if raised:
        return raised[-1]
    useful = [line for line in lines if "App |" in line and "ERROR" in line]
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
