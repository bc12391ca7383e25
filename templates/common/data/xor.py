import numpy as np


def xor_data(rng, samples, noise):
    """Placeholder (being replaced by the verified Playground port)."""
    x = rng.uniform(-5, 5, samples)
    y = rng.uniform(-5, 5, samples)
    x += np.where(x > 0, 0.3, -0.3)
    y += np.where(y > 0, 0.3, -0.3)
    noise_x = rng.uniform(-5, 5, samples) * noise
    noise_y = rng.uniform(-5, 5, samples) * noise
    labels = ((x + noise_x) * (y + noise_y) >= 0).astype(np.int64)
    return np.stack([x, y], axis=1), labels
