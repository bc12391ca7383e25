"""The injection corpus: hostile specs in tests/injection/, each pinned in expected.json.

Each spec is either rejected with a positioned `SpecError` (line, column and
message pinned), or it compiles for every backend to code that

* parses (`ast.parse`);
* holds every string the spec wrote (data path, target and feature columns,
  npz keys, layer and model names) as a literal equal to the original, and
  never as code: not outside string literals, not inside an f-string, and in
  no literal that contains more than it except a docstring (docstrings and
  comments carry only a sanitised description);
* creates no file when imported (the payloads would `touch PWNED`): every
  generated module is imported in a subprocess whose working folder, module
  folder and data folder are watched.

To add a case: write NAME.nn (a `# what it tries` first line) and its entry in
expected.json: {"compiles": true} or {"error": [line, column, "message"]}.
"""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

import nndsl
from nndsl import ir
from nndsl.codegen import BACKENDS, generate
from tests.conftest import require_backend

CORPUS = Path(__file__).resolve().parent / "injection"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
SPECS = sorted(CORPUS.glob("*.nn"))
ACCEPTED = [path for path in SPECS if EXPECTED[path.name].get("compiles")]
REJECTED = [path for path in SPECS if "error" in EXPECTED[path.name]]


def test_corpus_and_expectations_match():
    assert sorted(EXPECTED) == [path.name for path in SPECS]
    assert len(SPECS) >= 40
    assert len(ACCEPTED) >= 20 and len(REJECTED) >= 20


@pytest.mark.parametrize("path", REJECTED, ids=[p.stem for p in REJECTED])
def test_rejected_with_a_position(path):
    line, column, message = EXPECTED[path.name]["error"]
    with pytest.raises(nndsl.SpecError) as info:
        nndsl.load(path)
    error = info.value
    assert message in error.message, error.render()
    assert (error.line, error.column) == (line, column), error.render()
    rendered = error.render()  # what the CLI prints: no raw control, escape or bidi character
    assert not any(ch in rendered for ch in "\u202e\u2066\u200b\u0085\u2028\r\x1b\x07")


def spec_strings(program: ir.Program) -> list[str]:
    """Every string a spec wrote that generated code may carry."""
    out = [layer.name for layer in program.model.layers]
    if program.model.name:
        out.append(program.model.name)
    # An inference program (no train block) reads no data: its data block reaches no code.
    source = program.data.source if program.train is not None else None
    if isinstance(source, ir.CsvData):
        out += [source.path, source.target, *(f.name for f in program.data.features or ())]
    elif isinstance(source, ir.NpzData):
        out += [source.path, source.x_key, source.y_key]
    return out


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the Constant nodes that are docstrings."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def code_outside_literals(source: str) -> str:
    """The source without string literals and comments."""
    kept = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (tokenize.STRING, tokenize.COMMENT):
            kept.append(token.string)
    return " ".join(kept)


def is_plain_word(text: str) -> bool:
    """A name such as `np` or `hidden`: it may also be an identifier in the code."""
    return text.isascii() and text.isidentifier()


def is_distinctive(text: str) -> bool:
    """Long and odd enough that finding it in the code means it came from the spec."""
    return len(text.strip()) >= 5 and not text.replace("_", "").replace(" ", "").isalnum()


def check_generated(source: str, strings: list[str]) -> None:
    tree = ast.parse(source)
    constants = [node for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    values = {node.value for node in constants}
    allowed_to_contain = docstrings(tree)
    code = code_outside_literals(source)
    fstrings = [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)]
    for text in strings:
        if is_plain_word(text):
            continue  # validated identifiers (layer names): the Namer's business, pinned elsewhere
        assert text in values, f"{text!r} does not reach the code as a literal"
        if not is_distinctive(text):
            continue  # "0" or ", " occur in any program; where they came from cannot be told
        assert text not in code, f"{text!r} appears outside string literals"
        for fstring in fstrings:
            assert text not in fstring, f"{text!r} appears in an f-string: {fstring}"
        for node in constants:
            if text in node.value and node.value != text:
                assert id(node) in allowed_to_contain, f"{text!r} is part of the literal {node.value!r}"


def generated_sources(tmp_path: Path) -> dict[str, list[Path]]:
    """Every accepted spec compiled for every backend, checked, and written to tmp_path/modules."""
    modules = tmp_path / "modules"
    modules.mkdir()
    out: dict[str, list[Path]] = {backend: [] for backend in BACKENDS}
    for path in ACCEPTED:
        program = nndsl.load(path)
        strings = spec_strings(program)
        for backend in BACKENDS:
            source = generate(program, backend=backend, data_dir=str(tmp_path / "data"))
            try:
                check_generated(source, strings)
            except AssertionError as failure:
                raise AssertionError(f"{path.name} on {backend}: {failure}") from None
            target = modules / f"{path.stem}_{backend}.py"
            target.write_text(source, encoding="utf-8")
            out[backend].append(target)
    return out


IMPORT_ALL = """
import importlib.util, sys
for index, path in enumerate(sys.argv[1:]):
    spec = importlib.util.spec_from_file_location(f"injected_{index}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert hasattr(module, "make_trainer"), path
print("imported", len(sys.argv) - 1)
"""


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_accepted_specs_compile_to_literals_and_import_without_side_effects(tmp_path):
    sources = generated_sources(tmp_path)
    (tmp_path / "data").mkdir()
    work = tmp_path / "cwd"
    work.mkdir()
    home = tmp_path.parent / f"{tmp_path.name}-home"  # frameworks may keep settings in $HOME: not watched
    home.mkdir()
    before = files_under(tmp_path)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", HOME=str(home), MPLCONFIGDIR=str(home),
               TF_CPP_MIN_LOG_LEVEL="3", KERAS_HOME=str(home / ".keras"))
    for backend, paths in sources.items():
        if backend != "numpy":
            require_backend(backend)  # skipped without it, except under NNDSL_REQUIRE_BACKENDS=1
        result = subprocess.run([sys.executable, "-c", IMPORT_ALL, *map(str, paths)], cwd=work, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{backend}:\n{result.stderr[-3000:]}"
        assert f"imported {len(paths)}" in result.stdout
        assert files_under(tmp_path) == before, f"importing the {backend} modules created files"


def test_hostile_spec_file_name_reaches_code_only_as_a_literal(tmp_path):
    name = "it's \"x\" {{ y }} {% z %} #\\ __import__('os').nn"
    folder = tmp_path / "data \"'''\n{x}"
    folder.mkdir()
    spec = folder / name
    spec.write_text((CORPUS / "path_python_code.nn").read_text(encoding="utf-8"), encoding="utf-8")
    program = nndsl.load(spec)
    for backend in BACKENDS:
        source = generate(program, backend=backend)
        tree = ast.parse(source)
        values = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
        assert str(spec) in values and str(folder) in values
        assert "__import__" not in code_outside_literals(source)
        assert "\n{x}" not in source  # the newline in the folder's name is escaped, not written


def test_layer_names_that_shadow_become_safe_attributes():
    program = nndsl.load(CORPUS / "layer_name_module_attributes.nn")
    source = generate(program, backend="torch")
    tree = ast.parse(source)
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    keys = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
    assert {"forward_layer", "parameters_layer"} <= keys  # the nn.Sequential's module names
    assert "forward_layer" in attributes  # self.model.forward_layer.weight
    assert {"forward.W", "forward.b", "call.W"} <= keys  # saved weights keep the spec's names


def test_renderer_refuses_what_validation_should_have_stopped():
    import jinja2

    from nndsl.codegen import render

    assert render.environment().undefined is jinja2.StrictUndefined
    for value in (float("inf"), float("nan"), -float("inf"), 10**19, object(), b"bytes"):
        with pytest.raises(render.RenderError):
            render.py(value)
    for name in ("class", "a b", "x;y", "\u0430", "", "1x"):
        with pytest.raises(render.RenderError):
            render.ident(name)
    for text in ("it's", 'say "hi"', "'''", '"""', "\\", "\n", "\u202e", "{{ x }}", "{x}"):
        assert ast.literal_eval(render.py(text)) == text
    assert render.comment("a\"b'c\\d\ne\u202ef") == "a?b?c?d?e?f"
