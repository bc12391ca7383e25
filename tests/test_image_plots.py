"""nndsl train on image data saves what a person would rather look at: the validation images with
true and predicted labels (mistakes first), a confusion matrix and the first conv layer's filters."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nndsl import plots
from nndsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n"


def test_the_grid_shows_the_mistakes_first():
    true = np.array([0, 1, 2, 3, 4, 5])
    predicted = np.array([0, 2, 2, 1, 4, 5])
    assert plots.image_grid_order(true, predicted, 4).tolist() == [1, 3, 0, 2]


def test_the_confusion_matrix_counts_true_against_predicted():
    counts = plots.confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]


def test_training_on_digits_writes_the_image_plots(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(ROOT / "specs" / "digits_cnn.nn"), "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    for name in ("loss.png", "predictions.png", "confusion.png", "filters.png"):
        assert (out / name).read_bytes().startswith(PNG), name
    assert not (out / "decision_boundary.png").exists()
