"""The NumPy backend as a whole: generated networks against finite differences, the live model
that `nndsl.build` returns, and the generated program as a standalone script.

Whole-network gradient checks run in float64. The generated program is float32 throughout
(its source says `np.float32` wherever it fixes a dtype); replacing that by `np.float64` gives
the same program in double precision, where a central difference with a step of 1e-6 is
accurate to ~1e-9 and a wrong derivative anywhere in the chain shows up at once. In float32 a
finite difference resolves a loss of order 1 only to ~1e-7/step, so its noise would hide small
errors; instead the float32 program's gradients are compared with the float64 program's, at
float32's tolerance.
"""

from __future__ import annotations

import ast
import io
import json
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import numpy as np
import pytest

import nndsl
from nndsl.codegen import load_module
from tests.conftest import OPTIONAL_IMPORTS, assert_same_run

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.nn"))
STEP = 1e-6

#: Networks that use every activation (as a layer's and as a layer of its own, a softmax inside
#: the network), dropout, l1 and l2 (per layer and model-wide), a frozen layer, one per loss.
NETWORKS = {
    "binary_crossentropy": """
        data xor(samples=40, noise=0.1, seed=3) { features x1, x2, x1*x2 }
        model {
            input 3  dense 6 tanh l2(0.01)  dropout 0.3  dense 5 elu l1(0.02)  activation softplus
            dense 4 gelu  dense 4 leaky_relu(0.2)  dense 1 sigmoid
        }
        loss binary_crossentropy
        train { optimizer sgd(lr=0.1)  batch 8  epochs 1  metrics accuracy }
    """,
    "categorical_crossentropy": """
        data spiral(samples=60, classes=3, seed=4) { features x1, x2, sin(x1) }
        model {
            input 3  dense 5 relu init=normal(1.0) trainable=false  dense 6 sigmoid l1(0.01) l2(0.02)
            dropout 0.5  dense 4 elu(0.5)  activation softmax  dense 3 softmax
        }
        loss categorical_crossentropy
        train { optimizer adam(lr=0.01)  batch 8  epochs 1  metrics accuracy }
    """,
    "mse": """
        data plane(samples=40, noise=0.2, seed=5) { features x1, x2, x1^2 }
        model { input 3  dense 6 relu  dropout 0.2  dense 4 tanh  dense 2 softplus  dense 1  regularizer l2(0.05) }
        loss mse
        train { optimizer rmsprop(lr=0.01)  batch 8  epochs 1  metrics mae }
    """,
    "mae": """
        data multigauss(samples=40, noise=0.1, seed=6)
        model { input 2  dense 5 gelu l1(0.01)  dropout 0.25  dense 4 leaky_relu  dense 1 tanh }
        loss mae
        train { optimizer sgd(lr=0.1, momentum=0.9)  batch 8  epochs 1  metrics mse }
    """,
}


def float64_module(source: str):
    """The generated program with every float32 made float64 (see the module docstring)."""
    assert "np.float32" in source
    double = source.replace("np.float32", "np.float64")
    tokens = tokenize.generate_tokens(io.StringIO(double).readline)
    missed = [t for t in tokens if t.string in ("float32", "'float32'", '"float32"')]
    assert not missed, "a float32 the replacement missed would make this check mixed precision"
    return load_module(double)


def batch_for(program: nndsl.Program, rng: np.random.Generator, dtype):
    """A random batch of 8 inputs and matching labels or targets (away from mae's kink)."""
    x = rng.standard_normal((8, program.model.in_features)).astype(dtype)
    if program.task == "binary":
        y = rng.integers(0, 2, (8, 1)).astype(dtype)
    elif program.task == "multiclass":
        y = rng.integers(0, program.model.out_features, 8)
    else:
        y = (rng.choice([-1.0, 1.0], (8, 1)) * rng.uniform(1.1, 2.0, (8, 1))).astype(dtype)  # |y| > |tanh|
    return x, y


@pytest.fixture(params=["row form", "column form"])
def dense_form(request, monkeypatch):
    """Both forms of the dense products (numpy_backend.column_form picks one from the shapes; these
    small networks would all get the row form)."""
    from nndsl.codegen import numpy_backend

    columns = request.param == "column form"
    monkeypatch.setattr(numpy_backend, "column_form", lambda program: columns)
    return columns


@pytest.mark.parametrize("loss", list(NETWORKS))
def test_whole_network_gradients_match_finite_differences(loss, dense_form):
    program = nndsl.parse(NETWORKS[loss])
    source = nndsl.generate(program)
    assert ('order="F"' in source) == dense_form
    module = float64_module(source)
    trainer = module.make_trainer()
    x, y = batch_for(program, np.random.default_rng(0), np.float64)
    masks = trainer.dropout_rng.bit_generator.state

    def loss_and_gradients():
        trainer.dropout_rng.bit_generator.state = masks  # the same dropout masks every time
        return trainer.loss_and_gradients(x, y)

    _, gradients = loss_and_gradients()
    frozen = {p.name for p in program.model.parameters if not p.trainable}
    assert set(gradients) == {p.name for p in program.model.parameters} - frozen
    for name, analytic in gradients.items():
        value = trainer.model.params[name]
        assert analytic.dtype == np.float64 and analytic.shape == value.shape
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            old = value[index]
            value[index] = old + STEP
            up = loss_and_gradients()[0]
            value[index] = old - STEP
            down = loss_and_gradients()[0]
            value[index] = old
            numeric[index] = (up - down) / (2 * STEP)
        error = np.abs(analytic - numeric).max() / max(np.abs(analytic).max(), np.abs(numeric).max(), 1e-12)
        assert error < 1e-6, f"{name}: relative error {error:.2e}"


@pytest.mark.parametrize("loss", list(NETWORKS))
def test_float32_program_agrees_with_its_float64_twin(loss, dense_form):
    """Same weights, same batch, dropout off: losses and gradients agree to float32 rounding."""
    program = nndsl.parse(NETWORKS[loss])
    source = nndsl.generate(program)
    single, double = load_module(source).make_trainer(), float64_module(source).make_trainer()
    double.set_weights({k: v.astype(np.float64) for k, v in single.get_weights().items()})
    single.dropout_rng = double.dropout_rng = None  # dropout off: masks drawn as float32/float64 differ
    x, y = batch_for(program, np.random.default_rng(1), np.float32)
    loss32, grads32 = single.loss_and_gradients(x, y)
    loss64, grads64 = double.loss_and_gradients(x.astype(np.float64), y if y.dtype.kind == "i" else y.astype(np.float64))
    # float32 rounds each operation to ~6e-8 relative; a few dozen of them in a chain leave
    # ~1e-6, and 1e-4 (relative to the gradient's largest entry) leaves room to spare.
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    for name, g64 in grads64.items():
        assert grads32[name].dtype == np.float32
        error = np.abs(grads32[name] - g64).max() / max(np.abs(g64).max(), 1e-12)
        assert error < 1e-4, f"{name}: relative error {error:.2e}"


def test_backward_of_a_frozen_bottom_layer_stops_early():
    """Below the lowest trainable layer nothing needs a gradient: the walk stops there."""
    source = nndsl.generate(nndsl.load(ROOT / "specs" / "staircase.nn"))
    backward = source[source.index("    def backward(self):") :]
    backward = backward[: backward.index("\n\n")]
    assert "dense_backward(b.dz2, b.h1, self.W2, self.dW2, self.db2, b.ones)" in backward
    assert "sigmoid_backward" not in backward and "self.W1" not in backward


# --- the live model: nndsl.build -----------------------------------------------------------------


@pytest.fixture
def checkerboard():
    return nndsl.load(ROOT / "specs" / "checkerboard.nn")


def test_build_predict_fit_evaluate(checkerboard):
    model = nndsl.build(checkerboard, backend="numpy")
    x = model.data.x_val[:7]
    before = model.predict(x)
    assert before.shape == (7, 1) and before.dtype == np.float32
    assert ((before > 0) & (before < 1)).all()  # the sigmoid is applied to the logits

    history = model.fit(epochs=3)
    assert list(history) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert all(len(values) == 3 for values in history.values())
    assert model.epoch == 3
    logs = model.evaluate()
    assert logs == {"loss": history["val_loss"][-1], "accuracy": history["val_accuracy"][-1]}
    assert not np.array_equal(model.predict(x), before)
    assert model.predict(np.empty((0, 2))).shape == (0, 1)


def test_fit_in_parts_equals_fit_at_once(checkerboard):
    once, parts = nndsl.build(checkerboard), nndsl.build(checkerboard)
    once.fit(epochs=4)
    parts.fit(epochs=1)
    parts.fit(epochs=3)
    assert once.history == parts.history
    for name, value in once.get_weights().items():
        assert np.array_equal(value, parts.get_weights()[name])


@pytest.mark.parametrize("loss", ["binary_crossentropy", "categorical_crossentropy", "mse"])
def test_gathering_batch_by_batch_trains_exactly_as_gathering_the_epoch(loss, monkeypatch):
    """A large training set is gathered batch by batch into reused buffers, a small one as a whole
    each epoch (GATHER_BY_BATCH_BYTES decides): the same batches, so the same numbers, bit for bit.
    A Playground set known to be small gets no batch-by-batch path at all (gathers_by_batch)."""
    from nndsl.codegen import numpy_backend

    program = nndsl.parse(NETWORKS[loss].replace("epochs 1", "epochs 3"))
    whole = nndsl.build(program)
    assert not numpy_backend.gathers_by_batch(program) and not hasattr(whole, "gather")
    assert "GATHER_BY_BATCH_BYTES" not in whole.module.__dict__
    monkeypatch.setattr(numpy_backend, "gathers_by_batch", lambda program: True)
    batches = nndsl.build(program)
    assert batches.module.GATHER_BY_BATCH_BYTES == numpy_backend.GATHER_BY_BATCH_BYTES == 1 << 22
    batches.module.GATHER_BY_BATCH_BYTES = 0
    whole.fit()
    batches.fit()
    assert len(batches._batches) == 1 + (len(batches.data.x_train) % 8 > 0)  # one size, and the last batch's
    assert whole.history == batches.history
    for name, value in whole.get_weights().items():
        assert np.array_equal(value, batches.get_weights()[name]), name


def test_the_batch_by_batch_path_is_written_only_where_the_training_set_can_be_large():
    from nndsl.codegen.numpy_backend import gathers_by_batch

    def spec(data, loss="binary_crossentropy", units=1, shuffle="true"):
        output = {"binary_crossentropy": "sigmoid", "categorical_crossentropy": "softmax"}.get(loss, "")
        return nndsl.parse(f"data {data}\nmodel {{ input 2  dense {units} {output} }}\nloss {loss}\n"
                           f"train {{ optimizer sgd  batch 8  epochs 1  shuffle {shuffle} }}")

    # 2 float32 features and a float32 label: 12 bytes a training sample, 4 MiB at 349,525
    assert not gathers_by_batch(spec("xor(samples=699050) { split 0.5 }"))  # 349,525 training samples
    assert gathers_by_batch(spec("xor(samples=699052) { split 0.5 }"))  # 349,526
    assert gathers_by_batch(spec("xor(samples=699052) { split 0.5 }", shuffle="false")) is False
    # int64 class labels: 16 bytes a sample
    assert gathers_by_batch(spec("spiral(samples=600000, classes=3) { split 0.5 }", "categorical_crossentropy", 3))
    assert gathers_by_batch(spec('csv("d.csv", target=y)', "mse"))  # a file: any size


def test_the_dense_products_take_the_form_whose_rows_are_the_larger_side():
    """Column form (W·xᵀ, column-major buffers) where most of the products' flops are in layers
    wider than the batch, row form (x·Wᵀ) otherwise and where the batch size is unknown."""
    from nndsl.codegen.numpy_backend import column_form

    def spec(widths, batch="batch 256", data='npz("d.npz")', inputs=784):
        layers = "  ".join(f"dense {units} relu" for units in widths)
        return nndsl.parse(f"data {data}\nmodel {{ input {inputs}  {layers}  dense 10 softmax }}\n"
                           f"loss categorical_crossentropy\ntrain {{ optimizer sgd  {batch}  epochs 1 }}")

    assert column_form(nndsl.load(ROOT / "bench" / "specs" / "large.nn"))  # 784-1024-1024-10, batch 256
    assert column_form(spec([1024, 1024]))
    assert not column_form(spec([256, 256], "batch 1024"))
    assert not column_form(spec([64]))  # nearly all flops in a layer narrower than the batch
    assert column_form(spec([512]))
    assert not column_form(spec([256]))  # 256 units, 256 rows: the row form, as fast or faster there
    assert not column_form(spec([64, 1024, 64]))  # 116,352 of 181,888 multiply-adds a row in narrow layers
    assert not column_form(nndsl.load(ROOT / "specs" / "checkerboard.nn"))  # batch 10, 8 units
    assert not column_form(nndsl.load(ROOT / "specs" / "spiral.nn"))  # batch 16, 16 units
    # `batch all`: a Playground set's training rows are known, a file's are not
    playground = "spiral(samples=1000, classes=10) { split 0.5 }"  # 500 training rows
    assert column_form(spec([1024, 1024], "batch all", playground, inputs=2))
    assert not column_form(spec([256, 256], "batch all", playground, inputs=2))
    assert not column_form(spec([1024, 1024], "batch all"))


def test_both_forms_of_the_dense_products_train_alike(checkerboard, monkeypatch):
    """The form is a matter of speed only: the same losses and weights, to float32 rounding."""
    from nndsl.codegen import numpy_backend

    rows = nndsl.build(checkerboard)
    monkeypatch.setattr(numpy_backend, "column_form", lambda program: True)
    columns = nndsl.build(checkerboard)
    assert 'order="F"' in columns.source and 'order="F"' not in rows.source
    rows.fit(epochs=5)
    columns.fit(epochs=5)
    np.testing.assert_allclose(rows.history["loss"], columns.history["loss"], rtol=1e-5)
    for name, value in rows.get_weights().items():
        np.testing.assert_allclose(value, columns.get_weights()[name], rtol=1e-4, atol=1e-6)


def test_relu_runs_in_place_only_right_after_its_dense_layer():
    """h = max(z, 0) overwrites z where nothing else reads z; an activation layer keeps its input
    (the layer below may need it, as tanh′ is read off tanh's output)."""
    program = nndsl.parse(
        """
        data xor(samples=40, seed=3)
        model { input 2  dense 4 relu  dense 4 tanh  activation relu  dense 1 sigmoid }
        loss binary_crossentropy
        train { optimizer sgd(lr=0.1)  batch 8  epochs 1 }
        """
    )
    model = nndsl.build(program)
    buffers = model.model.buffers(8)
    assert buffers.h1 is buffers.z1
    assert buffers.h2 is not buffers.z2 and buffers.a2 is not buffers.h2
    assert "b.h1 = b.z1  # relu in place" in model.source


def test_fit_defaults_to_the_rest_of_the_spec_epochs():
    program = nndsl.parse(NETWORKS["mse"].replace("epochs 1", "epochs 3"))
    model = nndsl.build(program)
    model.fit(epochs=1)
    assert len(model.fit()["loss"]) == 3


def test_weights_round_trip(checkerboard, tmp_path):
    model = nndsl.build(checkerboard)
    model.fit(epochs=2)
    weights = model.get_weights()
    assert {name: w.shape for name, w in weights.items()} == {
        "dense_1.W": (8, 2), "dense_1.b": (8,), "dense_2.W": (1, 8), "dense_2.b": (1,),
    }
    weights["dense_1.W"][...] = 0  # a copy: the model is unchanged
    assert np.abs(model.get_weights()["dense_1.W"]).sum() > 0

    model.save(tmp_path / "weights.npz")
    with np.load(tmp_path / "weights.npz", allow_pickle=False) as stored:
        assert sorted(stored.files) == sorted(weights)
        for name, value in model.get_weights().items():
            assert np.array_equal(stored[name], value) and stored[name].dtype == np.float32

    fresh = nndsl.build(checkerboard)
    x = model.data.x_val
    assert not np.array_equal(fresh.predict(x), model.predict(x))
    fresh.load(tmp_path / "weights.npz")
    assert np.array_equal(fresh.predict(x), model.predict(x))

    other = nndsl.build(checkerboard)
    other.set_weights(model.get_weights())
    assert np.array_equal(other.predict(x), model.predict(x))


def npz_bytes(members: dict[str, bytes], compression: int = 0) -> bytes:
    """A zip archive of the given members (name -> bytes), as np.savez lays one out."""
    import zipfile

    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return stream.getvalue()


def npy_bytes(array: np.ndarray, shape: tuple[int, ...] | None = None) -> bytes:
    """`array` as an .npy file; `shape`, if given, is what its header claims instead."""
    from numpy.lib import format as npy

    stream = io.BytesIO()
    header = npy.header_data_from_array_1_0(array)
    npy.write_array_header_1_0(stream, header if shape is None else dict(header, shape=shape))
    return stream.getvalue() + array.tobytes()


def test_load_reads_compressed_weights_and_refuses_what_is_no_weights_file(checkerboard, tmp_path):
    """load() reads .npz weights with the checks checkpoints get: never unpickled, each .npy header
    checked before NumPy allocates what it claims, and anything else a ValueError naming the file."""
    import zipfile

    model = nndsl.build(checkerboard)
    model.fit(epochs=1)
    weights = model.get_weights()
    np.savez_compressed(tmp_path / "compressed.npz", **weights)
    fresh = nndsl.build(checkerboard)
    fresh.load(tmp_path / "compressed.npz")
    for name, value in fresh.get_weights().items():
        assert np.array_equal(value, weights[name])

    with pytest.raises(FileNotFoundError):
        fresh.load(tmp_path / "absent.npz")
    (tmp_path / "text.npz").write_text("dense_1.W 1 2 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"text\.npz: not a weights file \(save\(\) writes an \.npz archive\)"):
        fresh.load(tmp_path / "text.npz")
    model.save(tmp_path / "w.npz")
    whole = (tmp_path / "w.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=r"cut\.npz: unreadable weights file"):
        fresh.load(tmp_path / "cut.npz")

    members = {f"{name}.npy": npy_bytes(value) for name, value in weights.items()}
    hostile = dict(members, **{"dense_1.W.npy": npy_bytes(weights["dense_1.W"], shape=(99_999_999_999, 2))})
    (tmp_path / "hostile.npz").write_bytes(npz_bytes(hostile))
    with pytest.raises(ValueError, match=r"hostile\.npz: unreadable weights file \(array 'dense_1\.W': its header "
                                         r"claims shape \(99999999999, 2\) of float32, 799,999,999,992 bytes, but it holds 192\)"):
        fresh.load(tmp_path / "hostile.npz")
    deflated = npz_bytes(hostile, compression=zipfile.ZIP_DEFLATED)  # bounded by 1032x the archive
    (tmp_path / "deflated.npz").write_bytes(deflated)
    with pytest.raises(ValueError, match=r"deflated\.npz: unreadable weights file \(array 'dense_1\.W': its header claims"):
        fresh.load(tmp_path / "deflated.npz")

    objects = dict(members, **{"dense_1.b.npy": npy_bytes(np.array([Path("a")] * 8, dtype=object))})
    (tmp_path / "objects.npz").write_bytes(npz_bytes(objects))
    with pytest.raises(ValueError, match=r"objects\.npz: unreadable weights file \(.*allow_pickle=False"):
        fresh.load(tmp_path / "objects.npz")
    for name, value in fresh.get_weights().items():  # no failed load changed a weight
        assert np.array_equal(value, weights[name])


def test_checkpoint_whose_header_claims_what_it_does_not_hold_is_refused_before_allocating(checkerboard, tmp_path):
    model = nndsl.build(checkerboard)
    model.fit(epochs=1, checkpoint=tmp_path / "checkpoint.npz")
    arrays, header = model.module._read_checkpoint(tmp_path / "checkpoint.npz")
    import zipfile

    with zipfile.ZipFile(tmp_path / "checkpoint.npz") as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members["param.dense_1.W.npy"] = npy_bytes(arrays["param.dense_1.W"], shape=(2**40,))
    (tmp_path / "hostile.npz").write_bytes(npz_bytes(members))
    with pytest.raises(model.module.CheckpointError,
                       match=r"hostile\.npz: unreadable checkpoint \(ValueError: array 'param\.dense_1\.W': its header "
                             r"claims shape \(1099511627776,\) of float32, 4,398,046,511,104 bytes, but it holds 192\)"):
        model.module._read_checkpoint(tmp_path / "hostile.npz")


def test_fit_without_epochs_trains_to_the_specs_last_and_then_warns_that_it_trained_nothing():
    program = nndsl.parse("data xor(samples=40, seed=1)\nmodel { input 2  dense 1 sigmoid }\n"
                          "loss binary_crossentropy\ntrain { optimizer sgd(lr=0.1)  batch 8  epochs 3 }")
    model = nndsl.build(program)
    model.fit(epochs=1)
    assert len(model.fit()["loss"]) == 3 and model.epoch == 3  # the rest of the spec's epochs
    weights = model.get_weights()
    with pytest.warns(UserWarning, match=r"fit\(\) trained nothing: the spec's 3 epochs are done; "
                                         r"fit\(epochs=N\) trains N more"):
        model.fit()
    assert model.epoch == 3 and all(np.array_equal(w, weights[k]) for k, w in model.get_weights().items())
    model.fit(epochs=2)  # more, as Keras's fit trains more
    assert model.epoch == 5 and len(model.history["loss"]) == 5


def test_interrupted_fit_resumes_bitwise_from_its_checkpoint(tmp_path):
    """Dropout, Adam, shuffling: the checkpoint holds every stream and state they need."""
    program = nndsl.parse(NETWORKS["categorical_crossentropy"].replace("epochs 1", "epochs 5"))
    straight = nndsl.build(program)
    straight.fit()

    class Interrupt(Exception):
        pass

    def stop_after_epoch_3(epoch, logs):
        if epoch == 3:
            raise Interrupt

    checkpoint = tmp_path / "checkpoint.npz"
    first = nndsl.build(program)
    with pytest.raises(Interrupt):
        first.fit(on_epoch=stop_after_epoch_3, checkpoint=checkpoint, checkpoint_every=2)
    resumed = nndsl.build(program)
    resumed.restore(checkpoint)
    assert resumed.epoch == 2
    resumed.fit()
    assert resumed.history == straight.history
    for name, value in straight.get_weights().items():
        assert np.array_equal(resumed.get_weights()[name], value), name


def test_predict_and_evaluate_refuse_inputs_of_the_wrong_width(checkerboard):
    model = nndsl.build(checkerboard)
    with pytest.raises(ValueError, match=re.escape("the model takes 2 input features; x has shape (5, 3)")):
        model.predict(np.ones((5, 3)))
    with pytest.raises(ValueError, match=re.escape("the model takes 2 input features; x has shape (2,)")):
        model.predict([0.5, 0.5])
    with pytest.raises(ValueError, match=re.escape("the model takes 2 input features; x has shape (5, 3)")):
        model.evaluate(np.ones((5, 3)), np.ones((5, 1)))
    assert set(model.evaluate(np.ones((5, 2)), np.ones((5, 1)))) >= {"loss"}  # the right width still evaluates
    staircase = nndsl.build(nndsl.load(ROOT / "specs" / "staircase.nn"))
    with pytest.raises(ValueError, match=re.escape("the model takes 1 input feature; x has shape (4, 2)")):
        staircase.predict(np.ones((4, 2)))


@pytest.mark.parametrize("old, new, message", [
    ("dense 8 relu", "dense 2 relu", "was written for a different model: dense_1.W is (8, 2) there and (2, 2) here"),
    ("sgd(lr=0.03)", "rmsprop(lr=0.03)", "was written with optimizer sgd; this spec trains with rmsprop"),
], ids=["model", "optimizer"])
def test_restore_refuses_a_checkpoint_of_another_model_or_optimizer(checkerboard, tmp_path, old, new, message):
    trained = nndsl.build(checkerboard)
    trained.fit(epochs=1, checkpoint=tmp_path / "checkpoint.npz")
    text = (ROOT / "specs" / "checkerboard.nn").read_text(encoding="utf-8")
    other = nndsl.build(nndsl.parse(text.replace(old, new)))
    with pytest.raises(other.module.CheckpointError) as caught:
        other.restore(tmp_path / "checkpoint.npz")
    assert str(caught.value) == f"{tmp_path / 'checkpoint.npz'} {message}"
    assert other.epoch == 0


# --- the generated program as a standalone script ----------------------------------------------------

ALLOWED_IMPORTS = set(sys.stdlib_module_names) | {"numpy"}


def compiled(spec: Path) -> str:
    program = nndsl.load(spec)
    return nndsl.generate(program, backend="numpy", data_dir=str(spec.parent))


def imported_modules(source: str, top_level: bool = False) -> set[str]:
    names = set()
    tree = ast.parse(source)
    for node in tree.body if top_level else ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    return names


def generated_programs():
    """Every example spec, and the feature networks above (every activation, loss, optimizer)."""
    cases = [pytest.param(compiled, spec, id=spec.stem) for spec in SPECS]
    cases += [pytest.param(nndsl.parse, text, id=name) for name, text in NETWORKS.items()]
    return cases


@pytest.mark.parametrize("make, case", generated_programs())
def test_generated_code_is_ruff_clean_and_needs_only_numpy(make, case, tmp_path):
    source = make(case) if make is compiled else nndsl.generate(make(case))
    assert "nndsl" not in imported_modules(source)
    allowed = ALLOWED_IMPORTS | ({"PIL"} if "def load_images(" in source else set())  # Pillow reads images(...)
    assert imported_modules(source) <= allowed | OPTIONAL_IMPORTS, imported_modules(source) - allowed - OPTIONAL_IMPORTS
    assert not imported_modules(source, top_level=True) & OPTIONAL_IMPORTS
    path = tmp_path / "model.py"
    path.write_text(source, encoding="utf-8")
    # With the project's settings, and with ruff's defaults (--isolated), which users' plain `ruff check` applies.
    for settings in (["--config", str(ROOT / "pyproject.toml")], ["--isolated"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--no-cache", *settings, str(path)], capture_output=True, text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_generated_script_trains_without_nndsl(spec, tmp_path):
    source = compiled(spec)
    lines = source.splitlines()
    assert f"from {spec}" in lines[2]  # the header names the spec
    assert f"({spec}:" in source  # comments point at spec lines
    (tmp_path / "model.py").write_text(source, encoding="utf-8")
    out = tmp_path / "run"
    code = (
        "import sys, runpy; sys.modules['nndsl'] = None; "
        f"sys.argv = ['model.py', '--epochs', '2', '--out', {str(out)!r}]; "
        "runpy.run_path('model.py', run_name='__main__')"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""

    program = nndsl.load(spec)
    keys = ["loss", *program.train.metrics]
    if program.validates:  # `split 1` (specs/backprop.nn) has no validation set
        keys += ["val_loss", *(f"val_{m}" for m in program.train.metrics)]
    keys += ["lr"]
    printed = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert len(printed) == 2
    for epoch, line in enumerate(printed, start=1):  # the format of nndsl train: Keras's
        values = [rf"{key}: \d+\.\d{{4}}" for key in keys[:-1]] + [r"lr: [\d.e+-]+"]  # lr: 0.03, 1e-05
        assert re.fullmatch(rf"epoch {epoch}/2 - \d+(ms|\.\ds|s) - " + " - ".join(values),
                            line), line  # the run's last epoch, not the spec's
    assert bool(re.search(r"^validation: loss: \d+\.\d{4}", result.stdout, re.MULTILINE)) == program.validates

    history = json.loads((out / "history.json").read_text())
    assert list(history) == keys and all(len(v) == 2 for v in history.values())
    # The script computes exactly what the live model computes.
    model = nndsl.build(program)
    live = model.fit(epochs=2)
    with np.load(out / "weights.npz", allow_pickle=False) as stored:
        assert sorted(stored.files) == sorted(p.name for p in program.model.parameters)
        assert_same_run(live, history, model.get_weights(), dict(stored))  # another process: float32 rounding
    assert (out / "checkpoint.npz").exists()


def test_generated_script_refuses_a_bad_epoch_count(tmp_path):
    (tmp_path / "model.py").write_text(compiled(ROOT / "specs" / "perceptron.nn"), encoding="utf-8")
    for bad in ("0", "-2"):
        result = subprocess.run([sys.executable, "model.py", "--epochs", bad], cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode == 2  # argparse's status for a usage error, as scripts do
        assert f"--epochs must be a positive integer, not {bad}" in result.stderr and "Traceback" not in result.stderr
        assert result.stdout == ""


def script(folder: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "model.py", *map(str, args)], cwd=folder, capture_output=True, text=True)


def test_generated_script_refuses_a_checkpoint_it_cannot_continue(tmp_path):
    """Another spec's checkpoint, or one past the epochs asked for: one error line, exit 1, nothing written."""
    text = (ROOT / "specs" / "checkerboard.nn").read_text(encoding="utf-8")
    for name, spec in (("sgd", text), ("adam", text.replace("sgd(lr=0.03)", "adam(lr=0.03)")),
                       ("small", text.replace("dense 8 relu", "dense 2 relu"))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.py").write_text(nndsl.generate(nndsl.parse(spec)), encoding="utf-8")
    out = tmp_path / "run"
    assert script(tmp_path / "sgd", "--epochs", 3, "--out", out).returncode == 0
    kept = {p.name: p.read_bytes() for p in out.iterdir()}
    checkpoint = out / "checkpoint.npz"
    for folder, args, message in [
        ("adam", [], f"{checkpoint} was written with optimizer sgd; this spec trains with adam"),
        ("small", [], f"{checkpoint} was written for a different model: dense_1.W is (8, 2) there and (2, 2) here"),
        ("sgd", ["--epochs", 2], f"{checkpoint} is at epoch 3 already, past epoch 2, where this run was to stop; "
                                 "resume with --epochs 3 or more"),
    ]:
        result = script(tmp_path / folder, "--out", out, "--resume", *args)
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr == f"error: {message}\n"
        assert {p.name: p.read_bytes() for p in out.iterdir()} == kept
    # As many epochs as the checkpoint's: nothing to train; the results are written again.
    (out / "weights.npz").unlink()
    result = script(tmp_path / "sgd", "--out", out, "--resume", "--epochs", 3)
    assert result.returncode == 0 and "epoch " not in result.stdout, result.stderr
    assert (out / "weights.npz").read_bytes() == kept["weights.npz"]


def test_generated_script_reports_a_failed_write_in_one_line(tmp_path, monkeypatch, capsys):
    """A write that fails while training (a full disk): the checkpoint's, or the weights' at the end."""
    import errno
    import os

    module = load_module(compiled(ROOT / "specs" / "checkerboard.nn"))
    real = os.replace
    for failing, message in (("checkpoint.npz", "cannot write {out}/checkpoint.npz: No space left on device"),
                             ("weights.npz", "cannot write in {out}: No space left on device")):
        def replace(source, target, failing=failing):
            if Path(target).name == failing:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(source, target)

        monkeypatch.setattr(os, "replace", replace)
        out = tmp_path / failing
        assert module.main(["--epochs", "1", "--out", str(out)]) == 1
        assert capsys.readouterr().err == f"error: {message.format(out=out)}\n"
