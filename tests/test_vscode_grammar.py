"""editors/vscode/: the TextMate grammar, tokenized by VS Code's own engine (npm vscode-textmate with
vscode-oniguruma, run by node; `make setup-test` installs them into .cache/node), recognises every
character of every example spec and agrees with the Pygments lexer on each word's class; and the
extension's manifest declares the language, the file association, the configuration and the server.

Without node or those modules the test is skipped, except under NNDSL_REQUIRE_BACKENDS=1 (`make
test`, CI), where it fails: CI has node, so this test runs there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from pygments.token import Comment, Keyword, Name, Number, String

from nndsl.cli import make_parser
from nndsl.lexer import NndslLexer
from tests.golden import ROOT, SPECS

EXTENSION = ROOT / "editors" / "vscode"
MODULES = Path(os.environ.get("NNDSL_NODE_MODULES", ROOT / ".cache" / "node" / "node_modules"))
BAD_SPECS = [path for path in sorted((ROOT / "tests" / "bad_specs").glob("*.nn"))
             if b"\0" not in path.read_bytes()]

#: A Pygments token class, and the TextMate scope the grammar gives the same word.
SAME_CLASS = [
    (Keyword.Declaration, "keyword.other.block.nndsl"),
    (Keyword.Constant, "constant.language.boolean.nndsl"),
    (Keyword, "keyword.other.statement.nndsl"),
    (Name.Builtin, "support.function.nndsl"),
    (Name.Attribute, "variable.parameter.nndsl"),
    (Comment, "comment.line.number-sign.nndsl"),
    (String, "string.quoted."),
    (Number, "constant.numeric."),
]


def node_and_modules() -> str:
    node = shutil.which("node")
    missing = "node is not installed" if node is None else (
        f"{MODULES} lacks vscode-textmate or vscode-oniguruma (make setup-test installs them)"
        if not all((MODULES / name).is_dir() for name in ("vscode-textmate", "vscode-oniguruma")) else None)
    if missing:
        if os.environ.get("NNDSL_REQUIRE_BACKENDS") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    return node


@pytest.fixture(scope="module")
def tokenized() -> dict[str, list]:
    node = node_and_modules()
    files = [str(path) for path in SPECS + BAD_SPECS]
    done = subprocess.run([node, str(EXTENSION / "test" / "tokenize.js"), *files], capture_output=True, text=True,
                          env=dict(os.environ, NODE_PATH=str(MODULES)))
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    return {result["file"]: result["lines"] for result in results}


def scope_at(lines: list, row: int, column: int) -> list[str]:
    for start, end, scopes in lines[row]:
        if start <= column < end:
            return scopes
    raise AssertionError(f"no token at {row + 1}:{column + 1}")


@pytest.mark.parametrize("spec", SPECS + BAD_SPECS, ids=[p.name for p in SPECS + BAD_SPECS])
def test_every_character_is_recognised(spec, tokenized):
    text = spec.read_bytes().decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    lines = tokenized[str(spec)]
    assert len(lines) == len(text.split("\n"))
    for row, line in enumerate(text.split("\n")):
        for column, character in enumerate(line):
            if not character.isspace():
                scopes = scope_at(lines, row, column)
                assert len(scopes) >= 2 and scopes[0] == "source.nndsl", (spec.name, row + 1, column + 1, scopes)
                if spec in SPECS:  # an example: nothing invalid
                    assert not scopes[-1].startswith("invalid."), (spec.name, row + 1, column + 1, scopes)


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_the_grammar_and_the_pygments_lexer_agree(spec, tokenized):
    text = spec.read_text(encoding="utf-8")
    lines = tokenized[str(spec)]
    checked = 0
    for index, kind, value in NndslLexer().get_tokens_unprocessed(text):
        for pygments_class, scope in SAME_CLASS:
            if kind in pygments_class:
                row = text.count("\n", 0, index)
                column = index - (text.rfind("\n", 0, index) + 1)
                assert scope_at(lines, row, column)[-1].startswith(scope), (spec.name, row + 1, column + 1, value)
                checked += 1
                break
    assert checked > 20


def test_the_manifest_declares_the_language_and_starts_the_server():
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    (language,) = manifest["contributes"]["languages"]
    assert (language["id"], language["extensions"]) == ("nndsl", [".nn"])
    (grammar,) = manifest["contributes"]["grammars"]
    assert grammar["language"] == "nndsl" and (EXTENSION / grammar["path"]).is_file()
    assert json.loads((EXTENSION / grammar["path"]).read_text(encoding="utf-8"))["scopeName"] == grammar["scopeName"]
    configuration = json.loads((EXTENSION / language["configuration"]).read_text(encoding="utf-8"))
    assert configuration["comments"] == {"lineComment": "#"}
    assert ["{", "}"] in configuration["brackets"] and ["(", ")"] in configuration["brackets"]
    command = manifest["contributes"]["configuration"]["properties"]["nndsl.server.command"]["default"]
    assert command == ["nndsl", "lsp"] and make_parser().parse_args(command[1:]).command == "lsp"
    main = (EXTENSION / manifest["main"]).read_text(encoding="utf-8")
    assert "vscode-languageclient/node" in main and "TransportKind.stdio" in main
    assert "vscode-languageclient" in manifest["dependencies"]


def test_the_grammar_has_the_lexers_words_which_come_from_the_catalog():
    """The grammar is JSON, written once; the lexer reads nndsl/catalog.py. A statement or name added
    to the catalog (residual, add, concat came so) must reach the grammar too: this says which."""
    import re

    from nndsl.lexer import BUILTINS, STATEMENTS

    repository = json.loads((EXTENSION / "syntaxes" / "nndsl.tmLanguage.json").read_text(encoding="utf-8"))
    repository = repository["repository"]

    def words(rule: str) -> set[str]:
        return set(re.fullmatch(r"\\b\(\?:(.*)\)\\b", repository[rule]["match"]).group(1).split("|"))

    fix = "editors/vscode/syntaxes/nndsl.tmLanguage.json: python -m tests.golden rewrites its word lists"
    assert words("statement") == set(STATEMENTS), fix
    assert words("builtin") == set(BUILTINS), fix
