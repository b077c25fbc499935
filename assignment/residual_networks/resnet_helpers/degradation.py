"""The degradation experiment: plain against residual networks as depth grows.

Trains the plain and residual networks of resnet_helpers.depth_models at two
depths on the hand signs, several seeds each, and records per epoch the loss
and error on the whole training set, plus the gradient norm of every
weighted layer at initialisation. data/experiments/degradation.py runs it
and saves the results; the notebook loads them with find_results and
load_results, or reruns the quick version with run_experiment(QUICK_RUN).

Results file (JSON), floats to 5 significant digits::

    {"depths": [20, 56],
     "runs": [{"kind": "plain", "depth": 20, "seed": 1,
               "train_loss": [one per epoch], "train_error": [one per epoch],
               "running_train_loss": [one per epoch],
               "grad_norms": [one per weighted layer, input to output]}, ...],
     "settings": {everything needed to repeat the run},
     "seconds": wall time, "created": date and time, "machine": "..."}
"""

import dataclasses
import datetime
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from resnet_helpers import depth_models, signs, training

RESULTS_NAME = Path("experiments") / "degradation.json"
RUN_KEYS = {"kind": str, "depth": int, "seed": int, "train_loss": list,
            "train_error": list, "running_train_loss": list, "grad_norms": list}
TOP_KEYS = {"depths": list, "runs": list, "settings": dict, "seconds": (int, float),
            "created": str, "machine": str}
SIGNIFICANT_DIGITS = 5

# What every run shares and the settings' fields do not say; saved with them.
FIXED_SETTINGS = {
    "optimizer": "SGD with momentum; weight decay applied to the weights, "
    "not the loss",
    "schedule": "warmup_epochs at learning_rate / 10, then learning_rate, "
    "divided by 10 at 1/2 and 3/4 of the steps",
    "initialisation": "he_normal kernels, zero biases, BatchNorm gamma 1 and beta 0",
    "batchnorm_momentum": 0.9,
    "shortcuts": "option A: identity, or stride-2 subsampling with zero channels "
    "appended",
    "train_error": "1 - accuracy of a pass over the training pictures in inference "
    "mode after each epoch; train_loss from the same pass",
    "augmentation": "none",
}


@dataclass(frozen=True)
class ExperimentSettings:
    """What to train and how; saved whole with the results."""

    blocks: tuple  # n of each network pair; depth 6n + 2
    seeds: tuple  # one training run per seed and network
    epochs: int
    batch_size: int
    learning_rate: float  # SGD's step size, divided by 10 at 1/2 and 3/4 of training
    warmup_epochs: int  # first epochs at a tenth of it, as for the paper's 110 layers
    momentum: float  # SGD momentum, 0.9 as in the paper
    weight_decay: float  # decoupled from the loss, so the loss is pure cross-entropy
    image_size: int  # pictures average-pooled from 64x64 to this size
    num_examples: int | None  # None: all 1080 training pictures
    batchnorm: bool
    gradient_batch: int  # first pictures of the training set, for the gradient norms
    description: str


# The paper's CIFAR-10 recipe scaled to 1080 pictures and 15 CPU minutes: its
# rate 0.1 for batches of 128 becomes 0.025 for batches of 32, and 64k steps
# become 16 epochs of 34 steps. The pictures are shrunk to 16x16 so that 12
# networks fit in the time; stage 3 still sees 4x4 pixels.
FULL_RUN = ExperimentSettings(
    blocks=(3, 9), seeds=(1, 2, 3), epochs=16, batch_size=32, learning_rate=0.025,
    warmup_epochs=1, momentum=0.9, weight_decay=1e-4, image_size=16, num_examples=None,
    batchnorm=True, gradient_batch=128,
    description="full run: plain and residual networks of 20 and 56 layers, 3 seeds, "
    "16 epochs on all training pictures at 16x16",
)

# Small enough for a notebook cell: two shallow pairs, few pictures, one seed.
QUICK_RUN = dataclasses.replace(
    FULL_RUN, blocks=(1, 2), seeds=(1,), epochs=4, num_examples=128, gradient_batch=32,
    description="quick run: 8 and 14 layers, 1 seed, 4 epochs on 128 pictures at 16x16",
)


def shrink_images(images, image_size):
    """Average-pools square pictures down to image_size x image_size.

    Args:
        images: float array (m, size, size, channels); size a multiple of image_size.
        image_size: side of the result.

    Returns:
        float32 array (m, image_size, image_size, channels).
    """
    m, height, width, channels = images.shape
    if image_size < 1 or height % image_size or width % image_size:
        raise ValueError(f"image_size must divide the pictures' {height}x{width} "
                         f"pixels, received {image_size!r}")
    factor = height // image_size
    pooled = images.reshape(m, image_size, factor, width // factor, factor, channels)
    return pooled.mean(axis=(2, 4)).astype(np.float32)


def learning_rate_schedule(settings, num_examples):
    """The paper's steps: a tenth of the rate to warm up, the rate, then /10 and /100.

    He et al. divide the rate by 10 at 32k and 48k of 64k iterations, half
    and three quarters of the way; they warm their 110-layer network up at a
    tenth of the rate until it starts to learn.

    Args:
        settings: an ExperimentSettings.
        num_examples: training pictures per epoch.

    Returns:
        A keras.optimizers.schedules.PiecewiseConstantDecay over the steps.
    """
    if not 0 <= 2 * settings.warmup_epochs < settings.epochs:
        raise ValueError(f"warmup_epochs must be under half of the {settings.epochs} "
                         f"epochs, received {settings.warmup_epochs!r}")
    steps_per_epoch = -(-num_examples // settings.batch_size)
    steps = steps_per_epoch * settings.epochs
    rate = settings.learning_rate
    boundaries, rates = [steps // 2, 3 * steps // 4], [rate, rate / 10, rate / 100]
    if settings.warmup_epochs:
        boundaries.insert(0, steps_per_epoch * settings.warmup_epochs)
        rates.insert(0, rate / 10)
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, rates)


def train_one(kind, n, seed, images, labels, settings):
    """Trains one network from a seeded start and measures it after every epoch.

    Args:
        kind: "plain" or "residual".
        n: blocks per stage; the network has 6n + 2 weighted layers.
        seed: seeds the initial weights and the order of the batches.
        images: float32 array (m, size, size, 3), the pictures to fit.
        labels: one-hot float32 array (m, classes).
        settings: an ExperimentSettings.

    Returns:
        Dict with "kind", "depth", "seed"; per epoch "train_loss" and
        "train_error" (a pass over `images` in inference mode) and
        "running_train_loss" (the mean over the epoch's batches in training
        mode, as Keras reports it); and "grad_norms", one per weighted layer
        at initialisation (depth_models.kernel_gradient_norms).
    """
    training.make_repeatable(seed)
    model = depth_models.build_network(kind, n, images.shape[1:], labels.shape[1],
                                       batchnorm=settings.batchnorm)
    # Inference-mode error needs BatchNorm's moving averages to keep up (training.py).
    training.set_batchnorm_momentum(model, FIXED_SETTINGS["batchnorm_momentum"])
    batch = slice(0, settings.gradient_batch)
    grad_norms = depth_models.kernel_gradient_norms(model, images[batch], labels[batch])
    schedule = learning_rate_schedule(settings, len(images))
    model.compile(
        optimizer=keras.optimizers.SGD(schedule, momentum=settings.momentum,
                                       weight_decay=settings.weight_decay),
        loss="categorical_crossentropy", metrics=["accuracy"])
    # The "validation" set is the training set itself: after every epoch Keras
    # measures it in inference mode, with the weights as they are at that point.
    history = model.fit(images, labels, batch_size=settings.batch_size,
                        epochs=settings.epochs, validation_data=(images, labels),
                        validation_batch_size=256, verbose=0).history
    return {"kind": kind, "depth": depth_models.depth_of(n), "seed": seed,
            "train_loss": history["val_loss"],
            "train_error": [1 - accuracy for accuracy in history["val_accuracy"]],
            "running_train_loss": history["loss"],
            "grad_norms": grad_norms.tolist()}


def run_experiment(settings=QUICK_RUN, data_dir=None, progress=print):
    """Trains every network of `settings` once per seed.

    Args:
        settings: an ExperimentSettings, e.g. QUICK_RUN or FULL_RUN.
        data_dir: folder of the SIGNS files; None lets signs.load_signs look.
        progress: called with one line of text after each run; None is silent.

    Returns:
        The results dict described in the module docstring, floats unrounded.
    """
    started = time.perf_counter()
    X_train, Y_train, *_ = signs.load_signs(data_dir)
    count = settings.num_examples or len(X_train)
    images = shrink_images(X_train[:count], settings.image_size)
    labels = Y_train[:count]
    runs = []
    for seed in settings.seeds:
        for n in settings.blocks:
            for kind in depth_models.KINDS:
                run = train_one(kind, n, seed, images, labels, settings)
                runs.append(run)
                if progress:
                    progress(f"{kind}-{run['depth']} seed {seed}: final training loss "
                             f"{run['train_loss'][-1]:.4f}, error "
                             f"{run['train_error'][-1]:.4f} "
                             f"({time.perf_counter() - started:.0f} s so far)")
    size = settings.image_size
    return {
        "depths": [depth_models.depth_of(n) for n in settings.blocks],
        "runs": runs,
        "settings": {**dataclasses.asdict(settings), **FIXED_SETTINGS,
                     "data": f"SIGNS training set, first {count} of {len(X_train)} "
                     f"pictures, average-pooled from 64x64 to {size}x{size}"},
        "seconds": time.perf_counter() - started,
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": describe_machine(),
    }


def describe_machine():
    """A short description such as "AMD EPYC, 2 CPUs, x86_64, TensorFlow 2.21.0"."""
    processor = platform.processor()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        processor = next(line.split(":", 1)[1].strip() for line in lines
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass  # not Linux: keep what platform knows
    return (f"{processor or 'unknown processor'}, {os.cpu_count()} CPUs, "
            f"{platform.machine()}, TensorFlow {tf.__version__}")


def save_results(results, path):
    """Writes results as JSON with floats rounded to 5 significant digits."""
    def rounded(value):
        if isinstance(value, float):
            return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
        if isinstance(value, dict):
            return {key: rounded(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [rounded(item) for item in value]
        return value
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rounded(results), indent=1) + "\n")
    return path


def find_results(data_dir=None):
    """Path of the saved results, data/experiments/degradation.json.

    Args:
        data_dir: the data folder; None finds it as signs.find_data_dir does
            (SIGNS_DATA_DIR, then data/ here, then beside the module).

    Returns:
        The Path; load_results says clearly if the file is not there.
    """
    return Path(data_dir or signs.find_data_dir()) / RESULTS_NAME


def load_results(path):
    """Reads a results file and checks its structure.

    Returns:
        The results dict.

    Raises:
        ValueError: the file is missing, not JSON, or not shaped as in the
            module docstring; the message names the file and the fault.
    """
    path = Path(path)
    try:
        results = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot read the results ({error}); "
                         "data/experiments/degradation.py makes them") from error
    fault = _structure_fault(results)
    if fault:
        raise ValueError(f"{path}: {fault}")
    return results


def _structure_fault(results):
    """What is wrong with a results dict, or None if nothing."""
    if not isinstance(results, dict):
        return f"expected a JSON object, found {type(results).__name__}"
    fault = _keys_fault(results, TOP_KEYS, "the top level")
    if fault:
        return fault
    epochs = results["settings"].get("epochs")
    if not isinstance(epochs, int) or isinstance(epochs, bool):
        return f"settings should give the number of epochs, found {epochs!r}"
    for index, run in enumerate(results["runs"]):
        where = f"runs[{index}]"
        fault = _keys_fault(run, RUN_KEYS, where) if isinstance(run, dict) else (
            f"{where} should be an object, found {type(run).__name__}")
        if fault:
            return fault
        kind, depth, norms = run["kind"], run["depth"], run["grad_norms"]
        if kind not in depth_models.KINDS:
            return f"{where}: kind {kind!r} is not one of {depth_models.KINDS}"
        if depth not in results["depths"]:
            return f"{where}: depth {depth} is not in depths {results['depths']}"
        for key in ("train_loss", "train_error", "running_train_loss"):
            if len(run[key]) != epochs or not _all_numbers(run[key]):
                return f"{where}: {key} should hold {epochs} numbers, one per epoch"
        if len(norms) != depth or not _all_numbers(norms):
            return (f"{where}: grad_norms should hold {depth} numbers, "
                    f"one per weighted layer, found {len(norms)}")
    return None


def _keys_fault(record, expected, where):
    """A missing key or a value of the wrong type in record, or None."""
    for key, kind in expected.items():
        if key not in record:
            return f"{where} lacks the key {key!r}"
        if not isinstance(record[key], kind) or isinstance(record[key], bool):
            return f"{where}: {key!r} has type {type(record[key]).__name__}"
    return None


def _all_numbers(values):
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def format_summary(results):
    """A table of the median final training loss and error of every network, as text."""
    lines = [f"{'network':<14}{'seeds':>6}{'final loss':>12}{'final error':>13}"]
    for (kind, depth), (loss, error) in final_medians(results).items():
        seeds = len(_runs_of(results, kind, depth))
        name = f"{kind}-{depth}"
        lines.append(f"{name:<14}{seeds:>6}{loss:>12.4f}{error:>13.2%}")
    minutes = results["seconds"] / 60
    lines.append(f"(medians over seeds; the run took {minutes:.1f} minutes "
                 f"on {results['machine']})")
    return "\n".join(lines)


def final_medians(results):
    """Median over seeds of the last epoch's training loss and error.

    Returns:
        Dict mapping (kind, depth) to (median loss, median error), in the
        order kinds then depths, e.g. ("plain", 20): (0.12, 0.03).
    """
    medians = {}
    for kind in depth_models.KINDS:
        for depth in results["depths"]:
            runs = _runs_of(results, kind, depth)
            if runs:
                medians[(kind, depth)] = (
                    float(np.median([r["train_loss"][-1] for r in runs])),
                    float(np.median([r["train_error"][-1] for r in runs])))
    return medians


def _runs_of(results, kind, depth):
    return [r for r in results["runs"] if (r["kind"], r["depth"]) == (kind, depth)]
