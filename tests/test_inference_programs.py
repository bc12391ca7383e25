"""Specs without a train block: `nndsl compile` and `nndsl.build` give an inference program, with
predict, get_weights, set_weights, save and load on every backend, and fit/evaluate that say why
they cannot run. The README's staircase example (a model block alone) is the main case."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nndsl
from nndsl.cli import main
from tests.conftest import require_backend

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ["numpy", "torch", "tensorflow"]


def readme_staircase() -> str:
    """The README's hand-written staircase: a spec with only a model block."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```nndsl\n(# weights written out by hand.*?)```", readme, re.S).group(1)
    assert "model staircase" in block and not re.search(r"^(data|loss|train)\b", block, re.M)
    return block


STEPS = [(-1.5, 0.25), (-0.5, 0.5), (0.5, 1.0), (1.5, 1.2), (2.5, 0.8), (3.5, 1.6)]

DRAWN = """
model drawn {
    input 3
    dense 4 relu
    dropout 0.5
    dense 2 softmax
}
loss categorical_crossentropy
"""


def built(text: str, backend: str):
    if backend != "numpy":
        require_backend(backend)
    return nndsl.build(nndsl.parse(text, filename="spec.nn"), backend=backend, target="cpu")


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_readme_staircase_builds_and_predicts_its_steps(backend):
    model = built(readme_staircase(), backend)
    x = np.array([[x] for x, _ in STEPS], dtype=np.float32)
    output = model.predict(x)
    assert output.shape == (6, 1) and output.dtype == np.float32
    np.testing.assert_allclose(output[:, 0], [h for _, h in STEPS], rtol=1e-6, atol=1e-6)
    assert sorted(model.get_weights()) == ["dense_1.W", "dense_1.b", "dense_2.W", "dense_2.b"]
    np.testing.assert_array_equal(model.get_weights()["dense_2.W"],
                                  np.array([[0.25, 0.25, 0.5, 0.2, -0.4, 0.8, -1.6]], np.float32))


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_and_evaluate_say_the_spec_has_nothing_to_train_with(backend):
    model = built(readme_staircase(), backend)
    for call in (model.fit, model.evaluate):
        with pytest.raises(RuntimeError, match=r"spec.nn has no data, no loss, no train block, so this program "
                                               r"only runs the model \(predict, get_weights"):
            call()
    with pytest.raises(RuntimeError, match="has no data, no train block"):  # a loss, but no data or training
        built(DRAWN, backend).fit(epochs=1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_weights_move_in_and_out_and_between_backends(backend, tmp_path):
    reference = built(DRAWN, "numpy")
    model = built(DRAWN, backend)
    initial = reference.get_weights()  # drawn from seed 0, the same on every backend
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(value, initial[name], err_msg=name)
    rng = np.random.default_rng(1)
    new = {name: rng.normal(size=value.shape).astype(np.float32) for name, value in initial.items()}
    reference.set_weights(new)
    reference.save(tmp_path / "w.npz")
    model.load(tmp_path / "w.npz")
    x = rng.normal(size=(7, 3)).astype(np.float32)
    expected = reference.predict(x)  # dropout is the identity: no training here
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(expected.sum(axis=1), 1, rtol=1e-5)  # the softmax is applied
    with pytest.raises(ValueError, match="dense_1.W"):
        model.set_weights({**new, "dense_1.W": np.zeros((3, 4), np.float32)})


@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_inference_program_runs_without_nndsl(backend, tmp_path, capsys):
    if backend != "numpy":
        require_backend(backend)
    (tmp_path / "staircase.nn").write_text(readme_staircase(), encoding="utf-8")
    program = tmp_path / "staircase_model.py"
    assert main(["compile", str(tmp_path / "staircase.nn"), "-b", backend, "-o", str(program)]) == 0
    assert "an inference program" in capsys.readouterr().err
    source = program.read_text(encoding="utf-8")
    assert "def main(" not in source and "class Trainer" not in source and "make_model" in source
    script = "import sys; sys.modules['nndsl'] = None; import staircase_model as m; print(float(m.make_model().predict([[2.5]])[0, 0]))"
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.split()[-1]) == pytest.approx(0.8, abs=1e-6)
    for settings in (["--config", str(ROOT / "pyproject.toml")], ["--isolated"]):
        lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *settings, str(program)],
                              capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout
