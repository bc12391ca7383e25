"""Hand-written TensorFlow reference, the way an expert writes it for speed: raw tf.function loop.

* The parameters are plain ``tf.Variable`` kernels (inputs, units) and biases; the forward pass
  is ``x @ kernel + bias`` and ``tf.nn.relu``; the loss is ``tf.nn.sigmoid_cross_entropy_with_logits``
  or ``tf.nn.sparse_softmax_cross_entropy_with_logits``, averaged over the batch.
* A training step is ``tf.GradientTape`` and ``assign_sub(lr·g)`` (plain SGD, no optimizer object).
* The data are materialised as tensors once. A whole epoch is **one** ``tf.function`` call: it
  gathers the training set in the epoch's order, reshapes the full batches to
  (steps, batch, features) so every step has a static shape, loops over them with ``tf.range``
  (AutoGraph turns it into a graph loop) and runs a smaller last batch after it; the loss and the
  correct predictions are summed on the device and read once per epoch.
* Validation is one graph call over the validation set.

The epoch's permutation is drawn from nndsl's NumPy shuffle stream (a fraction of a millisecond),
so the batches are the generated trainer's and the losses can be compared.

``RawTFCNN`` is the same loop with ``tf.nn.conv2d`` (valid, NHWC: TensorFlow's layout, and the
data's), ``tf.nn.relu`` and ``tf.nn.max_pool2d`` before a reshape to rows and the dense layers;
its conv kernels are (kh, kw, c_in, filters) variables (bench.workloads.keras_kernel).

``RawTFResidualMLP`` / ``RawTFResidualCNN`` (resmlp, rescnn): the same loop, each block
``tf.nn.relu(f + shortcut)`` written out; for images ``tf.nn.conv2d`` with padding "SAME" (which
pads as Keras does) and ``tf.reduce_mean`` over h and w.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from bench.workloads import initial_weights, ir_kernel, keras_kernel, shuffle_stream  # noqa: E402


class RawTFMLP:
    """Trains a ReLU MLP with SGD in one tf.function per epoch, validating after each epoch.

    Args:
        layers: widths from the input to the output.
        weights: [(W, b), …] per layer as NumPy arrays, W of shape (units, inputs).
        batch, lr: mini-batch size and SGD learning rate.
        seed: the training seed; each epoch's order comes from nndsl's shuffle stream for it.
        jit_compile: compile the epoch with XLA.
    """

    def __init__(self, x_train, y_train, x_val, y_val, layers, weights, batch, lr, seed=1, jit_compile=False):
        self.binary = layers[-1] == 1
        self.kernels = [tf.Variable(keras_kernel(np.asarray(W, np.float32))) for W, _ in weights]
        self.biases = [tf.Variable(np.asarray(b, np.float32)) for _, b in weights]
        self.variables = [v for pair in zip(self.kernels, self.biases, strict=True) for v in pair]
        self.x_train, self.y_train = tf.constant(np.asarray(x_train, np.float32)), self._labels(y_train)
        self.x_val, self.y_val = tf.constant(np.asarray(x_val, np.float32)), self._labels(y_val)
        self.batch, self.lr = int(batch), float(lr)
        self.shuffle_rng = shuffle_stream(seed)
        self._epoch = tf.function(self._epoch, jit_compile=jit_compile)
        self._evaluate = tf.function(self._evaluate)
        self.history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}

    def _labels(self, y):
        if self.binary:
            return tf.constant(np.asarray(y, np.float32).reshape(-1, 1))
        return tf.constant(np.asarray(y, np.int64))

    def _logits(self, x):
        last = len(self.kernels) - 1
        for i, (kernel, bias) in enumerate(zip(self.kernels, self.biases, strict=True)):
            x = tf.matmul(x, kernel) + bias
            if i < last:
                x = tf.nn.relu(x)
        return x

    def _losses_and_correct(self, logits, y):
        """Per-example losses and the number of correct predictions."""
        if self.binary:
            losses = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits)
            correct = tf.reduce_sum(tf.cast(tf.equal(logits > 0, y > 0.5), tf.float32))
        else:
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, axis=1), y), tf.float32))
        return losses, correct

    def _step(self, x, y):
        with tf.GradientTape() as tape:
            logits = self._logits(x)
            losses, correct = self._losses_and_correct(logits, y)
            loss = tf.reduce_mean(losses)
        for variable, gradient in zip(self.variables, tape.gradient(loss, self.variables), strict=True):
            variable.assign_sub(self.lr * gradient)
        return loss, correct

    def _epoch(self, order):
        x, y = tf.gather(self.x_train, order), tf.gather(self.y_train, order)
        n = x.shape[0]
        steps, rest = divmod(n, self.batch)
        full = steps * self.batch
        x_batches = tf.reshape(x[:full], (steps, self.batch, *x.shape[1:]))
        y_batches = tf.reshape(y[:full], (steps, self.batch, *y.shape[1:]))
        total_loss, total_correct = tf.constant(0.0), tf.constant(0.0)
        for step in tf.range(steps):
            loss, correct = self._step(x_batches[step], y_batches[step])
            total_loss += loss * self.batch
            total_correct += correct
        if rest:
            loss, correct = self._step(x[full:], y[full:])
            total_loss += loss * rest
            total_correct += correct
        return total_loss, total_correct

    def _evaluate(self, x, y):
        losses, correct = self._losses_and_correct(self._logits(x), y)
        return tf.reduce_mean(losses), correct

    def train_epoch(self):
        """One epoch over the reshuffled training set in one graph call; returns the mean loss and accuracy."""
        n = int(self.x_train.shape[0])
        total_loss, correct = self._epoch(tf.constant(self.shuffle_rng.permutation(n)))
        return float(total_loss) / n, float(correct) / n

    def evaluate(self):
        """Mean loss and accuracy on the validation set."""
        loss, correct = self._evaluate(self.x_val, self.y_val)
        return float(loss), float(correct) / int(self.x_val.shape[0])

    def fit(self, epochs):
        """Train `epochs` more epochs; returns the history (Keras's keys, one entry per epoch)."""
        for _ in range(epochs):
            loss, accuracy = self.train_epoch()
            val_loss, val_accuracy = self.evaluate()
            for key, value in zip(self.history, (loss, accuracy, val_loss, val_accuracy), strict=True):
                self.history[key].append(value)
        return self.history

    def get_weights(self):
        return [(ir_kernel(k.numpy()).copy(), b.numpy().copy()) for k, b in zip(self.kernels, self.biases, strict=True)]


class RawTFCNN(RawTFMLP):
    """RawTFMLP's one-call epoch for conv → ReLU → max-pool layers, a flatten and the dense layers.

    Args:
        convs: the conv layers (bench.workloads.Conv: filters, kernel, pool), valid, stride 1.
        layers: the dense widths after the flatten, from the flattened width to the classes.
        weights: [(W, b), …] in nndsl's layouts, the convs' first. The rest as RawTFMLP's.
    """

    def __init__(self, x_train, y_train, x_val, y_val, convs, layers, weights, batch, lr, seed=1, jit_compile=False):
        self.convs = tuple(convs)
        super().__init__(x_train, y_train, x_val, y_val, layers, weights, batch, lr, seed, jit_compile)

    def _logits(self, x):
        for i, conv in enumerate(self.convs):
            x = tf.nn.relu(tf.nn.conv2d(x, self.kernels[i], strides=1, padding="VALID") + self.biases[i])
            x = tf.nn.max_pool2d(x, conv.pool, conv.pool, padding="VALID")
        x = tf.reshape(x, (-1, x.shape[1] * x.shape[2] * x.shape[3]))  # flatten in (h, w, c) order
        last = len(self.kernels) - 1
        for i in range(len(self.convs), len(self.kernels)):
            x = tf.matmul(x, self.kernels[i]) + self.biases[i]
            if i < last:
                x = tf.nn.relu(x)
        return x


class RawTFResidualMLP(RawTFMLP):
    """RawTFMLP's one-call epoch for a stem layer, residual blocks relu(f(x) + shortcut(x)) with
    f = second(relu(first(x))), and the output layer (bench.workloads.ResidualWorkload).

    Args:
        width, blocks, classes: the stem's units (or filters), bench.workloads.Block per block,
            the classes.
        weights: [(W, b), …] in the spec's order (each block's first, second, then its shortcut
            where it has one). The rest as RawTFMLP's.
    """

    def __init__(self, x_train, y_train, x_val, y_val, width, blocks, classes, weights, batch, lr, seed=1,
                 jit_compile=False):
        self.shortcuts, units_in = [], width
        for block in blocks:  # whether each block has a shortcut layer, and its stride
            self.shortcuts.append(block.units != units_in or block.stride != 1)
            units_in = block.units
        self.strides = [block.stride for block in blocks]
        super().__init__(x_train, y_train, x_val, y_val, (None, classes), weights, batch, lr, seed, jit_compile)

    def _layer(self, layer, x, stride=1):
        kernel, bias = layer
        return tf.matmul(x, kernel) + bias

    def _pool(self, x):
        return x

    def _logits(self, x):
        layers = iter(zip(self.kernels, self.biases, strict=True))
        x = tf.nn.relu(self._layer(next(layers), x))
        for stride, has_shortcut in zip(self.strides, self.shortcuts, strict=True):
            h = tf.nn.relu(self._layer(next(layers), x, stride))  # the first layer's (W, b) come first
            f = self._layer(next(layers), h)
            shortcut = self._layer(next(layers), x, stride) if has_shortcut else x
            x = tf.nn.relu(f + shortcut)
        kernel, bias = next(layers)
        return tf.matmul(self._pool(x), kernel) + bias


class RawTFResidualCNN(RawTFResidualMLP):
    """RawTFResidualMLP with ``tf.nn.conv2d`` layers in NHWC (3x3 padding SAME, which pads as Keras
    does; the 1x1 shortcut VALID) and global average pooling as ``tf.reduce_mean`` over h and w."""

    def _layer(self, layer, x, stride=1):
        kernel, bias = layer
        if kernel.shape.rank == 2:
            return tf.matmul(x, kernel) + bias
        padding = "SAME" if kernel.shape[0] > 1 else "VALID"
        return tf.nn.conv2d(x, kernel, strides=stride, padding=padding) + bias

    def _pool(self, x):
        return tf.reduce_mean(x, axis=(1, 2))


def train(x_train, y_train, x_val, y_val, layers, epochs, batch, lr, seed=1, weights=None):
    """Train a fresh RawTFMLP for `epochs` epochs (from `initial_weights(layers, seed)` unless
    `weights` are given); returns its history dict."""
    if weights is None:
        weights = initial_weights(tuple(layers), seed)
    return RawTFMLP(x_train, y_train, x_val, y_val, layers, weights, batch, lr, seed).fit(epochs)
