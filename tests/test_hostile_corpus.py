"""The hostile corpus through the real `grade` command, then an instructor's `accept`."""

import csv
import hashlib
import json
import subprocess
import sys

import nbformat
import pytest

from autograder import batch, course, review
from tests import hostile_corpus as corpus
from tests.sharing import batch_workers

pytestmark = pytest.mark.slow
CELL_TIMEOUT = 60


def run(*arguments):
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, arguments)],
                          env=course.grading_environment(), capture_output=True,
                          text=True)


def rows_of(out):
    with open(out / batch.GRADES_FILE, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def digests(paths):
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    class_dir = corpus.write_class(tmp_path_factory.mktemp("class"))
    canaries = [course.SOURCE_ASSIGNMENT / course.NOTEBOOK,
                *sorted((course.ROOT / "autograder").rglob("*.py"))]
    before = digests(canaries)
    out = tmp_path_factory.mktemp("out")
    completed = run("grade", class_dir, "--out", out, "--workers", batch_workers(),
                    "--cell-timeout", CELL_TIMEOUT, "--submission-timeout", 400)
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads((out / batch.RESULTS_FILE).read_text())["results"]
    by_file = {r["file"]: r for r in results}
    return {"out": out, "stderr": completed.stderr, "by_file": by_file,
            "rows": rows_of(out), "canaries": canaries, "before": before}


def record_of(graded, case):
    from autograder.safe_text import printable

    return graded["by_file"][printable(case.name)]


def test_every_hand_in_gets_exactly_one_row(graded):
    assert len(graded["rows"]) == len(corpus.CASES)
    assert len({row["student_id"] for row in graded["rows"]}) == len(corpus.CASES)


@pytest.mark.parametrize("case", corpus.CASES, ids=[c.label for c in corpus.CASES])
def test_each_case_gets_its_outcome(graded, case):
    record = record_of(graded, case)
    assert record["status"] == case.status, record["reason"]
    if case.scores is not None:
        assert record["scores"] == {k: float(v) for k, v in case.scores.items()}, (
            record["reason"])
    assert record["held"] == {k: float(v) for k, v in case.held.items()}, record["reason"]
    assert case.reason in record["reason"], record["reason"]
    cheats = [f for f in record["flags"] if f.startswith("flagged")]
    assert bool(cheats) == case.flagged, record["flags"]


def test_names_reach_the_outputs_printable_and_inert(graded):
    """Does every text cell of grades.csv, and the terminal, stay free of escapes
    and formulas?"""
    for row in graded["rows"]:
        for value in row.values():
            assert value.isprintable(), value
            assert not value.startswith(("=", "+", "-", "@")), value
    assert "\x1b" not in graded["stderr"]


def test_canaries_outside_out_are_untouched(graded):
    assert digests(graded["canaries"]) == graded["before"]


def test_the_report_has_a_section_for_held_exercises(graded):
    completed = run("report", graded["out"])
    assert completed.returncode == 0, completed.stderr
    page = (graded["out"] / "report.html").read_text()
    held = page.split("<h2>Held for review</h2>")[1].split("<h2>")[0]
    for case in corpus.CASES:
        student = record_of(graded, case)["student_id"]
        assert (f"<td>{student}</td>" in held) == bool(case.held), student
    assert "\x1b" not in page


def test_accept_releases_a_held_exercise_and_keeps_the_decision(graded):
    """Does accept give each held exercise its points, rewrite the row, the feedback
    and the report, and keep every decision in the audit file?"""
    out = graded["out"]
    case = next(c for c in corpus.CASES if c.label == "exec_block")
    student = record_of(graded, case)["student_id"]
    feedback = out / "feedback" / f"{student}.html"
    assert "held for review" in feedback.read_text()
    refused = run("accept", out, student, "ResNet50_typo", "--why", "read it")
    assert refused.returncode == 2 and "is not held" in refused.stderr
    for exercise in ("identity_block", "convolutional_block", "ResNet50"):
        done = run("accept", out, student, exercise, "--why", "exec only renames the "
                   "student's own block")
        assert done.returncode == 0, done.stderr
    row = next(r for r in rows_of(out) if r["student_id"] == student)
    assert (row["total"], row["status"]) == ("10", "graded"), row
    page = feedback.read_text()
    assert "accepted" in page and "held for review" not in page
    assert "Content-Security-Policy" in page[:3000]
    decisions = [json.loads(line) for line in (out / review.AUDIT_FILE).read_text()
                 .splitlines()]
    assert [d["exercise"] for d in decisions] == [
        "identity_block", "convolutional_block", "ResNet50"]
    assert all(d["student_id"] == student and d["why"] for d in decisions)
    autograded = nbformat.read(out / "autograded" / f"{student}.ipynb", as_version=4)
    assert "held for review" not in json.dumps(autograded)
    others = {r["student_id"]: r for r in rows_of(out)}
    assert {s: others[s] for s in others if s != student} == {
        r["student_id"]: r for r in graded["rows"] if r["student_id"] != student}
