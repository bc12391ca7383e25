"""Precision and recall from the counts their metric sums add up over an epoch."""

import numpy as np


def macro_ratio(counts):
    """The mean over the classes of hits / totals, from counts = [hits, totals], one column per
    class (one number each for the positive class of a sigmoid output): precision's true over
    predicted positives, recall's true over actual positives. A class with a total of 0 scores 0,
    as scikit-learn's zero_division=0 has it."""
    hits, totals = np.asarray(counts, dtype=np.float64)
    return float(np.mean(hits / np.maximum(totals, 1)))
