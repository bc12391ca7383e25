"""The TensorFlow Playground's two-Gaussian data set: classifyTwoGaussData in dataset.ts."""

import numpy as np


def gauss_data(rng: np.random.Generator, samples: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Two round Gaussian clouds: label 1 around (2, 2), label 0 around (-2, -2).

    Both coordinates of every point are independent normals with variance
    0.5 + 7·noise: the Playground maps noise 0 … 0.5 linearly onto variance 0.5 … 4
    (d3.scale.linear().domain([0, .5]).range([0.5, 4]), computed here the way d3 v3
    computes it). The first ceil(samples / 2) points form the label-1 cloud, the other
    floor(samples / 2) the label-0 cloud. (The Playground draws ceil(samples / 2) of each,
    one too many for odd counts.)

    The Playground draws its normals with the Marsaglia polar method from Math.random;
    here they come from `rng.normal(mean, sqrt(variance))`: the same distribution, not
    the same numbers. Draw order (float64, from `rng`): for the label-1 cloud all x, then
    all y; then the same for the label-0 cloud.

    Returns points (samples, 2) float64 and labels (samples,) int64, label 1 first.
    """
    t = noise / 0.5
    variance = 0.5 * (1 - t) + 4 * t
    std = np.sqrt(variance)
    points, labels = [], []
    for count, centre, label in (((samples + 1) // 2, 2.0, 1), (samples // 2, -2.0, 0)):
        x = rng.normal(centre, std, count)
        y = rng.normal(centre, std, count)
        points.append(np.stack([x, y], axis=1))
        labels.append(np.full(count, label, dtype=np.int64))
    return np.concatenate(points), np.concatenate(labels)
