"""Public checks that students run after each exercise.

They test what the exercise specifies, never a hidden answer: output shapes,
parameter counts, the layers in the graph, and properties that hold for any
weights (a ReLU output is never negative; a BatchNorm with gamma = 0 and
beta = b outputs b whatever it is given). No expected value here comes from a
random number stream, so a new TensorFlow or Keras release cannot move them.
Every failure says what was expected, what was found, and gives a hint.
"""

import gc
from collections import Counter

import keras
import numpy as np
from keras import layers

RESNET50_PARAMETERS = {"total": 23_600_006, "trainable": 23_546_886, "non_trainable": 53_120}


class CheckFailure(AssertionError):
    """A public check failed; the message says what to look at."""

    def __init__(self, exercise, what, expected, found, hint):
        super().__init__(
            f"{exercise}: {what}\n  expected: {expected}\n  found:    {found}\n  hint: {hint}"
        )


def build_block_model(block, input_shape, exercise, **kwargs):
    """Calls a student's block on a symbolic input and wraps it in a Model."""
    inputs = keras.Input(shape=input_shape)
    try:
        outputs = block(inputs, **kwargs)
    except NotImplementedError:
        raise  # An unfinished exercise should say so plainly, not as a shape error.
    except Exception as error:
        raise CheckFailure(
            exercise, f"calling it with {kwargs} on input {input_shape} raised an error",
            "a tensor", f"{type(error).__name__}: {error}",
            "the main path and the shortcut must have the same shape where they "
            "are added: check the strides, the 'same' padding and F3.",
        ) from error
    if not isinstance(outputs, keras.KerasTensor):
        raise CheckFailure(
            exercise, "the return value is not a tensor", "the output tensor X",
            type(outputs).__name__, "does the function end with `return X`?",
        )
    return keras.Model(inputs, outputs)


def conv_signatures(model):
    """Multiset of (kernel, strides, filters) over the model's Conv2D layers."""
    return Counter(
        (tuple(layer.kernel_size), tuple(layer.strides), layer.filters)
        for layer in model.layers
        if isinstance(layer, layers.Conv2D)
    )


def count_layers(model, layer_type):
    return sum(isinstance(layer, layer_type) for layer in model.layers)


def block_parameter_count(channels_in, f, filters, projection):
    """Parameters of a bottleneck block: convs with bias, BN with 4 per channel."""
    F1, F2, F3 = filters
    count = (channels_in * F1 + F1) + (f * f * F1 * F2 + F2) + (F2 * F3 + F3)
    count += 4 * (F1 + F2 + F3)
    if projection:
        count += (channels_in * F3 + F3) + 4 * F3
    return count


def silence_batchnorms(model, beta):
    """Makes every BatchNorm output `beta` exactly: gamma = 0 cancels its input."""
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            gamma, old_beta, mean, variance = layer.get_weights()
            layer.set_weights([np.zeros_like(gamma), np.full_like(old_beta, beta), mean, variance])


def ramp_input(shape):
    """A deterministic input from -1 to 3, with negative and positive values."""
    size = int(np.prod(shape))
    return np.linspace(-1.0, 3.0, size, dtype="float32").reshape(shape)


def run(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def check_structure(model, exercise, input_shape, f, filters, s, projection):
    """Compares the Conv2D and BatchNorm layers and the parameters with the spec."""
    F1, F2, F3 = filters
    expected = Counter([((1, 1), (s, s), F1), ((f, f), (1, 1), F2), ((1, 1), (1, 1), F3)])
    if projection:
        expected[((1, 1), (s, s), F3)] += 1
    found = conv_signatures(model)
    if found != expected:
        raise CheckFailure(
            exercise, "the Conv2D layers (kernel, strides, filters) differ from the spec",
            sorted(expected.elements()), sorted(found.elements()),
            "the main path is 1x1 (F1), fxf (F2), 1x1 (F3); only the first 1x1 conv"
            + (" and the shortcut conv (F3) have" if projection else " has")
            + " stride s.",
        )
    expected_bn = 4 if projection else 3
    found_bn = count_layers(model, layers.BatchNormalization)
    if found_bn != expected_bn:
        raise CheckFailure(
            exercise, "wrong number of BatchNormalization layers", expected_bn, found_bn,
            "every convolution is followed by its own BatchNormalization(axis=3).",
        )
    expected_count = block_parameter_count(input_shape[-1], f, filters, projection)
    if model.count_params() != expected_count:
        raise CheckFailure(
            exercise, "wrong number of parameters", expected_count, model.count_params(),
            "keep the Keras defaults: convolutions with a bias, BatchNorm with "
            "centre and scale.",
        )


def check_output(model, exercise, x, expected_shape):
    output = run(model, x)
    if output.shape != expected_shape:
        raise CheckFailure(
            exercise, "wrong output shape", expected_shape, output.shape,
            "F3 sets the channels; the stride s sets the height and width.",
        )
    if output.min() < 0:
        raise CheckFailure(
            exercise, "the output has negative values", "every value >= 0",
            f"minimum {output.min():.3f}",
            "is the final ReLU missing, or is the shortcut added after it?",
        )


def check_identity_block(identity_block):
    """Runs the public checks of Exercise 1 and prints what passed."""
    exercise = "identity_block"
    cases = [((6, 6, 8), 3, [4, 4, 8]), ((5, 7, 6), 1, [2, 3, 6]), ((4, 4, 16), 5, [8, 2, 16])]
    for input_shape, f, filters in cases:
        model = build_block_model(identity_block, input_shape, exercise, f=f, filters=filters)
        check_structure(model, exercise, input_shape, f, filters, s=1, projection=False)
        x = ramp_input((2, *input_shape))
        check_output(model, exercise, x, x.shape)
        silence_batchnorms(model, beta=-1.0)
        output, expected = run(model, x), np.maximum(x - 1.0, 0.0)
        if not np.allclose(output, expected, atol=1e-5):
            added_after_relu = np.allclose(output, x, atol=1e-5)
            raise CheckFailure(
                exercise, "with the main path fixed to output -1, the block should "
                "return ReLU(-1 + a[l])", "ReLU(a[l] - 1)",
                "a[l] itself" if added_after_relu else "other values",
                "add the shortcut before the final ReLU"
                if added_after_relu else "add the block's input X_shortcut to the "
                "main path, then apply the ReLU.",
            )
    print(f"identity_block: all checks passed on {len(cases)} configurations.")


def check_convolutional_block(convolutional_block):
    """Runs the public checks of Exercise 2 and prints what passed."""
    exercise = "convolutional_block"
    cases = [((8, 8, 3), 3, [4, 4, 8], 2), ((9, 9, 8), 3, [4, 6, 16], 2),
             ((6, 6, 4), 1, [2, 2, 4], 1), ((10, 10, 4), 2, [3, 3, 5], 3)]
    for input_shape, f, filters, s in cases:
        model = build_block_model(
            convolutional_block, input_shape, exercise, f=f, filters=filters, s=s
        )
        check_structure(model, exercise, input_shape, f, filters, s=s, projection=True)
        x = ramp_input((2, *input_shape))
        size = [-(-n // s) for n in input_shape[:2]]
        check_output(model, exercise, x, (2, *size, filters[2]))
        for beta, expected, hint in (
            (-1.0, 0.0, "add the shortcut before the final ReLU: ReLU(-1 + -1) = 0."),
            (1.0, 2.0, "the output must add the shortcut's BN to the main path's."),
        ):
            silence_batchnorms(model, beta)
            found = np.unique(np.round(run(model, x), 4))
            if not np.array_equal(found, [expected]):
                raise CheckFailure(
                    exercise, f"with every BatchNorm fixed to output {beta:+.0f}",
                    f"ReLU({beta:+.0f} {beta:+.0f}) = {expected:.0f} everywhere",
                    f"values {found[:5]}", hint,
                )
    print(f"convolutional_block: all checks passed on {len(cases)} configurations.")


def check_resnet50(ResNet50):
    """Runs the public checks of Exercise 3 and prints what passed."""
    exercise = "ResNet50"
    model = ResNet50(input_shape=(64, 64, 3), classes=6)
    if model.output_shape != (None, 6):
        raise CheckFailure(exercise, "wrong output shape", (None, 6), model.output_shape,
                           "the head is GlobalAveragePooling2D, then Dense(classes).")
    found = {
        "total": model.count_params(),
        "trainable": sum(int(np.prod(w.shape)) for w in model.trainable_weights),
        "non_trainable": sum(int(np.prod(w.shape)) for w in model.non_trainable_weights),
    }
    if found != RESNET50_PARAMETERS:
        raise CheckFailure(
            exercise, "wrong number of parameters", RESNET50_PARAMETERS, found,
            "compare model.summary() with the stage table: filters, number of "
            "identity blocks per stage, and the 7x7 stem with 64 filters.",
        )
    probabilities = run(model, ramp_input((2, 64, 64, 3)) / 3)
    if not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4):
        raise CheckFailure(exercise, "outputs are not probabilities", "rows summing to 1",
                           probabilities.sum(axis=1), "the Dense layer needs a softmax.")
    del model
    gc.collect()  # the model is a reference cycle: free its 0.1 GB before you train one
    print("ResNet50: all checks passed (output shape, parameters, softmax).")
