"""Unit tests of autograder.graph_match on small residual models.

Every model is built twice, in two styles, and compared by transferring the
weights of one into the other: expected outputs always come from running the
other model, never from values written down here. Weights are set from our
own numpy generator, so no test depends on a framework's random stream.
"""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from autograder.graph_match import (
    GraphMatchError,
    GraphMismatchError,
    UnsupportedModelError,
    match_layers,
    transfer_weights,
)

INPUT_SHAPE = (8, 8, 3)
# Names that lie: a name-based matcher would pair main path with shortcut.
MISLEADING = {"conv1": "shortcut_conv", "shortcut_conv": "conv1",
              "bn1": "shortcut_bn", "shortcut_bn": "bn1"}


@dataclasses.dataclass(frozen=True)
class Style:
    """How a student might spell the same two residual blocks."""

    api: object = keras               # keras or tf.keras
    shortcut_first: bool = True       # build the shortcut before the main path
    add: str = "Add"                  # Add, add, ops.add or plus
    swap_add: bool = False            # Add([shortcut, main]) instead
    relu: str = "Activation"          # Activation, ReLU or ops.relu
    names: bool = False               # explicit, misleading layer names
    initializer: str = "glorot_uniform"
    epsilon: float = 1e-3
    momentum: float = 0.99
    drop: frozenset = frozenset()     # roles left out, e.g. "identity.bn2"
    extra_conv: bool = False          # one more 1x1 conv in the identity block
    identity_adds_bn1: bool = False   # wrong wiring: Add takes ReLU(bn1), not X


def build(style=Style(), filters=(4, 6, 8), input_shape=INPUT_SHAPE, stride=2,
          name=None):
    """A convolutional block, an identity block, pooling and a Dense head.

    Returns:
        (model, roles): roles maps "block.role" to the layer object playing it,
        a handle that does not rely on names.
    """
    roles = {}
    inputs = style.api.Input(input_shape)
    x = _block(inputs, style, roles, "conv", filters, stride, conv_shortcut=True)
    x = _block(x, style, roles, "identity", filters, 1, conv_shortcut=False)
    x = style.api.layers.GlobalAveragePooling2D()(x)
    roles["head.dense"] = style.api.layers.Dense(3, name=_name(style, "head.dense"))
    return style.api.Model(inputs, roles["head.dense"](x), name=name), roles


def _block(x, style, roles, block, filters, stride, conv_shortcut):
    F1, F2, F3 = filters

    def layer(role, t, make):
        key = f"{block}.{role}"
        if key in style.drop:
            return t
        roles[key] = make(_name(style, key))
        return roles[key](t)

    def conv(role, t, n, size, s=1):
        return layer(role, t, lambda nm: style.api.layers.Conv2D(
            n, size, strides=s, padding="same",
            kernel_initializer=style.initializer, name=nm))

    def bn(role, t):
        return layer(role, t, lambda nm: style.api.layers.BatchNormalization(
            epsilon=style.epsilon, momentum=style.momentum, name=nm))

    def shortcut_path():
        return bn("shortcut_bn", conv("shortcut_conv", x, F3, 1, stride)) \
            if conv_shortcut else x

    def main_path():
        first = _relu(style, bn("bn1", conv("conv1", x, F1, 1, stride)))
        t = _relu(style, bn("bn2", conv("conv2", first, F2, 3)))
        t = bn("bn3", conv("conv3", t, F3, 1))
        if style.extra_conv and block == "identity":
            t = conv("extra_conv", t, F3, 1)
        return t, first

    if style.shortcut_first:
        shortcut = shortcut_path()
        main, first = main_path()
    else:
        main, first = main_path()
        shortcut = shortcut_path()
    if style.identity_adds_bn1 and block == "identity":
        shortcut = first
    return _relu(style, _add(style, main, shortcut))


def _name(style, key):
    if not style.names:
        return None
    block, role = key.split(".")
    return f"my_{block}_{MISLEADING.get(role, role)}"


def _relu(style, t):
    if style.relu == "Activation":
        return style.api.layers.Activation("relu")(t)
    if style.relu == "ReLU":
        return style.api.layers.ReLU()(t)
    return style.api.ops.relu(t)


def _add(style, main, shortcut):
    a, b = (shortcut, main) if style.swap_add else (main, shortcut)
    if style.add == "Add":
        return style.api.layers.Add()([a, b])
    if style.add == "add":
        return style.api.layers.add([a, b])
    if style.add == "ops.add":
        return style.api.ops.add(a, b)
    return a + b


def fill_weights(model, seed):
    """Sets every weight from our own generator, BN statistics non-trivial.

    Some moving variances are small, so BN epsilon visibly matters.
    """
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if weight.name == "moving_variance":
            values = rng.uniform(0.01, 2.0, weight.shape)
        elif weight.name == "gamma":
            values = rng.uniform(0.5, 1.5, weight.shape)
        else:
            values = rng.normal(0.0, 0.5, weight.shape)
        weight.assign(values.astype("float32"))


def batch(seed=0, shape=INPUT_SHAPE):
    return np.random.default_rng(seed).normal(size=(4, *shape)).astype("float32")


def outputs(model, x, training):
    return np.asarray(model(x, training=training))


def assert_transfer_reproduces(source, target, shape=INPUT_SHAPE, **kwargs):
    """Fills both, transfers, and compares outputs: inference, then training.

    Inference goes first because a training-mode call updates moving stats.
    """
    fill_weights(source, seed=1)
    fill_weights(target, seed=2)
    x = batch(shape=shape)
    assert not np.allclose(outputs(target, x, False), outputs(source, x, False)), \
        "outputs agree before the transfer, so the comparison would prove nothing"
    pairs = transfer_weights(source, target, **kwargs)
    for training in (False, True):
        np.testing.assert_allclose(
            outputs(target, x, training), outputs(source, x, training),
            rtol=1e-5, atol=1e-6, err_msg=f"training={training}")
    return pairs


STYLES = {
    "shortcut_built_last": Style(shortcut_first=False),
    "misleading_names": Style(names=True),
    "add_operands_swapped": Style(swap_add=True),
    "layers_add_function": Style(add="add"),
    "keras_ops_add": Style(add="ops.add"),
    "plus_operator": Style(add="plus"),
    "relu_layer": Style(relu="ReLU"),
    "keras_ops_relu": Style(relu="ops.relu"),
    "other_initializer": Style(initializer="he_normal"),
    "other_bn_epsilon_and_momentum": Style(epsilon=1e-5, momentum=0.9),
    "tf_keras": Style(api=tf.keras),
    "tf_keras_ops": Style(api=tf.keras, add="ops.add", relu="ops.relu"),
    "everything_at_once": Style(
        api=tf.keras, shortcut_first=False, add="plus", swap_add=True,
        relu="ops.relu", names=True, initializer="he_uniform", epsilon=2e-5),
}


@pytest.mark.parametrize("style", STYLES.values(), ids=STYLES.keys())
def test_other_spelling_matches_and_reproduces(style):
    """Does a block spelled another way match, and compute the same after transfer?"""
    source, source_roles = build(name="reference")
    target, target_roles = build(style, name="student")
    pairs = assert_transfer_reproduces(source, target)
    role_of = {id(layer): role for role, layer in target_roles.items()}
    assert len(pairs) == len(source_roles) == len(target_roles)
    paired = {id(s): id(t) for s, t in pairs}
    for role, layer in source_roles.items():
        assert role_of[paired[id(layer)]] == role, f"{role} paired with the wrong layer"


def test_pairs_are_in_source_topological_order():
    """Does every pair's source layer come after the layers feeding it?"""
    source, roles = build(Style(shortcut_first=False))
    target, _ = build()
    order = [id(s) for s, _ in match_layers(source, target)]
    for before, after in (("conv.conv1", "conv.bn1"), ("conv.bn3", "identity.conv1"),
                          ("conv.shortcut_bn", "identity.conv1"),
                          ("identity.bn3", "head.dense")):
        assert order.index(id(roles[before])) < order.index(id(roles[after]))


def test_f1_equal_f3_shortcut_pairs_with_shortcut():
    """With F1 == F3, is the shortcut conv still told apart from the first main conv?"""
    filters = (8, 4, 8)  # shortcut and conv1 kernels are both (1, 1, 3, 8)
    source, source_roles = build(filters=filters)
    target, target_roles = build(
        Style(shortcut_first=False, swap_add=True, names=True), filters=filters)
    assert (source_roles["conv.shortcut_conv"].kernel.shape
            == source_roles["conv.conv1"].kernel.shape)
    assert_transfer_reproduces(source, target)

    # The output comparison must be able to see the confusion it guards against.
    x = batch()
    expected = outputs(source, x, False)
    for a, b in (("shortcut_conv", "conv1"), ("shortcut_bn", "bn1")):
        first, second = target_roles[f"conv.{a}"], target_roles[f"conv.{b}"]
        first_weights = first.get_weights()
        first.set_weights(second.get_weights())
        second.set_weights(first_weights)
    assert not np.allclose(outputs(target, x, False), expected, rtol=1e-3)


MISMATCHES = {
    # id: (target style, role whose layer the error must name, side)
    "missing_bn": (Style(drop=frozenset({"identity.bn2"})), "identity.bn2", "missing"),
    "missing_shortcut_conv": (
        Style(drop=frozenset({"conv.shortcut_conv"})), "conv.shortcut_conv", "missing"),
    "extra_conv": (Style(extra_conv=True), "identity.extra_conv", "unexpected"),
}


@pytest.mark.parametrize(
    "style, role, side", MISMATCHES.values(), ids=MISMATCHES.keys())
def test_structural_difference_names_the_layer(style, role, side):
    """Does a missing or extra layer raise an error that names it, kind and shapes?"""
    # Input with F3 channels and stride 1, so the shortcut conv can be left out.
    source, source_roles = build(input_shape=(8, 8, 8), stride=1, name="reference")
    target, target_roles = build(style, input_shape=(8, 8, 8), stride=1, name="student")
    roles = source_roles if side == "missing" else target_roles
    layer = roles[role]
    with pytest.raises(GraphMismatchError) as caught:
        match_layers(source, target)
    message = str(caught.value)
    assert repr(layer.name) in message
    assert type(layer).__name__ in message
    assert str(tuple(layer.weights[0].shape)) in message
    assert [id(x) for x in getattr(caught.value, side)] == [id(layer)]


def test_wrong_filter_count_names_both_shapes():
    """Does a conv with the wrong filter count get reported with both shapes?"""
    source, source_roles = build(filters=(4, 6, 8), name="reference")
    target, target_roles = build(filters=(4, 5, 8), name="student")
    with pytest.raises(GraphMismatchError) as caught:
        transfer_weights(source, target)
    message = str(caught.value)
    assert "(3, 3, 4, 6)" in message and "(3, 3, 4, 5)" in message
    assert repr(source_roles["conv.conv2"].name) in message
    assert repr(target_roles["conv.conv2"].name) in message


def test_failed_transfer_changes_nothing():
    """Does a transfer that cannot be done leave the target's weights as they were?"""
    source, _ = build()
    target, _ = build(Style(extra_conv=True))
    fill_weights(source, seed=1)
    fill_weights(target, seed=2)
    before = [w.numpy().copy() for w in target.weights]
    with pytest.raises(GraphMismatchError):
        transfer_weights(source, target)
    for old, weight in zip(before, target.weights):
        np.testing.assert_array_equal(weight.numpy(), old)


def test_wrong_wiring_names_where_it_differs():
    """Does the same set of layers wired differently raise, naming the frontier?"""
    filters = (8, 6, 8)  # F1 == F3, so Add can (wrongly) take the bn1 branch
    source, _ = build(filters=filters, name="reference")
    target, target_roles = build(Style(identity_adds_bn1=True), filters=filters,
                                 name="student")
    with pytest.raises(GraphMismatchError, match="wire") as caught:
        match_layers(source, target)
    # The first layer that sees the difference is the head, fed by bn1 now.
    assert [id(x) for x in caught.value.unexpected] == [id(target_roles["head.dense"])]
    assert repr(target_roles["identity.bn1"].name) in str(caught.value)


def test_identical_parallel_branches_are_refused():
    """Are two layers that structure alone cannot tell apart reported, not guessed?"""
    def twin_branches():
        inputs = keras.Input(INPUT_SHAPE)
        a = keras.layers.Conv2D(4, 1, name="branch_a")(inputs)
        b = keras.layers.Conv2D(4, 1, name="branch_b")(inputs)
        return keras.Model(inputs, a + b)

    with pytest.raises(GraphMismatchError, match="cannot tell apart") as caught:
        match_layers(twin_branches(), twin_branches())
    assert "'branch_a'" in str(caught.value) and "'branch_b'" in str(caught.value)


def test_unsupported_weighted_layer_is_refused():
    """Is a weighted layer we cannot pair refused by name rather than skipped?"""
    inputs = keras.Input(INPUT_SHAPE)
    x = keras.layers.Conv2D(4, 1)(inputs)
    x = keras.layers.LayerNormalization(name="odd_norm")(x)
    model = keras.Model(inputs, x)
    with pytest.raises(UnsupportedModelError, match="'odd_norm'.*LayerNormalization"):
        match_layers(model, model)


def test_shared_layer_is_refused():
    """Is a layer called twice (shared weights) refused by name?"""
    inputs = keras.Input(INPUT_SHAPE)
    conv = keras.layers.Conv2D(3, 1, padding="same", name="twice")
    model = keras.Model(inputs, conv(conv(inputs)))
    with pytest.raises(UnsupportedModelError, match="'twice'"):
        match_layers(model, model)


def test_subclassed_model_is_refused():
    """Is a model without a functional graph refused with a clear error?"""
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__(name="subclassed")
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = Subclassed()
    model(np.zeros((1, 3), "float32"))
    functional, _ = build()
    with pytest.raises(UnsupportedModelError, match="'subclassed'.*functional"):
        match_layers(model, functional)


def test_errors_are_value_errors():
    """Can a grader catch every matching failure as a ValueError?"""
    assert issubclass(GraphMismatchError, GraphMatchError)
    assert issubclass(UnsupportedModelError, GraphMatchError)
    assert issubclass(GraphMatchError, ValueError)


def test_epsilon_is_aligned_only_when_asked():
    """Does transfer copy BN epsilon when asked, and would outputs differ without it?"""
    source, _ = build(name="reference")
    target, target_roles = build(Style(epsilon=1e-5), name="student")
    fill_weights(source, seed=1)
    x = batch()
    transfer_weights(source, target, align_batchnorm_epsilon=False)
    assert target_roles["conv.bn1"].epsilon == pytest.approx(1e-5)
    assert not np.allclose(outputs(target, x, False), outputs(source, x, False),
                           rtol=1e-4)
    assert_transfer_reproduces(source, target)
    bns = [layer for role, layer in target_roles.items() if "bn" in role]
    assert [bn.epsilon for bn in bns] == [pytest.approx(1e-3)] * len(bns)


def test_predict_after_transfer_uses_new_epsilon():
    """Does predict() use the aligned epsilon even if it was traced before?"""
    source, _ = build(name="reference")
    target, _ = build(Style(epsilon=1e-5), name="student")
    fill_weights(source, seed=1)
    x = batch()
    target.predict(x, verbose=0)  # traces predict with epsilon 1e-5
    transfer_weights(source, target)
    np.testing.assert_allclose(target.predict(x, verbose=0),
                               source.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
