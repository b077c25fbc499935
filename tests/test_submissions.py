"""Finding submissions in folders and zips of either layout."""

import zipfile

import pytest

from autograder import course
from autograder.submissions import SubmissionsError, find_submissions, safe_student_id


def make_flat(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("{}")
    return folder


def make_nbgrader_layout(root, students):
    for student, notebooks in students.items():
        assignment = root / "submitted" / student / course.ASSIGNMENT
        assignment.mkdir(parents=True)
        for name in notebooks:
            (assignment / name).write_text("{}")
    return root


def zip_folder(folder, zip_path, prefix=""):
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in folder.rglob("*"):
            archive.write(path, prefix + str(path.relative_to(folder)))
    return zip_path


def ids(found):
    return [s.student_id for s in found]


def test_flat_folder_gives_one_submission_per_file(tmp_path):
    """Is every file a submission, named by its stem, non-notebooks included?"""
    folder = make_flat(tmp_path / "class", ["bob.ipynb", "alice.ipynb", "carol.txt"])
    (folder / ".DS_Store").write_text("")
    found = find_submissions(folder, tmp_path / "x")
    assert ids(found) == ["alice", "bob", "carol"]
    assert found[2].file == "carol.txt"
    assert found[2].path.read_text() == "{}"  # the grader's own copy
    assert not found[2].path.is_relative_to(folder)


def test_nbgrader_layout_accepts_a_renamed_notebook(tmp_path):
    """Does a student's only notebook count whatever it is called?"""
    root = make_nbgrader_layout(tmp_path, {"ann": [course.NOTEBOOK], "ben": ["Copy1.ipynb"]})
    found = find_submissions(root, tmp_path / "x")
    assert ids(found) == ["ann", "ben"]
    assert found[1].file.endswith("/Copy1.ipynb") and "renamed" in found[1].note


def test_nbgrader_layout_reports_missing_and_ambiguous_notebooks(tmp_path):
    """Does a student with no notebook, or several, get a row with a problem?"""
    root = make_nbgrader_layout(tmp_path, {"cy": [], "di": ["a.ipynb", "b.ipynb"]})
    found = {s.student_id: s for s in find_submissions(root, tmp_path / "x")}
    assert found["cy"].path is None and "no notebook" in found["cy"].problem
    assert found["di"].path is None and "2 notebooks" in found["di"].problem


@pytest.mark.parametrize("layout", ["flat", "nbgrader"])
@pytest.mark.parametrize("prefix", ["", "wrapped/"])
def test_zips_of_either_layout(tmp_path, layout, prefix):
    """Is a zip read like the folder it was made from, wrapped in a folder or not?"""
    source = tmp_path / "source"
    if layout == "flat":
        make_flat(source, ["ann.ipynb", "ben.ipynb"])
    else:
        make_nbgrader_layout(source, {"ann": [course.NOTEBOOK], "ben": [course.NOTEBOOK]})
    archive = zip_folder(source, tmp_path / "class.zip", prefix)
    assert ids(find_submissions(archive, tmp_path / "unpacked")) == ["ann", "ben"]


def test_zip_member_outside_the_archive_costs_only_its_own_row(tmp_path):
    """Is a member that points outside refused, naming it, while the rest is read?"""
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../escape.ipynb", "{}")
        z.writestr("ann.ipynb", "{}")
    found = {s.student_id: s for s in find_submissions(archive, tmp_path / "unpacked")}
    assert found["ann"].path is not None
    assert found["escape"].path is None and "outside the archive" in found["escape"].problem
    assert not (tmp_path / "escape.ipynb").exists()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing", "no such file or folder"),
        (lambda d: (d / "notes.txt").write_text("hi") and d / "notes.txt", "not a zip"),
        (lambda d: (d / "empty").mkdir() or d / "empty", "holds no submissions"),
    ],
    ids=["missing", "not_a_zip", "empty_folder"],
)
def test_unreadable_paths_fail_clearly(tmp_path, make, message):
    """Does a bad submissions path raise an error naming the path and the problem?"""
    path = make(tmp_path)
    with pytest.raises(SubmissionsError, match=message) as caught:
        find_submissions(path, tmp_path / "unpacked")
    assert str(path) in str(caught.value)


def test_ids_are_made_safe_and_distinct_whatever_the_order(tmp_path):
    """Do clashing names all get their own suffix, so that no id depends on order?"""
    folder = make_flat(tmp_path / "class", ["a b.ipynb", "a_b.ipynb", "x$.ipynb"])
    found = find_submissions(folder, tmp_path / "x")
    by_file = {s.file: s for s in found}
    assert by_file["x$.ipynb"].student_id == "x"
    clashing = [by_file["a b.ipynb"], by_file["a_b.ipynb"]]
    assert len({s.student_id for s in clashing}) == 2
    assert all(s.student_id.startswith("a_b-") and "share the id" in s.note
               for s in clashing)
    alone = find_submissions(make_flat(tmp_path / "other", ["a_b.ipynb", "a b.ipynb"]),
                             tmp_path / "y")
    assert {s.file: s.student_id for s in alone} == {s.file: s.student_id for s in clashing}
    assert safe_student_id("...") == "student"
