"""The verifier runs sandboxed and bounded, one verdict per line, and its crash
costs nothing it had already verified."""

import json
import sys

import pytest

from autograder import cgroups, grading, reference, sandbox
from autograder.kernel import exporter
from autograder.verdict import EXERCISES


@pytest.fixture(scope="module")
def correct_snapshot(tmp_path_factory):
    folder = tmp_path_factory.mktemp("work") / "snapshot"
    exporter.export_identity_block(reference.identity_block, export_dir=folder)
    exporter.export_convolutional_block(reference.convolutional_block, export_dir=folder)
    exporter.export_resnet50(reference.ResNet50, export_dir=folder)
    return folder


def test_a_correct_snapshot_passes_in_the_sandbox(correct_snapshot):
    """Does the sandboxed verifier pass every exercise of a correct snapshot?"""
    verdicts = grading.verify_snapshot(correct_snapshot, grading.Limits(),
                                       sandboxed=not sandbox.bubblewrap_problem())
    assert list(verdicts) == list(EXERCISES)
    assert all(v.passed for v in verdicts.values()), verdicts


def test_a_crash_keeps_the_verdicts_already_printed(correct_snapshot, monkeypatch):
    """If the verifier dies after one verdict, does that verdict stand, the
    exercise it was on fail with the reason, and a fresh verifier take the rest?"""
    def dies_after_one(snapshot_dir, exercises, bounds, uid, cgroup=None, sandboxed=True):
        verdict = {"exercise": exercises[0], "passed": True, "message": "verified"}
        script = (f"import os, sys; print({json.dumps(json.dumps(verdict))}, flush=True); "
                  "os.kill(os.getpid(), 9)")
        return [sys.executable, "-c", script]

    monkeypatch.setattr(sandbox, "verifier_command", dies_after_one)
    verdicts = grading.verify_snapshot(correct_snapshot, grading.Limits())
    first, second, third = (verdicts[e] for e in EXERCISES)
    assert first.passed and third.passed
    assert not second.passed and "stopped unexpectedly" in second.message


def test_forged_verdict_lines_are_ignored(correct_snapshot, monkeypatch):
    """Are lines that are not well-formed verdicts, or verdicts for exercises not
    asked, ignored, so a verifier led astray cannot pass anything?"""
    def prints_nonsense(snapshot_dir, exercises, bounds, uid, cgroup=None, sandboxed=True):
        lines = ["not json", json.dumps({"exercise": exercises[0], "passed": "yes",
                                         "message": "x"}),
                 json.dumps({"exercise": "other", "passed": True, "message": "x"})]
        return [sys.executable, "-c", f"print({json.dumps(chr(10).join(lines))})"]

    monkeypatch.setattr(sandbox, "verifier_command", prints_nonsense)
    verdicts = grading.verify_snapshot(correct_snapshot, grading.Limits())
    assert not any(v.passed for v in verdicts.values())


@pytest.mark.skipif(bool(cgroups.cgroup_problem()), reason=f"{cgroups.cgroup_problem()}")
def test_the_memory_cap_stops_the_verifier_and_is_named(correct_snapshot):
    """Does a verifier past its memory cgroup get stopped, every exercise it could
    not verify failing with the cap named, not a crash of the grader?"""
    limits = grading.Limits(verify_memory_bytes=150 * 2**20)
    verdicts = grading.verify_snapshot(correct_snapshot, limits,
                                       sandboxed=not sandbox.bubblewrap_problem())
    for verdict in verdicts.values():
        assert not verdict.passed
        assert "used more than 150 MiB of memory" in verdict.message, verdict.message
        assert "/work" not in verdict.message and "Traceback" not in verdict.message
