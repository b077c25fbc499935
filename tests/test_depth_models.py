"""Tests for resnet_helpers.depth_models: plain and residual networks of 6n+2 layers.

Where a test needs values, the weights and pictures come from NumPy's
default_rng, never from Keras' initialisers.
"""

import keras
import numpy as np
import pytest
from keras import layers

from resnet_helpers import depth_models
from resnet_helpers.depth_models import ZeroPadShortcut, build_network, depth_of

SHORTCUT_LAYERS = (layers.Add, ZeroPadShortcut)
# Parameters with 6 classes and BatchNorm; the paper gives 0.27M and 0.85M
# for CIFAR-10's 10 classes (4 more inputs and outputs of the softmax layer).
PARAMETERS = {3: 270_838, 9: 856_822}


def without_shortcuts(model):
    return [layer for layer in model.layers if not isinstance(layer, SHORTCUT_LAYERS)]


@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("batchnorm", [True, False])
def test_plain_and_residual_differ_only_by_additions(n, batchnorm):
    """Do plain and residual networks differ only by their additions?"""
    plain = build_network("plain", n, (16, 16, 3), 6, batchnorm=batchnorm)
    residual = build_network("residual", n, (16, 16, 3), 6, batchnorm=batchnorm)
    assert without_shortcuts(plain) == plain.layers
    kept = without_shortcuts(residual)
    assert [(type(layer).__name__, layer.get_config()) for layer in kept] == [
        (type(layer).__name__, layer.get_config()) for layer in plain.layers]
    assert [w.shape for w in residual.weights] == [w.shape for w in plain.weights]
    # One addition per block; stages 2 and 3 each pad one shortcut.
    assert sum(isinstance(layer, layers.Add) for layer in residual.layers) == 3 * n
    assert sum(isinstance(layer, ZeroPadShortcut) for layer in residual.layers) == 2


@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("kind", depth_models.KINDS)
def test_depth_counts_the_weighted_layers(kind, n):
    """Are there 6n+2 Conv2D and Dense layers, from first convolution to softmax?"""
    model = build_network(kind, n, (8, 8, 3), 6)
    weighted = depth_models.weighted_layers(model)
    counted = [layer for layer in model.layers
               if isinstance(layer, (layers.Conv2D, layers.Dense))]
    assert depth_of(n) == 6 * n + 2 == len(weighted) == len(counted)
    assert weighted[0].name == "stem_conv" and weighted[-1].name == "softmax"
    assert model.name == f"{kind}_{6 * n + 2}"


@pytest.mark.parametrize("n", sorted(PARAMETERS))
def test_parameter_counts_match_the_paper(n):
    """Do the 20- and 56-layer networks have the paper's sizes, for both kinds?"""
    for kind in depth_models.KINDS:
        assert build_network(kind, n, (16, 16, 3), 6).count_params() == PARAMETERS[n]


@pytest.mark.parametrize("input_shape", [(16, 16, 3), (15, 15, 3)])
def test_output_is_one_probability_row_per_picture(input_shape):
    """Is the output (batch, classes) and a distribution, for even and odd sizes?"""
    model = build_network("residual", 1, input_shape, classes=5)
    pictures = np.random.default_rng(0).random((3, *input_shape), dtype=np.float32)
    probabilities = model.predict(pictures, verbose=0)
    assert model.output_shape == (None, 5) and probabilities.shape == (3, 5)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    # Two halvings, rounding up: 16 -> 8 -> 4 and 15 -> 8 -> 4.
    assert model.get_layer("stage3_block1_add").output.shape[1:] == (4, 4, 64)


def test_zero_pad_shortcut_samples_and_appends_zeros():
    """Does the option A shortcut keep every other pixel and append zero channels?"""
    inputs = np.random.default_rng(1).normal(size=(2, 5, 5, 16)).astype("float32")
    outputs = np.asarray(ZeroPadShortcut(channels=32, stride=2)(inputs))
    assert outputs.shape == (2, 3, 3, 32)
    np.testing.assert_array_equal(outputs[..., :16], inputs[:, ::2, ::2, :])
    np.testing.assert_array_equal(outputs[..., 16:], 0)


@pytest.mark.parametrize("kind", ["resnet", "Plain", None])
def test_unknown_kind_is_refused(kind):
    """Is a kind other than "plain" or "residual" refused, naming the value?"""
    with pytest.raises(ValueError, match=repr(kind)):
        build_network(kind, 1)


@pytest.mark.parametrize("n", [0, -1, 2.5, True, "3"])
def test_blocks_that_are_not_a_positive_integer_are_refused(n):
    """Is an n that is not a positive integer refused by depth_of and build_network?"""
    with pytest.raises(ValueError, match=repr(n).replace(".", r"\.")):
        depth_of(n)
    with pytest.raises(ValueError, match="n \\(blocks per stage\\)"):
        build_network("plain", n)


def set_weights_from_numpy(model, weight_scale, seed=0):
    """Sets every kernel to N(0, weight_scale / fan_in) and every bias, if any, to 0."""
    rng = np.random.default_rng(seed)
    for layer in depth_models.weighted_layers(model):
        kernel, *bias = layer.get_weights()
        fan_in = np.prod(kernel.shape[:-1])
        scale = np.sqrt(weight_scale / fan_in)
        layer.set_weights([rng.normal(scale=scale, size=kernel.shape),
                           *[np.zeros_like(b) for b in bias]])


def pictures_and_labels(count=8, side=8, seed=2):
    rng = np.random.default_rng(seed)
    labels = np.eye(6, dtype="float32")[np.arange(count) % 6]
    return rng.random((count, side, side, 3), dtype=np.float32), labels


def test_last_gradient_norm_matches_the_formula():
    """Is the softmax layer's gradient (1/m) features^T (probabilities - labels)?"""
    model = build_network("residual", 1, (8, 8, 3), 6)
    set_weights_from_numpy(model, 2.0)
    images, labels = pictures_and_labels()
    norms = depth_models.kernel_gradient_norms(model, images, labels)
    features = keras.Model(model.input, model.get_layer("average_pool").output)
    pooled = np.asarray(features(images, training=True))
    probabilities = np.asarray(model(images, training=True))
    expected = pooled.T @ (probabilities - labels) / len(images)
    assert norms.shape == (depth_of(1),)
    assert norms[-1] == pytest.approx(np.linalg.norm(expected), rel=1e-4)


def test_shortcuts_keep_gradients_where_plain_layers_lose_them():
    """Without BatchNorm, do only the plain network's gradients vanish?

    The weights have variance 1/fan_in, half of He's. Each plain ReLU layer
    then halves the variance of the signal going forward and of the gradient
    coming back, so in 38 layers both shrink by orders of magnitude, and a
    kernel's gradient is a product of the two. The additions carry both
    around every block.
    """
    images, labels = pictures_and_labels()
    norms = {}
    for kind in depth_models.KINDS:
        model = build_network(kind, 6, (8, 8, 3), 6, batchnorm=False)
        set_weights_from_numpy(model, 1.0)
        norms[kind] = depth_models.kernel_gradient_norms(model, images, labels)
    assert norms["plain"].max() < 1e-6, norms["plain"]
    assert norms["residual"].min() > 0.1, norms["residual"]
