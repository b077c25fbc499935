"""Deleted test cells come back; what happened to a notebook is put into words."""

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder import course, notebook_notes, repair


def source_notebook():
    return nbformat.read(course.SOURCE_ASSIGNMENT / course.NOTEBOOK, as_version=4)


def grade_ids(notebook):
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in notebook.cells]


def without(notebook, grade_id):
    copy = nbformat.from_dict(notebook)
    copy.cells = [c for c in copy.cells
                  if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return copy


def test_a_deleted_test_cell_goes_back_where_it_was():
    """Does a deleted test cell return right after the cell that preceded it in
    the source?"""
    source = source_notebook()
    student = without(source, "identity_block")
    assert repair.restore_test_cells(student, source) == ["identity_block"]
    assert grade_ids(student) == grade_ids(source)


def test_every_deleted_test_cell_goes_back_in_order():
    """With all three test cells deleted, do they come back in the source's
    order, each after its own solution cell?"""
    source = source_notebook()
    student = source
    for grade_id in ("identity_block", "convolutional_block", "ResNet50"):
        student = without(student, grade_id)
    restored = repair.restore_test_cells(student, source)
    assert restored == ["identity_block", "convolutional_block", "ResNet50"]
    ids = [g for g in grade_ids(student) if g]
    assert ids.index("identity_block_solution") < ids.index("identity_block") < ids.index(
        "convolutional_block_solution")


def test_a_complete_notebook_is_left_alone():
    """Is a notebook with all its test cells unchanged?"""
    source = source_notebook()
    student = nbformat.from_dict(source)
    assert repair.restore_test_cells(student, source) == []
    assert student == source


def test_changed_deleted_and_duplicated_test_cells_are_noted():
    """Are a deleted, an edited and a duplicated test cell each named?"""
    source = source_notebook()
    student = without(source, "identity_block")
    for cell in student.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "convolutional_block":
            cell.source = 'print("All tests passed")'
        if grade_id == "ResNet50":
            duplicate = nbformat.from_dict(cell)
    student.cells.append(duplicate)
    notes = notebook_notes.test_cell_changes(student, source)
    assert notes == [
        "test cell identity_block was deleted; the grader put it back",
        "test cell convolutional_block was changed; the grader ran the instructor's version",
        "test cell ResNet50 appears 2 times; the grader ran the instructor's version once",
    ]


def test_a_released_notebook_is_not_noted_for_its_stripped_hidden_tests():
    """Is the release's test cell, whose hidden tests were stripped, not 'changed'?"""
    release = nbformat.read(course.ROOT / "assignment" / course.ASSIGNMENT / course.NOTEBOOK,
                            as_version=4)
    assert notebook_notes.test_cell_changes(release, source_notebook()) == []


def test_faults_in_ungraded_cells_are_noted_with_their_cell_number():
    """Are a timeout and a killed kernel noted, and an ordinary error not?"""
    notebook = new_notebook(cells=[
        new_code_cell("x = 1"),
        new_code_cell("while True: pass", outputs=[new_output(
            "error", ename="CellTimeoutError", evalue="", traceback=[])]),
        new_code_cell("1 / 0", outputs=[new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])]),
        new_code_cell("import os; os._exit(0)", outputs=[new_output(
            "error", ename="KernelDied", evalue="the kernel stopped", traceback=[])]),
        new_code_cell("while True: pass", outputs=[
            new_output("error", ename="CellTimeoutError", evalue="", traceback=[]),
            new_output("error", ename="KernelRestarted", evalue="restarted", traceback=[])]),
    ])
    assert notebook_notes.cell_faults(notebook) == [
        "cell 2: CellTimeoutError", "cell 4: KernelDied (the kernel stopped)",
        "cell 5: CellTimeoutError, then KernelRestarted (restarted)"]


def test_a_duplicated_test_cell_is_dropped_and_a_solution_copy_kept():
    """Does a copied test cell leave one copy, and a copied solution cell stay as
    the student's own code, graded on its last copy, with no nbgrader
    metadata left on the first (which nbgrader would reject)?"""
    source = source_notebook()
    student = nbformat.from_dict(source)
    for grade_id in ("identity_block", "convolutional_block_solution"):
        index = grade_ids(student).index(grade_id)
        student.cells.insert(index, nbformat.from_dict(student.cells[index]))
    assert repair.drop_duplicates(student) == ["convolutional_block_solution",
                                               "identity_block"]
    assert len(student.cells) == len(source.cells) + 1
    ids = grade_ids(student)
    assert ids.count("identity_block") == 1 and ids.count("convolutional_block_solution") == 1
    copy = ids.index("convolutional_block_solution") - 1
    assert "nbgrader" not in student.cells[copy].metadata
