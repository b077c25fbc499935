"""Take a residual block, or a whole ResNet, apart into its paths.

A block is read backwards from its output: the steps after the addition (the
tail), then the addition's two operands, each followed back until they meet.
Where they meet is the block's input (the fork); the operand with more
convolutions is the main path, the other the shortcut. A ResNet is read the
same way, block after block, from the head back to the stem.

When a student's function raises, say because the two paths have different
shapes, the tensors it had built are still held by its frames' local
variables in the traceback; the paths are read from those.
"""

import dataclasses

from autograder.graph_steps import node_kind, normalise, walk_back


@dataclasses.dataclass(frozen=True)
class BlockAnatomy:
    """The paths of one residual block, each a tuple of normalised steps.

    Attributes:
        main: steps from the block's input to the addition (to the output
            when nothing is added).
        shortcut: steps from the block's input to the addition; None when
            no shortcut was found.
        tail: steps after the addition; None when unknown (the code raised).
        joined: True if an addition joins the block's input to the main
            path, False if none does, None if the code raised before telling.
        channels: channels of the block's output, when read inside a ResNet.
    """

    main: tuple
    shortcut: tuple | None = None
    tail: tuple | None = None
    joined: bool | None = None
    channels: int | None = None


@dataclasses.dataclass(frozen=True)
class ResNetAnatomy:
    """A ResNet as stem, residual blocks (in order) and head."""

    stem: tuple
    blocks: tuple
    head: tuple


def block_anatomy(block_input, block_output):
    """The anatomy of the block between two tensors, or None if unreadable."""
    walk = walk_back(block_output, {id(block_input)})
    if walk.junction is None:
        if not walk.reached(block_input):
            return None
        return BlockAnatomy(main=normalise(walk.steps()), joined=False)
    if node_kind(walk.junction) != "add":
        return None
    return _join(walk.junction.input_tensors, block_input, normalise(walk.steps()))


def anatomy_of_ends(ends, block_input):
    """The anatomy of a block cut short, from the last tensors it built, or None."""
    if len(ends) == 2:  # most likely the two operands of an addition that failed
        return _join(ends, block_input, tail=None)
    if len(ends) != 1:
        return None
    anatomy = block_anatomy(block_input, ends[0])
    if anatomy is None:
        return None
    # The code stopped before its end: a missing addition may just be unwritten.
    return dataclasses.replace(anatomy, tail=None, joined=anatomy.joined or None)


def _join(operands, block_input, tail):
    """The anatomy of a block whose addition takes `operands`, or None."""
    stops = {id(block_input)}
    split = split_at_fork(operands, stops)
    if split is None:
        return None
    main, shortcut, fork = split
    if fork is block_input:
        return BlockAnatomy(main, shortcut, tail, joined=True)
    # The addition does not start from the block's input, e.g. X_shortcut was
    # saved after X was reassigned: read the main path from the input instead.
    walks = [walk_back(t, stops) for t in operands]
    paths = [normalise(w.steps()) for w in walks if w.reached(block_input)]
    if not paths:
        return None
    return BlockAnatomy(max(paths, key=_conv_count), None, tail, joined=False)


def split_at_fork(operands, stop_ids):
    """(main steps, shortcut steps, fork tensor) of an addition's operands.

    Both operands are followed back through single-input calls; the first
    tensor they share is the fork. The path with more convolutions is the
    main path. None if there are not two operands or they never meet.
    """
    if len(operands) != 2:
        return None
    walks = [walk_back(t, stop_ids) for t in operands]
    shared = {id(t) for t in walks[1].tensors}
    fork = next((t for t in walks[0].tensors if id(t) in shared), None)
    if fork is None:
        return None
    paths = [
        normalise(walk.steps(until=[id(t) for t in walk.tensors].index(id(fork))))
        for walk in walks
    ]
    main, shortcut = sorted(paths, key=lambda p: (_conv_count(p), len(p)), reverse=True)
    return main, shortcut, fork


def _conv_count(steps):
    return sum(step.kind == "conv" for step in steps)


def resnet_anatomy(model):
    """The stem, blocks and head of a functional ResNet, or None if unreadable."""
    model_input, stops = model.inputs[0], {id(model.inputs[0])}
    walk = walk_back(model.outputs[0], stops)
    after = normalise(walk.steps())  # steps after the addition being read
    head, blocks = _split_tail(after)[1], []
    while walk.junction is not None:
        if node_kind(walk.junction) != "add":
            return None
        split = split_at_fork(walk.junction.input_tensors, stops)
        if split is None:
            return None
        main, shortcut, fork = split
        blocks.append(BlockAnatomy(
            main, shortcut, tail=_split_tail(after)[0], joined=True,
            channels=walk.junction.output_tensors[0].shape[-1],
        ))
        walk = walk_back(fork, stops)
        after = normalise(walk.steps())
    if not walk.reached(model_input):
        return None
    return ResNetAnatomy(stem=after, blocks=tuple(reversed(blocks)), head=head)


def _split_tail(steps):
    """(the block's closing ReLUs, what follows them)."""
    end = 0
    while end < len(steps) and steps[end].kind == "relu":
        end += 1
    return steps[:end], steps[end:]
