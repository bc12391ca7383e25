"""--tensorboard DIR (templates/common/tensorboard.py), in `nndsl train` and in the generated programs
of every backend: the event files, read back with TensorBoard's own reader, hold the run's history;
a resumed run continues the curves without repeating an epoch; a fresh one replaces them."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import nndsl
from nndsl.cli import main
from nndsl.codegen import generate, load_module
from tests.conftest import require_backend

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "checkerboard.nn"


def scalars(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    """Each tag's (step, value) pairs as TensorBoard shows them (events a later run purged left out)."""
    # TensorBoard's reader runs on TensorFlow where it can import it; its own stub reads local files
    # just as well, without the seconds TensorFlow takes to import (tensorboard.compat.notf asks for it).
    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    reader = EventAccumulator(str(logdir))
    reader.Reload()
    return {tag: [(event.step, event.value) for event in reader.Scalars(tag)] for tag in reader.Tags()["scalars"]}


def assert_holds_history(logdir: Path, history: dict) -> None:
    """The event files hold each history key as a scalar, one per epoch at step = the epoch, its value
    the history's to float32 rounding (TensorBoard stores float32)."""
    shown = scalars(logdir)
    assert sorted(shown) == sorted(history)
    for key, values in history.items():
        assert [step for step, _ in shown[key]] == list(range(1, len(values) + 1)), key
        np.testing.assert_allclose([value for _, value in shown[key]], values, rtol=1e-6, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("backend", ["numpy", "torch", "tensorflow"])
def test_a_generated_program_writes_its_history_as_tensorboard_scalars(backend, tmp_path, capsys):
    if backend != "numpy":
        require_backend(backend)
    module = load_module(generate(nndsl.load(str(SPEC)), backend=backend, target="cpu"))
    out, board = tmp_path / "run", tmp_path / "board"
    assert module.main(["--epochs", "3", "--out", str(out), "--tensorboard", str(board)]) == 0, capsys.readouterr().err
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    assert list(history) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert_holds_history(board, history)


def train(*args, capsys):
    status = main(["train", str(SPEC), "--no-plots", "--quiet", *map(str, args)])
    return status, capsys.readouterr().err


def test_nndsl_train_continues_the_curves_when_resumed_and_replaces_them_when_fresh(tmp_path, capsys):
    out, board = tmp_path / "run", tmp_path / "board"
    flags = ["--out", out, "--tensorboard", board, "--checkpoint-every", "2"]
    assert train("--epochs", "3", *flags, capsys=capsys)[0] == 0
    assert train("--epochs", "5", "--resume", *flags, capsys=capsys)[0] == 0
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    assert_holds_history(board, history)  # steps 1 to 5, once each
    # Killed after epoch 5 with checkpoint.npz torn: the resumed run starts from checkpoint.prev.npz
    # (epoch 4) and writes epoch 5 again; TensorBoard shows it once, this run's.
    data = (out / "checkpoint.npz").read_bytes()
    (out / "checkpoint.npz").write_bytes(data[: len(data) // 2])
    status, stderr = train("--epochs", "6", "--resume", *flags, capsys=capsys)
    assert status == 0 and "resuming at epoch 4" in stderr, stderr
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    assert len(history["loss"]) == 6
    assert_holds_history(board, history)
    assert len(list(board.iterdir())) == 3  # a file per run: the earlier ones stay, hidden where replaced
    assert train("--epochs", "2", *flags, capsys=capsys)[0] == 0  # a fresh run
    assert_holds_history(board, json.loads((out / "history.json").read_text(encoding="utf-8")))


def test_without_tensorboardx_or_with_a_file_for_a_folder_the_run_stops_before_it_starts(tmp_path, capsys,
                                                                                        monkeypatch):
    out, board = tmp_path / "run", tmp_path / "board"
    (tmp_path / "file").write_text("not a folder\n", encoding="utf-8")
    status, stderr = train("--out", out, "--tensorboard", tmp_path / "file", capsys=capsys)
    assert status == 1 and stderr == f"nndsl: error: --tensorboard {tmp_path / 'file'} exists and is not a folder\n"
    module = load_module(generate(nndsl.load(str(SPEC))))
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if it were not installed
    status, stderr = train("--out", out, "--tensorboard", board, capsys=capsys)
    assert status == 1 and stderr == "nndsl: error: --tensorboard needs tensorboardX: pip install tensorboardX\n"
    assert module.main(["--out", str(out), "--tensorboard", str(board)]) == 1
    assert capsys.readouterr().err == "error: --tensorboard needs tensorboardX: pip install tensorboardX\n"
    assert not out.exists() and not board.exists()
