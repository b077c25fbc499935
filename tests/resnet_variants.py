"""Student-style ResNet-50s from one builder: each argument changes one thing.

The defaults build a correct model, spelled unlike the reference (tuples for
sizes, a separate Softmax layer, names); every mistake below changes exactly
one argument, so a check that catches it catches exactly that mistake.
"""

import keras
import tensorflow as tf

from autograder import reference
from tests import block_variants


def resnet50_builder(api=keras, identity_block=reference.identity_block,
                     convolutional_block=reference.convolutional_block,
                     blocks_per_stage=(3, 4, 6, 3), pool_padding=1, softmax=True):
    """A ResNet50(input_shape, classes) function; the defaults build a correct one.

    Args:
        api: keras or tf.keras, for the layers outside the blocks.
        identity_block, convolutional_block: the blocks each stage is made of.
        blocks_per_stage: blocks in stages 2 to 5, the convolutional one included.
        pool_padding: ZeroPadding2D before the stem's max pool (0: none).
        softmax: whether the head ends with a softmax (a Softmax layer).
    """

    def ResNet50(input_shape=(64, 64, 3), classes=6):
        X_input = api.Input(shape=input_shape)
        X = api.layers.ZeroPadding2D((3, 3))(X_input)
        X = api.layers.Conv2D(64, (7, 7), strides=(2, 2), name="stem_conv")(X)
        X = api.layers.Activation("relu")(api.layers.BatchNormalization(axis=3)(X))
        if pool_padding:
            X = api.layers.ZeroPadding2D(pool_padding)(X)
        X = api.layers.MaxPooling2D(pool_size=(3, 3), strides=(2, 2))(X)
        stages = zip(reference.RESNET50_STAGES, blocks_per_stage, strict=True)
        for (filters, stride, _), num_blocks in stages:
            X = convolutional_block(X, f=3, filters=list(filters), s=stride)
            for _ in range(num_blocks - 1):
                X = identity_block(X, 3, list(filters))
        X = api.layers.GlobalAveragePooling2D()(X)
        X = api.layers.Dense(classes, name="logits")(X)
        return api.Model(X_input, api.layers.Softmax()(X) if softmax else X)

    return ResNet50


resnet50_spelled_differently = resnet50_builder(
    api=tf.keras, identity_block=block_variants.identity_with_explicit_padding,
    convolutional_block=block_variants.convolutional_with_shortcut_built_first,
)
resnet50_with_short_stage = resnet50_builder(blocks_per_stage=(2, 4, 6, 3))
resnet50_without_pool_padding = resnet50_builder(pool_padding=0)
resnet50_without_softmax = resnet50_builder(softmax=False)
resnet50_with_shortcut_after_relu = resnet50_builder(
    identity_block=block_variants.identity_shortcut_after_relu
)
