"""Reference ResNet-50 for the Residual Networks assignment.

The graders compare every submission against these three functions, and the
tests in ``tests/test_reference_matches_keras.py`` compare them against
``keras.applications.ResNet50``, an implementation nobody on this project
wrote. The signatures and docstrings match the exercises in the notebook.

No function takes a ``training`` argument: whether BatchNormalization uses the
batch statistics or its moving averages is decided by Keras when the model is
called (``model(x, training=True)``, ``fit`` or ``predict``), never fixed when
the graph is built.
"""

import numbers

import keras
from keras import layers

# ResNet-50 as data: (filters of the three convolutions, stride of the first
# block, number of identity blocks that follow it). Stage numbers follow
# He et al. (2015), Table 1, where stage 1 is the 7x7 stem.
RESNET50_STAGES = (
    ((64, 64, 256), 1, 2),
    ((128, 128, 512), 2, 3),
    ((256, 256, 1024), 2, 5),
    ((512, 512, 2048), 2, 2),
)


def identity_block(X, f, filters):
    """Residual block whose shortcut is the identity.

    Main path: 1x1 conv (F1) -> BN -> ReLU -> fxf conv, 'same' (F2) -> BN
    -> ReLU -> 1x1 conv (F3) -> BN. The block's input is added to the main
    path before the final ReLU, so the input needs F3 channels already.

    Args:
        X: input tensor of shape (batch, height, width, F3).
        f: size of the middle convolution's window.
        filters: the three filter counts (F1, F2, F3).

    Returns:
        Tensor of shape (batch, height, width, F3).
    """
    F1, F2, F3 = _check_filters(filters)
    shortcut = X

    X = layers.Conv2D(F1, 1, strides=1, padding="valid")(X)
    X = layers.BatchNormalization(axis=3)(X)
    X = layers.Activation("relu")(X)

    X = layers.Conv2D(F2, f, strides=1, padding="same")(X)
    X = layers.BatchNormalization(axis=3)(X)
    X = layers.Activation("relu")(X)

    X = layers.Conv2D(F3, 1, strides=1, padding="valid")(X)
    X = layers.BatchNormalization(axis=3)(X)

    X = layers.Add()([X, shortcut])
    return layers.Activation("relu")(X)


def convolutional_block(X, f, filters, s=2):
    """Residual block whose shortcut is a strided 1x1 convolution.

    Use it where the block changes the number of channels or the spatial
    size, so the identity cannot be added as it is. The main path is the
    identity block's, with stride ``s`` on its first 1x1 convolution; the
    shortcut is a 1x1 convolution with F3 filters and stride ``s``, then BN.

    Args:
        X: input tensor of shape (batch, height, width, channels).
        f: size of the middle convolution's window on the main path.
        filters: the three filter counts (F1, F2, F3).
        s: stride of the first main-path convolution and of the shortcut.

    Returns:
        Tensor of shape (batch, ceil(height / s), ceil(width / s), F3).
    """
    F1, F2, F3 = _check_filters(filters)
    if not isinstance(s, numbers.Integral) or s < 1:
        raise ValueError(f"s must be a positive integer, received s={s!r}")

    shortcut = layers.Conv2D(F3, 1, strides=s, padding="valid")(X)
    shortcut = layers.BatchNormalization(axis=3)(shortcut)

    X = layers.Conv2D(F1, 1, strides=s, padding="valid")(X)
    X = layers.BatchNormalization(axis=3)(X)
    X = layers.Activation("relu")(X)

    X = layers.Conv2D(F2, f, strides=1, padding="same")(X)
    X = layers.BatchNormalization(axis=3)(X)
    X = layers.Activation("relu")(X)

    X = layers.Conv2D(F3, 1, strides=1, padding="valid")(X)
    X = layers.BatchNormalization(axis=3)(X)

    X = layers.Add()([X, shortcut])
    return layers.Activation("relu")(X)


def ResNet50(input_shape=(64, 64, 3), classes=6):
    """ResNet-50 with the topology of ``keras.applications.ResNet50``.

    Stem: ZeroPadding2D(3) -> 7x7 conv, 64 filters, stride 2 -> BN -> ReLU
    -> ZeroPadding2D(1) -> 3x3 max pool, stride 2. Then the four stages of
    ``RESNET50_STAGES``, each a convolutional block followed by identity
    blocks, all with f=3. Head: global average pooling -> Dense softmax.

    Args:
        input_shape: shape of one image, (height, width, channels).
        classes: number of classes the softmax layer predicts.

    Returns:
        A ``keras.Model`` mapping (batch, *input_shape) images to
        (batch, classes) probabilities.
    """
    if not isinstance(classes, numbers.Integral) or classes < 1:
        raise ValueError(
            f"classes must be a positive integer, received classes={classes!r}"
        )
    X_input = keras.Input(shape=input_shape)

    X = layers.ZeroPadding2D(padding=3)(X_input)
    X = layers.Conv2D(64, 7, strides=2)(X)
    X = layers.BatchNormalization(axis=3)(X)
    X = layers.Activation("relu")(X)
    X = layers.ZeroPadding2D(padding=1)(X)
    X = layers.MaxPooling2D(3, strides=2)(X)

    for filters, stride, num_identity_blocks in RESNET50_STAGES:
        X = convolutional_block(X, f=3, filters=list(filters), s=stride)
        for _ in range(num_identity_blocks):
            X = identity_block(X, f=3, filters=list(filters))

    X = layers.GlobalAveragePooling2D()(X)
    outputs = layers.Dense(classes, activation="softmax")(X)
    return keras.Model(inputs=X_input, outputs=outputs, name="ResNet50")


def _check_filters(filters):
    """Returns (F1, F2, F3), or raises ValueError naming what is wrong."""
    try:
        F1, F2, F3 = filters
    except (TypeError, ValueError):
        raise ValueError(
            f"filters must be three filter counts [F1, F2, F3], "
            f"received filters={filters!r}"
        ) from None
    for count in (F1, F2, F3):
        if not isinstance(count, numbers.Integral) or count < 1:
            raise ValueError(
                f"filter counts must be positive integers, received filters={filters!r}"
            )
    return F1, F2, F3
