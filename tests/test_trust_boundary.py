"""Attacks on the trust boundary, graded in one batch beside an honest submission.

The corpus (trust_boundary_corpus.py) holds attacks by a student who has read
the grader. The batch is graded by `python -m autograder grade`, as an
instructor runs it; a second batch then holds the honest submission again and
an attack that looks for what the first batch left behind. Afterwards the
canary files outside every workspace, and the grader's own files, must be
byte-identical with the same permissions, and no sandboxed process may be left.
"""

import csv
import hashlib
import json
import subprocess
import sys

import pytest

from autograder import batch, course, sandbox
from tests import trust_boundary_corpus as corpus
from tests.sharing import batch_workers, sandboxed_processes

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    bool(sandbox.bubblewrap_problem()),
    reason=f"the boundary needs the sandbox: {sandbox.bubblewrap_problem()}")]
CELL_TIMEOUT = 30
SECOND_BATCH = ("honest_solution", "p4_reads_what_others_left")
FIRST_BATCH = [case for case in corpus.CASES if case.student != SECOND_BATCH[1]]


def fingerprint(paths):
    """path -> (sha256 of the bytes, mode), for files that must not change."""
    return {str(path): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mode)
            for path in paths}


def grader_files():
    return sorted(path for path in (course.ROOT / "autograder").rglob("*.py"))


def grade(submissions, out):
    completed = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out),
         "--workers", str(batch_workers()), "--cell-timeout", str(CELL_TIMEOUT),
         "--submission-timeout", "400", "--sandbox", "bubblewrap"],
        env=course.grading_environment(), capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-3000:]
    with open(out / batch.GRADES_FILE, newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    return as_if_accepted(rows, out)


def as_if_accepted(rows, out):
    """The rows as they would be once an instructor accepted every held exercise.

    The attacks compute their names at run time, so the scan holds the
    exercises they could reach for review. What is tested here is the
    boundary itself: even an accepted attack must not earn a point more
    than the honest work.
    """
    results = json.loads((out / batch.RESULTS_FILE).read_text())["results"]
    for record in results:
        row = rows[record["student_id"]]
        for exercise, points in record.get("held", {}).items():
            row[exercise] = f"{points:g}"
        if row["status"] == "review":
            row["status"] = "graded"
    return rows


@pytest.fixture(scope="module")
def canaries(tmp_path_factory):
    folder = tmp_path_factory.mktemp("canary")
    (folder / "victim.txt").write_text("canary: must not change\n")
    (folder / "secret.txt").write_text("canary: must not be read\n")
    (folder / "secret.txt").chmod(0o600)
    return folder


@pytest.fixture(scope="module")
def graded(tmp_path_factory, canaries):
    before = fingerprint([*canaries.iterdir(), *grader_files()])
    first = grade(corpus.write_corpus(tmp_path_factory.mktemp("batch1"), canaries,
                                      FIRST_BATCH), out := tmp_path_factory.mktemp("out1"))
    left_after_first = sandboxed_processes()
    second_cases = [case for case in corpus.CASES if case.student in SECOND_BATCH]
    second = grade(corpus.write_corpus(tmp_path_factory.mktemp("batch2"), canaries,
                                       second_cases), tmp_path_factory.mktemp("out2"))
    return {"first": first, "second": second, "out": out, "before": before,
            "left_after_first": left_after_first}


def test_corpus_is_big_enough():
    """Does the corpus hold at least 25 attacks, at least two per property?"""
    attacks = [case for case in corpus.CASES if case.kind == "attack"]
    assert len(attacks) >= 25
    for prefix in ("p1_", "p2_", "p3_", "p4_"):
        assert sum(case.student.startswith(prefix) for case in attacks) >= 2, prefix


def test_every_batch_completes_with_one_row_each(graded):
    """Does each batch end with one graded row per submission?"""
    assert sorted(graded["first"]) == sorted(case.student for case in FIRST_BATCH)
    assert sorted(graded["second"]) == sorted(SECOND_BATCH)
    assert all(row["status"] == "graded" for row in graded["first"].values())


@pytest.mark.parametrize("case", corpus.CASES, ids=[c.student for c in corpus.CASES])
def test_each_attack_is_held(graded, case):
    """Does each submission get exactly the points its honest work earns, with
    the reason that names what was refused or hit?"""
    rows = graded["second"] if case.student == SECOND_BATCH[1] else graded["first"]
    row = rows[case.student]
    assert row["status"] == "graded", row
    found = {exercise: float(row[exercise]) for exercise in case.scores}
    assert found == {k: float(v) for k, v in case.scores.items()}, row["reason"]
    assert case.reason in row["reason"], row["reason"]


# What a held attack may leave in its own cells: the signs of a fault survived.
FAULT_SIGNS = {"KernelDied", "KernelRestarted", "CellTimeoutError"}


@pytest.mark.parametrize("case", FIRST_BATCH, ids=[c.student for c in FIRST_BATCH])
def test_each_attack_ran_to_its_end(graded, case):
    """Did every ungraded cell run without an error (its own asserts included)
    but the signs of a fault it caused, so no attack "held" by merely failing
    to start?"""
    notebook = json.loads((graded["out"] / "autograded" / f"{case.student}.ipynb")
                          .read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code" or cell["metadata"].get("nbgrader", {}).get("grade"):
            continue
        errors = {o["ename"] for o in cell["outputs"] if o["output_type"] == "error"}
        assert errors <= FAULT_SIGNS, (errors, "".join(cell["source"])[:300],
                                       [o.get("evalue") for o in cell["outputs"]])


def test_honest_grades_do_not_depend_on_the_batch(graded):
    """Is the honest row the same beside 25 attacks as in a batch of its own kind?"""
    assert graded["first"]["honest_solution"] == graded["second"]["honest_solution"]


def test_canaries_and_the_grader_are_untouched(graded, canaries):
    """Are the canaries outside the workspaces, and every grader file, byte-identical
    with the same permissions, with nothing planted beside them?"""
    after = fingerprint([*canaries.iterdir(), *grader_files()])
    assert after == graded["before"]


def test_no_sandboxed_process_outlives_its_batch(graded):
    """Did the fork bomb's children and the daemon die with their submissions?"""
    assert graded["left_after_first"] == []
    assert sandboxed_processes() == []


def test_messages_carry_no_grader_path(graded):
    """Do no reason and no verdict name the checkout or the grader's workspace?"""
    for row in graded["first"].values():
        assert str(course.ROOT) not in row["reason"], row["reason"]
        assert "/tmp/grading-" not in row["reason"], row["reason"]


def test_feedback_pages_stay_within_their_limit(graded):
    """Is every feedback page, the huge-output attack's included, small?"""
    for page in (graded["out"] / "feedback").iterdir():
        assert page.stat().st_size < 8 * 2**20, page.name
    results = json.loads((graded["out"] / batch.RESULTS_FILE).read_text())
    assert "unprivileged" in results["isolation"]
