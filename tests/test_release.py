"""The student release is generated, current, and leaks nothing."""

import filecmp
import zipfile

import nbformat
import pytest

from autograder import course, leaks, release

RELEASED = course.ROOT / "assignment" / course.ASSIGNMENT
SOURCE_NOTEBOOK = course.SOURCE_ASSIGNMENT / course.NOTEBOOK


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    return release.generate_release(tmp_path_factory.mktemp("release"))


def relative_files(folder):
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )


def release_files(folder=RELEASED):
    return {name: folder / name for name in relative_files(folder)}


def test_committed_release_equals_a_fresh_one(fresh_release):
    """Is assignment/ exactly what nbgrader generates from solutions/ today?"""
    assert relative_files(RELEASED) == relative_files(fresh_release), (
        "assignment/ is out of date: run `make release`"
    )
    differing = [
        name for name in relative_files(fresh_release)
        if not filecmp.cmp(RELEASED / name, fresh_release / name, shallow=False)
    ]
    assert differing == [], f"assignment/ is out of date in {differing}: run `make release`"


def test_committed_release_has_no_leaks():
    """Does the leak scan find no solution, hidden test or grader in assignment/?"""
    assert leaks.find_leaks(release_files()) == []


def test_leak_scan_has_solution_lines_to_look_for():
    """Does the scan know enough solution lines to catch a leaked answer?"""
    source = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    assert len(leaks.solution_lines(source)) > 20


@pytest.mark.parametrize("leaked_name, leaked_text, finding", [
    ("residual_networks/Residual_Networks.ipynb", None, "contains the marker"),
    ("residual_networks/resnet_helpers/extra.py",
     "from autograder.checks import grade_resnet50\n", "mentions the grader"),
    ("residual_networks/resnet_helpers/extra.py",
     '    X = layers.Add()([X, X_shortcut])\n', "contains solution code"),
    ("residual_networks/reference.py", "pass\n", "a grader or instructor file"),
], ids=["source_notebook", "grader_import", "solution_line", "reference_file"])
def test_leak_scan_catches_each_kind_of_leak(tmp_path, leaked_name, leaked_text, finding):
    """Is each kind of leak found and named, file and all?"""
    files = release_files()
    leaked = tmp_path / "leaked"
    if leaked_text is None:  # the whole source notebook in place of the release's
        leaked.write_bytes(SOURCE_NOTEBOOK.read_bytes())
    else:
        leaked.write_text(leaked_text)
    files[leaked_name] = leaked
    found = leaks.find_leaks(files)
    assert any(leaked_name in f and finding in f for f in found), found


def test_bundle_holds_release_and_data_only(tmp_path):
    """Does the student zip hold the notebook, helpers, sample and data, nothing else?"""
    bundle = release.write_student_bundle(dist_dir=tmp_path)
    names = set(zipfile.ZipFile(bundle).namelist())
    prefix = course.ASSIGNMENT + "/"
    assert {prefix + course.NOTEBOOK, prefix + "resnet_helpers/signs.py",
            prefix + "images/sample_sign.png", prefix + "data/train_signs.h5",
            prefix + "data/test_signs.h5", prefix + "data/experiments/degradation.json"} <= names
    assert all(n.startswith(prefix) for n in names)
    assert not any("solutions" in n or "autograder" in n or "__pycache__" in n for n in names)


def test_bundle_is_refused_when_the_release_leaks(tmp_path):
    """Is no bundle written when the release holds the source notebook?"""
    leaky = tmp_path / "release"
    leaky.mkdir()
    (leaky / course.NOTEBOOK).write_bytes(SOURCE_NOTEBOOK.read_bytes())
    with pytest.raises(leaks.LeakError, match="BEGIN SOLUTION"):
        release.write_student_bundle(release_dir=leaky, dist_dir=tmp_path / "dist")
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())
