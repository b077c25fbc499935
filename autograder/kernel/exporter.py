"""Build what each graded exercise produces and hand it to the grader.

This is the grader code that runs in the student's kernel. The hidden test
cells call it, one line each. It calls the student's function on fixed
configurations, wraps each result in a Keras model and serialises its
architecture, Keras' JSON config without weights. During grading the
architectures leave the kernel in one display message per exercise, with a
MIME type of their own (``EXPORT_MIME``); the grader's executor, outside the
sandbox, takes that message out of the graded cell the moment the cell
finishes (``autograder.snapshot``). Nothing is read back from the kernel's
files, and nothing it sends later can change what is verified.

A separate process that never runs student code (``autograder.verify``)
rebuilds the models and compares them with the reference, so no verdict
rests on anything that ran here: a student who patches this module can at
most send a model of their own making, which is verified like any other.

Outside grading (no ``channel.CHANNEL_VARIABLE`` in the environment, e.g. an
instructor running the source notebook) the models are built and thrown
away; ``export_dir`` writes them to a folder instead, for the in-process
checks and the tests.
"""

import gc
import json
import os
from pathlib import Path

import keras
from IPython.display import publish_display_data

from autograder.kernel.channel import (
    CHANNEL_VARIABLE,
    EXPORT_MIME,
    MANIFEST,
    MODEL_SUFFIX,
    PARTIAL_SUFFIX,
)
from autograder.kernel.graph_walk import tensors_built_before

# Configurations the student's blocks are compared with the reference on:
# (input shape, f, filters) and (input shape, f, filters, s).
IDENTITY_CASES = (
    ((6, 6, 8), 3, [4, 4, 8]),
    ((5, 7, 12), 1, [3, 5, 12]),
    ((4, 4, 16), 5, [8, 2, 16]),
)
CONVOLUTIONAL_CASES = (
    ((8, 8, 3), 3, [4, 4, 8], 2),
    ((9, 9, 8), 3, [4, 6, 16], 2),
    ((6, 6, 4), 1, [2, 2, 4], 1),
    ((10, 10, 4), 2, [3, 3, 5], 3),
    ((7, 7, 6), 3, [6, 4, 6], 2),  # F1 == F3: main path and shortcut look alike
)
# Configurations a failed block is diagnosed on. Distinct F1, F2, F3 show
# their order; f = 1 shows a window fixed to 3; s = 2 and s = 3 show where
# the strides are.
IDENTITY_PROBES = (
    ((6, 6, 8), 3, [2, 4, 8]),
    ((5, 5, 6), 1, [3, 2, 6]),
)
CONVOLUTIONAL_PROBES = (
    ((8, 8, 3), 3, [2, 4, 8], 2),
    ((7, 7, 4), 1, [5, 3, 6], 3),
)
RESNET50_INPUT_SHAPE = (64, 64, 3)
RESNET50_CLASSES = 6


def model_json(model):
    """A model's architecture, Keras' JSON config, without its weights.

    The verifier gives every model the reference's weights before comparing,
    so the student's own weights are never read; leaving them out spares
    sending 95 MB per ResNet-50.
    """
    return model.to_json()


class ExportFailure(AssertionError):
    """The student's function could not be built on a configuration."""


def block_arguments(case):
    """(input shape, keyword arguments) of a block configuration."""
    input_shape, f, filters, *stride = case
    kwargs = {"f": f, "filters": list(filters)}
    if stride:
        kwargs["s"] = stride[0]
    return input_shape, kwargs


def describe_case(case):
    """A configuration as the student would write the call, for messages."""
    _, kwargs = block_arguments(case)
    return "(" + ", ".join(f"{key}={value}" for key, value in kwargs.items()) + ")"


def export_identity_block(identity_block, export_dir=None):
    """Hidden test of exercise 1: saves identity_block's models for verification."""
    __tracebackhide__ = True  # IPython shows the message, not this frame
    _export_block("identity_block", identity_block, IDENTITY_CASES, IDENTITY_PROBES,
                  export_dir)


def export_convolutional_block(convolutional_block, export_dir=None):
    """Hidden test of exercise 2: saves convolutional_block's models for verification."""
    __tracebackhide__ = True
    _export_block("convolutional_block", convolutional_block, CONVOLUTIONAL_CASES,
                  CONVOLUTIONAL_PROBES, export_dir)


def export_resnet50(ResNet50, export_dir=None):
    """Hidden test of exercise 3: saves the model ResNet50 builds for verification."""
    __tracebackhide__ = True
    with _Exercise("ResNet50", export_dir) as exercise:
        configuration = f"(input_shape={RESNET50_INPUT_SHAPE}, classes={RESNET50_CLASSES})"
        model = _call_student(
            lambda: ResNet50(input_shape=RESNET50_INPUT_SHAPE, classes=RESNET50_CLASSES),
            "ResNet50", configuration)
        if not isinstance(model, keras.Model):
            raise ExportFailure(f"ResNet50 {configuration} returned "
                                f"{type(model).__name__}, expected a keras.Model.")
        exercise.save("model", model)


def _export_block(exercise_name, block, cases, probes, export_dir):
    __tracebackhide__ = True
    with _Exercise(exercise_name, export_dir) as exercise:
        # Probes first: a block that raises still leaves its partial graph
        # for the diagnosis before the failure on a case ends the export.
        for index, case in enumerate(probes):
            exercise.save_block(f"probe{index}", block, case, keep_partial=True)
        for index, case in enumerate(cases):
            exercise.save_block(f"case{index}", block, case, keep_partial=False)


def _call_student(build, exercise, configuration):
    """Returns build(); an error of the student's code becomes an ExportFailure."""
    __tracebackhide__ = True
    try:
        return build()
    except NotImplementedError:
        raise  # an unfinished exercise should say so plainly
    except Exception as error:
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise ExportFailure(f"{exercise} {configuration}: your code raised "
                            f"{type(error).__name__}: {first_line}") from error


class _Exercise:
    """Collects one exercise's models and a manifest, then delivers them."""

    def __init__(self, name, export_dir):
        self.name = name
        self.export_dir = export_dir
        self.files = {}  # file name -> text, as the verifier reads them
        self.saved, self.partial = [], []

    def __enter__(self):
        return self

    def __exit__(self, error_type, error, traceback):
        __tracebackhide__ = True
        manifest = {"exercise": self.name, "saved": self.saved, "partial": self.partial,
                    "error": "" if error is None else f"{error_type.__name__}: {error}"}
        self.files[MANIFEST] = json.dumps(manifest, indent=1)
        self._deliver()
        if error is None:
            print(f"{self.name}: built; the grader verifies it.")
        # Keras models are reference cycles, which Python frees only when its
        # cycle collector next runs; a ResNet-50 is 0.1 GB that the training
        # in the notebook's next cells would otherwise add to.
        gc.collect()
        return False

    def _deliver(self):
        if self.export_dir is not None:
            folder = Path(self.export_dir) / self.name
            folder.mkdir(parents=True, exist_ok=True)
            # A rerun must not leave stale models behind, whole or partial.
            for pattern in (f"*{MODEL_SUFFIX}", f"*{PARTIAL_SUFFIX}"):
                for old in folder.glob(pattern):
                    old.unlink()
            for name, text in self.files.items():
                (folder / name).write_text(text)
        elif os.environ.get(CHANNEL_VARIABLE) == "display":
            publish_display_data({EXPORT_MIME: {"exercise": self.name,
                                                "files": self.files}})

    def save(self, stem, model):
        self.files[f"{stem}{MODEL_SUFFIX}"] = model_json(model)
        self.saved.append(stem)

    def save_block(self, stem, block, case, keep_partial):
        __tracebackhide__ = True
        input_shape, kwargs = block_arguments(case)
        block_input = keras.Input(shape=input_shape)
        configuration = describe_case(case)
        try:
            output = _call_student(lambda: block(block_input, **kwargs), self.name,
                                   configuration)
        except ExportFailure as failure:
            if keep_partial:
                self._save_partial(stem, block_input, failure.__cause__)
                return
            raise
        if not isinstance(output, keras.KerasTensor):
            raise ExportFailure(f"{self.name} {configuration} returned "
                                f"{type(output).__name__}, expected the block's output "
                                "tensor (return X at the end).")
        self.save(stem, keras.Model(block_input, output))

    def _save_partial(self, stem, block_input, error):
        """Saves what a raising block had built, for the diagnosis only."""
        ends = tensors_built_before(error, block_input)
        if not ends:
            return
        try:
            self.files[f"{stem}{PARTIAL_SUFFIX}"] = model_json(keras.Model(block_input, ends))
        except Exception:  # a hint is a bonus: it must never stand in grading's way
            return
        self.partial.append(stem)
