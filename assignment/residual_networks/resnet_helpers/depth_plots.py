"""Figures of the degradation experiment: plain against residual networks.

Every function takes the results dict of resnet_helpers.degradation (as
load_results or run_experiment return it) and returns the matplotlib Figure
it drew, so the notebook shows it inline and a test can inspect it.
"""

import matplotlib.pyplot as plt
import numpy as np

KIND_COLOURS = {"plain": "#d62728", "residual": "#2ca02c"}  # the colours of plots.py


def runs_of(results, kind, depth):
    """The runs of one network, one per seed."""
    return [run for run in results["runs"]
            if (run["kind"], run["depth"]) == (kind, depth)]


def depth_styles(depths):
    """A line style per depth: the deepest solid, shallower ones dashed, then dotted."""
    styles = ["-", "--", ":", "-."]
    ordered = sorted(depths, reverse=True)
    return {depth: styles[min(index, len(styles) - 1)]
            for index, depth in enumerate(ordered)}


def plot_gradient_norms(results):
    """Plots the gradient norm of each weighted layer's kernel at initialisation.

    One line per network (median over seeds), plain in red and residual in
    green, the deepest pair solid; layers run from the input (1) to the
    softmax layer (depth). The y axis is logarithmic, so equal heights mean
    equal ratios.

    Args:
        results: a results dict with "depths" and "runs" holding "grad_norms".

    Returns:
        The Figure, with one axes and 2 * len(depths) lines.
    """
    figure, ax = plt.subplots(figsize=(8, 4))
    styles = depth_styles(results["depths"])
    for depth in results["depths"]:
        for kind, colour in KIND_COLOURS.items():
            runs = runs_of(results, kind, depth)
            if not runs:
                continue
            norms = np.median([run["grad_norms"] for run in runs], axis=0)
            ax.semilogy(np.arange(1, depth + 1), norms, styles[depth], color=colour,
                        marker="o", markersize=3, label=f"{kind}-{depth}")
    ax.set_xlabel("weighted layer (1 = first convolution, last = softmax layer)")
    ax.set_ylabel("gradient norm of the kernel (log scale)")
    ax.set_title("Gradients at initialisation, median over seeds")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_depth_training_curves(results):
    """Plots training loss and training error per epoch of every network.

    The line is the median over seeds and the shaded band spans the lowest
    to the highest seed, so one odd seed cannot hide behind the median.

    Args:
        results: a results dict with "depths" and "runs" holding
            "train_loss" and "train_error" per epoch.

    Returns:
        The Figure: loss (log scale) on the left, error on the right, each
        with one line per network.
    """
    figure, (loss_ax, error_ax) = plt.subplots(1, 2, figsize=(11, 4))
    styles = depth_styles(results["depths"])
    for depth in results["depths"]:
        for kind, colour in KIND_COLOURS.items():
            runs = runs_of(results, kind, depth)
            for ax, key in ((loss_ax, "train_loss"), (error_ax, "train_error")):
                if runs:
                    label = f"{kind}-{depth} ({len(runs)} seeds)"
                    _median_and_range(ax, [run[key] for run in runs], colour,
                                      styles[depth], label)
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel("training loss (log scale)")
    error_ax.set_ylabel("training error")
    error_ax.yaxis.set_major_formatter(
        plt.FuncFormatter(lambda value, _: f"{value:.0%}"))
    for ax, title in ((loss_ax, "Training loss"), (error_ax, "Training error")):
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    error_ax.legend(fontsize=8)
    figure.suptitle("Plain against residual networks, measured after each epoch")
    figure.tight_layout()
    return figure


def _median_and_range(ax, curves, colour, style, label):
    """Draws the median of curves as a line and their min-to-max as a band."""
    curves = np.asarray(curves, dtype=float)
    epochs = np.arange(1, curves.shape[1] + 1)
    ax.plot(epochs, np.median(curves, axis=0), style, color=colour, label=label)
    ax.fill_between(epochs, curves.min(axis=0), curves.max(axis=0), color=colour,
                    alpha=0.15, linewidth=0)
