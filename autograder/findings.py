"""Rules that name a known mistake from the anatomy of a block or a ResNet.

Each rule looks at one thing the specification fixes: the order of the steps
on the main path, what the shortcut holds, what follows the addition, the
settings of the convolutions, the stem, the number of blocks per stage and
the head. A rule returns tags, never messages: ``diagnostics`` owns the words.
"""

import dataclasses

from autograder.graph_steps import describe
from autograder.reference import RESNET50_STAGES

# The stem as ``graph_steps.describe`` words it, in order.
EXPECTED_STEM = (
    "ZeroPadding2D(3)", "Conv2D(64, 7x7, stride 2)", "BatchNormalization", "ReLU",
    "ZeroPadding2D(1)", "MaxPooling2D(3x3, stride 2)",
)
_STEM_STEPS_SHOWN = 8  # enough to see what differs without listing a whole network
# Output channels -> (stage number, filters, stride, number of blocks). Stage
# numbers follow reference.RESNET50_STAGES: stage 1 is the stem.
STAGES = {
    filters[-1]: (number, filters, stride, 1 + identity_blocks)
    for number, (filters, stride, identity_blocks)
    in enumerate(RESNET50_STAGES, start=2)
}


@dataclasses.dataclass(frozen=True)
class BlockSpec:
    """What a block was asked to compute. None means "not known, don't check"."""

    f: int | None
    filters: tuple | None
    s: int | None
    projection: bool


@dataclasses.dataclass(frozen=True)
class Finding:
    """A mistake found: its tag, the exercise it belongs to, specifics for the hint."""

    tag: str
    exercise: str
    detail: str = ""


def block_findings(anatomy, spec):
    """Tags of the mistakes visible in one block's anatomy, in reading order."""
    tags = ["no_shortcut"] if anatomy.joined is False else []
    shortcut = anatomy.shortcut or ()
    if "relu" in _kinds(shortcut):
        tags.append("relu_on_shortcut")
    if spec.projection:
        tags += _projection_findings(shortcut, spec)
    tags += _main_path_findings(anatomy.main, spec)
    if anatomy.joined and anatomy.tail is not None:
        tags += _ending_findings(anatomy.main, anatomy.tail)
    return tags


def _kinds(steps):
    return [step.kind for step in steps]


def _projection_findings(shortcut, spec):
    """Checks the convolution and BatchNorm of a convolutional block's shortcut."""
    kinds, tags = _kinds(shortcut), []
    if "conv" not in kinds:
        return tags
    conv = shortcut[kinds.index("conv")]
    if "bn" not in kinds[kinds.index("conv"):]:
        tags.append("missing_batchnorm_shortcut")
    if spec.s and spec.s > 1 and conv.strides != (spec.s, spec.s):
        tags.append("shortcut_not_strided")
    if spec.filters and conv.filters != spec.filters[-1]:
        tags.append("filters_wrong_order")
    return tags


def _main_path_findings(main, spec):
    """Checks each convolution's step (conv, BN, ReLU), then their settings."""
    units = _conv_units(main)
    tags = []
    for position, (_, after) in enumerate(units):
        kinds = _kinds(after)
        if "bn" not in kinds:
            tags.append("missing_batchnorm_main")
        elif "relu" in kinds[: kinds.index("bn")]:
            tags.append("relu_before_batchnorm")
        elif position < len(units) - 1 and "relu" not in kinds:
            tags.append("missing_relu_main")
    if len(units) == 3:
        tags += _conv_settings_findings([conv for conv, _ in units], spec)
    return tags


def _conv_units(main):
    """[(convolution, the steps after it up to the next one)] along the main path."""
    units = []
    for step in main:
        if step.kind == "conv":
            units.append((step, []))
        elif units:
            units[-1][1].append(step)
    return units


def _conv_settings_findings(convs, spec):
    tags = []
    if spec.filters and tuple(conv.filters for conv in convs) != tuple(spec.filters):
        tags.append("filters_wrong_order")
    strides = [conv.strides for conv in convs]
    if spec.s and spec.s > 1 and strides != [(spec.s, spec.s), (1, 1), (1, 1)]:
        tags.append("stride_on_wrong_conv")
    windows = [conv.window for conv in convs]
    # With f = 1, 'valid' and 'same' compute the same thing: not a mistake there.
    if spec.f and (windows != [(1, 1), (spec.f, spec.f), (1, 1)]
                   or (spec.f > 1 and convs[1].padding != "same")):
        tags.append("middle_conv_padding_or_window")
    return tags


def _ending_findings(main, tail):
    if main and main[-1].kind == "relu":
        return ["shortcut_after_relu"]
    if "relu" not in _kinds(tail):
        return ["missing_final_relu"]
    return []


def resnet_findings(anatomy):
    """Findings for the stem, the stage sizes, the head and every block."""
    findings = []
    if not anatomy.blocks:  # no addition at all: the stem and stages are unreadable
        return _head_findings(anatomy.head)
    findings += _stem_findings(anatomy.stem)
    findings += _stage_findings(anatomy.blocks)
    findings += _head_findings(anatomy.head)
    for block in anatomy.blocks:
        spec = _spec_in_resnet(block)
        exercise = "convolutional_block" if spec.projection else "identity_block"
        findings += [Finding(tag, exercise) for tag in block_findings(block, spec)]
    return findings


def _stem_findings(stem):
    described = [describe(step) for step in stem]
    if tuple(described) == EXPECTED_STEM:
        return []
    shown = described[:_STEM_STEPS_SHOWN]
    if len(described) > _STEM_STEPS_SHOWN:
        shown.append("...")
    return [Finding("stem_differs", "ResNet50", ", ".join(shown) or "nothing")]


def _stage_findings(blocks):
    """Blocks per stage, a stage being a run of blocks with the same channels.

    Only said when the stages come in the table's order, missing ones
    allowed: with other channels, the filters are wrong, not the counts.
    """
    runs = [[blocks[0].channels, 0]]
    for block in blocks:
        if block.channels != runs[-1][0]:
            runs.append([block.channels, 0])
        runs[-1][1] += 1
    order = [channels for channels, _ in runs]
    if order != [channels for channels in STAGES if channels in order]:
        return []
    found = dict(runs)
    wrong = [
        f"stage {number} ({channels} channels) has {found.get(channels, 0)} blocks, "
        f"expected {expected}"
        for channels, (number, _, _, expected) in STAGES.items()
        if found.get(channels, 0) != expected
    ]
    if not wrong:
        return []
    return [Finding("stage_block_count", "ResNet50", "; ".join(wrong))]


def _head_findings(head):
    if "softmax" in _kinds(head):
        return []
    return [Finding("head_no_softmax", "ResNet50")]


def _spec_in_resnet(block):
    """The spec of a block inside ResNet-50, from the stage its channels belong to."""
    projection = "conv" in _kinds(block.shortcut or ())
    if block.channels not in STAGES:
        return BlockSpec(f=3, filters=None, s=None, projection=projection)
    _, filters, stride, _ = STAGES[block.channels]
    return BlockSpec(f=3, filters=filters, s=stride if projection else None,
                     projection=projection)
