"""The host takes each exercise's export out of its cell, checks and bounds it,
and keeps the first one only."""

import json

import pytest
from nbformat import v4

from autograder import snapshot
from autograder.kernel.channel import EXPORT_MIME, MANIFEST

EXERCISE = "identity_block"


def cell_with(*payloads, other_outputs=()):
    cell = v4.new_code_cell("hidden test")
    cell.outputs = [*other_outputs, *(
        v4.new_output("display_data", data={EXPORT_MIME: payload}) for payload in payloads)]
    return cell


def payload(files=None, exercise=EXERCISE):
    return {"exercise": exercise,
            "files": files if files is not None else {
                "case0.model.json": '{"class_name": "Functional"}',
                MANIFEST: json.dumps({"saved": ["case0"]})}}


def test_an_export_is_moved_out_of_the_cell_into_the_snapshot(tmp_path):
    """Is the export written to the grader's folder and removed from the cell,
    leaving the cell's other outputs alone?"""
    printed = v4.new_output("stream", name="stdout", text="built\n")
    cell = cell_with(payload(), other_outputs=[printed])
    assert snapshot.take_exports(cell, EXERCISE, tmp_path) == ""
    assert cell.outputs == [printed]
    assert (tmp_path / EXERCISE / "case0.model.json").read_text() == '{"class_name": "Functional"}'
    assert json.loads((tmp_path / EXERCISE / MANIFEST).read_text()) == {"saved": ["case0"]}


def test_only_the_first_export_of_an_exercise_counts(tmp_path):
    """Once an exercise's export is taken, does a later one leave it unchanged?"""
    snapshot.take_exports(cell_with(payload()), EXERCISE, tmp_path)
    later = payload({"case0.model.json": "forged", MANIFEST: "{}"})
    assert "already taken" in snapshot.take_exports(cell_with(later), EXERCISE, tmp_path)
    assert (tmp_path / EXERCISE / "case0.model.json").read_text() != "forged"


@pytest.mark.parametrize("payloads, reason", [
    ((payload(), payload()), "2 exports instead of one"),
    ((payload(exercise="ResNet50"),), "claims to be 'ResNet50'"),
    ((payload({"../../grader.py": "x"}),), "unexpected name"),
    ((payload({"/etc/passwd": "x"}),), "unexpected name"),
    ((payload({"case0.model.json": 42}),), "not text"),
    ((payload({"case0.model.json": "x" * (snapshot.MAX_EXERCISE_BYTES + 1)}),), "bytes, over"),
    ((payload({f"case{i}.model.json": "{}" for i in range(snapshot.MAX_FILES + 1)}),), "1 to"),
    ((payload({MANIFEST: "not json"}),), "manifest is not JSON"),
    (({"exercise": EXERCISE, "files": {}, "extra": 1},), "format"),
    (("a string",), "format"),
])
def test_a_bad_export_is_refused_with_its_reason(tmp_path, payloads, reason):
    """Is an export that is doubled, mislabelled, oddly named, not text, too big
    or malformed refused, nothing of it kept but the grader's reason?"""
    problem = snapshot.take_exports(cell_with(*payloads), EXERCISE, tmp_path)
    assert reason in problem
    assert sorted(p.name for p in (tmp_path / EXERCISE).iterdir()) == [snapshot.REFUSED]
    assert reason in snapshot.refusal(tmp_path / EXERCISE)
    assert not (tmp_path.parent / "grader.py").exists()


def test_a_cell_that_sent_nothing_leaves_an_empty_folder(tmp_path):
    """Does a hidden test that sent nothing leave an empty folder, which the
    verifier reads as 'nothing saved', and block a later export?"""
    assert snapshot.take_exports(cell_with(), EXERCISE, tmp_path) == ""
    assert list((tmp_path / EXERCISE).iterdir()) == []
    assert "already taken" in snapshot.take_exports(cell_with(payload()), EXERCISE, tmp_path)
