"""TensorFlow on several workers: a MultiWorkerMirroredStrategy from TF_CONFIG, and `nndsl train --nproc`.

Two CPU workers on loopback train to the weights of one process within float32 rounding (the
spec's batch is the global batch, every worker takes its share of the same shuffled batch);
only the chief writes; --resume continues on two workers; a worker that dies ends the run.
TensorFlow starts slowly, so the multi-process runs are few and each checks several things.
"""

from __future__ import annotations

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
from nndsl.codegen import generate, load_module
from nndsl.launch import free_loopback_ports, tf_config
from tests.conftest import assert_same_run, require_backend

tf = require_backend("tensorflow")

#: 75 training rows in batches of 7: each worker takes 3 or 4 rows of a batch, and the last batch
#: (5 rows) 2 or 3. Dropout, momentum and a penalty, so that every part of a step is shared out.
SPEC = """
data spiral(samples=150, noise=0.1, seed=3) { split 0.5 }
model { input 2  dense 12 relu l2(0.001)  dropout 0.2  dense 1 sigmoid }
loss binary_crossentropy
train { optimizer sgd(lr=0.05, momentum=0.9) batch 7 epochs 4 metrics accuracy seed 2 checkpoint every=1 }
"""
RTOL = 1e-5  # two workers add up their halves of each gradient: float32 rounding in another order
HANG_GUARD = 600  # seconds: only so that a hang fails the test instead of blocking the suite
NNDSL = [sys.executable, "-m", "nndsl"]


def worker_env(ports, index):
    return dict(os.environ, TF_CONFIG=tf_config(ports, index), CUDA_VISIBLE_DEVICES="-1")


def weights_of(path):
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


def test_two_workers_train_to_the_weights_of_one_process_only_the_chief_writes_and_resume_works(tmp_path):
    spec = tmp_path / "spiral.nn"
    spec.write_text(SPEC, encoding="utf-8")
    source = generate(nndsl.load(spec), backend="tensorflow", target="cpu")
    script = tmp_path / "model.py"
    script.write_text(source, encoding="utf-8")
    chief, other = tmp_path / "chief", tmp_path / "other"

    # Two epochs as a user starts workers by hand: each its TF_CONFIG, worker 1 another --out.
    ports = free_loopback_ports(2)
    workers = [subprocess.Popen([sys.executable, str(script), "--epochs", "2", "--out", str(out)],
                                env=worker_env(ports, index), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for index, out in enumerate((chief, other))]
    outputs = [worker.communicate(timeout=HANG_GUARD) for worker in workers]
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr[-3000:]
    assert "epoch 2/2" in outputs[0][0] and "saved weights.npz" in outputs[0][0]
    assert outputs[1][0] == ""  # worker 1 prints nothing...
    assert not other.exists()  # ...and writes nothing, not even its --out folder
    assert sorted(path.name for path in chief.iterdir()) == [
        "checkpoint.npz", "checkpoint.prev.npz", "history.json", "weights.npz"]
    after_two = weights_of(chief / "weights.npz")

    # Two more through nndsl train --nproc 2: both workers resume from the chief's checkpoint.
    result = subprocess.run([*NNDSL, "train", str(spec), "-b", "tensorflow", "-t", "cpu", "--nproc", "2",
                             "--epochs", "4", "--out", str(chief), "--resume", "--no-plots"],
                            capture_output=True, text=True, timeout=HANG_GUARD)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "epoch 3/4" in result.stderr and "epoch 2/4" not in result.stderr
    assert result.stdout.startswith("validation: loss: ")
    assert "saved model.py in" in result.stdout
    assert sorted(path.name for path in chief.iterdir()) == [  # no temporaries left behind
        "checkpoint.npz", "checkpoint.prev.npz", "history.json", "model.py", "weights.npz"]

    one = load_module(source).make_trainer()  # one process: the same program without TF_CONFIG
    one.fit(2)
    assert_same_run({}, {}, one.get_weights(), after_two, rtol=RTOL)
    one.fit(2)
    history = json.loads((chief / "history.json").read_text(encoding="utf-8"))
    assert len(history["loss"]) == 4
    assert_same_run(one.history, history, one.get_weights(), weights_of(chief / "weights.npz"), rtol=RTOL)


def _children(pid):
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _worker_index(pid):
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    config = next(entry for entry in environ if entry.startswith(b"TF_CONFIG="))
    return json.loads(config[len(b"TF_CONFIG="):])["task"]["index"]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the workers through Linux's /proc")
def test_a_killed_worker_ends_the_run_with_a_message_and_status_1(tmp_path):
    spec = tmp_path / "spiral.nn"
    spec.write_text(SPEC, encoding="utf-8")
    launcher = subprocess.Popen([*NNDSL, "train", str(spec), "-b", "tensorflow", "-t", "cpu", "--nproc", "2",
                                 "--epochs", "100000", "--out", str(tmp_path / "run"), "--no-plots"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in launcher.stderr:  # training is under way once the chief has printed an epoch
            if line.startswith("epoch 1/"):
                break
        workers = {_worker_index(pid): pid for pid in _children(launcher.pid)}
        assert sorted(workers) == [0, 1]
        os.kill(workers[1], signal.SIGKILL)
        _, stderr = launcher.communicate(timeout=HANG_GUARD)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 1
    assert ("nndsl: error: the training process of worker 1 (of 2) was killed by SIGKILL; the other workers were "
            "stopped") in stderr
    assert not Path(f"/proc/{workers[0]}").exists() or "zombie" in Path(f"/proc/{workers[0]}/status").read_text()


@pytest.fixture(scope="module")
def module():
    return load_module(generate(nndsl.parse(SPEC), backend="tensorflow", target="cpu"))


@pytest.mark.parametrize(("config", "tasks", "chief"), [
    (None, [], True),
    ({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}, [("worker", 0)], True),
    ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}, [("worker", 0), ("worker", 1)],
     True),
    ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}, [("worker", 0), ("worker", 1)],
     False),
    ({"cluster": {"chief": ["a:1"], "worker": ["b:2"]}, "task": {"type": "worker", "index": 0}},
     [("chief", 0), ("worker", 0)], False),
    ({"cluster": {"chief": ["a:1"], "worker": ["b:2"]}, "task": {"type": "chief", "index": 0}},
     [("chief", 0), ("worker", 0)], True),
])
def test_tf_config_names_the_cluster_and_its_chief(module, monkeypatch, config, tasks, chief):
    if config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert module.cluster_tasks()[0] == tasks
    assert module.is_chief() is chief


@pytest.mark.parametrize(("config", "message"), [
    ("{not json", r"TF_CONFIG is not a TensorFlow cluster description"),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker"}}', r"TF_CONFIG is not a TensorFlow"),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}',
     r"TF_CONFIG's task \('worker', 2\) is not one of its cluster's"),
])
def test_a_malformed_tf_config_is_a_device_error(module, monkeypatch, config, message):
    monkeypatch.setenv("TF_CONFIG", config)
    with pytest.raises(module.DeviceError, match=message):
        module.make_trainer()


def test_nproc_on_a_one_process_backend_is_refused(tmp_path):
    spec = tmp_path / "spiral.nn"
    spec.write_text(SPEC, encoding="utf-8")
    result = subprocess.run([*NNDSL, "train", str(spec), "--nproc", "2", "--out", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=HANG_GUARD)
    assert result.returncode == 1
    assert result.stderr == ("nndsl: error: --nproc: the NumPy backend trains in one process; data-parallel training "
                             "needs -b torch or -b tensorflow\n")
    assert not (tmp_path / "run").exists()


def test_nndsl_train_and_an_inference_program_ignore_a_tf_config_left_in_the_environment(tmp_path, monkeypatch,
                                                                                       capsys):
    # A TF_CONFIG the generated program would refuse (test_a_malformed_tf_config_is_a_device_error):
    # a one-process run that read it would fail at once instead of joining a cluster and waiting.
    monkeypatch.setenv("TF_CONFIG", "{not json")
    spec = tmp_path / "spiral.nn"
    spec.write_text(SPEC, encoding="utf-8")
    status = main(["train", str(spec), "-b", "tensorflow", "-t", "cpu", "--epochs", "1", "--no-plots",
                   "--out", str(tmp_path / "run")])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert "note: nndsl train trains in one process: it ignores TF_CONFIG in the environment" in printed.err
    assert os.environ["TF_CONFIG"] == "{not json"  # the process's environment is given back

    inference = load_module(generate(nndsl.parse("model { input 2  dense 1 sigmoid }"), backend="tensorflow",
                                     target="cpu"))
    assert inference.make_model().predict(np.zeros((3, 2), np.float32)).shape == (3, 1)
