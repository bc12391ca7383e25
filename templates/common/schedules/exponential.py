def exponential_decay(epoch, lr, rate):
    """lr·rate^epoch: the rate shrinks by `rate` each epoch (epoch counts from 0)."""
    return lr * rate**epoch
