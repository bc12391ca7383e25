import numpy as np


def binary_labels(labels):
    """0/1 labels from a data file, as a float32 column; anything else is an error."""
    if labels.ndim != 1:
        raise DataError(f"binary_crossentropy needs one label per sample; the labels have shape {labels.shape}")
    if not np.isin(labels, (0, 1)).all():
        bad = labels[~np.isin(labels, (0, 1))][0].item()
        raise DataError(f"binary_crossentropy needs labels 0 or 1; the data has {bad:g}")
    return labels.astype(np.float32).reshape(-1, 1)


def class_labels(labels, classes):
    """Integer class labels 0 … classes−1 from a data file."""
    if labels.ndim != 1:
        raise DataError(f"categorical_crossentropy needs one class label per sample; the labels have shape {labels.shape}")
    wrong = (labels != np.round(labels)) | (labels < 0) | (labels >= classes)
    if wrong.any():
        raise DataError(f"the model has {classes} classes, so labels must be integers 0 to {classes - 1}; "
                        f"the data has {labels[wrong][0].item():g}")
    return labels.astype(np.int64)


def regression_targets(labels, outputs):
    """Targets from a data file, as float32 with one column per output unit."""
    targets = labels.astype(np.float32).reshape(len(labels), -1)
    if targets.shape[1] != outputs:
        raise DataError(f"the model has {outputs} outputs, but the data has {targets.shape[1]} target columns")
    return targets
