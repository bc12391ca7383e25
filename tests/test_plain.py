"""Plain programs (`nndsl compile --plain`, `nndsl.generate(..., plain=True)`).

Every example spec on every backend: the plain program trains to the same numbers as the full
one (the per-epoch losses and validation metrics it prints, and the final weights), it is short,
ruff-clean and imports no nndsl. Every layer kind, loss, optimizer and graph form renders.
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

ROW = re.compile(r"^epoch (\d+)/(\d+) - (.*)$")


def small(spec: Path) -> ir.Program:
    """The example with few epochs and, for a Playground set, fewer samples (the spec's own for files)."""
    program = nndsl.parse(spec.read_text(encoding="utf-8"), filename=str(spec.relative_to(ROOT)))
    data = program.data
    if isinstance(data.source, ir.PlaygroundData):
        data = dataclasses.replace(data, source=dataclasses.replace(data.source, samples=min(data.source.samples, 200)))
    return dataclasses.replace(program, data=data, train=dataclasses.replace(program.train, epochs=EPOCHS))


def run_plain(source: str):
    """Run a plain program in this process: its module, and the logs of each epoch line it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        module = load_module(source, "nndsl_plain")
    lines = out.getvalue().splitlines()
    epochs = []
    for line in lines[:-1]:
        match = ROW.match(line)
        assert match, line
        epochs.append({key: float(value) for key, value in (item.split(": ") for item in match[3].split(" - "))})
    kind, _, measured = lines[-1].partition(": ")  # "validation", or "training set" for split 1
    assert kind in ("validation", "training set"), lines[-1]
    final = {key: float(value) for key, value in (item.split(": ") for item in measured.split(" - "))}
    return module, epochs, final


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


def has_train_controls(spec: Path) -> bool:
    """Whether the spec's train block has a schedule, early stopping, a plateau or clip_norm, which
    plain programs do not write yet (test_plain_refuses_the_train_controls_at_their_statement)."""
    train = nndsl.load(str(spec)).train
    return (train.schedule.span != ir.NO_SPAN and train.schedule.kind != "constant") or any(
        control is not None for control in (train.early_stopping, train.reduce_lr_on_plateau, train.clip_norm))


CONTROLLED = [spec for spec in SPECS if has_train_controls(spec)]
CASES = [pytest.param(spec, backend, id=f"{spec.stem}-{backend}") for spec in SPECS for backend in BACKENDS
         if spec not in CONTROLLED]


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
FEATURES = {"images": IMAGES, "conv_with_penalty": CONV_WITH_PENALTY, "flat_images": FLAT_IMAGES,
            "graph_with_dropout": GRAPH_WITH_DROPOUT, "split_one_with_accuracy": SPLIT_ONE_WITH_ACCURACY, **NETWORKS}
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
    module, epochs, final = run_plain(nndsl.generate(program, backend=backend, plain=True,
                                                     data_dir=str(ROOT / "specs")))
    assert len(epochs) == EPOCHS
    metrics = list(program.train.metrics)
    validated = ["val_loss", *(f"val_{m}" for m in metrics)] if program.validates else []
    for epoch, logs in enumerate(epochs):
        assert list(logs) == ["loss", *validated]
        for key, value in logs.items():
            assert value == pytest.approx(history[key][epoch], abs=PRINTED_ATOL, rel=PRINTED_RTOL), (epoch, key)
    assert list(final) == ["loss", *metrics]
    # split 1: the plain program measures the trained model on the training set, as evaluate(x, y) does
    measured = ({key: history[f"val_{key}"][-1] for key in final} if program.validates else
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


@pytest.mark.parametrize("backend", BACKENDS)
def test_plain_refuses_the_train_controls_at_their_statement(backend):
    """Until plain programs write them, a spec with a schedule, early stopping, a plateau or clip_norm
    is refused with a positioned error naming the statement and the full program; the example
    circle_controls.nn is one (its full program is tested like every example's)."""
    assert [spec.stem for spec in CONTROLLED] == ["circle_controls"]
    text = (ROOT / "specs" / "circle_controls.nn").read_text(encoding="utf-8")
    program = nndsl.parse(text, filename="specs/circle_controls.nn")
    with pytest.raises(SpecError) as caught:
        nndsl.generate(program, backend=backend, plain=True, data_dir=str(ROOT / "specs"))
    line = next(i for i, row in enumerate(text.splitlines(), start=1) if row.split("#")[0].strip().startswith("schedule"))
    assert caught.value.span.line == line
    assert "plain programs do not write schedule yet" in str(caught.value) and "without --plain" in str(caught.value)
    for statement in ("early_stopping monitor=val_loss patience=2", "reduce_lr_on_plateau patience=2", "clip_norm 1.0"):
        spec = ("data xor(samples=40) { split 0.5 }\nmodel { input 2  dense 1 sigmoid }\nloss binary_crossentropy\n"
                f"train {{ optimizer sgd(lr=0.1)  epochs 2  {statement} }}\n")
        with pytest.raises(SpecError, match=f"plain programs do not write {statement.split()[0]} yet"):
            nndsl.generate(nndsl.parse(spec), backend=backend, plain=True)


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
