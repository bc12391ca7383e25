"""PNG plots of a training run: the loss curves, and the data with the model's output.

For 2-D Playground data the model's output is drawn over the (x1, x2) plane as
the Playground draws it: a pale heat map of the prediction in the Playground's
orange (negative class, low output) and blue (positive class, high output) over
white, the decision boundary (the 0.5 contour, for binary classification) and
the training and validation points on top in full colour, training points with
a white rim and validation points with a black one. A legend below the plot
says which class is which colour and which rim is which set. With more than two
classes each class gets its own colour, its region a paler shade of it.

`draw_*` build a figure (tests look at its artists); `plot_*` draw and save it.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from nndsl import ir
from nndsl.files import write_atomic

# The Playground's colours (playground.ts): orange for the negative class and low outputs,
# blue for the positive class and high outputs; white in between.
ORANGE = "#f59322"
BLUE = "#0877bd"
WHITE = "#ffffff"
# Classes 0 and 1 in the Playground's colours; further classes in hues well apart from both
# and from each other (green, purple, red, teal, brown, pink, grey, olive).
CLASS_COLOURS = (ORANGE, BLUE, "#2ca02c", "#8e44ad", "#d62728", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22")
# The Playground draws training points with a white rim and test points with a black one.
TRAINING_RIM = WHITE
VALIDATION_RIM = "#000000"
# The heat map is the colour scale blended with white (the Playground draws it at alpha 160/255,
# a little paler here), so the points, in full colour, stand out on their own region.
REGION_STRENGTH = 0.55
LEGEND_FACE = "#e8eaeb"  # the Playground's neutral grey: white rims show on it
# Gids of the scatter collections, for the tests.
TRAINING_POINTS, VALIDATION_POINTS = "training-points", "validation-points"
TRAINING_RIMS, VALIDATION_RIMS = "training-rims", "validation-rims"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> None:
    """Render to memory, then write atomically: a killed run leaves the old plot or the new one."""
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=110)
    figure.clear()
    _pyplot().close(figure)
    write_atomic(path, image.getvalue())


def _title(program: ir.Program) -> str:
    return f"{Path(program.filename).name}: data and model output"


# --- colours ---------------------------------------------------------------------------------------


def _paler(colour, strength: float = REGION_STRENGTH) -> np.ndarray:
    """`colour` drawn at opacity `strength` over white, as RGB."""
    from matplotlib.colors import to_rgb

    return np.asarray(to_rgb(colour)) * strength + (1 - strength)


def _signed_colour(t: float) -> np.ndarray:
    """The Playground's scale at t in [-1, 1]: orange at -1, white at 0, blue at +1 (a little
    stronger than linear between, so that mid-range values still show their side)."""
    return _paler(BLUE if t > 0 else ORANGE, abs(t) ** 0.7)


def _output_scale(low: float, high: float):
    """(colour map, the nice tick values) for outputs in [low, high].

    Ticks are a MaxNLocator's (steps of 1, 2, 2.5 or 5 times a power of ten) and span
    [low, high]. A range around zero keeps the Playground's meaning, orange below zero, white
    at zero, blue above, each side as strong as its distance from zero; a range on one side of
    zero runs orange to white to blue from its low end to its high end."""
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.ticker import MaxNLocator

    if not high > low:
        low, high = low - 0.5, high + 0.5
    ticks = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
    first = np.flatnonzero(ticks <= low)[-1]  # the locator may add a tick beyond each end
    last = np.flatnonzero(ticks >= high)[0]
    step = ticks[1] - ticks[0]
    ticks = np.round(ticks[first:last + 1] / step) * step + 0.0  # multiples of the step; no -0.0
    start, stop = float(ticks[0]), float(ticks[-1])
    if start < 0 < stop:
        signed = np.linspace(start, stop, 256) / max(-start, stop)
    else:
        signed = np.linspace(-1.0, 1.0, 256)
    return LinearSegmentedColormap.from_list("playground", [_signed_colour(t) for t in signed]), ticks


def _tick_labels(ticks) -> list[str]:
    """Evenly spaced ticks with as many decimals as their step needs, all alike (0.25 steps: two)."""
    step = abs(float(ticks[1] - ticks[0])) if len(ticks) > 1 else 1.0
    decimals = 0
    while decimals < 12 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-6 * step * 10**decimals:
        decimals += 1
    return [f"{tick:.{decimals}f}".replace("-", "\N{MINUS SIGN}") for tick in ticks]


def _region_map(cmap):
    """The heat map's colours: `cmap` at REGION_STRENGTH over white."""
    from matplotlib.colors import ListedColormap

    return ListedColormap([_paler(colour) for colour in cmap(np.linspace(0, 1, 256))[:, :3]])


# --- points ----------------------------------------------------------------------------------------


def _marker_size(count: int) -> tuple[float, float]:
    """(diameter, rim width) in points for `count` points on a plot about 4 inches wide: the
    Playground's look (a 5-point dot, a 0.75-point rim) at 500 points, smaller for more, so that
    a dense cloud still shows its colours rather than a mass of rims."""
    diameter = float(np.clip(5.0 * np.sqrt(500 / max(count, 1)), 2.4, 6.0))
    return diameter, float(np.clip(0.15 * diameter, 0.35, 0.8))


def _scatter_sets(axis, sets) -> None:
    """Training and validation points, each set [(points, fill colours, rim, gids)]. Every rim is
    a disc drawn under all the dots, so where points crowd (the centre of a spiral) their
    neighbours' rims never cover the dots' colours."""
    count = sum(len(points) for points, *_ in sets)
    diameter, rim = _marker_size(count)
    for points, _, edge, (_, rims_gid) in sets:
        axis.scatter(points[:, 0], points[:, 1], s=(diameter + 2 * rim) ** 2, c=[edge], linewidths=0,
                     zorder=3, gid=rims_gid)
    for points, fill, _, (points_gid, _) in sets:
        axis.scatter(points[:, 0], points[:, 1], s=diameter**2, c=fill, linewidths=0, zorder=4, gid=points_gid)


def _marker(fill, edge, label: str):
    from matplotlib.lines import Line2D

    return Line2D([], [], linestyle="", marker="o", markersize=7, markerfacecolor=fill, markeredgecolor=edge,
                  markeredgewidth=1.4, label=label)


def _legend(figure, classes: list, extras: list, validation: bool = True) -> None:
    """The legend, below the plot, in columns of two: the class colours, which rim marks which
    set (only the training set's without `validation`), then `extras` (the decision boundary);
    one row when there are no classes."""
    from matplotlib.lines import Line2D

    grey = "#9a9a9a"
    sets = [_marker(grey, TRAINING_RIM, "training (white rim)")]
    if validation:
        sets.append(_marker(grey, VALIDATION_RIM, "validation (black rim)"))
    if classes:
        blank = [Line2D([], [], linestyle="", label=" ")] * (len(classes) % 2)
        handles = classes + blank + sets + extras
        columns = (len(handles) + 1) // 2
    else:
        handles = sets + extras
        columns = len(handles)
    legend = figure.legend(handles=handles, loc="outside lower center", ncol=columns, fontsize="small",
                           handletextpad=0.3, columnspacing=1.2)
    legend.get_frame().set_facecolor(LEGEND_FACE)


# --- the (x1, x2) plane ----------------------------------------------------------------------------


def _draw_plane(figure, axis, gx, gy, prediction, train, val, task: str) -> None:
    """The model's output over the grid (gx, gy) and the data on it, as the Playground draws
    them. `prediction`: the model's outputs at the grid's points, one row each; `train`, `val`:
    (points, labels) with labels 0/1 (binary), class numbers (multiclass) or targets."""
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D

    (train_points, train_labels), (val_points, val_labels) = train, val
    train_labels = np.asarray(train_labels).reshape(len(train_points), -1)[:, 0]
    val_labels = np.asarray(val_labels).reshape(len(val_points), -1)[:, 0] if len(val_points) else np.empty(0)
    if task == "multiclass":
        count = prediction.shape[1]
        colours = [CLASS_COLOURS[k % len(CLASS_COLOURS)] for k in range(count)]
        regions = prediction.argmax(axis=1).reshape(gx.shape)
        axis.contourf(gx, gy, regions, levels=np.arange(count + 1) - 0.5,
                      cmap=ListedColormap([_paler(colour) for colour in colours]))

        def fill(labels):
            return [colours[int(label)] for label in labels]

        classes, extras = [_marker(colour, WHITE, f"class {k}") for k, colour in enumerate(colours)], []
    else:
        value = prediction[:, 0].reshape(gx.shape)
        if task == "binary":
            cmap, _ = _output_scale(0.0, 1.0)
            ticks = np.linspace(0.0, 1.0, 5)  # quarters: 0.5 is the boundary
            levels = np.linspace(0.0, 1.0, 21)
        else:
            everything = np.concatenate([value.ravel(), train_labels, val_labels])
            cmap, ticks = _output_scale(float(everything.min()), float(everything.max()))
            levels = np.linspace(ticks[0], ticks[-1], 4 * (len(ticks) - 1) + 1)
        heat = axis.contourf(gx, gy, np.clip(value, levels[0], levels[-1]), levels=levels, cmap=_region_map(cmap),
                             vmin=levels[0], vmax=levels[-1])
        colour_bar = figure.colorbar(heat, ax=axis, ticks=ticks, shrink=0.9, pad=0.03)
        colour_bar.set_label("model output" if task == "binary" else "model output (points: target)")
        colour_bar.ax.set_yticklabels(_tick_labels(ticks))
        norm = _pyplot().Normalize(levels[0], levels[-1])

        def fill(labels):
            return cmap(norm(labels))

        if task == "binary":
            axis.contour(gx, gy, value, levels=[0.5], colors="black", linewidths=1.2, zorder=2)
            classes = [_marker(ORANGE, WHITE, "class 0"), _marker(BLUE, WHITE, "class 1")]
            extras = [Line2D([], [], color="black", linewidth=1.2, label="boundary (output 0.5)")]
        else:
            classes, extras = [], []
    sets = [(train_points, fill(train_labels), TRAINING_RIM, (TRAINING_POINTS, TRAINING_RIMS))]
    if len(val_points):  # `split 1` holds no points out
        sets.append((val_points, fill(val_labels), VALIDATION_RIM, (VALIDATION_POINTS, VALIDATION_RIMS)))
    _scatter_sets(axis, sets)
    _legend(figure, classes, extras, validation=len(val_points) > 0)
    axis.set_xlim(gx.min(), gx.max())
    axis.set_ylim(gy.min(), gy.max())


def _figure(task: str):
    width = 4.9 if task == "multiclass" else 5.5
    return _pyplot().subplots(figsize=(width, 5.4), layout="constrained")


def plot_run(program: ir.Program, module, trainer, out: Path) -> list[Path]:
    """Write the plots for a finished run into `out`; returns the files written."""
    written = [plot_history(trainer.history, out / "loss.png", program)]
    source = program.data.source
    if isinstance(source, ir.PlaygroundData):
        written.append(plot_playground(program, module, trainer, out / "decision_boundary.png"))
    elif program.model.images:
        if program.task == "multiclass" and program.validates:  # both show validation images
            written.append(plot_image_grid(program, trainer, out / "predictions.png"))
            written.append(plot_confusion(program, trainer, out / "confusion.png"))
        conv = next((layer for layer in program.model.layers if isinstance(layer, ir.Conv2D)), None)
        if conv is not None:
            written.append(plot_filters(conv, trainer.get_weights()[f"{conv.name}.W"], program, out / "filters.png"))
    elif program.model.in_features == 2:
        written.append(plot_plane(program, trainer, out / "decision_boundary.png"))
    elif program.model.in_features == 1 and program.model.out_features == 1:
        written.append(plot_curve(program, trainer, out / "fit.png"))
    if not program.model.is_stack:  # branches and merges: the graph, as Keras's plot_model draws one
        written.append(plot_graph(program, out / "graph.png"))
    return written


def plot_history(history: dict, path: Path, program: ir.Program) -> Path:
    plt = _pyplot()
    # the learning rate gets a panel of its own where a schedule or the plateau changed it
    changes = len(set(history.get("lr", ()))) > 1
    metrics = [key for key in history if not key.startswith("val_") and (key != "lr" or changes)]
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for axis, key in zip(axes[0], metrics, strict=True):
        epochs = np.arange(1, len(history[key]) + 1)
        axis.plot(epochs, history[key], label="learning rate" if key == "lr" else "training")
        if f"val_{key}" in history:
            axis.plot(epochs, history[f"val_{key}"], label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(key)
        if key in ("loss", "lr"):
            axis.set_yscale("log")
        axis.legend()
        axis.grid(alpha=0.3)
    figure.suptitle(Path(program.filename).name)
    figure.tight_layout()
    _save(figure, path)
    return path


def playground_points(program: ir.Program, module):
    """The Playground data set's raw (x1, x2) points, split as the generated program splits
    its features: ((training points, labels), (validation points, labels))."""
    source = program.data.source
    rng = np.random.default_rng(program.data_seed)
    generator = getattr(module, f"{source.generator}_data")
    args = (source.samples, source.noise) + ((source.classes,) if source.generator == "spiral" else ())
    points, labels = generator(rng, *args)
    # The same draws on the same generator as load_data: the points land where their features do.
    split = module.split_data(rng, points, labels, program.data.split)
    return (split.x_train, split.y_train), (split.x_val, split.y_val)


def draw_playground(program: ir.Program, module, trainer):
    """The figure for decision_boundary.png on Playground data."""
    train, val = playground_points(program, module)
    limit = 6.0
    grid = np.linspace(-limit, limit, 200)
    gx, gy = np.meshgrid(grid, grid)
    plane = np.stack([gx.ravel(), gy.ravel()], axis=1)
    prediction = trainer.predict(module.make_features(plane))
    figure, axis = _figure(program.task)
    _draw_plane(figure, axis, gx, gy, prediction, train, val, program.task)
    axis.set_aspect("equal")
    axis.set_xlabel("x1")
    axis.set_ylabel("x2")
    axis.set_title(_title(program))
    return figure


def plot_playground(program: ir.Program, module, trainer, path: Path) -> Path:
    _save(draw_playground(program, module, trainer), path)
    return path


def draw_plane(program: ir.Program, trainer):
    """The figure for decision_boundary.png on other data with two input features."""
    data = trainer.data
    x = np.concatenate([data.x_train, data.x_val])
    low, high = x.min(axis=0), x.max(axis=0)
    pad = (high - low) * 0.05 + 1e-6
    gx, gy = np.meshgrid(np.linspace(low[0] - pad[0], high[0] + pad[0], 200),
                         np.linspace(low[1] - pad[1], high[1] + pad[1], 200))
    prediction = trainer.predict(np.stack([gx.ravel(), gy.ravel()], axis=1))
    figure, axis = _figure(program.task)
    _draw_plane(figure, axis, gx, gy, prediction, (data.x_train, data.y_train), (data.x_val, data.y_val),
                program.task)
    axis.set_xlabel("x1")
    axis.set_ylabel("x2")
    axis.set_title(_title(program))
    return figure


def plot_plane(program: ir.Program, trainer, path: Path) -> Path:
    _save(draw_plane(program, trainer), path)
    return path


def draw_curve(program: ir.Program, trainer):
    """The figure for fit.png: one input, one output."""
    plt = _pyplot()
    data = trainer.data
    x = np.concatenate([data.x_train, data.x_val])[:, 0]
    grid = np.linspace(x.min(), x.max(), 800, dtype=np.float32)
    figure, axis = plt.subplots(figsize=(6, 3.8))
    diameter, _ = _marker_size(len(x))
    # Blue for training and orange for validation, as in loss.png.
    axis.scatter(data.x_train[:, 0], data.y_train[:, 0], s=diameter**2, color=BLUE, alpha=0.6, linewidths=0,
                 label="training data", gid=TRAINING_POINTS)
    if len(data.x_val):  # `split 1` holds no points out
        axis.scatter(data.x_val[:, 0], data.y_val[:, 0], s=diameter**2, color=ORANGE, alpha=0.8, linewidths=0,
                     label="validation data", gid=VALIDATION_POINTS)
    axis.plot(grid, trainer.predict(grid[:, None])[:, 0], color="black", label="model")
    axis.set_xlabel("x")
    axis.set_ylabel("y")
    axis.legend()
    axis.set_title(_title(program))
    figure.tight_layout()
    return figure


def plot_curve(program: ir.Program, trainer, path: Path) -> Path:
    _save(draw_curve(program, trainer), path)
    return path


# --- images ----------------------------------------------------------------------------------------


def _validation_predictions(trainer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The validation images, their true classes and the predicted ones."""
    x = np.asarray(trainer.data.x_val)
    true = np.asarray(trainer.data.y_val).astype(np.int64).reshape(-1)
    predicted = np.asarray(trainer.predict(x)).argmax(axis=1)
    return x, true, predicted


def image_grid_order(true: np.ndarray, predicted: np.ndarray, count: int) -> np.ndarray:
    """Which validation images the grid shows, in order: the mistakes first, then correct ones."""
    wrong = np.flatnonzero(true != predicted)
    right = np.flatnonzero(true == predicted)
    return np.concatenate([wrong, right])[:count]


def draw_image_grid(program: ir.Program, trainer, columns: int = 8, rows: int = 4):
    """A grid of validation images, each titled 'true → predicted', the mistakes first (in red)."""
    plt = _pyplot()
    x, true, predicted = _validation_predictions(trainer)
    order = image_grid_order(true, predicted, columns * rows)
    figure, axes = plt.subplots(rows, columns, figsize=(1.4 * columns, 1.6 * rows), squeeze=False)
    for axis in axes.flat:
        axis.set_axis_off()
    for axis, index in zip(axes.flat, order, strict=False):
        image = x[index]
        axis.imshow(image[..., 0] if image.shape[-1] == 1 else np.clip(image, 0, 1), cmap="gray_r" if
                    image.shape[-1] == 1 else None, interpolation="nearest")
        mistake = true[index] != predicted[index]
        axis.set_title(f"{true[index]} → {predicted[index]}", fontsize=9, color="#d62728" if mistake else "#333333")
    errors = int(np.count_nonzero(true != predicted))
    figure.suptitle(f"{Path(program.filename).name}: validation images, true → predicted "
                    f"({errors} of {len(true)} wrong, shown first)")
    figure.tight_layout()
    return figure


def plot_image_grid(program: ir.Program, trainer, path: Path) -> Path:
    _save(draw_image_grid(program, trainer), path)
    return path


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """counts[t, p]: validation images of class t predicted as p."""
    counts = np.zeros((classes, classes), np.int64)
    np.add.at(counts, (true, predicted), 1)
    return counts


def draw_confusion(program: ir.Program, trainer):
    plt = _pyplot()
    _, true, predicted = _validation_predictions(trainer)
    classes = program.model.out_features
    counts = confusion_matrix(true, predicted, classes)
    figure, axis = plt.subplots(figsize=(1.0 + 0.5 * classes, 0.8 + 0.5 * classes))
    axis.imshow(counts, cmap="Blues")
    for t in range(classes):
        for q in range(classes):
            if counts[t, q]:
                axis.text(q, t, str(counts[t, q]), ha="center", va="center", fontsize=8,
                          color="white" if counts[t, q] > counts.max() / 2 else "black")
    axis.set_xticks(range(classes))
    axis.set_yticks(range(classes))
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    axis.set_title(f"{Path(program.filename).name}: confusion matrix (validation)")
    figure.tight_layout()
    return figure


def plot_confusion(program: ir.Program, trainer, path: Path) -> Path:
    _save(draw_confusion(program, trainer), path)
    return path


def draw_filters(layer: ir.Conv2D, W: np.ndarray, program: ir.Program):
    """The first conv layer's filters, one tile per filter and input channel, each on its own
    symmetric scale (blue positive, orange negative, as the Playground colours weights)."""
    plt = _pyplot()
    filters, _, _, channels = W.shape
    figure, axes = plt.subplots(channels, filters, figsize=(0.9 * filters + 0.4, 0.9 * channels + 0.7),
                                squeeze=False)
    cmap = _weight_colours()
    for f in range(filters):
        for c in range(channels):
            tile = W[f, :, :, c]
            limit = float(np.max(np.abs(tile))) or 1.0
            axis = axes[c, f]
            axis.imshow(tile, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
            axis.set_axis_off()
    figure.suptitle(f"{Path(program.filename).name}: {layer.name} filters ({filters}, "
                    f"{'x'.join(map(str, layer.kernel))}, {channels} channel{'s' if channels != 1 else ''})")
    figure.tight_layout()
    return figure


def _weight_colours():
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("weights", [ORANGE, WHITE, BLUE])


def plot_filters(layer: ir.Conv2D, W: np.ndarray, program: ir.Program, path: Path) -> Path:
    _save(draw_filters(layer, W, program), path)
    return path


# --- the model's graph -----------------------------------------------------------------------------

#: Gid of each edge's arrow, for the tests.
GRAPH_EDGE = "graph-edge"


def draw_graph(program: ir.Program):
    """The layers top to bottom in the spec's order, a box each (name, Keras type, output shape),
    and an arrow for each edge: straight down where a layer reads the one above it, an arc on
    the right where it reads one further up (a skip connection, a second tower)."""
    from matplotlib.patches import FancyArrowPatch

    from nndsl import layers as layer_kinds

    plt = _pyplot()
    model = program.model
    nodes = [(model.input_name, "InputLayer", model.in_shape)]
    nodes += [(layer.name, layer_kinds.kind_of(layer).keras, layer.out_shape) for layer in model.layers]
    row = {name: i for i, (name, _, _) in enumerate(nodes)}
    step = 0.9
    figure = plt.figure(figsize=(4.6, 0.6 + step * len(nodes)))
    axis = figure.add_axes((0, 0, 1, 1))
    axis.set_xlim(-2.4, 2.6)
    axis.set_ylim(-step * (len(nodes) - 0.4), step * 0.6)
    axis.set_axis_off()
    for i, (name, kind, shape) in enumerate(nodes):
        axis.text(0, -step * i, f"{name}  ({kind})\n{'x'.join(map(str, shape))}", ha="center", va="center",
                  fontsize=8, bbox={"boxstyle": "round,pad=0.35", "facecolor": LEGEND_FACE, "edgecolor": "#888888"})
    for layer in model.layers:
        target = row[layer.name]
        for source in model.sources(layer):
            start = row[source]
            skip = target - start > 1
            arrow = FancyArrowPatch((0.45 if skip else 0, -step * start - 0.25), (0.45 if skip else 0, -step * target + 0.25),
                                    arrowstyle="-|>", mutation_scale=9, color="#555555", linewidth=0.9,
                                    connectionstyle=f"arc3,rad={-0.25 - 0.04 * (target - start) if skip else 0}")
            arrow.set_gid(GRAPH_EDGE)
            axis.add_patch(arrow)
    return figure


def plot_graph(program: ir.Program, path: Path) -> Path:
    _save(draw_graph(program), path)
    return path
