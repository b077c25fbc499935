"""Tests for resnet_helpers.signs, the student-facing SIGNS loader.

Every bad file is a real HDF5 file written into tmp_path with h5py.
"""

from pathlib import Path

import h5py
import numpy as np
import pytest

from resnet_helpers import signs
from resnet_helpers.signs import SignsDataError, load_signs

M_TRAIN, M_TEST = 12, 6


def _write(path, **arrays):
    """Writes the given arrays as datasets of a new HDF5 file at path."""
    with h5py.File(path, "w") as f:
        for key, array in arrays.items():
            f.create_dataset(key, data=array)


def _images(m, seed=0):
    """Random uint8 images of shape (m, 64, 64, 3)."""
    return np.random.default_rng(seed).integers(0, 256, (m, 64, 64, 3), dtype=np.uint8)


def _good_arrays(split, m, label_dtype=np.int64):
    """The three datasets of a valid file for split ("train" or "test")."""
    return {
        f"{split}_set_x": _images(m),
        f"{split}_set_y": (np.arange(m) % 6).astype(label_dtype),
        "list_classes": np.arange(6, dtype=label_dtype),
    }


def _write_pair(folder, label_dtype=np.int64, train=None, test=None):
    """Writes train_signs.h5 and test_signs.h5; train/test override arrays."""
    folder.mkdir(parents=True, exist_ok=True)
    train_arrays = _good_arrays("train", M_TRAIN, label_dtype) | (train or {})
    test_arrays = _good_arrays("test", M_TEST, label_dtype) | (test or {})
    _write(folder / "train_signs.h5", **train_arrays)
    _write(folder / "test_signs.h5", **test_arrays)
    return folder


def test_loader_returns_normalised_float32_images(tmp_path):
    """Are images float32, scaled by 1/255 into [0, 1], shapes unchanged?"""
    _write_pair(tmp_path)
    X_train, _, X_test, _, _ = load_signs(tmp_path)
    assert X_train.shape == (M_TRAIN, 64, 64, 3) and X_test.shape == (M_TEST, 64, 64, 3)
    assert X_train.dtype == np.float32 and X_test.dtype == np.float32
    np.testing.assert_allclose(X_train, _images(M_TRAIN) / 255.0, rtol=1e-6)
    assert X_train.min() >= 0.0 and X_train.max() <= 1.0


def test_loader_returns_one_hot_labels(tmp_path):
    """Are labels one-hot rows of width 6 with the 1 at the label?"""
    _write_pair(tmp_path)
    _, Y_train, _, Y_test, classes = load_signs(tmp_path)
    assert Y_train.shape == (M_TRAIN, 6) and Y_test.shape == (M_TEST, 6)
    assert Y_train.dtype == np.float32
    assert np.array_equal(Y_train.sum(axis=1), np.ones(M_TRAIN))
    assert np.array_equal(Y_train.argmax(axis=1), np.arange(M_TRAIN) % 6)
    assert np.array_equal(Y_test.argmax(axis=1), np.arange(M_TEST) % 6)
    assert classes.tolist() == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("label_dtype", [np.int64, np.int32, np.uint8])
def test_loader_accepts_real_signs_dtypes(tmp_path, label_dtype):
    """Does a file with the real SIGNS layout (int64 labels) load?"""
    _write_pair(tmp_path, label_dtype=label_dtype)
    _, Y_train, _, _, classes = load_signs(tmp_path)
    assert np.array_equal(Y_train.argmax(axis=1), np.arange(M_TRAIN) % 6)
    assert classes.dtype == np.int64


def test_loader_reads_the_generated_files(tmp_path):
    """Does the loader read what data/make_signs.py writes, at full size?"""
    from data.make_signs import write_signs

    write_signs(tmp_path, seed=0)
    X_train, Y_train, X_test, Y_test, _ = load_signs(tmp_path)
    assert X_train.shape == (1080, 64, 64, 3) and X_test.shape == (120, 64, 64, 3)
    assert Y_train.sum(axis=0).tolist() == [180] * 6
    assert Y_test.sum(axis=0).tolist() == [20] * 6


def test_environment_variable_is_used_first(tmp_path, monkeypatch):
    """Does SIGNS_DATA_DIR win over a data/ folder in the working directory?"""
    chosen = _write_pair(tmp_path / "chosen")
    _write_pair(tmp_path / "cwd" / "data", test={"test_set_y": np.zeros(M_TEST, int)})
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("SIGNS_DATA_DIR", str(chosen))
    assert signs.find_data_dir() == chosen
    assert load_signs()[3].argmax(axis=1).tolist() == (np.arange(M_TEST) % 6).tolist()


def test_working_directory_data_folder_comes_next(tmp_path, monkeypatch):
    """Without SIGNS_DATA_DIR, is ./data in the working directory used?"""
    _write_pair(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIGNS_DATA_DIR", raising=False)
    assert signs.find_data_dir() == Path.cwd() / "data"


def test_repository_data_folder_is_the_fallback(tmp_path, monkeypatch):
    """From an empty folder, does the search walk up to the repo's data/?"""
    repo_data = Path(__file__).resolve().parents[1] / "data"
    if not (repo_data / "train_signs.h5").is_file():
        pytest.skip("the repository's data/train_signs.h5 has not been generated")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIGNS_DATA_DIR", raising=False)
    assert signs.find_data_dir() == repo_data


def test_nothing_found_names_the_places_searched(tmp_path, monkeypatch):
    """With no files anywhere, does the error list where it looked?"""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIGNS_DATA_DIR", raising=False)
    monkeypatch.setattr(signs, "__file__", str(tmp_path / "pkg" / "signs.py"))
    with pytest.raises(SignsDataError, match="SIGNS_DATA_DIR") as error:
        signs.find_data_dir()
    assert str(tmp_path / "data") in str(error.value)


def test_missing_file_names_the_file(tmp_path):
    """Does a missing test file raise an error naming that file?"""
    _write_pair(tmp_path)
    (tmp_path / "test_signs.h5").unlink()
    with pytest.raises(SignsDataError, match="test_signs.h5: file not found"):
        load_signs(tmp_path)


def test_error_is_a_value_error():
    """Can callers catch SignsDataError as a ValueError?"""
    assert issubclass(SignsDataError, ValueError)


def test_file_that_is_not_hdf5_names_the_file(tmp_path):
    """Does a file that is not HDF5 raise an error naming it?"""
    _write_pair(tmp_path)
    (tmp_path / "train_signs.h5").write_text("not an hdf5 file")
    with pytest.raises(SignsDataError, match="train_signs.h5: cannot be read as HDF5"):
        load_signs(tmp_path)


# Each case: which file, what to put in it, and the words the error must hold
# besides the file name and the key: what was expected and what was found.
BAD_CASES = {
    "missing key": ("train", {"train_set_y": None}, "train_set_y",
                    ["not found", "'list_classes'", "'train_set_x'"]),
    "missing classes": ("test", {"list_classes": None}, "list_classes",
                        ["not found"]),
    "float images": ("train", {"train_set_x": _images(M_TRAIN).astype(np.float32)},
                     "train_set_x", ["uint8", "float32"]),
    "grey images": ("test", {"test_set_x": np.zeros((M_TEST, 64, 64), np.uint8)},
                    "test_set_x", ["(m, 64, 64, 3)", "(6, 64, 64)"]),
    "small images": ("train", {"train_set_x": np.zeros((M_TRAIN, 32, 32, 3), np.uint8)},
                     "train_set_x", ["(m, 64, 64, 3)", "(12, 32, 32, 3)"]),
    "float labels": ("train", {"train_set_y": np.zeros(M_TRAIN, np.float64)},
                     "train_set_y", ["integer", "float64"]),
    "2-D labels": ("test", {"test_set_y": np.zeros((1, M_TEST), np.int64)},
                   "test_set_y", ["(m,)", "(1, 6)"]),
    "count mismatch": ("train", {"train_set_y": np.zeros(M_TRAIN - 1, np.int64)},
                       "train_set_y", ["11 labels", "12 images"]),
    "label too big": ("test", {"test_set_y": np.full(M_TEST, 6, np.int64)},
                      "test_set_y", ["0..5", "e.g. 6"]),
    "negative label": ("train", {"train_set_y": np.full(M_TRAIN, -1, np.int64)},
                       "train_set_y", ["0..5", "e.g. -1"]),
    "wrong classes": ("test", {"list_classes": np.arange(1, 7)}, "list_classes",
                      ["[0 1 2 3 4 5]", "[1 2 3 4 5 6]"]),
}


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_file_error_names_file_key_expected_and_found(tmp_path, case):
    """Does each kind of bad file raise an error naming file, key and values?"""
    split, changes, key, words = BAD_CASES[case]
    overrides = {name: array for name, array in changes.items() if array is not None}
    _write_pair(tmp_path, **{split: overrides})
    path = tmp_path / f"{split}_signs.h5"
    for name, array in changes.items():
        if array is None:
            with h5py.File(path, "a") as f:
                del f[name]
    with pytest.raises(SignsDataError) as error:
        load_signs(tmp_path)
    message = str(error.value)
    assert str(path) in message
    assert f"'{key}'" in message
    for word in words:
        assert word in message, f"{word!r} missing from: {message}"


def test_one_hot_marks_the_label_column():
    """Does one_hot put exactly one 1 per row, at the label's column?"""
    rows = signs.one_hot(np.array([5, 0, 3]))
    assert rows.tolist() == [[0, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0]]
