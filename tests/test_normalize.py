"""The data block's `normalize standard|minmax` (issue 18): statistics of the training rows only,
the same numbers on every backend and in the plain programs, saved with the weights and applied
wherever the model runs on raw inputs (predict, nndsl predict, the ONNX export, a resumed run)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nndsl
from nndsl.cli import main
from tests.conftest import assert_same_run, require_backend
from tests.test_plain import assert_plain_matches_full

BACKENDS = ("numpy", "torch", "tensorflow")


def spec(method: str | None, epochs: int = 2, source: str = 'csv("cells.csv", target=malignant, seed=1)',
         model: str = "input 2  dense 1 sigmoid") -> str:
    normalize = f"normalize {method}" if method else ""
    return (f"data {source} {{\n    split 0.75\n    {normalize}\n}}\nmodel {{ {model} }}\nloss binary_crossentropy\n"
            f"train {{ optimizer sgd(lr=0.01)  batch 5  epochs {epochs}  metrics accuracy  seed 1 }}\n")


def write_cells(folder: Path, rows: int = 60, constant: bool = False) -> None:
    """The issue's story in small: two features of wildly different scales (as the Wisconsin
    breast-cancer set's 0.001 to 4,000), a label that needs both; with `constant`, a third feature
    that never changes."""
    rng = np.random.default_rng(0)
    smoothness, area = rng.uniform(0, 0.004, rows), rng.uniform(1000, 4000, rows)
    malignant = (smoothness / 0.004 + (area - 1000) / 3000 > 1).astype(int)
    with open(folder / "cells.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["smoothness", "area", *(["batch"] if constant else []), "malignant"])
        for row in zip(smoothness, area, malignant, strict=True):
            writer.writerow([f"{row[0]:.6g}", f"{row[1]:.6g}", *([7] if constant else []), row[2]])


@pytest.fixture
def cells(tmp_path) -> Path:
    write_cells(tmp_path)
    return tmp_path


def load(text: str, folder: Path) -> nndsl.Program:
    return nndsl.parse(text, filename=str(folder / "cells.nn"))


def build(text: str, folder: Path, backend: str = "numpy"):
    if backend != "numpy":
        require_backend(backend)
    return nndsl.build(load(text, folder), backend=backend, data_dir=str(folder))


@pytest.mark.parametrize("method", ["standard", "minmax"])
def test_statistics_are_the_training_rows_own(method, cells):
    trainer = build(spec(method), cells)
    data = trainer.module.load_data()  # the split the trainer trains on: raw rows, the network scales them
    train, every = data.x_train.astype(np.float64), np.concatenate([data.x_train, data.x_val]).astype(np.float64)
    weights = trainer.get_weights()
    if method == "standard":
        expected = {"shift": train.mean(axis=0), "scale": train.std(axis=0)}  # the population std
        leaked = every.mean(axis=0)
    else:
        expected = {"shift": train.min(axis=0), "scale": train.max(axis=0) - train.min(axis=0)}
        leaked = every.min(axis=0)
    for key, value in expected.items():
        assert weights[f"normalize.{key}"].dtype == np.float32
        np.testing.assert_allclose(weights[f"normalize.{key}"], value, rtol=1e-6)
    assert not np.allclose(weights["normalize.shift"], leaked, rtol=1e-6)  # the validation rows take no part
    scaled = (data.x_train - weights["normalize.shift"]) / weights["normalize.scale"]
    if method == "minmax":
        np.testing.assert_allclose([scaled.min(axis=0), scaled.max(axis=0)], [[0, 0], [1, 1]], atol=1e-6)
    else:
        np.testing.assert_allclose([scaled.mean(axis=0), scaled.std(axis=0)], [[0, 0], [1, 1]], atol=1e-5)


@pytest.mark.parametrize("method", ["standard", "minmax"])
def test_a_constant_feature_gets_scale_one(method, tmp_path):
    write_cells(tmp_path, constant=True)
    trainer = build(spec(method, model="input 3  dense 1 sigmoid"), tmp_path)
    weights = trainer.get_weights()
    assert weights["normalize.scale"][2] == 1 and weights["normalize.shift"][2] == 7
    history = trainer.fit()
    assert np.isfinite(history["loss"]).all()
    x = trainer.module.load_data().x_val
    assert np.isfinite(trainer.predict(x)).all()


def test_sgd_fits_features_of_wildly_different_scales_only_normalized(cells):
    """The issue's story: raw, sgd(lr=0.01) gets nowhere (a loss in the thousands, validation at
    chance); standardised, the same spec separates the classes."""
    raw = build(spec(None, epochs=60), cells)
    raw.fit()
    scaled = build(spec("standard", epochs=60), cells)
    scaled.fit()
    raw_logs, scaled_logs = raw.evaluate(), scaled.evaluate()
    assert raw_logs["loss"] > 100 and raw_logs["accuracy"] < 0.7
    assert scaled_logs["loss"] < 0.4 and scaled_logs["accuracy"] > 0.9


@pytest.mark.parametrize("method", ["standard", "minmax"])
def test_every_backend_trains_to_the_same_numbers(method, cells):
    reference = build(spec(method), cells)
    history = reference.fit()
    for backend in BACKENDS[1:]:
        other = build(spec(method), cells, backend)
        assert_same_run(history, other.fit(), reference.get_weights(), other.get_weights(), rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_images_are_normalized_per_channel(backend, tmp_path):
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(0, 255, (12, 4, 4, 1)), rng.uniform(-1, 1, (12, 4, 4, 1))], axis=3)
    np.savez(tmp_path / "pictures.npz", x=x.astype(np.float32), y=rng.integers(0, 2, 12))
    text = spec("standard", source='npz("pictures.npz", seed=3)',
                model="input 4x4x2  conv2d 2 kernel=3 relu  flatten  dense 1 sigmoid")
    trainer = build(text, tmp_path, backend)
    data = trainer.module.load_data()
    np.testing.assert_allclose(trainer.get_weights()["normalize.shift"], data.x_train.mean(axis=(0, 1, 2)), rtol=1e-5)
    history = trainer.fit()
    reference = build(text, tmp_path)
    assert_same_run(reference.fit(), history, reference.get_weights(), trainer.get_weights(), rtol=1e-5)


#: Playground features computed first, then scaled: x1^2 and sin(x2) get statistics of their own.
PLAYGROUND = """
data circle(samples=80, noise=0.1, seed=2) {{ features x1, x2, x1^2, sin(x2)  split 0.5  normalize {method} }}
model {{ input 4  dense 4 tanh  dense 1 sigmoid }}
loss binary_crossentropy
train {{ optimizer sgd(lr=0.1)  batch 8  epochs 2  metrics accuracy }}
"""


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["standard", "minmax"])
def test_the_plain_program_computes_the_full_programs_numbers(method, backend):
    program = nndsl.parse(PLAYGROUND.replace("{method}", method).replace("{{", "{").replace("}}", "}"),
                          filename="specs/normalized.nn")
    trainer = nndsl.build(program)
    x1 = trainer.module.load_data().x_train[:, 0].astype(np.float64)
    shift = x1.mean() if method == "standard" else x1.min()
    np.testing.assert_allclose(trainer.get_weights()["normalize.shift"][[0, 2]], [shift, (x1 * x1).mean()
                               if method == "standard" else (x1 * x1).min()], rtol=1e-5, atol=1e-7)
    assert_plain_matches_full(program, backend)


def test_nndsl_predict_and_the_onnx_export_take_raw_inputs(cells, capsys):
    require_backend("torch")
    require_backend("onnxruntime")
    import onnxruntime

    from nndsl.export import export

    trainer = build(spec("standard", epochs=5), cells)
    trainer.fit()
    trainer.save(cells / "weights.npz")
    (cells / "cells.nn").write_text(spec("standard", epochs=5), encoding="utf-8")
    x = trainer.module.load_data().x_val  # raw rows
    expected = trainer.predict(x)
    with open(cells / "new.csv", "w", newline="") as file:
        csv.writer(file).writerows([["smoothness", "area"], *[[repr(float(a)), repr(float(b))] for a, b in x]])
    assert main(["predict", str(cells / "cells.nn"), "--weights", str(cells / "weights.npz"),
                 str(cells / "new.csv")]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["probability"]
    np.testing.assert_allclose(np.array(rows[1:], dtype=np.float64), expected, rtol=1e-6)
    export(load(spec("standard", epochs=5), cells), cells / "weights.npz", "onnx", cells / "cells.onnx")
    session = onnxruntime.InferenceSession(str(cells / "cells.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(["y"], {"x": x})[0], expected, rtol=1e-5, atol=1e-7)


def test_weights_without_statistics_are_refused_naming_them(cells, capsys):
    raw = build(spec(None), cells)
    raw.save(cells / "raw.npz")
    scaled = build(spec("standard"), cells)
    with pytest.raises(KeyError, match="no input statistics .normalize.shift. in these weights"):
        scaled.load(cells / "raw.npz")
    (cells / "cells.nn").write_text(spec("standard"), encoding="utf-8")
    (cells / "new.csv").write_text("smoothness,area\n0.001,2000\n", encoding="utf-8")
    assert main(["predict", str(cells / "cells.nn"), "--weights", str(cells / "raw.npz"), str(cells / "new.csv")]) == 1
    assert "saved without it" in capsys.readouterr().err


#: Loads each .keras file named on the command line in a fresh process, with Keras alone: no nndsl,
#: no generated program; prints their predictions on the matching .npy inputs.
KERAS_ALONE = """
import sys
import keras
import numpy as np
for path in sys.argv[1:]:
    model = keras.models.load_model(path, compile=False, safe_mode=True)
    np.save(path + ".out.npy", model.predict(np.load(path + ".in.npy"), verbose=0))
assert not [name for name in sys.modules if name.startswith("nndsl")]
"""


def test_the_keras_file_scales_raw_inputs_where_nndsl_is_not_imported(tmp_path):
    """The .keras export of a normalize spec holds Keras' own Normalization (shift, scale²), so
    keras.models.load_model(safe_mode=True) loads it anywhere and it takes raw features, a
    constant one (scale 1) included, as the generated program's predict does."""
    from nndsl.export import export

    require_backend("tensorflow")
    write_cells(tmp_path, constant=True)
    expected, paths = {}, []
    for method in ("standard", "minmax"):
        text = spec(method, model="input 3  dense 2 tanh  dense 1 sigmoid")
        trainer = build(text, tmp_path)
        trainer.fit()
        assert trainer.get_weights()["normalize.scale"][2] == 1
        x = trainer.module.load_data().x_val  # raw rows
        path = export(load(text, tmp_path), trainer.get_weights(), "keras", tmp_path / f"{method}.keras")
        np.save(f"{path}.in.npy", x)
        expected[path], paths = trainer.predict(x), [*paths, str(path)]
    subprocess.run([sys.executable, "-c", KERAS_ALONE, *paths], check=True, cwd=tmp_path, capture_output=True)
    for path, probabilities in expected.items():
        np.testing.assert_allclose(np.load(f"{path}.out.npy"), probabilities, rtol=1e-5, atol=1e-7)


def test_resume_and_load_bring_the_statistics_back(cells):
    trainer = build(spec("minmax"), cells)
    trainer.fit(epochs=1)
    trainer.save_checkpoint(cells / "checkpoint.npz")
    statistics = {key: value for key, value in trainer.get_weights().items() if key.startswith("normalize.")}
    resumed = build(spec("minmax"), cells)
    tampered = resumed.get_weights() | {"normalize.shift": np.zeros(2, np.float32)}
    resumed.set_weights(tampered)
    resumed.restore(cells / "checkpoint.npz")
    for key, value in statistics.items():
        np.testing.assert_array_equal(resumed.get_weights()[key], value)
    trainer.fit(epochs=1)
    resumed.fit(epochs=1)
    assert resumed.history == trainer.history


def test_summary_says_what_is_computed(cells):
    summary = nndsl.summary(load(spec("standard"), cells))
    assert str(summary).endswith("Inputs: standardised per feature with the mean and std (population, ddof 0) of the "
                                 "training rows: (x - mean) / std (2 features; a constant one gets scale 1); the 4 "
                                 "statistics, normalize.shift and normalize.scale, are saved with the weights and not "
                                 "counted above")
    assert "into [0, 1]" in nndsl.summary(load(spec("minmax"), cells)).to_dict()["normalize"]
    assert "normalize" not in nndsl.summary(load(spec(None), cells)).to_dict()
