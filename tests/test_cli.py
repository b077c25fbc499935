"""The instructor's command line, run as instructors run it."""

import subprocess
import sys

import pytest

from autograder import cli, course, grading


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True,
                          text=True, env=course.grading_environment(), timeout=120)


@pytest.mark.parametrize("command", ["demo", "release", "grade", "report", "gradescope"])
def test_every_command_has_help(command):
    """Does every command answer --help, quickly and without error?"""
    result = run_cli(command, "--help")
    assert result.returncode == 0 and "usage: python -m autograder" in result.stdout


def test_grade_documents_its_limits():
    """Does `grade --help` state every limit's option with its default, the
    sandbox and the workers default?"""
    text = " ".join(run_cli("grade", "--help").stdout.split())  # undo line wrapping
    assert "number of cores" in text and "default auto" in text
    assert "(default 4096 MiB)" in text and "(default 8192 MiB)" in text
    for flag, field, unit, _ in cli.LIMIT_OPTIONS:
        default = getattr(grading.Limits(), field) // cli._UNIT_SCALE[unit]
        assert f"{flag} " in text and f"(default {default}" in text, flag


@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_bad_worker_count_is_named(value, tmp_path):
    """Is a bad --workers refused with the value named, before any grading?"""
    result = run_cli("grade", str(tmp_path), "--out", str(tmp_path / "out"), "--workers", value)
    assert result.returncode == 2 and value in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option, value", [
    *((flag, "0") for flag, *_ in cli.LIMIT_OPTIONS), ("--disk-limit", "lots"),
    ("--sandbox", "docker")])
def test_bad_limit_is_named(option, value, tmp_path):
    """Is a bad memory limit or sandbox mode refused with the value named?"""
    result = run_cli("grade", str(tmp_path), "--out", str(tmp_path / "out"), option, value)
    assert result.returncode == 2 and value in result.stderr
    assert not (tmp_path / "out").exists()


def test_grade_on_a_missing_folder_fails_clearly(tmp_path):
    """Does grading a path that does not exist say so, with exit code 2?"""
    result = run_cli("grade", str(tmp_path / "nope"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert f"{tmp_path / 'nope'}: no such file or folder" in result.stderr


def test_report_without_grades_fails_clearly(tmp_path):
    """Does `report` on an ungraded folder name the missing results file?"""
    result = run_cli("report", str(tmp_path))
    assert result.returncode == 2 and "results.json: not found" in result.stderr
