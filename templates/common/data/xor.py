"""The TensorFlow Playground's XOR (checkerboard) data set: classifyXORData in dataset.ts."""

import numpy as np


def xor_data(rng: np.random.Generator, samples: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform in the four quadrants of [-5.3, 5.3]², labelled by the sign of x·y.

    Each coordinate is uniform in [-5, 5) and then pushed 0.3 away from its axis, so no
    point lies within 0.3 of an axis. The label is read from a jittered copy of the point,
    (x + noise·u, y + noise·v) with u, v uniform in [-5, 5) (noise_x and noise_y below):
    label 1 where that copy has x·y >= 0 (the Playground's +1), 0 elsewhere (its -1). The
    point itself is not moved.

    Draw order (float64, from `rng`): all `samples` x, then all y, then all u, then all v.
    The draws do not depend on `noise`: one seed gives the same points at every noise
    level, only the labels near the axes change.

    Returns points (samples, 2) float64 and labels (samples,) int64.
    """
    x = rng.uniform(-5, 5, samples)
    y = rng.uniform(-5, 5, samples)
    # Padding: move each coordinate 0.3 away from 0 (0 itself goes to -0.3, as in the Playground).
    x += np.where(x > 0, 0.3, -0.3)
    y += np.where(y > 0, 0.3, -0.3)
    noise_x = rng.uniform(-5, 5, samples) * noise
    noise_y = rng.uniform(-5, 5, samples) * noise
    labels = ((x + noise_x) * (y + noise_y) >= 0).astype(np.int64)
    return np.stack([x, y], axis=1), labels
