"""Bad and adversarial submissions, graded in one batch beside honest ones.

The corpus (integrity_corpus.py) holds faults a student makes by accident and
cheats made on purpose, each with the outcome it must get. The whole corpus
is graded by `python -m autograder grade`, as an instructor would run it, with
a short cell timeout so the loops cost seconds; then the honest submissions
are graded again on their own, and their grades must not have moved.
About 12 minutes on two cores on a good day; 40 on 2026-12-01.
"""

import csv
import json
import subprocess
import sys

import pytest

from autograder import batch, course, report, sandbox
from tests import integrity_corpus as corpus
from tests.sharing import batch_workers

# Long enough for an honest cell on a slow day beside the full-notebook test
# (a 20 s timeout cut one on 2026-12-01), short enough that the loops cost
# a minute each.
CELL_TIMEOUT = 60
HONEST = [case for case in corpus.CASES if case.kind == "honest"]
pytestmark = pytest.mark.slow


def grade(submissions, out):
    """Runs the grade command; returns its grades.csv rows by student."""
    completed = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out),
         "--workers", str(batch_workers()), "--cell-timeout", str(CELL_TIMEOUT),
         "--submission-timeout", "400"],
        env=course.grading_environment(), capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-3000:]
    with open(out / batch.GRADES_FILE, newline="") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    submissions = corpus.write_corpus(tmp_path_factory.mktemp("corpus"))
    out = tmp_path_factory.mktemp("corpus-out")
    return out, grade(submissions, out)


@pytest.fixture(scope="module")
def graded_alone(tmp_path_factory):
    submissions = corpus.write_corpus(tmp_path_factory.mktemp("honest"), HONEST)
    return grade(submissions, tmp_path_factory.mktemp("honest-out"))


def test_corpus_is_big_enough():
    """Does the corpus hold at least 20 bad submissions, of every kind asked for?"""
    bad = [case for case in corpus.CASES if case.kind != "honest"]
    assert len(bad) >= 20
    assert {case.kind for case in bad} == {"fault", "cheat"}


def test_every_submission_gets_exactly_one_row(graded):
    """Does the batch finish with as many rows out as submissions in?"""
    _, rows = graded
    assert sorted(rows) == sorted(case.student for case in corpus.CASES)


@pytest.mark.parametrize("case", corpus.CASES, ids=[c.student for c in corpus.CASES])
def test_each_case_gets_its_outcome(graded, case):
    """Does each submission get the points, status and reason it must get?"""
    out, rows = graded
    row = rows[case.student]
    if case.scores is None:
        assert row["status"] == "failed", row
    else:
        assert row["status"] == "graded", row
        found = {exercise: float(row[exercise]) for exercise in case.scores}
        assert found == {k: float(v) for k, v in case.scores.items()}, row["reason"]
    assert case.reason in row["reason"], row["reason"]
    results = json.loads((out / batch.RESULTS_FILE).read_text())["results"]
    flags = next(r["flags"] for r in results if r["student_id"] == case.student)
    assert bool(flags) == case.flagged, flags


def test_honest_grades_do_not_depend_on_the_class(graded, graded_alone):
    """Are the honest students' rows identical to grading them on their own?"""
    _, rows = graded
    for student, alone in graded_alone.items():
        assert rows[student] == alone


def test_report_flags_the_cheats_and_says_how_kernels_were_isolated(graded):
    """Does the report list every cheat as flagged, and say whether kernels ran
    in the sandbox?"""
    out, _ = graded
    page = report.write_report(out).read_text()
    flagged_section = page.split("<h2>Flagged submissions</h2>")[1].split("<h2>")[0]
    for case in corpus.CASES:
        assert (case.student in flagged_section) == case.flagged, case.student
    sandboxed, isolation = sandbox.isolation("auto")
    assert isolation in page


def test_feedback_of_huge_output_stays_small(graded):
    """Is the feedback page of a 50 MB print cut to a readable size?"""
    out, _ = graded
    page = out / "feedback" / "fault_huge_output.html"
    assert page.stat().st_size < 2_000_000


@pytest.mark.skipif(bool(sandbox.bubblewrap_problem()), reason="no sandbox here")
def test_the_sandbox_kept_the_source_notebook_out_of_reach(graded):
    """Did the cheat that opens the source notebook meet FileNotFoundError?"""
    out, _ = graded
    notebook = (out / "autograded" / "cheat_read_source_notebook.ipynb").read_text()
    assert "FileNotFoundError" in notebook
