"""The public checks students run: they pass correct code and teach on mistakes."""

import pytest
from resnet_helpers import checks

from autograder import reference
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
def test_correct_identity_blocks_pass(block, capsys):
    """Does a correct identity block pass and say so?"""
    checks.check_identity_block(block)
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "block", [reference.convolutional_block, variants.convolutional_with_shortcut_built_first]
)
def test_correct_convolutional_blocks_pass(block, capsys):
    """Does a correct convolutional block pass and say so?"""
    checks.check_convolutional_block(block)
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "check, block, hint",
    [
        (checks.check_identity_block, variants.identity_shortcut_after_relu,
         "is the shortcut added after it"),
        (checks.check_identity_block, variants.identity_without_final_relu,
         "is the final ReLU missing"),
        (checks.check_convolutional_block, variants.convolutional_stride_on_middle_conv,
         "only the first 1x1 conv and the shortcut conv"),
        (checks.check_convolutional_block, variants.convolutional_without_shortcut_batchnorm,
         "followed by its own BatchNormalization"),
    ],
)
def test_mistakes_get_expected_found_and_hint(check, block, hint):
    """Does each caught mistake say what was expected, what was found, and why?"""
    with pytest.raises(checks.CheckFailure) as failure:
        check(block)
    message = str(failure.value)
    assert "expected:" in message and "found:" in message
    assert hint in message


def test_block_returning_nothing_is_named():
    """Does a block that forgets `return X` get told so?"""

    def identity_block(X, f, filters):
        reference.identity_block(X, f, filters)

    with pytest.raises(checks.CheckFailure, match="return X"):
        checks.check_identity_block(identity_block)


def test_unfinished_exercise_raises_not_implemented_error():
    """Does an untouched exercise fail plainly on NotImplementedError?"""

    def convolutional_block(X, f, filters, s=2):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.check_convolutional_block(convolutional_block)


def test_resnet50_checks(capsys):
    """Does the reference pass the model check, and a short stage fail on its count?"""
    checks.check_resnet50(reference.ResNet50)
    assert "all checks passed" in capsys.readouterr().out
    with pytest.raises(checks.CheckFailure, match="wrong number of parameters"):
        checks.check_resnet50(resnet_variants.resnet50_with_short_stage)
