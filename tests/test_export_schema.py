"""The schema an architecture from the student's kernel must pass before Keras reads it.

Honest models (the reference, the student-style variants, their typical
mistakes, keras.applications' ResNet-50) must pass and rebuild in Keras' safe
mode; hostile ones must be refused with an ExportRejected naming what was
wrong, and nothing else may ever come out.
"""

import copy
import inspect
import json
import random

import keras
import pytest

from autograder import reference
from autograder.export_schema import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_LAYER_PARAMETERS,
    MAX_LAYERS,
    MAX_PARAMETERS,
    ExportRejected,
    check_model_json,
)
from tests import block_variants, resnet_variants

# Variants that cannot be built whole (their Add refuses mismatched shapes), and
# the one whose Lambda layer the grader cannot load: the schema must refuse it.
RAISING_BLOCKS = {"identity_middle_conv_valid_padding",
                  "convolutional_filters_reversed",
                  "convolutional_shortcut_not_strided"}
LAMBDA_BLOCK = "identity_with_lambda_relu"
BLOCK_VARIANTS = sorted(
    name for name, _ in inspect.getmembers(block_variants, inspect.isfunction)
    if name.startswith(("identity_", "convolutional_")))
RESNET_VARIANTS = sorted(name for name in dir(resnet_variants)
                         if name.startswith("resnet50_") and name != "resnet50_builder")


def block_model(block, convolutional, filters=(4, 4, 8)):
    """A block wrapped as the exporter wraps it, on the first configuration."""
    inputs = keras.Input(shape=(8, 8, 3) if convolutional else (6, 6, 8))
    kwargs = {"s": 2} if convolutional else {}
    return keras.Model(inputs, block(inputs, f=3, filters=list(filters), **kwargs))


@pytest.fixture(scope="module")
def honest():
    """Name -> (architecture JSON, parameter count) of each honest model, built once."""
    models = {"reference.identity_block": block_model(reference.identity_block, False),
              "reference.convolutional_block": block_model(
                  reference.convolutional_block, True),
              "reference.ResNet50": reference.ResNet50(input_shape=(64, 64, 3),
                                                       classes=6),
              "keras.applications.ResNet50": keras.applications.ResNet50(
                  weights=None, input_shape=(64, 64, 3), classes=6)}
    for name in BLOCK_VARIANTS:
        if name not in RAISING_BLOCKS | {LAMBDA_BLOCK}:
            models[name] = block_model(getattr(block_variants, name),
                                       name.startswith("convolutional_"))
    for name in RESNET_VARIANTS:
        models[name] = getattr(resnet_variants, name)(input_shape=(64, 64, 3),
                                                      classes=6)
    return {name: (model.to_json(), model.count_params())
            for name, model in models.items()}


@pytest.fixture(scope="module")
def small():
    """The JSON of the reference identity block, a small model to edit."""
    return block_model(reference.identity_block, False).to_json()


def edited(text, edit):
    """The JSON text after edit(config) changed its parsed config in place."""
    config = json.loads(text)
    edit(config)
    return json.dumps(config)


def first_layer(config, class_name):
    return next(layer for layer in config["config"]["layers"]
                if layer["class_name"] == class_name)


def rejection(text, **limits):
    """The message check_model_json refuses `text` with; fails if it accepts it."""
    with pytest.raises(ExportRejected) as refused:
        check_model_json(text, **limits)
    message = str(refused.value)
    assert len(message) < 600 and "/work" not in message
    return message


def test_the_variant_lists_name_real_variants():
    """Do the names this file sets apart still exist in block_variants?"""
    assert RAISING_BLOCKS | {LAMBDA_BLOCK} <= set(BLOCK_VARIANTS)
    assert len(BLOCK_VARIANTS) > 20 and len(RESNET_VARIANTS) >= 5


def test_every_honest_model_passes_and_rebuilds_in_safe_mode(honest):
    """Does every honest model pass, and does what passes rebuild in safe mode?"""
    expected = {"reference.identity_block", "reference.ResNet50",
                "keras.applications.ResNet50", *RESNET_VARIANTS}
    assert expected <= set(honest)
    for name, (text, parameters) in honest.items():
        config = check_model_json(text)
        rebuilt = keras.saving.deserialize_keras_object(config, safe_mode=True)
        assert rebuilt.count_params() == parameters, name


def test_honest_resnet50_is_far_inside_every_cap(honest):
    """Do the caps leave an honest ResNet-50 the margins their comments claim?"""
    text, parameters = honest["reference.ResNet50"]
    assert len(text.encode()) * 20 < MAX_BYTES
    assert len(json.loads(text)["config"]["layers"]) * 5 < MAX_LAYERS
    assert parameters * 2 < MAX_PARAMETERS
    # Its largest layer, the 3x3 512->512 Conv2D, holds exactly 2,359,808 weights.
    assert check_model_json(text, max_layer_parameters=2_359_808)
    assert "2,359,808" in rejection(text, max_layer_parameters=2_359_807)
    assert 2_359_808 * 1.5 < MAX_LAYER_PARAMETERS
    # It nests brackets 11 deep.
    assert check_model_json(text, max_depth=11)
    assert "nests" in rejection(text, max_depth=10) and 11 * 2 < MAX_DEPTH


def test_partial_graphs_of_raising_blocks_pass(monkeypatch):
    """Does the two-output graph saved for a block whose Add raised pass?"""
    operands = []

    def refusing_add(*args, **kwargs):
        def call(tensors):
            operands.extend(tensors)
            raise ValueError("Inputs have incompatible shapes.")
        return call

    monkeypatch.setattr(block_variants.layers, "Add", refusing_add)
    for name in sorted(RAISING_BLOCKS):
        operands.clear()
        convolutional = name.startswith("convolutional_")
        inputs = keras.Input(shape=(8, 8, 3) if convolutional else (6, 6, 8))
        with pytest.raises(ValueError):
            getattr(block_variants, name)(inputs, f=3, filters=[2, 4, 8],
                                          **({"s": 2} if convolutional else {}))
        config = check_model_json(keras.Model(inputs, list(operands)).to_json())
        assert len(config["config"]["output_layers"]) == 2


def test_shared_layers_and_keras_ops_pass():
    """Does a layer called twice, keras.ops and '-' or '*' on tensors pass?"""
    inputs = keras.Input(shape=(6, 6, 8))
    relu, conv = keras.layers.ReLU(), keras.layers.Conv2D(8, 1)
    x = relu(conv(inputs))
    y = relu(conv(x))
    pooled = conv(keras.layers.MaxPooling2D()(y))  # the same weights on a smaller input
    y = y * keras.layers.GlobalAveragePooling2D(keepdims=True)(pooled)
    out = keras.ops.softmax(keras.ops.multiply(x - y, 0.5) * y)
    out = keras.layers.Concatenate()([out, keras.ops.sigmoid(x)])
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1)(out))
    rebuilt = keras.saving.deserialize_keras_object(check_model_json(model.to_json()),
                                                    safe_mode=True)
    assert rebuilt.count_params() == model.count_params()


def test_oversized_text_is_refused_before_parsing():
    """Is text over MAX_BYTES refused, counted in bytes rather than characters?"""
    assert "bytes" in rejection(" " * (MAX_BYTES + 1))
    assert "bytes" in rejection("é" * (MAX_BYTES // 2 + 1))  # two bytes each
    assert "1,000 accepted" in rejection("[" + "0," * 600 + "0]", max_bytes=1000)


def test_deep_nesting_is_refused_before_parsing():
    """Is 100,000-deep nesting refused by the scan, not by the parser's recursion?"""
    message = rejection("[" * 100_000 + "]" * 100_000)
    assert "nests brackets more than 32 deep" in message
    assert "nests" in rejection('{"a": {"b": ' * 20 + "1" + "}" * 40)
    # Brackets inside strings, escaped quotes included, are no nesting.
    assert "nests" not in rejection(json.dumps({"a": '\\"' + "[" * 1000}))


@pytest.mark.parametrize("text", ['{"module": ', "{'module': 1}", "", "[1, 2,]",
                                  '{"a": NaN}', '{"a": 1e999}', '{"a": 1, "a": 2}'])
def test_invalid_json_is_refused(text):
    """Is text that is not strict JSON (NaN, infinity, repeated keys) refused?"""
    assert "architecture" in rejection(text)


@pytest.mark.parametrize("text", ["[]", "42", '"Functional"', "null"])
def test_a_top_level_that_is_no_object_is_refused(text):
    """Is a top level other than a JSON object refused?"""
    assert "must be a JSON object" in rejection(text)


def test_text_that_is_not_a_string_is_refused(small):
    """Is anything but a str refused, not handed on?"""
    assert "JSON text" in rejection(small.encode())
    assert "JSON text" in rejection(None)


def test_a_lambda_layer_is_refused():
    """Is a Lambda layer, made as a student makes one, refused before Keras runs it?"""
    inputs = keras.Input(shape=(6, 6, 8))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2.0)(inputs))
    assert "'Lambda'" in rejection(model.to_json())
    variant = block_model(getattr(block_variants, LAMBDA_BLOCK), False)
    assert "Lambda layers" in rejection(variant.to_json())


def test_an_unknown_class_name_is_refused(small):
    """Is a layer class outside the allowlist refused, naming the class?"""
    text = edited(small, lambda c: first_layer(c, "Conv2D").update(class_name="Evil"))
    assert "'Evil'" in rejection(text)


@pytest.mark.parametrize("module", ["keras.src.evil", "os", "keras.layers.evil",
                                    "keras.src.ops.numpyx", "keras", ""])
def test_a_module_outside_keras_allowlist_is_refused(small, module):
    """Is a module outside the exact allowlist refused, with no prefix let through?"""
    text = edited(small, lambda c: first_layer(c, "Conv2D").update(module=module))
    assert f"module '{module}'" in rejection(text)


def test_a_foreign_model_class_is_refused(small):
    """Is a top level other than Keras' own Functional model refused?"""
    text = edited(small, lambda c: c.update(module="builtins", class_name="eval"))
    assert "'keras.src.models.functional'" in rejection(text)


@pytest.mark.parametrize("registered", ["evil>Conv2D", "Conv2D", "Custom>Add"])
def test_a_registered_name_pointing_elsewhere_is_refused(small, registered):
    """Is a registered_name that would send Keras to another class refused?"""
    text = edited(small, lambda c: first_layer(c, "Conv2D").update(
        registered_name=registered))
    assert "registered_name" in rejection(text)


def test_an_unknown_config_key_is_refused(small):
    """Is an argument Conv2D does not take refused, naming it?"""
    text = edited(small, lambda c: first_layer(c, "Conv2D")["config"].update(evil=1))
    assert "'evil'" in rejection(text)
    text = edited(small, lambda c: c.update(shared_object_id=1))
    assert "'shared_object_id'" in rejection(text)


def test_a_bad_padding_string_is_refused(small):
    """Is a padding outside {'valid', 'same'} refused, naming both?"""
    text = edited(small, lambda c: first_layer(c, "Conv2D")["config"].update(
        padding="diagonal"))
    message = rejection(text)
    assert "padding" in message and "'diagonal'" in message and "'same'" in message


@pytest.mark.parametrize("key, value", [("filters", "4"), ("filters", True),
                                        ("filters", 4.0), ("kernel_size", [1, "1"]),
                                        ("strides", 1), ("activation", "evil_fn")])
def test_a_value_of_the_wrong_type_is_refused(small, key, value):
    """Is a string, a bool or a float where Keras wants an int refused?"""
    text = edited(small, lambda c: first_layer(c, "Conv2D")["config"].update(
        {key: value}))
    assert key in rejection(text)


def test_a_custom_initializer_is_refused():
    """Is an initializer class of the student's own refused, naming it?"""

    @keras.saving.register_keras_serializable(package="test_export_schema")
    class Sneaky(keras.initializers.Initializer):
        def __call__(self, shape, dtype=None):
            return keras.ops.ones(shape, dtype=dtype)

    inputs = keras.Input(shape=(6, 6, 8))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 1, kernel_initializer=Sneaky())(
        inputs))
    message = rejection(model.to_json())
    assert "'Sneaky'" in message and "initializer" in message


def test_a_dense_layer_asking_for_3_gb_of_weights_is_refused():
    """Does a Dense layer asking for gigabytes of weights get refused before Keras?"""
    inputs = keras.Input(shape=(8,))
    text = keras.Model(inputs, keras.layers.Dense(3)(inputs)).to_json()
    text = edited(text, lambda c: first_layer(c, "Dense")["config"].update(units=10**9))
    message = rejection(text)
    assert "(Dense) would hold 9,000,000,000 parameters" in message
    assert f"{MAX_LAYER_PARAMETERS:,}" in message


def test_huge_conv2d_filters_are_refused(small):
    """Is a Conv2D with a million filters refused for the weights it would hold?"""
    text = edited(small, lambda c: first_layer(c, "Conv2D")["config"].update(
        filters=10**6))
    assert "(Conv2D) would hold 9,000,000 parameters" in rejection(text)


def test_a_build_config_lying_about_the_input_is_refused(small):
    """Is a build_config claiming a huge input, which Keras would build, refused?"""
    text = edited(small, lambda c: first_layer(c, "Conv2D").update(
        build_config={"input_shape": [None, 6, 6, 10**6]}))
    assert "build_config" in rejection(text)


@pytest.mark.parametrize("weighted_after", [False, True])
def test_a_mismatched_add_passes_unless_weights_follow_it(weighted_after):
    """Does an Add of mismatched shapes reach the verifier unless weights come after?"""
    inputs = keras.Input(shape=(6, 6, 8))
    added = keras.layers.Add()([keras.layers.Conv2D(4, 1)(inputs),
                                keras.layers.Conv2D(4, 1)(inputs)])
    after = keras.layers.Conv2D(2, 1) if weighted_after else keras.layers.ReLU()
    text = keras.Model(inputs, after(added)).to_json()

    def mismatch(config):  # 4 channels added to the input's 8: no shape comes out
        operand = first_layer(config, "Add")["inbound_nodes"][0]["args"][0][1]
        source = first_layer(config, "InputLayer")["name"]
        operand["config"]["keras_history"][0] = source

    if weighted_after:
        assert "weights cannot be counted" in rejection(edited(text, mismatch))
    else:
        assert check_model_json(edited(text, mismatch))


def test_a_model_over_the_total_parameter_cap_is_refused(honest):
    """Is a model whose layers each fit but whose total does not refused?"""
    text = honest["reference.ResNet50"][0]
    assert "the model would hold 23,600,006" in rejection(text, max_parameters=10**7)


def test_a_model_over_max_layers_is_refused(small):
    """Is a model with more than MAX_LAYERS layers refused?"""
    def lengthen(config):
        layers = config["config"]["layers"]
        relu, previous = first_layer(config, "Activation"), layers[-1]["name"]
        for index in range(MAX_LAYERS):
            layer = copy.deepcopy(relu)
            layer["name"] = layer["config"]["name"] = f"extra_{index}"
            tensor = layer["inbound_nodes"][0]["args"][0]
            tensor["config"]["keras_history"][0] = previous
            layers.append(layer)
            previous = layer["name"]
        config["config"]["output_layers"] = [previous, 0, 0]
    message = rejection(edited(small, lengthen))
    assert f"more than the {MAX_LAYERS:,} accepted" in message


def test_inbound_nodes_naming_a_missing_layer_are_refused(small):
    """Does a call taking its input from a layer not in the model get refused?"""
    def dangle(config):
        tensor = first_layer(config, "Add")["inbound_nodes"][0]["args"][0][1]
        tensor["config"]["keras_history"] = ["ghost", 0, 0]
    assert "'ghost', which is not a layer" in rejection(edited(small, dangle))


def test_a_duplicate_layer_name_is_refused(small):
    """Are two layers with one name refused?"""
    def duplicate(config):
        config["config"]["layers"].append(copy.deepcopy(first_layer(config, "Add")))
    assert "a name of its own" in rejection(edited(small, duplicate))


def test_layers_feeding_each_other_in_a_loop_are_refused(small):
    """Is a cycle of layers refused rather than followed forever?"""
    def loop(config):  # the first Conv2D takes its input from the ReLU after it
        history = first_layer(config, "Conv2D")["inbound_nodes"][0]["args"][0]
        later = first_layer(config, "Activation")["name"]
        history["config"]["keras_history"][0] = later
    assert "loop" in rejection(edited(small, loop))


def test_a_compiled_model_passes_without_its_compile_config():
    """Does a model compiled inside the student's function pass, with its
    compile_config (which would build optimizers and losses) dropped?"""
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer="adam", loss="mse")
    checked = check_model_json(model.to_json())
    assert "compile_config" not in checked


def test_a_huge_echoed_value_is_cut_short(small):
    """Does a message quote at most about 80 characters of a huge value?"""
    text = edited(small, lambda c: first_layer(c, "Conv2D").update(
        class_name="A" * 10**5))
    message = rejection(text)
    assert "AAA..." in message and len(message) < 400


def test_random_mutations_raise_nothing_but_export_rejected(small, honest):
    """Do a few hundred random mutations only ever pass or raise ExportRejected?"""
    rng = random.Random(20240607)
    values = [None, 0, -1, 7, 2**40, 0.5, 1e308, "", "x", "same", "keras.layers",
              [], {}, [None, 6, 6, 8], ["conv2d", 9, 0], True, {"class_name": "x"}]
    bases = [json.loads(small),
             json.loads(honest["identity_with_relu_layer_and_maximum"][0])]

    def places(value, path=()):
        yield path
        items = value.items() if isinstance(value, dict) else enumerate(value) \
            if isinstance(value, list) else ()
        for key, item in items:
            yield from places(item, (*path, key))

    def at(config, path):
        for step in path:
            config = config[step]
        return config

    outcomes = set()
    for _ in range(400):
        config = copy.deepcopy(rng.choice(bases))
        for _ in range(rng.randint(1, 3)):
            *path, key = rng.choice(list(places(config))[1:])
            parent, choice = at(config, path), rng.random()
            if choice < 0.6:
                parent[key] = copy.deepcopy(rng.choice(values))
            elif choice < 0.8:
                del parent[key]
            else:  # a part of the model where another belongs
                elsewhere = rng.choice(list(places(config)))
                parent[key] = copy.deepcopy(at(config, elsewhere))
        text = json.dumps(config)
        if rng.random() < 0.2:
            cut = rng.randrange(len(text))
            damage = rng.choice(["", "[", "}", '"', "\\", "9" * 5000])
            text = text[:cut] + damage + text[cut:]
        try:
            check_model_json(text)
            outcomes.add("passed")
        except ExportRejected as refused:
            assert len(str(refused)) < 600
            outcomes.add("refused")
    assert outcomes == {"passed", "refused"}
