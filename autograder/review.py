"""An instructor's decision on an exercise held for review: `accept`.

The scan holds an exercise at 0, status "review", when its code reaches
something the scan cannot follow, and the verifier does when a model looks
built by keras.applications. Once an instructor has read the code,

    python -m autograder accept OUT STUDENT EXERCISE --why TEXT

gives the exercise the points it earned (kept in the journal when it was
held), rewrites the student's feedback page with a new nbgrader run, and
rewrites grades.csv, results.json and the report. The decision, who made it
and why, is appended to OUT/review-decisions.jsonl, an audit file.
"""

import copy
import getpass
import json
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from autograder import batch, course, feedback, grading, report, template_cache
from autograder.journal import Journal, result_of

AUDIT_FILE = "review-decisions.jsonl"
ACCEPTED_FEEDBACK = ("{exercise}: reviewed by the course staff and accepted; its points "
                     "now count.\n")


class ReviewError(ValueError):
    """The decision cannot be made; the message says why."""


def accept(out_dir, student_id, exercise, why):
    """Releases `exercise` of `student_id` held in the grading run in `out_dir`.

    Returns:
        The student's new GradeResult.

    Raises:
        ReviewError: no such student in the run, the exercise is not held,
            or `why` is empty.
    """
    out_dir = Path(out_dir)
    if not why.strip():
        raise ReviewError("--why must say why the code is acceptable (it goes to the "
                          "audit file)")
    journal = Journal(out_dir)
    record = journal.records.get(student_id)
    if record is None:
        known = ", ".join(sorted(journal.records)) or "none"
        raise ReviewError(f"{student_id!r}: no such student in {journal.path} "
                          f"(students: {known})")
    held = record.get("held") or {}
    if exercise not in held:
        raise ReviewError(f"{student_id}: {exercise!r} is not held for review "
                          f"(held: {', '.join(held) or 'nothing'})")
    decided = copy.deepcopy(record)
    decided["scores"][exercise] = held[exercise]
    del decided["held"][exercise]
    decided["messages"].pop(exercise, None)
    decided["status"] = "review" if decided["held"] else "graded"
    decided["reason"] = "; ".join(part for part in (
        decided["reason"], f"{exercise}: accepted after review ({why.strip()})") if part)
    decided["total"] = sum(decided["scores"].values())
    result = result_of(decided, out_dir, grading.GradeResult)
    _rewrite_feedback(result, exercise)
    journal.add(decided)
    with open(out_dir / AUDIT_FILE, "a") as audit:
        audit.write(json.dumps({
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "by": getpass.getuser(),
            "student_id": student_id, "exercise": exercise, "points": held[exercise],
            "why": why.strip()}) + "\n")
    _rewrite_outputs(out_dir, journal)
    return result


def _rewrite_feedback(result, exercise):
    """Replaces the held note in the autograded notebook and makes its page anew."""
    if result.autograded is None or not Path(result.autograded).is_file():
        return
    notebook = nbformat.read(result.autograded, as_version=4)
    held_note = grading.HELD_FEEDBACK.format(exercise=exercise)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("text") == held_note:
                output["text"] = ACCEPTED_FEEDBACK.format(exercise=exercise)
    nbformat.write(notebook, result.autograded)
    with tempfile.TemporaryDirectory(prefix="review-") as scratch:
        course_root = course.clone_course(template_cache.template_course(),
                                          Path(scratch) / "course")
        _add_submission(course_root, result.student_id)
        course.set_scores(course_root, result.student_id, result.scores)
        target = course.autograded_notebook(course_root, result.student_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.autograded, target)
        page = course.generate_feedback(course_root, result.student_id, timeout=300)
        page.write_text(feedback.with_security_policy(page.read_text(errors="replace")))
        if result.feedback is not None:
            shutil.copyfile(page, result.feedback)


def _add_submission(course_root, student_id):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(course_root) / 'gradebook.db'}") as gradebook:
        gradebook.update_or_create_student(student_id)
        gradebook.add_submission(course.ASSIGNMENT, student_id)


def _rewrite_outputs(out_dir, journal):
    """grades.csv, results.json and the report, from the journal, for the same class."""
    previous = batch.read_results(out_dir)
    students = [r["student_id"] for r in previous["results"]]
    results = [result_of(journal.records[s], out_dir, grading.GradeResult)
               for s in students if s in journal.records]
    batch.write_grades(out_dir / batch.GRADES_FILE, results, previous["max_scores"])
    batch.write_results(out_dir / batch.RESULTS_FILE, results, previous["max_scores"],
                        previous.get("workers"), previous.get("isolation", ""))
    if (out_dir / report.REPORT_FILE).exists():
        report.write_report(out_dir)
