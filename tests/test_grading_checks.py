"""The hidden grading checks: correct alternatives pass, each mistake fails."""

import pytest

from autograder import checks, reference
from tests import block_variants as variants
from tests import resnet_variants


@pytest.mark.parametrize(
    "block",
    [
        reference.identity_block,
        variants.identity_with_ops_and_shortcut_first,
        variants.identity_with_tf_keras_and_custom_bn,
    ],
)
def test_correct_identity_blocks_pass(block):
    """Does any correct spelling of the identity block pass the hidden check, and
    none look built by keras.applications (so none is held for review)?"""
    assert checks.grade_identity_block(block).fingerprint == ""


@pytest.mark.parametrize(
    "block", [reference.convolutional_block, variants.convolutional_with_shortcut_built_first]
)
def test_correct_convolutional_blocks_pass(block):
    """Does any correct spelling of the convolutional block pass the hidden check,
    with no keras.applications fingerprint?"""
    assert checks.grade_convolutional_block(block).fingerprint == ""


@pytest.mark.parametrize(
    "block, message",
    [
        (variants.identity_shortcut_after_relu, "differs in"),
        (variants.identity_without_final_relu, "differs in"),
        (variants.identity_relu_on_shortcut, "differs in"),
        (variants.identity_relu_before_batchnorm, "differs in"),
    ],
)
def test_identity_block_mistakes_fail(block, message):
    """Does each identity-block mistake fail the hidden check with a message?"""
    with pytest.raises(checks.GradingFailure, match=message):
        checks.grade_identity_block(block)


@pytest.mark.parametrize(
    "block, message",
    [
        (variants.convolutional_stride_on_middle_conv, "differs in"),
        (variants.convolutional_without_shortcut_batchnorm, "do not match the specification"),
    ],
)
def test_convolutional_block_mistakes_fail(block, message):
    """Does each convolutional-block mistake fail the hidden check with a message?"""
    with pytest.raises(checks.GradingFailure, match=message):
        checks.grade_convolutional_block(block)


def test_unfinished_exercise_fails_on_not_implemented_error():
    """Does an untouched exercise fail plainly on NotImplementedError?"""

    def identity_block(X, f, filters):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.grade_identity_block(identity_block)


def test_resnet50_reference_passes():
    """Does the model check accept the reference itself, with no fingerprint?"""
    assert checks.grade_resnet50(reference.ResNet50).fingerprint == ""


def test_resnet50_with_a_short_stage_fails():
    """Does a stage one identity block short fail, naming the unmatched layers?"""
    with pytest.raises(checks.GradingFailure, match="do not match the specification"):
        checks.grade_resnet50(resnet_variants.resnet50_with_short_stage)
