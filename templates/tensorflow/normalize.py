"""The data block's normalize, as the model's first layer."""

import keras


@keras.saving.register_keras_serializable(package="nndsl")
class InputScaling(keras.layers.Layer):
    """x' = (x - shift) / scale per input feature (the last axis: an image's channel), with the
    statistics of the training rows as non-trainable weights (in weights.npz and the checkpoint).
    Keras' Normalization would divide by max(√variance, 1e-7) rather than by the scale itself."""

    def __init__(self, features, **kwargs):
        super().__init__(**kwargs)
        self.features = features
        self.shift = self.add_weight(shape=(features,), initializer="zeros", trainable=False, name="shift")
        self.scale = self.add_weight(shape=(features,), initializer="ones", trainable=False, name="scale")

    def call(self, x):
        return (x - self.shift) / self.scale

    def get_config(self):
        return super().get_config() | {"features": self.features}
