"""The TensorFlow Playground's six-Gaussian regression data set: regressGaussian in dataset.ts."""

import numpy as np

# (centre x, centre y, sign) of the six bumps: a 3 × 2 checkerboard of +1 and -1.
MULTIGAUSS_BUMPS = np.array(
    [
        [-4, 2.5, 1],
        [0, 2.5, -1],
        [4, 2.5, 1],
        [-4, -2.5, -1],
        [0, -2.5, 1],
        [4, -2.5, -1],
    ]
)


def multigauss_data(rng: np.random.Generator, samples: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform in [-6, 6)²; the target is the strongest of six signed cone-shaped bumps.

    Each bump is sign · max(0, 1 - d / 2), with d the distance from its centre (the
    Playground's d3 scale [0, 2] → [1, 0], clamped). The target is the bump value largest
    in absolute value (the first one on ties, 0 where all are 0), so it lies in [-1, 1].
    It is read at a jittered copy of the point, (x + noise·u, y + noise·v) with u, v
    uniform in [-6, 6); the point itself is not moved.

    Draw order (float64, from `rng`): all `samples` x, then all y, then all u, then all v.
    The draws do not depend on `noise`.

    Returns points (samples, 2) float64 and targets (samples,) float64.
    """
    radius = 6.0
    x = rng.uniform(-radius, radius, samples)
    y = rng.uniform(-radius, radius, samples)
    noise_x = rng.uniform(-radius, radius, samples) * noise
    noise_y = rng.uniform(-radius, radius, samples) * noise
    # One column per bump: distance from the jittered point to the bump's centre.
    dx = (x + noise_x)[:, None] - MULTIGAUSS_BUMPS[:, 0]
    dy = (y + noise_y)[:, None] - MULTIGAUSS_BUMPS[:, 1]
    distance = np.sqrt(dx * dx + dy * dy)
    # The clamped scale [0, 2] → [1, 0]: d3 v3 computes 1·(1 − t) + 0·t, which is exactly 1 − t.
    t = np.clip(distance / 2, 0, 1)
    bumps = MULTIGAUSS_BUMPS[:, 2] * (1 - t)
    # The bump largest in absolute value; argmax keeps the first on ties, like the Playground's strict ">".
    strongest = np.argmax(np.abs(bumps), axis=1)
    labels = bumps[np.arange(samples), strongest]
    return np.stack([x, y], axis=1), labels
