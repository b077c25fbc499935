"""Name the typical mistake behind a failed exercise, with a hint that teaches.

The verifier says *that* a submission differs from the reference; this
module says *how*, for the mistakes students make most. It reads the models
the exporter saved from the student's function on a few configurations
(a block that raised leaves what it had built), takes their Keras graphs
apart (``anatomy``), and lets the rules of ``findings`` name what differs
from the specification. It runs no student code: the files load in Keras'
safe mode. Weightless calls are named by running them on fixed NumPy values
(``graph_steps``); nothing here depends on a random number stream.

Each diagnosis carries a stable tag, so a grading tool can count mistakes
across a class from the ``diagnosis: <tag>`` lines of a verdict.

Run time: about 0.1 s per block exercise; loading a ResNet-50 takes about
2 s. Only failed exercises pay it.
"""

import dataclasses
import tempfile
from pathlib import Path

from autograder import saved_models
from autograder.anatomy import anatomy_of_ends, block_anatomy, resnet_anatomy
from autograder.findings import (
    EXPECTED_STEM,
    BlockSpec,
    Finding,
    block_findings,
    resnet_findings,
)
from autograder.kernel import exporter

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

# The exporter saves each block on these configurations for the diagnosis.
BLOCK_PROBES = {
    "identity_block": exporter.IDENTITY_PROBES,
    "convolutional_block": exporter.CONVOLUTIONAL_PROBES,
}
EXPORTS = {
    "identity_block": exporter.export_identity_block,
    "convolutional_block": exporter.export_convolutional_block,
    "ResNet50": exporter.export_resnet50,
}


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

    The function is exported exactly as the hidden tests export it, and the
    saved files are diagnosed (``diagnose_folder``), so this is the grading
    path, run in one process.

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
    _check_exercise(exercise)
    with tempfile.TemporaryDirectory(prefix="diagnose-") as export_root:
        try:
            EXPORTS[exercise](student_function, export_dir=export_root)
        except (exporter.ExportFailure, NotImplementedError):
            pass  # what was saved before the error is still diagnosed
        return diagnose_folder(Path(export_root) / exercise, exercise)


def diagnose_folder(folder, exercise):
    """Names the known mistakes in the models an exercise's export saved.

    Args:
        folder: the exercise's folder, as ``exporter`` wrote it.
        exercise: "identity_block", "convolutional_block" or "ResNet50".

    Returns:
        A list of Diagnosis, as ``diagnose`` returns; never raises for
        anything the files contain.
    """
    _check_exercise(exercise)
    try:
        if exercise == "ResNet50":
            findings = _resnet_findings(Path(folder))
        else:
            findings = _block_findings(exercise, Path(folder))
    except Exception:  # a hint is a bonus: it must never stand in grading's way
        return []
    return _diagnoses(findings)


def _check_exercise(exercise):
    if exercise not in EXERCISE_TAGS:
        raise ValueError(f"exercise must be one of {sorted(EXERCISE_TAGS)}, "
                         f"received exercise={exercise!r}")


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


def _block_findings(exercise, folder):
    findings = []
    for index, case in enumerate(BLOCK_PROBES[exercise]):
        anatomy = _probe_anatomy(folder, f"probe{index}")
        if anatomy is not None:
            _, f, filters, *stride = case
            spec = BlockSpec(f=f, filters=tuple(filters), s=stride[0] if stride else None,
                             projection=bool(stride))
            tags = block_findings(anatomy, spec)
            findings += [Finding(tag, exercise) for tag in tags]
    return findings


def _probe_anatomy(folder, stem):
    """The anatomy of one saved probe (whole, or cut short by an error), or None."""
    for suffix, read in ((exporter.MODEL_SUFFIX, _whole_anatomy),
                         (exporter.PARTIAL_SUFFIX, _partial_anatomy)):
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            return read(saved_models.read_model(path))
    return None


def _whole_anatomy(model):
    return block_anatomy(model.inputs[0], model.outputs[0])


def _partial_anatomy(model):
    return anatomy_of_ends(list(model.outputs), model.inputs[0])


def _resnet_findings(folder):
    """Findings in the ResNet-50 the student's function saved."""
    path = folder / f"model{exporter.MODEL_SUFFIX}"
    if not path.is_file():
        return []
    model = saved_models.read_model(path)
    if len(model.inputs) != 1:  # several inputs are not ResNet-50
        return []
    anatomy = resnet_anatomy(model)
    return [] if anatomy is None else resnet_findings(anatomy)
