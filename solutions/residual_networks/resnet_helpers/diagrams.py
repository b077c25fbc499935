"""Diagrams of the residual blocks, drawn with matplotlib.

The notebook shows these so the picture and the code name the same parts:
the main path, the shortcut, and the addition before the final ReLU.
"""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

MAIN_COLOUR = "#dbe9f6"
SHORTCUT_COLOUR = "#f6e0c8"
MERGE_COLOUR = "#e3f1dc"


def _box(ax, x, y, text, colour, width=1.25, height=0.62):
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2), width, height,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=colour, edgecolor="#333333", linewidth=1.0,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax, start, end, colour="#333333", style="-|>", connection="arc3"):
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle=style, mutation_scale=12, color=colour,
            linewidth=1.4, connectionstyle=connection, shrinkA=0, shrinkB=0,
        )
    )


def _main_path_labels(f, stride_label):
    return [
        f"Conv 1x1\nF1{stride_label}",
        "BatchNorm",
        "ReLU",
        f"Conv {f}x{f}\nF2, 'same'",
        "BatchNorm",
        "ReLU",
        "Conv 1x1\nF3",
        "BatchNorm",
    ]


def draw_residual_block(kind="identity", f=3, ax=None):
    """Draws an identity or convolutional block, main path above the shortcut.

    Args:
        kind: "identity" (the shortcut carries a[l] unchanged) or
            "convolutional" (the shortcut is a strided 1x1 conv and BN).
        f: window of the middle convolution, for the label only.
        ax: matplotlib axes to draw on; a new figure is made if None.

    Returns:
        The matplotlib Figure.
    """
    if kind not in ("identity", "convolutional"):
        raise ValueError(
            f"kind must be 'identity' or 'convolutional', received kind={kind!r}"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(13, 3.4))
    stride_label = ", stride s" if kind == "convolutional" else ""
    labels = _main_path_labels(f, stride_label)
    main_y, shortcut_y, step = 2.2, 0.6, 1.45
    xs = [1.6 + step * i for i in range(len(labels))]
    add_x, relu_x = xs[-1] + step, xs[-1] + 2 * step

    ax.text(0.15, main_y, "a[l]", ha="center", va="center", fontsize=12)
    _arrow(ax, (0.4, main_y), (xs[0] - 0.63, main_y))
    for i, (x, label) in enumerate(zip(xs, labels)):
        _box(ax, x, main_y, label, MAIN_COLOUR)
        if i:
            _arrow(ax, (xs[i - 1] + 0.63, main_y), (x - 0.63, main_y))
    ax.text(xs[-1] + 0.75, main_y + 0.45, "z[l+2]", fontsize=10, style="italic")

    _box(ax, add_x, main_y, "+", MERGE_COLOUR, width=0.6)
    _box(ax, relu_x, main_y, "ReLU", MERGE_COLOUR, width=0.9)
    _arrow(ax, (xs[-1] + 0.63, main_y), (add_x - 0.3, main_y))
    _arrow(ax, (add_x + 0.3, main_y), (relu_x - 0.45, main_y))
    _arrow(ax, (relu_x + 0.45, main_y), (relu_x + 1.05, main_y))
    ax.text(relu_x + 1.1, main_y, "a[l+2]", ha="left", va="center", fontsize=12)

    _draw_shortcut(ax, kind, xs, add_x, main_y, shortcut_y)
    ax.text(xs[3], main_y + 0.75, "main path", ha="center", color="#1f4e79")
    ax.set_xlim(-0.2, relu_x + 2.0)
    ax.set_ylim(0, 3.2)
    ax.set_axis_off()
    title = "Identity block" if kind == "identity" else "Convolutional block"
    ax.set_title(f"{title}: a[l+2] = ReLU(z[l+2] + shortcut)", fontsize=11)
    return ax.figure


def _draw_shortcut(ax, kind, xs, add_x, main_y, shortcut_y):
    """Draws the shortcut from a[l] to the addition, below the main path."""
    start = (0.8, main_y)
    colour = "#a0522d"
    if kind == "identity":
        _arrow(ax, start, (0.8, shortcut_y), colour, style="-")
        _arrow(ax, (0.8, shortcut_y), (add_x, shortcut_y), colour, style="-")
        label = "shortcut: a[l] unchanged"
    else:
        conv_x, bn_x = xs[5], xs[6]
        _arrow(ax, start, (0.8, shortcut_y), colour, style="-")
        _arrow(ax, (0.8, shortcut_y), (conv_x - 0.63, shortcut_y), colour)
        _box(ax, conv_x, shortcut_y, "Conv 1x1\nF3, stride s", SHORTCUT_COLOUR)
        _arrow(ax, (conv_x + 0.63, shortcut_y), (bn_x - 0.63, shortcut_y), colour)
        _box(ax, bn_x, shortcut_y, "BatchNorm", SHORTCUT_COLOUR)
        _arrow(ax, (bn_x + 0.63, shortcut_y), (add_x, shortcut_y), colour, style="-")
        label = "shortcut: resized to match z[l+2]"
    _arrow(ax, (add_x, shortcut_y), (add_x, main_y - 0.31), colour)
    ax.text(1.0, shortcut_y + 0.15, label, color=colour, fontsize=9)
