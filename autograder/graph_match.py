"""Pair the weighted layers of two Keras functional models by graph structure.

Students build the same ResNet with the shortcut before or after the main
path, their own names, ``layers.Add``, ``keras.ops.add`` or ``+``. Creation
order and names say nothing reliable, so only the wiring is looked at.

From the outputs, each KerasTensor is followed back to the call that made it.
Weightless operations (activations, Add, padding, pooling, ``keras.ops``) are
contracted away, leaving a DAG of Conv2D, BatchNormalization and Dense calls.
Each vertex gets two Weisfeiler-Lehman style labels, summarising what lies
upstream and downstream of it, with neighbours' labels sorted so operand order
does not count. The pair of labels is the key; equal keys are paired.

Keras internals used (check them after upgrades): ``KerasTensor._keras_history``,
``Operation._inbound_nodes``, ``Node.input_tensors`` and, to drop traced
functions after changing epsilon, ``Model.predict_function`` and its siblings.
"""

from collections import Counter

from keras import layers

from autograder.kernel.graph_walk import nodes_in_order, producer

# Weighted kinds we know how to pair. Other layers holding weights are refused:
# copying weights we don't understand could let a wrong model pass silently.
SUPPORTED_KINDS = {
    "Conv2D": layers.Conv2D,
    "BatchNormalization": layers.BatchNormalization,
    "Dense": layers.Dense,
}
_MAX_LISTED = 3  # layers named per model in an error: enough to act on


class GraphMatchError(ValueError):
    """Base class: the two models cannot be paired layer by layer."""


class UnsupportedModelError(GraphMatchError):
    """A model is not a functional graph, or holds a layer we cannot pair."""


class GraphMismatchError(GraphMatchError):
    """The two models' weighted layers or their wiring differ.

    Attributes:
        missing: source layers left without a partner in the target.
        unexpected: target layers left without a partner in the source.
    """

    def __init__(self, message, missing=(), unexpected=()):
        super().__init__(message)
        self.missing, self.unexpected = list(missing), list(unexpected)


class _WeightedGraph:
    """One model's contracted DAG; vertex v is the call of ``layers[v]``.

    ``preds[v]`` and ``succs[v]`` hold vertex numbers and, for the model's
    ends, ("input", i) and ("output", j) tuples.
    """

    def __init__(self, model):
        inputs = getattr(model, "inputs", None)
        outputs = getattr(model, "outputs", None)
        if not inputs or not outputs:
            raise UnsupportedModelError(
                f"model {getattr(model, 'name', model)!r} has no functional graph "
                "(build it with keras.Input and keras.Model(inputs, outputs))"
            )
        self.model = model
        self.layers, self.preds, self.succs, self.depth = [], [], [], []
        self._ends = {id(t): ("input", i) for i, t in enumerate(inputs)}
        feeds = {}  # id(node) -> the vertices and inputs its outputs carry
        for node in nodes_in_order(outputs, self._ends):
            incoming = self._sources(node.input_tensors, feeds)
            if _weighted_kind(node.operation) is not None:
                incoming = frozenset([self._add_vertex(node.operation, incoming)])
            feeds[id(node)] = incoming
        for j, tensor in enumerate(outputs):
            for v in self._sources([tensor], feeds) - set(self._ends.values()):
                self.succs[v].append(("output", j))

    def _sources(self, tensors, feeds):
        found = set()
        for t in tensors:
            if id(t) in self._ends:
                found.add(self._ends[id(t)])
            else:
                found |= feeds[id(producer(t))]
        return frozenset(found)

    def _add_vertex(self, layer, incoming):
        if any(layer is seen for seen in self.layers):
            raise UnsupportedModelError(
                f"model {self.model.name!r} calls layer {layer.name!r} more than "
                "once; shared weights are not supported"
            )
        vertex = len(self.layers)
        self.layers.append(layer)
        self.preds.append(sorted(incoming, key=_inputs_first))
        self.succs.append([])
        feeders = [v for v in incoming if isinstance(v, int)]
        for v in feeders:
            self.succs[v].append(vertex)
        self.depth.append(max((self.depth[v] + 1 for v in feeders), default=0))
        return vertex

    def keys(self, table):
        """One (upstream label, downstream label) key per vertex.

        Labels are integers drawn from ``table``, which both models share, so
        equal structure gets equal numbers in both.
        """
        up, down = [], [None] * len(self.layers)
        for v in range(len(self.layers)):  # vertices were added in topological order
            up.append(self._label(v, self.preds[v], up, table))
        for v in reversed(range(len(self.layers))):
            down[v] = self._label(v, self.succs[v], down, table)
        return list(zip(up, down))

    def _label(self, v, neighbours, labels, table):
        # Sorting the neighbours' labels is what makes Add operand order and
        # creation order irrelevant; the model's ends are interned like labels.
        seen = sorted(
            table.setdefault(n, len(table)) if isinstance(n, tuple) else labels[n]
            for n in neighbours
        )
        return table.setdefault((_signature(self.layers[v]), tuple(seen)), len(table))

    def describe(self, v):
        """What vertex v is and where it sits, for error messages."""
        kind, weights = _signature(self.layers[v])
        shapes = ", ".join(f"{name} {shape}" for name, shape in weights)
        feeders = [
            f"model {n[0]} {n[1]}" if isinstance(n, tuple)
            else repr(self.layers[n].name)
            for n in self.preds[v]
        ]
        return (
            f"{kind} named {self.layers[v].name!r} with {shapes}, after "
            f"{self.depth[v]} weighted layers, fed by {', '.join(feeders) or 'nothing'}"
        )


def _inputs_first(neighbour):
    """Sort key for mixed vertex numbers and ("input", i) tuples."""
    return (0, neighbour[1]) if isinstance(neighbour, tuple) else (1, neighbour)


def _weighted_kind(operation):
    """The supported kind's name, or None for a weightless operation."""
    if not getattr(operation, "weights", None):
        return None
    for kind, cls in SUPPORTED_KINDS.items():
        if isinstance(operation, cls):
            return kind
    raise UnsupportedModelError(
        f"layer {operation.name!r} is a {type(operation).__name__} with weights; "
        f"only {', '.join(SUPPORTED_KINDS)} layers can be matched"
    )


def _signature(layer):
    """Kind plus the name and shape of every weight, in the layer's order."""
    weights = tuple((w.name, tuple(w.shape)) for w in layer.weights)
    return (_weighted_kind(layer), weights)


def match_layers(source_model, target_model):
    """Pairs each weighted layer of one model with its structural twin.

    Args:
        source_model: a functional Keras model, e.g. the reference.
        target_model: a functional Keras model, e.g. a student's.

    Returns:
        (source layer, target layer) pairs covering every weighted layer of
        both models, in the source's topological order.

    Raises:
        GraphMismatchError: the weighted layers or their wiring differ, or a
            layer's position is not unique; the message names the layers.
        UnsupportedModelError: a model is not functional, calls a layer twice,
            or holds weights outside Conv2D, BatchNormalization and Dense.
    """
    graphs = (_WeightedGraph(source_model), _WeightedGraph(target_model))
    table = {}
    keys = [graph.keys(table) for graph in graphs]
    # Kinds and shapes first: "a BatchNormalization is missing" is better
    # feedback than the wiring differences such a gap causes everywhere.
    _compare(graphs, [[_signature(x) for x in g.layers] for g in graphs],
             "the models do not have the same weighted layers",
             lambda i, bad: _misplaced(bad, keys[i], keys[1 - i]))
    for side in (0, 1):  # upstream labels, then downstream labels
        _compare(graphs, [[k[side] for k in ks] for ks in keys],
                 "the models wire the same weighted layers differently",
                 lambda i, bad, side=side: _frontier(graphs[i], bad, side))
    _compare(graphs, keys, "the models wire the same weighted layers differently")
    _refuse_ambiguous(graphs[0], keys[0], is_source=True)
    _refuse_ambiguous(graphs[1], keys[1], is_source=False)
    target_by_key = dict(zip(keys[1], graphs[1].layers))
    return [(layer, target_by_key[k]) for k, layer in zip(keys[0], graphs[0].layers)]


def _compare(graphs, items, headline, narrow=lambda i, bad: bad):
    """Raises GraphMismatchError unless both models' multisets of items agree.

    ``narrow(i, positions)`` picks, among model i's unmatched positions, the
    layers worth naming, so one gap is not blamed on every layer it touches.
    """
    found = [narrow(i, _unmatched(items[i], items[1 - i])) for i in (0, 1)]
    if not any(found):
        return
    lines = [headline + ":"]
    for i, vertices in enumerate(found):
        graph, other = graphs[i], graphs[1 - i]
        lines += [
            f"  - model {graph.model.name!r} has a {graph.describe(v)}; "
            f"model {other.model.name!r} has no such layer there"
            for v in vertices[:_MAX_LISTED]
        ]
        if len(vertices) > _MAX_LISTED:
            lines.append(f"  - ... and {len(vertices) - _MAX_LISTED} more")
    missing, unexpected = ([g.layers[v] for v in f] for g, f in zip(graphs, found))
    raise GraphMismatchError("\n".join(lines), missing, unexpected)


def _misplaced(bad, keys, other_keys):
    """Of look-alike layers (same kind and shapes), those placed unlike any
    layer of the other model both upstream and downstream; all if none is."""
    ups, downs = {k[0] for k in other_keys}, {k[1] for k in other_keys}
    placed = [v for v in bad if keys[v][0] not in ups and keys[v][1] not in downs]
    return placed or bad


def _unmatched(items, other_items):
    """Positions of the items that ``other_items`` has fewer copies of."""
    excess = Counter(items) - Counter(other_items)
    return [v for v, item in enumerate(items) if item in excess]


def _frontier(graph, bad, side):
    # A wiring difference changes the labels of every layer downstream (side
    # 0) or upstream (side 1) of it, so only the frontier is worth naming:
    # unmatched layers whose neighbours on that side all match.
    # Never empty when bad is not: the first bad vertex in topological order
    # has no bad predecessor, the last has no bad successor.
    neighbours, bad_set = graph.preds if side == 0 else graph.succs, set(bad)
    return [v for v in bad if not bad_set.intersection(neighbours[v])]


def _refuse_ambiguous(graph, keys, is_source):
    tied = _unmatched(keys, set(keys))  # keys that occur more than once
    if tied:
        tied_layers = [graph.layers[v] for v in tied]
        raise GraphMismatchError(
            f"model {graph.model.name!r} has weighted layers that structure alone "
            "cannot tell apart (e.g. identical parallel branches):\n"
            + "\n".join(f"  - {graph.describe(v)}" for v in tied[: 2 * _MAX_LISTED]),
            missing=tied_layers if is_source else (),
            unexpected=() if is_source else tied_layers,
        )


def transfer_weights(source_model, target_model, align_batchnorm_epsilon=True):
    """Copies every weight of the source model into its structural twin.

    Args:
        source_model: functional model whose weights are read.
        target_model: functional model whose weights, BatchNormalization
            moving means and variances included, are overwritten.
        align_batchnorm_epsilon: also give each target BatchNormalization
            its source partner's ``epsilon``.

    Returns:
        The (source layer, target layer) pairs, as ``match_layers`` gives them.

    Raises:
        GraphMatchError: as ``match_layers``, or when paired layers hold weights
            of different names or shapes; nothing is changed then.
    """
    pairs = match_layers(source_model, target_model)
    _check_weights_fit(pairs)
    for source_layer, target_layer in pairs:
        for s, t in zip(source_layer.weights, target_layer.weights):
            t.assign(s.numpy())
        # Epsilon is no weight, yet it changes every BN output, most where a
        # channel's variance is small. The exercise leaves it a free choice, so
        # it is copied rather than allowed to look like a wrong answer.
        is_batchnorm = _weighted_kind(source_layer) == "BatchNormalization"
        if align_batchnorm_epsilon and is_batchnorm:
            target_layer.epsilon = source_layer.epsilon
    if align_batchnorm_epsilon:
        # predict() and fit() trace the model once with epsilon as a constant;
        # a model used before the transfer would otherwise keep its old one.
        for name in ("predict_function", "test_function", "train_function"):
            if getattr(target_model, name, None) is not None:
                setattr(target_model, name, None)
    return pairs


def _check_weights_fit(pairs):
    """Raises before anything is copied, so a failure leaves the target as it was."""
    for source_layer, target_layer in pairs:
        source_sig, target_sig = _signature(source_layer), _signature(target_layer)
        if source_sig != target_sig:
            raise GraphMatchError(
                f"cannot copy the weights of {source_layer.name!r} {source_sig} "
                f"into {target_layer.name!r} {target_sig}"
            )
