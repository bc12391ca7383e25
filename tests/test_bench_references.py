"""The benchmark compares like with like: every hand-written reference in bench/ trains the same
network on the same data, from the same initial weights, in the same batch order as the code
nndsl generates, so both compute the same losses. And the runner produces its table.

Small copies of the workloads (bench.workloads.tiny) keep this fast; nothing here times
anything. The cnn's copy keeps its 28x28 images and layers (a pool that divides, one that drops a
row and a column) with a quarter of the filters: 200 samples, batch 32; the rescnn's has 14x14
images (a stride of 2 pads 28 and 14 alike, then leaves an odd 7) and a quarter of the filters.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import nndsl
from bench import run
from bench.profile_numpy import CATEGORIES, GRAPH_CATEGORIES
from bench.workloads import CNN, LARGE, RESCNN, RESMLP, SMALL, WORKLOADS, tiny
from nndsl.codegen import load_module
from tests.conftest import require_backend

ROOT = Path(__file__).resolve().parent.parent
EPOCHS = 2
HISTORY = ("loss", "accuracy", "val_loss", "val_accuracy")


@pytest.fixture(scope="module", params=["small", "large", "cnn", "resmlp", "rescnn"])
def workload(request, tmp_path_factory):
    """A tiny copy of a bench workload, its spec and data written to a temporary folder."""
    return tiny(WORKLOADS[request.param], tmp_path_factory.mktemp(request.param))


def generated(workload, backend):
    return load_module(nndsl.generate(nndsl.load(workload.spec), backend=backend, target="cpu"))


def assert_same_weights(ours: dict, theirs: list, workload, rtol=1e-4):
    """Generated weights by name against a reference's [(W, b), …] in nndsl's layouts."""
    for layer, (W, b) in zip(workload.parameter_layers(), theirs, strict=True):
        np.testing.assert_allclose(W, ours[f"{layer}.W"], rtol=rtol, atol=1e-6, err_msg=layer)
        np.testing.assert_allclose(b, ours[f"{layer}.b"], rtol=rtol, atol=1e-6, err_msg=layer)


def assert_same_history(ours, theirs, rtol=1e-4):
    for key in HISTORY:
        assert len(ours[key]) == len(theirs[key]) == EPOCHS, key
        np.testing.assert_allclose(ours[key], theirs[key], rtol=rtol, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("bench", [SMALL, LARGE, CNN, RESMLP, RESCNN], ids=["small", "large", "cnn", "resmlp", "rescnn"])
def test_bench_specs_are_the_workloads(bench):
    """bench/specs/*.nn say what workloads.py says (compared as canonical spec text)."""
    assert nndsl.format(nndsl.load(bench.spec)) == nndsl.format(nndsl.parse(bench.spec_text(), filename=str(bench.spec)))


def test_same_data_and_initial_weights(workload):
    module = generated(workload, "numpy")
    ours = workload.load()
    theirs = module.load_data()
    for field in ours._fields:
        a, b = getattr(ours, field), getattr(theirs, field)
        assert a.shape == b.shape and a.dtype == b.dtype, field
        np.testing.assert_array_equal(a, b, err_msg=field)
    weights = module.initial_weights()
    assert len(weights) == 2 * len(workload.parameter_layers())
    for layer, (W, b) in zip(workload.parameter_layers(), workload.initial_weights(), strict=True):
        np.testing.assert_array_equal(W, weights[f"{layer}.W"])
        np.testing.assert_array_equal(b, weights[f"{layer}.b"])


@pytest.mark.parametrize("by_batch", [False, True], ids=["gathered by epoch", "gathered by batch"])
def test_hand_numpy_matches_generated(workload, by_batch, monkeypatch):
    """Both gather a small training set per epoch and a large one (here: any, with the threshold
    at 0) batch by batch."""
    from bench import hand_numpy

    if by_batch:  # the batch-by-batch path, written even where the compiler knows the data are small
        from nndsl.codegen import numpy_backend

        monkeypatch.setattr(numpy_backend, "gathers_by_batch", lambda program: True)
        monkeypatch.setattr(hand_numpy, "GATHER_BY_BATCH_BYTES", 0)
    module = generated(workload, "numpy")
    if by_batch:
        module.GATHER_BY_BATCH_BYTES = 0
    trainer = module.make_trainer()
    trainer.fit(EPOCHS)
    hand = run.hand_reference("hand NumPy", workload)
    assert hand.by_batch == by_batch and bool(getattr(trainer, "_batches", None)) == by_batch
    assert_same_history(trainer.history, hand.fit(EPOCHS))
    assert_same_weights(trainer.get_weights(), hand.get_weights(), workload)


def test_hand_numpy_gradients_match_generated(workload):
    """One batch's loss and ∂L/∂θ, no update (the float32 references' backward passes agree)."""
    module = generated(workload, "numpy")
    trainer = module.make_trainer()
    data = workload.load()
    x, y = data.x_train[: workload.batch], data.y_train[: workload.batch]
    loss, grads = trainer.loss_and_gradients(x, y)
    hand = run.hand_reference("hand NumPy", workload)
    hand_loss, hand_grads = hand.loss_and_gradients(x, y)
    if workload.kind == "mlp":
        # both choose the same form of the products: rows for tiny-small (2-16-16-1, batch 32),
        # columns for tiny-large (20-64-64-10, batch 32: most multiply-adds in layers wider than the batch)
        assert hand.columns == (workload.name == "tiny-large")
        assert trainer.model.buffers(4).z1.flags.f_contiguous == hand.columns
    assert hand_loss == pytest.approx(loss, rel=1e-5)
    assert_same_weights(grads, hand_grads, workload)


def test_hand_numpy_cnn_routes_a_tied_maximum_to_the_first_cell(tmp_path):
    """Pooling after a ReLU conv ties often (a flat patch of background gives every cell z = b):
    the gradient goes to the first cell of the window, row by row, on every backend. Here the
    first conv's filter 0 is zero and its bias positive, so every window of that channel ties."""
    from bench.hand_numpy import NumpyCNN

    workload = tiny(CNN, tmp_path, samples=40)
    module = generated(workload, "numpy")
    weights = module.initial_weights()
    weights["conv2d_1.W"][0] = 0.0
    weights["conv2d_1.b"][0] = 0.5
    trainer = module.make_trainer()
    trainer.set_weights(weights)
    data = workload.load()
    x, y = data.x_train[: workload.batch], data.y_train[: workload.batch]
    hand = NumpyCNN(*data, workload.convs, workload.layers,
                    [(weights[f"{layer}.W"], weights[f"{layer}.b"]) for layer in workload.parameter_layers()],
                    workload.batch, workload.lr, workload.train_seed)
    loss, grads = trainer.loss_and_gradients(x, y)
    hand_loss, hand_grads = hand.loss_and_gradients(x, y)
    assert hand_loss == pytest.approx(loss, rel=1e-5)
    assert np.abs(grads["conv2d_1.W"][0]).max() > 1e-4  # the tied channel learns, from its first cells
    assert_same_weights(grads, hand_grads, workload)


def test_hand_torch_matches_generated(workload):
    require_backend("torch")
    trainer = generated(workload, "torch").make_trainer()
    trainer.fit(EPOCHS)
    hand = run.hand_reference("hand torch", workload)
    assert_same_history(trainer.history, hand.fit(EPOCHS))
    assert_same_weights(trainer.get_weights(), hand.get_weights(), workload)


@pytest.mark.parametrize("reference", ["keras", "raw"])
def test_hand_tensorflow_matches_generated(workload, reference):
    require_backend("tensorflow")
    if reference == "keras":
        hand = run.hand_reference("hand Keras fit", workload, order="nndsl")  # the timed run lets Keras shuffle
    else:
        hand = run.hand_reference("hand raw tf.function", workload)
    trainer = generated(workload, "tensorflow").make_trainer()
    trainer.fit(EPOCHS)
    assert_same_history(trainer.history, hand.fit(EPOCHS))
    assert_same_weights(trainer.get_weights(), hand.get_weights(), workload)


def test_flops_per_epoch_counts_the_products():
    # forward 2·(784·1024 + 1024·1024 + 1024·10) per sample; ∂W the same; ∂x without the first layer
    forward = 2 * (784 * 1024 + 1024 * 1024 + 1024 * 10)
    expected = 100 * (3 * forward - 2 * 784 * 1024) + 10 * forward
    assert LARGE.flops_per_epoch(100, 10) == expected


def test_cnn_flops_count_the_im2col_products():
    # conv1 26·26 cells × 3·3·1 → 32; conv2 11·11 cells × 3·3·32 → 64; dense 1600 → 10
    conv1, conv2, dense = 2 * 26 * 26 * 9 * 32, 2 * 11 * 11 * 288 * 64, 2 * 1600 * 10
    # forward and ∂W for all; ∂x for all but the first layer
    assert CNN.flops_per_epoch(100, 10) == 100 * (2 * conv1 + 3 * conv2 + 3 * dense) + 10 * (conv1 + conv2 + dense)
    assert [(what, m, k, n) for what, m, k, n in CNN.products(64)][:3] == [
        ("conv1 forward", 64 * 26 * 26, 9, 32), ("conv1 ∂W", 32, 64 * 26 * 26, 9), ("conv2 forward", 64 * 121, 288, 64)]


def test_quick_run_writes_a_table(tmp_path, capsys):
    out = tmp_path / "latest.md"
    status = run.main(["--quick", "--tiny", str(tmp_path / "data"), "--backend", "numpy", "--workload", "small",
                       "--reps", "1", "--out", str(out)])
    assert status == 0
    table = out.read_text(encoding="utf-8")
    assert "| workload | backend | generated | samples/s | reference |" in table
    row = next(line for line in table.splitlines() if line.startswith("| tiny-small | numpy | generated |"))
    assert "hand NumPy" in row and row.count("×") == 1
    assert table in capsys.readouterr().out


def test_quick_cnn_run_profiles_the_numpy_steps(tmp_path):
    out = tmp_path / "latest.md"
    status = run.main(["--quick", "--tiny", str(tmp_path / "data"), "--backend", "numpy", "--workload", "cnn",
                       "--reps", "1", "--out", str(out)])
    assert status == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("| tiny-cnn | numpy | generated |") for line in lines)
    start = lines.index("| part of the step | generated ms | share | hand NumPy ms | share |")
    parts = lines[start + 2 : start + 3 + len(CATEGORIES)]
    assert [line.split(" | ")[0] for line in parts] == [f"| {part}" for part in CATEGORIES] + ["| **step**"]
    assert any(line.startswith("Conv products inside the step") for line in lines)


def test_quick_rescnn_run_profiles_the_residual_parts(tmp_path):
    """The rescnn's NumPy profile tells the residual adds and the gradient sums from the rest of the step."""
    out = tmp_path / "latest.md"
    status = run.main(["--quick", "--tiny", str(tmp_path / "data"), "--backend", "numpy", "--workload", "rescnn",
                       "--reps", "1", "--out", str(out)])
    assert status == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("| tiny-rescnn | numpy | generated |") for line in lines)
    parts = [line.split(" | ")[0] for line in lines]
    assert {f"| {part}" for part in GRAPH_CATEGORIES} <= set(parts)


def test_the_peak_fraction_is_given_against_the_best_probe_and_paired_with_each_repetitions_probes():
    # 2 GFLOP per epoch; repetition 0 took 20 ms (100 GFLOP/s), repetition 1 10 ms (200 GFLOP/s);
    # the peak probed 100, 200, 400 GFLOP/s before, between and after them
    racer = {"label": "generated", "generated": True, "compiles": False, "warmup_s": 0.0, "times": [0.02, 0.01]}
    cell = {"backend": "numpy", "workload": "large", "epochs": 1, "spec_epochs": 1, "n_train": 10,
            "flops_per_epoch": 2e9, "peaks": [100.0, 200.0, 400.0], "racers": [racer]}
    table = run.render([cell], "header")
    # median 133.3 GFLOP/s is 33 % of the best probe, the best repetition 50 %; paired, each
    # repetition reached 50 % of the better probe around it (100/200 and 200/400)
    assert "| large | generated | 133.3 | 200.0 | 400.0 | **33%** | 50% | **50%** |" in table.splitlines()


def test_each_reference_races_the_generated_trainers_in_a_heat_of_its_own(monkeypatch):
    log = []

    class Fake:
        def __init__(self, name):
            self.name = name

        def fit(self, epochs):
            log.append(self.name)

    monkeypatch.setattr(run, "contenders", lambda backend, workload, compiled: [
        run.Contender("generated", lambda: Fake("gen"), generated=True),
        run.Contender("slow reference", lambda: Fake("slow")),
        run.Contender("fast reference", lambda: Fake("fast")),
    ])
    cells = run.measure("tensorflow", WORKLOADS["small"], epochs=1, reps=2, compiled=False)
    assert [[racer["label"] for racer in cell["racers"]] for cell in cells] == [
        ["generated", "slow reference"], ["generated", "fast reference"]]
    assert all(len(racer["times"]) == 2 for cell in cells for racer in cell["racers"])  # own times per heat
    # warm-ups, then repetitions in alternating order; the slow reference never runs between gen and fast
    assert log == ["gen", "slow", "gen", "slow", "slow", "gen", "gen", "fast", "gen", "fast", "fast", "gen"]


def test_the_machine_header_names_versions_without_importing_tensorflow():
    # the header reads installed versions from package metadata: importing TensorFlow costs seconds
    script = ("import sys; from bench import run; "
              "print(run.machine_header(1, [{'workload': 'small', 'epochs': 1}])); "
              "print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    header, imported = done.stdout.strip().rsplit("\n", 1)
    assert f"numpy {metadata.version('numpy')}" in header
    assert imported == "False"
