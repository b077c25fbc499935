"""Images per second of the reference ResNet-50 against keras.applications.ResNet50.

Run from the repository root (about 3 minutes)::

    PYTHONPATH=.:solutions/residual_networks python benchmarks/model_speed.py

Both models take the notebook's 64x64x3 hand signs and 6 classes, get the
same batch, the same optimiser (the notebook's Adam) and the same compiled
steps, in one process. Training and inference are timed in turns, model A,
then B, then B, then A, and so on, so a change in the machine's load hits
both alike and neither always goes first; each figure is the median over the
rounds, after a warm-up that traces the graphs.
Target: the reference reaches at least 0.97 of keras.applications' speed.
"""

import argparse
import statistics
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from autograder import reference

INPUT_SHAPE = (64, 64, 3)
CLASSES = 6
TARGET_RATIO = 0.97


def build_models():
    ours = reference.ResNet50(input_shape=INPUT_SHAPE, classes=CLASSES)
    theirs = keras.applications.ResNet50(weights=None, input_shape=INPUT_SHAPE,
                                         classes=CLASSES)
    if ours.count_params() != 23_600_006 or theirs.count_params() != 23_600_006:
        raise SystemExit("the two models should both have 23,600,006 parameters")
    return {"reference": ours, "keras.applications": theirs}


def step_functions(model):
    """A compiled training step and a compiled inference step for one model."""
    optimizer = keras.optimizers.Adam(1e-3)
    loss = keras.losses.CategoricalCrossentropy()

    @tf.function
    def train(images, labels):
        with tf.GradientTape() as tape:
            value = loss(labels, model(images, training=True))
        gradients = tape.gradient(value, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)
        return value

    @tf.function
    def infer(images):
        return model(images, training=False)

    return train, infer


def images_per_second(step, arguments, batch_size, steps):
    started = time.perf_counter()
    for _ in range(steps):
        result = step(*arguments)
    np.asarray(result)  # waits for the last step to finish
    return batch_size * steps / (time.perf_counter() - started)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32,
                        help="images per step, the notebook's batch (default 32)")
    parser.add_argument("--rounds", type=int, default=12,
                        help="timed rounds per model and mode (default 12)")
    parser.add_argument("--steps", type=int, default=8, help="steps per round (default 8)")
    args = parser.parse_args(argv)
    for name in ("batch_size", "rounds", "steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(args.batch_size, *INPUT_SHAPE)).astype("float32")
    labels = np.eye(CLASSES, dtype="float32")[rng.integers(0, CLASSES, args.batch_size)]
    steps = {name: step_functions(model) for name, model in build_models().items()}
    for train, infer in steps.values():  # tracing is not speed: warm both up first
        images_per_second(train, (images, labels), args.batch_size, 2)
        images_per_second(infer, (images,), args.batch_size, 2)
    speeds = {(name, mode): [] for name in steps for mode in ("training", "inference")}
    order = list(steps)
    for _ in range(args.rounds):
        order.reverse()  # A B, B A, ...: neither model always runs first
        for name in order:
            train, infer = steps[name]
            speeds[name, "training"].append(
                images_per_second(train, (images, labels), args.batch_size, args.steps))
            speeds[name, "inference"].append(
                images_per_second(infer, (images,), args.batch_size, args.steps))
    print(f"batch {args.batch_size}, {args.rounds} rounds of {args.steps} steps, "
          f"TensorFlow {tf.__version__}, Keras {keras.__version__}")
    for mode in ("training", "inference"):
        ours = statistics.median(speeds["reference", mode])
        theirs = statistics.median(speeds["keras.applications", mode])
        verdict = "met" if ours / theirs >= TARGET_RATIO else "MISSED"
        print(f"{mode}: reference {ours:.1f} images/s, keras.applications {theirs:.1f} "
              f"images/s, ratio {ours / theirs:.3f} (target {TARGET_RATIO}: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
