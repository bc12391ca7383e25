"""bench/compile_speed.py keeps working (small sizes only; no time is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nndsl
from bench.compile_speed import generated_spec, table

ROOT = Path(__file__).resolve().parent.parent


def test_generated_specs_have_the_layers_they_claim():
    for layers in (1, 10, 100):
        program = nndsl.parse(generated_spec(layers))
        assert len(program.model.layers) == layers
        assert program.model.out_features == 1
        expected = 3 * 8 + (layers - 2) * 9 * 8 + 9 if layers > 1 else 3
        assert nndsl.summary(program).total_params == expected


def test_table_lines_up():
    rows = [{"spec": "a.nn", "layers": 2, "lines": 5, "parse": 0.001, "check": 0.0005},
            {"spec": "generated: 1,000 dense layers", "layers": 1000, "lines": 1018, "parse": 0.05, "check": 0.01}]
    lines = table(rows).split("\n")
    assert lines[0].split()[-2:] == ["ms", "µs/layer"]
    assert lines[2].split()[-4:] == ["1.00", "0.50", "1.50", "750.0"]
    assert lines[3].split()[-1] == "60.0"
    assert len({len(line) for line in lines}) == 1


def test_script_runs_on_small_sizes():
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "compile_speed.py"), "--layers", "10", "100", "--repeat", "1"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith(("specs/", "generated:"))]
    specs = sorted((ROOT / "specs").glob("*.nn"))
    assert len(rows) == len(specs) + 2
    assert rows[-2][:4] == ["generated:", "10", "dense", "layers"]
    assert rows[-1][:4] == ["generated:", "100", "dense", "layers"]
    for row in rows:
        parse, check, total, per_layer = (float(cell) for cell in row[-4:])
        assert parse > 0 and check > 0 and per_layer > 0
        assert abs(parse + check - total) < 0.02  # the columns add up (to their rounding)
