"""Layer names that are attributes of the framework classes (issue 21: a layer `append` crashed
the torch program, `KeyError: "attribute 'append' already exists"`).

* The snapshot nndsl/codegen/reserved_names.py holds every attribute of the installed torch and
  Keras classes (a stale one fails here, naming the command that rewrites it), and it is what
  nndsl/codegen/framework_names.py writes, not a hand edit.
* Every attribute name of those classes (public, private, dunder) and every name the generated
  code uses, as a layer name: the checker accepts it, and then the program builds and trains an
  epoch on every backend (row models: every such name; image models: torch's public ones); or
  it refuses it at its position with a hint. The names go about a hundred to a spec, one build
  per backend and spec.
"""

from __future__ import annotations

import keyword
import math
import subprocess
import sys
from pathlib import Path

import pytest

import nndsl
from nndsl import catalog
from nndsl.codegen import BACKENDS, framework_names, reserved_names
from nndsl.codegen.naming import (
    GENERATED_CODE_NAMES,
    KERAS_ATTRIBUTES,
    TORCH_CONTAINER_ATTRIBUTES,
    TORCH_NETWORK_ATTRIBUTES,
    TORCH_NETWORK_METHODS,
    attributes,
)
from nndsl.syntax import grammar_parser
from tests.conftest import require_backend

ROOT = Path(__file__).resolve().parent.parent

#: Every name the property below tries (builtins as names: tests/test_injection.py).
NAMES = sorted(TORCH_CONTAINER_ATTRIBUTES | KERAS_ATTRIBUTES | GENERATED_CODE_NAMES)


def refused(name: str) -> bool:
    """What the checker's identifier policy refuses (docs/language.md, SECURITY.md)."""
    return keyword.iskeyword(name) or name in catalog.SOFT_KEYWORDS or name.startswith("__")


ACCEPTED = [name for name in NAMES if not refused(name)]
REFUSED = [name for name in NAMES if refused(name)]
#: nndsl's own keywords (`train`, `input`, `metrics`, ...): a layer takes one as a string.
NNDSL_KEYWORDS = sorted(t.pattern.value for t in grammar_parser().terminals
                        if t.pattern.type == "str" and t.pattern.value.isidentifier())


def spelled(name: str) -> str:
    return f'"{name}"' if name in NNDSL_KEYWORDS else name


# --- the snapshot -------------------------------------------------------------------------------


def test_the_snapshot_is_what_the_writer_writes():
    """No hand edits: rendering the snapshot's own contents gives the file byte for byte."""
    text = framework_names.SNAPSHOT.read_text(encoding="utf-8")
    assert framework_names.render(reserved_names.ATTRIBUTES, reserved_names.VERSIONS) == text, (
        f"nndsl/codegen/reserved_names.py was edited by hand: run `{framework_names.COMMAND}`")
    assert {cls.split(".")[0] for cls in reserved_names.ATTRIBUTES} == {"torch", "keras"}


def test_the_snapshot_holds_every_attribute_of_the_installed_frameworks():
    require_backend("torch")
    require_backend("tensorflow")
    lacking = framework_names.missing(reserved_names.ATTRIBUTES, framework_names.compute())
    assert not lacking, (f"the snapshot nndsl/codegen/reserved_names.py lacks attributes of the installed "
                         f"{framework_names.framework_versions()}: {lacking}; run `{framework_names.COMMAND}`")


def test_the_issue_s_names_are_reserved_for_torch():
    for name in ["append", "extend", "insert", "pop", "forward", "training", "add_module", "penalty", "_modules"]:
        assert name in TORCH_NETWORK_ATTRIBUTES, name
    # only the Network's own: nn.ModuleDict's `keys` is a layer attribute (and state_dict key) as it was
    assert "keys" in TORCH_CONTAINER_ATTRIBUTES and "keys" not in TORCH_NETWORK_ATTRIBUTES


def test_compiling_imports_no_framework(tmp_path):
    """The snapshot is why: the core install has neither torch nor TensorFlow."""
    script = (
        "import sys, nndsl\n"
        "program = nndsl.parse('data xor\\nmodel { input 2 dense 4 relu name=append dense 1 sigmoid name=pop }\\n"
        "loss binary_crossentropy\\ntrain { optimizer adam epochs 3 }\\n')\n"
        "for backend in ('numpy', 'torch', 'tensorflow'):\n"
        "    nndsl.generate(program, backend=backend)\n"
        "heavy = [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


# --- the property: every such name trains on every backend, or is refused with a hint --------


def chunks(names: list[str], size: int) -> list[list[str]]:
    """`names` dealt into specs of at most `size` layers."""
    count = -(-len(names) // size)
    return [names[i::count] for i in range(count)]


#: Row data: the names go round dense (with an l2 penalty, with a relu module of its own on
#: torch; frozen), activation and dropout layers. Frozen dense and dropout layers are the
#: cheapest for TensorFlow to trace (a penalised dense layer costs several times as much).
ROW_LAYERS = ["dense 2 trainable=false name={}", "dropout 0.1 name={}", "dense 2 relu l2(0.001) name={}",
              "dense 2 trainable=false name={}", "dropout 0.1 name={}", "activation tanh name={}",
              "dense 2 trainable=false name={}", "dropout 0.1 name={}", "dense 2 name={}"]
#: Images: conv2d (one with torch's asymmetric same padding, in an nn.Sequential of its own),
#: batchnorm, the pools, flatten and a global pool. Here every name is one of torch's public
#: attributes; which names a backend renames or keeps does not depend on the layer's kind.
IMAGE_LAYERS = ["conv2d 2 kernel=1 relu l1(0.001) name={}", "batchnorm name={}", "maxpool 1 name={}",
                "conv2d 2 kernel=2 padding=same name={}", "avgpool 1 name={}", "conv2d 2 kernel=1 trainable=false name={}"]
IMAGE_NAMES = sorted(name for name in ACCEPTED if name in TORCH_CONTAINER_ATTRIBUTES and not name.startswith("_"))


def row_spec(names: list[str], model: str) -> str:
    """Mini-batches (the last one short): TensorFlow calls the layers one by one there, where a
    name starting with `_` once failed as a root name scope, as the model's name did anywhere."""
    *hidden, last = names
    layers = [ROW_LAYERS[i % len(ROW_LAYERS)].format(spelled(name)) for i, name in enumerate(hidden)]
    return (f"data xor(samples=40, seed=3)\nmodel {model} {{\n    input 2\n"
            + "".join(f"    {layer}\n" for layer in layers) + f"    dense 1 sigmoid name={spelled(last)}\n}}\n"
            "loss binary_crossentropy\ntrain { optimizer sgd(lr=0.01) batch 8 epochs 1 metrics accuracy }\n")


def image_spec(names: list[str], model: str) -> str:
    *hidden, pooled, last = names
    layers = [IMAGE_LAYERS[i % len(IMAGE_LAYERS)].format(spelled(name)) for i, name in enumerate(hidden)]
    pool = "flatten" if len(hidden) % 2 else "global_maxpool"
    return ('data npz("data/digits.npz", seed=3) { split 0.2 }\nmodel ' + model + ' {\n    input 8x8x1\n'
            + "".join(f"    {layer}\n" for layer in layers) + f"    {pool} name={spelled(pooled)}\n"
            f"    dense 10 softmax name={spelled(last)}\n}}\n"
            "loss categorical_crossentropy\ntrain { optimizer adam batch 128 epochs 1 metrics accuracy }\n")


#: The row specs take every accepted name, the image spec torch's public ones; the models are
#: named after private attributes and what the generated code uses (not nndsl keywords: a model
#: name is never quoted).
MODEL_NAMES = ["_modules", "Network", "_parameters", "self", "layers"]
ROW_SPECS = [row_spec(chunk, MODEL_NAMES[i]) for i, chunk in enumerate(chunks(ACCEPTED, 130))]
IMAGE_SPECS = [image_spec(IMAGE_NAMES, MODEL_NAMES[-1])]


def train_one_epoch(text: str, backend: str) -> None:
    program = nndsl.parse(text, filename=str(ROOT / "specs" / "reserved.nn"))
    names = [layer.name for layer in program.model.layers]
    trainer = nndsl.build(program, backend=backend)
    history = trainer.fit(epochs=1)
    assert all(len(values) == 1 and math.isfinite(values[0]) for values in history.values()), history
    weights = trainer.get_weights()
    assert sorted(weights) == sorted(p.name for p in program.model.parameters)  # the spec's names, unchanged
    assert trainer.predict(trainer.data.x_val[:3]).shape == (3, program.model.out_features)
    if backend == "torch":
        model = trainer.model
        own = set(dir(model)) - attributes("torch.nn.Sequential") - set(model._modules)
        # the specs have weight penalties, so the Network defines every method it may have
        assert own == TORCH_NETWORK_METHODS, f"naming.TORCH_NETWORK_METHODS must be what Network defines: {sorted(own)}"
        for attr, layer in model._modules.items():  # the attribute is the layer, not a method of the module
            assert getattr(model, attr) is layer, attr
    if backend == "tensorflow":  # Keras keeps the spec's names, but a leading `_`
        keras = {layer.name for layer in trainer.model.layers}
        assert {name for name in names if not name.startswith("_")} <= keras
        assert not any(name.startswith("_") for name in keras | {trainer.model.name}), sorted(keras)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("index", range(len(ROW_SPECS)))
def test_reserved_names_train_an_epoch_in_row_models(backend, index):
    if backend != "numpy":
        require_backend(backend)
    train_one_epoch(ROW_SPECS[index], backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("index", range(len(IMAGE_SPECS)))
def test_reserved_names_train_an_epoch_in_image_models(backend, index):
    if backend != "numpy":
        require_backend(backend)
    train_one_epoch(IMAGE_SPECS[index], backend)


def test_the_checker_accepts_every_name_its_policy_allows():
    """Every name but keywords, soft keywords and dunders; the accepted are most of them."""
    assert len(ACCEPTED) > 350 and {"append", "extend", "insert", "pop", "_modules", "training"} <= set(ACCEPTED)
    for text in ROW_SPECS + IMAGE_SPECS:
        nndsl.parse(text, filename="reserved.nn")  # raises SpecError if it refused one


@pytest.mark.parametrize("name", REFUSED)
def test_refused_names_get_a_positioned_error_with_a_hint(name):
    text = f"model {{ input 2\n    dense 2 name={name}\n    dense 1 sigmoid }}\n"
    with pytest.raises(nndsl.SpecError) as info:
        nndsl.parse(text, filename="reserved.nn")
    [error] = info.value.diagnostics
    assert (error.filename, error.span.line, error.span.column) == ("reserved.nn", 2, 18), error.header()
    assert "write, say, '" in error.message, error.message
    suggestion = error.message.rsplit("'", 2)[1]
    assert nndsl.parse(text.replace(f"name={name}", f"name={suggestion}"))  # the hint's name is legal, bare
    assert error.render().startswith("reserved.nn:2:18: error: name ")



@pytest.mark.parametrize("name", NNDSL_KEYWORDS)
def test_nndsl_keywords_as_names_are_refused_unquoted_with_the_quoted_form_as_hint(name):
    text = f"model {{ input 2\n    dense 2 name={name}\n    dense 1 sigmoid }}\n"
    with pytest.raises(nndsl.SpecError) as info:
        nndsl.parse(text, filename="reserved.nn")
    error = info.value.diagnostics[0]
    assert (error.span.line, error.span.column) == (2, 18), error.header()
    assert f'write name="{name}"' in error.message, error.message
    program = nndsl.parse(text.replace(f"name={name}", f'name="{name}"'))
    assert program.model.layers[0].name == name


@pytest.mark.parametrize("name", [*NNDSL_KEYWORDS, "class", "_"])
def test_the_hint_for_a_dunder_is_a_legal_bare_name(name):
    text = f"model {{ input 2\n    dense 2 name=__{name}__\n    dense 1 sigmoid }}\n"
    with pytest.raises(nndsl.SpecError) as info:
        nndsl.parse(text)
    suggestion = info.value.diagnostics[0].message.rsplit("'", 2)[1]
    assert nndsl.parse(text.replace(f"name=__{name}__", f"name={suggestion}")).model.layers[0].name == suggestion


def test_leading_underscores_train_on_tensorflow():
    """Found by the fuzz stage of tests/test_fuzz.py: a layer `_0_` ended in TensorFlow's "'_0_' is
    not a valid root scope name" where the Trainer calls the layers one by one (dropout, mini-
    batches), and a model `_m` wherever the model ran. Keras gets the names without the `_`."""
    require_backend("tensorflow")
    text = ("data xor(samples=10, seed=0) { }\nmodel _m { input 2 dense 1 name=_0_ dense 2 name=a dense 2 name=_a "
            "dropout 0.0 dense 1 name=_1 }\nloss mse\ntrain { optimizer sgd epochs 1 }")
    program = nndsl.parse(text)
    trainer = nndsl.build(program, backend="tensorflow")
    assert len(trainer.fit(epochs=1)["loss"]) == 1
    assert trainer.model.name == "m"
    assert [layer.name for layer in trainer.model.layers][1:] == ["layer_0", "a", "a_2", "dropout_1", "layer_1"]
    assert sorted(trainer.get_weights()) == sorted(p.name for p in program.model.parameters)  # "_0_.W", ...
