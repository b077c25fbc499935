"""Compare a student's model with the reference's, with shared weights.

The reference gets non-trivial weights from NumPy's generator (not Keras'
initialisers, whose streams change between releases); they are copied into
the student's model by the structure of the graph, and the outputs are
compared in training and in inference mode. Any correct implementation
passes, whatever its layer names, creation order or spelling.
"""

import keras
import numpy as np
from keras import layers

from autograder.graph_match import GraphMatchError, transfer_weights

# Largest accepted max|student - reference| / max|reference|; float32
# rounding through 50 layers stays two orders of magnitude below it.
RELATIVE_TOLERANCE = 1e-4
# One batch of six: every extra batch costs four more forward passes (two
# modes, two models), about 0.5 s each for ResNet-50, and six samples already
# give BatchNorm's training mode non-trivial batch statistics.
NUM_INPUTS = 1
BATCH = 6


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


def random_inputs(shape, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(BATCH, *shape)).astype("float32") for _ in range(NUM_INPUTS)]
