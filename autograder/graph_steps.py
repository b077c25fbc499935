"""Read a Keras graph backwards as a sequence of named steps.

The diagnostics ask questions such as "is there a ReLU between this
convolution and its BatchNorm?". Students spell a ReLU as ``layers.ReLU()``,
``Activation("relu")``, ``Activation(tf.nn.relu)``, ``keras.ops.relu`` or a
convolution's ``activation="relu"``; an addition as ``layers.Add``,
``layers.add``, ``keras.ops.add`` or ``+``. Rather than list every spelling,
each weightless call is run once on fixed NumPy values and named after what it
computes: relu, add, softmax, identity, or other. Layers with weights are
named by their class and described by their attributes.

Keras internals used (check them after upgrades): those of ``graph_match``,
whose ``producer`` helper the walk uses, and ``Node.arguments.fill_in``, with
which a call is re-run on probe values the way ``keras.Function`` runs it.
"""

import dataclasses

import keras
import numpy as np
from keras import layers

from autograder.kernel.graph_walk import producer

# Weightless layers recognised by class, because running them on probe values
# says less than their attributes (padding, window, stride).
_STRUCTURAL_KINDS = (
    (layers.ZeroPadding2D, "pad"),
    (layers.MaxPooling2D, "maxpool"),
    (layers.AveragePooling2D, "avgpool"),
    (layers.GlobalAveragePooling2D, "gap"),
    (layers.Flatten, "flatten"),
)
# Names for describe(), as the specification writes them.
_WINDOWED = {"conv": "Conv2D", "maxpool": "MaxPooling2D", "avgpool": "AveragePooling2D"}
_PLAIN = {"bn": "BatchNormalization", "relu": "ReLU", "softmax": "softmax",
          "gap": "GlobalAveragePooling2D", "flatten": "Flatten", "add": "Add"}
TOLERANCE = 1e-5  # float32 rounding of a probe, far below any real difference


@dataclasses.dataclass(frozen=True)
class Step:
    """One computation on a path: a layer call, or the activation fused into one.

    Attributes:
        kind: "conv", "bn", "dense", "relu", "softmax", "add", "identity",
            "pad", "maxpool", "avgpool", "gap", "flatten" or "other".
        name: the Keras layer or operation's name, for messages.
        filters: filters of a conv, units of a dense layer.
        window: kernel size of a conv, pool size of a pooling layer.
        strides: strides of a conv or pooling layer.
        padding: "same" or "valid" for a conv or pooling layer; for a
            ZeroPadding2D, ((top, bottom), (left, right)).
    """

    kind: str
    name: str = ""
    filters: int | None = None
    window: tuple | None = None
    strides: tuple | None = None
    padding: object = None


@dataclasses.dataclass(frozen=True)
class Walk:
    """A chain of single-input calls, read backwards from a tensor.

    Attributes:
        tensors: the start tensor, then the input of each call in turn.
        calls: ``calls[i]`` holds the steps of the call that made ``tensors[i]``,
            for every tensor but the last.
        junction: the call with several tensor inputs that made the last
            tensor, or None when the walk reached a stop tensor or an input.
    """

    tensors: tuple
    calls: tuple
    junction: object

    def steps(self, until=None):
        """Steps in forward order, from ``tensors[until]`` (default: the last)
        to the start tensor."""
        calls = self.calls if until is None else self.calls[:until]
        return tuple(step for call in reversed(calls) for step in call)

    def reached(self, tensor):
        """Whether the walk ended on `tensor`, not at a junction."""
        return self.junction is None and self.tensors[-1] is tensor


def walk_back(tensor, stop_ids):
    """Follows single-input calls back from `tensor` to a stop or a junction.

    Args:
        tensor: a KerasTensor of a functional graph.
        stop_ids: ids of tensors where the walk ends, e.g. the block input.

    Returns:
        A Walk.
    """
    tensors, calls = [tensor], []
    while id(tensor) not in stop_ids:
        node = producer(tensor)
        if node.is_input:
            break
        if len(node.input_tensors) != 1:
            return Walk(tuple(tensors), tuple(calls), node)
        calls.append(steps_of(node))
        tensor = node.input_tensors[0]
        tensors.append(tensor)
    return Walk(tuple(tensors), tuple(calls), None)


def steps_of(node):
    """The steps one call performs: usually one, two for a fused activation."""
    operation = node.operation
    name = getattr(operation, "name", type(operation).__name__)
    if isinstance(operation, layers.Conv2D):
        conv = Step("conv", name, operation.filters, tuple(operation.kernel_size),
                    tuple(operation.strides), operation.padding)
        return (conv, *_activation_steps(operation))
    if isinstance(operation, layers.Dense):
        return (Step("dense", name, operation.units), *_activation_steps(operation))
    if isinstance(operation, layers.BatchNormalization):
        return (Step("bn", name),)
    for layer_class, kind in _STRUCTURAL_KINDS:
        if isinstance(operation, layer_class):
            return (Step(kind, name, None, getattr(operation, "pool_size", None),
                         getattr(operation, "strides", None),
                         getattr(operation, "padding", None)),)
    if getattr(operation, "weights", None):
        return (Step("other", name),)  # never run: it could be anything
    return (Step(probe_kind(node), name),)


def node_kind(node):
    """The kind of the (first) step a call performs."""
    return steps_of(node)[0].kind


def _activation_steps(layer):
    """The step for a weighted layer's `activation` argument, if it does anything."""
    values = probe_values((2, 6), 0)
    try:
        kind = _name_result(layer.activation(values), [values])
    except Exception:  # an activation we cannot run is no ReLU we can vouch for
        kind = "other"
    return () if kind == "identity" else (Step(kind, f"{layer.name}.activation"),)


def probe_values(shape, which):
    """Fixed values of `shape` (unknown sizes become 1), negative and positive.

    ``which`` picks one of two unrelated patterns, for two-input calls.
    """
    shape = tuple(1 if size is None else size for size in shape)
    size = int(np.prod(shape))
    # Beyond +-6, so a capped ReLU (max_value=6) does not pass for a ReLU.
    if which == 0:
        values = np.linspace(-10.0, 10.0, size)
    else:
        values = 7.0 * np.cos(np.arange(size) + 0.5)
    return values.reshape(shape).astype("float32")


def probe_kind(node):
    """Names a weightless call by running it on probe values instead of its inputs."""
    tensors = node.input_tensors
    if len(tensors) not in (1, 2) or len(node.output_tensors) != 1:
        return "other"
    distinct = list({id(t): t for t in tensors}.values())  # Add()([X, X]) has one
    values = {id(t): probe_values(t.shape, which) for which, t in enumerate(distinct)}
    try:
        # As keras.Function runs a node: its own arguments, our values for its tensors.
        args, kwargs = node.arguments.fill_in(values)
        result = node.operation(*args, **kwargs)
    except Exception:  # shapes we made up may not suit every call
        return "other"
    return _name_result(result, [values[id(t)] for t in tensors])


def _name_result(result, values):
    """What a call made of the probe `values`: add, identity, relu, softmax or other."""
    found = keras.ops.convert_to_numpy(result)
    if len(values) == 2:
        candidates = {"add": values[0] + values[1]}
    else:
        x = values[0]
        exp = np.exp(x - x.max(axis=-1, keepdims=True))
        candidates = {"identity": x, "relu": np.maximum(x, 0.0),
                      "softmax": exp / exp.sum(axis=-1, keepdims=True)}
    for kind, expected in candidates.items():
        same = found.shape == expected.shape
        if same and np.allclose(found, expected, atol=TOLERANCE):
            return kind
    return "other"


def normalise(steps):
    """The steps with what cannot change a result folded away.

    Identity calls are dropped, repeated ReLUs count once (ReLU is
    idempotent), and a symmetric ZeroPadding2D of (k - 1) / 2 before a
    stride-1 'valid' k x k convolution is the same as 'same' padding.
    """
    result = []
    for step in steps:
        if step.kind == "identity":
            continue
        if step.kind == "relu" and result and result[-1].kind == "relu":
            continue
        if step.kind == "conv" and result and _pads_like_same(result[-1], step):
            result[-1] = dataclasses.replace(step, padding="same")
            continue
        result.append(step)
    return tuple(result)


def _pads_like_same(pad, conv):
    if pad.kind != "pad" or conv.padding != "valid" or set(conv.strides) != {1}:
        return False
    return all(
        before == after == (size - 1) / 2
        for (before, after), size in zip(pad.padding, conv.window, strict=True)
    )


def describe(step):
    """A short, spec-like description of a step, e.g. "Conv2D(64, 7x7, stride 2)"."""
    if step.kind in _WINDOWED:
        filters = f"{step.filters}, " if step.kind == "conv" else ""
        window = "x".join(map(str, step.window))
        stride = (step.strides[0] if len(set(step.strides)) == 1
                  else "x".join(map(str, step.strides)))
        padding = ", padding='same'" if step.padding == "same" else ""
        return f"{_WINDOWED[step.kind]}({filters}{window}, stride {stride}{padding})"
    if step.kind == "pad":
        sizes = {size for pair in step.padding for size in pair}
        return f"ZeroPadding2D({sizes.pop() if len(sizes) == 1 else step.padding})"
    if step.kind == "dense":
        return f"Dense({step.filters})"
    return _PLAIN.get(step.kind, f"{step.name} (not a step of the specification)")
