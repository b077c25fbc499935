"""Redraws the README's figures: python docs/draw_figures.py."""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "solutions" / "residual_networks"))
from resnet_helpers.diagrams import draw_residual_block  # noqa: E402


def main():
    figure, axes = plt.subplots(2, 1, figsize=(13, 6.8))
    draw_residual_block("identity", ax=axes[0])
    draw_residual_block("convolutional", ax=axes[1])
    figure.tight_layout()
    path = HERE / "residual_blocks.png"
    # No timestamp in the metadata, so redrawing an unchanged figure is no git change.
    figure.savefig(path, dpi=110, metadata={"Software": None})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
