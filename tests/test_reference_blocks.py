"""Shapes and the place of the shortcut in the reference residual blocks."""

import keras
import numpy as np
import pytest
from keras import layers

from autograder.reference import ResNet50, convolutional_block, identity_block

BATCH = 2


def block_model(block, input_shape, **kwargs):
    inputs = keras.Input(shape=input_shape)
    return keras.Model(inputs, block(inputs, **kwargs))


@pytest.mark.parametrize(
    "input_shape, f, filters, expected",
    [
        ((8, 8, 16), 3, [4, 4, 16], (8, 8, 16)),
        ((5, 7, 6), 1, [2, 3, 6], (5, 7, 6)),
        ((4, 4, 256), 5, [64, 64, 256], (4, 4, 256)),
    ],
)
def test_identity_block_keeps_shape(input_shape, f, filters, expected):
    """Does the identity block return the shape of its input?"""
    model = block_model(identity_block, input_shape, f=f, filters=filters)
    assert model.output_shape == (None, *expected)


@pytest.mark.parametrize(
    "input_shape, f, filters, s, expected",
    [
        ((8, 8, 3), 3, [4, 4, 16], 1, (8, 8, 16)),
        ((9, 9, 8), 3, [4, 4, 16], 2, (5, 5, 16)),
        ((10, 6, 8), 2, [2, 2, 8], 3, (4, 2, 8)),
        ((15, 15, 64), 3, [64, 64, 256], 2, (8, 8, 256)),
    ],
)
def test_convolutional_block_shape(input_shape, f, filters, s, expected):
    """Does the convolutional block give ceil(size / s) and F3 channels?"""
    model = block_model(convolutional_block, input_shape, f=f, filters=filters, s=s)
    assert model.output_shape == (None, *expected)


def shortcut_after_relu_block(X, f, filters):
    """The classic mistake, kept here to show the test below can fail."""
    F1, F2, F3 = filters
    shortcut = X
    X = layers.Conv2D(F1, 1)(X)
    X = layers.BatchNormalization()(X)
    X = layers.Activation("relu")(X)
    X = layers.Conv2D(F2, f, padding="same")(X)
    X = layers.BatchNormalization()(X)
    X = layers.Activation("relu")(X)
    X = layers.Conv2D(F3, 1)(X)
    X = layers.BatchNormalization()(X)
    X = layers.Activation("relu")(X)
    return layers.Add()([X, shortcut])


def output_with_main_path_at_minus_one(model, x):
    """Sets every BatchNorm to output exactly -1, then runs the model.

    With gamma = 0 and beta = -1, a BN layer emits -1 whatever its input, in
    training and in inference mode. The main path then ends in -1, so a
    block that adds before the final ReLU returns relu(x - 1), and one that
    adds after it returns relu(-1) + x = x.
    """
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([0 * gamma, 0 * beta - 1, mean, variance])
    return keras.ops.convert_to_numpy(model(x, training=False))


@pytest.mark.parametrize(
    "block, adds_before_relu",
    [(identity_block, True), (shortcut_after_relu_block, False)],
)
def test_identity_shortcut_is_added_before_final_relu(block, adds_before_relu):
    """Is a[l+2] = relu(z[l+2] + a[l]), and is the wrong order caught?"""
    x = np.random.default_rng(0).normal(size=(BATCH, 6, 6, 8)).astype("float32")
    model = block_model(block, x.shape[1:], f=3, filters=[4, 4, 8])
    output = output_with_main_path_at_minus_one(model, x)
    matches = np.allclose(output, np.maximum(x - 1, 0), atol=1e-6)
    assert matches == adds_before_relu


def test_convolutional_shortcut_is_added_before_final_relu():
    """Do the two -1s of main path and shortcut meet before the ReLU?

    Added first, relu(-1 + -1) = 0; added after the ReLU, the result would
    be relu(-1) + -1 = -1.
    """
    x = np.random.default_rng(1).normal(size=(BATCH, 6, 6, 3)).astype("float32")
    model = block_model(convolutional_block, x.shape[1:], f=3, filters=[4, 4, 8], s=2)
    output = output_with_main_path_at_minus_one(model, x)
    np.testing.assert_array_equal(output, np.zeros_like(output))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda X: identity_block(X, 3, [4, 4]), "filters"),
        (lambda X: identity_block(X, 3, [4, 0, 8]), "filters"),
        (lambda X: convolutional_block(X, 3, [4, 4, 8], s=0), "s=0"),
        (lambda X: convolutional_block(X, 3, [4, 4, 8], s=1.5), "s=1.5"),
    ],
)
def test_bad_block_arguments_raise_value_error(call, message):
    """Does a bad argument raise ValueError naming the received value?"""
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        call(keras.Input(shape=(4, 4, 8)))


def test_resnet50_rejects_bad_class_count():
    """Does ResNet50 refuse classes=0 with a message naming it?"""
    with pytest.raises(ValueError, match="classes=0"):
        ResNet50(classes=0)


def test_resnet50_output_is_a_distribution():
    """Does the model map images to one probability per class?"""
    model = ResNet50(input_shape=(32, 32, 3), classes=4)
    x = np.random.default_rng(2).uniform(size=(BATCH, 32, 32, 3)).astype("float32")
    probabilities = keras.ops.convert_to_numpy(model(x, training=False))
    assert probabilities.shape == (BATCH, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
