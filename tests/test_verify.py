"""The verifier judges only the files a kernel saved, and says what is wrong.

The export half runs here in-process (as the hidden test cells run it in the
kernel); the verdicts come from the saved files alone.
"""

import json
import subprocess
import sys

import keras
import pytest
from keras import layers

from autograder import course, reference, verify
from autograder.kernel import exporter
from tests import block_variants as variants


@pytest.fixture
def export_root(tmp_path):
    return tmp_path / "exports"


def test_saved_reference_blocks_pass(export_root):
    """Do the reference's blocks, saved by the exporter, pass verification?"""
    exporter.export_identity_block(reference.identity_block, export_dir=export_root)
    exporter.export_convolutional_block(reference.convolutional_block,
                                        export_dir=export_root)
    for exercise in ("identity_block", "convolutional_block"):
        verdict = verify.verify_exercise(export_root, exercise)
        assert verdict.passed, verdict.message
        assert verdict.flags == [] and verdict.diagnoses == []


def test_nothing_saved_is_a_failure_with_a_flag(export_root):
    """Is an exercise whose hidden test never ran a failure flagged nothing_saved,
    with a message that says the test did not run to its end?"""
    export_root.mkdir()
    verdict = verify.verify_exercise(export_root, "identity_block")
    assert not verdict.passed
    assert verdict.flags == ["nothing_saved"]
    assert "did not run to its end" in verdict.message


def test_the_error_the_student_code_raised_is_reported(export_root):
    """When the student's block raised, does the verdict quote that error?"""
    def unfinished(X, f, filters):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        exporter.export_identity_block(unfinished, export_dir=export_root)
    verdict = verify.verify_exercise(export_root, "identity_block")
    assert "NotImplementedError" in verdict.message


def test_a_wrong_block_fails_with_its_diagnosis(export_root):
    """Does a saved block with a known mistake fail, naming the mistake?"""
    exporter.export_identity_block(variants.identity_shortcut_after_relu,
                                   export_dir=export_root)
    verdict = verify.verify_exercise(export_root, "identity_block")
    assert not verdict.passed
    assert verdict.diagnoses == ["shortcut_after_relu"]
    assert "diagnosis: shortcut_after_relu" in verdict.message


def test_a_lambda_layer_is_refused_without_running_it(export_root):
    """Is a Lambda layer refused before Keras sees it, with advice, rather than run?"""
    exporter.export_identity_block(variants.identity_with_lambda_relu,
                                   export_dir=export_root)
    verdict = verify.verify_exercise(export_root, "identity_block")
    assert not verdict.passed
    assert "the grader refused your model" in verdict.message
    assert "Lambda" in verdict.message


def test_a_corrupt_file_is_a_failure_not_a_crash(export_root):
    """Does a damaged model file give a failed verdict that names the problem?"""
    exporter.export_identity_block(reference.identity_block, export_dir=export_root)
    (export_root / "identity_block" / f"case0{exporter.MODEL_SUFFIX}").write_bytes(
        b"not JSON")
    verdict = verify.verify_exercise(export_root, "identity_block")
    assert not verdict.passed
    assert "the grader refused your model" in verdict.message and "JSON" in verdict.message


def test_keras_applications_resnet50_earns_nothing_and_is_flagged(export_root):
    """Is keras.applications' ResNet50 handed in as the student's own refused and
    flagged, even though its arithmetic matches?"""
    def delegated(input_shape=(64, 64, 3), classes=6):
        return keras.applications.ResNet50(weights=None, input_shape=input_shape,
                                           classes=classes)

    exporter.export_resnet50(delegated, export_dir=export_root)
    verdict = verify.verify_exercise(export_root, "ResNet50")
    assert not verdict.passed
    assert verdict.flags == ["keras_applications"]
    assert "keras.applications" in verdict.message


def test_a_block_with_the_wrong_input_shape_fails(export_root):
    """Does a model whose input differs from the configuration fail clearly?"""
    folder = export_root / "identity_block"
    folder.mkdir(parents=True)
    wrong = keras.Input(shape=(3, 3, 8))
    (folder / f"case0{exporter.MODEL_SUFFIX}").write_text(
        exporter.model_json(keras.Model(wrong, layers.ReLU()(wrong))))
    verdict = verify.verify_exercise(export_root, "identity_block")
    assert "takes inputs of shape" in verdict.message


def test_outside_grading_the_hidden_test_only_builds(monkeypatch, capsys):
    """Run by an instructor (no grading channel), does the hidden test build the
    models, say that the grader verifies them, and send nothing?"""
    monkeypatch.delenv(exporter.CHANNEL_VARIABLE, raising=False)
    sent = []
    monkeypatch.setattr(exporter, "publish_display_data", sent.append)
    exporter.export_identity_block(variants.identity_shortcut_after_relu)
    assert "the grader verifies it" in capsys.readouterr().out
    assert sent == []


def test_during_grading_the_hidden_test_sends_one_export(monkeypatch):
    """With the grading channel set, does the hidden test send every model as one
    display message of the export MIME type, a wrong block included?"""
    monkeypatch.setenv(exporter.CHANNEL_VARIABLE, "display")
    sent = []
    monkeypatch.setattr(exporter, "publish_display_data", sent.append)
    exporter.export_identity_block(variants.identity_shortcut_after_relu)
    (bundle,) = sent
    payload = bundle[exporter.EXPORT_MIME]
    assert payload["exercise"] == "identity_block"
    assert f"case0{exporter.MODEL_SUFFIX}" in payload["files"]
    assert exporter.MANIFEST in payload["files"]


def test_command_line_prints_a_verdict_per_exercise(export_root, tmp_path):
    """Does `python -m autograder.verify` print one verdict per exercise, a line of
    JSON each, in the order asked, and reject a missing folder and a bad exercise
    by name?"""
    exporter.export_identity_block(reference.identity_block, export_dir=export_root)
    run = subprocess.run([sys.executable, "-m", "autograder.verify", str(export_root),
                          "ResNet50", "identity_block"], check=True, capture_output=True,
                         text=True, env=course.grading_environment())
    verdicts = [json.loads(line) for line in run.stdout.splitlines()]
    assert [v["exercise"] for v in verdicts] == ["ResNet50", "identity_block"]
    assert verdicts[1]["passed"] is True
    assert verdicts[0]["flags"] == ["nothing_saved"]
    for bad, named in ((str(tmp_path / "nowhere"), "nowhere"), (str(export_root), "'ResNet5")):
        args = [bad, "ResNet5"] if named == "'ResNet5" else [bad]
        refused = subprocess.run([sys.executable, "-m", "autograder.verify", *args],
                                 capture_output=True, text=True,
                                 env=course.grading_environment())
        assert refused.returncode == 2 and named in refused.stderr


def test_a_renamed_keras_applications_model_is_recognised_by_its_configuration(
        export_root):
    """Is keras.applications' ResNet50 with every layer renamed still recognised, by
    the BatchNormalization epsilon only the library sets, for review?"""
    def renamed(input_shape=(64, 64, 3), classes=6):
        model = keras.applications.ResNet50(weights=None, input_shape=input_shape,
                                            classes=classes)
        for number, layer in enumerate(model.layers):
            layer.name = f"layer_{number}"  # what a student hiding it would do
        return model

    exporter.export_resnet50(renamed, export_dir=export_root)
    verdict = verify.verify_exercise(export_root, "ResNet50")
    assert verdict.flags == []  # the names no longer give it away...
    assert "epsilon=1.001e-05" in verdict.fingerprint  # ...its configuration does


def test_keras_own_residual_block_is_recognised_and_the_reference_is_not(export_root):
    """Does a block from Keras' own residual_block_v1 carry the fingerprint, and
    the reference's blocks none?"""
    from keras.src.applications import resnet

    def borrowed(X, f, filters):  # Keras' block ends with 4 x filters channels
        return resnet.residual_block_v1(X, filters[2] // 4, kernel_size=f,
                                        conv_shortcut=False)

    exporter.export_identity_block(borrowed, export_dir=export_root / "borrowed")
    exporter.export_identity_block(reference.identity_block, export_dir=export_root / "own")
    borrowed_verdict = verify.verify_exercise(export_root / "borrowed", "identity_block")
    own_verdict = verify.verify_exercise(export_root / "own", "identity_block")
    assert "keras.applications" in borrowed_verdict.fingerprint
    assert own_verdict.fingerprint == "" and own_verdict.passed
