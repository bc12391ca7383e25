"""checkerboard (specs/checkerboard.nn): trains its network with TensorFlow, printing each epoch's metrics."""
# Without --plain: the full program, with a command line, checkpoints, GPUs, TPUs, XLA and data checks.

import keras
import numpy as np
import tensorflow as tf


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


data_rng = np.random.default_rng(7)  # the data and its split
points, labels = xor_data(data_rng, samples=500, noise=0.0)
x = points.astype(np.float32)  # features x1, x2
y = labels.astype(np.float32).reshape(-1, 1)  # 0/1 labels, one column
train, val = np.split(data_rng.permutation(len(x)), [int(len(x) * 0.5)])
x_train, y_train, x_val, y_val = x[train], y[train], x[val], y[val]

init_rng, shuffle_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(1).spawn(2))  # weights, batch order
model = keras.Sequential([
    keras.Input(shape=(2,)),
    keras.layers.Dense(8, activation="relu", name="dense_1"),
    keras.layers.Dense(1, name="dense_2"),  # logits: the loss applies the sigmoid
])
# Replace Keras's random initial weights with NumPy's, so all three backends start from the same numbers
for name, kernel, bias in [("dense_1", he_normal(init_rng, (8, 2), fan_in=2, fan_out=8).T, np.zeros(8)),
                           ("dense_2", glorot_normal(init_rng, (1, 8), fan_in=8, fan_out=1).T, np.zeros(1))]:
    model.get_layer(name).set_weights([kernel, bias])

learning_rate, batch_size, epochs = 0.03, 10, 200
loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
optimizer = keras.optimizers.SGD(learning_rate=learning_rate)


@tf.function  # a loop of our own, not model.fit: the batches come from the seed's NumPy streams
def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
    return loss


def evaluate(x, y):
    logits = model(x, training=False).numpy()
    return float(loss_fn(y, logits)), np.mean((logits > 0) == (y > 0.5))  # logit > 0 ⇔ p > 0.5


for epoch in range(1, epochs + 1):
    total_loss = 0.0
    order = shuffle_rng.permutation(len(x_train))
    for start in range(0, len(x_train), batch_size):
        batch = order[start:start + batch_size]
        total_loss += float(train_step(x_train[batch], y_train[batch])) * len(batch)
    val_loss, val_accuracy = evaluate(x_val, y_val)
    print(f"epoch {epoch}/{epochs} - loss: {total_loss / len(x_train):.4f} - "
          f"val_loss: {val_loss:.4f} - val_accuracy: {val_accuracy:.4f}")

print(f"validation: loss: {val_loss:.4f} - accuracy: {val_accuracy:.4f}")
