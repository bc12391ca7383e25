"""Every example spec in specs/: it checks, compiles, trains, and its full training learns.

Thresholds come from real runs on the NumPy backend (deterministic: the seeds are in the specs),
with margin; the observed values are noted beside each. All full trainings together take a few
seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nndsl
from nndsl import ir
from nndsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.nn"))
CLASSIFIERS = {"checkerboard", "checkerboard_2", "checkerboard_8_4", "circle", "spiral", "spiral3", "digits_cnn",
               "digits_mlp", "shapes", "spiral_residual", "spiral_deep", "digits_resnet", "two_towers", "circle_controls"}
REGRESSIONS = {"perceptron", "income", "staircase", "backprop"}


def test_every_example_is_covered_here():
    assert {spec.stem for spec in SPECS} == CLASSIFIERS | REGRESSIONS


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_example_checks_compiles_and_trains_two_epochs(spec, capsys):
    assert main(["check", str(spec)]) == 0
    assert capsys.readouterr().out.startswith(f"{spec}: ok (")
    program = nndsl.load(spec)
    assert not program.warnings
    source = nndsl.generate(program, backend="numpy")
    compile(source, f"{spec.stem}.py", "exec")

    model = nndsl.build(program, backend="numpy")
    history = model.fit(epochs=2)
    metrics = list(program.train.metrics)
    validation = ["val_loss", *(f"val_{m}" for m in metrics)] if program.validates else []  # split 1: none
    assert list(history) == ["loss", *metrics, *validation, "lr"]
    for key, values in history.items():
        assert len(values) == 2 and all(type(v) is float and np.isfinite(v) for v in values), (key, values)


@pytest.fixture(scope="module")
def trained():
    """Each example's history after its full training, trained once for the tests below."""
    cache = {}

    def train(name: str):
        if name not in cache:
            model = nndsl.build(nndsl.load(ROOT / "specs" / f"{name}.nn"))
            cache[name] = (model, model.fit())
        return cache[name]

    return train


@pytest.mark.parametrize(
    "name, at_least",
    [
        ("checkerboard", 0.90),  # the lecture's exercise asks for 90 %; observed 1.000
        ("checkerboard_8_4", 0.90),  # observed 1.000
        ("circle", 0.90),  # observed 0.968
        ("spiral", 0.90),  # observed 0.980
        ("spiral3", 0.85),  # three arms, with dropout; observed 0.950
        ("digits_cnn", 0.97),  # the issue asks for 97 %; observed 0.989
        ("digits_mlp", 0.95),  # observed 0.989
        ("shapes", 0.75),  # 30 validation images of circles, squares and triangles; observed 0.867
        ("spiral_residual", 0.95),  # 13 dense layers of 8 with skips, raw coordinates; observed 0.992
        ("digits_resnet", 0.97),  # two residual blocks, one with a 1x1-conv shortcut; observed 0.986 (batch 128:
        # with 64 the backends' 3-epoch runs parted by 0.3 % through a kink, as digits_cnn's did with 32)
        ("two_towers", 0.90),  # ReLU and tanh towers joined by concat; observed 0.955
    ],
)
def test_classifier_reaches_its_validation_accuracy(trained, name, at_least):
    model, history = trained(name)
    assert len(history["val_accuracy"]) == nndsl.load(ROOT / "specs" / f"{name}.nn").train.epochs
    assert history["val_accuracy"][-1] >= at_least
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert model.evaluate()["accuracy"] == history["val_accuracy"][-1]


def test_digits_mlp_records_macro_precision_recall_and_top_3(trained):
    """The metrics beside accuracy (issue 18), in an example: macro precision and recall over the
    10 classes (observed 0.988, 0.988) and top-3 accuracy, which cannot be below accuracy (1.000)."""
    _, history = trained("digits_mlp")
    assert history["val_precision"][-1] >= 0.95 and history["val_recall"][-1] >= 0.95
    assert history["val_top_3_accuracy"][-1] >= max(0.99, history["val_accuracy"][-1])


def test_the_skips_are_what_trains_the_deep_narrow_spiral_network(trained):
    """The residual issue's picture: the same 13 dense layers of 8 units, with skip connections
    and without, the same data, optimizer, seed and epochs. With them the spiral is solved
    (observed 0.992); the plain stack stalls far below (observed 0.844, loss 0.23 vs 0.0001)."""
    _, residual = trained("spiral_residual")
    _, plain = trained("spiral_deep")
    dense = [sum(isinstance(layer, ir.Dense) for layer in nndsl.load(ROOT / "specs" / f"{name}.nn").model.layers)
             for name in ("spiral_residual", "spiral_deep")]
    assert dense[0] == dense[1] == 14  # 13 hidden and the output
    assert residual["val_accuracy"][-1] >= 0.95
    assert plain["val_accuracy"][-1] <= residual["val_accuracy"][-1] - 0.08
    assert plain["loss"][-1] > 100 * residual["loss"][-1]


def test_two_hidden_units_cannot_solve_the_checkerboard(trained):
    """The exercise's small variant: two ReLU units bend the boundary once, so they can cut off
    one quadrant at best (~75 %) — the lecture's point about width. Observed 0.720."""
    _, history = trained("checkerboard_2")
    assert 0.60 <= history["val_accuracy"][-1] < 0.90
    _, wide = trained("checkerboard")
    assert history["val_loss"][-1] > 10 * wide["val_loss"][-1]


def test_perceptron_finds_the_plane(trained):
    """plane's target is (x1 + x2)/10 plus noise: y = w·x + b with w = (0.1, 0.1), b = 0."""
    model, history = trained("perceptron")
    assert history["loss"][-1] < 1e-3 * history["loss"][0]  # observed 23.2 → 0.0024
    assert history["val_loss"][-1] < 0.01  # observed 0.0026
    weights = model.get_weights()
    np.testing.assert_allclose(weights["dense_1.W"], [[0.1, 0.1]], atol=0.005)  # observed 0.1003, 0.0996
    assert abs(float(weights["dense_1.b"][0])) < 0.03  # observed -0.008


def test_income_regression_learns(trained):
    """income = 28 + 7·(4 − grade) + 0.9·(age − 20) + 0.08·participation + N(0, 4²) (made up):
    the noise alone leaves a mean squared error of 16."""
    _, history = trained("income")
    assert history["loss"][-1] < 0.05 * history["loss"][0]  # observed 3172 → 31.3
    assert history["val_loss"][-1] < 60  # observed 35.3
    assert history["val_mae"][-1] < 7  # observed 4.90 (k€)


def test_staircase_fine_tuning_keeps_the_hand_written_steps(trained):
    """The frozen hidden layer keeps its weights; the output stays at the noise level (σ = 0.05)."""
    model, history = trained("staircase")
    weights = model.get_weights()
    np.testing.assert_array_equal(weights["dense_1.W"], np.full((7, 1), 100, np.float32))
    np.testing.assert_array_equal(weights["dense_1.b"], np.array([200, 100, 0, -100, -200, -300, -400], np.float32))
    assert history["val_loss"][-1] < 0.005  # σ² = 0.0025; observed 0.0029
    assert history["val_mae"][-1] < 0.06  # σ·√(2/π) = 0.040; observed 0.043
    steps = model.predict(np.array([[-1.5], [-0.5], [0.5], [1.5], [2.5], [3.5]], np.float32))[:, 0]
    np.testing.assert_allclose(steps, [0.25, 0.5, 1.0, 1.2, 0.8, 1.6], atol=0.02)
