"""Predicting the sign in one image file, for the notebook's last exercise."""

from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image, UnidentifiedImageError

SAMPLE_IMAGE = Path(__file__).resolve().parent.parent / "images" / "sample_sign.png"


class ImageLoadError(ValueError):
    """An image file is missing or cannot be read; the message names it."""


def load_image(path, size=(64, 64)):
    """Reads an image file as the model's input.

    Args:
        path: a PNG, JPEG or other file Pillow can read.
        size: (height, width) the model expects.

    Returns:
        Float32 array of shape (1, height, width, 3), values in [0, 1].

    Raises:
        ImageLoadError: the file is missing, is a folder, or is not an image.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise ImageLoadError(f"{path}: no such file. Check the path, or use SAMPLE_IMAGE.")
    if not path.is_file():
        raise ImageLoadError(f"{path}: is a folder, not an image file.")
    try:
        with Image.open(path) as image:
            # Centre-crop to a square first, so a phone photo is not squashed.
            image = image.convert("RGB")
            side = min(image.size)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            image = image.crop((left, top, left + side, top + side))
            image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype="float32") / 255.0
    except (UnidentifiedImageError, OSError) as error:
        raise ImageLoadError(f"{path}: cannot be read as an image ({error}).") from None
    return pixels[np.newaxis]


def predict_sign(model, path, classes=range(6)):
    """Shows an image and the model's probability for each class.

    Args:
        model: a trained Keras model taking (1, 64, 64, 3) images.
        path: the image file.
        classes: class names in label order.

    Returns:
        (predicted class, probabilities of shape (classes,), the Figure).
    """
    x = load_image(path, size=model.input_shape[1:3])
    probabilities = keras.ops.convert_to_numpy(model(x, training=False))[0]
    classes = list(classes)
    predicted = classes[int(np.argmax(probabilities))]
    figure, (image_ax, bar_ax) = plt.subplots(1, 2, figsize=(7, 3))
    image_ax.imshow(x[0])
    image_ax.set_axis_off()
    image_ax.set_title(Path(path).name)
    bar_ax.bar([str(c) for c in classes], probabilities, color="#4c72b0")
    bar_ax.set_ylim(0, 1)
    bar_ax.set_xlabel("fingers")
    bar_ax.set_title(f"prediction: {predicted} ({probabilities.max():.0%})")
    figure.tight_layout()
    return predicted, probabilities, figure
