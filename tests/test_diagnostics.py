"""Diagnostics as a user sees them: `file:line:col: error: message`, the source
line and a caret; the exception's attributes; and the Python API's surface."""

from __future__ import annotations

import subprocess
import sys

import pytest

import nndsl
from nndsl.errors import Diagnostic, SpecError
from nndsl.source import Span

BAD = "model {\n    input 2\n    dense 8 rleu\n    dense 1\n}\n"


def raised(text: str, filename: str = "bad.nn") -> SpecError:
    with pytest.raises(SpecError) as info:
        nndsl.parse(text, filename=filename)
    return info.value


def test_str_is_file_line_column_severity_message():
    error = raised(BAD)
    assert str(error) == "bad.nn:3:13: error: unknown activation 'rleu' (did you mean 'relu'?)"
    assert (error.filename, error.line, error.column) == ("bad.nn", 3, 13)
    assert error.message == "unknown activation 'rleu' (did you mean 'relu'?)"
    assert error.span == Span(3, 13, 3, 17)


def test_render_shows_the_line_and_a_caret_under_the_mistake():
    rendered = raised(BAD).render()
    header, source, caret = rendered.split("\n")
    assert header == str(raised(BAD))
    assert source == "        dense 8 rleu"
    assert caret == "                ^~~~"
    # The caret starts right under the first character of the bad word.
    assert source.index("rleu") == caret.index("^")


def test_render_of_several_errors_keeps_each_with_its_excerpt():
    error = raised("model {\n    input 0\n    dense 8 rleu\n}\n")
    lines = error.render().split("\n")
    assert len(error.diagnostics) == 2 and len(lines) == 6
    assert lines[0].startswith("bad.nn:2:11: error: input must be a positive integer")
    assert lines[2] == "              ^"
    assert lines[3].startswith("bad.nn:3:13: error: unknown activation 'rleu'")
    assert lines[5] == "                ^~~~"


def test_caret_under_a_point_at_the_end_of_a_line():
    error = raised("model {\n    input 2\n    dense 1\n", filename="eof.nn")
    assert str(error) == "eof.nn:3:12: error: unexpected end of file: '{' opened at 1:7 is never closed"
    assert error.render().split("\n")[-1] == "    " + " " * 11 + "^"


def test_caret_columns_count_characters_not_bytes():
    error = raised('model ünïcode_name {\n    input 2\n    dense 1 sigmoïd\n}\n')
    assert (error.line, error.column) == (1, 7)
    assert "U+00FC" in error.message
    error = raised('data csv("dätä.csv", target=y) { features "größe" }\nmodel { dense 1 rleu }')
    assert (error.line, error.column) == (2, 17)
    header, source, caret = error.render().split("\n")
    assert caret.index("^") == source.index("rleu")


def test_tabs_and_control_characters_keep_the_caret_aligned():
    error = raised("model {\n\tinput 2\n\tdense 1 rleu\n}\n")
    _, source, caret = error.render().split("\n")
    assert source == "     dense 1 rleu"  # the tab shows as one space, as it counts as one column
    assert caret.index("^") == source.index("rleu")
    error = raised('data csv("a\u202eb.csv", target=y)\nmodel { input 1 dense 1 }')
    assert "U+202E" in error.message
    assert "\u202e" not in error.render()  # never echo a bidi override to a terminal


def test_a_very_long_line_is_shown_as_a_window_around_the_caret():
    spec = "model { input 2 " + "dense 1 " * 40 + "dense 1 rleu }"
    error = raised(spec)
    _, source, caret = error.render().split("\n")
    assert len(source) < 120
    assert source.startswith("    ...") and source.endswith("...")
    assert source[caret.index("^") : caret.index("^") + 4] == "rleu"


def test_a_diagnostic_without_a_position():
    diagnostic = Diagnostic("error", "no such file", "x.nn")
    assert diagnostic.header() == "x.nn: error: no such file"
    assert diagnostic.render("model {}") == "x.nn: error: no such file"
    error = SpecError("no such file", filename="x.nn")
    assert (error.line, error.column, error.span) == (None, None, None)
    assert error.render() == "x.nn: error: no such file"


def test_warnings_render_like_errors():
    program = nndsl.parse("model {\n    input 2\n    dense 3 softmax\n}\nloss mse\n", filename="w.nn")
    (warning,) = program.warnings
    text = "model {\n    input 2\n    dense 3 softmax\n}\nloss mse\n"
    header, source, caret = warning.render(text).split("\n")
    assert header.startswith("w.nn:3:5: warning: mse on a softmax output")
    assert source == "        dense 3 softmax"
    assert caret == "        ^~~~~~~~~~~~~~~"


def test_spec_error_needs_something_to_say():
    with pytest.raises(ValueError):
        SpecError()
    with pytest.raises(ValueError):
        SpecError(diagnostics=[])


def test_spec_error_is_one_family():
    assert issubclass(SpecError, Exception)
    assert nndsl.SpecError is SpecError
    error = raised("model { dense }")
    assert isinstance(error, nndsl.SpecError)
    assert all(isinstance(d, nndsl.Diagnostic) for d in error.diagnostics)


# --- the API ------------------------------------------------------------------------


def test_parse_default_filename_and_given_filename():
    assert str(raised("model {", filename="x.nn")).startswith("x.nn:1:")
    with pytest.raises(SpecError) as info:
        nndsl.parse("model {")
    assert info.value.filename == "<spec>"
    assert nndsl.parse("model { input 1 dense 1 }", filename="y.nn").filename == "y.nn"


def test_parse_needs_text():
    with pytest.raises(TypeError):
        nndsl.parse(b"model { input 1 dense 1 }")


def test_load_reads_a_path_or_a_string(tmp_path):
    path = tmp_path / "ok.nn"
    path.write_text("model { input 2 dense 1 }\n", encoding="utf-8")
    assert nndsl.load(path) == nndsl.load(str(path)) == nndsl.parse("model { input 2 dense 1 }")
    assert nndsl.load(path).filename == str(path)


def test_summary_stays_a_function_after_the_submodule_is_imported():
    import nndsl.summary  # noqa: F401 - what a user (or a backend) may do
    from nndsl.summary import summarize

    program = nndsl.parse("model { input 2 dense 1 }")
    assert callable(nndsl.summary)
    assert nndsl.summary(program).total_params == summarize(program).total_params == 3
    assert nndsl.summary(program).total_params == 3  # and again: nothing rebinds it


def test_public_names():
    for name in ("parse", "load", "summary", "format", "generate", "build", "to_json", "SpecError", "Program"):
        assert name in nndsl.__all__ and hasattr(nndsl, name), name


def test_importing_and_checking_loads_no_numerical_library(tmp_path):
    spec = tmp_path / "light.nn"
    spec.write_text("data xor\nmodel { input 2 dense 4 relu dense 1 sigmoid }\nloss binary_crossentropy\n"
                    "train { optimizer adam epochs 3 }\n", encoding="utf-8")
    script = (
        "import sys, nndsl\n"
        f"program = nndsl.load({str(spec)!r})\n"
        "nndsl.summary(program); nndsl.format(program); nndsl.to_json(program)\n"
        "from nndsl.cli import main\n"
        f"assert main(['check', {str(spec)!r}]) == 0\n"
        "heavy = [m for m in ('numpy', 'torch', 'tensorflow', 'jinja2', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "ok (2 layers, 17 parameters)" in result.stdout
