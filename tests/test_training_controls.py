"""The train block's learning-rate schedules, early stopping, reduce_lr_on_plateau and clip_norm:
what the checker refuses, the closed forms, and the same lr sequence, stopping epoch, history and
weights on NumPy, PyTorch and TensorFlow; their state through checkpoints, in-process and
after a SIGKILL of the generated program."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nndsl
from tests.conftest import require_backend

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ["numpy", "torch", "tensorflow"]
RTOL = 1e-4  # histories and weights of separate backends: float32 rounding over ~20 epochs

DATA = "data circle(samples=200, noise=0.1, seed=5)\nmodel { input 2  dense 8 tanh  dense 1 sigmoid }\n" \
       "loss binary_crossentropy\n"

# specs/circle_controls.nn, crafted so that every control acts within 20 epochs: the step schedule
# drops the rate at epochs 4, 8 and 12, the plateau halves it from epoch 12 on, and early stopping
# ends training after epoch 20, putting back epoch 17's weights.
CONTROLS = (ROOT / "specs" / "circle_controls.nn").read_text(encoding="utf-8")


def train_block(*lines: str, optimizer: str = "sgd(lr=0.1)", metrics: str = "metrics accuracy") -> str:
    body = "\n".join(f"    {line}" for line in (f"optimizer {optimizer}", "epochs 6", metrics, *lines))
    return DATA + "train {\n" + body + "\n}\n"


def error_of(text: str) -> str:
    with pytest.raises(nndsl.SpecError) as caught:
        nndsl.parse(text, filename="t.nn")
    return str(caught.value)


def build(text: str, backend: str):
    if backend != "numpy":
        require_backend(backend)
    return nndsl.build(nndsl.parse(text), backend=backend, target="cpu")


# --- the checker ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "token", "message"), [
    ("early_stopping monitor=val_mae", "val_mae", "cannot monitor 'val_mae': 'mae' is not among the train block's "
                                                "metrics (add 'metrics mae')"),
    ("early_stopping monitor=val_los", "val_los", "not a key of this run's history (did you mean 'val_loss'?)"),
    ("reduce_lr_on_plateau monitor=lr", "lr", "cannot monitor 'lr'"),
    ("reduce_lr_on_plateau factor=1", "1", "factor must be in (0, 1); received factor=1"),
    ("early_stopping patience=-1", "-1", "patience must be an integer ≥ 0"),
    ("early_stopping restore_best_weights=true", "restore_best_weights", "write restore_best=true"),
    ("schedule step(factor=0.5)", "step", "step needs every=, e.g. 'schedule step(every=10, factor=0.5)'"),
    ("schedule exponential(rate=1.5)", "1.5", "rate must be in (0, 1]"),
    ("schedule cosin(warmup=2)", "cosin", "unknown schedule 'cosin' (did you mean 'cosine'?)"),
    ("schedule cosine(warmup=2.5)", "2.5", "warmup must be an integer"),
    ("clip_norm 0", "0", "clip_norm must be positive; received clip_norm=0"),
    ("schedule cosine(min_lr=0.5)", "cosine", "cosine decays from the optimizer's lr (0.1) down to min_lr, which "
                                              "must be below it; received min_lr=0.5"),
])
def test_bad_controls_are_refused_at_their_position(line, token, message):
    """At the offending token of line 8 (the statement after optimizer, epochs, metrics)."""
    text = error_of(train_block(line))
    column = 5 + line.rindex(token)
    assert f"t.nn:8:{column}: error: " in text and message in text, text


def test_monitor_follows_the_history_and_its_direction():
    program = nndsl.parse(train_block("early_stopping monitor=val_accuracy",
                                      "reduce_lr_on_plateau monitor=loss"))
    assert (program.train.early_stopping.monitor, program.train.early_stopping.direction) == ("val_accuracy", "max")
    assert (program.train.reduce_lr_on_plateau.monitor, program.train.reduce_lr_on_plateau.direction) == ("loss", "min")


def test_monitoring_val_keys_needs_a_validation_set(monkeypatch):
    """One function (Data.validates) says whether a run has val_ keys; without validation they are refused."""
    monkeypatch.setattr(nndsl.ir.Data, "validates", property(lambda self: False))
    text = error_of(train_block("early_stopping monitor=val_loss"))
    assert "t.nn:8:28: error: early_stopping cannot monitor 'val_loss': this run has no validation set" in text
    assert nndsl.parse(train_block("early_stopping monitor=loss")).train.early_stopping.monitor == "loss"


def test_keras_spellings_name_the_nndsl_statement():
    assert "did you mean 'early_stopping'?" in error_of(train_block("EarlyStopping"))
    assert "did you mean 'reduce_lr_on_plateau'?" in error_of(train_block("ReduceLROnPlateau"))
    assert "write 'clip_norm 1.0'" in error_of(train_block(optimizer="sgd(lr=0.1, clipnorm=1.0)"))


def test_formatting_keeps_the_controls():
    program = nndsl.parse(CONTROLS)
    assert nndsl.parse(nndsl.format(program)).train == program.train


# --- the closed forms ----------------------------------------------------------------------------


def lr_sequence(schedule: str, epochs: int = 10, lr: float = 0.1) -> list[float]:
    trainer = build(train_block(schedule, optimizer=f"sgd(lr={lr})").replace("epochs 6", f"epochs {epochs}"), "numpy")
    out = []
    for epoch in range(epochs + 2):  # past the spec's epochs too (fit(epochs=N) continues)
        trainer.epoch = epoch
        out.append(trainer.learning_rate())
    return out


def test_schedules_are_their_closed_forms_of_the_epoch():
    assert lr_sequence("schedule constant") == [0.1] * 12
    assert lr_sequence("schedule step(every=3, factor=0.5)") == [0.1 * 0.5 ** (e // 3) for e in range(12)]
    assert lr_sequence("schedule exponential(rate=0.9)") == [0.1 * 0.9**e for e in range(12)]
    cosine = lr_sequence("schedule cosine(warmup=2, min_lr=0.001)")
    assert cosine[:2] == [0.05, 0.1]  # warm-up: lr·(e + 1)/warmup
    expected = [0.001 + 0.099 * (1 + math.cos(math.pi * (e - 2) / 8)) / 2 for e in range(2, 10)]
    np.testing.assert_allclose(cosine[2:10], expected, rtol=1e-15)
    assert cosine[10:] == [0.001, 0.001]  # after the spec's epochs: min_lr


# --- clip_norm -----------------------------------------------------------------------------------

CLIPPED = DATA + "train {\n    optimizer sgd(lr=0.5)\n    batch 20\n    epochs 2\n    clip_norm 0.05\n}\n"


def test_numpy_clips_the_global_norm_by_its_definition():
    trainer = build(CLIPPED, "numpy")
    grads = [np.array([3.0, 0.0], np.float32), np.array([[0.0], [4.0]], np.float32)]  # ‖g‖ = 5
    trainer.module.clip_global_norm(grads, 1.0)
    np.testing.assert_allclose(np.concatenate([g.ravel() for g in grads]), [0.6, 0, 0, 0.8], rtol=1e-6)
    small = [np.array([0.3, 0.4], np.float32)]  # ‖g‖ = 0.5 ≤ 1: unchanged
    trainer.module.clip_global_norm(small, 1.0)
    assert small[0].tolist() == pytest.approx([0.3, 0.4])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_clipped_sgd_step_is_lr_times_g_min_1_c_over_norm(backend):
    """θ' = θ − lr·g·min(1, c/‖g‖), ‖g‖ over every parameter together, on every backend."""
    trainer = build(CLIPPED, backend)
    x, y = trainer.data.x_train[:20], trainer.data.y_train[:20]
    before = trainer.get_weights()
    _, grads = trainer.loss_and_gradients(x, y)
    norm = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads.values()))
    assert norm > 0.05  # the step is clipped
    trainer.train_step(*trainer.tensors(x, y)) if backend == "torch" else trainer.train_step(x, y)
    after = trainer.get_weights()
    for name, g in grads.items():
        np.testing.assert_allclose(after[name], before[name] - 0.5 * g * (0.05 / norm), rtol=1e-5, atol=1e-7,
                                   err_msg=name)


# --- the same run on every backend ---------------------------------------------------------------


@pytest.fixture(scope="module")
def runs():
    out = {}
    for backend in BACKENDS:
        trainer = build(CONTROLS, backend)
        history = trainer.fit()
        out[backend] = (json.loads(json.dumps(history)), trainer.get_weights(), trainer.early_stopping,
                        trainer.evaluate())
    return out


def test_the_crafted_run_triggers_the_schedule_the_plateau_and_early_stopping(runs):
    history, _, stopping, final = runs["numpy"]
    lr = history["lr"]
    assert len(lr) == 20 and stopping.stopped_epoch == 20 and stopping.best_epoch == 17
    assert lr[:4] == [0.02] * 4 and lr[4] == pytest.approx(0.014)  # the step schedule
    assert lr[12] < 0.02 * 0.7**3 * 0.6  # …and the plateau below it
    # improvements after epoch 17 are below min_delta; restore_best put back epoch 17's weights
    assert min(history["val_loss"]) > history["val_loss"][16] - 0.001
    assert final["loss"] == pytest.approx(history["val_loss"][16], rel=1e-6)


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_backends_agree_on_lr_stopping_epoch_history_and_weights(runs, backend):
    expected_history, expected_weights, expected_stop, _ = runs["numpy"]
    history, weights, stopping, _ = runs[backend]
    assert history["lr"] == expected_history["lr"]  # every step's rate, exactly: one closed form in Python
    assert (stopping.stopped_epoch, stopping.best_epoch) == (expected_stop.stopped_epoch, expected_stop.best_epoch)
    assert list(history) == list(expected_history)
    for key, values in expected_history.items():
        np.testing.assert_allclose(history[key], values, rtol=RTOL, atol=1e-6, err_msg=key)
    for name, value in expected_weights.items():  # restore_best: epoch 17's weights
        np.testing.assert_allclose(weights[name], value, rtol=RTOL, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_resumed_from_a_checkpoint_stops_at_the_same_epoch_bitwise(runs, backend, tmp_path):
    """fit in parts through a checkpoint (after the plateau began, before the stop) is the
    uninterrupted run: the same stopping epoch, history and, bitwise, weights."""
    path = tmp_path / "checkpoint.npz"
    first = build(CONTROLS, backend)
    first.fit(epochs=14, checkpoint=path)
    resumed = build(CONTROLS, backend)
    resumed.restore(path)
    assert resumed.epoch == 14 and resumed.plateau.scale < 1
    history = resumed.fit()
    uninterrupted = build(CONTROLS, backend)
    expected = uninterrupted.fit()
    assert history == expected
    assert resumed.early_stopping.stopped_epoch == uninterrupted.early_stopping.stopped_epoch == 20
    for name, value in uninterrupted.get_weights().items():
        np.testing.assert_array_equal(resumed.get_weights()[name], value, err_msg=name)


def test_a_checkpoint_after_the_stop_trains_no_more(tmp_path):
    path = tmp_path / "checkpoint.npz"
    trainer = build(CONTROLS, "numpy")
    trainer.fit(checkpoint=path)
    again = build(CONTROLS, "numpy")
    again.restore(path)
    assert again.fit() == trainer.history and again.epoch == 20
    for name, value in trainer.get_weights().items():
        np.testing.assert_array_equal(again.get_weights()[name], value)


def test_a_checkpoint_of_another_format_or_controls_is_refused_by_name(tmp_path):
    plain = build(train_block(optimizer="adam(lr=0.02)"), "numpy")
    plain.fit(epochs=1, checkpoint=tmp_path / "plain.npz")
    controlled = build(CONTROLS, "numpy")
    with pytest.raises(controlled.module.CheckpointError, match="written with no early stopping or plateau; this "
                                                                "spec trains with early_stopping, reduce_lr_on_plateau"):
        controlled.restore(tmp_path / "plain.npz")
    arrays, header = plain.module.load_checkpoint(tmp_path / "plain.npz")
    del header["format"]  # as an nndsl before format 2 wrote it
    plain.module.save_checkpoint(tmp_path / "old.npz", arrays, header)
    with pytest.raises(plain.module.CheckpointError, match="of format 1, which this program"):
        plain.restore(tmp_path / "old.npz")


def test_sigkilled_generated_program_resumes_to_the_same_stop_bitwise(tmp_path):
    """The generated NumPy program, SIGKILLed inside a checkpoint write (by a hook on os.fsync),
    then run with --resume: the same epochs, history and weights as an uninterrupted run."""
    from tests.test_kill import KILLER, read_weights

    spec = tmp_path / "controls.nn"
    spec.write_text(CONTROLS.replace("    seed 2\n", "    seed 2\n    checkpoint every=1\n"), encoding="utf-8")
    script = tmp_path / "model.py"
    subprocess.run([sys.executable, "-m", "nndsl", "compile", str(spec), "-o", str(script)], check=True)

    def run(out, n, *flags):
        return subprocess.run([sys.executable, "-c", KILLER, "fsync", str(n), "--script", str(script),
                               "--out", str(out), *flags], capture_output=True, text=True)

    reference = run(tmp_path / "reference", 0)
    assert reference.returncode == 0, reference.stderr
    assert "early stopping: val_loss did not improve for 3 epochs; stopped after epoch 20" in reference.stdout
    history = json.loads((tmp_path / "reference" / "history.json").read_text())
    for n in (27, 29):  # two fsyncs per checkpoint: inside the writes of epochs 14 and 15
        out = tmp_path / f"killed{n}"
        assert run(out, n).returncode == -signal.SIGKILL
        resumed = run(out, 0, "--resume")
        assert resumed.returncode == 0, resumed.stderr
        assert json.loads((out / "history.json").read_text()) == history
        expected = read_weights(tmp_path / "reference" / "weights.npz")
        for name, value in read_weights(out / "weights.npz").items():
            np.testing.assert_array_equal(value, expected[name], err_msg=name)


@pytest.mark.parametrize(("optimizer", "schedule"), [
    ("sgd(lr=0.2)", "schedule exponential(rate=0.5)"),
    ("sgd(lr=0.1, momentum=0.9)", "schedule cosine(warmup=1, min_lr=0.001)"),
    ("rmsprop(lr=0.01)", "schedule step(every=2, factor=0.5)"),
])
def test_every_optimizer_follows_the_schedule_the_same_on_every_backend(optimizer, schedule):
    text = train_block(schedule, optimizer=optimizer).replace("epochs 6", "epochs 4")
    expected = build(text, "numpy").fit()
    for backend in ("torch", "tensorflow"):
        history = build(text, backend).fit()
        assert history["lr"] == expected["lr"]
        for key, values in expected.items():
            np.testing.assert_allclose(history[key], values, rtol=RTOL, atol=1e-6, err_msg=f"{backend} {key}")


def test_nndsl_train_says_where_it_stopped_and_records_lr(tmp_path, capsys):
    from nndsl.cli import main

    out = tmp_path / "run"
    assert main(["train", str(ROOT / "specs" / "circle_controls.nn"), "--out", str(out), "--quiet", "--no-plots"]) == 0
    printed = capsys.readouterr().out
    assert ("early stopping: val_loss did not improve for 3 epochs; stopped after epoch 20 (best val_loss "
            in printed and "at epoch 17; the weights of epoch 17 restored)" in printed), printed
    history = json.loads((out / "history.json").read_text())
    assert len(history["lr"]) == 20 and history["lr"][0] == 0.02


def test_a_plateau_reduction_prints_one_line_on_every_backend(tmp_path, capsys):
    """As Keras's ReduceLROnPlateau(verbose=1): the generated program prints a line after each epoch
    that reduced the rate, the next epoch's rate in it, the same text on every backend; nndsl train
    prints it with the epoch lines (stderr), and not with --quiet."""
    from nndsl.cli import main
    from nndsl.codegen import generate, load_module

    text = train_block("reduce_lr_on_plateau monitor=loss factor=0.5 patience=1 min_delta=10")  # epochs 2, 3 reduce
    printed = {}
    for backend in BACKENDS:
        if backend != "numpy":
            require_backend(backend)
        module = load_module(generate(nndsl.parse(text, filename="plateau.nn"), backend=backend, target="cpu"))
        assert module.main(["--epochs", "3"]) == 0
        printed[backend] = [line for line in capsys.readouterr().out.splitlines() if "reduce_lr_on_plateau" in line]
    assert printed["numpy"] == [
        "epoch 2: reduce_lr_on_plateau reduced the learning rate to 0.05 (loss did not improve for 1 epoch)",
        "epoch 3: reduce_lr_on_plateau reduced the learning rate to 0.025 (loss did not improve for 1 epoch)"]
    assert printed["torch"] == printed["tensorflow"] == printed["numpy"]
    spec = tmp_path / "plateau.nn"
    spec.write_text(text.replace("epochs 6", "epochs 2"), encoding="utf-8")
    assert main(["train", str(spec), "--out", str(tmp_path / "run"), "--no-plots"]) == 0
    assert printed["numpy"][0] in capsys.readouterr().err
    assert main(["train", str(spec), "--out", str(tmp_path / "run"), "--no-plots", "--quiet"]) == 0
    assert "reduce_lr_on_plateau" not in "".join(capsys.readouterr())
