import numpy as np


def binary_labels(path, labels):
    """0/1 labels from the data file `path`, as a float32 column; anything else is an error."""
    if labels.ndim != 1:
        raise DataError(f"{path}: binary_crossentropy needs one label per sample; the labels have shape {labels.shape}")
    wrong = ~np.isin(labels, (0, 1))
    if wrong.any():
        row = int(np.argmax(wrong))
        raise DataError(f"{path}: binary_crossentropy needs labels 0 or 1; data row {row + 1} has {labels[row].item():g}")
    return labels.astype(np.float32).reshape(-1, 1)


def class_labels(path, labels, classes):
    """Integer class labels 0 … classes−1 from the data file `path`."""
    if labels.ndim != 1:
        raise DataError(
            f"{path}: categorical_crossentropy needs one class label per sample; the labels have shape {labels.shape}"
        )
    wrong = (labels != np.round(labels)) | (labels < 0) | (labels >= classes)
    if wrong.any():
        row = int(np.argmax(wrong))
        raise DataError(f"{path}: the model has {classes} classes, so labels must be integers 0 to {classes - 1}; "
                        f"data row {row + 1} has {labels[row].item():g}")
    return labels.astype(np.int64)


def regression_targets(path, labels, outputs):
    """Targets from the data file `path`, as float32 with one column per output unit."""
    targets = labels.astype(np.float32).reshape(len(labels), -1)
    if targets.shape[1] != outputs:
        raise DataError(f"{path}: the model has {outputs} outputs, but the data has {targets.shape[1]} target columns")
    return targets
