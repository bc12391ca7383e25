"""The corpus of bad specs: each file in tests/bad_specs/ is pinned, in
tests/bad_specs/expected.json, to every diagnostic it gives (message, line,
column), in order. A spec that is valid but suspicious lists its warnings
instead. Every one is loaded through `nndsl.load`, the way the CLI reads a
file, and nothing but `nndsl.SpecError` may come out.

To add a case: write NAME.nn (binary files with `printf`), add its entry to
expected.json, and check the message reads well in `nndsl check NAME.nn`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nndsl
from nndsl.syntax import MAX_NESTING

CORPUS = Path(__file__).resolve().parent / "bad_specs"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
SPECS = sorted(CORPUS.glob("*.nn"))


def test_corpus_and_expectations_match():
    assert sorted(EXPECTED) == [path.name for path in SPECS]
    assert sum(1 for entry in EXPECTED.values() if entry["errors"]) >= 40


def diagnose(path: Path):
    """(errors, warnings) from loading `path`; errors empty when it loads."""
    try:
        program = nndsl.load(path)
    except nndsl.SpecError as error:
        return list(error.diagnostics), []
    return [], list(program.warnings)


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_bad_spec(path):
    expected = EXPECTED[path.name]
    errors, warnings = diagnose(path)
    for found, wanted, severity in ((errors, expected["errors"], "error"),
                                    (warnings, expected.get("warnings", []), "warning")):
        assert len(found) == len(wanted), "\n".join(d.header() for d in found)
        for diagnostic, (line, column, message) in zip(found, wanted, strict=True):
            assert diagnostic.severity == severity
            assert message in diagnostic.message, diagnostic.header()
            assert (diagnostic.span.line, diagnostic.span.column) == (line, column), diagnostic.header()
            assert diagnostic.filename == str(path)


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_bad_spec_error_points_at_the_first_problem(path):
    expected = EXPECTED[path.name]["errors"]
    if not expected:
        nndsl.load(path)  # a warning alone does not stop a spec
        return
    with pytest.raises(nndsl.SpecError) as info:
        nndsl.load(path)
    error = info.value
    line, column, message = expected[0]
    assert (error.line, error.column, error.filename) == (line, column, str(path))
    assert str(error) == f"{path}:{line}:{column}: error: {error.message}"
    assert message in str(error)


def test_errors_come_in_source_order():
    for name, entry in EXPECTED.items():
        positions = [(line, column) for line, column, _ in entry["errors"]]
        assert positions == sorted(positions), name


def test_several_independent_mistakes_give_one_diagnostic_each():
    errors, _ = diagnose(CORPUS / "three_mistakes.nn")
    assert [d.message.split(" (")[0] for d in errors] == [
        "unknown activation 'rleu'",
        "unknown initializer 'glorot_normall'",
        "lr must be positive; received lr=-0.1",
    ]
    errors, _ = diagnose(CORPUS / "several_syntax_errors.nn")
    assert [(d.span.line, d.span.column) for d in errors] == [(3, 22), (4, 13), (7, 10)]


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 10_000])
def test_deep_nesting_of_lists_is_an_error_not_a_crash(tmp_path, depth):
    path = tmp_path / "deep.nn"
    prefix = "model {\n    input 2\n    dense 1 weights="
    path.write_text(prefix + "[" * depth + "1" + "]" * depth + "\n}\n", encoding="utf-8")
    with pytest.raises(nndsl.SpecError) as info:
        nndsl.load(path)
    error = info.value
    assert len(error.diagnostics) == 1
    assert error.message == f"brackets nested too deeply (more than {MAX_NESTING} levels)"
    # The caret goes under the first bracket too many; the model's '{' is one level.
    assert (error.line, error.column) == (3, len("    dense 1 weights=") + MAX_NESTING)
    assert "^" in error.render()


def test_nesting_at_the_limit_is_a_value_error_not_a_nesting_error(tmp_path):
    depth = MAX_NESTING - 1  # with the model's '{', exactly at the limit
    path = tmp_path / "nested.nn"
    path.write_text("model { input 1  dense 1 weights=" + "[" * depth + "1" + "]" * depth + " }", encoding="utf-8")
    with pytest.raises(nndsl.SpecError) as info:
        nndsl.load(path)
    assert info.value.message.startswith("element must be a number; received element=[[[")


def test_deep_nesting_of_braces_and_parentheses(tmp_path):
    for opener in "({[":
        path = tmp_path / "deep.nn"
        path.write_bytes((opener * 10_000).encode())
        with pytest.raises(nndsl.SpecError, match="nested too deeply"):
            nndsl.load(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(nndsl.SpecError) as info:
        nndsl.load(tmp_path / "absent.nn")
    assert str(info.value) == f"{tmp_path / 'absent.nn'}: error: no such file"
    assert info.value.line is None and info.value.column is None
    with pytest.raises(nndsl.SpecError, match="is a directory"):
        nndsl.load(tmp_path)


def test_oversized_file(tmp_path):
    from nndsl.source import MAX_SPEC_BYTES

    path = tmp_path / "big.nn"
    path.write_bytes(b"# padding\n" * (MAX_SPEC_BYTES // 10 + 1))
    with pytest.raises(nndsl.SpecError, match="spec file is too large"):
        nndsl.load(path)


def test_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.nn"
    path.write_bytes(b"\xef\xbb\xbfmodel { input 2  dense 1 }\n")
    assert nndsl.load(path) == nndsl.parse("model { input 2  dense 1 }")


def test_first_of_two_encoding_problems_is_reported(tmp_path):
    path = tmp_path / "both.nn"
    path.write_bytes(b"model {\n  input 2 \x00\n  dense 1 \xff\n}\n")
    with pytest.raises(nndsl.SpecError) as info:
        nndsl.load(path)
    assert "NUL byte" in info.value.message and (info.value.line, info.value.column) == (2, 11)
    path.write_bytes(b"model {\n  input 2 \xff\n  dense 1 \x00\n}\n")
    with pytest.raises(nndsl.SpecError) as info:
        nndsl.load(path)
    assert "not valid UTF-8" in info.value.message and (info.value.line, info.value.column) == (2, 11)
