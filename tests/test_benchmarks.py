"""The benchmark scripts' own parts: memory charged to the right worker, bad arguments.

The benchmarks themselves print figures and are run by hand (README, Figures);
these tests only keep the scripts from rotting between runs.
"""

import os
import subprocess
import sys
import time

import pytest

from benchmarks import grading_speed, measuring, model_speed, release_and_report

MB = 2**20


def _hold_memory(folder, megabytes):
    """A child process that holds `megabytes` of resident memory for a while."""
    folder.mkdir(parents=True)
    return subprocess.Popen(
        [sys.executable, "-c",
         f"import time; block = bytearray({megabytes} * 2**20); time.sleep(3)"],
        cwd=folder)


def test_memory_is_charged_to_the_worker_whose_folder_a_process_works_in(tmp_path):
    """Are two graders' processes told apart by their work folders, each peak
    being at least what that process held?"""
    work = tmp_path / "grading-abc" / "work"
    with measuring.TreeMemory(os.getpid(), interval=0.05) as memory:
        big, small = _hold_memory(work / "alice", 300), _hold_memory(work / "bob", 60)
        time.sleep(2)
        big.wait()
        small.wait()
    assert memory.worker_peaks["alice"] >= 300 * MB
    assert 60 * MB <= memory.worker_peaks["bob"] < 200 * MB
    assert memory.process_peak[0] >= 300 * MB


def test_a_process_outside_any_work_folder_is_not_charged(tmp_path):
    """Is a process that grades no submission left out of the per-worker peaks?"""
    with measuring.TreeMemory(os.getpid(), interval=0.05) as memory:
        _hold_memory(tmp_path / "elsewhere", 50).wait()
    assert memory.worker_peaks == {}


@pytest.mark.parametrize("script, arguments, named", [
    (grading_speed, ["--class-size", "1"], "--class-size"),
    (grading_speed, ["--repeats", "0"], "--repeats"),
    (model_speed, ["--rounds", "0"], "--rounds"),
    (release_and_report, ["--workers", "0"], "--workers"),
])
def test_bad_arguments_are_named(script, arguments, named, capsys):
    """Does each script refuse a bad argument by name, before any work?"""
    with pytest.raises(SystemExit) as stopped:
        script.main(arguments)
    assert stopped.value.code == 2
    assert named in capsys.readouterr().err
