"""checkerboard (specs/checkerboard.nn): the model and its training in plain NumPy, by nndsl 0.1.0 --plain.

Without --plain, nndsl compile writes the full program: the same numbers, plus a command line, checkpoints
and --resume, saved weights and history, and checks of the data.
"""

import numpy as np


def xor_data(rng: np.random.Generator, samples: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform in the four quadrants of [-5.3, 5.3]², labelled by the sign of x·y."""
    x = rng.uniform(-5, 5, samples)
    y = rng.uniform(-5, 5, samples)
    # Padding: move each coordinate 0.3 away from 0 (0 itself goes to -0.3, as in the Playground).
    x += np.where(x > 0, 0.3, -0.3)
    y += np.where(y > 0, 0.3, -0.3)
    noise_x = rng.uniform(-5, 5, samples) * noise
    noise_y = rng.uniform(-5, 5, samples) * noise
    labels = ((x + noise_x) * (y + noise_y) >= 0).astype(np.int64)
    return np.stack([x, y], axis=1), labels


def he_normal(rng, shape, fan_in, fan_out):
    std = np.sqrt(2.0 / fan_in)
    return (rng.standard_normal(shape) * std).astype(np.float32)


def glorot_normal(rng, shape, fan_in, fan_out):
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return (rng.standard_normal(shape) * std).astype(np.float32)


class Dense:
    """z = W·x + b, for a batch of rows x: z = x·Wᵀ + b, with W of shape (units, inputs)."""

    def __init__(self, W, b, trainable=True, l1=0.0, l2=0.0):
        self.W, self.b, self.l1, self.l2 = W, b, l1, l2
        self.params = [W, b] if trainable else []

    def forward(self, x, training):
        self.x = x
        return x @ self.W.T + self.b

    def backward(self, dz):
        if self.params:  # ∂L/∂W = dzᵀ·x (plus the penalty's), ∂L/∂b = Σ dz over the rows
            dW = dz.T @ self.x + self.l1 * np.sign(self.W) + 2 * self.l2 * self.W
            self.grads = [dW, dz.sum(axis=0)]
        return dz @ self.W  # ∂L/∂x

    def penalty(self):
        return self.l1 * np.abs(self.W).sum() + self.l2 * np.square(self.W).sum()


class Activation:
    """An activation has no parameters."""

    params = ()


class ReLU(Activation):
    def forward(self, z, training):
        self.h = np.maximum(z, 0)
        return self.h

    def backward(self, dh):
        return dh * (self.h > 0)


def binary_crossentropy(z, y):
    loss = np.mean(np.logaddexp(0, z) - z * y)
    return loss, (0.5 * (1 + np.tanh(z / 2)) - y) / z.size


class SGD:
    """v ← momentum·v + g; θ ← θ − lr·v (nesterov: θ ← θ − lr·(g + momentum·v))."""

    def __init__(self, params, lr, momentum=0.0, nesterov=False):
        self.params, self.lr, self.momentum, self.nesterov = params, lr, momentum, nesterov
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads):
        for p, g, v in zip(self.params, grads, self.v, strict=True):
            if not self.momentum:
                p -= self.lr * g
                continue
            v *= self.momentum
            v += g
            p -= self.lr * (g + self.momentum * v if self.nesterov else v)


data_rng = np.random.default_rng(7)  # the data and its split
points, labels = xor_data(data_rng, 500, 0.0)  # specs/checkerboard.nn:3
x = points.astype(np.float32)  # features x1, x2
y = labels.astype(np.float32).reshape(-1, 1)  # 0/1 labels, one column
train, val = np.split(data_rng.permutation(len(x)), [int(len(x) * 0.5)])
x_train, y_train, x_val, y_val = x[train], y[train], x[val], y[val]

# One seed, three streams: the initial weights (the same on every backend), the batch order, the dropout masks
rng, shuffle_rng, dropout_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(1).spawn(3))
layers = [
    Dense(he_normal(rng, (8, 2), fan_in=2, fan_out=8), np.zeros((8,), dtype=np.float32)),
    ReLU(),
    # logits: the loss applies the sigmoid
    Dense(glorot_normal(rng, (1, 8), fan_in=8, fan_out=1), np.zeros((1,), dtype=np.float32)),
]
params = [p for layer in layers for p in layer.params]
optimizer = SGD(params, lr=0.03)


def forward(x, training=False):
    for layer in layers:
        x = layer.forward(x, training)
    return x


def backward(dz):
    """∂L/∂θ for every parameter, by the chain rule: from the output back to the input."""
    for layer in reversed(layers):
        dz = layer.backward(dz)
    return [g for layer in layers if layer.params for g in layer.grads]


def evaluate(x, y):
    z = forward(x)
    return binary_crossentropy(z, y)[0], np.mean((z > 0) == (y > 0.5))


for epoch in range(1, 201):
    total = 0.0
    for batch in np.split(shuffle_rng.permutation(len(x_train)), range(10, len(x_train), 10)):
        z = forward(x_train[batch], training=True)
        loss, dz = binary_crossentropy(z, y_train[batch])
        optimizer.step(backward(dz))
        total += loss * len(batch)
    val_loss, val_accuracy = evaluate(x_val, y_val)
    print(f"epoch {epoch}/200 - loss: {total / len(x_train):.4f} - "
          f"val_loss: {val_loss:.4f} - val_accuracy: {val_accuracy:.4f}")

print(f"validation: loss: {val_loss:.4f} - accuracy: {val_accuracy:.4f}")
