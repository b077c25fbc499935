"""Load the SIGNS hand-signs data set for the Residual Networks assignment.

The data are two HDF5 files in the format of the SIGNS data set:

* ``train_signs.h5``: ``train_set_x`` (m_train, 64, 64, 3) uint8 images,
  ``train_set_y`` (m_train,) integer labels, ``list_classes`` (6,).
* ``test_signs.h5``: ``test_set_x``, ``test_set_y`` and ``list_classes``
  in the same layout.

A label is the number of raised fingers, 0 to 5. The course ships a synthetic
set made by ``data/make_signs.py``; the original SIGNS files can be dropped
in their place.

Typical use::

    from resnet_helpers.signs import load_signs

    X_train, Y_train, X_test, Y_test, classes = load_signs()
"""

import os
from pathlib import Path

import h5py
import numpy as np

NUM_CLASSES = 6
IMAGE_SHAPE = (64, 64, 3)
DATA_DIR_VARIABLE = "SIGNS_DATA_DIR"
FILE_NAMES = {"train": "train_signs.h5", "test": "test_signs.h5"}


class SignsDataError(ValueError):
    """A SIGNS file is missing, or holds data of the wrong key, shape or type."""


def load_signs(data_dir=None):
    """Loads the SIGNS training and test sets, ready for a Keras model.

    Args:
        data_dir: folder holding train_signs.h5 and test_signs.h5. If None,
            see find_data_dir for where the files are looked for.

    Returns:
        Tuple (X_train, Y_train, X_test, Y_test, classes):
        X_train: float32 array (m_train, 64, 64, 3), pixels scaled to [0, 1].
        Y_train: float32 array (m_train, 6), one-hot labels.
        X_test: float32 array (m_test, 64, 64, 3), pixels scaled to [0, 1].
        Y_test: float32 array (m_test, 6), one-hot labels.
        classes: int64 array (6,), the class labels 0..5.

    Raises:
        SignsDataError: a file is missing or holds unexpected data; the
            message names the file and the key.
    """
    folder = Path(data_dir) if data_dir is not None else find_data_dir()
    x_train, y_train, classes = read_split(folder / FILE_NAMES["train"], "train")
    x_test, y_test, _ = read_split(folder / FILE_NAMES["test"], "test")
    return (normalise_images(x_train), one_hot(y_train),
            normalise_images(x_test), one_hot(y_test), classes)


def find_data_dir():
    """Finds the folder holding the SIGNS files.

    Looks, in order, in the folder named by the SIGNS_DATA_DIR environment
    variable, in ``data/`` under the current working directory, then in a
    ``data/`` folder beside any parent folder of this module (the
    repository's own copy).

    Returns:
        Path of the first folder that holds train_signs.h5.

    Raises:
        SignsDataError: no candidate folder holds the file.
    """
    from_variable = os.environ.get(DATA_DIR_VARIABLE)
    if from_variable:
        # An explicit choice wins even if wrong: the read then fails clearly
        # instead of silently using some other copy of the data.
        return Path(from_variable)
    candidates = [Path.cwd() / "data"]
    candidates += [parent / "data" for parent in Path(__file__).resolve().parents]
    for folder in candidates:
        if (folder / FILE_NAMES["train"]).is_file():
            return folder
    raise SignsDataError(
        f"could not find {FILE_NAMES['train']}: set {DATA_DIR_VARIABLE} or pass "
        f"data_dir; looked in {', '.join(str(c) for c in candidates)}"
    )


def read_split(path, split):
    """Reads and checks one SIGNS file.

    Args:
        path: path of train_signs.h5 or test_signs.h5.
        split: "train" or "test", the prefix of the keys in the file.

    Returns:
        Tuple (images, labels, classes): uint8 (m, 64, 64, 3), int64 (m,)
        labels in 0..5, and int64 (6,) class list.

    Raises:
        SignsDataError: the file is missing or its contents are not as above.
    """
    path = Path(path)
    if not path.is_file():
        raise SignsDataError(f"{path}: file not found (expected the SIGNS {split} set)")
    x_key, y_key = f"{split}_set_x", f"{split}_set_y"
    try:
        with h5py.File(path, "r") as f:
            images = _read_key(f, path, x_key, "uint8", IMAGE_SHAPE)
            labels = _read_key(f, path, y_key, "integer", ())
            classes = _read_key(f, path, "list_classes", "integer", ())
    except OSError as error:  # h5py's way of saying "not an HDF5 file"
        raise SignsDataError(f"{path}: cannot be read as HDF5 ({error})") from error
    if len(labels) != len(images):
        raise SignsDataError(
            f"{path}: key '{y_key}' has {len(labels)} labels but '{x_key}' "
            f"has {len(images)} images; expected one label per image")
    _check_range(path, y_key, labels)
    _check_classes(path, classes)
    return images, labels.astype(np.int64), classes.astype(np.int64)


def _read_key(f, path, key, dtype, item_shape):
    """Reads f[key] and checks its dtype and shape.

    Args:
        f: open h5py.File.
        path: the file's path, for error messages.
        key: name of the dataset to read.
        dtype: "uint8" for exactly uint8, "integer" for any integer dtype.
        item_shape: required shape of one item, i.e. of array[0]; () for a
            1-D array.

    Returns:
        The dataset as a numpy array of shape (m, *item_shape).
    """
    if not isinstance(f.get(key), h5py.Dataset):
        raise SignsDataError(
            f"{path}: key '{key}' not found; the file holds {sorted(f.keys())}")
    array = f[key][()]
    if dtype == "uint8":
        dtype_ok = array.dtype == np.uint8
    else:
        dtype_ok = np.issubdtype(array.dtype, np.integer)
    if not dtype_ok:
        raise SignsDataError(
            f"{path}: key '{key}' should have {dtype} dtype, found {array.dtype}")
    if array.ndim != 1 + len(item_shape) or array.shape[1:] != item_shape:
        expected = str((-1, *item_shape)).replace("-1", "m")
        raise SignsDataError(
            f"{path}: key '{key}' should have shape {expected}, found {array.shape}")
    return array


def _check_range(path, key, labels):
    """Raises SignsDataError unless every label is in 0..NUM_CLASSES-1."""
    bad = labels[(labels < 0) | (labels >= NUM_CLASSES)]
    if bad.size:
        raise SignsDataError(
            f"{path}: key '{key}' should hold labels 0..{NUM_CLASSES - 1}, "
            f"found {bad.size} outside that range, e.g. {bad[0]}")


def _check_classes(path, classes):
    """Raises SignsDataError unless list_classes is exactly 0..NUM_CLASSES-1."""
    if not np.array_equal(classes, np.arange(NUM_CLASSES)):
        raise SignsDataError(
            f"{path}: key 'list_classes' should be [0 1 2 3 4 5], found {classes}")


def normalise_images(images):
    """Scales uint8 pixels to float32 in [0, 1].

    Args:
        images: uint8 array of any shape.

    Returns:
        float32 array of the same shape.
    """
    return images.astype(np.float32) / np.float32(255)


def one_hot(labels, num_classes=NUM_CLASSES):
    """Turns integer labels into one-hot rows.

    Args:
        labels: integer array (m,) with values in 0..num_classes-1.
        num_classes: width of each row.

    Returns:
        float32 array (m, num_classes) with a single 1 in each row.
    """
    return np.eye(num_classes, dtype=np.float32)[labels]
