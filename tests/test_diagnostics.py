"""Known mistakes are named, with a hint, when a check fails; correct code gets none.

Every tag of the catalogue has a submission with exactly that mistake, which
must lose the exercise's points and be told why; correct submissions spelled
in many ways must keep full marks and get no diagnosis. ResNet-50 cases build
a 23.6M-parameter model each, so there are few of them (about 5 s each); the
whole file takes about 35 s on two cores.
"""

import re

import keras
import pytest
from keras import layers

from autograder import checks, reference
from autograder.diagnostics import CATALOGUE, EXERCISE_TAGS, Diagnosis, diagnose
from tests import block_variants as variants
from tests import resnet_variants

GRADERS = {
    "identity_block": checks.grade_identity_block,
    "convolutional_block": checks.grade_convolutional_block,
    "ResNet50": checks.grade_resnet50,
}
# What a grading tool parses out of nbgrader's output: one tag per marker line.
MARKER_LINE = re.compile(r"^diagnosis: ([a-z0-9_]+)$", re.MULTILINE)

CORRECT = [
    ("identity_block", reference.identity_block),
    ("identity_block", variants.identity_with_ops_and_shortcut_first),
    ("identity_block", variants.identity_with_tf_keras_and_custom_bn),
    ("identity_block", variants.identity_with_explicit_padding),
    ("identity_block", variants.identity_with_relu_layer_and_maximum),
    ("convolutional_block", reference.convolutional_block),
    ("convolutional_block", variants.convolutional_with_shortcut_built_first),
    ("convolutional_block", variants.convolutional_with_ops_and_custom_names),
    ("ResNet50", resnet_variants.resnet50_spelled_differently),
]
MISTAKES = [  # (the tag, the exercise, a submission with exactly that mistake)
    ("no_shortcut", "identity_block", variants.identity_without_shortcut),
    ("no_shortcut", "identity_block", variants.identity_shortcut_saved_too_late),
    ("shortcut_after_relu", "identity_block", variants.identity_shortcut_after_relu),
    ("missing_final_relu", "identity_block", variants.identity_without_final_relu),
    ("relu_on_shortcut", "identity_block", variants.identity_relu_on_shortcut),
    ("relu_on_shortcut", "convolutional_block",
     variants.convolutional_relu_on_shortcut),
    ("missing_batchnorm_main", "identity_block",
     variants.identity_without_middle_batchnorm),
    ("missing_relu_main", "identity_block", variants.identity_without_middle_relu),
    ("relu_before_batchnorm", "identity_block",
     variants.identity_relu_before_batchnorm),
    ("relu_before_batchnorm", "identity_block", variants.identity_relu_inside_conv),
    ("middle_conv_padding_or_window", "identity_block",
     variants.identity_middle_conv_valid_padding),
    ("middle_conv_padding_or_window", "identity_block",
     variants.identity_middle_conv_fixed_window),
    ("filters_wrong_order", "identity_block", variants.identity_first_filters_swapped),
    ("filters_wrong_order", "convolutional_block",
     variants.convolutional_filters_reversed),
    ("stride_on_wrong_conv", "convolutional_block",
     variants.convolutional_stride_on_middle_conv),
    ("stride_on_wrong_conv", "convolutional_block",
     variants.convolutional_stride_on_last_conv),
    ("shortcut_not_strided", "convolutional_block",
     variants.convolutional_shortcut_not_strided),
    ("missing_batchnorm_shortcut", "convolutional_block",
     variants.convolutional_without_shortcut_batchnorm),
    ("stage_block_count", "ResNet50", resnet_variants.resnet50_with_short_stage),
    ("stem_differs", "ResNet50", resnet_variants.resnet50_without_pool_padding),
    ("head_no_softmax", "ResNet50", resnet_variants.resnet50_without_softmax),
]
BLOCK_MISTAKES = [case for case in MISTAKES if case[1] != "ResNet50"]
# The specifics some hints must give: which stage, what the stem is.
DETAILS = {
    resnet_variants.resnet50_with_short_stage:
        "stage 2 (256 channels) has 2 blocks, expected 3.",
    resnet_variants.resnet50_without_pool_padding:
        "Yours is: ZeroPadding2D(3), Conv2D(64, 7x7, stride 2), BatchNormalization, "
        "ReLU, MaxPooling2D(3x3, stride 2).",
}


def case_id(case):
    *_, implementation = case
    return getattr(implementation, "__name__", repr(implementation))


def mistake_id(case):
    tag, _, implementation = case
    return f"{tag}-{implementation.__name__}"


@pytest.mark.parametrize(
    "exercise, implementation", CORRECT, ids=[case_id(c) for c in CORRECT]
)
def test_correct_implementation_gets_full_marks_and_no_diagnosis(
    exercise, implementation
):
    """Does a correct spelling pass the hidden check, get no diagnosis, and carry
    no keras.applications fingerprint (so it is never held for review)?"""
    assert GRADERS[exercise](implementation).fingerprint == ""
    assert diagnose(exercise, implementation) == []


def test_reference_resnet50_gets_no_diagnosis():
    """Is the reference ResNet-50 (graded in test_grading_checks) free of diagnoses?"""
    assert diagnose("ResNet50", reference.ResNet50) == []


@pytest.mark.parametrize(
    "tag, exercise, implementation", MISTAKES, ids=[mistake_id(c) for c in MISTAKES]
)
def test_mistake_fails_its_check_with_its_tag_and_hint(tag, exercise, implementation):
    """Does a submission with exactly this mistake lose the exercise, and does the
    failure name the mistake on a marker line, followed by its hint?"""
    with pytest.raises(checks.GradingFailure) as failure:
        GRADERS[exercise](implementation)
    message = str(failure.value)
    assert MARKER_LINE.findall(message) == [tag]
    assert CATALOGUE[tag] in message
    assert DETAILS.get(implementation, "") in message


@pytest.mark.parametrize(
    "tag, exercise, implementation", BLOCK_MISTAKES,
    ids=[mistake_id(c) for c in BLOCK_MISTAKES],
)
def test_diagnose_returns_exactly_that_mistake(tag, exercise, implementation):
    """Does diagnose() return the one diagnosis, with its exercise and hint?"""
    expected = Diagnosis(tag, exercise, CATALOGUE[tag])
    assert diagnose(exercise, implementation) == [expected]


def test_every_tag_has_a_mistake_that_shows_it():
    """Is every catalogued tag shown by at least one submission, in its exercise?"""
    assert {tag for tag, _, _ in MISTAKES} == set(CATALOGUE)
    for tag, exercise, _ in MISTAKES:
        assert tag in EXERCISE_TAGS[exercise]


def test_every_hint_is_one_or_two_sentences():
    """Is every hint short: one or two sentences (a detail may follow a colon)?"""
    for tag, hint in CATALOGUE.items():
        sentences = [s for s in re.split(r"[.!?](?:\s|$)", hint) if s.strip()]
        assert 1 <= len(sentences) <= 2, (tag, hint)


def test_a_block_mistake_inside_resnet50_is_named_with_its_block():
    """Does a ResNet-50 built on a wrong identity block get that block's diagnosis?"""
    found = diagnose("ResNet50", resnet_variants.resnet50_with_shortcut_after_relu)
    assert [(d.tag, d.exercise) for d in found] == [
        ("shortcut_after_relu", "identity_block")
    ]


def test_an_error_in_student_code_fails_the_check_with_its_traceback_chained():
    """Does an error raised by the student's code become a GradingFailure that
    names it and keeps the original error as its cause?"""
    mistake = variants.convolutional_shortcut_not_strided
    expected_message = "your code raised ValueError"
    with pytest.raises(checks.GradingFailure, match=expected_message) as raised:
        checks.grade_convolutional_block(mistake)
    assert isinstance(raised.value.__cause__, ValueError)


# Broken submissions: diagnose() must answer, never raise -------------------------

def raises_type_error(X, f, filters, s=2):
    return X + "1"


def forgets_to_return(X, f, filters, s=2):
    reference.identity_block(X, f, filters)


def is_unfinished(X, f, filters, s=2):
    raise NotImplementedError()


def concatenates_instead_of_adding(X, f, filters, s=2):
    main = layers.Conv2D(filters[2], 1)(X)
    return layers.ReLU()(layers.Concatenate()([main, X]))


def resnet50_raises(input_shape=(64, 64, 3), classes=6):
    raise ValueError("unfinished")


def resnet50_returns_a_tensor(input_shape=(64, 64, 3), classes=6):
    return layers.Dense(classes)(keras.Input(input_shape))


@pytest.mark.parametrize("exercise, implementation", [
    ("identity_block", raises_type_error),
    ("identity_block", forgets_to_return),
    ("convolutional_block", is_unfinished),
    ("identity_block", concatenates_instead_of_adding),
    ("ResNet50", resnet50_raises),
    ("ResNet50", resnet50_returns_a_tensor),
    ("ResNet50", None),
], ids=lambda value: getattr(value, "__name__", str(value)))
def test_broken_submission_gets_no_diagnosis_and_no_error(exercise, implementation):
    """Does diagnose() return [] for code that raises, returns nothing, or is odd?"""
    assert diagnose(exercise, implementation) == []


def test_unknown_exercise_is_refused():
    """Is an exercise name outside the three refused with the value received?"""
    with pytest.raises(ValueError, match="'Exercise 4'"):
        diagnose("Exercise 4", reference.identity_block)
