"""The formatter: canonical text, comments kept, idempotent, meaning unchanged;
IR -> text; and `nndsl fmt` with --check and --write."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nndsl

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.nn"))

MESSY = """\
# A messy but valid spec: every comment must survive formatting.
data xor( samples = 200 ,noise=0.1,seed=3 )   # header comment
{ features x1,x2 ,x1*x2   # the features
  # before split
      split   0.5 }
# before the model

model   net {input 3 # inputs
  regularizer l2( 0.001 )
    dense 8 relu init = he_uniform   bias=constant( .1 ) name = hidden
  dropout .25


  dense 1 sigmoid
  # at the end of the model
}   # after the model
loss   binary_crossentropy # the loss
train{ optimizer sgd( lr=3e-2 , momentum = 0.9,nesterov=true ) batch 10 epochs 20
  metrics accuracy,mse seed 1 shuffle false checkpoint every = 5 }
# the very end
"""


def comments(text: str) -> list[str]:
    return [c.rstrip() for c in re.findall(r"#[^\n]*", text)]


def run_fmt(*args, cwd=None, stdin: str = ""):
    return subprocess.run([sys.executable, "-m", "nndsl", "fmt", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, input=stdin)


# --- text -> text --------------------------------------------------------------------


def test_messy_spec_is_formatted_canonically():
    assert nndsl.format(MESSY) == """\
# A messy but valid spec: every comment must survive formatting.
data xor(samples=200, noise=0.1, seed=3) {  # header comment
    features x1, x2, x1*x2  # the features
    # before split
    split 0.5
}

# before the model
model net {
    input 3  # inputs
    regularizer l2(0.001)
    dense 8 relu init=he_uniform bias=constant(.1) name=hidden
    dropout .25

    dense 1 sigmoid
    # at the end of the model
}  # after the model

loss binary_crossentropy  # the loss

train {
    optimizer sgd(lr=3e-2, momentum=0.9, nesterov=true)
    batch 10
    epochs 20
    metrics accuracy, mse
    seed 1
    shuffle false
    checkpoint every=5
}

# the very end
"""


def test_formatting_keeps_every_comment_in_order():
    formatted = nndsl.format(MESSY)
    assert comments(formatted) == comments(MESSY)


def test_formatting_is_idempotent_and_keeps_the_meaning():
    formatted = nndsl.format(MESSY)
    assert nndsl.format(formatted) == formatted
    assert nndsl.parse(formatted) == nndsl.parse(MESSY)


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_example_specs_are_formatted(path):
    text = path.read_text(encoding="utf-8")
    assert nndsl.format(text) == text, f"{path.name} is not in canonical form: run nndsl fmt --write"
    assert nndsl.parse(nndsl.format(text)) == nndsl.parse(text)


def test_long_statements_put_keywords_on_their_own_lines():
    weights = "[" + ", ".join("[1.5]" for _ in range(12)) + "]"
    text = f"model {{ input 1  dense 12 tanh weights={weights} trainable=false }}"
    formatted = nndsl.format(text)
    assert formatted.split("\n")[2:5] == [
        "    dense 12 tanh",
        f"        weights={weights}",
        "        trainable=false",
    ]
    assert nndsl.format(formatted) == formatted
    assert nndsl.parse(formatted) == nndsl.parse(text)


def test_numbers_and_strings_keep_their_spelling():
    text = "data csv('a.csv', target=\"y\") { features 'b' }\nmodel { input 1 dense +1 init=constant(1E+3) }"
    formatted = nndsl.format(text)
    assert "csv('a.csv', target=\"y\")" in formatted
    assert "features \"b\"" in formatted  # feature column names are printed with double quotes
    assert "dense +1 init=constant(1E+3)" in formatted
    assert nndsl.parse(formatted) == nndsl.parse(text)


def test_format_needs_a_spec_that_parses_but_not_one_that_checks():
    # The formatter works on the syntax: a spec with a semantic error still formats.
    assert nndsl.format("model{dense 0 rleu}") == "model {\n    dense 0 rleu\n}\n"
    with pytest.raises(nndsl.SpecError):
        nndsl.format("model { dense 1")


def test_single_blank_lines_between_statements_are_kept_and_runs_collapse():
    formatted = nndsl.format("model {\n  input 2\n\n\n\n  dense 1\n}\n")
    assert formatted == "model {\n    input 2\n\n    dense 1\n}\n"


# --- IR -> text --------------------------------------------------------------------


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_program_to_text_round_trips(path):
    program = nndsl.load(path)
    text = nndsl.format(program)
    assert nndsl.parse(text) == program
    assert nndsl.format(text) == text  # what the IR printer writes is already canonical


def test_program_to_text_spells_out_what_differs_from_the_defaults():
    program = nndsl.parse(
        'data spiral(samples=300, noise=0.2, classes=3, seed=9) { features x1, x2, sin(x1) split 0.6 }\n'
        "model m { input 3 regularizer l1(0.01) dense 8 leaky_relu(0.3) init=normal(0.5) bias=ones\n"
        "  dropout 0.1 name=drop activation elu dense 3 softmax trainable=false name=out }\n"
        "loss categorical_crossentropy\n"
        "train { optimizer adam(learning_rate=0.01, beta_2=0.9) batch all epochs 4 metrics accuracy\n"
        "  seed 2 shuffle false checkpoint every=2 }"
    )
    text = nndsl.format(program)
    assert nndsl.parse(text) == program
    for part in ("spiral(samples=300, noise=0.2, classes=3, seed=9)", "features x1, x2, sin(x1)", "split 0.6",
                 "dense 8 leaky_relu(0.3) l1(0.01) init=normal(0.5) bias=ones", "dropout 0.1 name=drop",
                 "activation elu", "dense 3 softmax l1(0.01) trainable=false name=out",
                 "optimizer adam(lr=0.01, beta2=0.9)", "batch all", "shuffle false", "checkpoint every=2"):
        assert part in text, part


def test_program_to_text_quotes_names_that_are_keywords():
    for spec in ('model { input 2 dense 1 name="data" }', 'model { input 2 activation relu name="dense" dense 1 }',
                 'data csv("t.csv", target="seed") { features "split", "x y" }\nmodel { dense 1 }',
                 'data npz("t.npz", x="train", y=labels)\nmodel { input 2 dense 1 }'):
        program = nndsl.parse(spec)
        assert nndsl.parse(nndsl.format(program)) == program, spec


def test_program_to_text_keeps_literal_weights_exactly():
    program = nndsl.parse("model { input 2 dense 2 weights=[[0.1, -1e-7], [3, 123456.789]] bias=[1e-300, -0] }")
    again = nndsl.parse(nndsl.format(program))
    assert again == program
    assert again.model.layers[0].kernel_init.values == ((0.1, -1e-7), (3.0, 123456.789))


# --- the command --------------------------------------------------------------------


def test_fmt_prints_to_stdout_and_leaves_the_file(tmp_path):
    path = tmp_path / "messy.nn"
    path.write_text(MESSY, encoding="utf-8")
    result = run_fmt(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == nndsl.format(MESSY)
    assert path.read_text(encoding="utf-8") == MESSY


def test_fmt_check(tmp_path):
    messy = tmp_path / "messy.nn"
    messy.write_text(MESSY, encoding="utf-8")
    tidy = tmp_path / "tidy.nn"
    tidy.write_text(nndsl.format(MESSY), encoding="utf-8")

    result = run_fmt("--check", messy, tidy)
    assert result.returncode == 1
    assert f"{messy}: not formatted" in result.stderr
    assert str(tidy) not in result.stderr
    assert result.stdout == ""
    assert messy.read_text(encoding="utf-8") == MESSY

    result = run_fmt("--check", tidy)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_fmt_write(tmp_path):
    messy = tmp_path / "messy.nn"
    messy.write_text(MESSY, encoding="utf-8")
    result = run_fmt("--write", messy)
    assert result.returncode == 0, result.stderr
    assert messy.read_text(encoding="utf-8") == nndsl.format(MESSY)
    assert f"formatted {messy}" in result.stderr
    assert not [p.name for p in tmp_path.iterdir() if p.name != "messy.nn"]  # no temporary left behind

    result = run_fmt("--write", messy)  # already formatted: nothing to say
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["crlf", "cr"])
def test_fmt_check_and_write_make_line_ends_canonical(tmp_path, newline):
    """A formatted spec with Windows or classic-Mac line ends is not canonical: --check says so
    and --write rewrites it with '\\n' (the parser reads all three alike, so it compared equal)."""
    canonical = nndsl.format(MESSY)
    spec = tmp_path / "x.nn"
    spec.write_bytes(canonical.replace("\n", newline).encode("utf-8"))
    result = run_fmt("--check", spec)
    assert result.returncode == 1 and "not formatted" in result.stderr
    result = run_fmt("--write", spec)
    assert result.returncode == 0, result.stderr
    assert spec.read_bytes() == canonical.encode("utf-8")


def test_fmt_reports_a_spec_that_does_not_parse(tmp_path):
    bad = tmp_path / "bad.nn"
    bad.write_text("model {\n    dense 1 $\n}\n", encoding="utf-8")
    for args in ([bad], ["--check", bad], ["--write", bad]):
        result = run_fmt(*args)
        assert result.returncode == 1
        assert f"{bad}:2:13: error: unexpected character '$'" in result.stderr
        assert "Traceback" not in result.stderr
    assert bad.read_text(encoding="utf-8") == "model {\n    dense 1 $\n}\n"


def test_fmt_without_files_formats_the_spec_piped_into_it():
    result = run_fmt(stdin=MESSY)
    assert (result.returncode, result.stdout, result.stderr) == (0, nndsl.format(MESSY), "")
    result = run_fmt(stdin="model {\n    dense 1 $\n}\n")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("<stdin>:2:13: error: unexpected character '$'")


def test_fmt_without_files_on_a_terminal_says_what_it_needs():
    """Not a wait for input nobody is typing: on a terminal, no files is a usage error."""
    import pty

    main_fd, child_fd = pty.openpty()
    try:
        result = subprocess.run([sys.executable, "-m", "nndsl", "fmt"], stdin=child_fd, capture_output=True,
                                text=True, timeout=60)
    finally:
        os.close(main_fd)
        os.close(child_fd)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == "nndsl fmt: error: name the spec files to format, or pipe a spec into it\n"


def test_fmt_usage_errors():
    result = run_fmt("--check")
    assert result.returncode == 1 and "need spec files" in result.stderr
    result = run_fmt("--check", "--write", "x.nn")
    assert result.returncode == 1 and "not allowed with" in result.stderr


# --- formatting never changes what a valid spec means ------------------------------------


def _orders(*arguments):
    """Every order of `arguments`, each given as its spellings (say '4' and 'units=4')."""
    import itertools

    for spelled in itertools.product(*arguments):
        yield from itertools.permutations(spelled)


def _formats_to_the_same_meaning(text: str) -> bool:
    """True when `text` checks (and then formatting kept its meaning), False when it does not."""
    try:
        program = nndsl.parse(text)
    except nndsl.SpecError:
        return False
    formatted = nndsl.format(text)
    try:
        again = nndsl.parse(formatted)
    except nndsl.SpecError as error:
        raise AssertionError(f"{text!r} formats as {formatted!r}, which does not check: {error}") from None
    assert again == program, f"{text!r} formats as {formatted!r}, which means something else"
    assert nndsl.format(formatted) == formatted
    return True


STATEMENT_ARGUMENTS = {
    "dense": (("4", "units=4"), ("relu",), ("l2(0.01)",), ("init=zeros",), ("name=h",)),
    "dropout": (("0.5", "rate=0.5"), ("name=d",)),
    "activation": (("tanh", "function=tanh"), ("name=a",)),
}


@pytest.mark.parametrize("head", sorted(STATEMENT_ARGUMENTS))
def test_formatting_any_order_of_a_statements_arguments_keeps_its_meaning(head):
    # `nndsl fmt` writes positional arguments first; were a positional argument after a
    # keyword one accepted (`dense units=4 relu`), that would give it another meaning.
    accepted = 0
    for order in _orders(*STATEMENT_ARGUMENTS[head]):
        statement = " ".join([head, *order])
        one_line = f"model {{ input 2 {statement} dense 1 }}"
        one_per_line = f"model {{\n    input 2\n    {statement}\n    dense 1\n}}"
        accepted += _formats_to_the_same_meaning(one_line) + _formats_to_the_same_meaning(one_per_line)
    assert accepted  # the orders with positional arguments first


def test_formatting_any_order_of_a_calls_arguments_keeps_its_meaning():
    accepted = 0
    for order in _orders(("0.1", "lr=0.1"), ("0.9", "momentum=0.9"), ("true", "nesterov=true")):
        spec = f"data xor\nmodel {{ input 2 dense 1 sigmoid }}\nloss binary_crossentropy\n" \
               f"train {{ optimizer sgd({', '.join(order)}) epochs 1 }}"
        accepted += _formats_to_the_same_meaning(spec)
    assert accepted


def test_positional_argument_after_a_keyword_one_is_refused_not_reordered():
    with pytest.raises(nndsl.SpecError) as info:
        nndsl.parse("model { input 2 dense units=4 relu }")
    assert info.value.message.startswith("positional argument 'relu' follows keyword argument 'units=4'")
    # A layer's penalties may stand anywhere; formatting moves them before the keywords.
    text = "model { input 2 dense 4 relu init=zeros l2(0.01) }"
    assert nndsl.format(text) == "model {\n    input 2\n    dense 4 relu l2(0.01) init=zeros\n}\n"
    assert nndsl.parse(nndsl.format(text)) == nndsl.parse(text)


def test_carriage_return_line_endings_are_formatted_as_newlines():
    assert nndsl.format("model {\r    input 2\r    dense 1  # out\r}\r") == "model {\n    input 2\n    dense 1  # out\n}\n"
    assert nndsl.format("model {\r\n    input 2\r    dense 1\n}") == "model {\n    input 2\n    dense 1\n}\n"
