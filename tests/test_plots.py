"""nndsl.plots: decision_boundary.png drawn as the TensorFlow Playground draws it.

The figures are checked through their artists (colours, legend entries, which points carry
which rim, colour-bar ticks), not against stored images. Every model trains for an epoch or
two on the NumPy backend: the plots' properties do not depend on how well it learned.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="the plots need matplotlib")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgb, to_rgba  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402

import nndsl  # noqa: E402
from nndsl import plots  # noqa: E402
from nndsl.codegen import generate, load_module  # noqa: E402

SPECS = Path(__file__).resolve().parent.parent / "specs"
PLAYGROUND_ORANGE, PLAYGROUND_BLUE = to_rgba("#f59322"), to_rgba("#0877bd")
WHITE, BLACK = to_rgba("white"), to_rgba("black")


def trained(spec: Path, epochs: int = 1):
    program = nndsl.load(spec)
    module = load_module(generate(program, data_dir=str(spec.resolve().parent)))
    trainer = module.make_trainer(seed=program.seed)
    trainer.fit(epochs)
    return program, module, trainer


@pytest.fixture(scope="module")
def checkerboard():
    return trained(SPECS / "checkerboard.nn")


@pytest.fixture(scope="module")
def spiral3():
    return trained(SPECS / "spiral3.nn")


@pytest.fixture(scope="module")
def perceptron():
    return trained(SPECS / "perceptron.nn", epochs=5)


@pytest.fixture
def drawn():
    """Close every figure a test draws."""
    figures = []
    yield figures.append
    for figure in figures:
        plt.close(figure)


def collection(figure, gid):
    (found,) = [c for c in figure.axes[0].collections if c.get_gid() == gid]
    return found


def legend_entries(figure) -> dict:
    """Legend label -> its handle, for the figure's one legend (labels that are blank: padding)."""
    (legend,) = figure.legends
    return {text.get_text(): handle for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True)
            if text.get_text().strip()}


def filled_contours(figure) -> ContourSet:
    (filled,) = [c for c in figure.axes[0].collections if isinstance(c, ContourSet) and c.filled]
    return filled


def is_paler_shade(region, colour) -> bool:
    """`region` is `colour` over white at some opacity strictly between 0 and 1."""
    region, colour = np.asarray(to_rgb(region)), np.asarray(to_rgb(colour))
    opacity = (1 - region) / (1 - colour)
    return bool(np.allclose(opacity, opacity[0], atol=0.02) and 0.2 < opacity[0] < 0.9)


def is_nice(ticks) -> bool:
    """Evenly spaced multiples of 1, 2, 2.5 or 5 times a power of ten."""
    step = ticks[1] - ticks[0]
    exponent = math.floor(math.log10(step))
    mantissa = step / 10**exponent
    return (np.allclose(np.diff(ticks), step)
            and any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5, 10))
            and np.allclose(np.asarray(ticks) / step, np.round(np.asarray(ticks) / step)))


# --- the data on the plot ----------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["checkerboard.nn", "spiral3.nn"])
def test_playground_points_are_split_as_the_program_splits_its_features(spec):
    program, module, trainer = trained(SPECS / spec, epochs=0)
    (train_points, train_labels), (val_points, val_labels) = plots.playground_points(program, module)
    assert np.array_equal(module.make_features(train_points), trainer.data.x_train)
    assert np.array_equal(module.make_features(val_points), trainer.data.x_val)
    assert np.array_equal(np.reshape(train_labels, trainer.data.y_train.shape), trainer.data.y_train)
    assert np.array_equal(np.reshape(val_labels, trainer.data.y_val.shape), trainer.data.y_val)


# --- binary classification: checkerboard.nn ----------------------------------------------------------


def test_binary_plot_uses_the_playgrounds_orange_and_blue(checkerboard, drawn):
    program, module, trainer = checkerboard
    figure = plots.draw_playground(program, module, trainer)
    drawn(figure)
    (train_points, train_labels), (val_points, val_labels) = plots.playground_points(program, module)
    for gid, labels in ((plots.TRAINING_POINTS, train_labels), (plots.VALIDATION_POINTS, val_labels)):
        faces = collection(figure, gid).get_facecolors()
        assert len(faces) == len(labels)
        assert np.allclose(faces[labels == 0], PLAYGROUND_ORANGE)
        assert np.allclose(faces[labels == 1], PLAYGROUND_BLUE)
    # The heat map: paler orange at output 0, white at 0.5, paler blue at 1.
    heat = filled_contours(figure)
    assert is_paler_shade(heat.cmap(heat.norm(0.0)), PLAYGROUND_ORANGE)
    assert is_paler_shade(heat.cmap(heat.norm(1.0)), PLAYGROUND_BLUE)
    assert np.allclose(heat.cmap(heat.norm(0.5)), WHITE, atol=0.02)


def test_binary_plot_legend_rims_boundary_and_labels(checkerboard, drawn):
    program, module, trainer = checkerboard
    figure = plots.draw_playground(program, module, trainer)
    drawn(figure)
    entries = legend_entries(figure)
    assert set(entries) == {"class 0", "class 1", "training (white rim)", "validation (black rim)",
                            "boundary (output 0.5)"}
    assert to_rgba(entries["class 0"].get_markerfacecolor()) == PLAYGROUND_ORANGE
    assert to_rgba(entries["class 1"].get_markerfacecolor()) == PLAYGROUND_BLUE
    assert to_rgba(entries["training (white rim)"].get_markeredgecolor()) == WHITE
    assert to_rgba(entries["validation (black rim)"].get_markeredgecolor()) == BLACK

    # Training points carry a white rim, validation points a black one, as in the Playground.
    training_rims = collection(figure, plots.TRAINING_RIMS)
    validation_rims = collection(figure, plots.VALIDATION_RIMS)
    assert np.allclose(training_rims.get_facecolors(), WHITE)
    assert np.allclose(validation_rims.get_facecolors(), BLACK)
    assert len(training_rims.get_offsets()) == len(trainer.data.x_train)
    assert len(validation_rims.get_offsets()) == len(trainer.data.x_val)
    points = collection(figure, plots.TRAINING_POINTS)
    assert np.allclose(points.get_offsets(), training_rims.get_offsets())
    assert training_rims.get_sizes()[0] > points.get_sizes()[0]  # a rim shows round each dot

    # The 0.5 decision boundary, the colour bar's ticks, axis labels and the spec's name.
    (line,) = [c for c in figure.axes[0].collections if isinstance(c, ContourSet) and not c.filled]
    assert list(line.levels) == [0.5]
    colour_bar = figure.axes[1]
    assert list(colour_bar.get_yticks()) == [0, 0.25, 0.5, 0.75, 1]
    axis = figure.axes[0]
    assert (axis.get_xlabel(), axis.get_ylabel()) == ("x1", "x2")
    assert "checkerboard.nn" in axis.get_title()


def test_rims_lie_under_every_dot_and_shrink_with_the_number_of_points(checkerboard, drawn):
    program, module, trainer = checkerboard
    figure = plots.draw_playground(program, module, trainer)
    drawn(figure)
    rims = [collection(figure, gid) for gid in (plots.TRAINING_RIMS, plots.VALIDATION_RIMS)]
    dots = [collection(figure, gid) for gid in (plots.TRAINING_POINTS, plots.VALIDATION_POINTS)]
    # Where points crowd (the centre of a spiral), no rim covers a neighbour's colour.
    assert max(r.get_zorder() for r in rims) < min(d.get_zorder() for d in dots)
    assert all(np.allclose(d.get_linewidths(), 0) for d in dots)
    sizes = [plots._marker_size(n) for n in (100, 500, 1200, 5000, 100_000)]
    assert all(a[0] >= b[0] and a[1] >= b[1] for a, b in zip(sizes, sizes[1:], strict=False))
    assert sizes[1][0] > sizes[2][0] > sizes[3][0]
    assert all(diameter >= 2 and rim > 0 for diameter, rim in sizes)


# --- three classes: spiral3.nn -----------------------------------------------------------------------


def test_multiclass_plot_has_distinct_class_colours_paler_regions_and_a_legend(spiral3, drawn):
    program, module, trainer = spiral3
    figure = plots.draw_playground(program, module, trainer)
    drawn(figure)
    entries = legend_entries(figure)
    assert set(entries) == {"class 0", "class 1", "class 2", "training (white rim)", "validation (black rim)"}
    colours = [to_rgb(entries[f"class {k}"].get_markerfacecolor()) for k in range(3)]
    assert colours[0] == to_rgb(PLAYGROUND_ORANGE) and colours[1] == to_rgb(PLAYGROUND_BLUE)
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.linalg.norm(np.subtract(colours[i], colours[j])) > 0.4, (colours[i], colours[j])

    # Each point in its class's colour; each region a paler shade of the same colour.
    (_, train_labels), (_, val_labels) = plots.playground_points(program, module)
    for gid, labels in ((plots.TRAINING_POINTS, train_labels), (plots.VALIDATION_POINTS, val_labels)):
        faces = collection(figure, gid).get_facecolors()
        for k in range(3):
            assert np.allclose(faces[labels == k][:, :3], colours[k])
    heat = filled_contours(figure)
    for k in range(3):
        assert is_paler_shade(heat.cmap(heat.norm(k)), colours[k])
    assert np.allclose(collection(figure, plots.TRAINING_RIMS).get_facecolors(), WHITE)
    assert np.allclose(collection(figure, plots.VALIDATION_RIMS).get_facecolors(), BLACK)
    assert "spiral3.nn" in figure.axes[0].get_title()


# --- regression: perceptron.nn -----------------------------------------------------------------------


def test_regression_colour_bar_has_nice_ticks_and_white_at_zero(perceptron, drawn):
    program, module, trainer = perceptron
    figure = plots.draw_playground(program, module, trainer)
    drawn(figure)
    colour_bar = figure.axes[1]
    ticks = colour_bar.get_yticks()
    assert is_nice(ticks), ticks
    assert all(len(label.get_text()) <= 5 for label in colour_bar.get_yticklabels())
    heat = filled_contours(figure)
    assert np.allclose(heat.cmap(heat.norm(0.0)), WHITE, atol=0.02)
    # Targets above zero are bluish, below zero orange-ish, on the same scale as the heat map.
    (train_points, targets), _ = plots.playground_points(program, module)
    faces = collection(figure, plots.TRAINING_POINTS).get_facecolors()
    assert (faces[targets > 0.5, 2] > faces[targets > 0.5, 0]).all()
    assert (faces[targets < -0.5, 0] > faces[targets < -0.5, 2]).all()
    assert set(legend_entries(figure)) == {"training (white rim)", "validation (black rim)"}


@pytest.mark.parametrize("low, high", [(-0.001, 1.086), (-1.131, 1.084), (0.0, 1.0), (20_512.0, 81_377.0),
                                       (-3e-5, 7e-5), (2.0, 2.0)])
def test_output_scale_ticks_are_nice_and_cover_the_range(low, high):
    cmap, ticks = plots._output_scale(low, high)
    assert is_nice(ticks), ticks
    assert ticks[0] <= low and ticks[-1] >= high
    assert 3 <= len(ticks) <= 8
    labels = plots._tick_labels(ticks)
    assert len({len(label.lstrip("\N{MINUS SIGN}")) for label in labels}) <= 2  # alike: 0.5, 1.0 (100000: one more)
    assert [float(label.replace("\N{MINUS SIGN}", "-")) for label in labels] == pytest.approx(list(ticks))


# --- other data: a CSV with two inputs, and one input ------------------------------------------------


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_csv_plane_plot_has_the_legend_and_split(tmp_path, drawn, task):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (120, 2))
    labels = (x[:, 0] * x[:, 1] > 0).astype(int) if task == "binary" else np.digitize(x[:, 0], [-0.3, 0.3])
    rows = "\n".join(f"{a:.4f},{b:.4f},{label}" for (a, b), label in zip(x, labels, strict=True))
    (tmp_path / "xy.csv").write_text("a,b,y\n" + rows + "\n")
    output, loss = ("1 sigmoid", "binary_crossentropy") if task == "binary" else ("3 softmax", "categorical_crossentropy")
    spec = tmp_path / "plane.nn"
    spec.write_text('data csv("xy.csv", target=y) {\n    features a, b\n    split 0.75\n}\n\n'
                    f"model plane {{\n    input 2\n    dense 4 tanh\n    dense {output}\n}}\n\nloss {loss}\n\n"
                    "train {\n    optimizer sgd(lr=0.1)\n    batch 10\n    epochs 1\n    seed 1\n}\n")
    program, module, trainer = trained(spec)
    figure = plots.draw_plane(program, trainer)
    drawn(figure)
    classes = {"class 0", "class 1"} | ({"boundary (output 0.5)"} if task == "binary" else {"class 2"})
    assert set(legend_entries(figure)) == classes | {"training (white rim)", "validation (black rim)"}
    assert len(collection(figure, plots.TRAINING_RIMS).get_offsets()) == 90
    assert len(collection(figure, plots.VALIDATION_RIMS).get_offsets()) == 30
    written = plots.plot_run(program, module, trainer, tmp_path)
    assert [path.name for path in written] == ["loss.png", "decision_boundary.png"]


def test_one_input_fit_tells_training_from_validation(drawn):
    program, _, trainer = trained(SPECS / "staircase.nn")
    figure = plots.draw_curve(program, trainer)
    drawn(figure)
    training = collection(figure, plots.TRAINING_POINTS)
    validation = collection(figure, plots.VALIDATION_POINTS)
    assert len(training.get_offsets()) == len(trainer.data.x_train)
    assert not np.allclose(training.get_facecolors()[0][:3], validation.get_facecolors()[0][:3])
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert labels == ["training data", "validation data", "model"]


def test_loss_plot_draws_each_metric_for_training_and_validation_against_the_epoch(monkeypatch, tmp_path):
    program, _, trainer = trained(SPECS / "checkerboard.nn", epochs=3)
    history = trainer.history
    saved = []
    monkeypatch.setattr(plots, "_save", lambda figure, path: saved.append((figure, path)))
    assert plots.plot_history(history, tmp_path / "loss.png", program) == tmp_path / "loss.png"
    (figure, path), = saved
    assert path == tmp_path / "loss.png" and figure._suptitle.get_text() == "checkerboard.nn"
    axes = figure.axes
    assert [axis.get_ylabel() for axis in axes] == ["loss", "accuracy"]
    assert axes[0].get_yscale() == "log" and axes[1].get_yscale() == "linear"
    for axis, key in zip(axes, ["loss", "accuracy"], strict=True):
        assert axis.get_xlabel() == "epoch"
        lines = {line.get_label(): line for line in axis.get_lines()}
        assert sorted(lines) == ["training", "validation"]
        for label, values in (("training", history[key]), ("validation", history[f"val_{key}"])):
            np.testing.assert_array_equal(lines[label].get_xdata(), [1, 2, 3])
            np.testing.assert_array_equal(lines[label].get_ydata(), values)
        assert sorted(text.get_text() for text in axis.get_legend().get_texts()) == ["training", "validation"]
    plt.close(figure)


def test_loss_plot_has_an_lr_panel_only_where_the_rate_changed(monkeypatch, tmp_path):
    program, _, trainer = trained(SPECS / "checkerboard.nn", epochs=2)
    saved = []
    monkeypatch.setattr(plots, "_save", lambda figure, path: saved.append(figure))
    plots.plot_history(trainer.history, tmp_path / "loss.png", program)  # constant lr: no panel
    history = dict(trainer.history, lr=[0.03, 0.015])  # as a schedule would have it
    plots.plot_history(history, tmp_path / "loss.png", program)
    assert [axis.get_ylabel() for axis in saved[0].axes] == ["loss", "accuracy"]
    assert [axis.get_ylabel() for axis in saved[1].axes] == ["loss", "accuracy", "lr"]
    (line,) = saved[1].axes[2].get_lines()
    assert line.get_label() == "learning rate" and list(line.get_ydata()) == [0.03, 0.015]
