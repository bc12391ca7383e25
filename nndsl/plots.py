"""PNG plots of a training run: the loss curves, and the data with the model's output.

For 2-D Playground data the model's output is drawn over the (x1, x2) plane as
the Playground draws it: a heat map of the prediction, the decision boundary
(the 0.5 contour, for binary classification) and the training and validation
points on top.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from nndsl import ir
from nndsl.files import write_atomic


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


def _heat_map(figure, axis, gx, gy, value, points, labels, binary=False) -> None:
    """The model's output over the grid and the data on it, as the Playground draws them: a pale
    heat-map, the points in full colour on the same scale with a white rim, so each stands out
    against its region. Binary outputs are probabilities, with the 0.5 boundary drawn."""
    if binary:
        low, high = 0.0, 1.0
    else:
        low, high = float(min(value.min(), labels.min())), float(max(value.max(), labels.max()))
    image = axis.contourf(gx, gy, value, levels=np.linspace(low, high, 21), cmap="RdBu", alpha=0.45)
    if binary:
        axis.contour(gx, gy, value, levels=[0.5], colors="black", linewidths=1.2)
    figure.colorbar(image, ax=axis, label="model output")
    axis.scatter(points[:, 0], points[:, 1], c=labels, cmap="RdBu", vmin=low, vmax=high, s=16,
                 edgecolors="white", linewidths=0.6)


def plot_run(program: ir.Program, module, trainer, out: Path) -> list[Path]:
    """Write the plots for a finished run into `out`; returns the files written."""
    written = [plot_history(trainer.history, out / "loss.png", program)]
    source = program.data.source
    if isinstance(source, ir.PlaygroundData):
        written.append(plot_playground(program, module, trainer, out / "decision_boundary.png"))
    elif program.model.in_features == 2 and program.task != "multiclass":
        written.append(plot_plane(program, trainer, out / "decision_boundary.png"))
    elif program.model.in_features == 1 and program.model.out_features == 1:
        written.append(plot_curve(program, trainer, out / "fit.png"))
    return written


def plot_history(history: dict, path: Path, program: ir.Program) -> Path:
    plt = _pyplot()
    metrics = [key for key in history if not key.startswith("val_")]
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for axis, key in zip(axes[0], metrics, strict=True):
        epochs = np.arange(1, len(history[key]) + 1)
        axis.plot(epochs, history[key], label="training")
        if f"val_{key}" in history:
            axis.plot(epochs, history[f"val_{key}"], label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(key)
        if key == "loss":
            axis.set_yscale("log")
        axis.legend()
        axis.grid(alpha=0.3)
    figure.suptitle(Path(program.filename).name)
    figure.tight_layout()
    _save(figure, path)
    return path


def plot_playground(program: ir.Program, module, trainer, path: Path) -> Path:
    plt = _pyplot()
    rng = np.random.default_rng(program.data_seed)
    source = program.data.source
    generator = getattr(module, f"{source.generator}_data")
    args = (source.samples, source.noise) + ((source.classes,) if source.generator == "spiral" else ())
    points, labels = generator(rng, *args)
    limit = 6.0
    grid = np.linspace(-limit, limit, 200)
    gx, gy = np.meshgrid(grid, grid)
    plane = np.stack([gx.ravel(), gy.ravel()], axis=1)
    prediction = trainer.predict(module.make_features(plane))
    figure, axis = plt.subplots(figsize=(5.2, 4.6))
    if program.task == "multiclass":
        classes = prediction.argmax(axis=1).reshape(gx.shape)
        axis.contourf(gx, gy, classes, levels=np.arange(prediction.shape[1] + 1) - 0.5, cmap="tab10", alpha=0.35)
        axis.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=prediction.shape[1] - 0.5, s=16,
                     edgecolors="white", linewidths=0.6)
    else:
        _heat_map(figure, axis, gx, gy, prediction[:, 0].reshape(gx.shape), points, labels,
                  binary=program.task == "binary")
    axis.set_xlim(-limit, limit)
    axis.set_ylim(-limit, limit)
    axis.set_xlabel("x1")
    axis.set_ylabel("x2")
    axis.set_title(f"{Path(program.filename).name}: data and model output")
    figure.tight_layout()
    _save(figure, path)
    return path


def plot_plane(program: ir.Program, trainer, path: Path) -> Path:
    plt = _pyplot()
    data = trainer.data
    x = np.concatenate([data.x_train, data.x_val])
    y = np.concatenate([data.y_train, data.y_val])[:, 0]
    low, high = x.min(axis=0), x.max(axis=0)
    pad = (high - low) * 0.05 + 1e-6
    gx, gy = np.meshgrid(np.linspace(low[0] - pad[0], high[0] + pad[0], 200),
                         np.linspace(low[1] - pad[1], high[1] + pad[1], 200))
    value = trainer.predict(np.stack([gx.ravel(), gy.ravel()], axis=1))[:, 0].reshape(gx.shape)
    figure, axis = plt.subplots(figsize=(5.2, 4.6))
    _heat_map(figure, axis, gx, gy, value, x, y)
    axis.set_title(f"{Path(program.filename).name}: data and model output")
    figure.tight_layout()
    _save(figure, path)
    return path


def plot_curve(program: ir.Program, trainer, path: Path) -> Path:
    plt = _pyplot()
    data = trainer.data
    x = np.concatenate([data.x_train, data.x_val])[:, 0]
    y = np.concatenate([data.y_train, data.y_val])[:, 0]
    grid = np.linspace(x.min(), x.max(), 800, dtype=np.float32)
    figure, axis = plt.subplots(figsize=(6, 3.8))
    axis.scatter(x, y, s=6, alpha=0.5, label="data")
    axis.plot(grid, trainer.predict(grid[:, None])[:, 0], color="black", label="model")
    axis.set_xlabel("x")
    axis.set_ylabel("y")
    axis.legend()
    axis.set_title(f"{Path(program.filename).name}: data and model output")
    figure.tight_layout()
    _save(figure, path)
    return path
