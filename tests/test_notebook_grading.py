"""The source notebook under real nbgrader, with real kernels."""

import shutil

import nbformat
import pytest

from autograder import course

GRADED = {"identity_block": 3.0, "convolutional_block": 3.0, "ResNet50": 4.0}
SOURCE_NOTEBOOK = course.SOURCE_ASSIGNMENT / course.NOTEBOOK
RELEASE_NOTEBOOK = course.ROOT / "assignment" / course.ASSIGNMENT / course.NOTEBOOK


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """One course, two students: the solution and the untouched release."""
    root = course.make_course(tmp_path_factory.mktemp("course"))
    course.submit(root, "solution", SOURCE_NOTEBOOK)
    course.submit(root, "untouched", RELEASE_NOTEBOOK)
    scores = {student: course.autograde(root, student)
              for student in ("solution", "untouched")}
    return root, scores


def error_outputs(notebook_path):
    """Maps each code cell's id to the name of the error it raised, if any."""
    notebook = nbformat.read(notebook_path, as_version=4)
    return {
        cell.id: output["ename"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output["output_type"] == "error"
    }


def test_solution_scores_full_marks(graded_course):
    """Does the solution earn every point under nbgrader autograde?"""
    _, scores = graded_course
    assert scores["solution"] == GRADED


def test_solution_runs_without_errors(graded_course):
    """Does every cell of the solution run, down to the last one, when graded?"""
    root, _ = graded_course
    assert error_outputs(course.autograded_notebook(root, "solution")) == {}


def test_untouched_release_scores_zero_on_not_implemented_error(graded_course):
    """Does the untouched release score 0, each exercise failing on NotImplementedError?"""
    root, scores = graded_course
    assert scores["untouched"] == {name: 0.0 for name in GRADED}
    errors = error_outputs(course.autograded_notebook(root, "untouched"))
    for grade_id in GRADED:
        assert errors.get(grade_id) == "NotImplementedError", (grade_id, errors)


def validate(notebook_path, folder):
    """Runs `nbgrader validate` on a copy of a notebook, beside the helpers."""
    notebook = folder / course.NOTEBOOK
    notebook.write_text(notebook_path.read_text())
    for helper in ("resnet_helpers", "images"):
        source = course.SOURCE_ASSIGNMENT / helper
        if source.exists():
            shutil.copytree(source, folder / helper)
    return course.run_nbgrader(folder, "validate", str(notebook)).stdout


def test_nbgrader_validate_passes_on_the_solution(tmp_path):
    """Does `nbgrader validate` report success on the source notebook?"""
    output = validate(SOURCE_NOTEBOOK, tmp_path)
    # nbgrader prints this line only when no test cell failed and no cell changed.
    assert "Success! Your notebook passes all the tests." in output, output


def test_nbgrader_validate_fails_on_the_untouched_release(tmp_path):
    """Does Validate tell a student that an unanswered notebook is not done? (The
    graded cells run the public checks, so it has something to fail on.)"""
    output = validate(RELEASE_NOTEBOOK, tmp_path)
    assert "Success!" not in output
    assert "NotImplementedError" in output, output
