"""Training settings for ResNet-50 on the hand signs, full run or grading run.

The notebook and benchmarks/train_reference.py both read their settings
from here, so the figures the benchmark records (data/README.md) are the
figures of the run students make. While nbgrader grades a notebook it sets
NBGRADER_EXECUTION, and the notebook then runs a short smoke fit and
evaluates a handful of test pictures instead: grading needs to see that
fit() and predict() run on the student's model, and the grades come from
the checks, so the whole class is graded in seconds per student, not minutes.
"""

import math
import os
import warnings
from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers

# fit() warns that its shuffle argument is ignored for a tf.data pipeline;
# training_batches reshuffles every epoch itself, so the warning only confuses.
warnings.filterwarnings("ignore", message="`shuffle=True` was passed")


@dataclass(frozen=True)
class TrainingSettings:
    """How to fit the model: step size, epochs, batch, examples used."""

    learning_rate: float  # Adam's initial step size; a cosine decay takes it to 0
    epochs: int
    batch_size: int
    num_examples: int | None  # None: the whole training set
    test_examples: int | None  # test pictures evaluated; None: the whole test set
    run_eagerly: bool  # True skips tracing a graph, which pays off only over many steps
    batchnorm_momentum: float  # how much of its moving averages BatchNorm keeps per step
    augment: bool  # show each picture randomly mirrored and shifted
    description: str


FULL_RUN = TrainingSettings(
    learning_rate=1e-3,
    epochs=18,
    batch_size=32,
    num_examples=None,
    test_examples=None,
    run_eagerly=False,
    batchnorm_momentum=0.9,
    augment=True,
    description="full run: 18 epochs over all 1080 training images, augmented, "
    "Adam with cosine decay",
)

# One small batch, and one to evaluate: enough to prove that fit() and
# predict() run on the student's model.
GRADING_RUN = TrainingSettings(
    learning_rate=1e-3,
    epochs=1,
    batch_size=8,
    num_examples=8,
    test_examples=8,
    run_eagerly=True,
    batchnorm_momentum=0.9,
    augment=False,
    description="smoke run while nbgrader grades: one step on 8 images, "
    "8 test images evaluated",
)


def make_repeatable(seed):
    """Makes a run repeat: the same initial weights, batches and augmentations.

    Keras seeds its own, NumPy's and TensorFlow's random numbers from one
    seed; TensorFlow is also asked for deterministic kernels, which on a CPU
    cost little. Without this, two runs of the notebook end a few points of
    test accuracy apart, which makes "did my change help?" hard to answer.
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def is_grading_run():
    """Whether nbgrader is executing this notebook (autograde or validate)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def current_settings():
    """The settings for this run: the smoke run under nbgrader, else the full run."""
    return GRADING_RUN if is_grading_run() else FULL_RUN


def set_batchnorm_momentum(model, momentum):
    """Sets the momentum of every BatchNormalization layer in `model`.

    At test time BatchNorm normalises with moving averages of the means and
    variances it saw in training. Keras' default momentum, 0.99, averages
    over roughly the last 100 steps. A short run (about 600 steps here) changes the
    weights a lot within 100 steps, so those averages describe an older
    network and test accuracy falls far below training accuracy. With 0.9
    they follow the last ~10 steps, taken with the smallest learning rates.

    Args:
        model: a Keras model; its layers are changed in place.
        momentum: a float in [0, 1).

    Returns:
        The number of BatchNormalization layers changed.
    """
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), received {momentum!r}")
    changed = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum
            changed += 1
    return changed


def learning_rate_schedule(settings, num_train):
    """Cosine decay from the settings' learning rate to 0 over the whole run.

    The decay matters more than it looks: BatchNormalization's moving
    averages lag the weights, so inference-mode accuracy swings while the
    weights still move fast. Ending training with small steps lets the
    averages catch up, which makes the final test accuracy dependable.

    Args:
        settings: a TrainingSettings.
        num_train: number of training images available; the settings'
            num_examples caps it.

    Returns:
        A keras.optimizers.schedules.CosineDecay to pass to an optimizer.
    """
    used = min(num_train, settings.num_examples or num_train)
    steps = math.ceil(used / settings.batch_size) * settings.epochs
    return keras.optimizers.schedules.CosineDecay(settings.learning_rate, decay_steps=steps)


def augmentation():
    """Random changes that keep the label: a mirror image and a shift.

    1080 pictures are few for 23 million weights; without help the network
    memorises them, background and all. Seeing every picture moved a little
    differently in each epoch teaches it that where the hand sits does not
    matter, only its fingers. Mirroring is safe because the data holds left
    and right hands alike. (A random zoom was tried too: it slowed learning
    more than it helped, as the hands' sizes already vary.)
    """
    return keras.Sequential([
        layers.RandomFlip("horizontal"),
        layers.RandomTranslation(0.05, 0.05, fill_mode="nearest"),
    ], name="augmentation")


def training_batches(images, labels, settings):
    """The batches `model.fit` trains on, reshuffled (and augmented) each epoch.

    Args:
        images: float32 array (m, 64, 64, 3).
        labels: float32 array (m, classes), one-hot.
        settings: a TrainingSettings; num_examples caps m.

    Returns:
        A tf.data.Dataset of (images, labels) batches.
    """
    count = min(len(images), settings.num_examples or len(images))
    dataset = tf.data.Dataset.from_tensor_slices((images[:count], labels[:count]))
    dataset = dataset.shuffle(count, reshuffle_each_iteration=True).batch(settings.batch_size)
    if settings.augment:
        augment = augmentation()
        # One call at a time: parallel calls would draw the random shifts in
        # whatever order threads finish, and a seeded run would not repeat.
        dataset = dataset.map(lambda x, y: (augment(x, training=True), y))
    return dataset.prefetch(tf.data.AUTOTUNE)
