"""The Pygments lexer: found through its entry point, as `pygmentize -l nndsl` finds it, and every
example spec lexed without an error token and with its words in the right classes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pygments.lexers import find_lexer_class_for_filename, get_lexer_by_name
from pygments.token import Comment, Error, Keyword, Name, Number, String

from nndsl.lexer import NndslLexer
from tests.golden import ROOT, SPECS

BAD_SPECS = sorted((ROOT / "tests" / "bad_specs").glob("*.nn"))


def test_the_entry_point_registers_the_lexer():
    assert type(get_lexer_by_name("nndsl")) is NndslLexer
    assert find_lexer_class_for_filename("specs/checkerboard.nn") is NndslLexer


@pytest.mark.parametrize("spec", SPECS, ids=[spec.stem for spec in SPECS])
def test_every_example_spec_lexes_without_error_tokens(spec):
    text = spec.read_text(encoding="utf-8")
    tokens = list(NndslLexer().get_tokens(text))
    assert [value for kind, value in tokens if kind in Error] == []
    assert "".join(value for _, value in tokens) == text  # nothing lost


def test_bad_specs_lex_too_with_errors_only_where_a_character_is_wrong():
    """Highlighting is for specs being written: a misspelt one lexes (its unknown words as plain
    names); a stray character or an open string is an error token."""
    stray = {"stray_character.nn", "non_ascii_character.nn", "unterminated_string.nn", "several_syntax_errors.nn"}
    for spec in BAD_SPECS:
        try:
            text = spec.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            continue
        tokens = list(NndslLexer().get_tokens(text))
        assert "".join(value for _, value in tokens).rstrip("\n") == text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
        errors = [value for kind, value in tokens if kind in Error]
        if spec.name in stray:
            assert errors, spec.name
        elif all(c.isprintable() or c in "\n\r\t " for c in text):  # (control characters: the checker's to name)
            assert not errors, (spec.name, errors)


def test_words_get_their_token_classes():
    text = 'data xor(samples=500, seed=7) {\n    split 0.5  # half\n}\nmodel m { input 8x8x1  dense 8 relu init=he_normal trainable=false }\nloss "x"\n'
    tokens = [(kind, value) for kind, value in NndslLexer().get_tokens(text) if value.strip()]
    kind_of = dict((value, kind) for kind, value in tokens)
    assert kind_of["data"] in Keyword.Declaration and kind_of["model"] in Keyword.Declaration
    assert kind_of["split"] in Keyword and kind_of["dense"] in Keyword
    assert kind_of["xor"] in Name.Builtin and kind_of["relu"] in Name.Builtin and kind_of["he_normal"] in Name.Builtin
    assert kind_of["samples"] in Name.Attribute and kind_of["seed"] in Name.Attribute  # a keyword as an argument name
    assert kind_of["8x8x1"] in Number and kind_of["0.5"] in Number
    assert kind_of["# half"] in Comment and kind_of['"x"'] in String
    assert kind_of["false"] in Keyword.Constant and kind_of["m"] is Name


def test_pygmentize_highlights_a_spec():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "pygments", "-l", "nndsl", "-f", "html", str(SPECS[0])],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert '<span class="kd">model</span>' in done.stdout and 'class="err"' not in done.stdout


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def fences(path) -> list[tuple[int, str, str]]:
    """(line, language, body) of each fenced block of a Markdown file."""
    out, opened, body = [], None, []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if line.startswith("```"):
            if opened is None:
                opened, body = (number, line[3:].strip()), []
            else:
                out.append((opened[0], opened[1], "\n".join(body)))
                opened = None
        elif opened is not None:
            body.append(line)
    return out


@pytest.mark.parametrize("path", DOCS, ids=[path.name for path in DOCS])
def test_the_docs_mark_their_specs_as_nndsl_and_they_lex_cleanly(path):
    """The docs' spec examples are fenced as ```nndsl, the name the lexer registers (a renderer that
    knows it, such as Pygments' Markdown extensions, highlights them), without an error token; an
    untagged block that parses as a spec should have been tagged."""
    import nndsl
    from nndsl.errors import SpecError

    for line, language, body in fences(path):
        if language == "nndsl":
            errors = [value for kind, value in NndslLexer().get_tokens(body) if kind in Error]
            assert errors == [], f"{path.name}:{line}: {errors}"
        elif language == "" and not body.lstrip().startswith("$"):
            try:
                nndsl.parse(body)
            except (SpecError, ValueError):
                continue
            raise AssertionError(f"{path.name}:{line}: a spec fenced without a language: ```nndsl")
