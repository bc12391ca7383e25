"""`nndsl compile -o` and `nndsl train` on the NumPy backend: what they leave on disk, resuming,
divergence, and every way a user's data file or command line can be wrong.

Most runs call `nndsl.cli.main` in-process (fast; an exception escaping it, which would be a
traceback for a user, fails the test). A few run the real `python -m nndsl` to pin the exit
status and the absence of a traceback end to end.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import nndsl
from nndsl.cli import main
from tests.conftest import assert_same_run

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
PNG = b"\x89PNG\r\n\x1a\n"


def run(*args, capsys):
    """`nndsl ARGS` in-process: (exit status, stdout, stderr)."""
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def run_process(*args, cwd=None):
    result = subprocess.run([sys.executable, "-m", "nndsl", *map(str, args)], capture_output=True, text=True, cwd=cwd)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def spec_variant(tmp_path: Path, spec: str, old: str, new: str, name: str | None = None) -> Path:
    """A copy of specs/<spec> in tmp_path with one piece of text replaced (it must occur)."""
    text = (SPECS / spec).read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / (name or spec)
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


# --- nndsl compile -o ---------------------------------------------------------------------------


def test_compile_writes_the_generated_program(tmp_path, capsys):
    out = tmp_path / "model.py"
    status, stdout, stderr = run("compile", SPECS / "checkerboard.nn", "-b", "numpy", "-o", out, capsys=capsys)
    assert status == 0 and stdout == "" and stderr == f"wrote {out}\n"
    program = nndsl.load(SPECS / "checkerboard.nn")
    assert out.read_text(encoding="utf-8") == nndsl.generate(program, data_dir=str(SPECS))
    assert files_in(tmp_path) == ["model.py"]


def test_compile_replaces_an_existing_file_whole(tmp_path, capsys):
    out = tmp_path / "model.py"
    out.write_text("# an old, longer program\n" * 10_000, encoding="utf-8")
    assert run("compile", SPECS / "perceptron.nn", "-o", out, capsys=capsys)[0] == 0
    text = out.read_text(encoding="utf-8")
    assert "old, longer" not in text and text.endswith('sys.exit(main())\n')
    assert files_in(tmp_path) == ["model.py"]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("model {\n    input 2\n    dense 8 rleu\n}\n", "unknown activation 'rleu'"),
        ("model {\n    input 2\n    dense 8 relu\n    dense 1 sigmoid\n}\nloss mae\ntrain { epochs 1 }\n",
         "train needs a data block"),
    ],
    ids=["bad_spec", "train_without_data"],
)
def test_failed_compile_leaves_the_old_file_and_no_temporaries(tmp_path, capsys, spec, message):
    (tmp_path / "bad.nn").write_text(spec, encoding="utf-8")
    out = tmp_path / "model.py"
    out.write_text("# the previous program\n", encoding="utf-8")
    status, stdout, stderr = run("compile", tmp_path / "bad.nn", "-o", out, capsys=capsys)
    assert status == 1 and message in stderr
    assert out.read_text(encoding="utf-8") == "# the previous program\n"
    assert files_in(tmp_path) == ["bad.nn", "model.py"]


def test_compile_interrupted_while_writing_leaves_the_old_file(tmp_path, capsys, monkeypatch):
    out = tmp_path / "model.py"
    out.write_text("# the previous program\n", encoding="utf-8")

    def interrupted(fd):
        raise KeyboardInterrupt  # Ctrl-C after the temporary file is written, before the rename

    monkeypatch.setattr("nndsl.files.os.fsync", interrupted)
    status, _, stderr = run("compile", SPECS / "checkerboard.nn", "-o", out, capsys=capsys)
    assert status == 130 and "interrupted" in stderr
    assert out.read_text(encoding="utf-8") == "# the previous program\n"
    assert files_in(tmp_path) == ["model.py"]


def test_compile_to_an_unwritable_place_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    status, _, stderr = run("compile", SPECS / "checkerboard.nn", "-o", tmp_path / "out", capsys=capsys)
    assert status == 1 and "is a directory" in stderr
    status, _, stderr = run("compile", SPECS / "checkerboard.nn", "-o", tmp_path / "missing" / "m.py", capsys=capsys)
    assert status == 1 and "does not exist" in stderr
    status, _, stderr = run("compile", SPECS / "checkerboard.nn", "-o", "/proc/model.py", capsys=capsys)
    assert status == 1 and stderr.startswith("nndsl: error: cannot write /proc/model.py")



@pytest.mark.parametrize("command", ["compile", "train"])
@pytest.mark.parametrize("target", ["gpu", "tpu"])
def test_numpy_on_an_accelerator_is_a_clear_error_and_writes_nothing(tmp_path, capsys, command, target):
    out = tmp_path / ("model.py" if command == "compile" else "run")
    flag = "-o" if command == "compile" else "--out"
    status, stdout, stderr = run(command, SPECS / "checkerboard.nn", "-b", "numpy", "-t", target, flag, out,
                                 capsys=capsys)
    assert status == 1
    assert stderr == (f"nndsl: error: the numpy backend runs on the CPU only, so target '{target}' is not "
                      f"available; use -t cpu, or -b torch / -b tensorflow for a GPU or TPU\n")
    assert not out.exists()

# --- nndsl train: what it leaves -------------------------------------------------------------------


def test_train_leaves_weights_history_checkpoint_program_and_plots(tmp_path, capsys):
    out = tmp_path / "run"
    status, stdout, stderr = run("train", SPECS / "checkerboard.nn", "--epochs", "3", "--out", out, capsys=capsys)
    assert status == 0, stderr
    assert files_in(out) == [  # three epochs, checkpoints every 10 and at the end: one checkpoint
        "checkpoint.npz", "decision_boundary.png", "history.json", "loss.png", "model.py", "weights.npz",
    ]
    # One line per epoch on stderr, Keras style; the final validation metrics on stdout.
    epochs = [line for line in stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split(" - ")[0] for line in epochs] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert "val_accuracy: " in epochs[-1]
    assert stdout.startswith("validation: loss: ") and " - accuracy: " in stdout

    with np.load(out / "weights.npz", allow_pickle=False) as weights:
        shapes = {name: weights[name].shape for name in weights.files}
        dtypes = {weights[name].dtype for name in weights.files}
    assert shapes == {"dense_1.W": (8, 2), "dense_1.b": (8,), "dense_2.W": (1, 8), "dense_2.b": (1,)}
    assert dtypes == {np.dtype(np.float32)}

    history = json.loads((out / "history.json").read_text())
    assert list(history) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert all(len(values) == 3 for values in history.values()) and history["lr"] == [0.03] * 3
    assert all(0 <= a <= 1 for a in history["accuracy"] + history["val_accuracy"])

    program = nndsl.load(SPECS / "checkerboard.nn")
    run_program = dataclasses.replace(  # --epochs 3, which the program's comment on EPOCHS records
        program, train=dataclasses.replace(program.train, epochs=3, overridden=(("epochs", 200),)))
    assert (out / "model.py").read_text() == nndsl.generate(run_program, data_dir=str(SPECS.resolve()))
    for png in ("loss.png", "decision_boundary.png"):
        assert (out / png).read_bytes().startswith(PNG)


def test_train_one_dimensional_input_plots_the_fit(tmp_path, capsys):
    out = tmp_path / "run"
    status, _, stderr = run("train", SPECS / "staircase.nn", "--epochs", "1", "--out", out, "--quiet", capsys=capsys)
    assert status == 0, stderr
    assert (out / "fit.png").read_bytes().startswith(PNG)
    assert (out / "loss.png").read_bytes().startswith(PNG)
    assert not (out / "decision_boundary.png").exists()


def test_train_end_to_end_in_a_process(tmp_path):
    result = run_process("train", SPECS / "perceptron.nn", "--epochs", "2", "--out", tmp_path / "run", "--no-plots")
    assert result.returncode == 0, result.stderr
    assert "saved weights.npz, history.json, checkpoint.npz, model.py" in result.stdout
    assert sorted(json.loads((tmp_path / "run" / "history.json").read_text())) == ["loss", "lr", "mae", "val_loss", "val_mae"]


# --- resuming and diverging -----------------------------------------------------------------------------


def read_run(out: Path):
    with np.load(out / "weights.npz", allow_pickle=False) as stored:
        weights = {name: stored[name] for name in stored.files}
    return weights, json.loads((out / "history.json").read_text())


@pytest.mark.parametrize("spec", ["spiral3.nn", "circle.nn"])  # dropout + nesterov; adam
def test_resume_ends_bitwise_where_an_uninterrupted_run_ends(tmp_path, capsys, spec):
    straight, parts = tmp_path / "straight", tmp_path / "parts"
    common = ["--no-plots", "--quiet", "--checkpoint-every", "2"]
    assert run("train", SPECS / spec, "--epochs", "7", "--out", straight, *common, capsys=capsys)[0] == 0
    assert run("train", SPECS / spec, "--epochs", "3", "--out", parts, *common, capsys=capsys)[0] == 0
    status, _, stderr = run("train", SPECS / spec, "--epochs", "7", "--out", parts, "--resume", *common, capsys=capsys)
    assert status == 0 and "resuming at epoch 3" in stderr
    weights, history = read_run(straight)
    resumed_weights, resumed_history = read_run(parts)
    assert resumed_history == history and all(len(v) == 7 for v in history.values())
    assert sorted(resumed_weights) == sorted(weights)
    for name, value in weights.items():
        assert np.array_equal(resumed_weights[name], value), name


def test_diverging_training_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    good = SPECS / "perceptron.nn"
    assert run("train", good, "--epochs", "2", "--out", out, "--no-plots", "--checkpoint-every", "1",
               capsys=capsys)[0] == 0
    checkpoint = (out / "checkpoint.npz").read_bytes()
    weights = (out / "weights.npz").read_bytes()

    # The same model with a learning rate of 1e30, resumed from that checkpoint.
    wild = spec_variant(tmp_path, "perceptron.nn", "sgd(lr=0.01)", "sgd(lr=1e30)")
    status, _, stderr = run("train", wild, "--epochs", "10", "--out", out, "--resume", "--no-plots",
                            "--checkpoint-every", "1", capsys=capsys)
    assert status == 1
    assert "nndsl: error: epoch 3: the validation loss became inf; try a smaller learning rate" in stderr
    assert (out / "checkpoint.npz").read_bytes() == checkpoint
    assert (out / "weights.npz").read_bytes() == weights  # the results of the good run stay too
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_diverging_from_the_start_writes_no_checkpoint_and_one_clear_message(tmp_path):
    wild = spec_variant(tmp_path, "checkerboard.nn", "sgd(lr=0.03)", "sgd(lr=1e30)")
    result = run_process("train", wild, "--out", tmp_path / "run", "--checkpoint-every", "1", "--quiet")
    assert result.returncode == 1
    # No RuntimeWarnings about overflow from inside the generated code: just what happened.
    assert re.fullmatch(r"nndsl: error: epoch 1: the loss became (nan|inf); try a smaller learning rate\n", result.stderr)
    assert not (tmp_path / "run").exists()  # nothing was written: the folder the run made is gone again


# --- bad data files ---------------------------------------------------------------------------------

REGRESSION = """
data csv("d.csv", target=y)
model { input 2  dense 4 relu  dense 1 }
loss mse
train { optimizer sgd(lr=0.01)  batch 4  epochs 2 }
"""
BINARY = REGRESSION.replace("dense 1 }", "dense 1 sigmoid }").replace("loss mse", "loss binary_crossentropy")
CLASSES = REGRESSION.replace("dense 1 }", "dense 3 softmax }").replace("loss mse", "loss categorical_crossentropy")
NPZ = REGRESSION.replace('csv("d.csv", target=y)', 'npz("d.npz")')
GOOD_ROWS = "1,2,0\n2,3,1\n3,4,1\n4,5,0\n5,6,1\n"

BAD_CSV = [
    ("missing", REGRESSION, None, "d.csv: no such file"),
    ("not_a_number", REGRESSION, "a,b,y\n1,2,3\n2,x,4\n3,4,5\n", "d.csv:3: 'x' in column 'b' is not a number"),
    ("nan", REGRESSION, "a,b,y\n1,2,3\nnan,3,4\n3,4,5\n", "d.csv:3: 'nan' in column 'a': NaN and infinite values are not allowed"),
    ("no_target_column", REGRESSION, "a,b,z\n" + GOOD_ROWS, "d.csv:1: no target column 'y'; the header has 'a', 'b', 'z'"),
    ("too_wide", REGRESSION, "a,b,c,y\n1,2,3,4\n2,3,4,5\n3,4,5,6\n", "d.csv: the model takes 2 input features, but the data has rows of 3 features"),
    ("too_narrow", REGRESSION, "a,y\n1,2\n2,3\n3,4\n", "d.csv: the model takes 2 input features, but the data has rows of 1 feature"),
    ("binary_label_2", BINARY, "a,b,y\n" + GOOD_ROWS + "6,7,2\n", "d.csv: binary_crossentropy needs labels 0 or 1; data row 6 has 2\n"),
    ("class_out_of_range", CLASSES, "a,b,y\n" + GOOD_ROWS + "6,7,3\n", "d.csv: the model has 3 classes, so labels must be integers 0 to 2; data row 6 has 3\n"),
    ("class_not_integer", CLASSES, "a,b,y\n" + GOOD_ROWS + "6,7,1.5\n", "labels must be integers 0 to 2; data row 6 has 1.5\n"),
    ("class_negative", CLASSES, "a,b,y\n" + GOOD_ROWS + "6,7,-1\n", "labels must be integers 0 to 2; data row 6 has -1\n"),
]


@pytest.mark.parametrize("spec, csv, message", [case[1:] for case in BAD_CSV], ids=[case[0] for case in BAD_CSV])
def test_bad_csv_is_a_clear_error(tmp_path, capsys, spec, csv, message):
    (tmp_path / "spec.nn").write_text(spec, encoding="utf-8")
    if csv is not None:
        (tmp_path / "d.csv").write_text(csv, encoding="utf-8")
    status, stdout, stderr = run("train", tmp_path / "spec.nn", "--out", tmp_path / "run", capsys=capsys)
    assert status == 1
    assert stderr.startswith("nndsl: error: ") and message in stderr, stderr
    assert stdout == ""
    assert not (tmp_path / "run" / "weights.npz").exists()


def test_good_csv_variants_train(tmp_path, capsys):
    """The bad cases above differ from working files only in what they get wrong."""
    for spec, rows in ((REGRESSION, "a,b,y\n" + GOOD_ROWS), (BINARY, "a,b,y\n" + GOOD_ROWS),
                       (CLASSES, "a,b,y\n" + GOOD_ROWS + "6,7,2\n")):
        (tmp_path / "spec.nn").write_text(spec, encoding="utf-8")
        (tmp_path / "d.csv").write_text(rows, encoding="utf-8")
        status, _, stderr = run("train", tmp_path / "spec.nn", "--out", tmp_path / "run", "--no-plots", capsys=capsys)
        assert status == 0, stderr


class Unpickled:
    """Unpickling this calls open(marker, "w"): if the marker file appears, something unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_npz_with_pickled_objects_is_refused_and_never_unpickled(tmp_path, capsys):
    marker = tmp_path / "unpickled"
    x = np.empty((6, 2), dtype=object)
    x[:] = [[Unpickled(marker)] * 2] * 6
    np.savez(tmp_path / "d.npz", x=x, y=np.zeros(6))
    (tmp_path / "spec.nn").write_text(NPZ, encoding="utf-8")
    status, _, stderr = run("train", tmp_path / "spec.nn", "--out", tmp_path / "run", capsys=capsys)
    assert status == 1
    assert "d.npz: array 'x' holds Python objects; nndsl never unpickles data" in stderr
    assert not marker.exists()


@pytest.mark.parametrize("arrays, message", [
    (None, "d.npz: no such file"),
    ({"x": np.ones((6, 2, 1)), "y": np.zeros(6)}, "d.npz: the model takes 2 input features, but the data has images "
                                                   "of 2x1x1"),  # (3-D x: images of one channel)
    ({"x": np.ones((6, 2)), "y": np.zeros(5)}, "d.npz: 'x' has 6 samples but 'y' has 5"),
    ({"x": np.ones((6, 3)), "y": np.zeros(6)}, "d.npz: the model takes 2 input features, but the data has rows of 3 features"),
    ({"x": np.full((6, 2), np.nan), "y": np.zeros(6)}, "d.npz: 'x'[0, 0] = nan is not a finite number"),
    ({"X": np.ones((6, 2)), "y": np.zeros(6)}, "d.npz: no array 'x' (did you mean 'X'?); the file holds 'X', 'y'"),
], ids=["missing", "3-d", "rows", "too_wide", "nan", "key"])
def test_bad_npz_is_a_clear_error_and_exit_1(tmp_path, capsys, arrays, message):
    if arrays is not None:
        np.savez(tmp_path / "d.npz", **arrays)
    (tmp_path / "spec.nn").write_text(NPZ, encoding="utf-8")
    status, stdout, stderr = run("train", tmp_path / "spec.nn", "--out", tmp_path / "run", capsys=capsys)
    assert status == 1 and stdout == ""
    assert stderr == f"nndsl: error: {tmp_path / message}\n"
    assert not (tmp_path / "run").exists()  # made before the data was read, removed again


def test_a_run_that_fails_before_writing_removes_only_the_folders_it_made(tmp_path, capsys):
    (tmp_path / "spec.nn").write_text(NPZ, encoding="utf-8")  # no d.npz
    status, _, _ = run("train", tmp_path / "spec.nn", "--out", tmp_path / "a" / "b" / "run", capsys=capsys)
    assert status == 1 and not (tmp_path / "a").exists()
    (tmp_path / "mine").mkdir()
    status, _, _ = run("train", tmp_path / "spec.nn", "--out", tmp_path / "mine" / "run", capsys=capsys)
    assert status == 1 and files_in(tmp_path / "mine") == []  # the user's folder stays


def test_generated_script_that_fails_before_writing_removes_the_folders_it_made(tmp_path):
    script = tmp_path / "model.py"
    script.write_text(nndsl.generate(nndsl.load(SPECS / "income.nn")), encoding="utf-8")
    result = subprocess.run([sys.executable, str(script), "--out", "a/b/run", "--data-dir", "nowhere"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1 and result.stderr == f"error: {Path('nowhere/data/income.csv')}: no such file\n"
    assert files_in(tmp_path) == ["model.py"]


def test_truncated_npz_is_a_clear_error(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", x=np.ones((50, 2)), y=np.zeros(50))
    data = (tmp_path / "d.npz").read_bytes()
    (tmp_path / "d.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "spec.nn").write_text(NPZ, encoding="utf-8")
    status, _, stderr = run("train", tmp_path / "spec.nn", "--out", tmp_path / "run", capsys=capsys)
    assert status == 1 and "d.npz: a corrupt or truncated .npz file" in stderr


def npy_member(header: bytes | dict, data: bytes) -> bytes:
    """An .npy file with the given header (a dict NumPy writes, or raw bytes) and data."""
    from numpy.lib import format as npy

    stream = io.BytesIO()
    if isinstance(header, dict):
        npy.write_array_header_1_0(stream, header)
    else:
        stream.write(npy.magic(1, 0) + len(header).to_bytes(2, "little") + header)
    return stream.getvalue() + data


@pytest.mark.parametrize("header, message", [
    ({"descr": "<f8", "fortran_order": False, "shape": (99_999_999_999, 2)},
     "its header claims shape (99999999999, 2) of float64, 1,599,999,999,984 bytes, but it holds"),
    ({"descr": "<f8", "fortran_order": False, "shape": (400_000_000, 2)}, "6,400,000,000 bytes, but it holds"),
    (b"{'descr': '<f8', 'fortran_order': False, 'shape': (6, 2), }" + b" " * 3 + b"(\n", "is corrupt (unreadable header"),
    (b"{'descr': '<f8', 'fortran_order': False, 'shape': (6, 'x'), }     \n", "is corrupt"),
], ids=["terabytes", "gigabytes", "broken-literal", "bad-shape"])
def test_npz_whose_header_claims_what_it_does_not_hold_is_a_clear_error(tmp_path, capsys, header, message):
    """A damaged or hostile .npy header: NumPy would allocate the claimed shape first (a MemoryError
    traceback for terabytes) or fail in its literal parser (SyntaxError, TypeError)."""
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as archive:
        archive.writestr("x.npy", npy_member(header, np.ones(12).tobytes()))
        stream = io.BytesIO()
        np.save(stream, np.zeros(6))
        archive.writestr("y.npy", stream.getvalue())
    (tmp_path / "spec.nn").write_text(NPZ, encoding="utf-8")
    status, _, stderr = run("train", tmp_path / "spec.nn", "--out", tmp_path / "run", capsys=capsys)
    assert status == 1
    assert stderr.startswith(f"nndsl: error: {tmp_path / 'd.npz'}: array 'x' ") and message in stderr, stderr


def test_bad_data_in_a_process_exits_1_without_traceback(tmp_path):
    (tmp_path / "spec.nn").write_text(BINARY, encoding="utf-8")
    (tmp_path / "d.csv").write_text("a,b,y\n" + GOOD_ROWS + "6,7,5\n", encoding="utf-8")
    result = run_process("train", "spec.nn", "--out", "run", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == f"nndsl: error: {tmp_path / 'd.csv'}: binary_crossentropy needs labels 0 or 1; data row 6 has 5\n"


# --- bad command lines ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "argument --epochs: must be a positive integer, not '0'"),
        (["--epochs", "abc"], "argument --epochs: must be a positive integer, not 'abc'"),
        (["--epochs", "-3"], "argument --epochs: must be a positive integer, not '-3'"),
        (["--checkpoint-every", "0"], "argument --checkpoint-every: must be a positive integer"),
        (["--seed", "x"], "argument --seed: must be an integer"),
        (["-b", "jax"], "argument -b/--backend: invalid choice: 'jax'"),
        (["-t", "quantum"], "argument -t/--target: invalid choice: 'quantum'"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_bad_train_arguments(tmp_path, capsys, args, message):
    status, stdout, stderr = run("train", SPECS / "checkerboard.nn", "--out", tmp_path / "run", *args, capsys=capsys)
    assert status == 1 and message in stderr and stdout == ""
    assert not (tmp_path / "run").exists()


def test_out_pointing_at_a_file(tmp_path, capsys):
    (tmp_path / "taken").write_text("not a folder", encoding="utf-8")
    status, _, stderr = run("train", SPECS / "checkerboard.nn", "--out", tmp_path / "taken", capsys=capsys)
    assert status == 1 and stderr == f"nndsl: error: --out {tmp_path / 'taken'} exists and is not a folder\n"
    assert (tmp_path / "taken").read_text(encoding="utf-8") == "not a folder"


def test_resume_without_a_checkpoint(tmp_path, capsys):
    status, _, stderr = run("train", SPECS / "checkerboard.nn", "--out", tmp_path / "run", "--resume", capsys=capsys)
    assert status == 1 and stderr == f"nndsl: error: nothing to resume: no checkpoint.npz in {tmp_path / 'run'}\n"


def test_resume_from_a_corrupt_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert run("train", SPECS / "checkerboard.nn", "--epochs", "1", "--out", out, "--no-plots", capsys=capsys)[0] == 0
    (out / "checkpoint.npz").write_bytes(b"PK\x03\x04 not really a zip")
    status, _, stderr = run("train", SPECS / "checkerboard.nn", "--out", out, "--resume", capsys=capsys)
    assert status == 1 and "checkpoint.npz: unreadable checkpoint" in stderr


def test_resume_from_a_text_file_says_it_is_no_checkpoint_and_never_suggests_unpickling(tmp_path, capsys):
    out = tmp_path / "run"
    assert run("train", SPECS / "checkerboard.nn", "--epochs", "1", "--out", out, "--no-plots", capsys=capsys)[0] == 0
    (out / "checkpoint.npz").write_text("epoch 1\nloss 0.5\n", encoding="utf-8")
    status, _, stderr = run("train", SPECS / "checkerboard.nn", "--out", out, "--resume", capsys=capsys)
    assert status == 1
    assert stderr == f"nndsl: error: {out / 'checkpoint.npz'}: not an nndsl checkpoint (not an .npz archive)\n"
    (out / "checkpoint.npz").write_bytes(b"")
    status, _, stderr = run("train", SPECS / "checkerboard.nn", "--out", out, "--resume", capsys=capsys)
    assert status == 1 and stderr.endswith("checkpoint.npz: not an nndsl checkpoint (an empty file)\n")


# What a checkpoint of checkerboard.nn (sgd, dense 8 relu, accuracy) cannot continue into, and why.
MISFITS = [
    ("checkerboard_2.nn", None, None, "was written for a different model: dense_1.W is (8, 2) there and (2, 2) here"),
    ("checkerboard.nn", "sgd(lr=0.03)", "adam(lr=0.03)", "was written with optimizer sgd; this spec trains with adam"),
    ("checkerboard.nn", "sgd(lr=0.03)", "sgd(lr=0.03, momentum=0.9)",
     "was written with optimizer sgd; this spec trains with sgd with momentum"),
    ("checkerboard.nn", "dense 8 relu", "dense 8 relu name=hidden", "was written for a different model: it has no hidden.W"),
    ("checkerboard.nn", "metrics accuracy", "metrics accuracy, mse",
     "was written for other metrics: its history has loss, accuracy, val_loss, val_accuracy, lr; "
     "this spec records loss, accuracy, mse, val_loss, val_accuracy, val_mse, lr"),
]


@pytest.mark.parametrize("spec, old, new, message", MISFITS, ids=["model", "adam", "momentum", "names", "metrics"])
def test_resume_refuses_a_checkpoint_that_does_not_fit_the_spec(tmp_path, capsys, spec, old, new, message):
    out = tmp_path / "run"
    assert run("train", SPECS / "checkerboard.nn", "--epochs", "2", "--out", out, "--no-plots", capsys=capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    other = SPECS / spec if old is None else spec_variant(tmp_path, spec, old, new)
    status, stdout, stderr = run("train", other, "--out", out, "--resume", "--no-plots", capsys=capsys)
    assert status == 1 and stdout == ""
    assert stderr == f"nndsl: error: {out / 'checkpoint.npz'} {message}\n"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_resume_refuses_another_optimizer_state_where_the_model_fits(tmp_path, capsys):
    """circle.nn trains with Adam; freezing a layer keeps every weight's shape but not the optimizer's state."""
    out = tmp_path / "run"
    assert run("train", SPECS / "circle.nn", "--epochs", "1", "--out", out, "--no-plots", capsys=capsys)[0] == 0
    frozen = spec_variant(tmp_path, "circle.nn", "dense 8 tanh", "dense 8 tanh trainable=false")
    status, _, stderr = run("train", frozen, "--out", out, "--resume", "--no-plots", capsys=capsys)
    assert status == 1
    assert re.fullmatch(r"nndsl: error: \S+checkpoint\.npz was written with a different optimizer state: "
                        r"m\.0 is \(\d+,\) there and \(\d+,\) here\n", stderr), stderr


def test_resume_with_another_learning_rate_fine_tunes(tmp_path, capsys):
    """Hyper-parameters are not part of what a checkpoint must fit: resumed with lr=1e-30, an epoch of
    Adam (steps of about lr) leaves the weights as they were, up to float32's rounding."""
    out = tmp_path / "run"
    assert run("train", SPECS / "circle.nn", "--epochs", "2", "--out", out, "--no-plots", capsys=capsys)[0] == 0
    before, _ = read_run(out)
    still = spec_variant(tmp_path, "circle.nn", "adam(lr=0.01)", "adam(lr=1e-30)")
    status, _, stderr = run("train", still, "--epochs", "3", "--out", out, "--resume", "--no-plots", capsys=capsys)
    assert status == 0, stderr
    after, history = read_run(out)
    assert len(history["loss"]) == 3
    for name, value in before.items():
        np.testing.assert_allclose(after[name], value, rtol=1e-6, atol=0, err_msg=name)


def test_resume_reads_a_checkpoint_of_an_older_version_that_records_no_backend_or_optimizer(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["--no-plots", "--quiet"]
    assert run("train", SPECS / "circle.nn", "--epochs", "2", "--out", out, *common, capsys=capsys)[0] == 0
    module = load_module(out / "model.py")
    arrays, header = module._read_checkpoint(out / "checkpoint.npz")
    old_header = {key: value for key, value in header.items() if key not in ("backend", "optimizer")}
    module.save_checkpoint(out / "checkpoint.npz", arrays, old_header)
    (out / "checkpoint.prev.npz").unlink(missing_ok=True)
    status, _, stderr = run("train", SPECS / "circle.nn", "--epochs", "3", "--out", out, "--resume", *common,
                            capsys=capsys)
    assert status == 0 and "resuming at epoch 2" in stderr
    # ... and its arrays are still compared
    module.save_checkpoint(out / "checkpoint.npz", arrays, old_header)
    status, _, stderr = run("train", SPECS / "checkerboard_2.nn", "--out", out, "--resume", *common, capsys=capsys)
    assert status == 1 and "was written for a different model: dense_1.W is (8, 2) there and (2, 2) here" in stderr


def test_resume_in_a_process_that_does_not_fit_is_one_error_line(tmp_path):
    out = tmp_path / "run"
    assert run_process("train", SPECS / "checkerboard.nn", "--epochs", "1", "--out", out, "--no-plots").returncode == 0
    result = run_process("train", SPECS / "checkerboard_2.nn", "--out", out, "--resume", "--no-plots")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr


def test_resume_to_fewer_epochs_than_the_checkpoint_is_an_error(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["--no-plots", "--quiet"]
    assert run("train", SPECS / "checkerboard.nn", "--epochs", "5", "--out", out, *common, capsys=capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    status, stdout, stderr = run("train", SPECS / "checkerboard.nn", "--epochs", "2", "--out", out, "--resume", *common,
                                 capsys=capsys)
    assert status == 1 and stdout == ""
    assert stderr == (f"nndsl: error: the checkpoint in {out} is at epoch 5 already, past --epochs 2; "
                      "resume with --epochs 5 or more\n")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    short = spec_variant(tmp_path, "checkerboard.nn", "epochs 200", "epochs 4")
    status, _, stderr = run("train", short, "--out", out, "--resume", *common, capsys=capsys)
    assert status == 1 and "is at epoch 5 already, past the spec's 4 epochs; resume with --epochs 5 or more" in stderr
    # As many epochs as the checkpoint has: nothing to train, the results are written again.
    (out / "weights.npz").unlink()
    status, _, stderr = run("train", SPECS / "checkerboard.nn", "--epochs", "5", "--out", out, "--resume", *common,
                            capsys=capsys)
    assert status == 0, stderr
    assert (out / "weights.npz").read_bytes() == before["weights.npz"]
    assert (out / "history.json").read_bytes() == before["history.json"]


def test_resume_into_a_missing_folder_creates_nothing(tmp_path, capsys):
    out = tmp_path / "missing" / "run"
    status, _, stderr = run("train", SPECS / "checkerboard.nn", "--out", out, "--resume", capsys=capsys)
    assert status == 1 and stderr == f"nndsl: error: nothing to resume: no checkpoint.npz in {out}\n"
    assert not (tmp_path / "missing").exists()


def test_resume_falls_back_to_the_previous_checkpoint_and_still_ends_bitwise(tmp_path, capsys):
    """checkpoint.prev.npz is the one before: a corrupt checkpoint.npz costs epochs, not the run."""
    straight, parts = tmp_path / "straight", tmp_path / "parts"
    common = ["--no-plots", "--quiet", "--checkpoint-every", "1"]
    assert run("train", SPECS / "spiral3.nn", "--epochs", "4", "--out", straight, *common, capsys=capsys)[0] == 0
    assert run("train", SPECS / "spiral3.nn", "--epochs", "2", "--out", parts, *common, capsys=capsys)[0] == 0
    data = (parts / "checkpoint.npz").read_bytes()
    (parts / "checkpoint.npz").write_bytes(data[: len(data) // 2])  # torn by a crash, say
    status, stdout, stderr = run("train", SPECS / "spiral3.nn", "--epochs", "4", "--out", parts, "--resume", *common,
                                 capsys=capsys)
    assert status == 0, stderr
    assert "resuming from checkpoint.prev.npz instead" in stderr and "resuming at epoch 1" in stderr
    assert "warning" not in stdout
    weights, history = read_run(straight)
    resumed_weights, resumed_history = read_run(parts)
    assert resumed_history == history
    assert all(np.array_equal(resumed_weights[name], value) for name, value in weights.items())


# --- what the run writes: failures, and the program it keeps -----------------------------------------------


def failing_replace(failing_name: str, monkeypatch):
    """Make every atomic write of a file named `failing_name` fail as a full disk does."""
    real = os.replace

    def replace(source, target, *args, **kwargs):
        if Path(target).name == failing_name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("failing, message", [
    ("checkpoint.npz", "cannot write {out}/checkpoint.npz: No space left on device"),
    ("weights.npz", "cannot write in {out}: No space left on device"),
    ("model.py", "cannot write in {out}: No space left on device"),
])
def test_a_failed_write_is_one_clear_error(tmp_path, capsys, monkeypatch, failing, message):
    out = tmp_path / "run"
    failing_replace(failing, monkeypatch)
    status, _, stderr = run("train", SPECS / "checkerboard.nn", "--epochs", "2", "--out", out, "--no-plots",
                            "--quiet", capsys=capsys)
    assert status == 1 and stderr == f"nndsl: error: {message.format(out=out)}\n"
    left = files_in(out) if out.exists() else []  # the first checkpoint failed: nothing was written
    assert not [name for name in left if name.endswith(".tmp")]
    assert out.exists() == (failing != "checkpoint.npz")


def test_saved_program_reproduces_the_run_with_its_seed_and_epochs(tmp_path, capsys):
    out = tmp_path / "run"
    status, _, stderr = run("train", SPECS / "circle.nn", "--seed", "5", "--epochs", "3", "--out", out, "--no-plots",
                            "--quiet", capsys=capsys)
    assert status == 0, stderr
    source = (out / "model.py").read_text(encoding="utf-8")
    spec = nndsl.load(SPECS / "circle.nn").train
    # each setting the command line replaced says so, and what the spec had
    assert f"\nSEED = 5  # initial weights, batch order; from nndsl train --seed (the spec says {spec.seed})\n" in source
    assert f"\nEPOCHS = 3  # from nndsl train --epochs (the spec says {spec.epochs})\n" in source
    assert "\nDATA_SEED = 3  # the data set and its split\n" in source  # the spec's: --seed changes no data
    assert "\nCHECKPOINT_EVERY = 10  # epochs between checkpoints, when checkpointing\n" in source  # not given
    again = tmp_path / "again"
    result = subprocess.run([sys.executable, str(out / "model.py"), "--out", str(again)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    weights, history = read_run(out)
    weights_again, history_again = read_run(again)
    assert_same_run(history, history_again, weights, weights_again)  # another process: float32 rounding


def test_saved_program_keeps_the_data_seed_a_spec_takes_from_its_training_seed(tmp_path, capsys):
    program = nndsl.load(SPECS / "perceptron.nn")
    assert program.data.seed is None  # the data seed is the training seed
    out = tmp_path / "run"
    status, _, stderr = run("train", SPECS / "perceptron.nn", "--seed", "5", "--epochs", "1", "--out", out,
                            "--no-plots", capsys=capsys)
    assert status == 0, stderr
    module = load_module(out / "model.py")
    assert (module.SEED, module.DATA_SEED, module.EPOCHS) == (5, program.data_seed, 1)


def load_module(path: Path):
    from nndsl.codegen import load_module as load_source

    return load_source(path.read_text(encoding="utf-8"))


def test_unknown_backend_in_a_process(tmp_path):
    for command in (["train", SPECS / "checkerboard.nn"], ["compile", SPECS / "checkerboard.nn"]):
        result = run_process(*command, "-b", "jax", cwd=tmp_path)
        assert result.returncode == 1
        assert "invalid choice: 'jax' (choose from 'numpy', 'torch', 'tensorflow')" in result.stderr


def test_paths_in_train_messages_cannot_drive_the_terminal(tmp_path, capsys):
    out = tmp_path / "run\x1b[2J\x07"  # a folder name that clears the screen and rings the bell
    status, stdout, stderr = run("train", SPECS / "checkerboard.nn", "--epochs", "1", "--out", out, "--no-plots",
                                 capsys=capsys)
    assert status == 0, stderr
    assert "run\\x1b[2J\\x07" in stdout and "\x1b" not in stdout + stderr and "\x07" not in stdout + stderr
    other = tmp_path / "other\x1b]0;title\x07"
    status, stdout, stderr = run("train", SPECS / "checkerboard.nn", "--out", other, "--resume", capsys=capsys)
    assert status == 1
    assert "nothing to resume" in stderr and "other\\x1b]0;title\\x07" in stderr and "\x1b" not in stderr


def test_epoch_times_read_like_keras():
    from nndsl.train import duration

    assert [duration(s) for s in (0.0001, 0.0123, 0.34, 2.46, 41.4)] == ["1ms", "12ms", "340ms", "2.5s", "41s"]


def test_no_plots_says_no_plots_were_saved(tmp_path, capsys):
    status, stdout, _ = run("train", ROOT / "specs" / "checkerboard.nn", "--epochs", "1", "--out", tmp_path / "run",
                            "--no-plots", "--quiet", capsys=capsys)
    assert status == 0
    assert f"saved weights.npz, history.json, checkpoint.npz, model.py in {tmp_path / 'run'}\n" in stdout
    assert not list((tmp_path / "run").glob("*.png"))


def test_a_fresh_run_into_an_earlier_runs_folder_says_it_removed_its_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    flags = ("--out", out, "--no-plots", "--quiet")
    status, _, stderr = run("train", SPECS / "checkerboard.nn", "--epochs", "1", *flags, capsys=capsys)
    assert status == 0 and stderr == ""
    status, _, stderr = run("train", SPECS / "checkerboard.nn", "--epochs", "2", *flags, capsys=capsys)
    assert status == 0
    assert stderr == f"note: a fresh run: removed the checkpoint of an earlier run in {out} (--resume would have continued it)\n"
    status, _, stderr = run("train", SPECS / "checkerboard.nn", "--epochs", "3", "--resume", *flags, capsys=capsys)
    assert status == 0 and stderr.startswith("resuming at epoch 2 from") and "note:" not in stderr

    script = tmp_path / "model.py"
    script.write_text(nndsl.generate(nndsl.load(SPECS / "checkerboard.nn")), encoding="utf-8")
    for expected in ("", f"note: a fresh run: removed the checkpoint of an earlier run in {Path('again')} "
                         "(--resume would have continued it)\n"):
        result = subprocess.run([sys.executable, str(script), "--epochs", "1", "--out", "again"], capture_output=True,
                                text=True, cwd=tmp_path)
        assert result.returncode == 0 and result.stderr == expected


# --- split 1: training on every sample --------------------------------------------------------


def test_split_1_trains_on_every_sample_without_validation(tmp_path, capsys):
    spec = spec_variant(tmp_path, "checkerboard.nn", "split 0.5", "split 1")
    status, out, err = run("train", spec, "--epochs", "2", "--out", tmp_path / "run", capsys=capsys)
    assert status == 0, err
    history = json.loads((tmp_path / "run" / "history.json").read_text(encoding="utf-8"))
    assert list(history) == ["loss", "accuracy", "lr"] and len(history["loss"]) == 2
    assert "val_" not in out and "validation:" not in out
    assert (tmp_path / "run" / "decision_boundary.png").read_bytes().startswith(PNG)
    assert (tmp_path / "run" / "loss.png").read_bytes().startswith(PNG)
    trainer = nndsl.build(nndsl.load(spec))
    assert len(trainer.data.x_train) == 500 and len(trainer.data.x_val) == 0

    # The generated program: the same history, and no validation line either.
    assert run("compile", spec, "-o", tmp_path / "model.py", capsys=capsys)[0] == 0
    result = subprocess.run([sys.executable, str(tmp_path / "model.py"), "--epochs", "2", "--out",
                             str(tmp_path / "script")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "val_" not in result.stdout and "validation:" not in result.stdout
    again = json.loads((tmp_path / "script" / "history.json").read_text(encoding="utf-8"))
    assert list(again) == list(history)
    np.testing.assert_allclose(again["loss"], history["loss"], rtol=1e-6)
