"""Plain programs (`nndsl compile --plain`, `nndsl.generate(..., plain=True)`).

Every example spec on every backend: the plain program trains to the same numbers as the full
one (the per-epoch losses and validation metrics it prints, the learning rates, the epoch early
stopping ends at, and the final weights), it is short, ruff-clean and imports no nndsl. Every
layer kind, loss, optimizer, graph form and train-block control renders.
The checkerboard's three plain programs are kept in docs/plain/ and must be what the compiler
writes now.

Lines of each example's plain program: docs/plain/lengths.md (test_plain_lengths checks the
checkerboard's limits and that the table is today's).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nndsl
from nndsl import ir
from nndsl.cli import main
from nndsl.codegen import load_module
from nndsl.errors import SpecError
from tests.conftest import require_backend
from tests.golden import PLAIN_LENGTHS, plain_doc_path, plain_lengths, render
from tests.test_numpy_backend import NETWORKS

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.nn"))
BACKENDS = ("numpy", "torch", "tensorflow")
EPOCHS = 2
#: Printed with 4 decimals: the values agree to that rounding, plus float32's across two executions.
PRINTED_ATOL = 1.5e-4
PRINTED_RTOL = 1e-5
#: Trained weights after two epochs, through the same operations in another arrangement.
WEIGHTS_RTOL = 2e-4
#: The rate is printed as the full program prints it, to 4 significant digits.
LR_RTOL = 1e-3

ROW = re.compile(r"^epoch (\d+)/(\d+) - (.*)$")
STOPPED = re.compile(r"^early stopping: .*; stopped after epoch (\d+) \(best .* at epoch (\d+)")


def small(spec: Path) -> ir.Program:
    """The example with few epochs and, for a Playground set, fewer samples (the spec's own for files).
    A spec with train-block controls keeps its epochs: its schedule, plateau and early stopping act
    later than the second (circle_controls.nn: all three within 20 epochs)."""
    program = nndsl.parse(spec.read_text(encoding="utf-8"), filename=str(spec.relative_to(ROOT)))
    data = program.data
    if isinstance(data.source, ir.PlaygroundData):
        data = dataclasses.replace(data, source=dataclasses.replace(data.source, samples=min(data.source.samples, 200)))
    epochs = program.train.epochs if has_train_controls(program) else EPOCHS
    return dataclasses.replace(program, data=data, train=dataclasses.replace(program.train, epochs=epochs))


def run_plain(source: str):
    """Run a plain program in this process: its module, the logs of each epoch line it printed, the
    final metrics, and (stopped early) the epochs it stopped after and took the best weights from."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        module = load_module(source, "nndsl_plain")
    lines = out.getvalue().splitlines()
    stopped = None
    if len(lines) > 1 and lines[-2].startswith("early stopping: "):
        match = STOPPED.match(lines.pop(-2))
        assert match, lines
        stopped = (int(match[1]), int(match[2]))
    epochs = []
    for line in lines[:-1]:
        match = ROW.match(line)
        assert match, line
        epochs.append({key: float(value) for key, value in (item.split(": ") for item in match[3].split(" - "))})
    kind, _, measured = lines[-1].partition(": ")  # "validation", or "training set" for split 1
    assert kind in ("validation", "training set"), lines[-1]
    final = {key: float(value) for key, value in (item.split(": ") for item in measured.split(" - "))}
    return module, epochs, final, stopped


def plain_weights(module, backend: str, program: ir.Program) -> list[np.ndarray]:
    """The trained parameters of a plain program in the IR's order and layout (batch norm's running
    statistics left out)."""
    if backend == "numpy":
        layers = module.layers  # a graph's: the steps of each layer, by name
        layers = [step for steps in layers.values() for step in steps] if isinstance(layers, dict) else layers
        pairs = [(layer.W, layer.b) if hasattr(layer, "W") else (layer.gamma, layer.beta) for layer in layers
                 if hasattr(layer, "W") or hasattr(layer, "gamma")]
        return [array for pair in pairs for array in pair]
    if backend == "torch":
        arrays = [p.detach().numpy() for p in module.model.parameters()]
        return [a.transpose(0, 2, 3, 1) if a.ndim == 4 else a for a in arrays]  # torch's (out, in, kh, kw)
    layers = module.model.layers  # a graph's by name: a Keras functional model orders them its own way
    if not program.model.is_stack:
        layers = [module.model.get_layer(layer.name) for layer in program.model.layers if layer.parameters]
    arrays = [w.numpy() for layer in layers for w in layer.weights if "moving" not in w.path]
    return [a.T if a.ndim == 2 else a.transpose(3, 0, 1, 2) if a.ndim == 4 else a for a in arrays]


def changes_lr(program: ir.Program) -> bool:
    """Whether a schedule or reduce_lr_on_plateau sets the rate: then each epoch line prints it."""
    train = program.train
    return (train.schedule.span != ir.NO_SPAN and train.schedule.kind != "constant") or \
        train.reduce_lr_on_plateau is not None


def has_train_controls(program: ir.Program) -> bool:
    """Whether the train block has a schedule, early stopping, a plateau or clip_norm."""
    train = program.train
    return changes_lr(program) or train.early_stopping is not None or train.clip_norm is not None


CASES = [pytest.param(spec, backend, id=f"{spec.stem}-{backend}") for spec in SPECS for backend in BACKENDS]


#: Every activation, loss and optimizer (test_numpy_backend's feature networks), and the image
#: layers no example has: average pooling with `same` padding, global max pooling, a frozen conv,
#: flatten, batch norm on vectors, Nesterov momentum.
IMAGES = """
data npz("data/digits.npz", seed=2) { split 0.5 }
model {
    input 8x8x1  conv2d 3 kernel=2 stride=2 padding=same elu trainable=false  avgpool 3 stride=2 padding=same
    conv2d 4 kernel=1 leaky_relu(0.1)  global_maxpool  batchnorm momentum=0.9  dense 10 softmax
}
loss categorical_crossentropy
train { optimizer sgd(lr=0.05, momentum=0.9, nesterov=true)  batch 64  epochs 2  metrics accuracy }
"""
FLAT_IMAGES = """
data npz("data/digits.npz", seed=2) { split 0.5 }
model { input 8x8x1  maxpool 2 padding=same  flatten  dense 8 gelu  dense 10 softmax }
loss categorical_crossentropy
train { optimizer adam(lr=0.01)  batch 64  epochs 2  metrics accuracy }
"""
GRAPH_WITH_DROPOUT = """
data circle(samples=40) { features x1, x2  split 0.5 }
model { input 2 name=x  dense 4 relu name=a  dropout 0.5 name=d  dense 4 relu from=x name=b  concat d, b  dense 1 sigmoid }
loss binary_crossentropy
train { optimizer sgd(lr=0.1)  batch 8  epochs 1 }
"""
CONV_WITH_PENALTY = """
data npz("data/digits.npz") { split 0.5 }
model { input 8x8x1  conv2d 2 kernel=3 l2(0.01) l1(0.001)  global_avgpool  dense 10 softmax }
loss categorical_crossentropy
train { optimizer sgd(lr=0.1)  batch 64  epochs 1  metrics accuracy }
"""
SPLIT_ONE_WITH_ACCURACY = """
data spiral(samples=60, classes=3) { features x1, x2  split 1 }
model { input 2  dense 6 tanh  dropout 0.2  dense 3 softmax }
loss categorical_crossentropy
train { optimizer adam(lr=0.01)  batch 16  epochs 1  metrics accuracy }
"""
#: The train block's controls beyond circle_controls.nn's: a cosine schedule (its second epoch at
#: half-way down) and a clip_norm that acts, under SGD with momentum.
CLIPPED_COSINE = """
data spiral(samples=60) { features x1, x2  split 0.5 }
model { input 2  dense 8 relu  dense 1 sigmoid }
loss binary_crossentropy
train { optimizer sgd(lr=0.2, momentum=0.9)  batch 10  epochs 2  metrics accuracy
        schedule cosine(min_lr=0.01)  clip_norm 0.1 }
"""
#: Early stopping that stops after epoch 2 (no improvement of 10) and restores epoch 1's weights,
#: batch norm's running statistics included; an exponential schedule.
RESTORE_BEST = """
data xor(samples=60) { split 0.5 }
model { input 2  dense 6 relu  batchnorm  dense 1 sigmoid }
loss binary_crossentropy
train { optimizer adam(lr=0.05)  batch 10  epochs 2  metrics accuracy  schedule exponential(rate=0.5)
        early_stopping monitor=val_loss patience=1 min_delta=10 restore_best=true }
"""
#: split 1: the plateau and early stopping watch the training loss; the plateau halves the rate
#: after epoch 1 (no improvement of 10), with a step schedule under it.
PLATEAU_SPLIT_ONE = """
data circle(samples=60) { features x1, x2  split 1 }
model { input 2  dense 4 tanh  dense 1 sigmoid }
loss binary_crossentropy
train { optimizer sgd(lr=0.1)  batch 10  epochs 2  schedule step(every=1, factor=0.8)
        reduce_lr_on_plateau monitor=loss factor=0.5 patience=0 min_delta=10
        early_stopping monitor=loss patience=5  clip_norm 1.0 }
"""
#: A graph with dropout: early stopping without restore_best ends after epoch 2 (no improvement
#: of 0.5), the plateau alone sets the rate, clip_norm on a Keras functional model.
GRAPH_EARLY_STOPPING = """
data circle(samples=60) { features x1, x2  split 0.5 }
model { input 2 name=x  dense 4 relu name=a  dropout 0.3 name=d  dense 4 relu from=x name=b  concat d, b  dense 1 sigmoid }
loss binary_crossentropy
train { optimizer rmsprop(lr=0.01)  batch 10  epochs 2  metrics accuracy
        reduce_lr_on_plateau monitor=val_accuracy factor=0.5 patience=0 min_delta=0.5
        early_stopping monitor=val_loss patience=1 min_delta=0.5  clip_norm 0.2 }
"""
#: A graph of image layers: a conv padded unevenly and a max pool padded with −∞ (torch's forward()
#: pads them itself), a pool whose stride 1 is not its window, dropout on images, flatten.
GRAPH_IMAGES = """
data npz("data/digits.npz", seed=2) { split 0.5 }
model { input 8x8x1 name=i  conv2d 4 kernel=3 stride=2 padding=same relu name=c  maxpool 3 stride=1 padding=same name=p
        conv2d 4 kernel=1 from=i stride=2 name=q  add p, q  dropout 0.2  flatten  dense 10 softmax }
loss categorical_crossentropy
train { optimizer sgd(lr=0.1)  batch 64  epochs 2  metrics accuracy }
"""
FEATURES = {"images": IMAGES, "graph_images": GRAPH_IMAGES, "conv_with_penalty": CONV_WITH_PENALTY, "flat_images": FLAT_IMAGES,
            "graph_with_dropout": GRAPH_WITH_DROPOUT, "split_one_with_accuracy": SPLIT_ONE_WITH_ACCURACY,
            "clipped_cosine": CLIPPED_COSINE, "restore_best": RESTORE_BEST, "plateau_split_one": PLATEAU_SPLIT_ONE,
            "graph_early_stopping": GRAPH_EARLY_STOPPING,
            **NETWORKS}
FEATURE_CASES = [pytest.param(name, backend, id=f"{name}-{backend}") for name in FEATURES for backend in BACKENDS]


@pytest.mark.parametrize("spec, backend", CASES)
def test_plain_program_trains_to_the_full_programs_numbers(spec, backend):
    assert_plain_matches_full(small(spec), backend)


@pytest.mark.parametrize("name, backend", FEATURE_CASES)
def test_every_layer_loss_and_optimizer_trains_to_the_full_programs_numbers(name, backend):
    program = nndsl.parse(FEATURES[name], filename=f"specs/{name}.nn")
    assert_plain_matches_full(dataclasses.replace(program, train=dataclasses.replace(program.train, epochs=EPOCHS)),
                              backend)


def assert_plain_matches_full(program: ir.Program, backend: str) -> None:
    if backend != "numpy":
        require_backend(backend)
    trainer = nndsl.build(program, backend=backend, data_dir=str(ROOT / "specs"))
    history = trainer.fit()
    module, epochs, final, stopped = run_plain(nndsl.generate(program, backend=backend, plain=True,
                                                              data_dir=str(ROOT / "specs")))
    assert len(epochs) == len(history["loss"])  # early stopping ends both at the same epoch
    stopping = trainer.early_stopping if program.train.early_stopping else None
    assert stopped == (None if stopping is None or stopping.stopped_epoch is None else
                       (stopping.stopped_epoch, stopping.best_epoch))
    metrics = list(program.train.metrics)
    validated = ["val_loss", *(f"val_{m}" for m in metrics)] if program.validates else []
    for epoch, logs in enumerate(epochs):
        assert list(logs) == ["loss", *validated, *(["lr"] if changes_lr(program) else [])]
        for key, value in logs.items():
            tolerance = {"rel": LR_RTOL} if key == "lr" else {"abs": PRINTED_ATOL, "rel": PRINTED_RTOL}
            assert value == pytest.approx(history[key][epoch], **tolerance), (epoch, key)
    assert list(final) == ["loss", *metrics]
    # split 1: the plain program measures the trained model on the training set, as evaluate(x, y) does;
    # restore_best: the restored weights, as the full program's final evaluate() does
    restored = stopped is not None and program.train.early_stopping.restore_best
    measured = (trainer.evaluate() if restored and program.validates else
                {key: history[f"val_{key}"][-1] for key in final} if program.validates else
                trainer.evaluate(trainer.data.x_train, trainer.data.y_train))
    for key, value in final.items():
        assert value == pytest.approx(measured[key], abs=PRINTED_ATOL, rel=PRINTED_RTOL), key
    full = trainer.get_weights()
    names = [p.name for p in program.model.parameters if not p.name.endswith((".mean", ".var"))]
    ours = plain_weights(module, backend, program)
    assert len(ours) == len(names)
    for name, value in zip(names, ours, strict=True):
        assert value.shape == full[name].shape, name
        assert value.dtype == np.float32, name
        np.testing.assert_allclose(value, full[name], rtol=WEIGHTS_RTOL,
                                   atol=WEIGHTS_RTOL * float(np.max(np.abs(full[name]))), err_msg=name)


def plain_source(spec: Path, backend: str) -> str:
    return render(spec, backend, plain=True)


def test_plain_refuses_to_monitor_a_training_metric():
    """A plain program prints the training loss but no training metric: early stopping or the
    plateau on one is refused at its statement, pointing at the full program, which has it."""
    spec = ("data xor(samples=40) { split 0.5 }\nmodel { input 2  dense 1 sigmoid }\nloss binary_crossentropy\n"
            "train { optimizer sgd(lr=0.1)  epochs 2  metrics accuracy\n"
            "        early_stopping monitor=accuracy patience=2 }\n")
    for backend in BACKENDS:
        with pytest.raises(SpecError, match="cannot monitor 'accuracy'.*without --plain") as caught:
            nndsl.generate(nndsl.parse(spec), backend=backend, plain=True)
        assert caught.value.span.line == 5


def test_plain_lengths():
    """The checkerboard's plain programs are short (issue 22), and docs/plain/lengths.md is up to date."""
    lengths = dict(zip(BACKENDS, [len(plain_source(ROOT / "specs/checkerboard.nn", b).splitlines())
                                  for b in BACKENDS], strict=True))
    assert lengths["torch"] < 80 and lengths["tensorflow"] < 80 and lengths["numpy"] < 150, lengths
    assert PLAIN_LENGTHS.read_text(encoding="utf-8") == plain_lengths(), "python -m tests.golden rewrites it"


@pytest.mark.parametrize("backend", BACKENDS)
def test_docs_show_what_the_compiler_writes(backend):
    """docs/plain/ holds the checkerboard's plain programs (README links them): exactly today's output
    (python -m tests.golden rewrites them)."""
    shown = plain_doc_path(backend).read_text(encoding="utf-8")
    assert shown == plain_source(ROOT / "specs" / "checkerboard.nn", backend)


def test_readme_shows_the_three_plain_programs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for backend in BACKENDS:
        assert f"```python\n{plain_doc_path(backend).read_text(encoding='utf-8')}```" in readme, backend


def test_plain_programs_are_ruff_clean_and_need_no_nndsl(tmp_path):
    """With the project's settings and with ruff's defaults; and no example's imports nndsl."""
    for spec in SPECS:
        for backend in BACKENDS:
            source = plain_source(spec, backend)
            assert "nndsl" not in {line.split()[1].split(".")[0] for line in source.splitlines()
                                   if line.startswith(("import ", "from "))}
            (tmp_path / f"{spec.stem}_{backend}.py").write_text(source, encoding="utf-8")
    for name, text in FEATURES.items():
        for backend in BACKENDS:
            source = nndsl.generate(nndsl.parse(text, filename=f"specs/{name}.nn"), backend=backend, plain=True,
                                    data_dir="specs")
            (tmp_path / f"feature_{name}_{backend}.py").write_text(source, encoding="utf-8")
    for settings in (["--config", str(ROOT / "pyproject.toml")], ["--isolated"]):
        result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *settings, str(tmp_path)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_plain_program_runs_as_a_script_without_nndsl(backend, tmp_path):
    if backend != "numpy":
        require_backend(backend)
    (tmp_path / "model.py").write_text(nndsl.generate(small(ROOT / "specs" / "checkerboard.nn"), backend=backend,
                                                      plain=True), encoding="utf-8")
    code = "import sys, runpy; sys.modules['nndsl'] = None; runpy.run_path('model.py', run_name='__main__')"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("epoch 1/2 - loss: ") and lines[1].startswith("epoch 2/2 - loss: ")
    assert lines[2].startswith("validation: loss: ") and " - accuracy: " in lines[2]


def test_cli_compile_plain(tmp_path, capsys):
    out = tmp_path / "model.py"
    assert main(["compile", str(ROOT / "specs" / "checkerboard.nn"), "-b", "torch", "--plain", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith('"""checkerboard (')
    assert "nn.Sequential(" in out.read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["compile", str(ROOT / "specs" / "checkerboard.nn"), "--plain", "--emit", "ir"]) != 0
    assert "--plain" in capsys.readouterr().err
    assert main(["compile", str(ROOT / "specs" / "checkerboard.nn"), "-b", "torch", "-t", "gpu", "--plain"]) != 0
    assert "plain" in capsys.readouterr().err
