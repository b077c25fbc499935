"""A strict schema for the model architectures a student's kernel sends.

The text is what ``model.to_json()`` returns for a functional ``keras.Model``,
but it comes from an untrusted kernel, and Keras trusts it: it imports the
modules a config names, creates weights for the shapes ``build_config`` claims
before any call, and compiles what ``compile_config`` asks for (which is
dropped here: a student may compile inside ResNet50, and nothing graded
needs an optimizer). So nothing
reaches Keras that honest ResNet-50s and their typical mistakes do not
serialise to in Keras 3.15. Keras is not imported here: the grading process
runs without TensorFlow. Give Keras the dict returned, not a new parse.
"""

import collections
import json
import math
import re

MAX_BYTES = 4 * 2**20  # an honest ResNet-50 is 166,907 bytes, variants up to 175,248
MAX_DEPTH = 32  # honest models nest brackets 10 or 11 deep
MAX_LAYERS = 1000  # an honest ResNet-50 has 177 layers, variants up to 190
MAX_LAYER_PARAMETERS = 4_000_000  # the reference's largest: 3x3 512->512, 2,359,808
MAX_PARAMETERS = 50_000_000  # the reference holds 23,600,006
_BIG = 2**31 - 1  # TensorFlow indexes tensors with int32
_SIDE = 4096  # inputs of the exercises are at most 64 wide; bounds the verifier's work
_HONEST = "an honest ResNet-50"
_WEIGHTED = ("Conv2D", "Dense", "BatchNormalization")


class ExportRejected(ValueError):
    """The architecture was refused before Keras saw it.

    The message says, in words a student can act on, what was refused and
    why, and quotes at most about 80 characters of any value.
    """


def check_model_json(text, *, max_bytes=MAX_BYTES, max_depth=MAX_DEPTH,
                     max_layer_parameters=MAX_LAYER_PARAMETERS,
                     max_parameters=MAX_PARAMETERS, max_layers=MAX_LAYERS):
    """Checks a functional model's architecture JSON before Keras reads it.

    Args:
        text: what ``model.to_json()`` returned in the student's kernel; untrusted.
        max_bytes: the most bytes of JSON read at all.
        max_depth: the deepest nesting of JSON brackets accepted.
        max_layer_parameters: the most weights one layer may create.
        max_parameters: the most weights the whole model may create.
        max_layers: the most layers, and the most layer calls, in the model.

    Returns:
        The parsed config, a dict for ``keras.saving.deserialize_keras_object``.

    Raises:
        ExportRejected: the text breaks a rule; the message says which and why.
    """
    if not isinstance(text, str):
        raise ExportRejected(f"the architecture must be JSON text, not a "
                             f"{type(text).__name__}")
    # A character is at least a byte: never encode a text already too long.
    size = len(text) if len(text) > max_bytes else len(text.encode("utf-8", "replace"))
    if size > max_bytes:
        raise ExportRejected(f"the architecture is {size:,} bytes of JSON, more than "
                             f"the {max_bytes:,} accepted; {_HONEST}'s is 166,907")
    _check_depth(text, max_depth)
    try:
        config = json.loads(text, object_pairs_hook=_unique_keys,
                            parse_constant=_finite, parse_float=_finite)
    except ExportRejected:
        raise
    except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
        raise ExportRejected(f"the architecture is not valid JSON "
                             f"({_show(str(error))})") from None
    if isinstance(config, dict):
        config.pop("compile_config", None)
    _fields(config, "the architecture", "module:functional_module class_name:"
            "functional registered_name:functional config:any build_config:build",
            ("module", "class_name", "config"))
    _fields(config["config"], "the model", "name:name trainable:bool layers:any "
            "input_layers:any output_layers:any",
            ("layers", "input_layers", "output_layers"))
    _check_graph(config["config"], max_layers, max_layer_parameters, max_parameters)
    return config


def _check_depth(text, max_depth):
    """Refuses brackets nested deeper than max_depth: one pass, before parsing."""
    depth, in_string, escaped = 0, False, -1
    for match in re.finditer(r'[\[\]{}"\\]', text):  # only the characters that matter
        at, char = match.start(), match.group()
        if at == escaped:
            continue
        if char == "\\":
            escaped = at + 1 if in_string else escaped
        elif char == '"':
            in_string = not in_string
        elif not in_string:
            depth += 1 if char in "[{" else -1
            if depth > max_depth:
                raise ExportRejected(f"the architecture nests brackets more than "
                                     f"{max_depth} deep; {_HONEST}'s nest 11")


def _unique_keys(pairs):  # parsers disagree on which of two equal keys counts
    if len({key for key, _ in pairs}) != len(pairs):
        raise ExportRejected("the architecture repeats a key inside one JSON object")
    return dict(pairs)


def _finite(text):  # NaN and Infinity are no JSON, and 1e999 parses to infinity
    if not math.isfinite(float(text)):
        raise ExportRejected(f"the architecture holds {_show(text)}, no finite number")
    return float(text)


def _check_graph(model, max_layers, max_layer_parameters, max_parameters):
    """Checks every layer, its connections and the weights it would create."""
    layers, found = model["layers"], {}
    _list(_any, 1, _BIG)(layers, "the model's layers")
    if len(layers) > max_layers:
        _fail("the model", f"has {len(layers):,} layers, more than the "
              f"{max_layers:,} accepted; {_HONEST} has 177")
    for index, layer in enumerate(layers):
        _fields(layer, f"layer #{index}", "name:name module:any class_name:any "
                "config:any inbound_nodes:any build_config:build registered_name:any",
                ("name", "module", "class_name", "config", "inbound_nodes"))
        module, cls, name = layer["module"], layer["class_name"], layer["name"]
        if not all(isinstance(part, str) for part in (module, cls)) \
                or (module, cls) not in _LAYERS:
            _fail(f"layer {_show(name)}", f"is {_show(cls)} from module "
                  f"{_show(module)}, not one of the built-in Keras layers and "
                  "operations a ResNet-50 is made of; Lambda layers, custom classes "
                  "and code outside Keras are refused, as loading them runs code")
        kind, spec = _LAYERS[(module, cls)]
        where = f"layer {_show(name)} ({cls})"
        # Keras' operations are registered under their class name; its layers never.
        allowed = (None,) if module == "keras.layers" else (None, cls)
        if type(layer.get("registered_name")) not in (str, type(None)) \
                or layer.get("registered_name") not in allowed:
            _fail(f"{where}, registered_name,", "must be null for a built-in layer, "
                  f"not {_show(layer['registered_name'])}")
        _fields(layer["config"], where, spec)
        if layer["config"].get("name") != name or name in found:
            _fail(where, "needs a name of its own, the same in its config")
        _list(_any, kind != "input", 0 if kind == "input" else _BIG)(
            layer["inbound_nodes"], f"{where}, inbound_nodes,")
        found[name] = kind, where, layer
    calls = {name: max(len(layer["inbound_nodes"]), 1)  # an Input is one call
             for name, (_, _, layer) in found.items()}
    if sum(calls.values()) > max_layers:
        _fail("the model", f"makes {sum(calls.values()):,} layer calls, more than "
              f"the {max_layers:,} accepted; {_HONEST} makes 177")
    for key in ("input_layers", "output_layers"):
        ends = model[key]  # one [name, call, 0] or a list of them
        if isinstance(ends, list) and ends and isinstance(ends[0], str):
            ends = [ends]
        _list(_any, 1, 64)(ends, f"the model's {key}")
        for end in ends:
            source, _ = _reference(end, calls, f"the model's {key}")
            if key == "input_layers" and found[source][0] != "input":
                _fail(f"the model's {key}", f"name {_show(source)}, no InputLayer")
    needs = {(name, call): _check_node(node, f"{where}, call {call},", calls)
             for name, (_, where, layer) in found.items()
             for call, node in enumerate(layer["inbound_nodes"])}
    _propagate(found, needs, max_layer_parameters, max_parameters)


def _reference(value, calls, where):
    """Checks a [layer name, call, 0] reference to a tensor; returns (name, call)."""
    if not isinstance(value, list) or len(value) != 3 or not isinstance(value[0], str):
        _fail(where, f"must name a tensor as [layer, call, 0], not {_show(value)}")
    source, call, output = value
    if source not in calls:
        _fail(where, f"takes an input from {_show(source)}, which is not a layer of "
              "this model")
    if type(call) is not int or type(output) is not int or output \
            or not 0 <= call < calls[source]:
        _fail(where, f"takes output {_show(output)} of call {_show(call)} of "
              f"{_show(source)}, which that layer does not make")
    return source, call


def _check_node(node, where, calls):
    """Checks one layer call; returns its inputs: (name, call), or None for a number."""
    _fields(node, where, "args:args kwargs:kwargs", ("args", "kwargs"))
    inputs = []
    for index, arg in enumerate(node["args"]):  # merge layers take a list first
        for item in arg if isinstance(arg, list) and index == 0 else [arg]:
            if isinstance(item, dict):
                _fields(item, f"{where} argument {index}", "class_name:tensor "
                        "config:tensor_config", ("class_name", "config"))
                inputs.append(_reference(item["config"]["keras_history"], calls, where))
            else:  # a constant, as in keras.ops.maximum(x, 0.0)
                _TYPES["num"](item, f"{where} argument {index}")
                inputs.append(None)
    if not any(inputs):
        _fail(where, "takes no tensor as input")
    return inputs


def _propagate(found, needs, max_layer_parameters, max_parameters):
    """Computes each call's output shape, inputs first; bounds every layer's weights."""
    shapes = {(name, 0): layer["config"].get("batch_shape")
              for name, (kind, _, layer) in found.items() if kind == "input"}
    waiting = {key: {source for source in inputs if source}
               for key, inputs in needs.items()}
    users = collections.defaultdict(list)
    for key, sources in waiting.items():
        for source in sources:
            users[source].append(key)
    # Kahn's order, not recursion, so that a long chain cannot exhaust the stack.
    ready, weights, unreached = collections.deque(shapes), {}, len(needs)
    while ready:
        key = ready.popleft()
        for user in users[key]:
            waiting[user].discard(key)
            if not waiting[user]:
                ready.append(user)
        if key not in needs:
            continue
        unreached -= 1
        kind, where, layer = found[key[0]]
        config, inputs = layer["config"], [shapes.get(s, []) for s in needs[key]]
        first = shapes[next(source for source in needs[key] if source)]
        shapes[key] = _output(kind, config, first, inputs)
        count = _weights(layer["class_name"], config, first)
        if count is None:
            _fail(where, f"has an input of shape {_show(first)}, from which its "
                  "weights cannot be counted; it is refused rather than built blindly")
        built = (layer.get("build_config") or {}).get("input_shape")
        if count and key[1] == 0 and built not in (None, first):  # Keras builds on it
            _fail(where, f"claims an input of shape {_show(built)} in its "
                  f"build_config, but its input has shape {_show(first)}")
        if count > max_layer_parameters:
            _fail(where, f"would hold {count:,} parameters; no layer of ResNet-50 "
                  f"needs more than {max_layer_parameters:,}")
        weights[key[0]] = max(weights.get(key[0], 0), count)
    if unreached:
        _fail("the model", "has layers whose inputs form a loop")
    if sum(weights.values()) > max_parameters:
        _fail("the model", f"would hold {sum(weights.values()):,} parameters, more "
              f"than the {max_parameters:,} accepted; {_HONEST} holds 23,600,006")


def _output(kind, config, first, inputs):
    """The (channels-last) shape a call outputs, or None where it cannot be known."""
    if kind in ("merge", "concat"):
        if None in inputs:
            return None
        return _broadcast(inputs) if kind == "merge" else _concat(inputs, config)
    if first is None or kind == "same":
        return first
    if kind == "dense":
        return first[:-1] + [config.get("units")] if len(first) > 1 else None
    if kind == "flatten":
        return [first[0], None if None in first[1:] else math.prod(first[1:])]
    if len(first) != 4:
        return None
    batch, height, width, channels = first
    if kind == "global":
        return [batch, 1, 1, channels] if config.get("keepdims") else [batch, channels]
    if kind == "pad":
        (top, bottom), (left, right) = config.get("padding", [[1, 1], [1, 1]])
        return [batch, height and height + top + bottom,
                width and width + left + right, channels]
    window = config.get("kernel_size" if kind == "conv" else "pool_size") or [1, 1]
    strides = config.get("strides") or (window if kind == "pool" else [1, 1])
    dilation = config.get("dilation_rate", [1, 1])
    sides = [None if n is None else -(-n // s) if config.get("padding") == "same"
             else (n - d * (k - 1) - 1) // s + 1
             for n, k, s, d in zip((height, width), window, strides, dilation,
                                   strict=True)]
    return [batch, *(side if side and side > 0 else None for side in sides),
            config.get("filters") if kind == "conv" else channels]


def _broadcast(shapes):
    out = []
    for axis in range(-max(map(len, shapes)), 0):
        dims = {shape[axis] for shape in shapes if len(shape) >= -axis} - {1}
        if len(dims - {None}) > 1:
            return None
        out.append(max(dims - {None}, default=None if None in dims else 1))
    return out


def _concat(shapes, config):
    axis, rank = config.get("axis", -1), len(shapes[0])
    if any(len(shape) != rank for shape in shapes) or not -rank <= axis < rank:
        return None
    sizes, axis = [shape[axis] for shape in shapes], axis % rank
    return [*shapes[0][:axis], None if None in sizes else sum(sizes),
            *shapes[0][axis + 1:]]


def _weights(cls, config, shape):
    """Weights a layer creates on an input of `shape`: 0 if none, None if unbounded."""
    if cls not in _WEIGHTED:
        return 0
    if not shape:  # unknown, or a number's
        return None
    if cls == "BatchNormalization":  # gamma, beta, moving mean and moving variance
        axes = config.get("axis", -1)
        sizes = [shape[a] if -len(shape) <= a < len(shape) else None
                 for a in (axes if isinstance(axes, list) else [axes])]
        return None if None in sizes else 4 * math.prod(sizes)
    units = config.get("filters" if cls == "Conv2D" else "units")
    window = config.get("kernel_size") if cls == "Conv2D" else [1, 1]
    if None in (units, window, shape[-1]) or cls == "Conv2D" and len(shape) != 4:
        return None
    groups = config.get("groups", 1) if cls == "Conv2D" else 1
    inputs = shape[-1] // groups if shape[-1] % groups == 0 else shape[-1]
    return window[0] * window[1] * inputs * units + units * config.get("use_bias", 1)


# Value checks: each takes (value, where) and raises ExportRejected naming `where`.
def _show(value):
    """At most ~80 characters of a value, a string in quotes, safe to echo."""
    text = json.dumps(value, ensure_ascii=True)
    text = f"'{text[1:-1]}'" if isinstance(value, str) else text
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(where, problem):
    raise ExportRejected(f"{where} {problem}")


def _any(value, where):
    """Accepts anything: the caller checks it."""


def _fields(value, where, spec, required=()):
    """Checks a JSON object's keys and values against 'key:type ...' of _TYPES."""
    if not isinstance(value, dict):
        _fail(where, f"must be a JSON object, not {_show(value)}")
    for key in required:
        if key not in value:
            _fail(where, f"lacks the key {_show(key)}")
    fields = dict(field.split(":") for field in spec.split())
    for key, item in value.items():
        if key not in fields:
            _fail(where, f"has an argument {_show(key)} the grader does not accept")
        _TYPES[fields[key]](item, f"{where}, {key},")


def _num(low=-1e9, high=1e9, whole=False):
    kinds, what = (int, "a whole number") if whole else ((int, float), "a number")

    def check(value, where):  # a bool is an int to Python; NaN fails any comparison
        if isinstance(value, bool) or not isinstance(value, kinds) \
                or not low <= value <= high:
            _fail(where, f"must be {what} from {low:,} to {high:,}, not {_show(value)}")
    return check


def _one_of(*choices):
    def check(value, where):
        if not isinstance(value, (str, bool, type(None))) or value not in choices:
            _fail(where, f"must be one of {', '.join(map(_show, choices))}, "
                  f"not {_show(value)}")
    return check


def _optional(inner):
    return lambda value, where: value is None or inner(value, where)


def _list(inner, low, high):
    def check(value, where):
        if not isinstance(value, list) or not low <= len(value) <= high:
            _fail(where, f"must be a list of {low:,} to {high:,} items, "
                  f"not {_show(value)}")
        for index, item in enumerate(value):
            inner(item, f"{where} item {index}")
    return check


def _builtin(module, classes, spec, what):
    """A check for one of Keras' own small objects, such as an initializer."""
    def check(value, where):
        found = value.get("class_name") if isinstance(value, dict) else value
        if not isinstance(value, dict) or value.get("module") != module \
                or not isinstance(found, str) or found not in classes.split():
            _fail(where, f"is {_show(found)}, not a built-in Keras {what} "
                  f"(accepted: {classes.replace(' ', ', ')})")
        _fields(value, where, "module:any class_name:any registered_name:null "
                "config:any", ("config",))
        _fields(value["config"], f"{where} config", spec)
    return check


_axis, _pair = _num(-8, 7, True), _list(_num(1, 256, True), 2, 2)
_shape = _list(_optional(_num(0, _BIG, True)), 0, 8)
_DTYPES = ("float32", "float16", "bfloat16", "float64")
_TYPES = {  # the types of _fields' specs
    "any": _any, "null": _one_of(None), "num": _num(), "positive": _num(0),
    "rate": _num(0, 1), "num?": _optional(_num(0)), "count": _num(1, _BIG, True),
    "seed": _optional(_num(0, _BIG, True)), "bool": _one_of(True, False),
    "bool?": _one_of(True, False, None), "pair": _pair, "pair?": _optional(_pair),
    "axis": _axis, "axes?": _optional(_list(_axis, 0, 8)), "shape": _shape,
    "shape?": _optional(_shape),
    "axes": lambda v, w: (_list(_axis, 1, 8) if isinstance(v, list) else _axis)(v, w),
    "batch": _list(_optional(_num(1, _SIDE, True)), 1, 6),
    "pads": _list(_list(_num(0, _SIDE, True), 2, 2), 2, 2),
    "padding": _one_of("valid", "same"), "format": _one_of("channels_last"),
    "dtype": _one_of(*_DTYPES), "mode": _one_of("fan_in", "fan_out", "fan_avg"),
    "distribution": _one_of("truncated_normal", "untruncated_normal", "normal",
                            "uniform"),
    "activation": _one_of(*"""relu linear softmax sigmoid tanh elu selu gelu silu
        softplus softsign leaky_relu relu6 hard_sigmoid hard_silu exponential
        mish""".split()),
    "name": lambda v, w: isinstance(v, str) and re.fullmatch(
        r"[^\x00-\x1f\x7f/]{1,128}", v) or _fail(
        w, f"must be 1 to 128 characters, none of them '/', not {_show(v)}"),
    "functional_module": _one_of("keras.src.models.functional"),
    "functional": _one_of("Functional"), "tensor": _one_of("__keras_tensor__"),
    "args": _list(_any, 1, 64),
    "kwargs": lambda v, w: _fields(v, w, "mask:null training:bool?"),
    "tensor_config": lambda v, w: _fields(
        v, w, "shape:shape dtype:dtype keras_history:any",
        ("shape", "dtype", "keras_history")),
    # The shapes Keras builds weights for, one or one per input: checked against ours.
    "build": _optional(lambda v, w: _fields(v, w, "input_shape:shapes")),
    "shapes": lambda v, w: (_list(_shape, 1, 64) if isinstance(v, list) and v
                            and isinstance(v[0], list) else _optional(_shape))(v, w),
    "init": _optional(_builtin(
        "keras.initializers", "Zeros Ones Constant GlorotUniform GlorotNormal "
        "HeNormal HeUniform LecunNormal LecunUniform RandomNormal RandomUniform "
        "TruncatedNormal VarianceScaling Orthogonal Identity", "seed:seed mean:num "
        "stddev:num minval:num maxval:num value:num scale:num gain:num mode:mode "
        "distribution:distribution input_axes:axes? output_axes:axes?",
        "initializer")),
    "reg": _optional(_builtin("keras.regularizers", "L1 L2 L1L2",
                              "l1:positive l2:positive", "regularizer")),
    "con": _optional(_builtin("keras.constraints", "MaxNorm NonNeg UnitNorm "
                              "MinMaxNorm", "max_value:num min_value:num rate:num "
                              "axis:axes", "constraint")),
    "policy": _builtin("keras", "DTypePolicy", "name:policy_name", "dtype policy"),
    "policy_name": _one_of(*_DTYPES, "mixed_float16", "mixed_bfloat16"),
}
_LAYER = "name:name trainable:bool dtype:policy "
_WEIGHTS = (" use_bias:bool kernel_initializer:init bias_initializer:init "
            "kernel_regularizer:reg bias_regularizer:reg activity_regularizer:reg "
            "kernel_constraint:con bias_constraint:con")
_POOL = "pool_size:pair strides:pair? padding:padding data_format:format"
_RELU = "max_value:num? negative_slope:num threshold:num"
_NUMPY, _NN = "keras.src.ops.numpy", "keras.src.ops.nn"
# (module, class_name) -> (how it maps shapes, what its config may hold). After
# keras.layers come what keras.ops, keras.activations and + - * on tensors make.
_LAYERS = {(module, cls): (kind, spec) for module, cls, kind, spec in [
    ("keras.layers", cls, kind, _LAYER + spec) for cls, kind, spec in [
        ("Conv2D", "conv", "filters:count kernel_size:pair strides:pair "
         "padding:padding data_format:format dilation_rate:pair groups:count "
         "activation:activation" + _WEIGHTS),
        ("Dense", "dense", "units:count activation:activation "
         "quantization_config:null" + _WEIGHTS),
        ("BatchNormalization", "same", "axis:axes momentum:num epsilon:positive "
         "center:bool scale:bool synchronized:bool renorm:bool renorm_clipping:null "
         "renorm_momentum:num beta_initializer:init gamma_initializer:init "
         "moving_mean_initializer:init moving_variance_initializer:init "
         "beta_regularizer:reg gamma_regularizer:reg beta_constraint:con "
         "gamma_constraint:con"),
        ("Activation", "same", "activation:activation"), ("ReLU", "same", _RELU),
        ("Softmax", "same", "axis:axes"),
        ("Dropout", "same", "rate:rate seed:seed noise_shape:shape?"),
        ("Add", "merge", ""), ("Subtract", "merge", ""), ("Multiply", "merge", ""),
        ("Concatenate", "concat", "axis:axis"),
        ("ZeroPadding2D", "pad", "padding:pads data_format:format"),
        ("MaxPooling2D", "pool", _POOL), ("AveragePooling2D", "pool", _POOL),
        ("GlobalAveragePooling2D", "global", "keepdims:bool data_format:format"),
        ("GlobalMaxPooling2D", "global", "keepdims:bool data_format:format"),
        ("Flatten", "flatten", "data_format:format")]] + [
    ("keras.layers", "InputLayer", "input", "name:name batch_shape:batch "
     "dtype:dtype sparse:bool ragged:bool optional:bool"),
    *((_NUMPY, cls, "merge", "name:name")
      for cls in ("Add", "Subtract", "Multiply", "Maximum")),
    (_NUMPY, "Concatenate", "concat", "name:name axis:axis"),
    (_NUMPY, "Tanh", "same", "name:name"), (_NN, "Relu", "same", "name:name"),
    (_NN, "Sigmoid", "same", "name:name"),
    (_NN, "Softmax", "same", "name:name axis:axes"),
    ("keras.src.activations.activations", "ReLU", "same", "name:name " + _RELU)]}
