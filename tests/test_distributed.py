"""Data-parallel training on PyTorch: the generated program under torchrun, and `nndsl train --nproc`.

Two CPU processes on the loopback address (gloo). They must train to the weights and history of
one process within float32 rounding (each rank's share of a batch, its loss weighted by that
share, dropout masks drawn for the whole batch), rank 0 alone writes, --resume continues, and a
killed rank ends the run with one line naming it. Each torchrun launch costs a few seconds
(every rank imports torch), so the tests launch three times in all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

import nndsl
from nndsl.cli import main
from nndsl.codegen import generate
from tests.conftest import require_backend

torch = require_backend("torch")

#: 57 training rows in batches of 8: the last batch has 1 row, so one of 2 ranks gets none of it.
#: Dropout, an l2 penalty and adam's state all have to come out as in one process.
SPEC = """
data xor(samples=82, noise=0.1, seed=3) { split 0.7 }
model { input 2  dense 8 tanh l2(0.001)  dropout 0.25  dense 1 sigmoid }
loss binary_crossentropy
train { optimizer adam(lr=0.02) batch 8 epochs 3 metrics accuracy, mse seed 5 }
"""

RTOL, ATOL = 1e-5, 1e-7  # float32 rounding: the ranks' gradients are added in another order

#: Gives each rank an --out folder of its own (out/rank<RANK>), so that a rank that wrote would show.
PER_RANK_OUT = """
import os, runpy, sys
model, out = sys.argv[1], sys.argv[2]
sys.argv = [model, "--out", os.path.join(out, "rank" + os.environ["RANK"]), *sys.argv[3:]]
runpy.run_path(model, run_name="__main__")
"""


def one_process(path, epochs):
    """Weights and history of the spec trained in this process, for `epochs` epochs."""
    trainer = nndsl.build(nndsl.load(path), backend="torch", target="cpu")
    assert len(trainer.data.x_train) % 8 == 1  # the uneven last batch the spec is for
    trainer.fit(epochs=epochs)
    return trainer.get_weights(), trainer.history


def assert_same_run(out, weights, history):
    saved = np.load(out / "weights.npz")
    assert sorted(saved.files) == sorted(weights)
    for name, value in weights.items():
        np.testing.assert_allclose(saved[name], value, rtol=RTOL, atol=ATOL, err_msg=name)
    written = json.loads((out / "history.json").read_text(encoding="utf-8"))
    assert written.keys() == history.keys()
    for key, values in history.items():
        np.testing.assert_allclose(written[key], values, rtol=RTOL, atol=ATOL, err_msg=key)


def test_two_processes_train_as_one_only_rank_0_writes_and_resume_continues(tmp_path, capfd):
    from nndsl.launch import launch_torch

    spec = tmp_path / "ddp.nn"
    spec.write_text(SPEC, encoding="utf-8")
    (tmp_path / "model.py").write_text(generate(nndsl.load(spec), backend="torch", target="cpu"), encoding="utf-8")
    (tmp_path / "per_rank.py").write_text(PER_RANK_OUT, encoding="utf-8")
    logs = tmp_path / "logs"
    logs.mkdir()

    # The generated program under torchrun's agent, 2 epochs; rank 1 was told another --out.
    launch_torch(tmp_path / "per_rank.py", [str(tmp_path / "model.py"), str(tmp_path / "out"), "--epochs", "2"],
                 2, logs)
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["rank0"]  # rank 1 wrote nothing
    out = tmp_path / "out" / "rank0"
    assert sorted(path.name for path in out.iterdir()) == ["checkpoint.npz", "history.json", "weights.npz"]
    assert_same_run(out, *one_process(spec, 2))
    assert capfd.readouterr().err.count("epoch 2/2") == 1  # one rank printed, as nndsl train prints: on stderr

    # nndsl train --nproc 2 --resume: on to epoch 3, as one process trains 3 epochs in one go.
    status = main(["train", str(spec), "-b", "torch", "-t", "cpu", "--nproc", "2", "--out", str(out),
                   "--resume", "--no-plots"])
    printed = capfd.readouterr()
    assert status == 0, printed.err
    assert_same_run(out, *one_process(spec, 3))
    assert len(json.loads((out / "history.json").read_text(encoding="utf-8"))["loss"]) == 3
    assert (out / "model.py").exists()
    assert printed.err.count("epoch 3/3") == 1 and "epoch 2/3" not in printed.err
    assert printed.out.startswith("validation: loss: ")
    assert printed.out.endswith(f"saved model.py in {out} (2 processes trained)\n")


def test_nproc_is_refused_where_no_launcher_exists(tmp_path, capsys):
    spec = tmp_path / "ddp.nn"
    spec.write_text(SPEC, encoding="utf-8")
    for backend, message in (("numpy", "--nproc: the NumPy backend trains in one process"),):  # torch, tensorflow: launchers
        status = main(["train", str(spec), "-b", backend, "--nproc", "2", "--out", str(tmp_path / backend)])
        assert status == 1
        assert f"nndsl: error: {message}" in capsys.readouterr().err
        assert not (tmp_path / backend).exists()  # refused before any work


def _child_with_rank(parent, rank):
    """The process id of `parent`'s child that torchrun started as rank `rank` (Linux: /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environment = (entry / "environ").read_bytes().split(b"\0") if ppid == parent else []
        except OSError:  # gone meanwhile
            continue
        if f"RANK={rank}".encode() in environment:
            return int(entry.name)
    return None


def test_a_killed_rank_ends_the_run_with_one_line_naming_it(tmp_path):
    spec = tmp_path / "ddp.nn"
    spec.write_text(SPEC.replace("epochs 3", "epochs 100000"), encoding="utf-8")  # ends only by the kill
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    run = subprocess.Popen([sys.executable, "-m", "nndsl", "train", str(spec), "-b", "torch", "-t", "cpu",
                            "--nproc", "2", "--out", str(tmp_path / "out"), "--no-plots"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                           start_new_session=True)
    try:
        for line in run.stderr:  # both ranks are training once rank 0 has printed an epoch
            if line.startswith("epoch 1/100000"):
                break
        rank_1 = _child_with_rank(run.pid, 1)
        assert rank_1 is not None
        os.kill(rank_1, signal.SIGKILL)
        _, stderr = run.communicate(timeout=300)  # a guard against a hang, not a time limit
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert run.returncode == 1
    assert stderr.strip().splitlines()[-1].startswith("nndsl: error: the training process of rank 1 (of 2) was "
                                                      "killed by SIGKILL; the other ranks were stopped")
    assert "Traceback" not in stderr
    assert not (tmp_path / "out" / "weights.npz").exists() and not (tmp_path / "out" / "model.py").exists()


def test_nndsl_train_ignores_torchruns_variables_left_in_the_environment(tmp_path, monkeypatch, capsys):
    # Values the generated program would refuse (a DeviceError at once), rather than wait for ranks.
    monkeypatch.setenv("WORLD_SIZE", "two")
    monkeypatch.setenv("RANK", "1")
    spec = tmp_path / "ddp.nn"
    spec.write_text(SPEC, encoding="utf-8")
    status = main(["train", str(spec), "-b", "torch", "-t", "cpu", "--epochs", "1", "--no-plots",
                   "--out", str(tmp_path / "run")])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert "note: nndsl train trains in one process: it ignores RANK and WORLD_SIZE in the environment" in printed.err
    assert os.environ["WORLD_SIZE"] == "two"


def test_a_user_error_of_every_rank_is_printed_once_and_quiet_still_reports_it(tmp_path, capfd):
    (tmp_path / "bad.csv").write_text("x,y\n1,1\n2,abc\n", encoding="utf-8")  # found when the ranks load it
    spec = tmp_path / "bad.nn"
    spec.write_text('data csv("bad.csv", target=y) { features x  split 1 }\nmodel { input 1  dense 1 }\n'
                    "loss mse\ntrain { optimizer sgd(lr=0.1) batch 2 epochs 1 }\n", encoding="utf-8")
    status = main(["train", str(spec), "-b", "torch", "-t", "cpu", "--nproc", "2", "--quiet",
                   "--out", str(tmp_path / "run")])
    printed = capfd.readouterr()
    assert status == 1
    assert printed.err.count("bad.csv:3: 'abc' in column 'y' is not a number") == 1, printed.err
    assert printed.err.splitlines()[-1].startswith("nndsl: error: the training process of rank ")
    assert "stopped with exit status 1 (its message is above)" in printed.err
    assert not (tmp_path / "run").exists()
