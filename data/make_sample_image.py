"""Draw the sample image the notebook's "predict your own image" section ships.

It is a hand drawn by the data generator, but from a random stream of its
own, so it is in neither the training nor the test set. It is saved at
four times the data's size, as a photo would be larger than 64x64, which
also exercises the resizing a student's own photo goes through.

Run from the repository root::

    python data/make_sample_image.py    # writes solutions/.../images/sample_sign.png
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from data.make_signs import draw_sign  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "solutions" / "residual_networks" / "images" / "sample_sign.png"
SAMPLE_STREAM = (2015, 12, 10)  # any fixed entropy unlike the data's seeds
SAMPLE_FINGERS = 3
SCALE = 4


def write_sample_image(out_file, fingers=SAMPLE_FINGERS):
    """Draws one hand with `fingers` raised fingers and saves it as a PNG.

    Args:
        out_file: path of the PNG to write; its folder is created if missing.
        fingers: number of raised fingers, 0..5.

    Returns:
        The path written.
    """
    if fingers not in range(6):
        raise ValueError(f"fingers must be 0..5, received {fingers!r}")
    image = draw_sign(np.random.default_rng(SAMPLE_STREAM), fingers)
    big = Image.fromarray(image).resize(
        (image.shape[1] * SCALE, image.shape[0] * SCALE), Image.Resampling.BICUBIC)
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    big.save(out_file, optimize=True)
    return out_file


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="PNG to write (default: the notebook's images/ folder)")
    args = parser.parse_args(argv)
    print(f"wrote {write_sample_image(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
