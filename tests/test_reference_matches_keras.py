"""Is autograder.reference.ResNet50 the network keras.applications.ResNet50 is?

keras.applications.ResNet50 was written by the Keras team, not by us, so
agreeing with it is evidence that the reference is right. Its weights are set
from our own numpy generator, with He-scaled kernels and non-trivial
BatchNorm statistics, then transferred into the reference by graph structure
(autograder.graph_match), never by names or creation order.

BatchNorm epsilon: the reference keeps the Keras default 1e-3, whereas
keras.applications uses 1.001e-5. Epsilon is no weight, but it changes every
BN output; it is a free choice the exercise does not grade, so the transfer
aligns it (``align_batchnorm_epsilon=True``), and one test shows the
agreement really depends on that.

Relative error, as used throughout: max |reference - keras| / max |keras|
over a whole batch, so a small value means agreement at the scale of the
output, not only where outputs happen to be large.
"""

import keras
import numpy as np
import pytest

from autograder import reference
from autograder.graph_match import transfer_weights

INPUT_SHAPE = (64, 64, 3)
CLASSES = 6
TOLERANCE = 1e-4  # largest relative error accepted
BATCHES = 3
BATCH_SIZE = 4  # > 1, so training-mode batch statistics are not degenerate
QUANTITIES = ("features", "logits", "probabilities")


def relative_error(actual, expected):
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def fill_weights(model, rng):
    """Sets every weight from our generator: He-scaled kernels, varied BN."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense):
            fan_in = int(np.prod(layer.kernel.shape[:-1]))
            scale = np.sqrt(2 / fan_in)
            layer.kernel.assign(_draw(rng.normal, 0, scale, layer.kernel))
            layer.bias.assign(_draw(rng.uniform, -0.1, 0.1, layer.bias))
        elif isinstance(layer, keras.layers.BatchNormalization):
            layer.gamma.assign(_draw(rng.uniform, 0.5, 1.5, layer.gamma))
            layer.beta.assign(_draw(rng.uniform, -0.2, 0.2, layer.beta))
            layer.moving_mean.assign(_draw(rng.normal, 0, 0.5, layer.moving_mean))
            variance = _draw(rng.uniform, 0.5, 2, layer.moving_variance)
            layer.moving_variance.assign(variance)


def _draw(sample, a, b, variable):
    return sample(a, b, variable.shape).astype("float32")


def calibrate_batchnorm(model, x, rng):
    """Gives every BN moving statistics near its real input's, then perturbs them.

    Purely random statistics make inference-mode activations grow ~1000x over
    16 blocks and saturate the softmax. With momentum 0 for one training-mode
    call, each moving mean/variance becomes that batch's statistics; scaling
    the variances by U(0.7, 1.4) and shifting the means keeps them non-trivial.
    """
    batchnorms = [
        x for x in model.layers if isinstance(x, keras.layers.BatchNormalization)
    ]
    momenta = [bn.momentum for bn in batchnorms]
    for bn in batchnorms:
        bn.momentum = 0.0
    model(x, training=True)
    for bn, momentum in zip(batchnorms, momenta):
        bn.momentum = momentum
        scale = rng.uniform(0.7, 1.4, bn.moving_variance.shape)
        variance = bn.moving_variance.numpy() * scale
        shift = 0.1 * np.sqrt(variance) * rng.normal(size=variance.shape)
        bn.moving_variance.assign(variance.astype("float32"))
        bn.moving_mean.assign((bn.moving_mean.numpy() + shift).astype("float32"))


class Probe:
    """Runs a model once for pooled features, logits and probabilities.

    The softmax saturates easily, so the features before the Dense layer and
    the logits (computed from them in float64) are compared as well.
    """

    def __init__(self, model):
        dense = [x for x in model.layers if isinstance(x, keras.layers.Dense)]
        assert len(dense) == 1, f"expected one Dense layer, found {len(dense)}"
        self.dense = dense[0]
        self.model = keras.Model(model.input, [self.dense.input, model.output])

    def __call__(self, x, training):
        features, probabilities = self.model(x, training=training)
        features = np.asarray(features, np.float64)
        kernel = np.asarray(self.dense.kernel, np.float64)
        logits = features @ kernel + np.asarray(self.dense.bias, np.float64)
        return dict(zip(QUANTITIES, (features, logits, np.asarray(probabilities))))


def compare_models():
    """Builds both models and records every output the tests look at, in order.

    The order matters: before-transfer outputs first, then outputs with
    epsilon left unaligned, then aligned inference, and training mode last,
    because a training-mode call moves BN statistics.
    """
    rng = np.random.default_rng(20240611)
    keras_model = keras.applications.ResNet50(
        weights=None, input_shape=INPUT_SHAPE, classes=CLASSES)
    reference_model = reference.ResNet50(input_shape=INPUT_SHAPE, classes=CLASSES)
    fill_weights(keras_model, rng)
    fill_weights(reference_model, rng)
    calibrate_batchnorm(keras_model, _batch(rng, 2 * BATCH_SIZE), rng)
    batches = [_batch(rng, BATCH_SIZE) for _ in range(BATCHES)]
    keras_probe, reference_probe = Probe(keras_model), Probe(reference_model)

    def run(probe, training=False):
        return [probe(x, training) for x in batches]

    runs = {"keras": run(keras_probe), "before": run(reference_probe)}
    transfer_weights(keras_model, reference_model, align_batchnorm_epsilon=False)
    runs["unaligned"] = run(reference_probe)
    pairs = transfer_weights(keras_model, reference_model)
    runs["inference"] = run(reference_probe)
    runs["keras_training"] = run(keras_probe, training=True)
    runs["training"] = run(reference_probe, training=True)
    return {"keras_model": keras_model, "reference_model": reference_model,
            "pairs": pairs, "runs": runs}


def _batch(rng, size):
    return rng.normal(size=(size, *INPUT_SHAPE)).astype("float32")


def max_relative_errors(runs, name, expected="keras"):
    """Worst relative error of each quantity over all batches."""
    return {
        quantity: max(relative_error(got[quantity], want[quantity])
                      for got, want in zip(runs[name], runs[expected]))
        for quantity in QUANTITIES
    }


@pytest.fixture(scope="module")
def compared():
    return compare_models()


@pytest.mark.parametrize("name", ["keras_model", "reference_model"])
def test_parameter_counts_are_pinned(compared, name):
    """Does the model have ResNet-50's 23,600,006 parameters, split as pinned?"""
    model = compared[name]
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert (model.count_params(), trainable, non_trainable) == (
        23_600_006, 23_546_886, 53_120)


def test_every_weighted_layer_is_paired_once(compared):
    """Are all 107 weighted layers of each model paired, each once, kind to kind?"""
    pairs = compared["pairs"]
    assert len(pairs) == 107
    for model, side in ((compared["keras_model"], 0), (compared["reference_model"], 1)):
        weighted = {id(x) for x in model.layers if x.weights}
        assert sorted(id(pair[side]) for pair in pairs) == sorted(weighted)
    assert all(type(k) is type(r) for k, r in pairs)


def test_outputs_differ_before_transfer(compared):
    """Do the models disagree before the transfer, so agreeing later means something?"""
    errors = max_relative_errors(compared["runs"], "before")
    assert min(errors.values()) > 100 * TOLERANCE, errors


def test_unaligned_epsilon_changes_outputs(compared):
    """Without aligning BN epsilon, would the models disagree beyond the tolerance?"""
    errors = max_relative_errors(compared["runs"], "unaligned")
    assert errors["logits"] > 100 * TOLERANCE, errors


def test_inference_outputs_are_not_saturated(compared):
    """Are the probabilities away from 0 and 1, so comparing them is sensitive?"""
    runs = compared["runs"]["keras"]
    probabilities = np.concatenate([r["probabilities"] for r in runs])
    assert probabilities.max(axis=1).min() < 0.99
    assert np.abs(np.concatenate([r["logits"] for r in runs])).max() < 50


@pytest.mark.parametrize("mode, expected", [("inference", "keras"),
                                            ("training", "keras_training")])
def test_reference_agrees_with_keras_applications(compared, mode, expected):
    """After the transfer, does the reference agree within 1e-4 relative error?"""
    errors = max_relative_errors(compared["runs"], mode, expected)
    assert max(errors.values()) <= TOLERANCE, errors


def test_training_mode_differs_from_inference(compared):
    """Does training mode really use other BN statistics than inference mode?"""
    errors = max_relative_errors(compared["runs"], "keras_training", "keras")
    assert errors["features"] > 100 * TOLERANCE, errors
