"""Draw a labelled grid of sample images from the SIGNS training file.

Run from the repository root after data/make_signs.py::

    python data/draw_sample_grid.py            # writes data/sample_grid.png
    python data/draw_sample_grid.py --per-class 8 --out /tmp/grid.png

Each row shows the first few training images of one class, so the grid
changes only when the data do.
"""

import argparse
import sys
from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")  # no display needed; also keeps the output stable
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent


def draw_sample_grid(train_file, out_file, per_class=6):
    """Saves a PNG grid with one row per class and per_class images per row.

    Args:
        train_file: path of train_signs.h5 (keys train_set_x, train_set_y).
        out_file: path of the PNG to write.
        per_class: images shown per class, a positive integer.

    Returns:
        The path written.
    """
    if not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class must be a positive integer, received {per_class!r}")
    with h5py.File(train_file, "r") as f:
        images = f["train_set_x"][()]
        labels = f["train_set_y"][()]
    classes = sorted(set(labels.tolist()))
    fig, axes = plt.subplots(len(classes), per_class, squeeze=False,
                             figsize=(1.2 * per_class, 1.3 * len(classes)))
    for row, label in enumerate(classes):
        picks = (labels == label).nonzero()[0][:per_class]
        for col, axis in enumerate(axes[row]):
            axis.set_xticks([])
            axis.set_yticks([])
            if col < len(picks):
                axis.imshow(images[picks[col]])
        axes[row][0].set_ylabel(f"{label} finger{'s' * (label != 1)}", fontsize=9)
    fig.suptitle("Synthetic SIGNS: label = number of raised fingers", fontsize=10)
    fig.tight_layout()
    # No "Software" stamp, so redrawing with the same data gives the same bytes.
    fig.savefig(out_file, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return Path(out_file)


def main(argv=None):
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-file", type=Path, default=HERE / "train_signs.h5",
                        help="training file to sample (default: data/train_signs.h5)")
    parser.add_argument("--out", type=Path, default=HERE / "sample_grid.png",
                        help="PNG to write (default: data/sample_grid.png)")
    parser.add_argument("--per-class", type=int, default=6,
                        help="images per class (default 6)")
    args = parser.parse_args(argv)
    if not args.train_file.is_file():
        parser.error(f"{args.train_file} not found; run data/make_signs.py first")
    if args.per_class < 1:
        parser.error(f"--per-class must be at least 1, got {args.per_class}")
    print(f"wrote {draw_sample_grid(args.train_file, args.out, args.per_class)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
