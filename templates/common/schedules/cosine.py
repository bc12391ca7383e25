import math


def cosine_decay(epoch, lr, warmup, min_lr, epochs):
    """A linear warm-up to lr over the first `warmup` epochs, lr·(epoch + 1)/warmup, then half a
    cosine from lr down to min_lr, reached after the last of `epochs` epochs and kept after it.
    Epoch counts from 0; the closed form, so a resumed run gets the same rate."""
    if epoch < warmup:
        return lr * (epoch + 1) / warmup
    progress = min(1.0, (epoch - warmup) / max(1, epochs - warmup))
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
