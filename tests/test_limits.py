"""Resource limits: each one fails with a positioned `SpecError`, and compiling stays linear.

The limits (nndsl/catalog.py, nndsl/source.py, nndsl/syntax.py, nndsl/check.py)
are generous for real models and small enough that a hostile spec cannot make
the compiler exhaust memory or time. Each test pins the line and column the
error points at, as `nndsl check` prints it.
"""

from __future__ import annotations

import gc
import time

import pytest

import nndsl
from bench.compile_speed import generated_spec
from nndsl import catalog
from nndsl.check import MAX_ERRORS
from nndsl.source import MAX_SPEC_BYTES
from nndsl.syntax import MAX_NESTING


def error_of(text: str) -> nndsl.SpecError:
    with pytest.raises(nndsl.SpecError) as info:
        nndsl.parse(text)
    return info.value


def first(text: str) -> tuple[int, int, str]:
    error = error_of(text)
    assert error.span is not None, error.render()
    return error.line, error.column, error.message


def test_file_size_limit_points_where_it_is_passed(tmp_path):
    line = b"# padding, padding, padding\n"  # 28 bytes
    count = MAX_SPEC_BYTES // len(line) + 1
    path = tmp_path / "big.nn"
    path.write_bytes(line * count)
    with pytest.raises(nndsl.SpecError) as info:
        nndsl.load(path)
    assert "spec file is too large" in info.value.message
    row, column = divmod(MAX_SPEC_BYTES, len(line))
    assert (info.value.line, info.value.column) == (row + 1, column + 1)


def test_file_size_limit_holds_for_text_too():
    text = "model { input 2  dense 1 }\n" + "#" * MAX_SPEC_BYTES
    line, column, message = first(text)
    assert "spec file is too large" in message
    assert (line, column) == (2, MAX_SPEC_BYTES - len("model { input 2  dense 1 }\n") + 1)


def test_size_limit_counts_utf8_bytes_not_characters():
    text = "model { input 2  dense 1 }\n# " + "é" * (MAX_SPEC_BYTES // 2)  # 2 bytes each
    assert "spec file is too large" in first(text)[2]
    nndsl.parse("model { input 2  dense 1 }\n# " + "é" * (MAX_SPEC_BYTES // 2 - 100))


def test_nesting_limit():
    depth = MAX_NESTING + 1
    line, column, message = first("model {\n  input 1\n  dense 1 weights=" + "[" * depth + "1" + "]" * depth + "\n}")
    assert message == f"brackets nested too deeply (more than {MAX_NESTING} levels)"
    assert (line, column) == (3, len("  dense 1 weights=") + MAX_NESTING)


def test_layer_limit_points_at_the_first_layer_over_it():
    layers = catalog.MAX_LAYERS + 5
    text = "model {\n  input 1\n" + "  dense 1\n" * layers + "}\n"
    error = error_of(text)
    assert len(error.diagnostics) == 1
    assert error.message == f"model has {layers:,} layers, more than the limit of {catalog.MAX_LAYERS:,}"
    assert (error.line, error.column) == (3 + catalog.MAX_LAYERS, 3)


def test_largest_layer_count_is_accepted():
    program = nndsl.parse("model {\n  input 1\n" + "  dense 1\n" * catalog.MAX_LAYERS + "}\n")
    assert len(program.model.layers) == catalog.MAX_LAYERS


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("model {\n  input 1000001\n  dense 1\n}", (2, 9), "input must be at most 1,000,000"),
        ("model {\n  input 2\n  dense 1000001\n}", (3, 9), "units must be at most 1,000,000"),
        ("model {\n  input 2\n  dense 2 name=" + "n" * 65 + "\n}", (3, 16), "name is longer than 64 characters"),
        ("model {\n  input 2\n  dense " + "1" * 41 + "\n}", (3, 9), "units is too long a number (41 characters)"),
        ("data xor(samples=10000001)\nmodel { input 2 dense 1 }", (1, 18), "samples must be at most 10,000,000"),
        ("data spiral(classes=101)\nmodel { input 2 dense 1 }", (1, 21), "classes must be at most 100"),
        ("data xor()\nmodel { input 2 dense 1 sigmoid }\nloss binary_crossentropy\n"
         "train { optimizer sgd epochs 1000001 }", (4, 30), "epochs must be at most 1,000,000"),
    ],
)
def test_width_and_value_limits(text, where, message):
    line, column, found = first(text)
    assert message in found
    assert (line, column) == where


def test_parameter_limit_points_at_the_layer_that_passes_it():
    text = "model {\n  input 1000\n  dense 1000\n  dense 400000\n  dense 1000\n  dense 1\n}"
    line, column, message = first(text)
    total = 1000 * 1000 + 1000 + 1000 * 400_000 + 400_000 + 400_000 * 1000 + 1000 + 1000 + 1
    assert message == f"model has {total:,} parameters, more than the limit of {catalog.MAX_PARAMETERS:,}"
    assert (line, column) == (5, 3)  # 1 M + 400 M is fine; the next 400 M is not


def test_error_count_is_capped():
    text = "model {\n  input 2\n" + "  dense 0\n" * (MAX_ERRORS + 50) + "}\n"
    error = error_of(text)
    assert len(error.diagnostics) == MAX_ERRORS + 1
    last = error.diagnostics[-1]
    assert last.message == "50 more errors not shown"
    assert (last.span.line, last.span.column) == (3 + MAX_ERRORS, 9)


def best_seconds(function, repeat: int = 3) -> float:
    best = float("inf")
    gc.disable()
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            function()
            best = min(best, time.perf_counter() - started)
    finally:
        gc.enable()
    return best


def test_compile_time_is_linear_in_the_layers():
    """8x the layers costs about 8x the time (64x would be quadratic); the bound is loose
    because the machine may be busy. bench/compile_speed.py prints the full table."""
    small, large = generated_spec(250), generated_spec(2000)
    small_program, large_program = nndsl.parse(small), nndsl.parse(large)
    front = best_seconds(lambda: nndsl.parse(large)) / best_seconds(lambda: nndsl.parse(small))
    back = (best_seconds(lambda: nndsl.generate(large_program, backend="torch"))
            / best_seconds(lambda: nndsl.generate(small_program, backend="torch")))
    assert front < 24, f"parse+check: 8x the layers took {front:.1f}x the time"
    assert back < 24, f"generate: 8x the layers took {back:.1f}x the time"


def test_syntax_error_recovery_reads_the_text_a_bounded_number_of_times(monkeypatch):
    """Recovery re-parses from the start after each error; with many errors far into a
    big spec that was quadratic (20 errors: 20 passes). Now the passes are bounded."""
    from nndsl import syntax

    parser = syntax.grammar_parser()
    read: list[int] = []

    class Counting:
        def parse(self, text):
            read.append(len(text))
            return parser.parse(text)

    monkeypatch.setattr(syntax, "grammar_parser", lambda: Counting())
    errors = "".join("  dense 1 )\n" + "  dense 1\n" * 200 for _ in range(25))
    text = "model {\n  input 1\n" + "  dense 1\n" * 20_000 + errors + "}\n"
    error = error_of(text)
    assert error.message == "unmatched ')'"
    assert 1 <= len(error.diagnostics) < syntax.MAX_SYNTAX_ERRORS
    assert sum(read) <= (syntax.RECOVERY_BUDGET + 1) * len(text) + 100_000
