"""Name the typical mistake behind a failed exercise, with a hint that teaches.

The grading checks say *that* a submission differs from the reference; this
module says *how*, for the mistakes students make most. It builds the
student's function on a few configurations, takes the Keras graph apart
(``anatomy``), and lets the rules of ``findings`` name what differs from the
specification. Weightless calls are named by running them on fixed NumPy
values (``graph_steps``); nothing here depends on a random number stream.

Each diagnosis carries a stable tag, so a grading tool can count mistakes
across a class from the ``diagnosis: <tag>`` lines of nbgrader's output.

Run time: about 0.1 s per block exercise; a ResNet-50 is built once, about
2 s. Only failed checks pay it.
"""

import dataclasses

import keras

from autograder.anatomy import block_anatomy, partial_block_anatomy, resnet_anatomy
from autograder.findings import (
    EXPECTED_STEM,
    BlockSpec,
    Finding,
    block_findings,
    resnet_findings,
)

MARKER = "diagnosis: "  # starts the line that names a tag in a grading message

# Tag -> hint. A tag never changes once released: grading tools count by it.
CATALOGUE = {
    "no_shortcut": "Nothing adds the block's input to the main path. Keep the input "
    "in its own variable before the main path reassigns X, and add it (through the "
    "shortcut's Conv2D and BatchNorm in the convolutional block) just before the "
    "final ReLU.",
    "shortcut_after_relu": "The main path goes through a ReLU before the shortcut is "
    "added. Add the shortcut to the output of the last BatchNormalization, then apply "
    "the ReLU to the sum.",
    "missing_final_relu": "Nothing is applied after the addition, so the block can "
    "output negative values. A residual block ends with a ReLU applied to the sum.",
    "relu_on_shortcut": "The shortcut goes through a ReLU. It reaches the addition "
    "unchanged (in the convolutional block: Conv2D, then BatchNormalization only); "
    "the one ReLU at the end acts on the sum.",
    "missing_batchnorm_main": "A convolution of the main path is not followed by a "
    "BatchNormalization. Each of the three convolutions needs its own "
    "BatchNormalization(axis=3) right after it.",
    "relu_before_batchnorm": "A ReLU comes between a convolution and its "
    "BatchNormalization. Each step of the main path is convolution, then "
    "BatchNormalization, then ReLU.",
    "missing_relu_main": "The first or second BatchNormalization of the main path is "
    "not followed by a ReLU. Only the third step leaves its ReLU until after the "
    "addition.",
    "filters_wrong_order": "The convolutions do not use the filter counts in order. "
    "filters is (F1, F2, F3): the first 1x1 convolution has F1 filters, the f x f one "
    "F2, the last 1x1 one F3, and a shortcut convolution F3.",
    "middle_conv_padding_or_window": "The main path's windows are 1x1, f x f, 1x1, "
    "and the f x f convolution has padding='same' so it keeps height and width. Use "
    "the argument f, not a fixed number.",
    "stride_on_wrong_conv": "The stride s belongs to the first 1x1 convolution of the "
    "main path (and to the shortcut's); the f x f and the last 1x1 convolutions keep "
    "stride 1.",
    "shortcut_not_strided": "The shortcut's 1x1 convolution needs the stride s too, "
    "or its output keeps the input's height and width and cannot be added to the main "
    "path.",
    "missing_batchnorm_shortcut": "The shortcut's convolution is not followed by a "
    "BatchNormalization. The shortcut is a 1x1 Conv2D with F3 filters and stride s, "
    "then BatchNormalization(axis=3).",
    "stage_block_count": "Each stage is one convolutional block followed by as many "
    "identity blocks as the stage table says. Here:",
    "stem_differs": "The stem should be " + ", ".join(EXPECTED_STEM) + ". Yours is:",
    "head_no_softmax": "The model outputs scores, not probabilities: its last Dense "
    "layer has no softmax activation.",
}
# The tags that belong to each exercise. A ResNet50 diagnosis may also name a
# block's tag, with that block's exercise, when its blocks carry the mistake.
EXERCISE_TAGS = {
    "identity_block": (
        "no_shortcut", "shortcut_after_relu", "missing_final_relu", "relu_on_shortcut",
        "missing_batchnorm_main", "relu_before_batchnorm", "missing_relu_main",
        "filters_wrong_order", "middle_conv_padding_or_window",
    ),
    "ResNet50": ("stage_block_count", "stem_differs", "head_no_softmax"),
}
EXERCISE_TAGS["convolutional_block"] = EXERCISE_TAGS["identity_block"] + (
    "stride_on_wrong_conv", "shortcut_not_strided", "missing_batchnorm_shortcut",
)

# Configurations a block is built on to be diagnosed: (input shape, spec).
# Distinct F1, F2, F3 show their order; f = 1 shows a window fixed to 3;
# s = 2 and s = 3 show where the strides are.
BLOCK_PROBES = {
    "identity_block": (
        ((6, 6, 8), BlockSpec(f=3, filters=(2, 4, 8), s=None, projection=False)),
        ((5, 5, 6), BlockSpec(f=1, filters=(3, 2, 6), s=None, projection=False)),
    ),
    "convolutional_block": (
        ((8, 8, 3), BlockSpec(f=3, filters=(2, 4, 8), s=2, projection=True)),
        ((7, 7, 4), BlockSpec(f=1, filters=(5, 3, 6), s=3, projection=True)),
    ),
}
RESNET50_INPUT_SHAPE = (64, 64, 3)  # as the grading check builds it


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """A known mistake: stable tag, the exercise it belongs to, and a hint."""

    tag: str
    exercise: str
    hint: str

    def __str__(self):
        return f"{MARKER}{self.tag}\n  hint ({self.exercise}): {self.hint}"


def diagnose(exercise, student_function):
    """Names the known mistakes in a student's function.

    Args:
        exercise: "identity_block", "convolutional_block" or "ResNet50".
        student_function: the student's function, with the exercise's signature.

    Returns:
        A list of Diagnosis, one per tag, in reading order; empty for a
        correct function, an unfinished one, or one whose mistake is not in
        the catalogue. Never raises for anything the student's code does.

    Raises:
        ValueError: `exercise` is not one of the three.
    """
    if exercise not in EXERCISE_TAGS:
        raise ValueError(f"exercise must be one of {sorted(EXERCISE_TAGS)}, "
                         f"received exercise={exercise!r}")
    try:
        if exercise == "ResNet50":
            findings = _resnet_findings(student_function)
        else:
            findings = _block_findings(exercise, student_function)
    except Exception:  # a hint is a bonus: it must never stand in grading's way
        return []
    return _diagnoses(findings)


def format_diagnoses(diagnoses):
    """The lines a grading message ends with, one marker line per diagnosis."""
    return "\n".join(str(diagnosis) for diagnosis in diagnoses)


def _diagnoses(findings):
    by_tag = {}
    for finding in findings:
        if finding.tag in by_tag:
            continue
        hint = CATALOGUE[finding.tag]
        if finding.detail:
            hint = f"{hint} {finding.detail}."
        by_tag[finding.tag] = Diagnosis(finding.tag, finding.exercise, hint)
    return list(by_tag.values())


def _block_findings(exercise, block):
    findings = []
    for input_shape, spec in BLOCK_PROBES[exercise]:
        anatomy = _trace_block(block, input_shape, spec)
        if anatomy is not None:
            tags = block_findings(anatomy, spec)
            findings += [Finding(tag, exercise) for tag in tags]
    return findings


def _trace_block(block, input_shape, spec):
    """The anatomy of `block` built on one configuration, or None."""
    block_input = keras.Input(shape=input_shape)
    kwargs = {"f": spec.f, "filters": list(spec.filters)}
    if spec.projection:
        kwargs["s"] = spec.s
    try:
        output = block(block_input, **kwargs)
    except NotImplementedError:
        return None
    except Exception as error:  # e.g. shapes that cannot be added: read what was built
        return partial_block_anatomy(error, block_input)
    if not isinstance(output, keras.KerasTensor):
        return None
    return block_anatomy(block_input, output)


def _resnet_findings(ResNet50):
    """Findings in the model `ResNet50` builds; its errors reach diagnose()."""
    model = ResNet50(input_shape=RESNET50_INPUT_SHAPE, classes=6)
    # A subclassed model has no graph to read; several inputs are not ResNet-50.
    inputs = getattr(model, "inputs", None) or ()
    if not isinstance(model, keras.Model) or len(inputs) != 1:
        return []
    anatomy = resnet_anatomy(model)
    return [] if anatomy is None else resnet_findings(anatomy)
