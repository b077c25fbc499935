"""A small class graded in parallel by real nbgrader, then reported on."""

import csv
import json

import nbformat
import pytest

from autograder import batch, course, demo_class, report

REQUIRED_COLUMNS = ["student_id", "file", "identity_block", "convolutional_block",
                    "ResNet50", "total", "max_total", "status", "reason"]


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """The solution, one mistake, a broken notebook and a non-notebook, 2 workers."""
    class_dir = tmp_path_factory.mktemp("class")
    demo = {p.stem: p for p in demo_class.write_demo_class(tmp_path_factory.mktemp("demo"))}
    (class_dir / "solution.ipynb").write_bytes(
        (course.SOURCE_ASSIGNMENT / course.NOTEBOOK).read_bytes())
    (class_dir / "mistake.ipynb").write_bytes(demo["bao_shortcut_after_relu"].read_bytes())
    (class_dir / "broken.ipynb").write_text('{"cells": [')
    (class_dir / "essay.txt").write_text("I did not do the assignment.")
    out = tmp_path_factory.mktemp("out")
    results = batch.grade_class(class_dir, out, workers=2)
    return out, {r.student_id: r for r in results}


def read_grades(out):
    with open(out / batch.GRADES_FILE, newline="") as f:
        return list(csv.DictReader(f))


def test_every_submission_gets_exactly_one_row(graded_class):
    """Are there as many rows out as submissions in, with the required columns?"""
    out, _ = graded_class
    rows = read_grades(out)
    assert sorted(r["student_id"] for r in rows) == ["broken", "essay", "mistake", "solution"]
    assert list(rows[0].keys()) == REQUIRED_COLUMNS


def test_solution_gets_full_marks_and_clean_feedback(graded_class):
    """Does the solution score 10/10 and get a feedback page?"""
    out, results = graded_class
    row = next(r for r in read_grades(out) if r["student_id"] == "solution")
    assert (row["total"], row["max_total"], row["status"], row["reason"]) == (
        "10", "10", "graded", "")
    assert (out / "feedback" / "solution.html").is_file()


def test_solution_runs_without_errors_in_the_sandbox(graded_class):
    """Does every cell of the solution, section 9's saved results included, run
    without an error in the sandboxed kernel?"""
    out, _ = graded_class
    notebook = nbformat.read(out / "autograded" / "solution.ipynb", as_version=4)
    errors = [(index, output.ename) for index, cell in enumerate(notebook.cells)
              for output in cell.get("outputs", []) if output.output_type == "error"]
    assert errors == []


def test_mistake_loses_the_exercise_and_feedback_hides_test_code(graded_class):
    """Does the shortcut-after-ReLU mistake lose identity_block, with a message
    in the feedback and no test code there?"""
    out, results = graded_class
    mistake = results["mistake"]
    assert mistake.status == "graded"
    assert mistake.scores["identity_block"] == 0 and mistake.scores["convolutional_block"] == 3
    assert "identity_block" in mistake.reason
    page = (out / "feedback" / "mistake.html").read_text()
    assert "VerificationFailure" in page and "diagnosis: shortcut_after_relu" in page
    for leak in ("HIDDEN TESTS", "autograder", "grade_identity_block", "RELATIVE_TOLERANCE"):
        assert leak not in page, leak


def test_broken_files_fail_with_a_reason_and_keep_their_row(graded_class):
    """Do a corrupt notebook and a text file fail with a reason naming the file?"""
    out, results = graded_class
    assert results["broken"].status == "failed"
    assert "broken.ipynb is not a readable notebook" in results["broken"].reason
    assert results["essay"].status == "failed" and "essay.txt" in results["essay"].reason


def test_results_json_and_autograded_notebooks_are_written(graded_class):
    """Does the run leave results.json and the executed notebooks for the instructor?"""
    out, _ = graded_class
    data = json.loads((out / batch.RESULTS_FILE).read_text())
    assert data["workers"] == 2 and len(data["results"]) == 4
    nbformat.read(out / "autograded" / "solution.ipynb", as_version=4)


def test_report_shows_plots_mistakes_and_failures(graded_class):
    """Does the report embed its plots and list the failed submissions and why?"""
    out, _ = graded_class
    page = report.write_report(out).read_text()
    assert page.count("data:image/png;base64,") == 2
    assert "broken.ipynb is not a readable notebook" in page
    assert "essay" in page and "Most common mistakes" in page


def test_report_on_a_folder_without_results_fails_clearly(tmp_path):
    """Does `report` on a folder that was never graded name the missing file?"""
    with pytest.raises(ValueError, match="results.json: not found"):
        report.write_report(tmp_path)
