def step_decay(epoch, lr, every, factor):
    """lr·factor^⌊epoch/every⌋: the rate drops by `factor` every `every` epochs (epoch counts from 0)."""
    return lr * factor ** (epoch // every)
