"""Student-style implementations of the blocks: correct alternatives and mistakes.

Each correct alternative computes what the reference computes, written the
way real students write it. Each mistake differs from the reference in one
way only, so a check that catches it catches exactly that mistake. ResNet-50
variants, built from these blocks, are in ``resnet_variants``.
"""

import functools

import keras
import tensorflow as tf
from keras import layers


def _conv_bn(X, filters, kernel, stride=1, padding="valid", relu=True, **bn_kwargs):
    X = layers.Conv2D(filters, kernel, strides=stride, padding=padding)(X)
    X = layers.BatchNormalization(axis=3, **bn_kwargs)(X)
    return layers.ReLU()(X) if relu else X


# Correct alternatives -------------------------------------------------------

def identity_with_ops_and_shortcut_first(X, f, filters):
    """Functional ops instead of layers; the Add operands in the other order."""
    F1, F2, F3 = filters
    shortcut = X
    X = keras.ops.relu(layers.BatchNormalization(axis=-1)(layers.Conv2D(F1, 1)(X)))
    X = keras.ops.relu(layers.BatchNormalization()(layers.Conv2D(F2, f, padding="same")(X)))
    X = layers.BatchNormalization()(layers.Conv2D(F3, (1, 1))(X))
    return keras.ops.relu(keras.ops.add(shortcut, X))


def identity_with_tf_keras_and_custom_bn(X, f, filters):
    """tf.keras spellings, other initialisers, BN epsilon and momentum, '+' to add."""
    F1, F2, F3 = filters
    init = tf.keras.initializers.GlorotNormal(seed=3)
    Y = tf.keras.layers.Conv2D(F1, 1, kernel_initializer=init, name="reduce")(X)
    Y = tf.keras.layers.BatchNormalization(epsilon=1.001e-5, momentum=0.9)(Y)
    Y = tf.keras.layers.Activation("relu")(Y)
    Y = tf.keras.layers.Conv2D(F2, (f, f), padding="same", kernel_initializer=init)(Y)
    Y = tf.keras.layers.BatchNormalization(epsilon=1e-5)(Y)
    Y = tf.keras.layers.Activation(tf.nn.relu)(Y)
    Y = tf.keras.layers.Conv2D(F3, 1, kernel_initializer="he_normal")(Y)
    Y = tf.keras.layers.BatchNormalization(momentum=0.5)(Y)
    return tf.keras.layers.ReLU()(Y + X)


def convolutional_with_shortcut_built_first(X, f, filters, s=2):
    """The shortcut is written before the main path, with layers.add."""
    F1, F2, F3 = filters
    shortcut = _conv_bn(X, F3, 1, stride=s, relu=False)
    X = _conv_bn(X, F1, 1, stride=s)
    X = _conv_bn(X, F2, f, padding="same")
    X = _conv_bn(X, F3, 1, relu=False)
    return layers.Activation("relu")(layers.add([shortcut, X]))


# Mistakes --------------------------------------------------------------------

def identity_shortcut_after_relu(X, f, filters):
    F1, F2, F3 = filters
    shortcut = X
    X = _conv_bn(X, F1, 1)
    X = _conv_bn(X, F2, f, padding="same")
    X = _conv_bn(X, F3, 1, relu=True)
    return layers.Add()([X, shortcut])


def identity_without_final_relu(X, f, filters):
    F1, F2, F3 = filters
    shortcut = X
    X = _conv_bn(X, F1, 1)
    X = _conv_bn(X, F2, f, padding="same")
    X = _conv_bn(X, F3, 1, relu=False)
    return layers.Add()([X, shortcut])


def identity_relu_on_shortcut(X, f, filters):
    F1, F2, F3 = filters
    shortcut = layers.ReLU()(X)
    X = _conv_bn(X, F1, 1)
    X = _conv_bn(X, F2, f, padding="same")
    X = _conv_bn(X, F3, 1, relu=False)
    return layers.ReLU()(layers.Add()([X, shortcut]))


def identity_relu_before_batchnorm(X, f, filters):
    F1, F2, F3 = filters
    shortcut = X
    for filters_, kernel, padding in ((F1, 1, "valid"), (F2, f, "same")):
        X = layers.Conv2D(filters_, kernel, padding=padding)(X)
        X = layers.ReLU()(X)
        X = layers.BatchNormalization(axis=3)(X)
    X = _conv_bn(X, F3, 1, relu=False)
    return layers.ReLU()(layers.Add()([X, shortcut]))


def convolutional_stride_on_middle_conv(X, f, filters, s=2):
    F1, F2, F3 = filters
    shortcut = _conv_bn(X, F3, 1, stride=s, relu=False)
    X = _conv_bn(X, F1, 1)
    X = _conv_bn(X, F2, f, stride=s, padding="same")
    X = _conv_bn(X, F3, 1, relu=False)
    return layers.ReLU()(layers.Add()([X, shortcut]))


def convolutional_without_shortcut_batchnorm(X, f, filters, s=2):
    F1, F2, F3 = filters
    shortcut = layers.Conv2D(F3, 1, strides=s)(X)
    X = _conv_bn(X, F1, 1, stride=s)
    X = _conv_bn(X, F2, f, padding="same")
    X = _conv_bn(X, F3, 1, relu=False)
    return layers.ReLU()(layers.Add()([X, shortcut]))


# More correct alternatives -----------------------------------------------------

def identity_with_explicit_padding(X, f, filters):
    """ZeroPadding2D((f - 1) / 2) and a 'valid' window instead of 'same' (f is odd)."""
    F1, F2, F3 = filters
    X_shortcut = X
    X = _conv_bn(X, F1, 1)
    X = layers.ZeroPadding2D(padding=(f - 1) // 2)(X)
    X = _conv_bn(X, F2, (f, f), padding="valid")
    X = _conv_bn(X, F3, 1, relu=False, epsilon=1e-5)
    return layers.ReLU()(layers.add([X, X_shortcut]))


def convolutional_with_ops_and_custom_names(X, f, filters, s=2):
    """keras.ops.relu, Activation(keras.activations.relu), '+', names, he_uniform."""
    F1, F2, F3 = filters
    conv = functools.partial(layers.Conv2D, kernel_initializer="he_uniform")
    X_main = conv(F1, (1, 1), strides=(s, s), name="main_a")(X)
    X_main = keras.ops.relu(layers.BatchNormalization(momentum=0.9)(X_main))
    shortcut = conv(F3, (1, 1), strides=(s, s), name="projection")(X)
    shortcut = layers.BatchNormalization(epsilon=1e-5, name="projection_bn")(shortcut)
    X_main = conv(F2, (f, f), padding="same", name="main_b")(X_main)
    X_main = layers.BatchNormalization()(X_main)
    X_main = layers.Activation(keras.activations.relu)(X_main)
    X_main = layers.BatchNormalization()(conv(F3, (1, 1), name="main_c")(X_main))
    return keras.ops.relu(shortcut + X_main)


def identity_with_relu_layer_and_maximum(X, f, filters):
    """ReLU as layers.ReLU(max_value=None) and as keras.ops.maximum(X, 0)."""
    F1, F2, F3 = filters
    Y = layers.ReLU(max_value=None)(_conv_bn(X, F1, 1, relu=False))
    Y = keras.ops.maximum(_conv_bn(Y, F2, f, padding="same", relu=False), 0.0)
    return keras.activations.relu(_conv_bn(Y, F3, 1, relu=False) + X)


def identity_with_lambda_relu(X, f, filters):
    """Correct arithmetic, but a Lambda layer, which the grader cannot load safely."""
    F1, F2, F3 = filters
    relu = layers.Lambda(lambda t: keras.ops.maximum(t, 0.0))
    Y = relu(_conv_bn(X, F1, 1, relu=False))
    Y = _conv_bn(Y, F2, f, padding="same")
    return layers.ReLU()(_conv_bn(Y, F3, 1, relu=False) + X)


# More mistakes, one per diagnosis tag ----------------------------------------

def identity_without_shortcut(X, f, filters):
    F1, F2, F3 = filters
    X = _conv_bn(X, F1, 1)
    X = _conv_bn(X, F2, f, padding="same")
    X = _conv_bn(X, F3, 1, relu=False)
    return layers.ReLU()(X)


def identity_shortcut_saved_too_late(X, f, filters):
    """X_shortcut is saved after the main path: the block adds X to itself."""
    F1, F2, F3 = filters
    X = _conv_bn(X, F1, 1)
    X = _conv_bn(X, F2, f, padding="same")
    X = _conv_bn(X, F3, 1, relu=False)
    X_shortcut = X
    return layers.ReLU()(layers.Add()([X, X_shortcut]))


def identity_relu_inside_conv(X, f, filters):
    """Conv2D(..., activation="relu"): the ReLU comes before the BatchNorm."""
    F1, F2, F3 = filters
    shortcut = X
    X = layers.BatchNormalization(axis=3)(layers.Conv2D(F1, 1, activation="relu")(X))
    X = _conv_bn(X, F2, f, padding="same")
    X = _conv_bn(X, F3, 1, relu=False)
    return layers.ReLU()(layers.Add()([X, shortcut]))


def identity_without_middle_batchnorm(X, f, filters):
    F1, F2, F3 = filters
    shortcut = X
    X = _conv_bn(X, F1, 1)
    X = layers.ReLU()(layers.Conv2D(F2, f, padding="same")(X))
    X = _conv_bn(X, F3, 1, relu=False)
    return layers.ReLU()(layers.Add()([X, shortcut]))


def identity_without_middle_relu(X, f, filters):
    F1, F2, F3 = filters
    shortcut = X
    X = _conv_bn(X, F1, 1)
    X = _conv_bn(X, F2, f, padding="same", relu=False)
    X = _conv_bn(X, F3, 1, relu=False)
    return layers.ReLU()(layers.Add()([X, shortcut]))


def identity_middle_conv_valid_padding(X, f, filters):
    """Raises for f > 1: the main path shrinks and cannot be added to X."""
    F1, F2, F3 = filters
    shortcut = X
    X = _conv_bn(X, F1, 1)
    X = _conv_bn(X, F2, f, padding="valid")
    X = _conv_bn(X, F3, 1, relu=False)
    return layers.ReLU()(layers.Add()([X, shortcut]))


def identity_middle_conv_fixed_window(X, f, filters):
    F1, F2, F3 = filters
    shortcut = X
    X = _conv_bn(X, F1, 1)
    X = _conv_bn(X, F2, 3, padding="same")
    X = _conv_bn(X, F3, 1, relu=False)
    return layers.ReLU()(layers.Add()([X, shortcut]))


def identity_first_filters_swapped(X, f, filters):
    F1, F2, F3 = filters
    shortcut = X
    X = _conv_bn(X, F2, 1)
    X = _conv_bn(X, F1, f, padding="same")
    X = _conv_bn(X, F3, 1, relu=False)
    return layers.ReLU()(layers.Add()([X, shortcut]))


def convolutional_filters_reversed(X, f, filters, s=2):
    """Raises: the main path ends with F1 channels, the shortcut with F3."""
    F1, F2, F3 = filters
    shortcut = _conv_bn(X, F3, 1, stride=s, relu=False)
    X = _conv_bn(X, F3, 1, stride=s)
    X = _conv_bn(X, F2, f, padding="same")
    X = _conv_bn(X, F1, 1, relu=False)
    return layers.ReLU()(layers.Add()([X, shortcut]))


def convolutional_shortcut_not_strided(X, f, filters, s=2):
    """Raises for s > 1: the shortcut keeps the input's height and width."""
    F1, F2, F3 = filters
    shortcut = _conv_bn(X, F3, 1, stride=1, relu=False)
    X = _conv_bn(X, F1, 1, stride=s)
    X = _conv_bn(X, F2, f, padding="same")
    X = _conv_bn(X, F3, 1, relu=False)
    return layers.ReLU()(layers.Add()([X, shortcut]))


def convolutional_stride_on_last_conv(X, f, filters, s=2):
    F1, F2, F3 = filters
    shortcut = _conv_bn(X, F3, 1, stride=s, relu=False)
    X = _conv_bn(X, F1, 1)
    X = _conv_bn(X, F2, f, padding="same")
    X = _conv_bn(X, F3, 1, stride=s, relu=False)
    return layers.ReLU()(layers.Add()([X, shortcut]))


def convolutional_relu_on_shortcut(X, f, filters, s=2):
    F1, F2, F3 = filters
    shortcut = _conv_bn(X, F3, 1, stride=s, relu=True)
    X = _conv_bn(X, F1, 1, stride=s)
    X = _conv_bn(X, F2, f, padding="same")
    X = _conv_bn(X, F3, 1, relu=False)
    return layers.ReLU()(layers.Add()([X, shortcut]))
