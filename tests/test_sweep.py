"""`nndsl sweep`: settings applied as the spec would have them, errors pointed at --set, the runs
(in-process, a local pool of 2, Ray) giving what `nndsl train` gives, the CSV, table and plot, and
a sweep interrupted by SIGINT resuming without training its finished runs again.

Runs are tiny (100 samples, a few epochs); every one is checked against something it must equal.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nndsl
from nndsl.cli import main
from nndsl.source import read_spec
from nndsl.sweep import Grid, SettingError, draw_sweep
from nndsl.syntax import parse_syntax
from tests.conftest import require_backend

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "checkerboard.nn"
SMALL = ["--set", "data.samples=100", "--set", "train.epochs=3"]


def grid(*options: str, spec: Path = SPEC) -> Grid:
    text, filename = read_spec(spec)
    return Grid(parse_syntax(text, filename), options)


def edited(old: str, new: str, spec: Path = SPEC) -> nndsl.Program:
    """The spec with its text edited by hand: what a setting must give."""
    text = spec.read_text(encoding="utf-8")
    assert old in text
    return nndsl.parse(text.replace(old, new, 1), str(spec))


# --- settings mean what the spec text would mean --------------------------------------------------


@pytest.mark.parametrize("option, old, new", [
    ("dense_1.units=3", "dense 8 relu", "dense 3 relu"),
    # the default initialiser follows the new activation (Glorot for tanh), as it would in the spec
    ("dense_1.activation=tanh", "dense 8 relu", "dense 8 tanh"),
    ("dense_1.activation=leaky_relu(0.2)", "dense 8 relu", "dense 8 leaky_relu(0.2)"),
    ("dense_1.init=glorot_uniform", "dense 8 relu", "dense 8 relu init=glorot_uniform"),
    ("train.lr=0.1", "sgd(lr=0.03)", "sgd(lr=0.1)"),
    ("train.learning_rate=0.1", "sgd(lr=0.03)", "sgd(lr=0.1)"),  # Keras's spelling, as the spec takes it
    ("train.momentum=0.9", "sgd(lr=0.03)", "sgd(lr=0.03, momentum=0.9)"),  # not written: added
    ("train.optimizer=adam(lr=0.01)", "sgd(lr=0.03)", "adam(lr=0.01)"),
    ("train.batch=all", "batch 10", "batch all"),
    ("train.epochs=7", "epochs 200", "epochs 7"),
    ("train.shuffle=false", "seed 1", "seed 1 shuffle false"),  # a statement not written: added
    ("train.checkpoint.every=5", "seed 1", "seed 1 checkpoint every=5"),
    ("data.noise=0.2", "noise=0.0", "noise=0.2"),
    ("data.samples=60", "samples=500", "samples=60"),
    ("data.split=0.8", "split 0.5", "split 0.8"),
    # the model's input follows the features
    ("data.features=[x1, x2, x1*x2]", "features x1, x2  #", "features x1, x2, x1*x2  #"),
])
def test_a_setting_gives_the_program_of_the_edited_spec(option, old, new):
    programs = grid(option).programs()
    if option.startswith("data.features"):
        expected = nndsl.parse(SPEC.read_text().replace(old, new).replace("input 2", "input 3"), str(SPEC))
    else:
        expected = edited(old, new)
    assert programs == [expected]


@pytest.mark.parametrize("spec, option, old, new", [
    ("digits_cnn.nn", "conv2d_2.filters=8", "conv2d 32 relu", "conv2d 8 relu"),
    ("digits_cnn.nn", "conv2d_1.kernel=5", "kernel=3 padding=same\n    maxpool", "kernel=5 padding=same\n    maxpool"),
    ("digits_cnn.nn", "batchnorm_1.momentum=0.9", "batchnorm", "batchnorm momentum=0.9"),
    ("spiral3.nn", "dropout_1.rate=0.3", "dropout 0.1", "dropout 0.3"),
    # a layer inside a residual block: dense_3 is the second dense of the first block
    ("spiral_residual.nn", "dense_3.activation=tanh", "        dense 8\n", "        dense 8 tanh\n"),
])
def test_other_layer_kinds_and_layers_in_a_residual_block(spec, option, old, new):
    path = ROOT / "specs" / spec
    assert grid(option, spec=path).programs() == [edited(old, new, spec=path)]


def test_two_spellings_of_one_value_share_one_run(tmp_path, capsys):
    assert main(["sweep", str(SPEC), *SMALL, "--set", "data.noise=0,0.0", "--jobs", "2",
                 "--out", str(tmp_path / "s")]) == 0
    assert "1 to train" in capsys.readouterr().err
    rows = read_csv(tmp_path / "s" / "sweep.csv")
    assert [r["data.noise"] for r in rows] == ["0", "0.0"] and rows[0]["run"] == rows[1]["run"]
    assert len(list((tmp_path / "s" / "runs").iterdir())) == 1


def test_the_grid_is_the_product_of_the_settings_in_order():
    g = grid("dense_1.units=1,2,3", "train.lr=0.01,0.03")
    assert g.combinations() == [(("dense_1.units", u), ("train.lr", lr)) for u in "123" for lr in ("0.01", "0.03")]
    programs = g.programs()
    assert [(p.model.layers[0].units, p.train.optimizer.lr) for p in programs] == [
        (u, lr) for u in (1, 2, 3) for lr in (np.float32(0.01), np.float32(0.03))]


def test_a_named_layer_and_a_data_source_without_arguments(tmp_path):
    spec = tmp_path / "plane.nn"
    spec.write_text("data plane\nmodel { input 2  dense 4 tanh name=hidden  dense 1 }\nloss mse\n"
                    "train { optimizer sgd  epochs 2 }\n", encoding="utf-8")
    programs = grid("hidden.units=2", "data.noise=0.3", "train.lr=0.1", "loss=mae", spec=spec).programs()
    expected = nndsl.parse("data plane(noise=0.3)\nmodel { input 2  dense 2 tanh name=hidden  dense 1 }\n"
                           "loss mae\ntrain { optimizer sgd(lr=0.1)  epochs 2 }\n", str(spec))
    assert programs == [expected]


# --- errors: pointed at the command line, with did-you-mean --------------------------------------


@pytest.mark.parametrize("options, expected", [
    (["dense_1.unit=1,2"], "--set:1:9: error: dense_1 has no setting 'unit' (did you mean 'units'?)"),
    (["dens_1.units=1"], "--set:1:1: error: unknown setting 'dens_1.units': no layer or block 'dens_1' "
                         "(did you mean 'dense_1'?)"),
    (["train.lr=0.1", "dense_1.units=4,0"], "--set:2:17: error: units must be a positive integer; received units=0"),
    (["train.lrr=1"], "--set:1:7: error: train has no setting 'lrr' (did you mean 'lr'?)"),
    (["data.noize=0.1"], "--set:1:6: error: data has no setting 'noize' (did you mean 'noise'?)"),
    (["dense_1.activation=rleu"], "--set:1:20: error: unknown activation 'rleu' (did you mean 'relu'?)"),
    (["data.features=[x1,x2,x1^3]"], "--set:1:22: error: unknown feature 'x1^3' (did you mean 'x1^2'?)"),
    (["data.noise=0.9"], "--set:1:12: error: noise must be"),
    (["train.lr=0.1", "train.learning_rate=0.2"], "--set:2:1: error: train.learning_rate is set twice"),
    (["dense_1.units=2,,3"], "--set:1:17: error: dense_1.units: empty value"),
    (["dense_1.units=(2"], "--set:1:15: error: dense_1.units: '(2' is not a value"),
    (["units"], "--set:1:1: error: --set takes PATH=V1,V2,…"),
    (["dense_1.units=8,8"], "--set:1:17: error: dense_1.units: 8 is given twice"),
    (["dense_1.activation=" + "[" * 40 + "]" * 40], "--set:1:20: error: dense_1.activation: '[[["),
    # a statement the spec does not have, added and checked: the checker's own message, at the argument
    (["train.checkpoint.evry=2"], "--set:1:18: error: unknown argument 'evry' for checkpoint (did you mean 'every'?)"),
    (["dense_1.name=a"], "--set:1:9: error: dense_1 has no setting 'name'"),
    # an error the setting causes elsewhere in the spec says which setting it was
    (["dense_2.units=2"], "checkerboard.nn:11:5: error: binary_crossentropy predicts one 0/1 label: the output "
                          "needs 1 unit, not 2 (with --set dense_2.units=2)"),
])
def test_bad_settings_are_positioned_errors(options, expected, capsys, tmp_path):
    status = main(["sweep", str(SPEC), *(x for option in options for x in ("--set", option)),
                   "--out", str(tmp_path / "unused")])
    err = capsys.readouterr().err
    assert status == 1
    assert expected in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "unused").exists()


def test_every_bad_value_is_reported_once_with_a_caret():
    with pytest.raises(SettingError) as caught:
        grid("dense_1.units=0,2,-1", "train.lr=0.1,0.2").programs()
    text = caught.value.render()
    assert text.count("error:") == 2, text  # 0 and -1, each once, although each is in two combinations
    assert "    dense_1.units=0,2,-1\n                  ^" in text
    assert "    dense_1.units=0,2,-1\n                      ^~" in text


def test_the_command_line_exits_1_without_a_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "nndsl", "sweep", str(SPEC), "--set", "dense_1.untis=2",
                             "--out", str(tmp_path / "s")], capture_output=True, text=True)
    assert result.returncode == 1
    assert "did you mean 'units'?" in result.stderr and "Traceback" not in result.stderr


def test_address_needs_ray(capsys):
    assert main(["sweep", str(SPEC), "--address", "127.0.0.1:6379"]) == 1
    assert "--address is for --engine ray" in capsys.readouterr().err


# --- runs ---------------------------------------------------------------------------------------------


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def trained_alone(tmp_path: Path, units: int, seed: int) -> dict:
    """`nndsl train` of the spec edited by hand: the history a sweep's run must reproduce."""
    text = SPEC.read_text().replace("dense 8 relu", f"dense {units} relu").replace("samples=500", "samples=100")
    spec = tmp_path / "checkerboard.nn"
    spec.write_text(text.replace("epochs 200", "epochs 3"), encoding="utf-8")
    out = tmp_path / f"alone-{units}-{seed}"
    assert main(["train", str(spec), "--seed", str(seed), "--out", str(out), "--quiet", "--no-plots"]) == 0
    return json.loads((out / "history.json").read_text())


def test_a_sweep_trains_each_setting_and_seed_as_nndsl_train_does(tmp_path, capsys):
    out = tmp_path / "sweep"
    status = main(["sweep", str(SPEC), *SMALL, "--set", "dense_1.units=1,2", "--seeds", "2", "--jobs", "1",
                   "--out", str(out)])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    rows = read_csv(out / "sweep.csv")
    assert [(r["dense_1.units"], r["seed"]) for r in rows] == [("1", "1"), ("1", "2"), ("2", "1"), ("2", "2")]
    assert list(rows[0]) == ["run", "data.samples", "train.epochs", "dense_1.units", "seed", "params", "status",
                             "epochs", "time_s", "loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert [r["params"] for r in rows] == ["5", "5", "9", "9"]  # (2+1)·u + (u+1)
    assert all(r["status"] == "ok" and r["epochs"] == "3" for r in rows)
    for row in rows:
        history = trained_alone(tmp_path, int(row["dense_1.units"]), int(row["seed"]))
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert float(row[key]) == pytest.approx(history[key][-1], rel=1e-6), key
        assert (out / "runs" / row["run"] / "weights.npz").exists()
    capsys.readouterr()
    # the table: one line per setting, mean ± std over the two seeds
    lines = printed.out.strip().splitlines()
    assert lines[0].split() == ["data.samples", "train.epochs", "dense_1.units", "params", "runs", "val_loss",
                                "val_accuracy"]
    accuracies = [float(r["val_accuracy"]) for r in rows]
    mean, std = np.mean(accuracies[:2]), np.std(accuracies[:2], ddof=1)
    assert f"{mean:.4f} ± {std:.4f}" in lines[2]
    assert (out / "sweep.png").read_bytes().startswith(b"\x89PNG")


def test_a_pool_of_two_and_ray_give_the_in_process_results(tmp_path, capsys):
    options = [*SMALL, "--set", "dense_1.units=2,3", "--set", "train.lr=0.1"]
    results = {}
    for name, engine in (("alone", ["--jobs", "1"]), ("pool", ["--jobs", "2"]),
                         ("ray", ["--engine", "ray", "--jobs", "2"])):
        status = main(["sweep", str(SPEC), *options, *engine, "--out", str(tmp_path / name)])
        err = capsys.readouterr().err
        assert status == 0, err
        results[name] = read_csv(tmp_path / name / "sweep.csv")
    for name in ("pool", "ray"):
        assert [r["run"] for r in results[name]] == [r["run"] for r in results["alone"]]
        for row, expected in zip(results[name], results["alone"], strict=True):
            for key in ("loss", "val_loss", "val_accuracy"):
                assert float(row[key]) == pytest.approx(float(expected[key]), rel=1e-6), (name, key)


def test_the_backend_is_the_one_asked_for_and_agrees_with_numpy(tmp_path, capsys):
    require_backend("torch")
    options = ["sweep", str(SPEC), *SMALL, "--set", "dense_1.units=2,4", "--jobs", "1"]
    assert main([*options, "--out", str(tmp_path / "numpy")]) == 0
    assert main([*options, "-b", "torch", "--out", str(tmp_path / "torch")]) == 0
    capsys.readouterr()
    numpy_rows, torch_rows = read_csv(tmp_path / "numpy" / "sweep.csv"), read_csv(tmp_path / "torch" / "sweep.csv")
    assert "import torch" in (tmp_path / "torch" / "runs" / torch_rows[0]["run"] / "model.py").read_text()
    assert {r["run"] for r in torch_rows}.isdisjoint(r["run"] for r in numpy_rows)  # the backend is in the key
    for ours, reference in zip(torch_rows, numpy_rows, strict=True):
        for key in ("loss", "val_loss", "val_accuracy"):  # the backend tests' cross-backend tolerance
            assert float(ours[key]) == pytest.approx(float(reference[key]), rel=1e-4), key


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_an_interrupted_sweep_resumes_without_training_finished_runs_again(tmp_path):
    out = tmp_path / "sweep"
    command = [sys.executable, "-m", "nndsl", "sweep", str(SPEC), "--set", "data.samples=200", "--set",
               "train.epochs=40", "--set", "dense_1.units=1,2,3,4,5,6", "--jobs", "1", "--out", str(out)]
    # Ctrl-C as a terminal sends it: a suite started in the background by a shell without job
    # control inherits SIGINT ignored, and a Python started so never raises KeyboardInterrupt.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_default_sigint)
    try:
        for line in process.stderr:  # interrupted as soon as the first run is recorded
            if line.startswith("[1/6]"):
                process.send_signal(signal.SIGINT)
                break
        _, err = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "interrupted: " in err and "Traceback" not in err
    first = read_csv(out / "sweep.csv")
    assert 1 <= len(first) < 6
    done = {row["run"]: (out / "runs" / row["run"] / "result.json").read_text() for row in first}
    stamps = {run: os.stat(out / "runs" / run / "weights.npz").st_mtime_ns for run in done}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"{len(first)} done already" in result.stderr
    assert f"{6 - len(first)} to train" in result.stderr
    rows = read_csv(out / "sweep.csv")
    assert [r["dense_1.units"] for r in rows] == ["1", "2", "3", "4", "5", "6"]
    for run, text in done.items():  # recorded once, never trained again
        assert (out / "runs" / run / "result.json").read_text() == text
        assert os.stat(out / "runs" / run / "weights.npz").st_mtime_ns == stamps[run]


def test_a_changed_spec_is_trained_again_not_taken_from_the_record(tmp_path, capsys):
    spec = tmp_path / "c.nn"
    spec.write_text(SPEC.read_text(), encoding="utf-8")
    args = ["sweep", str(spec), *SMALL, "--jobs", "1", "--out", str(tmp_path / "s")]
    assert main(args) == 0
    spec.write_text(SPEC.read_text().replace("lr=0.03", "lr=0.05"), encoding="utf-8")
    capsys.readouterr()
    assert main(args) == 0
    assert "1 to train" in capsys.readouterr().err
    assert len(list((tmp_path / "s" / "runs").iterdir())) == 2


def test_a_diverging_run_is_recorded_as_failed_and_the_sweep_exits_1(tmp_path, capsys):
    status = main(["sweep", str(SPEC), *SMALL, "--set", "train.lr=0.03,1e30", "--jobs", "1",
                   "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert status == 1
    rows = read_csv(tmp_path / "s" / "sweep.csv")
    assert rows[0]["status"] == "ok" and rows[1]["status"] != "ok" and rows[1]["val_loss"] == ""
    assert "1 of 2 runs failed" in err
    assert main(["sweep", str(SPEC), *SMALL, "--set", "train.lr=0.03,1e30", "--jobs", "1",
                 "--out", str(tmp_path / "s")]) == 1
    assert "1 done already" in capsys.readouterr().err  # the failed run is tried again, the other is kept


def test_the_plot_has_a_line_per_other_setting_and_a_dot_per_seed():
    entries = [{"settings": {"u": u, "lr": lr}, "seed": seed, "status": "ok",
                "metrics": {"val_accuracy": 0.5 + 0.1 * int(u) + seed / 100}}
               for u in ("1", "2", "4") for lr in ("0.01", "0.1") for seed in (1, 2, 3)]
    figure = draw_sweep(["u", "lr"], entries, "val_accuracy", "t")
    axis = figure.axes[0]
    assert [t.get_text() for t in axis.get_xticklabels()] == ["1", "2", "4"]
    assert [c.get_label() for c in axis.containers] == ["lr=0.01", "lr=0.1"]
    dots = [c for c in axis.collections if c.get_offsets().shape == (3, 2)]
    assert len(dots) == 6  # each setting's three seeds
    means = np.asarray(axis.containers[0].lines[0].get_ydata(), dtype=float)
    np.testing.assert_allclose(means, [0.62, 0.72, 0.92])
