"""Tests for data/make_signs.py, the synthetic SIGNS generator."""

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from data.make_signs import (
    FINGERS,
    NUM_CLASSES,
    RAISED_VARIANTS,
    draw_hand,
    make_signs,
    write_signs,
)

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "data" / "make_signs.py"

# Small sets keep the determinism tests fast; the full set is built once.
SMALL = {"train_per_class": 3, "test_per_class": 2}


@pytest.fixture(scope="module")
def full_set():
    """The full default data set for seed 0, built once for this module."""
    return make_signs(0)


def test_same_seed_gives_byte_identical_arrays():
    """Does the same seed give byte-identical arrays?"""
    first, second = make_signs(5, **SMALL), make_signs(5, **SMALL)
    assert first.keys() == second.keys()
    for key in first:
        assert first[key].dtype == second[key].dtype, key
        assert first[key].tobytes() == second[key].tobytes(), key


def test_different_seed_gives_different_images():
    """Does a different seed give different images, in both splits?"""
    first, second = make_signs(5, **SMALL), make_signs(6, **SMALL)
    assert not np.array_equal(first["train_set_x"], second["train_set_x"])
    assert not np.array_equal(first["test_set_x"], second["test_set_x"])


def test_written_files_are_byte_identical_across_runs(tmp_path):
    """Does writing the same seed twice give byte-identical .h5 files?"""
    first = write_signs(tmp_path / "a", seed=2)
    second = write_signs(tmp_path / "b", seed=2)
    for path_a, path_b in zip(first, second, strict=True):
        assert path_a.read_bytes() == path_b.read_bytes(), path_a.name


def test_full_set_has_signs_shapes_and_dtypes(full_set):
    """Do the arrays have the SIGNS shapes and dtypes?"""
    expected = {
        "train_set_x": ((1080, 64, 64, 3), np.uint8),
        "train_set_y": ((1080,), np.int64),
        "test_set_x": ((120, 64, 64, 3), np.uint8),
        "test_set_y": ((120,), np.int64),
        "list_classes": ((6,), np.int64),
    }
    for key, (shape, dtype) in expected.items():
        assert full_set[key].shape == shape, key
        assert full_set[key].dtype == dtype, key


def test_classes_are_balanced(full_set):
    """Does every class have 180 training and 20 test images?"""
    train_counts = np.bincount(full_set["train_set_y"], minlength=NUM_CLASSES)
    test_counts = np.bincount(full_set["test_set_y"], minlength=NUM_CLASSES)
    assert train_counts.tolist() == [180] * 6
    assert test_counts.tolist() == [20] * 6


def test_labels_and_classes_lie_in_zero_to_five(full_set):
    """Are all labels in 0..5 and is list_classes exactly [0..5]?"""
    for key in ("train_set_y", "test_set_y"):
        assert full_set[key].min() == 0 and full_set[key].max() == 5, key
    assert full_set["list_classes"].tolist() == [0, 1, 2, 3, 4, 5]


def test_labels_are_shuffled(full_set):
    """Are the labels in a shuffled order rather than sorted by class?"""
    labels = full_set["train_set_y"]
    assert np.any(np.diff(labels) < 0)
    assert not np.array_equal(labels[:180], np.zeros(180))


def test_images_use_the_pixel_range_and_differ(full_set):
    """Do images span many grey levels and differ from one another?"""
    images = full_set["train_set_x"]
    assert images.min() < 30 and images.max() > 225
    per_image_means = images.reshape(len(images), -1).mean(axis=1)
    assert per_image_means.std() > 10  # backgrounds and lighting vary
    assert len({image.tobytes() for image in images}) == len(images)  # no repeats


def test_every_finger_variant_raises_exactly_its_count():
    """Does each variant for count n raise n distinct, known fingers?"""
    assert sorted(RAISED_VARIANTS) == list(range(NUM_CLASSES))
    for count, variants in RAISED_VARIANTS.items():
        for fingers, weight in variants:
            assert len(set(fingers)) == count, (count, fingers)
            assert set(fingers) <= set(FINGERS), (count, fingers)
            assert weight > 0, (count, fingers)


@pytest.mark.parametrize("seed", range(5))
def test_more_raised_fingers_cover_more_of_the_picture(seed):
    """Does a hand with more raised fingers cover more pixels, same placement?"""
    areas = []
    for raised in ((), ("index",), ("index", "middle"), FINGERS):
        coverage, _ = draw_hand(np.random.default_rng(seed), set(raised))
        areas.append(coverage.sum())
    assert areas == sorted(areas) and areas[0] < areas[-1], areas


def test_committed_files_match_the_generator():
    """Do data/*.h5, if made by the generator, match what it makes now?"""
    arrays = None
    for name in ("train_signs.h5", "test_signs.h5"):
        path = REPO / "data" / name
        if not path.is_file():
            pytest.skip(f"{path} not present")
        with h5py.File(path, "r") as f:
            if "generator" not in f.attrs:  # e.g. the real SIGNS files
                pytest.skip(f"{path} was not made by make_signs.py")
            seed = int(f.attrs["seed"])
            arrays = arrays or make_signs(seed)
            for key in f:
                assert np.array_equal(f[key][()], arrays[key]), f"{name}:{key}"


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True, None])
def test_bad_seed_raises_value_error_naming_it(bad):
    """Does a seed that is not a non-negative integer raise a ValueError?"""
    with pytest.raises(ValueError, match=r"seed .* received"):
        make_signs(bad, **SMALL)


@pytest.mark.parametrize("args, message", [
    (["--seed", "-3"], "expected an integer >= 0, got -3"),
    (["--seed", "abc"], "expected an integer, got 'abc'"),
    (["--colour", "red"], "unrecognized arguments"),
])
def test_command_line_rejects_bad_arguments(args, message):
    """Does the script exit non-zero with a clear message on bad arguments?"""
    result = subprocess.run([sys.executable, str(SCRIPT), *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert message in result.stderr
