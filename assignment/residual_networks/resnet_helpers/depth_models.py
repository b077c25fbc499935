"""Plain and residual networks of 6n+2 layers, for the degradation experiment.

The networks follow the CIFAR-10 models of He et al. (2015), section 4.2:
a 3x3 convolution with 16 filters, three stages of n blocks of two 3x3
convolutions with 16, 32 and 64 filters, global average pooling and a
softmax layer, so 1 + 6n + 1 = 6n + 2 weighted layers. The first block of
stages 2 and 3 halves the height and width with a stride of 2.

A residual block adds its input back with a parameter-free shortcut
("option A" in the paper): the identity, or, where the block halves the
picture and doubles the channels, the input sampled at every other pixel
with zero channels appended. So a plain and a residual network of the same
n have the same weighted layers, weight for weight, and differ only by the
additions: any difference in how they train comes from the shortcuts.

Typical use::

    from resnet_helpers.depth_models import build_network, depth_of

    model = build_network("residual", n=9, input_shape=(16, 16, 3), classes=6)
    depth_of(9)  # 56
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

KINDS = ("plain", "residual")
STAGE_FILTERS = (16, 32, 64)  # filters of the three stages, as in the paper


def depth_of(n):
    """Number of weighted layers of a network with n blocks per stage.

    Args:
        n: blocks per stage, a positive integer.

    Returns:
        6n + 2: the first convolution, 3 stages of n blocks of 2
        convolutions, and the softmax layer.
    """
    _check_blocks(n)
    return 6 * n + 2


@keras.saving.register_keras_serializable(package="resnet_helpers")
class ZeroPadShortcut(layers.Layer):
    """Option A shortcut: subsample by `stride`, then append zero channels.

    It has no weights, so adding it to a block leaves the block's weighted
    layers exactly those of the plain block.

    Args:
        channels: channels of the output; at least those of the input.
        stride: keep every stride-th row and column (1 keeps all).
    """

    def __init__(self, channels, stride, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.stride = stride

    def call(self, inputs):
        # Every stride-th pixel gives the height and width of the strided
        # convolution on the other path, ceil(size / stride), for any size.
        sampled = inputs[:, :: self.stride, :: self.stride, :]
        missing = self.channels - inputs.shape[-1]
        return ops.pad(sampled, [[0, 0], [0, 0], [0, 0], [0, missing]])

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        return (batch, self._shrink(height), self._shrink(width), self.channels)

    def _shrink(self, size):
        """ceil(size / stride), or None for a size not known yet."""
        return None if size is None else -(-size // self.stride)

    def get_config(self):
        config = super().get_config()
        return {**config, "channels": self.channels, "stride": self.stride}


def convolution(x, filters, stride, batchnorm, name):
    """A 3x3 convolution, followed by BatchNorm if asked; no activation.

    Without BatchNorm the convolution gets a bias, which BatchNorm's own
    shift would make redundant. He initialisation, as in the paper.

    Args:
        x: tensor (batch, height, width, channels).
        filters: output channels.
        stride: 1, or 2 to halve height and width.
        batchnorm: whether to normalise the output.
        name: prefix of the layers' names.

    Returns:
        Tensor (batch, height / stride, width / stride, filters).
    """
    x = layers.Conv2D(filters, 3, strides=stride, padding="same",
                      use_bias=not batchnorm, kernel_initializer="he_normal",
                      name=f"{name}_conv")(x)
    if batchnorm:
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return x


def basic_block(x, filters, stride, residual, batchnorm, name):
    """Two 3x3 convolutions; a residual block adds its input before the last ReLU.

    Args:
        x: tensor (batch, height, width, channels), channels <= filters.
        filters: output channels.
        stride: stride of the first convolution, 1 or 2.
        residual: whether to add the option A shortcut.
        batchnorm: whether each convolution is followed by BatchNorm.
        name: prefix of the layers' names, e.g. "stage2_block1".

    Returns:
        Tensor (batch, height / stride, width / stride, filters).
    """
    shortcut = x
    x = convolution(x, filters, stride, batchnorm, f"{name}_1")
    x = layers.ReLU(name=f"{name}_1_relu")(x)
    x = convolution(x, filters, 1, batchnorm, f"{name}_2")
    if residual:
        if stride != 1 or shortcut.shape[-1] != filters:
            shortcut = ZeroPadShortcut(filters, stride,
                                       name=f"{name}_shortcut")(shortcut)
        x = layers.Add(name=f"{name}_add")([x, shortcut])
    return layers.ReLU(name=f"{name}_2_relu")(x)


def build_network(kind, n, input_shape=(32, 32, 3), classes=6, batchnorm=True):
    """Builds a plain or residual network of 6n+2 weighted layers.

    Args:
        kind: "plain" or "residual".
        n: blocks per stage, a positive integer (n=3 gives 20 layers, n=9 56).
        input_shape: (height, width, channels) of the pictures.
        classes: number of classes of the softmax layer.
        batchnorm: whether every convolution is followed by BatchNorm, as in
            the paper; False builds the variant whose plain form shows
            vanishing gradients.

    Returns:
        A keras.Model named e.g. "plain_56", mapping (batch, *input_shape)
        to class probabilities (batch, classes).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, received {kind!r}")
    depth = depth_of(n)
    inputs = keras.Input(shape=input_shape, name="pictures")
    x = convolution(inputs, STAGE_FILTERS[0], 1, batchnorm, "stem")
    x = layers.ReLU(name="stem_relu")(x)
    for stage, filters in enumerate(STAGE_FILTERS, start=1):
        for block in range(1, n + 1):
            # Stages 2 and 3 start by halving the picture and doubling the filters.
            stride = 2 if stage > 1 and block == 1 else 1
            x = basic_block(x, filters, stride, kind == "residual", batchnorm,
                            f"stage{stage}_block{block}")
    x = layers.GlobalAveragePooling2D(name="average_pool")(x)
    outputs = layers.Dense(classes, activation="softmax", name="softmax")(x)
    return keras.Model(inputs, outputs, name=f"{kind}_{depth}")


def weighted_layers(model):
    """The Conv2D and Dense layers of `model`, from input to output."""
    return [layer for layer in model.layers
            if isinstance(layer, (layers.Conv2D, layers.Dense))]


def kernel_gradient_norms(model, images, labels):
    """Norm of the loss gradient with respect to each weighted layer's kernel.

    The model runs in training mode, so BatchNorm normalises with the
    batch's own statistics, as it does during every training step.

    Args:
        model: a network from build_network (or any model with Conv2D and
            Dense layers).
        images: float array (batch, height, width, channels).
        labels: one-hot float array (batch, classes).

    Returns:
        Float array (number of weighted layers,): the Frobenius norm of
        d(mean cross-entropy)/d(kernel), from the first layer to the last.
    """
    kernels = [layer.kernel for layer in weighted_layers(model)]
    with tf.GradientTape() as tape:
        probabilities = model(images, training=True)
        loss = ops.mean(keras.losses.categorical_crossentropy(labels, probabilities))
    gradients = tape.gradient(loss, kernels)
    return np.array([float(tf.norm(gradient)) for gradient in gradients])


def _check_blocks(n):
    """Raises ValueError unless n is a positive integer (not a bool)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(
            f"n (blocks per stage) must be a positive integer, received {n!r}")
