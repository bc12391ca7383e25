"""The TensorFlow backend: the same numbers as the NumPy reference on every example spec, and its contract.

Comparisons check shape, then dtype, then values. Tolerances (docs/reproducibility.md):

* initial weights and data: exactly equal (both come from the same NumPy streams);
* forward outputs, gradients after one step, losses of the first 50 steps: rtol = 1e-4,
  atol = 1e-6 × max(1, the largest |value| of the reference array).

  The rtol is the promise of docs/reproducibility.md: float32 arithmetic in another order
  (TensorFlow's kernels, oneDNN, XLA's fusions) rounds differently, about 1e-7 relative per
  operation, and training lets that grow slowly. The atol is float32's floor for results
  much smaller than their terms (a cancelling sum, the loss of an exact fit).

  Worst differences observed (TensorFlow 2.21, a 2-core x86 CPU; relative, over elements
  above 1e-3 of the array's scale): forward outputs 1.8e-5 (staircase: weights of 100 amplify
  the inputs' rounding), gradients 3.0e-5 (staircase), the 50 losses 1.9e-5 (RMSprop on full
  batches); no comparison used more than a fifth of its tolerance. XLA-compiled steps alike.

TensorFlow is slow to import and to trace, so a spec's generated module is built once
(`module_of`) and each test makes the fresh trainers it needs from it.
"""

from __future__ import annotations

import ast
import functools
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

tf = require_backend("tensorflow")

RTOL = 1e-4
ATOL_OF_SCALE = 1e-6  # × max(1, max|reference|)
STEPS = 50

#: What specs/ does not show: every activation (a layer's own, a layer of its own, the first
#: layer, a softmax inside the network), l1 and l2 on one layer, a frozen layer with a penalty,
#: two dropout layers, rmsprop, mae, full batches, no shuffling, no metrics, and layer names
#: that clash with the names the generated Keras model would give its own layers.
FEATURES = {
    "activations_l1_l2_dropouts_adam": """
        data xor(samples=300, noise=0.1, seed=3)
        model {
            input 2  dense 16 leaky_relu(0.1) l1(0.001)  dropout 0.2  dense 8 elu l2(0.01) l1(0.002)
            activation gelu  dropout 0.3  dense 4 softplus  dense 1  activation sigmoid
        }
        loss binary_crossentropy
        train { optimizer adam(lr=0.01) batch 32 epochs 3 metrics accuracy, mse, mae seed 5 }
    """,
    "frozen_penalty_rmsprop_full_batch_unshuffled": """
        data xor(samples=300, noise=0.1, seed=3) { features x1, x2, x1*x2, sin(x1) }
        model { input 4  dense 8 tanh trainable=false l2(0.01)  dense 8 relu  dense 1 }
        loss mse
        train { optimizer rmsprop(lr=0.01) batch all epochs 3 metrics mae seed 2 shuffle false }
    """,
    "activation_first_uniform_inits_momentum_mae": """
        data plane(samples=200, noise=0.2, seed=3) { features x1, x2, x1^2, sin(x2) }
        model {
            input 4  activation tanh  dense 8 leaky_relu init=glorot_uniform  dense 8 elu(0.5) init=he_uniform
            dense 1 tanh
        }
        loss mae
        train { optimizer sgd(lr=0.02, momentum=0.5) batch 7 epochs 3 metrics mse seed 2 }
    """,
    "clashing_names_softmax_inside_no_metrics": """
        data spiral(samples=300, classes=3, seed=3)
        model { input 2  dense 8 relu name=x  dense 8 softmax name=logits_softmax  dense 3 softmax name=logits }
        loss categorical_crossentropy
        train { optimizer rmsprop(lr=0.01) batch 20 epochs 3 }
    """,
}
CASES = [pytest.param(spec, id=spec.stem) for spec in SPECS] + [
    pytest.param(text, id=name) for name, text in FEATURES.items()
]


def load(case) -> nndsl.Program:
    """An example spec (a path) or one of FEATURES (spec text)."""
    return nndsl.load(str(case)) if isinstance(case, Path) else nndsl.parse(case)


@functools.cache
def module_of(case, backend: str = "tensorflow"):
    """The generated module of a case, imported once per test session."""
    return load_module(generate(load(case), backend=backend, target="auto"))


def fresh(case, backend: str = "tensorflow", **options):
    """A new trainer for a case: initial weights, untouched random streams."""
    return module_of(case, backend).make_trainer(**options)


def tf_module(text: str, target: str = "auto", tmp_path: Path | None = None):
    """The generated TensorFlow module of a spec given as text."""
    program = nndsl.parse(text, filename=str(tmp_path / "spec.nn") if tmp_path else "<spec>")
    return load_module(generate(program, backend="tensorflow", target=target))


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


def first_batch(case, trainer):
    size = module_of(case, "numpy").BATCH_SIZE or len(trainer.data.x_train)
    return trainer.data.x_train[:size], trainer.data.y_train[:size]


# --- the same numbers as NumPy, spec by spec (specs/ and FEATURES) ----------------------------


@pytest.mark.parametrize("spec", CASES)
def test_initial_weights_and_data_equal_numpy_exactly(spec):
    reference, trainer = fresh(spec, "numpy"), fresh(spec)
    expected, actual = reference.get_weights(), trainer.get_weights()
    assert list(actual) == list(expected)
    for name in expected:
        assert_agrees(actual[name], expected[name], name, rtol=0, atol=0)
    for field, value in reference.data._asdict().items():
        assert_agrees(getattr(trainer.data, field), value, field, rtol=0, atol=0)


@pytest.mark.parametrize("spec", CASES)
def test_forward_outputs_agree_with_numpy(spec):
    reference, trainer = fresh(spec, "numpy"), fresh(spec)
    x = reference.data.x_val
    assert_agrees(trainer.predict(x), reference.predict(x), "predict(x_val)")


@pytest.mark.parametrize("spec", CASES)
def test_gradients_of_the_first_batch_agree_with_numpy(spec):
    reference, trainer = fresh(spec, "numpy"), fresh(spec)
    x, y = first_batch(spec, reference)
    expected_loss, expected = reference.loss_and_gradients(x, y)
    loss, actual = trainer.loss_and_gradients(x, y)
    assert_agrees(np.float64(loss), np.float64(expected_loss), "loss")
    assert sorted(actual) == sorted(expected)
    for name in expected:
        assert_agrees(actual[name], expected[name], f"∂L/∂{name}")


@pytest.mark.parametrize("spec", CASES)
def test_losses_of_the_first_50_steps_agree_with_numpy(spec):
    expected = first_losses(fresh(spec, "numpy"))
    actual = first_losses(fresh(spec))
    assert_agrees(actual, expected, "losses of the first 50 steps")


@pytest.mark.parametrize("spec", CASES)
def test_an_epoch_in_one_graph_call_is_the_epoch_step_by_step(spec):
    """Without on_batch, train_epoch runs all its steps in one tf.function call; it must not change the numbers."""
    stepwise, whole = fresh(spec), fresh(spec)
    for _ in range(2):
        expected = stepwise.train_epoch(on_batch=lambda done, total, loss: None)
        actual = whole.train_epoch()
        assert list(actual) == list(expected)
        assert_agrees(np.array(list(actual.values())), np.array(list(expected.values())), "epoch logs")
    for name, value in stepwise.get_weights().items():
        assert_agrees(whole.get_weights()[name], value, name)


@pytest.mark.parametrize("spec", [case for case in CASES if load(case.values[0]).validates])  # not `split 1`
def test_the_validation_pass_inside_the_epochs_graph_call_is_evaluate(spec):
    """fit() has train_epoch(validate=True) evaluate the validation set in the epoch's own graph
    call, after its last step: the same val_ logs as evaluate() after a plain epoch."""
    fused, plain = fresh(spec), fresh(spec)
    for _ in range(2):
        logs = fused.train_epoch(validate=True)
        expected = plain.train_epoch() | {f"val_{key}": value for key, value in plain.evaluate().items()}
        assert list(logs) == list(expected)
        assert_agrees(np.array(list(logs.values())), np.array(list(expected.values())), "epoch and validation logs")
    assert fused.fit(1) == plain.fit(1)  # fit() takes that path


def test_a_split_1_trainer_refuses_to_validate_and_trains_on():
    """split 1 holds no samples out: train_epoch(validate=True) says so (it divided by zero) and
    leaves the batch order untouched, so fit() afterwards trains as a fresh trainer's does."""
    spec = ROOT / "specs" / "backprop.nn"
    trainer, reference = fresh(spec), fresh(spec)
    with pytest.raises(ValueError, match="no validation set"):
        trainer.train_epoch(validate=True)
    assert trainer.fit() == reference.fit()


def test_a_validation_set_of_several_passes_is_evaluated_after_the_epoch(monkeypatch):
    """Where evaluate() needs several passes (more rows than EVAL_BATCH and the batch size), the
    epoch's graph call leaves validation out and train_epoch(validate=True) calls evaluate()."""
    spec = ROOT / "specs" / "circle.nn"
    module = module_of(spec, "tensorflow")  # the module fresh() uses
    monkeypatch.setattr(module, "EVAL_BATCH", 4)
    monkeypatch.setattr(module, "BATCH_SIZE", 4)
    trainer, reference = fresh(spec), fresh(spec)
    passes = []
    evaluate = trainer.evaluate
    monkeypatch.setattr(trainer, "evaluate", lambda: passes.append(1) or evaluate())
    logs = trainer.train_epoch(validate=True)
    expected = reference.train_epoch() | {f"val_{key}": value for key, value in reference.evaluate().items()}
    assert passes == [1]
    assert_agrees(np.array(list(logs.values())), np.array(list(expected.values())), "epoch and validation logs")


@pytest.mark.parametrize("spec", CASES)
def test_parameter_count_and_model_summary_are_the_front_ends_total(spec):
    summary = nndsl.summary(load(spec))
    model = fresh(spec).model
    assert isinstance(model, tf.keras.Model)
    assert model.count_params() == summary.total_params
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    total = re.search(r"Total params: ([\d,]+)", "\n".join(lines))
    assert total is not None and int(total.group(1).replace(",", "")) == summary.total_params
    trainable = re.search(r"Trainable params: ([\d,]+)", "\n".join(lines))
    assert int(trainable.group(1).replace(",", "")) == summary.trainable_params


@pytest.mark.parametrize("spec", [
    pytest.param(ROOT / "specs" / "spiral3.nn", id="spiral3"),
    pytest.param(FEATURES["activations_l1_l2_dropouts_adam"], id="activations_l1_l2_dropouts_adam"),
])
def test_checkpoint_restore_continue_is_bitwise_an_uninterrupted_run(spec, tmp_path):
    """Weights, optimizer slots (momentum; Adam's m, v and step), the batch order and dropout streams."""
    uninterrupted = fresh(spec)
    uninterrupted.fit(epochs=2)
    first = fresh(spec)
    first.fit(epochs=1, checkpoint=tmp_path / "checkpoint.npz")
    resumed = fresh(spec)
    resumed.restore(tmp_path / "checkpoint.npz")
    assert resumed.epoch == 1
    resumed.fit(epochs=1)
    expected, actual = uninterrupted.get_weights(), resumed.get_weights()
    for name in expected:
        assert_agrees(actual[name], expected[name], name, rtol=0, atol=0)
    assert resumed.history == uninterrupted.history


def test_xla_compiled_steps_and_epochs_agree_with_numpy():
    spec = ROOT / "specs" / "spiral3.nn"  # dropout masks, an l2 penalty, Nesterov momentum, softmax
    expected = first_losses(fresh(spec, "numpy"))
    actual = first_losses(fresh(spec, jit_compile=True))
    assert_agrees(actual, expected, "losses of the first 50 XLA-compiled steps")
    reference, compiled = fresh(spec, "numpy"), fresh(spec, jit_compile=True)  # an epoch in one compiled call
    for _ in range(2):
        expected, actual = reference.train_epoch(), compiled.train_epoch()
        assert_agrees(np.array(list(actual.values())), np.array(list(expected.values())), "XLA-compiled epoch")


# --- the lecture, and the model as a Keras user sees it ---------------------------------------

LECTURE = """
data xor(samples=20) { features x1 }
model lecture { input 1  dense 1 relu weights=[[0.5]] bias=[0.1] }
loss mse
train { optimizer sgd(lr=0.1) batch 1 epochs 1 }
"""


def test_the_lectures_backprop_example_through_gradient_tape():
    """x = 1, W = 0.5, b = 0.1, y = 1, ReLU, squared error: L = (0.6 − 1)² = 0.16, ∂L/∂W = −0.8."""
    trainer = tf_module(LECTURE).make_trainer()
    layer = trainer.model.get_layer("dense_1")
    x, y = tf.constant([[1.0]]), tf.constant([[1.0]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(trainer.model(x) - y))
    dW, db = tape.gradient(loss, [layer.kernel, layer.bias])
    assert float(loss) == pytest.approx(0.16, rel=1e-6)
    assert float(dW[0, 0]) == pytest.approx(-0.8, rel=1e-6)
    assert float(db[0]) == pytest.approx(-0.8, rel=1e-6)
    loss, gradients = trainer.loss_and_gradients([[1.0]], [[1.0]])
    assert loss == pytest.approx(0.16, rel=1e-6)
    assert gradients["dense_1.W"].shape == (1, 1)
    assert gradients["dense_1.W"][0, 0] == pytest.approx(-0.8, rel=1e-6)


def test_the_model_is_an_ordinary_keras_model_with_kernels_transposed():
    trainer = fresh(ROOT / "specs" / "checkerboard.nn")
    model = trainer.model
    assert [layer.name for layer in model.layers] == ["x", "dense_1", "dense_2", "dense_2_sigmoid"]
    assert isinstance(model.get_layer("dense_1"), tf.keras.layers.Dense)
    kernel = model.get_layer("dense_1").kernel.numpy()
    assert kernel.shape == (2, 8)  # Keras: (inputs, units)
    np.testing.assert_array_equal(kernel.T, trainer.get_weights()["dense_1.W"])  # the IR: (units, inputs)
    probabilities = model(np.zeros((3, 2), np.float32)).numpy()  # the full model applies the sigmoid
    logits = trainer.loss_model(np.zeros((3, 2), np.float32)).numpy()
    np.testing.assert_allclose(probabilities, 1 / (1 + np.exp(-logits)), rtol=1e-6)


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
def test_the_keras_model_saves_reloads_and_exports(tmp_path):  # (the warning is Keras 3.15's own, on saving)
    """Keras' own formats: the .keras file (the gelu_tanh activation is registered) and a SavedModel."""
    trainer = fresh(FEATURES["activations_l1_l2_dropouts_adam"])  # LeakyReLU, ELU and gelu_tanh layers
    trainer.fit(epochs=1)
    x = trainer.data.x_val
    expected = trainer.predict(x)
    trainer.model.save(tmp_path / "model.keras")
    reloaded = tf.keras.models.load_model(tmp_path / "model.keras")
    # Another execution of the same graph: under load TensorFlow may split its kernels differently,
    # and values have been seen to differ in the last bit (1.2e-7), so allow float32 rounding only.
    assert_agrees(reloaded.predict(x, verbose=0), expected, "the reloaded .keras model", rtol=1e-6, atol=1e-7)
    trainer.model.export(tmp_path / "saved_model", verbose=False)
    exported = tf.saved_model.load(str(tmp_path / "saved_model"))
    assert_agrees(exported.serve(tf.constant(x)).numpy(), expected, "the exported SavedModel", rtol=1e-6, atol=1e-7)


FROZEN = """
data xor(samples=100, seed=3)
model { input 2  dense 8 tanh trainable=false l2(0.01)  dense 1 sigmoid }
loss binary_crossentropy
train { optimizer adam(lr=0.01) batch 10 epochs 1 }
"""


def test_frozen_layers_are_out_of_the_optimizer_and_stay_put_but_their_penalty_counts():
    module = tf_module(FROZEN)
    trainer, reference = module.make_trainer(), nndsl.build(nndsl.parse(FROZEN), backend="numpy")
    frozen = trainer.model.get_layer("dense_1")
    assert not frozen.trainable
    assert [v.path for v in trainer.trainable] == ["dense_2/kernel", "dense_2/bias"]
    assert_agrees(np.float64(trainer.evaluate()["loss"]), np.float64(reference.evaluate()["loss"]), "penalised loss")
    before = trainer.get_weights()
    trainer.fit(epochs=1)
    after = trainer.get_weights()
    np.testing.assert_array_equal(after["dense_1.W"], before["dense_1.W"])
    np.testing.assert_array_equal(after["dense_1.b"], before["dense_1.b"])
    assert not np.array_equal(after["dense_2.W"], before["dense_2.W"])


ALL_FROZEN = """
data xor(samples=100, seed=3)
model { input 2  dense 4 relu trainable=false  dense 1 sigmoid trainable=false }
loss binary_crossentropy
train { optimizer adam(lr=0.01) batch 10 epochs 1 metrics accuracy }
"""


def test_a_model_with_nothing_to_train_runs_its_epochs_unchanged():
    trainer, reference = tf_module(ALL_FROZEN).make_trainer(), nndsl.build(nndsl.parse(ALL_FROZEN), backend="numpy")
    before = trainer.get_weights()
    history, expected = trainer.fit(), reference.fit()
    assert_agrees(np.array(history["loss"]), np.array(expected["loss"]), "epoch loss")
    for name, value in before.items():
        np.testing.assert_array_equal(trainer.get_weights()[name], value)
    assert trainer.loss_and_gradients(*first_batch(ALL_FROZEN, reference))[1] == {}


def test_weights_move_between_numpy_and_tensorflow(tmp_path):
    spec = ROOT / "specs" / "checkerboard_8_4.nn"
    numpy_trainer, tf_trainer = fresh(spec, "numpy"), fresh(spec)
    numpy_trainer.fit(epochs=2)
    numpy_trainer.save(tmp_path / "from_numpy.npz")
    tf_trainer.load(tmp_path / "from_numpy.npz")
    x = numpy_trainer.data.x_val
    assert_agrees(tf_trainer.predict(x), numpy_trainer.predict(x), "TensorFlow with NumPy's weights")

    tf_trainer.fit(epochs=2)
    tf_trainer.save(tmp_path / "from_tensorflow.npz")
    numpy_trainer.load(tmp_path / "from_tensorflow.npz")
    assert_agrees(numpy_trainer.predict(x), tf_trainer.predict(x), "NumPy with TensorFlow's weights")


# --- targets: one tf.distribute code path ---------------------------------------------------

CHECKERBOARD = (ROOT / "specs" / "checkerboard.nn").read_text(encoding="utf-8")


def test_auto_and_cpu_train_in_a_distribution_strategy_on_the_cpu():
    if tf.config.list_physical_devices("GPU"):
        assert isinstance(tf_module(CHECKERBOARD, "auto").make_trainer().strategy, tf.distribute.Strategy)
        return
    for target in ("auto", "cpu"):
        trainer = tf_module(CHECKERBOARD, target).make_trainer()
        assert isinstance(trainer.strategy, tf.distribute.Strategy)
        assert trainer.strategy.num_replicas_in_sync == 1
        assert all("CPU" in variable.value.device for variable in trainer.model.variables)


def test_a_one_device_strategy_gives_the_same_numbers():
    spec = ROOT / "specs" / "spiral3.nn"
    expected = first_losses(fresh(spec, "numpy"), steps=20)
    actual = first_losses(fresh(spec, strategy=tf.distribute.OneDeviceStrategy("/cpu:0")), steps=20)
    assert_agrees(actual, expected, "losses in a OneDeviceStrategy")


MIRRORED = """
import sys
import numpy as np
import tensorflow as tf

# Two logical CPUs, before TensorFlow starts, so that a MirroredStrategy has two replicas.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, sys.argv[2])
from tests.test_tensorflow_backend import FEATURES, ROOT, first_losses, fresh

spec = FEATURES.get(sys.argv[1]) or ROOT / "specs" / f"{sys.argv[1]}.nn"
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
losses = first_losses(fresh(spec, strategy=strategy), steps=20)
epoch = fresh(spec, strategy=strategy).train_epoch()["loss"]  # the whole epoch in one graph call
np.save(sys.argv[3], np.append(losses, epoch))
"""


@pytest.mark.parametrize("name", ["spiral3", "activations_l1_l2_dropouts_adam"])
def test_two_replicas_of_a_mirrored_strategy_give_the_same_numbers(name, tmp_path):
    """Each replica takes half of every batch; the loss is scaled by the whole batch, the penalty by the
    number of replicas, and the optimizer adds up the replicas' gradients: the batch mean's gradient.
    (Dropout masks sliced per replica, l1 and l2 penalties, momentum and Adam's slots.)"""
    out = tmp_path / "losses.npy"
    result = subprocess.run([sys.executable, "-c", MIRRORED, name, str(ROOT), str(out)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    spec = FEATURES.get(name) or ROOT / "specs" / f"{name}.nn"
    actual = np.load(out)
    assert_agrees(actual[:20], first_losses(fresh(spec, "numpy"), steps=20), "step losses on two replicas")
    assert_agrees(actual[20:], np.array([fresh(spec, "numpy").train_epoch()["loss"]]), "epoch loss on two replicas")


def test_target_gpu_without_a_gpu_fails_at_once_with_a_clear_message():
    module = tf_module(CHECKERBOARD, target="gpu")
    if tf.config.list_physical_devices("GPU"):
        assert module.make_trainer().strategy.num_replicas_in_sync >= 1
        return
    with pytest.raises(module.DeviceError, match=r"target gpu: TensorFlow sees no GPU on this machine"):
        module.make_trainer()


def test_target_tpu_without_a_tpu_fails_at_once_with_a_clear_message():
    module = tf_module(CHECKERBOARD, target="tpu")
    with pytest.raises(module.DeviceError, match=r"target tpu: TensorFlow found no TPU on this machine"):
        module.make_trainer()
    with pytest.raises(Exception, match="target tpu") as raised:  # another module's DeviceError class
        nndsl.build(nndsl.parse(CHECKERBOARD), backend="tensorflow", target="tpu")
    assert type(raised.value).__name__ == "DeviceError"


def test_keras_on_another_backend_is_a_clear_error(monkeypatch):
    """KERAS_BACKEND is set before Keras is imported; where Keras was imported on another backend, say so."""
    module = tf_module(CHECKERBOARD)
    monkeypatch.setattr(module.keras.backend, "backend", lambda: "jax")
    with pytest.raises(module.DeviceError, match="Keras runs on jax in this process"):
        module.make_trainer()


def test_nndsl_train_on_a_missing_tpu_exits_1_with_the_message(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "nndsl", "train", str(ROOT / "specs" / "checkerboard.nn"), "-b", "tensorflow",
         "-t", "tpu", "--epochs", "1", "--out", str(tmp_path / "run"), "--no-plots"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "nndsl: error: target tpu: TensorFlow found no TPU on this machine" in result.stderr


# --- the generated program on its own -------------------------------------------------------

STANDALONE = """
import runpy, sys
sys.modules["nndsl"] = None  # the generated program must not need nndsl
sys.argv = ["model.py", "--epochs", "2", "--out", "out"]
runpy.run_path("model.py", run_name="__main__")
"""


def test_the_generated_script_trains_without_nndsl(tmp_path):
    program = nndsl.load(str(ROOT / "specs" / "spiral3.nn"))
    (tmp_path / "model.py").write_text(generate(program, backend="tensorflow", target="auto"), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", STANDALONE], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "epoch 2/2 - " in result.stdout and "/150" not in result.stdout  # the run's last epoch, not the spec's
    assert "Traceback" not in result.stderr
    history = json.loads((tmp_path / "out" / "history.json").read_text())
    assert len(history["loss"]) == 2 and history["loss"][1] < history["loss"][0]
    with np.load(tmp_path / "out" / "weights.npz") as weights:
        assert sorted(weights.files) == sorted(p.name for p in program.model.parameters)


@pytest.mark.parametrize("spec", CASES)
def test_generated_code_imports_only_the_standard_library_numpy_tensorflow_and_keras(spec):
    source = generate(load(spec), backend="tensorflow", target="auto")
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module.split(".")[0])
    images = "def load_images(" in source  # Pillow reads image folders (images(...) data)
    assert modules - set(sys.stdlib_module_names) <= {"numpy", "tensorflow", "keras"} | OPTIONAL_IMPORTS | ({"PIL"} if images else set())


def test_generated_code_is_ruff_clean(tmp_path):
    for case in CASES:
        spec, name = case.values[0], case.id
        for target in ("auto", "tpu"):
            source = generate(load(spec), backend="tensorflow", target=target)
            (tmp_path / f"{name}_{target}.py").write_text(source, encoding="utf-8")
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


@pytest.mark.parametrize("on_batch", [None, lambda done, total, loss: None], ids=["one-graph-call", "step-by-step"])
def test_a_diverging_loss_stops_training_before_the_epoch_is_recorded(on_batch, tmp_path):
    module = tf_module(DIVERGING)
    trainer = module.make_trainer()
    with pytest.raises(module.TrainingDiverged, match=r"epoch 1: the loss became (nan|inf)"):
        trainer.fit(on_batch=on_batch, checkpoint=tmp_path / "checkpoint.npz")
    assert trainer.epoch == 0 and trainer.history["loss"] == []
    assert not (tmp_path / "checkpoint.npz").exists()


# --- what restore() and predict() refuse ----------------------------------------------------------


@pytest.mark.parametrize("old, new, message", [
    ("dense 8 relu", "dense 2 relu", "was written for a different model: dense_1.W is (8, 2) there and (2, 2) here"),
    ("sgd(lr=0.03)", "adam(lr=0.03)", "was written with optimizer sgd; this spec trains with adam"),
    ("sgd(lr=0.03)", "sgd(lr=0.03, momentum=0.9)", "was written with optimizer sgd; this spec trains with sgd with momentum"),
], ids=["model", "adam", "momentum"])
def test_restore_refuses_a_checkpoint_of_another_model_or_optimizer(tmp_path, old, new, message):
    trained = tf_module(CHECKERBOARD).make_trainer()
    trained.fit(epochs=1, checkpoint=tmp_path / "checkpoint.npz")
    module = tf_module(CHECKERBOARD.replace(old, new))
    other = module.make_trainer()
    with pytest.raises(module.CheckpointError) as caught:
        other.restore(tmp_path / "checkpoint.npz")
    assert str(caught.value) == f"{tmp_path / 'checkpoint.npz'} {message}"
    assert other.epoch == 0


def test_restore_then_fit_uses_the_specs_learning_rate(tmp_path):
    """Resuming with another learning rate fine-tunes: 1e-30 leaves the restored weights as they are."""
    circle = (ROOT / "specs" / "circle.nn").read_text(encoding="utf-8")
    trained = tf_module(circle).make_trainer()
    trained.fit(epochs=1, checkpoint=tmp_path / "checkpoint.npz")
    resumed = tf_module(circle.replace("adam(lr=0.01)", "adam(lr=1e-30)")).make_trainer()
    resumed.restore(tmp_path / "checkpoint.npz")
    resumed.fit(epochs=1)
    before, after = trained.get_weights(), resumed.get_weights()
    for name, value in before.items():
        np.testing.assert_allclose(after[name], value, rtol=1e-6, atol=0, err_msg=name)


def test_predict_and_evaluate_refuse_inputs_of_the_wrong_width():
    trainer = tf_module(CHECKERBOARD).make_trainer()
    with pytest.raises(ValueError, match=re.escape("the model takes 2 input features; x has shape (5, 3)")):
        trainer.predict(np.ones((5, 3)))
    with pytest.raises(ValueError, match=re.escape("the model takes 2 input features; x has shape (2,)")):
        trainer.predict([0.5, 0.5])
    with pytest.raises(ValueError, match=re.escape("the model takes 2 input features; x has shape (5, 3)")):
        trainer.evaluate(np.ones((5, 3)), np.ones((5, 1)))
    assert set(trainer.evaluate(np.ones((5, 2)), np.ones((5, 1)))) >= {"loss"}  # the right width still evaluates
    # labels as a user holds them (float64) give what the validation set's own tensors give
    x_val, y_val = trainer.x_val.numpy(), trainer.y_val.numpy().astype(np.float64)
    assert trainer.evaluate(x_val, y_val) == pytest.approx(trainer.evaluate())
