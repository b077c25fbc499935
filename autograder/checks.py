"""Hidden grading checks: a submission against the reference, with shared weights.

The notebook's hidden test cells call one function each, in one line, so the
feedback nbgrader generates shows that line and the message, never this code.
Each check builds the student's function and the reference side by side on
several configurations, gives the reference non-trivial weights from NumPy's
generator (not Keras' initialisers, whose streams change between releases),
copies them into the student's model by the structure of the graph, and
compares the outputs in training and in inference mode. Any correct
implementation passes, whatever its layer names, creation order or spelling.

A failure message ends with the known mistakes ``diagnostics`` recognises,
each on a ``diagnosis: <tag>`` line followed by a hint, so the student learns
what to change and a grading tool can count tags across a class. An error
raised by the student's code becomes a failure too (its traceback chained),
except NotImplementedError, which an unfinished exercise raises plainly.
"""

import functools

import keras
import numpy as np
from keras import layers

from autograder import diagnostics, reference
from autograder.graph_match import GraphMatchError, transfer_weights

# Largest accepted max|student - reference| / max|reference|; float32
# rounding through 50 layers stays two orders of magnitude below it.
RELATIVE_TOLERANCE = 1e-4
NUM_INPUTS = 2
BATCH = 3

IDENTITY_CASES = (  # (input shape, f, filters)
    ((6, 6, 8), 3, [4, 4, 8]),
    ((5, 7, 12), 1, [3, 5, 12]),
    ((4, 4, 16), 5, [8, 2, 16]),
)
CONVOLUTIONAL_CASES = (  # (input shape, f, filters, s)
    ((8, 8, 3), 3, [4, 4, 8], 2),
    ((9, 9, 8), 3, [4, 6, 16], 2),
    ((6, 6, 4), 1, [2, 2, 4], 1),
    ((10, 10, 4), 2, [3, 3, 5], 3),
    ((7, 7, 6), 3, [6, 4, 6], 2),  # F1 == F3: main path and shortcut look alike
)
RESNET50_INPUT_SHAPE = (64, 64, 3)


class GradingFailure(AssertionError):
    """A graded exercise differs from the reference; the message says how."""


def fill_weights(model, seed):
    """Sets every weight of `model` from NumPy's generator, BN statistics included.

    Moving means and variances far from 0 and 1 make inference mode differ
    from training mode, so both modes are really tested.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights([
                rng.uniform(0.5, 1.5, channels), rng.normal(0, 0.2, channels),
                rng.normal(0, 0.2, channels), rng.uniform(0.5, 1.5, channels),
            ])
        elif layer.weights:
            new = []
            for weight in layer.get_weights():
                fan_in = int(np.prod(weight.shape[:-1])) or 1
                new.append(rng.normal(0, np.sqrt(2 / fan_in), weight.shape))
            layer.set_weights(new)


def outputs(model, inputs):
    """Outputs of `model` on each input, in inference and in training mode.

    Keys are (mode, input index, output index), for models with several outputs.

    Inference mode comes first: a call in training mode moves BatchNorm's
    moving statistics by the layer's momentum, which is the student's free
    choice, so inference outputs taken afterwards would differ for a
    correct block.
    """
    return {
        (mode, index, part): keras.ops.convert_to_numpy(tensor)
        for mode in ("inference", "training")
        for index, x in enumerate(inputs)
        for part, tensor in enumerate(keras.tree.flatten(model(x, training=mode == "training")))
    }


def relative_difference(found, expected):
    scale = max(float(np.max(np.abs(expected))), 1e-12)
    return float(np.max(np.abs(found - expected))) / scale


def share_weights(student_model, reference_model, exercise, configuration):
    """Copies the reference's weights into the student's model; returns the pairs."""
    try:
        return transfer_weights(reference_model, student_model)
    except GraphMatchError as error:
        raise GradingFailure(
            f"{exercise} {configuration}: its layers do not match the specification.\n"
            f"  {error}"
        ) from None


def compare(student_model, reference_model, inputs, exercise, configuration):
    """Compares the outputs of two models that already share their weights."""
    expected, found = outputs(reference_model, inputs), outputs(student_model, inputs)
    for key in expected:
        if found[key].shape != expected[key].shape:
            raise GradingFailure(
                f"{exercise} {configuration}: output shape {found[key].shape}, "
                f"expected {expected[key].shape}."
            )
        difference = relative_difference(found[key], expected[key])
        if not difference <= RELATIVE_TOLERANCE:
            raise GradingFailure(
                f"{exercise} {configuration}: with the reference's weights, the "
                f"output differs in {key[0]} mode (relative difference "
                f"{difference:.3g}, tolerance {RELATIVE_TOLERANCE:g}).\n"
                "  Compare your block, layer by layer, with the steps in the exercise."
            )


def build_student(build, exercise, configuration):
    """Returns `build()`, which runs the student's code; its errors fail the check."""
    __tracebackhide__ = True
    try:
        return build()
    except NotImplementedError:
        raise  # an unfinished exercise should say so plainly
    except Exception as error:
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise GradingFailure(
            f"{exercise} {configuration}: your code raised "
            f"{type(error).__name__}: {first_line}"
        ) from error


def block_models(student_block, reference_block, input_shape, exercise, configuration,
                 **kwargs):
    student_input = keras.Input(shape=input_shape)
    reference_input = keras.Input(shape=input_shape)
    student = build_student(
        lambda: keras.Model(student_input, student_block(student_input, **kwargs)),
        exercise, configuration,
    )
    return (
        student,
        keras.Model(reference_input, reference_block(reference_input, **kwargs)),
    )


def explains_failures(exercise):
    """Decorates a grade_* check: its GradingFailure ends with the diagnoses."""

    def decorate(grade):
        @functools.wraps(grade)
        def grade_and_explain(student_function):
            __tracebackhide__ = True
            try:
                return grade(student_function)
            except GradingFailure as failure:
                found = diagnostics.diagnose(exercise, student_function)
                if found:  # same exception, so its traceback and cause are kept
                    explained = f"{failure}\n{diagnostics.format_diagnoses(found)}"
                    failure.args = (explained,)
                raise

        return grade_and_explain

    return decorate


def random_inputs(shape, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(BATCH, *shape)).astype("float32") for _ in range(NUM_INPUTS)]


@explains_failures("identity_block")
def grade_identity_block(identity_block):
    """Raises GradingFailure unless `identity_block` computes the reference's block."""
    __tracebackhide__ = True  # IPython and pytest show the message, not this frame
    for seed, (input_shape, f, filters) in enumerate(IDENTITY_CASES):
        configuration = f"(f={f}, filters={filters})"
        student, expected = block_models(
            identity_block, reference.identity_block, input_shape, "identity_block",
            configuration, f=f, filters=filters,
        )
        fill_weights(expected, seed)
        share_weights(student, expected, "identity_block", configuration)
        compare(student, expected, random_inputs(input_shape, seed), "identity_block",
                configuration)
    print(f"identity_block matches the reference on {len(IDENTITY_CASES)} configurations.")


@explains_failures("convolutional_block")
def grade_convolutional_block(convolutional_block):
    """Raises GradingFailure unless `convolutional_block` computes the reference's."""
    __tracebackhide__ = True
    for seed, (input_shape, f, filters, s) in enumerate(CONVOLUTIONAL_CASES):
        configuration = f"(f={f}, filters={filters}, s={s})"
        student, expected = block_models(
            convolutional_block, reference.convolutional_block, input_shape,
            "convolutional_block", configuration, f=f, filters=filters, s=s,
        )
        fill_weights(expected, seed)
        share_weights(student, expected, "convolutional_block", configuration)
        compare(student, expected, random_inputs(input_shape, seed), "convolutional_block",
                configuration)
    print(f"convolutional_block matches the reference on {len(CONVOLUTIONAL_CASES)} "
          "configurations.")


@explains_failures("ResNet50")
def grade_resnet50(ResNet50):
    """Raises GradingFailure unless `ResNet50` builds the reference's model."""
    __tracebackhide__ = True
    configuration = "(input_shape=(64, 64, 3), classes=6)"
    student = build_student(
        lambda: ResNet50(input_shape=RESNET50_INPUT_SHAPE, classes=6), "ResNet50",
        configuration,
    )
    expected = reference.ResNet50(input_shape=RESNET50_INPUT_SHAPE, classes=6)
    fill_weights(expected, seed=50)
    # Images in [0, 1], as the model sees them in training.
    rng = np.random.default_rng(50)
    inputs = [rng.uniform(size=(BATCH, *RESNET50_INPUT_SHAPE)).astype("float32")
              for _ in range(NUM_INPUTS)]
    pairs = share_weights(student, expected, "ResNet50", configuration)
    # A softmax of large logits saturates and could hide a wrong body, so the
    # features entering the Dense layer are compared too, in the same call.
    student_dense = next(s for r, s in pairs if r is expected.layers[-1])
    compare(
        keras.Model(student.input, [student_dense.input, student.output]),
        keras.Model(expected.input, [expected.layers[-1].input, expected.output]),
        inputs, "ResNet50", configuration,
    )
    print("ResNet50 matches the reference.")
