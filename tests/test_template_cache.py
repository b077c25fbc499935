"""The made course kept between grading runs: reused while valid, remade when not."""

import shutil

import pytest

from autograder import course, template_cache


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """A cache folder with one course made from the source assignment."""
    folder = tmp_path_factory.mktemp("cache")
    return folder, template_cache.template_course(folder=folder)


def test_a_kept_course_is_reused_without_running_nbgrader(kept, monkeypatch):
    """Does a second grading run get the same course, without making it again?"""
    folder, first = kept

    def must_not_run(*args, **kwargs):
        raise AssertionError("make_course ran although the course was kept")

    monkeypatch.setattr(course, "make_course", must_not_run)
    assert template_cache.template_course(folder=folder) == first


def test_the_kept_course_names_its_own_folder(kept):
    """Does the kept course's configuration point at where it is kept, not at
    the temporary folder it was made in?"""
    _, kept_course = kept
    config = (kept_course / "nbgrader_config.py").read_text()
    assert repr(str(kept_course)) in config
    assert f"sqlite:///{kept_course}/gradebook.db" in config
    assert "making-" not in config
    assert course.max_scores(kept_course) == {
        "identity_block": 3, "convolutional_block": 3, "ResNet50": 4}


def test_an_edited_notebook_or_timeout_gets_a_new_course(kept, tmp_path):
    """Is a changed source assignment or cell timeout never served the old course?"""
    folder, first = kept
    edited = tmp_path / "source"
    shutil.copytree(course.SOURCE_ASSIGNMENT, edited,
                    ignore=shutil.ignore_patterns("__pycache__"))
    notebook = edited / course.NOTEBOOK
    notebook.write_text(notebook.read_text().replace("Residual Networks", "ResNets", 1))
    assert template_cache.template_key(edited, 120) != first.name.removeprefix("course-")
    assert template_cache.template_key(course.SOURCE_ASSIGNMENT, 30) != \
        template_cache.template_key(course.SOURCE_ASSIGNMENT, 120)
    remade = template_cache.template_course(source_assignment=edited, folder=folder)
    assert remade != first
    made_notebook = remade / "release" / course.ASSIGNMENT / course.NOTEBOOK
    assert "ResNets" in made_notebook.read_text()


def test_a_run_that_loses_the_race_uses_the_winners_course(kept, monkeypatch):
    """When another run keeps the same course first, is that course used and
    nothing half-made left behind?"""
    folder, first = kept
    shutil.rmtree(first)

    def another_run_finished_first(source, target):
        shutil.copytree(source, target)
        raise OSError(39, "Directory not empty")

    monkeypatch.setattr(template_cache.os, "rename", another_run_finished_first)
    assert template_cache.template_course(folder=folder) == first
    assert (first / "gradebook.db").is_file()
    assert not list(folder.glob("making-*"))
