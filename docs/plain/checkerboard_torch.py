"""checkerboard (specs/checkerboard.nn): the model and its training in plain PyTorch, by nndsl 0.1.0 --plain.

Without --plain, nndsl compile writes the full program: the same numbers, plus a command line, checkpoints
and --resume, saved weights and history, GPU and TPU selection, torch.compile, and checks of the data.
"""

import numpy as np
import torch
from torch import nn


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
points, labels = xor_data(data_rng, 500, 0.0)  # specs/checkerboard.nn:3
x = points.astype(np.float32)  # features x1, x2
y = labels.astype(np.float32).reshape(-1, 1)  # 0/1 labels, one column
train, val = np.split(data_rng.permutation(len(x)), [int(len(x) * 0.5)])
x_train, y_train, x_val, y_val = (torch.from_numpy(a) for a in (x[train], y[train], x[val], y[val]))

# One seed, three streams: the initial weights (the same on every backend), the batch order, the dropout masks
rng, shuffle_rng, dropout_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(1).spawn(3))
model = nn.Sequential(
    nn.Linear(2, 8),
    nn.ReLU(),
    nn.Linear(8, 1),  # logits: the loss applies the sigmoid
)
with torch.no_grad():  # nn.Linear's weight is W, (outputs, inputs), as in the spec
    model[0].weight[:] = torch.from_numpy(he_normal(rng, (8, 2), fan_in=2, fan_out=8))
    model[0].bias[:] = 0.0
    model[2].weight[:] = torch.from_numpy(glorot_normal(rng, (1, 8), fan_in=8, fan_out=1))
    model[2].bias[:] = 0.0

loss_fn = nn.BCEWithLogitsLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.03)


def evaluate(x, y):
    model.eval()
    with torch.no_grad():
        output = model(x)
        return loss_fn(output, y).item(), ((output > 0) == (y > 0.5)).float().mean().item()


for epoch in range(1, 201):
    model.train()
    total = 0.0
    for batch in torch.from_numpy(shuffle_rng.permutation(len(x_train))).split(10):
        loss = loss_fn(model(x_train[batch]), y_train[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
    val_loss, val_accuracy = evaluate(x_val, y_val)
    print(f"epoch {epoch}/200 - loss: {total / len(x_train):.4f} - "
          f"val_loss: {val_loss:.4f} - val_accuracy: {val_accuracy:.4f}")

print(f"validation: loss: {val_loss:.4f} - accuracy: {val_accuracy:.4f}")
