"""The TensorFlow Playground's circle data set: classifyCircleData in dataset.ts."""

import numpy as np


def circle_data(rng: np.random.Generator, samples: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """A disc of radius 2.5 (label 1) inside a ring between radii 3.5 and 5 (label 0).

    The first ceil(samples / 2) points have radius uniform in [0, 2.5), the other
    floor(samples / 2) radius uniform in [3.5, 5); the angle is uniform in [0, 2π) and the
    point is (r·sin(angle), r·cos(angle)). (The Playground draws ceil(samples / 2) of each,
    one too many for odd counts; here the ring has one point fewer.)

    The label is read from a jittered copy of the point, (x + noise·u, y + noise·v) with
    u, v uniform in [-5, 5): 1 if that copy lies within radius 2.5 (the Playground's +1),
    else 0 (its -1). So with noise, some points near the gap get the other class's label.

    Draw order (float64, from `rng`): for the disc, all radii, then all angles, then all
    u, then all v; then the same four for the ring. The draws do not depend on `noise`.

    Returns points (samples, 2) float64 and labels (samples,) int64, disc first.
    """
    radius = 5.0
    points, labels = [], []
    for count, r_low, r_high in (((samples + 1) // 2, 0.0, radius * 0.5), (samples // 2, radius * 0.7, radius)):
        r = rng.uniform(r_low, r_high, count)
        angle = rng.uniform(0, 2 * np.pi, count)
        x = r * np.sin(angle)
        y = r * np.cos(angle)
        noise_x = rng.uniform(-radius, radius, count) * noise
        noise_y = rng.uniform(-radius, radius, count) * noise
        # Distance of the jittered point from the centre, computed as the Playground does.
        dx, dy = x + noise_x, y + noise_y
        inside = np.sqrt(dx * dx + dy * dy) < radius * 0.5
        points.append(np.stack([x, y], axis=1))
        labels.append(inside.astype(np.int64))
    return np.concatenate(points), np.concatenate(labels)
