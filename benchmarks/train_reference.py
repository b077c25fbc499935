"""Train the reference ResNet-50 from scratch on SIGNS and report time and accuracy.

The training settings are the student notebook's own, read from
resnet_helpers.training; change them there and nowhere else. Run from the repository root::

    PYTHONPATH=.:solutions/residual_networks python benchmarks/train_reference.py
    PYTHONPATH=.:solutions/residual_networks python benchmarks/train_reference.py --seeds 1

For each training seed it prints the time of every epoch, the total
training time and the test accuracy (inference mode, as model.evaluate and
model.predict use it), then a summary over the seeds.
"""

import argparse
import sys
import time

import keras
import numpy as np

from autograder.reference import ResNet50
from resnet_helpers import training
from resnet_helpers.signs import load_signs

# The notebook's own settings: the figures this prints are a student's run.
SETTINGS = training.FULL_RUN

# What the data card promises for these settings on a 2-core CPU.
SEEDS = (1, 2, 3)
TIME_BUDGET_SECONDS = 360
TARGET_TEST_ACCURACY = 0.95


class EpochTimer(keras.callbacks.Callback):
    """Records the wall-clock seconds of every epoch in `self.seconds`."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._started)
        print(f"    epoch {epoch + 1:2d}/{self.params['epochs']}: "
              f"{self.seconds[-1]:5.1f} s, loss {logs['loss']:.3f}, "
              f"train accuracy {logs['accuracy']:.3f}", flush=True)


def train_once(seed, data):
    """Builds and trains one ResNet-50; returns its timings and test accuracy.

    Args:
        seed: training seed for training.make_repeatable (weights, order, shifts).
        data: the tuple returned by load_signs.

    Returns:
        Dict with "seed", "epoch_seconds" (list), "total_seconds" and
        "test_accuracy".
    """
    X_train, Y_train, X_test, Y_test, _ = data
    training.make_repeatable(seed)
    model = ResNet50(input_shape=X_train.shape[1:], classes=Y_train.shape[1])
    training.set_batchnorm_momentum(model, SETTINGS.batchnorm_momentum)
    schedule = training.learning_rate_schedule(SETTINGS, len(X_train))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    started = time.perf_counter()
    model.fit(training.training_batches(X_train, Y_train, SETTINGS), epochs=SETTINGS.epochs,
              verbose=0, callbacks=[timer])
    total = time.perf_counter() - started
    _, test_accuracy = model.evaluate(X_test, Y_test, verbose=0)
    return {"seed": seed, "epoch_seconds": timer.seconds,
            "total_seconds": total, "test_accuracy": float(test_accuracy)}


def print_settings(data):
    """Prints the training settings and the data sizes."""
    X_train, _, X_test, _, _ = data
    print(f"ResNet-50 from scratch: Adam, learning rate {SETTINGS.learning_rate:g} "
          f"with cosine decay to 0, {SETTINGS.epochs} epochs, "
          f"batch size {SETTINGS.batch_size}, BatchNorm momentum "
          f"{SETTINGS.batchnorm_momentum}, augmentation {'on' if SETTINGS.augment else 'off'}")
    print(f"data: {len(X_train)} training and {len(X_test)} test images "
          f"of shape {X_train.shape[1:]}")


def print_summary(results):
    """Prints one line per seed and whether the targets hold."""
    print("\nseed  first epoch  later epochs (mean)  total    test accuracy")
    for r in results:
        later = np.mean(r["epoch_seconds"][1:]) if len(r["epoch_seconds"]) > 1 else 0.0
        print(f"{r['seed']:>4}  {r['epoch_seconds'][0]:9.1f} s  {later:17.1f} s  "
              f"{r['total_seconds']:5.0f} s  {r['test_accuracy']:13.3f}")
    worst_accuracy = min(r["test_accuracy"] for r in results)
    slowest = max(r["total_seconds"] for r in results)
    print(f"worst test accuracy {worst_accuracy:.3f} (target >= {TARGET_TEST_ACCURACY}); "
          f"slowest training {slowest:.0f} s (budget {TIME_BUDGET_SECONDS} s)")


def main(argv=None):
    """Trains once per seed and prints settings, times and accuracies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS),
                        help=f"training seeds (default: {' '.join(map(str, SEEDS))})")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the .h5 files (default: the loader's search)")
    args = parser.parse_args(argv)
    data = load_signs(args.data_dir)
    print_settings(data)
    results = []
    for seed in args.seeds:
        print(f"  training seed {seed}", flush=True)
        results.append(train_once(seed, data))
        print(f"    total {results[-1]['total_seconds']:.0f} s, "
              f"test accuracy {results[-1]['test_accuracy']:.3f}", flush=True)
    print_summary(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
