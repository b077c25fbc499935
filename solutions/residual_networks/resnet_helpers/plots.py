"""Figures for the notebook: gradients through depth, training, evaluation.

Every function returns the matplotlib Figure it drew, so the notebook shows
it inline and a test can inspect it.
"""

import matplotlib.pyplot as plt
import numpy as np

CORRECT_COLOUR = "#2e7d32"
MISTAKE_COLOUR = "#c62828"


def input_gradient_norms(depths, width=64, weight_scale=1.0, residual=False, seed=0):
    """Norm of d(output)/d(input) of a stack of ReLU layers, one per depth.

    Each layer is h -> relu(W h) (plain) or h -> h + relu(W h) / sqrt(depth)
    (residual), with W drawn from N(0, weight_scale / width). The gradient is
    a product of one Jacobian per layer, so in a plain stack it shrinks or
    grows geometrically with depth; the identity term of a residual layer
    keeps each factor close to 1. The branch is scaled by 1/sqrt(depth) so
    the residual stack's forward signal stays bounded too.

    Args:
        depths: numbers of layers to measure, e.g. range(2, 60, 4).
        width: units per layer.
        weight_scale: variance of W times width; 2.0 is He initialisation.
        residual: whether each layer adds its input back.
        seed: seed of NumPy's generator, so the figure is the same every run.

    Returns:
        Array with one gain per depth: the Jacobian's Frobenius norm divided
        by sqrt(width), which is 1 for a stack that preserves gradients.
    """
    rng = np.random.default_rng(seed)
    norms = []
    for depth in depths:
        h = rng.normal(size=width)
        jacobian = np.eye(width)
        for _ in range(depth):
            W = rng.normal(scale=np.sqrt(weight_scale / width), size=(width, width))
            pre_activation = W @ h
            layer_jacobian = (pre_activation > 0)[:, None] * W
            if residual:
                scale = 1 / np.sqrt(depth)
                h = h + scale * np.maximum(pre_activation, 0)
                layer_jacobian = np.eye(width) + scale * layer_jacobian
            else:
                h = np.maximum(pre_activation, 0)
            jacobian = layer_jacobian @ jacobian
        norms.append(np.linalg.norm(jacobian) / np.sqrt(width))
    return np.array(norms)


def plot_gradient_norms_through_depth(depths=range(2, 62, 4)):
    """Plots how the input gradient of plain and residual stacks scales with depth.

    Returns:
        The Figure: a log-scale gradient norm against depth for a plain
        stack with small weights (vanishing), a plain stack with large
        weights (exploding) and a residual stack.
    """
    depths = list(depths)
    figure, ax = plt.subplots(figsize=(7, 4))
    curves = [
        ("plain, weight variance 1/n: vanishing", 1.0, False, "#1f77b4"),
        ("plain, weight variance 3/n: exploding", 3.0, False, "#d62728"),
        ("residual, weight variance 1/n", 1.0, True, "#2ca02c"),
    ]
    for label, scale, residual, colour in curves:
        norms = input_gradient_norms(depths, weight_scale=scale, residual=residual)
        ax.semilogy(depths, norms, "o-", label=label, color=colour, markersize=4)
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("number of layers")
    ax.set_ylabel("gradient norm at the input (log scale)")
    ax.set_title("Gradients through a deep stack of ReLU layers")
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_training_curves(history):
    """Plots loss and accuracy per epoch from a Keras History or its dict.

    Returns:
        The Figure, loss on the left and accuracy on the right.
    """
    metrics = getattr(history, "history", history)
    epochs = np.arange(1, len(metrics["loss"]) + 1)
    figure, (loss_ax, accuracy_ax) = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key, title in ((loss_ax, "loss", "Loss"), (accuracy_ax, "accuracy", "Accuracy")):
        ax.plot(epochs, metrics[key], "o-", label="training")
        if f"val_{key}" in metrics:
            ax.plot(epochs, metrics[f"val_{key}"], "s--", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    figure.tight_layout()
    return figure


def plot_confusion_matrix(true_labels, predicted_labels, classes):
    """Plots the counts of (true, predicted) label pairs.

    Args:
        true_labels: integer labels, shape (m,).
        predicted_labels: integer labels, shape (m,).
        classes: the class names, in label order.

    Returns:
        The Figure; rows are true labels, columns predictions.
    """
    n = len(classes)
    counts = np.zeros((n, n), dtype=int)
    np.add.at(counts, (np.asarray(true_labels), np.asarray(predicted_labels)), 1)
    figure, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.imshow(counts, cmap="Blues")
    for (row, column), count in np.ndenumerate(counts):
        colour = "white" if count > counts.max() / 2 else "black"
        ax.text(column, row, count, ha="center", va="center", color=colour)
    ax.set_xticks(range(n), [str(c) for c in classes])
    ax.set_yticks(range(n), [str(c) for c in classes])
    ax.set_xlabel("predicted fingers")
    ax.set_ylabel("true fingers")
    ax.set_title("Confusion matrix (test set)")
    figure.tight_layout()
    return figure


def plot_prediction_grid(images, true_labels, predicted_labels, columns=8, rows=3):
    """Shows test images with true and predicted labels; mistakes in red.

    Mistakes are shown first, so the few that matter are never cut off.

    Returns:
        The Figure.
    """
    true_labels = np.asarray(true_labels)
    predicted_labels = np.asarray(predicted_labels)
    wrong = np.flatnonzero(true_labels != predicted_labels)
    right = np.flatnonzero(true_labels == predicted_labels)
    shown = np.concatenate([wrong, right])[: columns * rows]
    figure, axes = plt.subplots(rows, columns, figsize=(1.5 * columns, 1.75 * rows))
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, index in zip(axes.ravel(), shown):
        mistake = true_labels[index] != predicted_labels[index]
        ax.imshow(images[index])
        ax.set_title(
            f"true {true_labels[index]}, pred {predicted_labels[index]}",
            fontsize=8, color=MISTAKE_COLOUR if mistake else CORRECT_COLOUR,
        )
        if mistake:
            ax.set_axis_on()
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_edgecolor(MISTAKE_COLOUR)
                spine.set_linewidth(3)
    figure.suptitle(f"{len(wrong)} of {len(true_labels)} test images misclassified")
    figure.tight_layout()
    return figure


def sketch_training_error_against_depth():
    """Draws the degradation problem as a labelled schematic, not as data.

    The shapes follow the description in He et al. (2015), Fig. 1 and
    Fig. 6; the notebook's plain-against-residual section shows measured
    curves.

    Returns:
        The Figure.
    """
    depth = np.linspace(5, 110, 100)
    theory = 0.06 + 0.3 * np.exp(-depth / 12)
    plain = theory + 0.25 * np.clip((depth - 25) / 80, 0, None) ** 1.5
    residual = theory + 0.012
    figure, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(depth, theory, ":", color="grey", label="theory: deeper can copy shallower")
    ax.plot(depth, plain, color="#d62728", label="practice: plain network")
    ax.plot(depth, residual, color="#2ca02c", label="practice: residual network")
    ax.set_xlabel("number of layers")
    ax.set_ylabel("training error")
    ax.set_yticks([])
    ax.set_title("Training error against depth (schematic)")
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure
