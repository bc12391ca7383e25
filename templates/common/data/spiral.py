"""The TensorFlow Playground's spiral data set (classifySpiralData in dataset.ts), with k arms."""

import numpy as np


def spiral_data(
    rng: np.random.Generator, samples: int, noise: float, classes: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one class per arm, each point jittered by uniform noise.

    With n = samples / classes, the i-th point of arm j sits at radius r = i / n · 5 and
    angle t = 1.75 · i / n · 2π + 2πj / classes, that is at (r·sin t, r·cos t), plus
    noise·(u, v) with u, v uniform in [-1, 1). Each arm winds 1.75 times from the centre
    out to radius 5.

    Arms and labels: with classes=2 this is exactly the Playground's spiral: arm 0
    (offset 0) has label 1 (its +1) and arm 1 (offset π) label 0 (its -1). With more
    classes, arm j has offset 2πj / classes and label j. The first samples % classes arms
    get one point more than the others (for odd samples and 2 arms: the Playground's own
    first arm, with n = samples / 2 not rounded; its second arm lacks the last point).

    Draw order (float64, from `rng`): for arm 0 all u, then all v; then arm 1, and so on.

    Returns points (samples, 2) float64 and labels (samples,) int64, arm by arm.
    """
    n = samples / classes
    points, labels = [], []
    for arm in range(classes):
        count = samples // classes + (1 if arm < samples % classes else 0)
        delta_t = 2 * np.pi * arm / classes
        label = 1 - arm if classes == 2 else arm
        i = np.arange(count, dtype=np.float64)
        # The same operations, in the same order, as the Playground's dataset.ts.
        r = i / n * 5
        t = 1.75 * i / n * 2 * np.pi + delta_t
        noise_x = rng.uniform(-1, 1, count) * noise
        noise_y = rng.uniform(-1, 1, count) * noise
        points.append(np.stack([r * np.sin(t) + noise_x, r * np.cos(t) + noise_y], axis=1))
        labels.append(np.full(count, label, dtype=np.int64))
    return np.concatenate(points), np.concatenate(labels)
