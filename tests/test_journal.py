"""The journal: every finished grade kept, a run resumed, one failure one row.

grading.grade_submission is replaced by a stand-in here: what is tested is
what batch does with results, not grading itself (test_batch_grading and
the SIGKILL test there grade for real).
"""

import csv
import json
import os
import subprocess
import sys
import time

import pytest

from autograder import batch, grading, journal
from autograder.grading import GradeResult

FULL = {"identity_block": 3.0, "convolutional_block": 3.0, "ResNet50": 4.0}


@pytest.fixture
def class_dir(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("ann", "ben", "cy"):
        (folder / f"{name}.ipynb").write_text(json.dumps({"student": name}))
    return folder


@pytest.fixture
def graded_ids(monkeypatch):
    """Replaces grading with a stand-in that records whom it graded."""
    seen = []

    def stand_in(submission, template, work_dir, limits):
        seen.append(submission.student_id)
        if submission.student_id == "cy":
            raise RuntimeError("a bug in the grader")
        return GradeResult(submission.student_id, "graded", "", dict(FULL))

    monkeypatch.setattr(grading, "grade_submission", stand_in)
    return seen


def rows(out):
    with open(out / batch.GRADES_FILE, newline="") as f:
        return list(csv.DictReader(f))


def test_a_second_run_grades_only_what_the_journal_lacks(class_dir, tmp_path, graded_ids):
    out = tmp_path / "out"
    batch.grade_class(class_dir, out, workers=1, stream=open(os.devnull, "w"))
    assert sorted(graded_ids) == ["ann", "ben", "cy"]
    (class_dir / "dan.ipynb").write_text("{}")
    (class_dir / "ben.ipynb").write_text('{"changed": true}')  # a new hand-in: regraded
    graded_ids.clear()
    results = batch.grade_class(class_dir, out, workers=1, stream=open(os.devnull, "w"))
    assert sorted(graded_ids) == ["ben", "cy", "dan"]  # cy's row was a grader failure
    assert [r["student_id"] for r in rows(out)] == ["ann", "ben", "cy", "dan"]
    assert [r.student_id for r in results] == ["ann", "ben", "cy", "dan"]
    graded_ids.clear()
    batch.grade_class(class_dir, out, workers=1, restart=True, stream=open(os.devnull, "w"))
    assert sorted(graded_ids) == ["ann", "ben", "cy", "dan"]
    assert len(list(out.glob("results-*.jsonl"))) == 1  # the old journal, set aside


def test_a_grader_failure_costs_one_row_and_is_marked(class_dir, tmp_path, graded_ids):
    out = tmp_path / "out"
    results = {r.student_id: r for r in batch.grade_class(
        class_dir, out, workers=2, stream=open(os.devnull, "w"))}
    assert results["cy"].status == "failed" and results["cy"].grader_failed
    assert "a bug in the grader" in results["cy"].reason
    assert [r["total"] for r in rows(out)] == ["10", "10", "0"]
    assert json.loads((out / batch.RESULTS_FILE).read_text())["results"][2]["grader_failed"]


def test_a_row_whose_files_cannot_be_copied_fails_alone(class_dir, tmp_path, graded_ids,
                                                       monkeypatch):
    def copy_outputs(result, out_dir):
        if result.student_id == "ann":
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(grading, "copy_outputs", copy_outputs)
    out = tmp_path / "out"
    results = {r.student_id: r for r in batch.grade_class(
        class_dir, out, workers=1, stream=open(os.devnull, "w"))}
    assert results["ann"].status == "failed" and "No space left" in results["ann"].reason
    assert results["ben"].status == "graded"
    assert len(rows(out)) == 3


def record(student_id, digest="a", settings="s", **fields):
    return {**journal.record_of(GradeResult(student_id, "graded", "", dict(FULL),
                                            digest=digest, settings=settings), "/"),
            **fields}


def test_a_line_cut_short_by_a_kill_is_skipped_and_the_next_starts_clean(tmp_path):
    out = tmp_path
    log = journal.Journal(out)
    log.add(record("ann"))
    with open(out / journal.JOURNAL_FILE, "ab") as f:
        f.write(b'{"student_id": "ben", "dig')  # the kill came mid-line
    log = journal.Journal(out)
    assert set(log.records) == {"ann"}
    log.add(record("ben", digest="b"))
    assert set(journal.Journal(out).records) == {"ann", "ben"}
    assert journal.Journal(out).finished("ben", "b", "s")
    assert not journal.Journal(out).finished("ben", "b", "other settings")


def test_a_damaged_record_is_regraded_not_a_crash(tmp_path):
    log = journal.Journal(tmp_path)
    log.add(record("ann", scores={"identity_block": "3"}))
    log.add(record("ben", status=None))
    log.add(record(7))
    log.add(record("cy"))
    assert set(journal.Journal(tmp_path).records) == {"cy"}


def test_a_linked_journal_is_refused(tmp_path):
    target = tmp_path / "elsewhere.jsonl"
    target.write_text("")
    (tmp_path / journal.JOURNAL_FILE).symlink_to(target)
    with pytest.raises(ValueError, match="symbolic link"):
        journal.Journal(tmp_path)


def test_atomic_writes_leave_the_old_file_or_the_new(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text("old")
    journal.write_atomically(path, "new")
    assert path.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == [
        "grades.csv"]


def test_settings_key_ignores_threads_but_not_limits(tmp_path):
    limits = grading.Limits()
    key = journal.settings_key(tmp_path / "course-abc", limits)
    assert key == journal.settings_key(tmp_path / "course-abc",
                                       grading.Limits(threads=3))
    assert key != journal.settings_key(tmp_path / "course-abc",
                                       grading.Limits(cell_seconds=5))
    assert key != journal.settings_key(tmp_path / "course-xyz", limits)


@pytest.mark.slow
def test_killed_mid_batch_then_resumed_every_hand_in_has_one_row(tmp_path):
    """SIGKILL the grader while it grades, run it again: does every submission end
    with exactly one row, the finished ones kept, the honest grades right, and no
    sandboxed process left behind?"""
    from autograder import course, demo_class
    from tests.sharing import sandboxed_processes

    class_dir = tmp_path / "class"
    class_dir.mkdir()
    demo = {p.stem: p for p in demo_class.write_demo_class(tmp_path / "demo")}
    (class_dir / "a_broken.ipynb").write_text('{"cells": [')
    (class_dir / "b_mistake.ipynb").write_bytes(demo["bao_shortcut_after_relu"].read_bytes())
    (class_dir / "c_solution.ipynb").write_bytes(
        (course.SOURCE_ASSIGNMENT / course.NOTEBOOK).read_bytes())
    out = tmp_path / "out"
    command = [sys.executable, "-m", "autograder", "grade", str(class_dir), "--out",
               str(out), "--workers", "1"]
    grader = subprocess.Popen(command, env=course.grading_environment(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal_path = out / journal.JOURNAL_FILE
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and grader.poll() is None:
        lines = journal_path.read_text().splitlines() if journal_path.exists() else []
        if len(lines) >= 2:  # the broken file and the mistake: the solution is next
            break
        time.sleep(1)
    time.sleep(15)  # well into the solution's grading
    assert grader.poll() is None, "the grader finished before it could be killed"
    grader.kill()  # SIGKILL: no clean-up of any kind
    grader.wait()
    assert not (out / batch.GRADES_FILE).exists()
    finished = {json.loads(line)["student_id"]: json.loads(line)
                for line in journal_path.read_text().splitlines()}
    assert set(finished) == {"a_broken", "b_mistake"}
    time.sleep(2)  # the sandboxes die with their parents
    assert sandboxed_processes() == []

    completed = subprocess.run(command, env=course.grading_environment(),
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "2 of 3 submissions are already graded" in completed.stderr
    grades = rows(out)
    assert [r["student_id"] for r in grades] == ["a_broken", "b_mistake", "c_solution"]
    by_id = {r["student_id"]: r for r in grades}
    assert (by_id["c_solution"]["total"], by_id["c_solution"]["status"]) == ("10", "graded")
    assert by_id["b_mistake"]["total"] == f"{finished['b_mistake']['total']:g}"
    assert by_id["b_mistake"]["identity_block"] == "0"
    assert by_id["a_broken"]["status"] == "failed"
