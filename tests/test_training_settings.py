"""Tests for resnet_helpers.training: the settings the notebook trains with."""

import keras
import numpy as np
import pytest

from autograder.reference import ResNet50
from resnet_helpers import training

RESNET50_BATCHNORM_LAYERS = 53  # 1 in the stem, 3 per block, 1 per projection shortcut


def test_grading_run_is_chosen_only_under_nbgrader(monkeypatch):
    """Does NBGRADER_EXECUTION, and nothing else, switch to the smoke run?"""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert training.current_settings() is training.FULL_RUN
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert training.current_settings() is training.GRADING_RUN


def test_every_batchnorm_of_resnet50_gets_the_momentum():
    """Are all 53 BatchNorm layers of ResNet-50 changed, and nothing else?"""
    model = ResNet50()
    assert training.set_batchnorm_momentum(model, 0.9) == RESNET50_BATCHNORM_LAYERS
    momenta = {layer.momentum for layer in model.layers
               if isinstance(layer, keras.layers.BatchNormalization)}
    assert momenta == {0.9}


@pytest.mark.parametrize("momentum", [-0.1, 1.0, 1.5])
def test_momentum_outside_range_is_refused(momentum):
    """Is a momentum outside [0, 1) refused, naming the value?"""
    model = keras.Sequential([keras.Input((2,)), keras.layers.BatchNormalization()])
    with pytest.raises(ValueError, match=repr(momentum)):
        training.set_batchnorm_momentum(model, momentum)


@pytest.mark.parametrize("settings, num_train, steps", [
    (training.FULL_RUN, 1080, 34 * 18),  # ceil(1080 / 32) = 34 batches an epoch
    (training.GRADING_RUN, 1080, 1),  # 8 images in one batch of 8
])
def test_learning_rate_decays_to_zero_at_the_last_step(settings, num_train, steps):
    """Does the cosine schedule start at the set rate and reach 0 at the last step?"""
    schedule = training.learning_rate_schedule(settings, num_train)
    assert float(schedule(0)) == pytest.approx(settings.learning_rate)
    assert float(schedule(steps)) == pytest.approx(0.0, abs=1e-9)
    assert float(schedule(steps - 1)) > 0


def one_hot_data(count):
    images = np.linspace(0, 1, count * 64 * 64 * 3, dtype="float32").reshape(count, 64, 64, 3)
    labels = np.eye(6, dtype="float32")[np.arange(count) % 6]
    return images, labels


def test_full_run_batches_cover_the_set_with_augmented_images():
    """Does one epoch hold every picture once, changed but still in [0, 1]?"""
    images, labels = one_hot_data(70)
    batches = list(training.training_batches(images, labels, training.FULL_RUN))
    seen = np.concatenate([y for _, y in batches])
    assert [len(y) for _, y in batches] == [32, 32, 6]
    assert sorted(seen.argmax(1)) == sorted(labels.argmax(1))
    augmented = np.concatenate([x for x, _ in batches])
    assert augmented.shape == images.shape
    assert augmented.min() >= 0 and augmented.max() <= 1 + 1e-6


def test_grading_run_is_one_small_unchanged_batch():
    """Does the smoke run fit on 8 pictures, as they are?"""
    images, labels = one_hot_data(20)
    batches = list(training.training_batches(images, labels, training.GRADING_RUN))
    assert len(batches) == 1 and batches[0][0].shape == (8, 64, 64, 3)
    rows = {tuple(np.round(x[0, 0, :], 6)) for x in batches[0][0].numpy()}
    originals = {tuple(np.round(x[0, 0, :], 6)) for x in images[:8]}
    assert rows == originals


@pytest.mark.parametrize(("settings", "evaluated"), [
    (training.FULL_RUN, 120),  # the whole test set
    (training.GRADING_RUN, 8),  # enough to see predict() run
])
def test_the_evaluation_covers_the_test_set_only_in_the_full_run(settings, evaluated):
    """Does the notebook's `slice(settings.test_examples)` pick what each run evaluates?"""
    test_images = np.zeros((120, 64, 64, 3), np.float32)
    assert len(test_images[slice(settings.test_examples)]) == evaluated
