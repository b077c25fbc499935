"""Generate a synthetic hand-signs data set in the SIGNS file format.

Each image is a 64x64 RGB picture of one hand showing 0 to 5 raised fingers
(the thumb counts as a finger); the label is the number of raised fingers.
Hands are drawn with Pillow at four times the final size and shrunk, which
anti-aliases the edges. Pose, rotation, scale, position, skin tone,
background, lighting and noise all vary at random, so that the class cannot
be read off a fixed set of pixels and the task needs a convolutional network.

Run from the repository root::

    python data/make_signs.py             # seed 0, writes next to this file
    python data/make_signs.py --seed 3 --out /tmp/signs

The same seed always gives byte-identical arrays and byte-identical files.
"""

import argparse
import colorsys
import math
import sys
import time
from pathlib import Path

import h5py
import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 64
SUPERSAMPLE = 4  # drawn at 256x256, then box-filtered down to 64x64
NUM_CLASSES = 6
TRAIN_PER_CLASS = 180
TEST_PER_CLASS = 20
DEFAULT_SEED = 0

# Finger order in the hand's own frame, from the thumb side outwards.
FINGERS = ("thumb", "index", "middle", "ring", "little")

# Which fingers are raised for each count, with how often each variant is
# drawn. People count on their fingers in several ways (from the thumb or
# from the index); one way per count keeps each class to one hand shape, which
# ResNet-50 can learn from 180 pictures. Add variants here to make the task
# harder; the data card's figures then no longer hold.
RAISED_VARIANTS = {
    0: [((), 1.0)],
    1: [(("index",), 1.0)],
    2: [(("index", "middle"), 1.0)],
    3: [(("index", "middle", "ring"), 1.0)],
    4: [(("index", "middle", "ring", "little"), 1.0)],
    5: [(FINGERS, 1.0)],
}

# Skin tones from light to dark (RGB); a tone is a random blend of neighbours.
SKIN_TONES = np.array(
    [[255, 224, 196], [241, 194, 158], [224, 172, 128],
     [198, 134, 94], [141, 85, 54], [92, 56, 36]], dtype=np.float64)

# Geometry of an unrotated hand at scale 1, in output pixels. The palm is
# centred on the origin and y grows downwards, as in image coordinates.
PALM_HALF_WIDTH = 8.5
PALM_HALF_HEIGHT = 8.0
FINGER_BASE_X = {"index": -6.3, "middle": -2.1, "ring": 2.1, "little": 6.3}
FINGER_LENGTH = {"index": 10.5, "middle": 11.5, "ring": 10.5, "little": 8.5,
                 "thumb": 9.0}
FINGER_WIDTH = 4.0
OUTLINE_SHADE = 150  # crease/edge brightness out of 255 on the hand layer

# How much each picture varies. These ranges set the difficulty: wide enough
# that a linear model on raw pixels fails, narrow enough that ResNet-50 learns
# the task from scratch in a few CPU minutes (see data/README.md). Position
# varies most, because it costs a convnet with augmentation little and a
# pixel-wise linear model a lot.
MAX_ROTATION_DEGREES = 10.0
SCALE_RANGE = (1.6, 2.0)  # hand size; at 1 the palm is 16 pixels wide
MARGIN = 1.0  # closest a fingertip comes to the picture's sides and top
BOTTOM_SLACK = 4.0  # how far the palm may run off the bottom edge
ROOM_USED = 1.0  # share of the free room around the hand used for moving it
SPREAD_RANGE = (0.75, 1.0)  # how far fingers fan out; 0 is side by side
FAN_DEGREES = 2.5  # a finger's tilt per unit of distance from the hand's axis
MAX_CLUTTER_SHAPES = 0  # blobs and boxes behind the hand; 0 keeps walls plain
CLUTTER_SIZE_RANGE = (0.05, 0.3)  # blob width and height, share of the image
BACKGROUND_SATURATION_RANGE = (0.0, 0.35)  # HSV saturation of wall colours
BACKGROUND_VALUE_RANGE = (0.0, 1.0)  # HSV value (brightness) of wall colours
HUE_DRIFT = 0.1  # how far a gradient's hue may turn, in turns (0.5: any)
MIN_LUMA_CONTRAST = 80.0  # background vs lit skin, in grey levels
LIGHT_LEVEL_RANGE = (0.7, 1.15)  # overall brightness of the hand
MAX_LIGHT_SLOPE = 0.15  # brightness change from image centre to edge
NOISY_FRACTION = 0.1  # share of pictures that get pixel noise
NOISE_SIGMA_RANGE = (1.0, 4.0)  # its standard deviation, in grey levels


def make_signs(seed=DEFAULT_SEED, train_per_class=TRAIN_PER_CLASS,
               test_per_class=TEST_PER_CLASS):
    """Builds the training and test sets for one seed.

    Args:
        seed: non-negative integer; the same seed gives identical arrays.
        train_per_class: training images per class (180 in the real set).
        test_per_class: test images per class (20 in the real set).

    Returns:
        Dict with "train_set_x" (m_train, 64, 64, 3) uint8, "train_set_y"
        (m_train,) int64, "test_set_x" (m_test, 64, 64, 3) uint8,
        "test_set_y" (m_test,) int64 and "list_classes" (6,) int64 holding
        0..5, where m_train = 6 * train_per_class = 1080 by default and
        m_test = 6 * test_per_class = 120.
    """
    for name, value in (("seed", seed), ("train_per_class", train_per_class),
                        ("test_per_class", test_per_class)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, received {value!r}")
    # Independent streams, so the test set does not change if the training
    # set's size or drawing order ever does.
    train_seq, test_seq = np.random.SeedSequence(int(seed)).spawn(2)
    train_x, train_y = _make_split(np.random.default_rng(train_seq), train_per_class)
    test_x, test_y = _make_split(np.random.default_rng(test_seq), test_per_class)
    return {
        "train_set_x": train_x, "train_set_y": train_y,
        "test_set_x": test_x, "test_set_y": test_y,
        "list_classes": np.arange(NUM_CLASSES, dtype=np.int64),
    }


def write_signs(out_dir, seed=DEFAULT_SEED):
    """Writes train_signs.h5 and test_signs.h5 for one seed into out_dir.

    Args:
        out_dir: folder to write into; created if missing.
        seed: non-negative integer passed to make_signs.

    Returns:
        Tuple of the two written paths (train, test).
    """
    arrays = make_signs(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / "train_signs.h5", out_dir / "test_signs.h5")
    for path, split in zip(paths, ("train", "test"), strict=True):
        keys = (f"{split}_set_x", f"{split}_set_y", "list_classes")
        _write_h5(path, {key: arrays[key] for key in keys}, seed)
    return paths


def _write_h5(path, arrays, seed):
    """Writes arrays to path with no timestamps, so reruns give equal bytes."""
    with h5py.File(path, "w") as f:
        # Provenance; the real SIGNS files have no attributes.
        f.attrs["generator"] = "data/make_signs.py"
        f.attrs["seed"] = int(seed)
        for key, array in arrays.items():
            if array.ndim == 4:
                # One image per chunk: h5py's automatic chunks cut images
                # into 16x16 single-channel tiles, which compress far worse.
                f.create_dataset(key, data=array, chunks=(1, *array.shape[1:]),
                                 compression="gzip", compression_opts=9,
                                 track_times=False)
            else:
                f.create_dataset(key, data=array, track_times=False)


def _make_split(rng, per_class):
    """Draws per_class images of each class, in a shuffled order."""
    labels = rng.permutation(np.repeat(np.arange(NUM_CLASSES), per_class))
    images = np.zeros((len(labels), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    for index, label in enumerate(labels):
        images[index] = draw_sign(rng, int(label))
    return images, labels.astype(np.int64)


def draw_sign(rng, count):
    """Draws one 64x64 RGB picture of a hand with `count` raised fingers.

    Args:
        rng: numpy Generator; all randomness comes from it.
        count: number of raised fingers, 0..5.

    Returns:
        Array of shape (64, 64, 3), dtype uint8.
    """
    skin = _skin_tone(rng) * rng.uniform(*LIGHT_LEVEL_RANGE)
    background = _draw_background(rng, _luma(skin))
    coverage, shade = draw_hand(rng, _choose_raised(rng, count))
    hand = shade[..., None] * skin * _light_slope(rng)
    image = background * (1.0 - coverage[..., None]) + hand
    # Noise on every picture would make the files three times larger, since
    # gzip cannot compress it; grainy pictures on a share of them do the job.
    if rng.random() < NOISY_FRACTION:
        image += rng.normal(0.0, rng.uniform(*NOISE_SIGMA_RANGE), image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _choose_raised(rng, count):
    """Picks which fingers are raised for this count, from RAISED_VARIANTS."""
    variants = RAISED_VARIANTS[count]
    weights = np.array([weight for _, weight in variants])
    index = rng.choice(len(variants), p=weights / weights.sum())
    return set(variants[index][0])


def _skin_tone(rng):
    """Returns an RGB skin colour blended between two neighbouring tones."""
    position = rng.uniform(0, len(SKIN_TONES) - 1)
    low = int(position)
    high = min(low + 1, len(SKIN_TONES) - 1)
    mix = position - low
    return (1 - mix) * SKIN_TONES[low] + mix * SKIN_TONES[high]


def _luma(rgb):
    """Returns the perceived brightness (ITU-R BT.601 luma) of RGB values."""
    return float(np.dot(rgb, [0.299, 0.587, 0.114]))


def _contrasting_colour(rng, skin_luma, hue=None):
    """Returns a random RGB wall colour whose luma differs from the skin's.

    Without the contrast, a hand on a skin-coloured wall shows no outline at
    64x64 and even a person could not count its fingers.

    Args:
        rng: numpy Generator.
        skin_luma: luma of the lit skin colour.
        hue: if given, the colour's hue stays within HUE_DRIFT of it.
    """
    for _ in range(100):
        if hue is None:
            h = rng.uniform(0, 1)
        else:
            h = (hue + rng.uniform(-HUE_DRIFT, HUE_DRIFT)) % 1.0
        s = rng.uniform(*BACKGROUND_SATURATION_RANGE)
        v = rng.uniform(*BACKGROUND_VALUE_RANGE)
        colour = 255 * np.array(colorsys.hsv_to_rgb(h, s, v))
        if abs(_luma(colour) - skin_luma) >= MIN_LUMA_CONTRAST:
            return colour, h
    # Reached only if the ranges leave no room; black or white always contrasts.
    return np.full(3, 0.0 if skin_luma > 127.5 else 255.0), 0.0


def _light_slope(rng):
    """Returns a (64, 64, 1) brightness field: light falling from one side."""
    angle = rng.uniform(0, 2 * math.pi)
    slope = rng.uniform(0.0, MAX_LIGHT_SLOPE)
    coords = (np.arange(IMAGE_SIZE) - IMAGE_SIZE / 2) / (IMAGE_SIZE / 2)
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    field = 1 + slope * (math.cos(angle) * xx + math.sin(angle) * yy)
    return field[..., None]


def _draw_background(rng, skin_luma):
    """Returns a (64, 64, 3) float background: a gradient plus clutter."""
    start, hue = _contrasting_colour(rng, skin_luma)
    end, _ = _contrasting_colour(rng, skin_luma, hue)
    angle = rng.uniform(0, 2 * math.pi)
    coords = np.linspace(-0.5, 0.5, IMAGE_SIZE)
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    t = np.clip(0.5 + math.cos(angle) * xx + math.sin(angle) * yy, 0, 1)
    gradient = start + t[..., None] * (end - start)
    # The gradient is smooth, so computing it small and enlarging it is
    # exact enough and much faster than computing it at full size.
    size = IMAGE_SIZE * SUPERSAMPLE
    canvas = Image.fromarray(gradient.astype(np.uint8), "RGB").resize(
        (size, size), Image.Resampling.BILINEAR)
    _draw_clutter(rng, ImageDraw.Draw(canvas), size, skin_luma)
    return _shrink(canvas)


def _draw_clutter(rng, draw, size, skin_luma):
    """Scatters random blobs and boxes over the background.

    No thin strokes: at 64x64 they look like fingers, and the label would
    no longer be readable from the picture.
    """
    for _ in range(rng.integers(0, MAX_CLUTTER_SHAPES + 1)):
        colour = tuple(int(c) for c in _contrasting_colour(rng, skin_luma)[0])
        x0, y0 = rng.uniform(-0.1, 1.0, size=2) * size
        w, h = rng.uniform(*CLUTTER_SIZE_RANGE, size=2) * size
        if rng.random() < 0.5:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
        else:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)


def draw_hand(rng, raised):
    """Draws the hand's coverage (alpha) and shading, both (64, 64) floats.

    Coverage is 1 inside the hand and fractional on its anti-aliased edge;
    shading is brightness already multiplied by coverage, with darker
    outlines where fingers and palm meet, so touching fingers stay apart.
    """
    size = IMAGE_SIZE * SUPERSAMPLE
    polygons, extent = _hand_polygons(rng, raised)
    to_image = _random_placement(rng, extent)
    mask = Image.new("L", (size, size), 0)
    shade = Image.new("L", (size, size), 0)
    outline_width = max(1, round(SUPERSAMPLE * rng.uniform(0.6, 1.0)))
    for polygon in polygons:
        points = [to_image(x, y) for x, y in polygon]
        ImageDraw.Draw(mask).polygon(points, fill=255)
        ImageDraw.Draw(shade).polygon(points, fill=255, outline=OUTLINE_SHADE,
                                      width=outline_width)
    return _shrink(mask) / 255.0, _shrink(shade) / 255.0


def _random_placement(rng, extent):
    """Returns a random map from hand coordinates to supersampled pixels.

    The hand is turned, scaled, maybe mirrored, then moved anywhere that
    keeps every point of `extent` inside the picture (MARGIN pixels from
    the sides and top; the wrist may leave at the bottom). Moving the hand
    a lot costs a convnet little but defeats pixel-wise linear models.
    """
    angle = math.radians(rng.uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES))
    scale = rng.uniform(*SCALE_RANGE)
    mirror = rng.choice([-1.0, 1.0])  # left or right hand
    cos_a, sin_a = math.cos(angle), math.sin(angle)

    def turn(x, y):
        x *= mirror
        return scale * (cos_a * x - sin_a * y), scale * (sin_a * x + cos_a * y)

    xs, ys = zip(*(turn(x, y) for x, y in extent), strict=True)
    centre_x = _uniform_or_middle(rng, MARGIN - min(xs), IMAGE_SIZE - MARGIN - max(xs))
    centre_y = _uniform_or_middle(rng, MARGIN - min(ys), IMAGE_SIZE + BOTTOM_SLACK - max(ys))

    def to_image(x, y):
        dx, dy = turn(x, y)
        return SUPERSAMPLE * (centre_x + dx), SUPERSAMPLE * (centre_y + dy)

    return to_image


def _uniform_or_middle(rng, low, high):
    """Draws from the middle ROOM_USED share of [low, high]; the middle if empty."""
    middle, half = (low + high) / 2, ROOM_USED * abs(high - low) / 2
    value = rng.uniform(middle - half, middle + half)
    return value if low <= high else middle


def _hand_polygons(rng, raised):
    """Lists the hand's parts as polygons in drawing order, back to front.

    Raised fingers come first so the palm hides their roots; folded fingers
    come last, as knuckles and a thumb lying across the palm. The same
    random numbers are drawn whatever is raised, so one rng state gives the
    same hand shape for every choice of fingers.

    Returns:
        (polygons, extent): the polygons to draw, and the points of the palm
        and all five fingers raised. Placing the hand by this extent keeps
        any raised finger in the picture, and makes where the hand sits
        independent of the label.
    """
    spread = rng.uniform(*SPREAD_RANGE)  # 0: fingers together, 1: fanned out
    width = FINGER_WIDTH * rng.uniform(0.9, 1.15)
    forearm = _stadium((0, 6), (rng.uniform(-3, 3), 40), 13 * rng.uniform(0.9, 1.1))
    palm = _palm(rng)
    behind, in_front, extent = [forearm], [], list(palm)
    for finger in FINGERS:
        jitter = rng.uniform(-1.0, 1.0, size=2)  # angle and length
        up = _raised_finger(finger, jitter, spread, width)
        extent += up
        if finger in raised:
            behind.append(up)
        else:
            in_front.append(_folded_finger(finger, jitter, width))
    return behind + [palm] + in_front, extent


def _raised_finger(finger, jitter, spread, width):
    """Returns an extended finger or thumb as a polygon in hand coordinates.

    Args:
        finger: a name from FINGERS.
        jitter: two numbers in [-1, 1] that perturb angle and length.
        spread: 0..1, how far the fingers fan out from each other.
        width: finger width in hand units.
    """
    if finger == "thumb":
        # The thumb leaves the palm's side, pointing up and outwards.
        angle = math.radians(-55 - 25 * spread + 10 * jitter[0])
        base = (-PALM_HALF_WIDTH + 2, 2.5)
        width *= 1.15
    else:
        angle = math.radians(FINGER_BASE_X[finger] * FAN_DEGREES * spread
                             + 4 * jitter[0])
        base = (FINGER_BASE_X[finger], -PALM_HALF_HEIGHT + 2)
    length = FINGER_LENGTH[finger] * (1 + 0.12 * jitter[1])
    tip = (base[0] + length * math.sin(angle), base[1] - length * math.cos(angle))
    return _stadium(base, tip, width)


def _folded_finger(finger, jitter, width):
    """Returns a folded finger or thumb as a polygon in hand coordinates.

    A folded finger shows as a curled fingertip on the palm, inside its
    outline: a knuckle poking over the palm's edge would look like a short
    raised finger at 64x64. A folded thumb lies across the palm.
    """
    if finger == "thumb":
        return _stadium((-PALM_HALF_WIDTH + 1, 4), (1.5 + 1.5 * jitter[0], 1), width * 1.1)
    base_x = FINGER_BASE_X[finger]
    top = -PALM_HALF_HEIGHT + width / 2 + 0.7 + 0.3 * jitter[1]
    return _stadium((base_x, top), (base_x, top + 3.5), width)


def _palm(rng):
    """Returns the palm as a rounded square polygon in hand coordinates."""
    half_w = PALM_HALF_WIDTH * rng.uniform(0.92, 1.08)
    half_h = PALM_HALF_HEIGHT * rng.uniform(0.92, 1.08)
    corner = 3.0
    points = []
    for cx, cy, start in ((half_w - corner, half_h - corner, 0),
                          (-half_w + corner, half_h - corner, 90),
                          (-half_w + corner, -half_h + corner, 180),
                          (half_w - corner, -half_h + corner, 270)):
        for step in range(7):
            a = math.radians(start + 15 * step)
            points.append((cx + corner * math.cos(a), cy + corner * math.sin(a)))
    return points


def _stadium(start, end, width, steps=8):
    """Returns a capsule (rectangle with round ends) from start to end."""
    (x0, y0), (x1, y1) = start, end
    heading = math.atan2(y1 - y0, x1 - x0)
    radius = width / 2
    points = []
    for (cx, cy), offset in (((x1, y1), -math.pi / 2), ((x0, y0), math.pi / 2)):
        for step in range(steps + 1):
            a = heading + offset + math.pi * step / steps
            points.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
    return points


def _shrink(image):
    """Box-filters a supersampled Pillow image down to 64x64 floats."""
    small = image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float64)


def _parse_args(argv):
    """Reads --seed and --out; argparse exits with a message on errors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=_non_negative_int, default=DEFAULT_SEED,
                        help="random seed, a non-negative integer (default 0)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="output folder (default: the folder of this script)")
    return parser.parse_args(argv)


def _non_negative_int(text):
    """argparse type: an integer >= 0, or a clear error naming the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def main(argv=None):
    """Command-line entry point; returns the process exit code."""
    args = _parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        sys.exit(f"make_signs.py: error: --out {args.out} exists and is not a folder")
    started = time.perf_counter()
    train_path, test_path = write_signs(args.out, args.seed)
    print(f"wrote {train_path} and {test_path} (seed {args.seed}) "
          f"in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
