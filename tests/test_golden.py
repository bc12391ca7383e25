"""The generated code of every example spec, for every backend, pinned by a golden file."""

import ast
import re

import pytest

from nndsl import catalog
from tests.golden import SPECS, available_backends, golden_path, render

CASES = [(spec, backend) for backend in available_backends() for spec in SPECS]


@pytest.mark.parametrize("spec,backend", CASES, ids=[f"{s.stem}-{b}" for s, b in CASES])
def test_generated_code_matches_golden_file(spec, backend):
    golden = golden_path(spec, backend)
    assert golden.exists(), f"no golden file {golden.name}: run `make golden` and review it"
    generated = render(spec, backend)
    assert generated == golden.read_text(encoding="utf-8"), (
        f"generated code for {spec.name} ({backend}) differs from {golden.name}; "
        "if the change is intended, run `make golden` and review the diff"
    )


@pytest.mark.parametrize("spec,backend", CASES, ids=[f"{s.stem}-{b}" for s, b in CASES])
def test_golden_files_are_valid_python(spec, backend):
    ast.parse(golden_path(spec, backend).read_text(encoding="utf-8"))


@pytest.mark.parametrize("spec,backend", CASES, ids=[f"{s.stem}-{b}" for s, b in CASES])
def test_every_function_and_class_in_generated_code_is_used(spec, backend):
    """No dead code: a snippet's function the module never calls (sigmoid's backward when the
    loss fuses it, the label checks of another task) is left out of the program."""
    tree = ast.parse(render(spec, backend))
    referenced = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    defined = [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    assert [name for name in defined if name not in referenced] == []


def test_drop_unused_functions_removes_chains_and_their_imports():
    from nndsl.codegen.render import drop_unused_functions

    source = (
        "import difflib\nimport math\n\n\ndef helper():\n    return difflib.SequenceMatcher\n\n\n"
        "def unused():\n    return helper()\n\n\ndef used():\n    return math.pi\n\n\n"
        "def kept():\n    return 1\n\n\nprint(used())\n"
    )
    result = drop_unused_functions(source, {"helper", "unused", "used"})
    assert result == "import math\n\n\ndef used():\n    return math.pi\n\n\ndef kept():\n    return 1\n\n\nprint(used())\n"


def test_one_command_regenerates_every_golden_file(tmp_path, monkeypatch, capsys):
    """`make golden` runs `python -m tests.golden`: it writes a file per example spec and backend,
    equal to the compiler's output, and a second run finds nothing to update."""
    import tests.golden

    monkeypatch.setattr(tests.golden, "GOLDEN", tmp_path)
    assert tests.golden.main() == 0
    assert capsys.readouterr().out.endswith(f"{len(CASES)} golden file(s) updated\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(golden_path(s, b).name for s, b in CASES)
    for spec, backend in CASES:
        assert (tmp_path / golden_path(spec, backend).name).read_text(encoding="utf-8") == render(spec, backend)
    assert tests.golden.main() == 0
    assert capsys.readouterr().out == "0 golden file(s) updated\n"


#: What a `specs/x.nn:N` reference in generated code may point at: a statement, or a line of a
#: dense layer's literal weights= / bias= (the initial weight that came from it).
STATEMENT_WORDS = {"data", "loss", *catalog.BLOCK_STATEMENTS["model"], *catalog.BLOCK_STATEMENTS["train"]}


@pytest.mark.parametrize("spec,backend", CASES, ids=[f"{s.stem}-{b}" for s, b in CASES])
def test_every_spec_reference_points_at_a_statement(spec, backend):
    """Not at a block's opening line (`train {`) or a blank one: the statement the code came from."""
    source = golden_path(spec, backend).read_text(encoding="utf-8")
    lines = spec.read_text(encoding="utf-8").splitlines()
    references = re.findall(rf"{re.escape(spec.name)}:(\d+)", source)
    assert references
    for number in references:
        words = lines[int(number) - 1].split("#")[0].split()
        assert words and (words[0] in STATEMENT_WORDS or words[0].startswith(("weights=", "bias="))), (
            f"{spec.name}:{number} is {lines[int(number) - 1]!r}"
        )
