def improved(value, best, min_delta, direction):
    """Whether `value` beats `best` by more than min_delta: below best − min_delta when the
    monitored key should fall (a loss), above best + min_delta when it should rise (accuracy).
    Keras's rule, for EarlyStopping and ReduceLROnPlateau alike."""
    if direction == "max":
        return value > best + min_delta
    return value < best - min_delta
