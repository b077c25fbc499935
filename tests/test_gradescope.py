"""The Gradescope autograder zip, unpacked and run as Gradescope runs it.

Each run below is real: the unpacked run_autograder script, real nbgrader
and a real kernel. setup.sh is not run (it installs Python with apt): this
venv's python3 goes first on PATH in its place. One graded submission takes
~30 s; the others fail before any course is made and take ~2 s each.
"""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from nbformat import v4

from autograder import course, gradescope, grading, sandbox
from tests.trust_boundary_corpus import hide

# The field names Gradescope's autograder specification defines.
SPEC_TOP_LEVEL_FIELDS = {
    "score", "execution_time", "output", "output_format", "test_output_format",
    "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests",
    "leaderboard",
}
SPEC_TEST_FIELDS = {
    "score", "max_score", "status", "name", "name_format", "number", "output",
    "output_format", "tags", "visibility", "extra_data",
}
SPEC_VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
MAX_SCORES = {"identity_block": 3, "convolutional_block": 3, "ResNet50": 4}
ZIP_ROOT_ENTRIES = {"setup.sh", "run_autograder", "requirements.txt",
                    "requirements-lock.txt", "autograder", "solutions", "data"}
RUN_TIMEOUT_SECONDS = 400


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return gradescope.build_package(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def graded_solution(package, tmp_path_factory):
    root = autograder_root(package, tmp_path_factory.mktemp("autograder"))
    (root / "submission" / course.NOTEBOOK).write_bytes(
        (course.SOURCE_ASSIGNMENT / course.NOTEBOOK).read_bytes())
    return run_autograder(root)


def autograder_root(package, folder):
    """A folder laid out as Gradescope's /autograder, with the zip in source/."""
    with zipfile.ZipFile(package) as archive:
        archive.extractall(folder / "source")
    (folder / "submission").mkdir()
    (folder / "results").mkdir()
    return folder


def run_autograder(root):
    """Runs the unpacked run_autograder with bash; returns results.json's content.

    PYTHONPATH and SIGNS_DATA_DIR are removed, so the grader and the data
    come from the unpacked zip, not from this repository.
    """
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "SIGNS_DATA_DIR")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["AUTOGRADER_ROOT"] = str(root)
    finished = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")], cwd=root / "submission",
        env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return json.loads((root / "results" / gradescope.RESULTS_FILE).read_text())


def assert_follows_the_spec(results):
    assert set(results) <= SPEC_TOP_LEVEL_FIELDS, set(results) - SPEC_TOP_LEVEL_FIELDS
    assert isinstance(results["score"], float | int)
    assert isinstance(results["output"], str)
    for test in results["tests"]:
        assert set(test) <= SPEC_TEST_FIELDS, set(test) - SPEC_TEST_FIELDS
        assert test["visibility"] in SPEC_VISIBILITIES
        assert 0 <= test["score"] <= test["max_score"]


# ## The zip

def test_zip_has_the_spec_files_at_its_root(package):
    """Are setup.sh and run_autograder at the zip's root, with the grader,
    the source assignment, the data and both pinned requirement files?"""
    names = set(zipfile.ZipFile(package).namelist())
    assert {"setup.sh", "run_autograder", "requirements.txt", "requirements-lock.txt",
            "autograder/gradescope.py", "autograder/checks.py",
            f"solutions/{course.ASSIGNMENT}/{course.NOTEBOOK}",
            f"solutions/{course.ASSIGNMENT}/resnet_helpers/signs.py",
            "data/train_signs.h5", "data/test_signs.h5",
            "data/experiments/degradation.json"} <= names


def test_zip_holds_no_build_artifacts_nor_student_release(package):
    """Is there no __pycache__, .pyc, assignment/, out/ or dist/ in the zip, and
    no half-written .partial file beside it?"""
    names = zipfile.ZipFile(package).namelist()
    assert {name.split("/")[0] for name in names} == ZIP_ROOT_ENTRIES
    assert not [name for name in names
                if "__pycache__" in name or name.endswith((".pyc", ".partial"))]
    assert [p.name for p in package.parent.iterdir()] == [gradescope.PACKAGE_NAME]


def test_scripts_are_executable_bash_that_installs_the_pins(package, tmp_path):
    """Are both scripts executable, valid bash, and does setup.sh install
    requirements.txt constrained by the lock file?"""
    archive = zipfile.ZipFile(package)
    for name in gradescope.SCRIPTS:
        assert (archive.getinfo(name).external_attr >> 16) & 0o777 == 0o755, name
        script = tmp_path / name
        script.write_bytes(archive.read(name))
        checked = subprocess.run(["bash", "-n", str(script)], capture_output=True,
                                 text=True)
        assert checked.returncode == 0, f"{name}: {checked.stderr}"
    setup = archive.read("setup.sh").decode()
    assert '-r "$SOURCE/requirements.txt"' in setup
    assert '-c "$SOURCE/requirements-lock.txt"' in setup


def test_cli_writes_the_zip_and_prints_its_path(tmp_path):
    """Does `python -m autograder gradescope --dist DIR` write DIR/autograder.zip
    and say where?"""
    finished = subprocess.run(
        [sys.executable, "-m", "autograder", "gradescope", "--dist", str(tmp_path)],
        capture_output=True, text=True, env=course.grading_environment(), timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert str(tmp_path / gradescope.PACKAGE_NAME) in finished.stdout
    assert zipfile.is_zipfile(tmp_path / gradescope.PACKAGE_NAME)


# ## Grading inside the unpacked zip

def test_solution_scores_full_marks(graded_solution):
    """Does the solution get 10, one passed test per exercise, each with its
    points and shown once grades are published?"""
    assert_follows_the_spec(graded_solution)
    assert graded_solution["score"] == 10
    assert "shown once grades are published" in graded_solution["output"]
    tests = {test["name"]: test for test in graded_solution["tests"]}
    assert {name: test["max_score"] for name, test in tests.items()} == MAX_SCORES
    for test in tests.values():
        assert (test["score"], test["output"], test["status"], test["visibility"]) == (
            test["max_score"], "Passed", "passed", "after_published")


def test_an_attack_on_results_and_the_grader_is_held(package, tmp_path):
    """Does a submission that writes results.json, edits the grader and the venv,
    still get its honest score, with the grader's files unchanged and the
    isolation that ran named in the output?"""
    root = autograder_root(package, tmp_path)
    notebook = v4.reads((course.SOURCE_ASSIGNMENT / course.NOTEBOOK).read_text())
    # The paths are hidden from the cheat scan, which would otherwise zero the
    # submission before the sandbox is tested at all.
    targets = [str(root / "results" / "results.json"), "/autograder/results/results.json"]
    grader_files = [str(root / "source" / "autograder") + "/*.py", sys.executable,
                    "/autograder/source/autograder/grading.py"]
    attack = ("import glob, json\n"
              f"for path in [{', '.join(map(hide, targets))}]:\n"
              "    try:\n"
              "        json.dump({'score': 100, 'output': 'forged'}, open(path, 'w'))\n"
              "    except OSError:\n"
              "        pass\n"
              f"for path in glob.glob({hide(grader_files[0])}) + [{hide(grader_files[1])},\n"
              f"                                         {hide(grader_files[2])}]:\n"
              "    try:\n"
              "        open(path, 'a').write('# owned')\n"
              "    except OSError:\n"
              "        pass\n")
    last = max(i for i, cell in enumerate(notebook.cells)
               if cell.metadata.get("nbgrader", {}).get("grade_id") == "ResNet50")
    notebook.cells.insert(last + 1, v4.new_code_cell(attack))
    (root / "submission" / course.NOTEBOOK).write_text(v4.writes(notebook))
    grader = sorted((root / "source" / "autograder").rglob("*.py"))
    before = {path: path.read_bytes() for path in [*grader, Path(sys.executable).resolve()]}
    results = run_autograder(root)
    assert results["score"] == 10 and "forged" not in results["output"]
    assert "Isolation: your notebook ran" in results["output"]
    assert {path: path.read_bytes() for path in before} == before


def test_setup_installs_the_sandbox_and_its_user(package):
    """Does setup.sh install bubblewrap and make the unprivileged user whose uid
    the grader's first kernel runs as?"""
    with zipfile.ZipFile(package) as archive:
        setup = archive.read("setup.sh").decode()
    assert "apt-get install -y bubblewrap" in setup
    assert f"--uid {sandbox.FIRST_SANDBOX_UID} autograder-student" in setup


def test_corrupt_notebook_scores_zero_and_says_why(package, tmp_path):
    """Does a notebook whose JSON is cut off score 0, with its name and the
    problem in the output?"""
    root = autograder_root(package, tmp_path)
    (root / "submission" / course.NOTEBOOK).write_text('{"cells": [')
    results = run_autograder(root)
    assert_follows_the_spec(results)
    assert results["score"] == 0
    assert f"{course.NOTEBOOK} is not a readable notebook" in results["output"]
    assert [test["score"] for test in results["tests"]] == [0, 0, 0]


def test_empty_submission_scores_zero_and_says_why(package, tmp_path):
    """Does an empty submission folder score 0, with an output saying no
    notebook was found?"""
    results = run_autograder(autograder_root(package, tmp_path))
    assert_follows_the_spec(results)
    assert results["score"] == 0
    assert "no notebook (.ipynb file) was found" in results["output"]
    assert "no files at all" in results["output"]


# ## Grading in this process: the cases that need no kernel

def test_several_notebooks_score_zero_and_are_named(tmp_path):
    """Do two notebooks score 0, with both named, while Jupyter's checkpoint
    copies are not counted?"""
    submission = tmp_path / "submission"
    (submission / ".ipynb_checkpoints").mkdir(parents=True)
    for name in ("Residual_Networks.ipynb", "old/copy.ipynb",
                 ".ipynb_checkpoints/Residual_Networks-checkpoint.ipynb"):
        (submission / name).parent.mkdir(parents=True, exist_ok=True)
        (submission / name).write_text("{}")
    results = gradescope.run(tmp_path)
    assert results["score"] == 0
    assert "2 notebooks (Residual_Networks.ipynb, old/copy.ipynb)" in results["output"]
    assert json.loads((tmp_path / "results" / "results.json").read_text()) == results


def test_notebook_in_an_uploaded_folder_is_found(tmp_path):
    """Is a lone notebook found inside a folder, as an uploaded zip unpacks?"""
    notebook = tmp_path / "residual_networks" / "Residual_Networks (1).ipynb"
    notebook.parent.mkdir()
    notebook.write_text("{}")
    (tmp_path / "residual_networks" / "notes.txt").write_text("")
    assert gradescope.find_notebook(tmp_path) == (notebook, "")


def test_failed_exercise_shows_its_whole_message_and_hints(tmp_path):
    """Does a failed exercise's output carry the check's whole message, the
    diagnosis line and its hint included, while passed ones say "Passed"?"""
    message = ("identity_block: outputs differ from the reference by 0.8\n"
               "diagnosis: shortcut_after_relu\n  hint (identity_block): Add first.")
    failed_cell = v4.new_code_cell(
        metadata={"nbgrader": {"grade_id": "identity_block"}},
        outputs=[v4.new_output("error", ename="GradingFailure", evalue=message,
                               traceback=["\x1b[31mlong traceback\x1b[0m"])])
    autograded = tmp_path / course.NOTEBOOK
    autograded.write_text(json.dumps(v4.new_notebook(cells=[failed_cell])))
    result = grading.GradeResult("student", "graded", scores={
        "identity_block": 0.0, "convolutional_block": 3.0, "ResNet50": 4.0},
        autograded=autograded)
    results = gradescope.graded_results(result, gradescope.graded_parts())
    assert_follows_the_spec(results)
    tests = {test["name"]: test for test in results["tests"]}
    assert results["score"] == 7
    assert tests["identity_block"]["output"] == f"GradingFailure: {message}"
    assert tests["identity_block"]["status"] == "failed"
    assert tests["ResNet50"]["output"] == "Passed"


def test_grader_failure_still_writes_results(tmp_path, monkeypatch):
    """When the grader itself breaks (here: its source notebook is gone), is
    there still a results.json, scoring 0 and telling the student it is not
    their fault?"""
    missing = tmp_path / "missing.ipynb"
    monkeypatch.setattr(gradescope, "graded_parts",
                        lambda: gradescope.nbformat.read(missing, as_version=4))
    (tmp_path / "submission").mkdir()
    results = gradescope.run(tmp_path)
    assert results["score"] == 0 and "the autograder itself failed" in results["output"]
    assert (tmp_path / "results" / "results.json").is_file()


def test_missing_root_is_refused_by_name(tmp_path, capsys):
    """Does `run --root` on a folder that does not exist exit 2, naming it?"""
    with pytest.raises(SystemExit) as exit_info:
        gradescope.main(["run", "--root", str(tmp_path / "nope")])
    assert exit_info.value.code == 2
    assert f"--root {tmp_path / 'nope'}: no such folder" in capsys.readouterr().err
