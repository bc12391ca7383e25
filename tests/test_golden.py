"""The generated code of every example spec, for every backend, pinned by a golden file."""

import ast

import pytest

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
