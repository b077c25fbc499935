"""Verify the models a submission saved, in a process that never runs its code.

The hidden test cells only build the student's functions and save what they
return (``exporter``). This module rebuilds those models in Keras' safe
mode, which refuses to deserialise Python code (Lambda layers, custom
classes), and compares each model with the reference, sharing weights
(``comparison``). A failed exercise is then diagnosed from the same files.
Nothing the student's kernel printed, patched or claimed enters a verdict.

Command line, as the grader runs it after nbgrader, in a sandbox of its
own (``sandbox.verifier_command``)::

    python -m autograder.verify SNAPSHOT_DIR [EXERCISE ...]

It prints each exercise's verdict as one line of JSON as soon as it is
decided, so a crash on one exercise costs nothing already verified.
"""

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path

import keras
import numpy as np

from autograder import comparison, diagnostics, reference, saved_models, snapshot
from autograder.comparison import GradingFailure
from autograder.export_schema import ExportRejected
from autograder.kernel import exporter
from autograder.verdict import EXERCISES, Verdict

__all__ = ["EXERCISES", "Verdict", "VerificationFailure", "verify_exercise", "verify_all"]
CASES = {"identity_block": exporter.IDENTITY_CASES,
         "convolutional_block": exporter.CONVOLUTIONAL_CASES}
REFERENCE_BLOCKS = {"identity_block": reference.identity_block,
                    "convolutional_block": reference.convolutional_block}
RESNET50_SEED = 50
# keras.applications.ResNet50 names its layers like this; a student's
# ResNet50 that delegates to it must not earn the exercise.
KERAS_APPLICATIONS_NAMES = re.compile(r"^conv[1-5]_(conv|bn|block\d+_\d_(conv|bn))$")


class VerificationFailure(AssertionError):
    """Raised in the notebook when the hidden test runs outside grading."""


def verify_exercise(export_root, exercise):
    """Verifies the models one exercise saved under `export_root`.

    Args:
        export_root: the grader's snapshot of a submission's exports
            (``snapshot``), or a folder the exporter wrote with export_dir.
        exercise: one of EXERCISES.

    Returns:
        A Verdict; never raises for anything the files contain.

    Raises:
        ValueError: `exercise` is not one of EXERCISES.
    """
    if exercise not in EXERCISES:
        raise ValueError(f"exercise must be one of {EXERCISES}, received {exercise!r}")
    folder = Path(export_root) / exercise
    fingerprints = []  # one per model loaded, filled as they load
    try:
        if exercise == "ResNet50":
            message = _verify_resnet50(folder, fingerprints)
        else:
            message = _verify_block(folder, exercise, fingerprints)
    except KerasApplicationsModel as found:
        return Verdict(exercise, False, str(found), flags=["keras_applications"])
    except GradingFailure as failure:
        found = diagnostics.diagnose_folder(folder, exercise)
        text = str(failure)
        if found:
            text += "\n" + diagnostics.format_diagnoses(found)
        flags = ["nothing_saved"] if isinstance(failure, NothingSaved) else []
        return Verdict(exercise, False, text, [d.tag for d in found], flags,
                       _first(fingerprints))
    return Verdict(exercise, True, message, fingerprint=_first(fingerprints))


# keras.applications builds every BatchNormalization with this epsilon (Keras'
# own default is 1e-3, and the assignment never sets it). Layer names can be
# changed after the fact; a configuration value like this rarely is. A
# careful student could set it too, so a match is for review, never a 0.
LIBRARY_EPSILON = 1.001e-5


def library_fingerprint(model):
    """Why `model` looks built by keras.applications, or "" if it does not."""
    epsilons = [layer.epsilon for layer in _layers(model)
                if isinstance(layer, keras.layers.BatchNormalization)]
    if epsilons and all(abs(epsilon - LIBRARY_EPSILON) < 1e-9 for epsilon in epsilons):
        return (f"all {len(epsilons)} BatchNormalization layers use epsilon="
                f"{LIBRARY_EPSILON:g}, the value keras.applications' ResNet sets")
    return ""


def _layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):  # a nested model's layers count too
            yield from _layers(layer)


def _first(fingerprints):
    return next((found for found in fingerprints if found), "")


def verify_all(export_root):
    """Verdicts for every exercise, in notebook order."""
    return {exercise: verify_exercise(export_root, exercise) for exercise in EXERCISES}


class KerasApplicationsModel(GradingFailure):
    """The ResNet50 exercise returned keras.applications' model."""


class NothingSaved(GradingFailure):
    """The hidden test saved no model for a configuration."""


def load_saved(folder, stem, exercise, configuration):
    """Rebuilds the model saved as `stem` in safe mode; failures name what went wrong."""
    path = Path(folder) / f"{stem}{exporter.MODEL_SUFFIX}"
    if not path.is_file():
        raise NothingSaved(f"{exercise} {configuration}: nothing was saved. "
                             f"{_why_nothing(folder)}")
    try:
        return saved_models.read_model(path)
    except ExportRejected as refused:
        raise GradingFailure(f"{exercise} {configuration}: the grader refused your model: "
                             f"{refused}") from None
    except Exception as error:
        first_line = (str(error).strip().splitlines() or [""])[0][:300]
        raise GradingFailure(
            f"{exercise} {configuration}: the grader could not load your model "
            f"without running your code ({type(error).__name__}: {first_line}).\n"
            "  Build it from Keras layers and keras.ops only: a Lambda layer or a "
            "custom layer class cannot be checked.") from None


def _why_nothing(folder):
    """Why the grader refused the export, what its manifest says went wrong,
    or the likely reason."""
    refused = snapshot.refusal(folder)
    if refused:
        return f"The grader refused what the hidden test sent: {refused[:300]}."
    try:
        manifest = json.loads(saved_models.read_text(Path(folder) / exporter.MANIFEST))
        error = str(manifest.get("error", ""))[:500]
    except (OSError, ValueError, AttributeError):
        error = ""
    if error:
        return f"The hidden test stopped with {error}"
    return ("The hidden test did not run to its end: was the cell removed, changed "
            "or stopped, or did the notebook stop before it?")


def _verify_block(folder, exercise, fingerprints):
    for index, case in enumerate(CASES[exercise]):
        input_shape, kwargs = exporter.block_arguments(case)
        configuration = exporter.describe_case(case)
        student = load_saved(folder, f"case{index}", exercise, configuration)
        fingerprints.append(library_fingerprint(student))  # before weights are shared
        _check_input(student, input_shape, exercise, configuration)
        reference_input = keras.Input(shape=input_shape)
        expected = keras.Model(reference_input,
                               REFERENCE_BLOCKS[exercise](reference_input, **kwargs))
        comparison.fill_weights(expected, index)
        comparison.share_weights(student, expected, exercise, configuration)
        comparison.compare(student, expected,
                           comparison.random_inputs(input_shape, index),
                           exercise, configuration)
    return f"{exercise} matches the reference on {len(CASES[exercise])} configurations."


def _verify_resnet50(folder, fingerprints):
    configuration = (f"(input_shape={exporter.RESNET50_INPUT_SHAPE}, "
                     f"classes={exporter.RESNET50_CLASSES})")
    student = load_saved(folder, "model", "ResNet50", configuration)
    fingerprints.append(library_fingerprint(student))  # before weights are shared
    if any(KERAS_APPLICATIONS_NAMES.match(layer.name) for layer in student.layers):
        raise KerasApplicationsModel(
            "ResNet50: the model is keras.applications' ResNet50, not one built from "
            "your identity and convolutional blocks, so it earns no points.")
    _check_input(student, exporter.RESNET50_INPUT_SHAPE, "ResNet50", configuration)
    expected = reference.ResNet50(input_shape=exporter.RESNET50_INPUT_SHAPE,
                                  classes=exporter.RESNET50_CLASSES)
    comparison.fill_weights(expected, seed=RESNET50_SEED)
    rng = np.random.default_rng(RESNET50_SEED)  # images in [0, 1], as in training
    inputs = [rng.uniform(size=(comparison.BATCH, *exporter.RESNET50_INPUT_SHAPE))
              .astype("float32") for _ in range(comparison.NUM_INPUTS)]
    pairs = comparison.share_weights(student, expected, "ResNet50", configuration)
    # A softmax of large logits saturates and could hide a wrong body, so the
    # features entering the Dense layer are compared too, in the same call.
    student_dense = next(s for r, s in pairs if r is expected.layers[-1])
    comparison.compare(
        keras.Model(student.inputs[0], [student_dense.input, student.outputs[0]]),
        keras.Model(expected.inputs[0], [expected.layers[-1].input, expected.outputs[0]]),
        inputs, "ResNet50", configuration,
    )
    return "ResNet50 matches the reference."


def _check_input(model, input_shape, exercise, configuration):
    shapes = [tuple(tensor.shape[1:]) for tensor in model.inputs]
    if shapes != [tuple(input_shape)]:
        raise GradingFailure(f"{exercise} {configuration}: the saved model takes inputs "
                             f"of shape {shapes}, expected [{tuple(input_shape)}].")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshot_dir", type=Path,
                        help="the grader's snapshot of a submission's exports")
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE",
                        help=f"exercises to verify, in order (default: {', '.join(EXERCISES)})")
    args = parser.parse_args(argv)
    if not args.snapshot_dir.is_dir():
        parser.error(f"snapshot_dir {args.snapshot_dir} is not a folder")
    for exercise in args.exercises:
        if exercise not in EXERCISES:
            parser.error(f"exercise must be one of {', '.join(EXERCISES)}, received {exercise!r}")
    for exercise in args.exercises or EXERCISES:
        verdict = verify_exercise(args.snapshot_dir, exercise)
        print(json.dumps(dataclasses.asdict(verdict)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
