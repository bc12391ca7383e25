"""The PyTorch backend: the same numbers as the NumPy reference on every example spec, and its contract.

Comparisons check shape, then dtype, then values. Tolerances (docs/reproducibility.md):

* initial weights and data: exactly equal (both come from the same NumPy streams);
* forward outputs, gradients after one step, losses of the first 50 steps: rtol = 1e-4,
  atol = 1e-6 × max(1, the largest |value| of the reference array).

  The rtol is the promise of docs/reproducibility.md: float32 arithmetic in another order
  (BLAS, torch's kernels) rounds differently, about 1e-7 relative per operation, and training
  lets that grow slowly. The atol is float32's floor: inputs, weights and targets are of
  order 1 (or of the array's own scale, if larger) and resolved to ~1e-7, so a result that
  comes out much smaller than its terms — an element where a sum cancels, or the loss and
  gradients of an exact fit, like staircase's losses of ~1e-13 — carries an absolute error of
  that size, and no relative one can be promised for it.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nndsl
from nndsl.codegen import generate, load_module
from tests.conftest import OPTIONAL_IMPORTS, require_backend
from tests.golden import ROOT, SPECS

torch = require_backend("torch")

RTOL = 1e-4
ATOL_OF_SCALE = 1e-6  # × max(1, max|reference|)
STEPS = 50

#: What specs/ does not show: every activation (as a layer's and as a separate layer, a
#: softmax inside the network), l1, a frozen layer with a penalty, two dropout layers,
#: rmsprop, mae, no shuffling, layer names that an nn.Module attribute would shadow.
FEATURES = {
    "activations_l1_dropouts_nesterov": """
        data xor(samples=300, noise=0.1, seed=3)
        model { input 2  dense 16 tanh  dropout 0.2  dense 8 leaky_relu l1(0.001)  dropout 0.5  dense 2 softmax }
        loss categorical_crossentropy
        train { optimizer sgd(lr=0.05, momentum=0.9, nesterov=true) batch 16 epochs 3 metrics accuracy, mse, mae seed 5 }
    """,
    "frozen_penalty_activation_layers_adam": """
        data xor(samples=300, noise=0.1, seed=3) { features x1, x2, x1*x2, sin(x1) split 0.6 }
        model {
            input 4  dense 8 elu l2(0.01) trainable=false  activation gelu  dense 4 softplus l2(0.001)
            dense 3  activation softmax  dropout 0.3  dense 1 sigmoid
        }
        loss binary_crossentropy
        train { optimizer adam(lr=0.01) batch 7 epochs 3 metrics accuracy, mae seed 2 }
    """,
    "mae_unshuffled_momentum": """
        data plane(samples=200, noise=0.2, seed=3) { features x1, x2, x1^2, sin(x2) }
        model { input 4  dense 8 leaky_relu(0.2)  dense 3 elu(0.5)  dense 1 tanh }
        loss mae
        train { optimizer sgd(lr=0.01, momentum=0.5) batch 9 epochs 3 metrics mae, mse shuffle false }
    """,
    "renamed_layers_rmsprop": """
        data spiral(samples=300, classes=3, seed=3)
        model { input 2  dense 8 relu name=forward  dense 3 name=to  activation softmax }
        loss categorical_crossentropy
        train { optimizer rmsprop(lr=0.01) batch 20 epochs 3 metrics accuracy, mse }
    """,
}
CASES = [pytest.param(spec, id=spec.stem) for spec in SPECS] + [
    pytest.param(text, id=name) for name, text in FEATURES.items()
]


def load(case) -> nndsl.Program:
    """An example spec (a path) or one of FEATURES (spec text)."""
    return nndsl.load(str(case)) if isinstance(case, Path) else nndsl.parse(case)


def build(case, backend: str, target: str = "cpu"):
    return nndsl.build(load(case), backend=backend, target=target)


def torch_module(text: str, target: str = "cpu", tmp_path: Path | None = None):
    """The generated torch module of a spec given as text."""
    program = nndsl.parse(text, filename=str(tmp_path / "spec.nn") if tmp_path else "<spec>")
    return load_module(generate(program, backend="torch", target=target))


def assert_agrees(actual, expected, what: str, rtol: float = RTOL, atol: float | None = None) -> None:
    """Shape, then dtype, then values: rtol, and atol = ATOL_OF_SCALE × max(1, max|expected|) unless given."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, NumPy has {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype}, NumPy has {expected.dtype}"
    if atol is None:
        atol = ATOL_OF_SCALE * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def first_losses(trainer, steps: int = STEPS) -> np.ndarray:
    """The loss of each of the first `steps` training steps, epoch after epoch."""
    losses: list[float] = []
    while len(losses) < steps:
        trainer.train_epoch(on_batch=lambda done, total, loss: losses.append(float(loss)))
    return np.array(losses[:steps])


def first_batch(trainer):
    size = trainer.module.BATCH_SIZE or len(trainer.data.x_train)
    return trainer.data.x_train[:size], trainer.data.y_train[:size]


# --- the same numbers as NumPy, spec by spec (specs/ and FEATURES) -------------------------------------------------


@pytest.mark.parametrize("spec", CASES)
def test_initial_weights_and_data_equal_numpy_exactly(spec):
    reference, trainer = build(spec, "numpy"), build(spec, "torch")
    expected, actual = reference.get_weights(), trainer.get_weights()
    assert list(actual) == list(expected)
    for name in expected:
        assert_agrees(actual[name], expected[name], name, rtol=0, atol=0)
    for field, value in reference.data._asdict().items():
        assert_agrees(getattr(trainer.data, field), value, field, rtol=0, atol=0)


@pytest.mark.parametrize("spec", CASES)
def test_forward_outputs_agree_with_numpy(spec):
    reference, trainer = build(spec, "numpy"), build(spec, "torch")
    x = reference.data.x_val
    assert_agrees(trainer.predict(x), reference.predict(x), "predict(x_val)")


@pytest.mark.parametrize("spec", CASES)
def test_gradients_of_the_first_batch_agree_with_numpy(spec):
    reference, trainer = build(spec, "numpy"), build(spec, "torch")
    x, y = first_batch(reference)
    expected_loss, expected = reference.loss_and_gradients(x, y)
    loss, actual = trainer.loss_and_gradients(x, y)
    assert_agrees(np.float64(loss), np.float64(expected_loss), "loss")
    assert sorted(actual) == sorted(expected)
    for name in expected:
        assert_agrees(actual[name], expected[name], f"∂L/∂{name}")


@pytest.mark.parametrize("spec", CASES)
def test_losses_of_the_first_50_steps_agree_with_numpy(spec):
    expected = first_losses(build(spec, "numpy"))
    actual = first_losses(build(spec, "torch"))
    assert_agrees(actual, expected, "losses of the first 50 steps")


@pytest.mark.parametrize("spec", CASES)
def test_parameter_count_is_the_summary_total(spec):
    program = load(spec)
    model = nndsl.build(program, backend="torch", target="cpu").model
    summary = nndsl.summary(program)
    assert isinstance(model, torch.nn.Module)
    # Keras's total counts batch norm's running statistics, which torch keeps as buffers
    state = sum(b.numel() for name, b in model.named_buffers() if name.endswith(("running_mean", "running_var")))
    assert sum(p.numel() for p in model.parameters()) + state == summary.total_params
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == summary.trainable_params


@pytest.mark.parametrize("spec", CASES)
def test_checkpoint_restore_continue_is_bitwise_an_uninterrupted_run(spec, tmp_path):
    uninterrupted = build(spec, "torch")
    uninterrupted.fit(epochs=2)
    first = build(spec, "torch")
    first.fit(epochs=1, checkpoint=tmp_path / "checkpoint.npz")
    resumed = build(spec, "torch")
    resumed.restore(tmp_path / "checkpoint.npz")
    assert resumed.epoch == 1
    resumed.fit(epochs=1)
    expected, actual = uninterrupted.get_weights(), resumed.get_weights()
    for name in expected:
        assert_agrees(actual[name], expected[name], name, rtol=0, atol=0)
    assert resumed.history == uninterrupted.history


# --- the lecture, and the model as a PyTorch user sees it ------------------------------------

LECTURE = """
data xor(samples=20) { features x1 }
model lecture { input 1  dense 1 relu weights=[[0.5]] bias=[0.1] }
loss mse
train { optimizer sgd(lr=0.1) batch 1 epochs 1 }
"""


def test_the_lectures_backprop_example_through_torch_autograd():
    """x = 1, W = 0.5, b = 0.1, y = 1, ReLU, squared error: L = (0.6 − 1)² = 0.16, ∂L/∂W = −0.8."""
    trainer = torch_module(LECTURE).make_trainer()
    x, y = torch.tensor([[1.0]]), torch.tensor([[1.0]])
    loss = torch.nn.functional.mse_loss(trainer.model(x), y)
    loss.backward()
    assert loss.item() == pytest.approx(0.16, rel=1e-6)
    assert trainer.model.dense_1.weight.grad.item() == pytest.approx(-0.8, rel=1e-6)
    assert trainer.model.dense_1.bias.grad.item() == pytest.approx(-0.8, rel=1e-6)
    loss, gradients = trainer.loss_and_gradients([[1.0]], [[1.0]])
    assert loss == pytest.approx(0.16, rel=1e-6)
    assert gradients["dense_1.W"].shape == (1, 1)
    assert gradients["dense_1.W"][0, 0] == pytest.approx(-0.8, rel=1e-6)


def test_the_model_is_an_ordinary_nn_module():
    trainer = build(ROOT / "specs" / "checkerboard.nn", "torch")
    model = trainer.model
    assert list(model.state_dict()) == ["dense_1.weight", "dense_1.bias", "dense_2.weight", "dense_2.bias"]
    assert isinstance(model.dense_1, torch.nn.Linear)
    np.testing.assert_array_equal(model.dense_1.weight.detach().numpy(), trainer.get_weights()["dense_1.W"])
    logits = model(torch.zeros(3, 2))
    assert logits.shape == (3, 1)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside torch when dynamo loads
def test_the_model_exports_with_torch_export_dropout_included():
    trainer = build(ROOT / "specs" / "spiral3.nn", "torch")
    model = trainer.model.eval()
    x = torch.from_numpy(trainer.data.x_val[:8])
    exported = torch.export.export(model, (x,))
    torch.testing.assert_close(exported.module()(x), model(x), rtol=1e-6, atol=1e-7)  # another execution: rounding only


FROZEN = """
data xor(samples=100, seed=3)
model { input 2  dense 8 tanh trainable=false  dense 1 sigmoid }
loss binary_crossentropy
train { optimizer adam(lr=0.01) batch 10 epochs 1 }
"""


def test_frozen_layers_are_out_of_the_optimizer_and_stay_put():
    trainer = torch_module(FROZEN).make_trainer()
    frozen = trainer.model.dense_1
    assert not frozen.weight.requires_grad and not frozen.bias.requires_grad
    optimized = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert optimized == {id(trainer.model.dense_2.weight), id(trainer.model.dense_2.bias)}
    before = trainer.get_weights()
    trainer.fit(epochs=1)
    after = trainer.get_weights()
    np.testing.assert_array_equal(after["dense_1.W"], before["dense_1.W"])
    np.testing.assert_array_equal(after["dense_1.b"], before["dense_1.b"])
    assert not np.array_equal(after["dense_2.W"], before["dense_2.W"])


def test_weights_move_between_numpy_and_torch(tmp_path):
    spec = ROOT / "specs" / "checkerboard_8_4.nn"
    numpy_trainer, torch_trainer = build(spec, "numpy"), build(spec, "torch")
    numpy_trainer.fit(epochs=2)
    numpy_trainer.save(tmp_path / "from_numpy.npz")
    torch_trainer.load(tmp_path / "from_numpy.npz")
    x = numpy_trainer.data.x_val
    assert_agrees(torch_trainer.predict(x), numpy_trainer.predict(x), "torch with NumPy's weights")

    torch_trainer.fit(epochs=2)
    torch_trainer.save(tmp_path / "from_torch.npz")
    numpy_trainer.load(tmp_path / "from_torch.npz")
    assert_agrees(numpy_trainer.predict(x), torch_trainer.predict(x), "NumPy with torch's weights")


# --- targets --------------------------------------------------------------------------------

CHECKERBOARD = (ROOT / "specs" / "checkerboard.nn").read_text(encoding="utf-8")


def test_target_auto_uses_cuda_when_present_else_the_cpu():
    trainer = torch_module(CHECKERBOARD, target="auto").make_trainer()
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert trainer.device.type == expected
    assert {p.device.type for p in trainer.model.parameters()} == {expected}
    assert trainer.x_train.device.type == expected  # the data live on the device, moved there once


def test_target_gpu_without_cuda_fails_at_once_with_a_clear_message():
    module = torch_module(CHECKERBOARD, target="gpu")
    if torch.cuda.is_available():
        assert module.make_trainer().device.type == "cuda"
        return
    with pytest.raises(module.DeviceError, match=r"compiled for a CUDA GPU \(-t gpu\).*recompile with -t cpu"):
        module.make_trainer()


def test_target_tpu_without_torch_xla_fails_with_a_clear_message():
    module = torch_module(CHECKERBOARD, target="tpu")
    source = generate(nndsl.parse(CHECKERBOARD), backend="torch", target="tpu")
    assert "import torch_xla" not in source.split("\n\n\n")[0]  # not among the module's imports
    try:
        import torch_xla  # noqa: F401
    except ImportError:
        with pytest.raises(module.DeviceError, match=r"compiled for a TPU \(-t tpu\).*torch_xla"):
            module.make_trainer()
    else:
        assert module.make_trainer().device.type == "xla"


def test_nndsl_train_on_a_missing_gpu_exits_1_with_the_message(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "nndsl", "train", str(ROOT / "specs" / "checkerboard.nn"), "-b", "torch", "-t", "gpu",
         "--epochs", "1", "--out", str(tmp_path / "run"), "--no-plots"],
        capture_output=True, text=True, cwd=ROOT,
    )
    if torch.cuda.is_available():
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("nndsl: error: this program was compiled for a CUDA GPU (-t gpu)")


# --- the generated program on its own -------------------------------------------------------

STANDALONE = """
import runpy, sys
sys.modules["nndsl"] = None  # the generated program must not need nndsl
sys.argv = ["model.py", "--epochs", "2", "--out", "out"]
runpy.run_path("model.py", run_name="__main__")
"""


def test_the_generated_script_trains_without_nndsl(tmp_path):
    program = nndsl.load(str(ROOT / "specs" / "spiral3.nn"))
    (tmp_path / "model.py").write_text(generate(program, backend="torch", target="cpu"), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", STANDALONE], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "epoch 2/2 - " in result.stdout and "/150" not in result.stdout  # the run's last epoch, not the spec's
    history = json.loads((tmp_path / "out" / "history.json").read_text())
    assert len(history["loss"]) == 2 and history["loss"][1] < history["loss"][0]
    with np.load(tmp_path / "out" / "weights.npz") as weights:
        assert sorted(weights.files) == sorted(p.name for p in program.model.parameters)


@pytest.mark.parametrize("spec", SPECS, ids=[spec.stem for spec in SPECS])
def test_generated_code_imports_only_the_standard_library_numpy_and_torch(spec):
    source = generate(nndsl.load(str(spec)), backend="torch", target="auto")
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module.split(".")[0])
    images = "def load_images(" in source  # Pillow reads image folders (images(...) data)
    assert modules - set(sys.stdlib_module_names) <= {"numpy", "torch"} | OPTIONAL_IMPORTS | ({"PIL"} if images else set())


def test_generated_code_is_ruff_clean(tmp_path):
    for spec in SPECS:
        for target in ("auto", "tpu"):
            source = generate(nndsl.load(str(spec)), backend="torch", target=target)
            (tmp_path / f"{spec.stem}_{target}.py").write_text(source, encoding="utf-8")
    # With the project's settings, and with ruff's defaults (--isolated), which users' plain `ruff check` applies.
    for settings in (["--config", str(ROOT / "pyproject.toml")], ["--isolated"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--no-cache", *settings, str(tmp_path)], capture_output=True, text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


# --- the NaN stop ---------------------------------------------------------------------------

DIVERGING = """
data xor(samples=100)
model { input 2  dense 8 relu  dense 1 }
loss mse
train { optimizer sgd(lr=1e30) batch 10 epochs 5 }
"""


def test_a_diverging_loss_stops_training_before_the_epoch_is_recorded(tmp_path):
    module = torch_module(DIVERGING)
    trainer = module.make_trainer()
    with pytest.raises(module.TrainingDiverged, match=r"epoch 1, batch \d+: the loss became (nan|inf)"):
        trainer.fit(checkpoint=tmp_path / "checkpoint.npz")
    assert trainer.epoch == 0 and trainer.history["loss"] == []
    assert not (tmp_path / "checkpoint.npz").exists()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside torch when dynamo loads
def test_compile_option_wraps_the_same_model():
    """make_trainer(compile=True) trains through torch.compile(model): the same parameters, compiled lazily."""
    trainer = torch_module(CHECKERBOARD).make_trainer(compile=True)
    assert trainer.forward is not trainer.model
    assert trainer.forward._orig_mod is trainer.model
    plain = torch_module(CHECKERBOARD).make_trainer()
    assert plain.forward is plain.model


# --- what restore() and predict() refuse ----------------------------------------------------------


@pytest.mark.parametrize("old, new, message", [
    ("dense 8 relu", "dense 2 relu", "was written for a different model: dense_1.W is (8, 2) there and (2, 2) here"),
    ("sgd(lr=0.03)", "adam(lr=0.03)", "was written with optimizer sgd; this spec trains with adam"),
    ("sgd(lr=0.03)", "sgd(lr=0.03, momentum=0.9)", "was written with optimizer sgd; this spec trains with sgd with momentum"),
], ids=["model", "adam", "momentum"])
def test_restore_refuses_a_checkpoint_of_another_model_or_optimizer(tmp_path, old, new, message):
    trained = torch_module(CHECKERBOARD).make_trainer()
    trained.fit(epochs=1, checkpoint=tmp_path / "checkpoint.npz")
    module = torch_module(CHECKERBOARD.replace(old, new))
    other = module.make_trainer()
    with pytest.raises(module.CheckpointError) as caught:
        other.restore(tmp_path / "checkpoint.npz")
    assert str(caught.value) == f"{tmp_path / 'checkpoint.npz'} {message}"
    assert other.epoch == 0


def test_restore_then_fit_uses_the_specs_learning_rate(tmp_path):
    """Resuming with another learning rate fine-tunes: 1e-30 leaves the restored weights as they are."""
    circle = (ROOT / "specs" / "circle.nn").read_text(encoding="utf-8")
    trained = torch_module(circle).make_trainer()
    trained.fit(epochs=1, checkpoint=tmp_path / "checkpoint.npz")
    resumed = torch_module(circle.replace("adam(lr=0.01)", "adam(lr=1e-30)")).make_trainer()
    resumed.restore(tmp_path / "checkpoint.npz")
    resumed.fit(epochs=1)
    before, after = trained.get_weights(), resumed.get_weights()
    for name, value in before.items():
        np.testing.assert_allclose(after[name], value, rtol=1e-6, atol=0, err_msg=name)


def test_predict_and_evaluate_refuse_inputs_of_the_wrong_width():
    trainer = torch_module(CHECKERBOARD).make_trainer()
    with pytest.raises(ValueError, match=re.escape("the model takes 2 input features; x has shape (5, 3)")):
        trainer.predict(np.ones((5, 3)))
    with pytest.raises(ValueError, match=re.escape("the model takes 2 input features; x has shape (2,)")):
        trainer.predict([0.5, 0.5])
    with pytest.raises(ValueError, match=re.escape("the model takes 2 input features; x has shape (5, 3)")):
        trainer.evaluate(np.ones((5, 3)), np.ones((5, 1)))
    assert set(trainer.evaluate(np.ones((5, 2)), np.ones((5, 1)))) >= {"loss"}  # the right width still evaluates


LOAD_STATE_DICT = """
import sys
import numpy as np
import torch
sys.modules["nndsl"] = None  # another process, without nndsl: only the generated program and the file
from model import Network
network = Network()  # (a spec with dropout: no generator needed to predict)
network.load_state_dict(torch.load("spiral3.pt", weights_only=True))
network.eval()
with torch.no_grad():
    np.save("logits.npy", network(torch.from_numpy(np.load("x.npy"))).numpy())
"""


def test_a_state_dict_saved_here_loads_into_the_generated_network_in_another_process(tmp_path):
    """The documented way to keep a torch model (torch.save(trainer.model) pickles a reference to
    the module nndsl built in memory, which no other process can import)."""
    program = nndsl.load(ROOT / "specs" / "spiral3.nn")
    trainer = nndsl.build(program, backend="torch", target="cpu")
    trainer.fit(epochs=1)
    torch.save(trainer.model.state_dict(), tmp_path / "spiral3.pt")
    (tmp_path / "model.py").write_text(generate(program, backend="torch", target="cpu"), encoding="utf-8")
    x = trainer.data.x_val[:20]
    np.save(tmp_path / "x.npy", x)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", LOAD_STATE_DICT], capture_output=True, text=True, cwd=tmp_path,
                            env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    with torch.no_grad():
        here = trainer.model.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "logits.npy"), here, rtol=1e-6, atol=1e-7)  # another process
