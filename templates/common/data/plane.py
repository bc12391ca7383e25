"""The TensorFlow Playground's plane regression data set: regressPlane in dataset.ts."""

import numpy as np


def plane_data(rng: np.random.Generator, samples: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform in [-6, 6)², each with the target (x + y) / 10 read at a jittered copy.

    The target is (x + noise·u + y + noise·v) / 10 with u, v uniform in [-6, 6): the
    Playground's d3.scale.linear().domain([-10, 10]).range([-1, 1]), which is not clamped,
    so targets reach ±1.2 without noise and ±1.8 at noise 0.5. The point itself is not moved.

    Draw order (float64, from `rng`): all `samples` x, then all y, then all u, then all v.
    The draws do not depend on `noise`.

    Returns points (samples, 2) float64 and targets (samples,) float64.
    """
    radius = 6.0
    x = rng.uniform(-radius, radius, samples)
    y = rng.uniform(-radius, radius, samples)
    noise_x = rng.uniform(-radius, radius, samples) * noise
    noise_y = rng.uniform(-radius, radius, samples) * noise
    total = (x + noise_x) + (y + noise_y)
    # The scale [-10, 10] → [-1, 1]: (total + 10) / 20 is t, the position along the domain;
    # d3 v3 then computes -1·(1 − t) + 1·t, which rounds exactly like t − (1 − t).
    t = (total + 10) / 20
    labels = t - (1 - t)
    return np.stack([x, y], axis=1), labels
