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

A Dense kernel is (inputs, units), the transpose of nndsl's W; a Conv2D kernel is
(kh, kw, c_in, filters) (bench.workloads.keras_kernel translates).

``KerasCNN`` is the same for ``Conv2D(relu)`` / ``MaxPooling2D`` layers, ``Flatten`` and the Dense
layers, on the NHWC images as they are (Keras' own layout, and its flatten order is nndsl's).

``KerasResidual`` (resmlp, rescnn): the functional API, ``Add()([f, shortcut])`` and a ReLU per
block, then the same compile and fit; its layers carry nndsl's names, so weights go in by name.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402 - the backend is chosen above
import numpy as np  # noqa: E402

from bench.workloads import initial_weights, ir_kernel, keras_kernel, shuffle_stream  # noqa: E402


def make_model(layers, model=None) -> keras.Sequential:
    """Dense layers for the widths `layers`: ReLU hidden layers, the last one's logits (added to `model`)."""
    model = model or keras.Sequential([keras.Input(shape=(layers[0],))])
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
        self.model = self._make_model(layers)
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

    def _make_model(self, layers):
        return make_model(layers)

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
        """Load [(W, b), …] in nndsl's layouts (W as (units, inputs), a conv's as (filters, kh, kw, c_in))."""
        self.model.set_weights([array for W, b in weights for array in (keras_kernel(np.asarray(W)), np.asarray(b))])

    def get_weights(self):
        arrays = self.model.get_weights()
        return [(ir_kernel(kernel).copy(), bias.copy()) for kernel, bias in zip(arrays[::2], arrays[1::2], strict=True)]


def make_cnn(image, convs, layers) -> keras.Sequential:
    """Conv2D(relu)/MaxPooling2D per conv on NHWC images, Flatten, then the Dense layers of `layers`."""
    model = keras.Sequential([keras.Input(shape=image)])
    for conv in convs:
        model.add(keras.layers.Conv2D(conv.filters, conv.kernel, activation="relu"))
        model.add(keras.layers.MaxPooling2D(conv.pool))
    model.add(keras.layers.Flatten())
    return make_model(layers, model)


class KerasCNN(KerasMLP):
    """KerasMLP (compile, fit) for conv → ReLU → max-pool layers, a flatten and the dense layers.

    Args:
        convs: the conv layers (bench.workloads.Conv: filters, kernel, pool), valid, stride 1.
        layers: the dense widths after the flatten, from the flattened width to the classes.
        The rest as KerasMLP's; x is (n, h, w, c).
    """

    def __init__(self, x_train, y_train, x_val, y_val, convs, layers, weights, batch, lr, seed=1, order="keras"):
        self.convs, self.image = tuple(convs), tuple(np.shape(x_train)[1:])
        super().__init__(x_train, y_train, x_val, y_val, layers, weights, batch, lr, seed, order)

    def _make_model(self, layers):
        return make_cnn(self.image, self.convs, layers)


def make_residual_model(shape, width, blocks, classes) -> keras.Model:
    """The functional API: a stem layer, per block Add()([f(x), shortcut(x)]) and a ReLU, with
    f = second(first(x)) (first with ReLU) and the shortcut the identity or, where a block changes
    the width or the image size, a layer of its own; the output's logits. Dense layers for rows,
    Conv2D 3x3 padding="same" (the shortcut 1x1) and global average pooling for images (NHWC).
    The layers are named as nndsl names them (dense_1, conv2d_1, …, in the spec's order)."""
    image = len(shape) == 3
    counts = {"dense": 0, "conv2d": 0}

    def layer(units, relu=False, stride=1, kernel=3, dense=not image):
        kind = "dense" if dense else "conv2d"
        counts[kind] += 1
        activation, name = "relu" if relu else None, f"{kind}_{counts[kind]}"
        if dense:
            return keras.layers.Dense(units, activation=activation, name=name)
        return keras.layers.Conv2D(units, kernel, strides=stride, padding="same" if kernel > 1 else "valid",
                                   activation=activation, name=name)

    inputs = keras.Input(shape=shape)
    x, units_in = layer(width, relu=True)(inputs), width
    for block in blocks:
        h = layer(block.units, relu=True, stride=block.stride)(x)  # named before the second layer
        f = layer(block.units)(h)
        shortcut = x
        if block.units != units_in or block.stride != 1:
            shortcut = layer(block.units, stride=block.stride, kernel=1)(x)
        x, units_in = keras.layers.Activation("relu")(keras.layers.Add()([f, shortcut])), block.units
    if image:
        x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layer(classes, dense=True)(x))


class KerasResidual(KerasMLP):
    """KerasMLP (compile, fit) for make_residual_model(): a residual MLP or CNN.

    Args:
        width, blocks, classes: the stem's units (or filters), bench.workloads.Block per block,
            the classes.
        weights: [(W, b), …] in the spec's order, in nndsl's layouts. The rest as KerasMLP's.
    """

    def __init__(self, x_train, y_train, x_val, y_val, width, blocks, classes, weights, batch, lr, seed=1,
                 order="keras"):
        self.width, self.blocks, self.shape = width, tuple(blocks), tuple(np.shape(x_train)[1:])
        super().__init__(x_train, y_train, x_val, y_val, (None, classes), weights, batch, lr, seed, order)

    def _make_model(self, layers):
        return make_residual_model(self.shape, self.width, self.blocks, layers[-1])

    def _parametrised(self):
        """The Dense and Conv2D layers in the spec's order (their names' numbers; dense last)."""
        found = [layer for layer in self.model.layers if layer.weights]
        return sorted(found, key=lambda layer: (layer.name.startswith("dense"), int(layer.name.rsplit("_", 1)[1])))

    def set_weights(self, weights):
        for layer, (W, b) in zip(self._parametrised(), weights, strict=True):
            layer.set_weights([keras_kernel(np.asarray(W)), np.asarray(b)])

    def get_weights(self):
        return [(ir_kernel(kernel).copy(), bias.copy()) for kernel, bias in
                (layer.get_weights() for layer in self._parametrised())]


def train(x_train, y_train, x_val, y_val, layers, epochs, batch, lr, seed=1, weights=None):
    """Train a fresh KerasMLP for `epochs` epochs (from `initial_weights(layers, seed)` unless
    `weights` are given); returns its history dict."""
    if weights is None:
        weights = initial_weights(tuple(layers), seed)
    return KerasMLP(x_train, y_train, x_val, y_val, layers, weights, batch, lr, seed).fit(epochs)
