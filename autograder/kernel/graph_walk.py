"""Walk a Keras functional graph: the tensors' producers, and the partial
graph a block had built when it raised.

Used on both sides of the boundary: in the student's kernel, the exporter
saves what a raising block had built so that its mistake can still be
diagnosed; outside it, the judge's graph readers walk the saved models.

Keras internals used (check them after upgrades): ``KerasTensor._keras_history``,
``Operation._inbound_nodes`` and ``Node.input_tensors``.
"""

import keras

# Packages whose frames hold framework temporaries, never a student's tensors.
_LIBRARY_PACKAGES = {"keras", "tensorflow", "tf_keras", "numpy", "optree"}


def producer(tensor):
    """The Node (one call of an operation) that produced a KerasTensor."""
    operation, node_index, _ = tensor._keras_history
    return operation._inbound_nodes[node_index]


def nodes_in_order(outputs, inputs):
    """Every call upstream of ``outputs`` (ids of ``inputs`` stop the walk),
    each listed after its own inputs' calls. Iterative, because ResNet-50 with
    its weightless ops is deep enough to worry Python's recursion limit."""
    order, done, stack = [], set(), [(t, False) for t in reversed(outputs)]
    while stack:
        tensor, expanded = stack.pop()
        node = None if id(tensor) in inputs else producer(tensor)
        if node is None or id(node) in done:
            continue
        if expanded:
            done.add(id(node))
            order.append(node)
        else:
            stack.append((tensor, True))
            stack.extend((t, False) for t in reversed(node.input_tensors))
    return order


def tensors_built_before(error, block_input):
    """The last tensors a block built on `block_input` before raising `error`.

    They are read from the local variables of the traceback's frames; when
    two paths could not be added, they are the addition's two operands.
    """
    return _frontier(_tensors_in_traceback(error), block_input)


def _tensors_in_traceback(error):
    """KerasTensors held by the local variables of the non-library frames."""
    found = {}
    traceback = error.__traceback__
    while traceback is not None:
        frame = traceback.tb_frame
        package = frame.f_globals.get("__name__", "").split(".")[0]
        if package not in _LIBRARY_PACKAGES:
            for value in frame.f_locals.values():
                for item in value if isinstance(value, (list, tuple)) else [value]:
                    if _is_graph_tensor(item):
                        found[id(item)] = item
        traceback = traceback.tb_next
    return list(found.values())


def _is_graph_tensor(value):
    return isinstance(value, keras.KerasTensor) and hasattr(value, "_keras_history")


def _frontier(tensors, block_input):
    """Of the tensors built on `block_input`, those no other one was built from."""
    upstream = {}
    for tensor in tensors:
        if tensor is block_input:
            continue
        nodes = nodes_in_order([tensor], {id(block_input)})
        inputs = {id(t) for node in nodes for t in node.input_tensors}
        if id(block_input) in inputs and not any(node.is_input for node in nodes):
            upstream[id(tensor)] = (tensor, inputs)
    built_on = set().union(*(inputs for _, inputs in upstream.values()))
    return [tensor for key, (tensor, _) in upstream.items() if key not in built_on]
