"""checkerboard (specs/checkerboard.nn): trains its network with NumPy, printing each epoch's metrics."""
# Without --plain: the full program, with a command line, checkpoints, saved weights and data checks.

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

    def __init__(self, W, b):
        self.W, self.b = W, b
        self.params = [W, b]

    def forward(self, x, training):
        self.x = x
        return x @ self.W.T + self.b

    def backward(self, dz):
        self.grads = [dz.T @ self.x, dz.sum(axis=0)]  # ∂L/∂W = dzᵀ·x, ∂L/∂b = Σ dz over the rows
        return dz @ self.W  # ∂L/∂x


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
    """θ ← θ − lr·g."""

    def __init__(self, params, lr):
        self.params, self.lr = params, lr

    def step(self, grads):
        for p, g in zip(self.params, grads, strict=True):
            p -= self.lr * g


data_rng = np.random.default_rng(7)  # the data and its split
points, labels = xor_data(data_rng, samples=500, noise=0.0)
x = points.astype(np.float32)  # features x1, x2
y = labels.astype(np.float32).reshape(-1, 1)  # 0/1 labels, one column
train, val = np.split(data_rng.permutation(len(x)), [int(len(x) * 0.5)])
x_train, y_train, x_val, y_val = x[train], y[train], x[val], y[val]

init_rng, shuffle_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(1).spawn(2))  # weights, batch order
layers = [
    Dense(he_normal(init_rng, (8, 2), fan_in=2, fan_out=8), np.zeros((8,), dtype=np.float32)),
    ReLU(),
    # logits: the loss applies the sigmoid
    Dense(glorot_normal(init_rng, (1, 8), fan_in=8, fan_out=1), np.zeros((1,), dtype=np.float32)),
]
params = [p for layer in layers for p in layer.params]
learning_rate, batch_size, epochs = 0.03, 10, 200
optimizer = SGD(params, lr=learning_rate)


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
    logits = forward(x)
    return binary_crossentropy(logits, y)[0], np.mean((logits > 0) == (y > 0.5))  # logit > 0 ⇔ p > 0.5


for epoch in range(1, epochs + 1):
    total_loss = 0.0
    order = shuffle_rng.permutation(len(x_train))
    for start in range(0, len(x_train), batch_size):
        batch = order[start:start + batch_size]
        z = forward(x_train[batch], training=True)
        loss, dz = binary_crossentropy(z, y_train[batch])
        optimizer.step(backward(dz))
        total_loss += loss * len(batch)
    val_loss, val_accuracy = evaluate(x_val, y_val)
    print(f"epoch {epoch}/{epochs} - loss: {total_loss / len(x_train):.4f} - "
          f"val_loss: {val_loss:.4f} - val_accuracy: {val_accuracy:.4f}")

print(f"validation: loss: {val_loss:.4f} - accuracy: {val_accuracy:.4f}")
