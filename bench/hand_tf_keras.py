"""Hand-written TensorFlow reference, the way most Keras users write it: Sequential, compile, fit.

* ``keras.Sequential`` of ``Dense`` layers (ReLU hidden layers, a linear output emitting logits);
* ``model.compile`` with ``keras.optimizers.SGD`` and the cross-entropy ``from_logits=True``
  (``BinaryCrossentropy`` for one unit, ``SparseCategoricalCrossentropy`` for integer classes),
  metric accuracy;
* ``model.fit(x, y, batch_size, epochs, validation_data=…)`` on the NumPy arrays, nothing tuned.

``order="keras"`` (the default, what is timed) is the user's single ``fit`` call, with Keras
shuffling the training set each epoch itself. ``order="nndsl"`` instead feeds each epoch in the
order nndsl's shuffle stream draws, one ``fit(epochs=1, shuffle=False)`` per epoch, so that its
losses can be checked against the generated trainer's step for step.

A Dense kernel is (inputs, units), the transpose of nndsl's W.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402 - the backend is chosen above
import numpy as np  # noqa: E402

from bench.workloads import initial_weights, shuffle_stream  # noqa: E402


def make_model(layers) -> keras.Sequential:
    """Dense layers for the widths `layers`: ReLU hidden layers, the last one's logits."""
    model = keras.Sequential([keras.Input(shape=(layers[0],))])
    for index, units in enumerate(layers[1:]):
        last = index == len(layers) - 2
        model.add(keras.layers.Dense(units, activation=None if last else "relu"))
    return model


class KerasMLP:
    """Trains a ReLU MLP with Keras' compile/fit on (x_train, y_train), validating on (x_val, y_val).

    Args:
        layers: widths from the input to the output.
        weights: [(W, b), …] per layer as NumPy arrays, W of shape (units, inputs).
        batch, lr: mini-batch size and SGD learning rate.
        seed: the training seed (for order="nndsl": nndsl's shuffle stream).
        order: "keras" (fit shuffles) or "nndsl" (the generated trainer's batch order).
    """

    def __init__(self, x_train, y_train, x_val, y_val, layers, weights, batch, lr, seed=1, order="keras"):
        if order not in ("keras", "nndsl"):
            raise ValueError(f"order must be 'keras' or 'nndsl'. Received: order={order!r}")
        self.binary = layers[-1] == 1
        self.model = make_model(layers)
        self.set_weights(weights)
        if self.binary:
            loss, metric = keras.losses.BinaryCrossentropy(from_logits=True), keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)
        else:
            loss, metric = keras.losses.SparseCategoricalCrossentropy(from_logits=True), "accuracy"
        self.model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss=loss, metrics=[metric])
        self.x_train, self.y_train = np.asarray(x_train, np.float32), self._labels(y_train)
        self.x_val, self.y_val = np.asarray(x_val, np.float32), self._labels(y_val)
        self.batch, self.order = int(batch), order
        self.shuffle_rng = shuffle_stream(seed)
        self.history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}

    def _labels(self, y):
        return np.asarray(y, np.float32).reshape(-1, 1) if self.binary else np.asarray(y, np.int64)

    def _append(self, logs):
        for key in self.history:
            self.history[key].extend(float(value) for value in logs[key])

    def fit(self, epochs):
        """Train `epochs` more epochs; returns the history (Keras's keys, one entry per epoch)."""
        validation = (self.x_val, self.y_val)
        if self.order == "keras":
            logs = self.model.fit(self.x_train, self.y_train, batch_size=self.batch, epochs=epochs, shuffle=True,
                                  validation_data=validation, verbose=0)
            self._append(logs.history)
            return self.history
        for _ in range(epochs):
            order = self.shuffle_rng.permutation(len(self.x_train))
            logs = self.model.fit(self.x_train[order], self.y_train[order], batch_size=self.batch, epochs=1,
                                  shuffle=False, validation_data=validation, verbose=0)
            self._append(logs.history)
        return self.history

    def set_weights(self, weights):
        """Load [(W, b), …] with W as (units, inputs): Keras' kernel is its transpose."""
        self.model.set_weights([array for W, b in weights for array in (np.asarray(W).T, np.asarray(b))])

    def get_weights(self):
        arrays = self.model.get_weights()
        return [(kernel.T.copy(), bias.copy()) for kernel, bias in zip(arrays[::2], arrays[1::2], strict=True)]


def train(x_train, y_train, x_val, y_val, layers, epochs, batch, lr, seed=1, weights=None):
    """Train a fresh KerasMLP for `epochs` epochs (from `initial_weights(layers, seed)` unless
    `weights` are given); returns its history dict."""
    if weights is None:
        weights = initial_weights(tuple(layers), seed)
    return KerasMLP(x_train, y_train, x_val, y_val, layers, weights, batch, lr, seed).fit(epochs)
