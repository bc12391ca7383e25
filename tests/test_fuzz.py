"""Fuzzing the whole compiler: text -> parse/check -> every backend's code -> compile().

Four sources of input, each run through `exercise`:

1. the real grammar (grammar/nndsl.lark) through hypothesis's `from_lark`,
   with the terminals drawn from the language's words and from hostile
   names, numbers and strings: specs that lex and mostly parse, and that the
   checker, in practice, always rejects (the grammar fixes only the structure:
   which statement goes where is the checker's), so this source exercises the
   parser, its error recovery and every check;
2. specs that would train, with hostile names and strings (quotes,
   escapes, template syntax, Python code, bidi and lookalike characters,
   paths that leave the folder) in every place that takes one;
3. the example specs in specs/ with their bytes cut, duplicated, overwritten
   or flipped: invalid specs close to real ones;
4. `valid_specs()` from tests/test_properties.py: specs that check, so that
   every backend's code generation runs;
5. the accepted specs of sources 2 and 4 and `trainable_specs()`, their layers
   renamed after the framework classes' attributes and the hostile names, built
   (`nndsl.build`) and trained one epoch on every backend: a layer named
   `append` compiled and then crashed torch (issue 21), and one named `_0_`
   TensorFlow. A file's data, whose path is hostile or missing, gives way to a
   Playground set of the same width and task, a Playground set keeps at most
   64 samples, and a spec without a train block trains with sgd.

What must hold for every input: only `SpecError` escapes; every generated
program compiles (`compile(source, ...)`) and holds every string of the spec
only as an equal literal (tests/test_injection.py's check); a spec that checks
formats back to the same IR; a built program trains an epoch to finite
numbers, or stops with its own TrainingDiverged, on every backend. In `make
test` each source runs a short derandomised budget; the long run is `make fuzz`
(`python -m tests.test_fuzz`), which repeats random rounds (NNDSL_FUZZ_EXAMPLES
inputs per source, default 2,000; NNDSL_FUZZ_TRAIN_EXAMPLES for source 5,
default 100) for NNDSL_FUZZ_SECONDS seconds and prints how many inputs it tried
and how many trained.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import keyword
import math
import os
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

import nndsl
from nndsl import catalog, ir
from nndsl.codegen import BACKENDS, generate
from nndsl.codegen.naming import KERAS_ATTRIBUTES, TORCH_CONTAINER_ATTRIBUTES
from nndsl.source import decode_spec
from nndsl.syntax import grammar_parser
from tests.test_injection import check_generated, spec_strings
from tests.test_properties import trainable_specs, valid_specs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = tuple(path.read_bytes() for path in sorted((ROOT / "specs").glob("*.nn")))

#: Inputs tried in this process, by source (the long run prints them).
TRIED: dict[str, int] = {"grammar": 0, "hostile": 0, "mutated": 0, "valid": 0, "train": 0}
#: Of those, how many checked and had code generated for every backend.
GENERATED: dict[str, int] = {"grammar": 0, "hostile": 0, "mutated": 0, "valid": 0, "train": 0}
#: Source 5: of the accepted specs, how many trained an epoch on every backend ("trained"),
#: stopped with the program's own TrainingDiverged ("diverged", and "diverged: <backend>"),
#: have no loss to train ("no loss"; a missing train block is sgd for an epoch) or no
#: Playground set to stand in for their data ("no data": images, more than 7 inputs, several
#: regression targets); and how often the drawn layer names were refused ("renaming refused":
#: a duplicate).
TRAINED: Counter[str] = Counter()


def exercise(text: str, source: str) -> None:
    """The properties every input must satisfy (see the module docstring)."""
    TRIED[source] += 1
    try:
        program = nndsl.parse(text, filename="fuzz.nn")
    except nndsl.SpecError as error:
        error.render()
        try:
            nndsl.format(text)  # formats or rejects; never crashes
        except nndsl.SpecError:
            pass
        return
    printed = nndsl.format(program)
    assert nndsl.parse(printed, filename="fuzz.nn") == program, printed
    assert nndsl.parse(nndsl.format(text), filename="fuzz.nn") == program
    for backend in BACKENDS:
        code = generate(program, backend=backend, data_dir="data")
        compile(code, f"<{backend}>", "exec")
        check_generated(code, spec_strings(program))  # spec strings only as equal literals
    GENERATED[source] += 1


# --- 1. the grammar, with hostile terminals ---------------------------------------------

WORDS = sorted(
    set(catalog.ACTIVATIONS) | set(catalog.INITIALIZERS) | set(catalog.LOSSES) | set(catalog.REGULARIZERS)
    | set(catalog.OPTIMIZERS) | {k for args in catalog.OPTIMIZERS.values() for k in args}
    | set(catalog.OPTIMIZER_ALIASES) | set(catalog.METRICS) | set(catalog.DATA_SOURCES)
    | {"x1", "x2", "sin", "all", "samples", "noise", "classes", "target", "x", "y", "init", "bias",
       "weights", "trainable", "name", "alpha", "every", "rate", "value", "std", "path"}
)
HOSTILE_NAMES = [
    "np", "torch", "nn", "F", "tf", "keras", "self", "math", "os", "sys", "print", "open", "exec", "eval",
    "match", "case", "type", "_", "__import__", "__class__", "__init__", "_x", "forward", "parameters",
    "training", "call", "build", "layers", "Network", "main", "load_data", "SEED", "DATA_DIR", "x" * 80,
    "_1", "_2x", "_0_", "layer", "layer_1", "layer_2",  # '_1' once hung the torch Namer
    "append", "extend", "insert", "pop", "penalty", "_modules",  # nn.Sequential's: crashed torch (issue 21)
]
#: Every attribute of the classes that hold a spec's layers (nndsl/codegen/reserved_names.py).
ATTRIBUTE_NAMES = sorted(TORCH_CONTAINER_ATTRIBUTES | KERAS_ATTRIBUTES)
HOSTILE_STRINGS = [
    "data/file.csv", "x.npz", "income", "a b", "", "'", '"', "'''", '"""', "\\", "\\n", "\n", "\t", "\r",
    "{{ x }}", "{% if 1 %}", "{x}", "#", "__import__('os').system('touch PWNED')", "\u202e", "\u200b",
    "\u0430", "\uff41", "\ufb01le", "../x.csv", "/etc/passwd", "C:/x.csv", "a\\b.csv", "\x7f", "\x85", "é.csv",
]
NUMBERS = ["0", "1", "2", "3", "8", "16", "-1", "+7", "0.5", ".5", "5.", "1e3", "3e-2", "1E-7", "0.999",
           "1e999", "-1e999", "1e-400", "9" * 45, "1000001", "4294967296", "1e308"]


def _quoted(payload: str) -> str:
    escaped = payload.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"' + escaped.replace("\r", "") + '"'


def grammar_specs() -> st.SearchStrategy[str]:
    """Text from the grammar's rules; every terminal is padded with spaces so that
    adjacent tokens stay apart (hypothesis adds the grammar's %ignore'd whitespace
    only now and then)."""
    explicit: dict[str, st.SearchStrategy[str]] = {}
    for terminal in grammar_parser().terminals:
        if terminal.pattern.type == "str":
            explicit[terminal.name] = st.just(f" {terminal.pattern.value} ")
    explicit["NAME"] = st.one_of(
        st.sampled_from(WORDS), st.sampled_from(HOSTILE_NAMES), st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
    ).map(lambda name: f" {name} ")
    explicit["NUMBER"] = st.one_of(st.sampled_from(NUMBERS), st.integers(-3, 40).map(str)).map(lambda n: f" {n} ")
    explicit["STRING"] = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=8)).map(_quoted)
    explicit["COMMENT"] = st.just(" # comment\n")
    explicit["WS"] = st.sampled_from([" ", "\n", "\t"])
    return from_lark(grammar_parser(), start="start", explicit=explicit)


RATES = st.sampled_from(["0.1", "1e-3", *NUMBERS])


@st.composite
def hostile_specs(draw) -> str:
    """A spec that would train, with hostile text wherever the language takes a name
    or a string: the data file's path and columns, the layer and model names."""
    name = st.one_of(st.sampled_from(HOSTILE_NAMES), st.sampled_from(HOSTILE_NAMES).map(_quoted),
                     st.sampled_from(ATTRIBUTE_NAMES), st.sampled_from(HOSTILE_STRINGS).map(_quoted),
                     st.from_regex(r"_{0,3}[A-Za-z0-9_]{1,8}", fullmatch=True))
    text = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(min_size=1, max_size=12),
                     st.text(st.characters(codec="ascii", categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=12))
    source = draw(st.sampled_from(["csv", "npz"]))
    path = draw(text)
    if source == "csv":
        target, *columns = draw(st.lists(text, min_size=3, max_size=3, unique=True))
        data = f"data csv({_quoted(path)}, target={_quoted(target)}) {{ features {', '.join(map(_quoted, columns))} }}"
    else:
        x, y = draw(st.lists(text, min_size=2, max_size=2, unique=True))
        data = f"data npz({_quoted(path)}, x={_quoted(x)}, y={_quoted(y)})"
    layers = ["dense 4 relu", "dropout 0.1", "activation tanh", "dense 1 sigmoid"]
    named = [f"{layer} name={draw(name)}" if draw(st.booleans()) else layer for layer in layers]
    model_name = draw(st.one_of(st.just(""), st.sampled_from(HOSTILE_NAMES)))
    return (f"{data}\nmodel {model_name} {{ input 2 {' '.join(named)} }}\n"
            f"loss binary_crossentropy\ntrain {{ optimizer adam(lr={draw(RATES)}) epochs 1 }}\n")


# --- 2. mutated example specs ----------------------------------------------------------

EDITS = st.tuples(
    st.sampled_from(["delete", "insert", "replace", "flip", "duplicate"]),
    st.floats(0.0, 1.0),
    st.integers(1, 16),
    st.binary(min_size=1, max_size=4),
)


@st.composite
def mutated_examples(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(EXAMPLES)))
    for edit, where, length, piece in draw(st.lists(EDITS, min_size=1, max_size=6)):
        at = int(where * len(data))
        if edit == "delete":
            del data[at:at + length]
        elif edit == "insert":
            data[at:at] = piece
        elif edit == "replace":
            data[at:at + len(piece)] = piece
        elif edit == "flip" and at < len(data):
            data[at] ^= 1 << (length % 8)
        elif edit == "duplicate":
            data[at:at] = data[at:at + length]
    return bytes(data)


def exercise_bytes(data: bytes) -> None:
    try:
        text = decode_spec(data, "fuzz.nn")  # what nndsl.load does with a file's bytes
    except nndsl.SpecError:
        TRIED["mutated"] += 1
        return
    exercise(text, "mutated")


# --- 5. accepted specs, built and trained an epoch on every backend -----------------------

PLAYGROUND_SAMPLES = 64


def installed_backends() -> list[str]:
    """Every backend whose framework is installed; under NNDSL_REQUIRE_BACKENDS=1 (`make test`,
    `make fuzz`) all of them, a missing framework failing as an ImportError."""
    required = os.environ.get("NNDSL_REQUIRE_BACKENDS") == "1"
    frameworks = {"numpy": "numpy", "torch": "torch", "tensorflow": "tensorflow"}
    return [b for b in BACKENDS if required or importlib.util.find_spec(frameworks[b]) is not None]


def with_playground_data(program: ir.Program) -> ir.Program | None:
    """`program` with data it trains on here, checked again: its own Playground set cut to 64
    samples, or for a file a Playground set of the same width and task; None where none fits."""
    if program.model.images:
        return None
    source = program.data.source if program.data is not None else None
    if isinstance(source, ir.PlaygroundData):
        data = dataclasses.replace(program.data, source=dataclasses.replace(
            source, samples=min(source.samples, PLAYGROUND_SAMPLES)))
    else:
        width, units = program.model.in_features, program.model.out_features
        if width > len(catalog.PLAYGROUND_FEATURES):
            return None
        generator, classes = {"binary": ("xor", 2), "multiclass": ("spiral", units)}.get(program.task, ("plane", None))
        data = ir.Data(ir.PlaygroundData(generator, PLAYGROUND_SAMPLES, 0.0, classes),
                       tuple(ir.Feature(name) for name in catalog.PLAYGROUND_FEATURES[:width]), 0.5, None)
    try:
        return nndsl.parse(nndsl.format(dataclasses.replace(program, data=data)), filename="fuzz.nn")
    except nndsl.SpecError:
        return program if isinstance(source, ir.PlaygroundData) else None  # the split needs the samples


#: Names the accepted specs' layers take instead of theirs: the framework classes' attributes
#: (`append` crashed torch) and the hostile names, as far as the checker accepts them.
LAYER_NAMES = sorted(
    name for name in {*ATTRIBUTE_NAMES, *HOSTILE_NAMES}
    if name.isidentifier() and not name.startswith("__") and not keyword.iskeyword(name)
    and name not in catalog.SOFT_KEYWORDS and len(name) <= catalog.MAX_NAME_LENGTH
)


def renamed(program: ir.Program, names: list[str]) -> ir.Program:
    """`program` with its first layers named `names`, checked again; as it was if the checker
    refuses that (a name equal to another layer's)."""
    new = {layer.name: name for layer, name in zip(program.model.layers, names, strict=False)}
    layers = tuple(dataclasses.replace(layer, name=new.get(layer.name, layer.name),  # a graph's edges follow
                                       inputs=tuple(new.get(source, source) for source in program.model.sources(layer)))
                   for layer in program.model.layers)
    model = dataclasses.replace(program.model, layers=layers)
    try:
        return nndsl.parse(nndsl.format(dataclasses.replace(program, model=model)), filename="fuzz.nn")
    except nndsl.SpecError:
        TRAINED["renaming refused"] += 1
        return program


def train_everywhere(drawn: tuple[str, list[str]]) -> None:
    """Source 5: a spec the checker accepts, its layers renamed, builds and trains one epoch on
    every backend."""
    text, names = drawn
    TRIED["train"] += 1
    try:
        program = nndsl.parse(text, filename="fuzz.nn")
    except nndsl.SpecError:
        return
    if program.loss is None:
        TRAINED["no loss"] += 1
        return
    if program.train is None:  # valid_specs often have none: sgd, batches of 32, an epoch
        program = dataclasses.replace(program, train=ir.Train(ir.SGD(), 32, 1))
    program = with_playground_data(program)
    if program is None:
        TRAINED["no data"] += 1
        return
    program = renamed(program, names)
    diverged = False
    for backend in installed_backends():
        trainer = nndsl.build(program, backend=backend)
        try:
            with warnings.catch_warnings():  # NumPy's overflow on the way to a divergence
                warnings.simplefilter("ignore", RuntimeWarning)
                history = trainer.fit(epochs=1)
        except trainer.module.TrainingDiverged:  # a random learning rate may be too large
            TRAINED[f"diverged: {backend}"] += 1
            diverged = True
            continue
        assert all(len(values) == 1 and math.isfinite(values[0]) for values in history.values()), (backend, history)
        state = program.model.normalize.parameters if program.model.normalize else ()  # normalize's statistics
        assert sorted(trainer.get_weights()) == sorted(p.name for p in (*program.model.parameters, *state)), backend
        assert trainer.predict(trainer.data.x_val[:2]).shape == (2, program.model.out_features), backend
    GENERATED["train"] += 1
    TRAINED["diverged" if diverged else "trained"] += 1


def accepted_specs() -> st.SearchStrategy[tuple[str, list[str]]]:
    """Specs that mostly check, with names for their layers."""
    specs = st.one_of(trainable_specs(), valid_specs(), hostile_specs())
    return st.tuples(specs, st.lists(st.sampled_from(LAYER_NAMES), max_size=8, unique=True))


# --- the properties, short in `make test`, long in `make fuzz` ----------------------------

PROPERTIES = {
    "grammar": (grammar_specs(), lambda text: exercise(text, "grammar")),
    "hostile": (hostile_specs(), lambda text: exercise(text, "hostile")),
    "mutated": (mutated_examples(), exercise_bytes),
    "valid": (valid_specs(), lambda text: exercise(text, "valid")),
    "train": (accepted_specs(), train_everywhere),
}


def run_property(source: str, budget: settings) -> None:
    strategy, body = PROPERTIES[source]
    budget(given(strategy)(body))()


def short_run(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def test_grammar_specs_only_raise_spec_error_and_compile():
    run_property("grammar", short_run(300))


def test_hostile_names_and_strings_only_raise_spec_error_and_compile():
    run_property("hostile", short_run(200))


def test_mutated_examples_only_raise_spec_error_and_compile():
    run_property("mutated", short_run(300))


def test_valid_specs_compile_for_every_backend():
    run_property("valid", short_run(60))


def test_accepted_specs_build_and_train_an_epoch_on_every_backend():
    run_property("train", short_run(12))


# --- what the fuzzer found, kept as regressions ---------------------------------------------

FOUND = [
    # NumPy backend: an `activation linear` layer asked for a numpy/ops/linear.py that does not exist.
    "data xor { }\nmodel { input 2 activation linear dense 1 l1(0.0) }\nloss mse\ntrain { optimizer rmsprop epochs 1 }",
]


def test_inputs_the_fuzzer_found():
    for text in FOUND:
        exercise(text, "valid")
    trainer = nndsl.build(nndsl.parse(FOUND[0]), backend="numpy")
    assert len(trainer.fit(epochs=1)["loss"]) == 1


def main() -> int:
    """`make fuzz`: random rounds of every property until NNDSL_FUZZ_SECONDS have passed.

    A failure is printed (with hypothesis's falsifying example and a blob to
    reproduce it) and the run goes on; the exit status says whether any failed.
    """
    import traceback

    seconds = float(os.environ.get("NNDSL_FUZZ_SECONDS", "600"))
    per_round = int(os.environ.get("NNDSL_FUZZ_EXAMPLES", "2000"))
    train_per_round = int(os.environ.get("NNDSL_FUZZ_TRAIN_EXAMPLES", "100"))  # a TensorFlow build is ~0.3 s

    def budget_of(source: str) -> settings:
        return settings(max_examples=train_per_round if source == "train" else per_round, deadline=None,
                        derandomize=False, database=None, suppress_health_check=list(HealthCheck), print_blob=True)

    print(f"fuzz: training on {', '.join(installed_backends())}", flush=True)
    started = time.monotonic()
    rounds, failures = 0, 0
    while time.monotonic() - started < seconds:
        for source in PROPERTIES:
            try:
                run_property(source, budget_of(source))
            except Exception:
                failures += 1
                print(f"FAILURE in {source} inputs:", flush=True)
                traceback.print_exc()
        rounds += 1
        elapsed = time.monotonic() - started
        print(f"[{elapsed:7.0f} s] round {rounds}: inputs tried {sum(TRIED.values()):,} {TRIED}; "
              f"compiled for every backend {GENERATED}; built and trained {dict(TRAINED)}; failures {failures}",
              flush=True)
    print(f"fuzz: {sum(TRIED.values()):,} inputs tried in {time.monotonic() - started:.0f} s "
          f"({rounds} rounds); {TRAINED['trained']:,} trained an epoch on every backend; {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
