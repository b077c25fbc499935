"""Grade one submission: nbgrader with a sandboxed kernel, then a sandboxed verifier.

Every submission gets a private copy of a template course (generated once),
its own `nbgrader autograde` process and its own kernel, started in a
sandbox of its own (``sandbox``) as an unprivileged user. The hidden tests
there only send what the student's functions build; the grader's executor
takes each exercise's export out of its cell the moment the cell ends
(``snapshot``), into a folder no sandbox can write. A separate, sandboxed
process that runs no student code verifies that snapshot against the
reference (``verify``), and a static scan reads the submitted code for
cheat attempts (``integrity``). Each exercise scores
the lesser of nbgrader's in-kernel result and the verification, and nothing
for a cheat; the gradebook and the feedback get those final points.

Whatever happens inside, a GradeResult comes out: a broken notebook, a
crash or a timeout is a row with status "failed" and a reason, never an
exception that stops the class's grading.
"""

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import (
    cgroups,
    course,
    feedback,
    integrity,
    notebook_notes,
    repair,
    sandbox,
    submissions,
)
from autograder.safe_text import printable
from autograder.verdict import EXERCISES, Verdict

# The hidden checks print "diagnosis: <tag>" for each mistake they recognise.
DIAGNOSIS_PATTERN = re.compile(r"diagnosis: ([a-z0-9_]+)")
_LOG_LINES_IN_REASON = 3
MiB = 2**20


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Defaults are documented in the README."""

    cell_seconds: int = 120  # one notebook cell; a smoke fit takes ~5 s
    # CPU seconds each kernel process may use, from each (re)start: never
    # less than the whole submission's time on every core, so only a runaway
    # that outlives its interrupts meets it.
    cpu_seconds: int = 600 * (os.cpu_count() or 1)
    submission_seconds: int = 600  # one whole submission, feedback included
    memory_bytes: int = 4096 * MiB  # the kernel's resident memory, tmpfs included (peak ~1.2 GB)
    address_space_bytes: int = 8192 * MiB  # its virtual memory (TensorFlow maps ~2 GB)
    max_processes: int = 256  # processes and threads of one kernel (TensorFlow starts ~40)
    max_open_files: int = 1024
    disk_bytes: int = 512 * MiB  # each writable tmpfs (home, /tmp), and the largest file
    cell_output_bytes: int = 4 * MiB  # all outputs of one cell, every MIME type
    feedback_bytes: int = 16 * MiB  # one feedback page
    verify_seconds: int = 300  # loading and comparing the saved models
    verify_memory_bytes: int = 4096 * MiB  # the verifier's resident memory (peak ~0.6 GB)
    notebook_bytes: int = submissions.NOTEBOOK_BYTES  # one hand-in, refused unread past it
    notebook_cells: int = 5000  # the release has 38
    archive_bytes: int = submissions.ARCHIVE_BYTES  # a zip of hand-ins, uncompressed
    archive_members: int = submissions.ARCHIVE_MEMBERS
    sandbox: str = "auto"  # "auto", "bubblewrap" (required) or "none"
    threads: int = 0  # TensorFlow threads per kernel and verifier; 0: all cores

    def caps(self):
        return submissions.Caps(self.notebook_bytes, self.archive_bytes,
                                self.archive_members)

    def kernel_bounds(self):
        return sandbox.Bounds(self.memory_bytes, self.address_space_bytes,
                              self.max_processes, self.max_open_files, self.disk_bytes,
                              self.disk_bytes, self.disk_bytes, self.cpu_seconds,
                              self.threads)

    def verifier_bounds(self):
        return sandbox.Bounds(self.verify_memory_bytes, self.address_space_bytes,
                              self.max_processes, self.max_open_files, 64 * MiB,
                              0, 64 * MiB, self.cpu_seconds, self.threads)


@dataclass
class GradeResult:
    """The outcome of grading one submission."""

    student_id: str
    status: str  # "graded", "review" (an exercise is held, see `held`) or "failed"
    reason: str = ""
    scores: dict = field(default_factory=dict)  # grade_id -> points earned
    diagnoses: dict = field(default_factory=dict)  # grade_id -> list of tags
    messages: dict = field(default_factory=dict)  # grade_id -> first error line
    flags: list = field(default_factory=list)  # integrity findings, one line each
    seconds: float = 0.0
    phases: dict = field(default_factory=dict)  # step -> seconds, for the benchmarks
    feedback: Path | None = None
    autograded: Path | None = None
    held: dict = field(default_factory=dict)  # exercise -> points once accepted
    file: str = ""  # what the student handed in, as named, made printable
    digest: str = ""  # a hash of that file, for the journal
    settings: str = ""  # the course and limits it was graded with, for the journal
    grader_failed: bool = False  # the grader itself failed on it: the run's exit says so

    @property
    def total(self):
        return sum(self.scores.values())


def notebook_problem(path, limits=Limits(), name=None):
    """Why `path` cannot be graded as a notebook, or "" if it can.

    `name` is what the student called the file (default: its own name).
    """
    path = Path(path)
    name = name or path.name
    size = path.stat().st_size
    if size == 0:
        return f"{name} is empty"
    if size > limits.notebook_bytes:
        return (f"{name} is {size / MiB:.1f} MiB, over the {limits.notebook_bytes / MiB:g} "
                "MiB cap for one notebook (--notebook-size-limit)")
    try:
        notebook = nbformat.read(path, as_version=4)
    except UnicodeDecodeError:
        return f"{name} is not a notebook (not text)"
    except Exception as error:  # nbformat raises several kinds for bad JSON
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return (f"{name} is not a readable notebook ({type(error).__name__}: "
                f"{printable(first_line)[:300]})")
    if not notebook.cells:
        return f"{name} is a notebook with no cells"
    if len(notebook.cells) > limits.notebook_cells:
        return (f"{name} has {len(notebook.cells)} cells, over the cap of "
                f"{limits.notebook_cells} (--notebook-cell-limit)")
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
        problem = submission.problem or "nothing was handed in"
    else:
        problem = notebook_problem(submission.path, limits, submission.file or None)
    if problem:
        return GradeResult(student, "failed", "; ".join(
            part for part in (problem, submission.note) if part))
    workspace = work_dir / student  # the grader's; no sandbox sees it whole
    course_root = course.clone_course(template_root, workspace / "course")
    graded_copy = course.submit(course_root, student, submission.path)
    source_notebook = course_root / "source" / course.ASSIGNMENT / course.NOTEBOOK
    repair.repair_file(graded_copy, source_notebook)
    handed_in = nbformat.read(submission.path, as_version=4)  # for the scan and the notes
    source = nbformat.read(source_notebook, as_version=4)
    sandboxed, _ = sandbox.isolation(limits.sandbox)
    snapshot_dir = workspace / "snapshot"
    snapshot_dir.mkdir()
    phases = Phases()
    with _kernel_sandbox(course_root, workspace, limits, sandboxed, snapshot_dir) as memory:
        try:
            with phases("autograde"):
                deadline = time.monotonic() + limits.submission_seconds
                course.run_nbgrader(course_root, "autograde", course.ASSIGNMENT,
                                    f"--student={student}", "--force",
                                    timeout=limits.submission_seconds,
                                    extra_environment={"JUPYTER_PATH": str(workspace / "jupyter")})
                in_kernel = course.scores(course_root, student)
        except subprocess.TimeoutExpired:
            return GradeResult(student, "failed",
                               f"grading took longer than {limits.submission_seconds} s "
                               "(the per-submission cap); is a loop left running?")
        except course.NbgraderError as error:
            return GradeResult(student, "failed", _short_log(error))
        memory_note = ("the kernel was stopped for using more than "
                       f"{limits.memory_bytes // MiB} MiB of memory (--memory-limit)"
                       if memory() else "")
    with phases("verify"):
        verdicts = verify_snapshot(snapshot_dir, limits, sandboxed)
    with phases("scan"):
        release = nbformat.read(course_root / "release" / course.ASSIGNMENT / course.NOTEBOOK,
                                as_version=4)
        flags = _scan(handed_in, (release, source))
    flags += [integrity.model_finding(exercise, verdict.fingerprint)
              for exercise, verdict in verdicts.items() if verdict.fingerprint]
    max_scores = course.max_scores(course_root)
    scores = final_scores(in_kernel, verdicts, flags, max_scores)
    held = held_points(in_kernel, verdicts, flags, max_scores)
    course.set_scores(course_root, student, scores)
    autograded = course.autograded_notebook(course_root, student)
    _write_verdicts_into(autograded, verdicts, flags)
    with phases("feedback"):
        page, feedback_problem = _feedback(course_root, student, deadline, limits)
    messages, diagnoses = failures_in(autograded, scores)
    for exercise, verdict in verdicts.items():
        if exercise in scores and not verdict.passed:
            messages[exercise] = verdict.message.strip().splitlines()[0]
            diagnoses[exercise] = list(verdict.diagnoses)
    for exercise in held:  # what the check found still shows, for the reviewer
        found = messages.get(exercise)
        messages[exercise] = "held for review (see the flags)" + (
            f"; the grader's check found: {found}" if found else "")
    for exercise in integrity.affected_scores(flags):
        messages[exercise] = "0 points for a cheat attempt (see the flags)"
    flag_lines = flag_summary(in_kernel, verdicts, flags)
    notes = [note for note in (submission.note, memory_note, feedback_problem) if note]
    notes += notebook_notes.test_cell_changes(handed_in, source)
    notes += notebook_notes.cell_faults(nbformat.read(autograded, as_version=4))
    reason = "; ".join([*(f"{grade_id}: {message}" for grade_id, message in messages.items()),
                        *notes, *flag_lines])
    return GradeResult(student, "review" if held else "graded", reason, scores, diagnoses,
                       messages, flag_lines, phases=phases.seconds, feedback=page,
                       autograded=autograded, held=held)


def _scan(handed_in, instructor_notebooks):
    """integrity.scan, or, if it fails on this notebook, a hold on every exercise:
    code the scan cannot read is for an instructor to read."""
    try:
        return integrity.scan(handed_in, instructor_notebooks)
    except Exception as error:  # noqa: BLE001 - any failure is the same for the grade
        return [integrity.unreadable_notebook(f"{type(error).__name__}: {error}"[:200])]


@contextlib.contextmanager
def _kernel_sandbox(course_root, workspace, limits, sandboxed, snapshot_dir):
    """Sets up the submission's kernel: places, cgroup, kernelspec, executor settings.

    Yields a function that tells whether the kernel hit its memory cap; the
    cgroup, and anything left in it, is removed on the way out.
    """
    data_dir = Path(course.grading_environment()["SIGNS_DATA_DIR"])
    places = sandbox.KernelPlaces(
        runtime_dir=workspace / "runtime", sockets_dir=workspace / "sockets",
        release_dir=course_root / "release" / course.ASSIGNMENT, data_dir=data_dir,
        data_files=tuple(name for name in course.NOTEBOOK_DATA if (data_dir / name).is_file()))
    with sandbox.claimed_uid() as uid:
        cgroup = _cgroup("kernel", limits.memory_bytes, limits.max_processes)
        try:
            sandbox.write_kernelspec(workspace / "jupyter", places, limits.kernel_bounds(),
                                     sandboxed, uid, cgroup)
            course.use_kernel(course_root, sandbox.KERNEL_NAME, places, uid,
                              snapshot_dir, limits.cell_output_bytes, limits.cpu_seconds)
            yield (lambda: cgroup is not None and cgroup.memory_exceeded())
        finally:
            if cgroup is not None:
                cgroup.remove()


def _cgroup(role, memory_bytes, max_processes):
    """A cgroup for one sandboxed process tree, or None where none can be made."""
    if cgroups.cgroup_problem():
        return None
    return cgroups.Cgroup(role, memory_bytes, max_processes)


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


def _feedback(course_root, student, deadline, limits):
    """(feedback page, "") or (None, why): a grade stands without its feedback."""
    try:
        page = course.generate_feedback(
            course_root, student, timeout=max(1.0, deadline - time.monotonic()))
    except course.NbgraderError as error:
        return None, f"no feedback page: {_short_log(error)}"
    except subprocess.TimeoutExpired:
        return None, ("no feedback page: it was not made within the per-submission "
                      "time (--submission-timeout)")
    size = page.stat().st_size
    if size > limits.feedback_bytes:
        page.write_text(TOO_LARGE_PAGE.format(size=size / MiB, limit=limits.feedback_bytes / MiB))
        return page, (f"the feedback page was {size / MiB:.0f} MiB, over the "
                      f"{limits.feedback_bytes / MiB:.0f} MiB limit, and was replaced by a note")
    page.write_text(feedback.with_security_policy(page.read_text(errors="replace")))
    return page, ""


TOO_LARGE_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Feedback</title></head><body>
<p>Your feedback page came to {size:.0f} MiB, over the grader's {limit:.0f} MiB limit,
because of what your notebook printed or displayed. Your points are not affected;
ask the course staff for your scores.</p></body></html>
"""


def verify_snapshot(snapshot_dir, limits, sandboxed=True):
    """Verifies a submission's snapshot in sandboxed processes; exercise -> Verdict.

    The verifier prints one verdict per line, as it finishes each exercise.
    If it dies (a crash, the memory cap, the time cap) on an exercise, the
    verdicts it had printed stand, that exercise fails with the reason, and
    a fresh verifier takes the exercises left.
    """
    verdicts, remaining = {}, list(EXERCISES)
    deadline = time.monotonic() + limits.verify_seconds
    while remaining:
        outcome, found = _run_verifier(snapshot_dir, remaining, limits, sandboxed,
                                       max(1.0, deadline - time.monotonic()))
        verdicts.update(found)
        remaining = [exercise for exercise in remaining if exercise not in found]
        if not remaining:
            break
        failed = remaining.pop(0)  # the one it was on when it stopped
        verdicts[failed] = Verdict(failed, False, f"the grader could not verify {failed}: "
                                   f"its verifier {outcome}.")
        if time.monotonic() >= deadline:
            for exercise in remaining:
                verdicts[exercise] = Verdict(exercise, False, "the grader ran out of time "
                                             f"({limits.verify_seconds} s) to verify it.")
            break
    return {exercise: verdicts[exercise] for exercise in EXERCISES}


def _run_verifier(snapshot_dir, exercises, limits, sandboxed, timeout):
    """(how it ended, the verdicts it printed) for one verifier process."""
    with sandbox.claimed_uid() as uid:
        return _run_verifier_as(uid, snapshot_dir, exercises, limits, sandboxed, timeout)


def _run_verifier_as(uid, snapshot_dir, exercises, limits, sandboxed, timeout):
    bounds = limits.verifier_bounds()
    cgroup = _cgroup("verifier", bounds.memory_bytes, bounds.max_processes)
    # Its output goes to a file of the grader's that it reaches only through
    # its standard output, so RLIMIT_FSIZE bounds it.
    output_path = Path(snapshot_dir).parent / f"verdicts-{uid}.jsonl"
    try:
        with open(output_path, "w+b") as output:
            try:
                process = subprocess.run(
                    sandbox.verifier_command(snapshot_dir, exercises, bounds, uid, cgroup,
                                             sandboxed),
                    stdout=output, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                    env={"PATH": "/usr/bin:/bin"}, timeout=timeout)
                outcome = ("stopped unexpectedly" if process.returncode else "gave no verdict")
            except subprocess.TimeoutExpired:
                outcome = f"took longer than {limits.verify_seconds} s"
            if cgroup is not None and cgroup.memory_exceeded():
                outcome = f"used more than {bounds.memory_bytes // MiB} MiB of memory"
            output.seek(0)
            text = output.read(bounds.max_file_bytes).decode("utf-8", errors="replace")
    finally:
        if cgroup is not None:
            cgroup.remove()
        output_path.unlink(missing_ok=True)
    return outcome, _verdict_lines(text, exercises)


def _verdict_lines(text, exercises):
    """The well-formed verdicts in the verifier's output, for `exercises` only."""
    found = {}
    for line in text.splitlines():
        try:
            fields = json.loads(line)
            verdict = Verdict(**fields)
        except (ValueError, TypeError):
            continue
        well_formed = (isinstance(verdict.passed, bool) and isinstance(verdict.message, str)
                       and isinstance(verdict.fingerprint, str)
                       and all(isinstance(tag, str) for tag in
                               [*verdict.diagnoses, *verdict.flags]))
        if well_formed and verdict.exercise in exercises and verdict.exercise not in found:
            verdict.message = verdict.message[:20_000]
            verdict.fingerprint = verdict.fingerprint[:500]
            found[verdict.exercise] = verdict
    return found


def final_scores(in_kernel, verdicts, flags, max_scores):
    """Each exercise's points: the lesser of nbgrader's and the verifier's, 0 for a
    cheat, and 0 while it is held for review (see held_points).

    Args:
        in_kernel: grade_id -> points nbgrader gave.
        verdicts: exercise -> Verdict.
        flags: integrity.Flag list from the static scan and the verifier.
        max_scores: grade_id -> the most points the cell can give.
    """
    held = integrity.held_scores(flags)  # a cheat's 0 wins; 0 while held otherwise
    return {grade_id: 0.0 if grade_id in held else points
            for grade_id, points in _earned(in_kernel, verdicts, flags, max_scores).items()}


def held_points(in_kernel, verdicts, flags, max_scores):
    """exercise -> the points it earns if an instructor accepts it, for each held one."""
    earned, zeroed = _earned(in_kernel, verdicts, flags, max_scores), integrity.affected_scores(
        flags)
    # A cheat's 0 stands whatever a review finds, so an exercise with one is not held.
    return {exercise: earned[exercise] for exercise in integrity.held_scores(flags)
            if exercise in earned and exercise not in zeroed}


def _earned(in_kernel, verdicts, flags, max_scores):
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
    lines = [(f"held for review [{flag.rule}]: " if flag.holds else "flagged: ")
             + integrity.format_flag(flag) for flag in flags if flag.rule != "exits_early"]
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
    zeroed, held = integrity.affected_scores(flags), integrity.held_scores(flags)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or grade_id not in verdicts:
            continue
        verdict, text = verdicts[grade_id], verdicts[grade_id].message
        if zeroed.get(grade_id):  # the cheat comes first: it decided the points
            cheats = "\n".join(integrity.format_flag(f) for f in zeroed[grade_id])
            text = f"0 points for a cheat attempt: {cheats}\n(The verifier found: {text})"
        if held.get(grade_id) and not zeroed.get(grade_id):
            cell.outputs.append(nbformat.v4.new_output(
                "stream", name="stdout", text=HELD_FEEDBACK.format(exercise=grade_id)))
        elif verdict.passed and not zeroed.get(grade_id):
            cell.outputs.append(nbformat.v4.new_output(
                "stream", name="stdout", text=f"Verified by the grader: {text}\n"))
        else:
            cell.outputs.append(nbformat.v4.new_output(
                "error", ename="VerificationFailure", evalue=text,
                traceback=[f"VerificationFailure: {text}"]))
    nbformat.write(notebook, autograded_path)


# What a student reads for an exercise held for review: neutral, since most
# held code is honest code the scan could not follow.
HELD_FEEDBACK = ("{exercise}: held for review. The course staff will read this part of "
                 "your code and then confirm its points; until then it shows 0. "
                 "Nothing is needed from you.\n")


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
