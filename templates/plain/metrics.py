"""Macro precision and recall: the mean over the classes of these per-class ratios."""

import numpy as np


def precision(predicted, actual, classes):
    """Per class, the fraction of the rows predicted in it that are in it (0 where none is predicted)."""
    hits = np.bincount(actual[predicted == actual], minlength=classes)
    return hits / np.maximum(np.bincount(predicted, minlength=classes), 1)


def recall(predicted, actual, classes):
    """Per class, the fraction of the rows in it that are predicted in it (0 where none is in it)."""
    hits = np.bincount(actual[predicted == actual], minlength=classes)
    return hits / np.maximum(np.bincount(actual, minlength=classes), 1)
