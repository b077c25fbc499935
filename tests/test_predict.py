"""Tests for resnet_helpers.predict: the notebook's "predict your own image"."""

import keras
import numpy as np
import pytest
from PIL import Image

from resnet_helpers import predict


def test_shipped_sample_image_loads_as_model_input():
    """Does the shipped sample load as one (1, 64, 64, 3) image in [0, 1]?"""
    x = predict.load_image(predict.SAMPLE_IMAGE)
    assert x.shape == (1, 64, 64, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.std() > 0.05


def test_wide_photo_is_centre_cropped_not_squashed(tmp_path):
    """Is a wide photo cropped to its centre square before resizing?"""
    pixels = np.zeros((40, 120, 3), dtype=np.uint8)
    pixels[:, 40:80] = 255  # only the centre square is white
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    x = predict.load_image(tmp_path / "wide.png")
    assert x.min() > 0.99


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "nope.jpg", "no such file"),
        (lambda d: d, "is a folder"),
        (lambda d: (d / "notes.png").write_text("not an image") and d / "notes.png",
         "cannot be read as an image"),
    ],
    ids=["missing", "folder", "not_an_image"],
)
def test_bad_paths_get_a_message_naming_the_path(tmp_path, make, message):
    """Does each bad path raise ImageLoadError naming the path and the problem?"""
    path = make(tmp_path)
    with pytest.raises(predict.ImageLoadError) as caught:
        predict.load_image(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_predict_sign_returns_the_most_probable_class():
    """Does predict_sign name the class of the largest probability?"""
    inputs = keras.Input(shape=(64, 64, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    logits = keras.layers.Dense(6, activation="softmax")(pooled)
    model = keras.Model(inputs, logits)
    kernel = np.zeros((3, 6), dtype="float32")
    kernel[:, 4] = 10.0  # any bright image: class 4 wins
    model.layers[-1].set_weights([kernel, np.zeros(6, dtype="float32")])
    predicted, probabilities, figure = predict.predict_sign(model, predict.SAMPLE_IMAGE)
    assert predicted == 4
    assert probabilities.shape == (6,) and abs(probabilities.sum() - 1) < 1e-5
    assert figure.axes[1].get_title().startswith("prediction: 4")
