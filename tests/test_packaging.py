"""A wheel built from the tree carries the grammar and the templates, and an
installed (non-editable) copy checks specs from any folder.

Builds the wheel with pip (hatchling comes from the package index, a local one
on machines without internet), installs it with only its parsing dependencies
into a fresh plain venv, and runs `nndsl check` there from outside the tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=None):
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out, ROOT)
    (path,) = out.glob("nndsl-*.whl")
    return path


def test_wheel_carries_grammar_and_templates(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "nndsl/grammar/nndsl.lark" in names
    assert any(name.startswith("nndsl/templates/") for name in names)
    assert "nndsl/__init__.py" in names and "nndsl/syntax.py" in names
    assert not any(name.startswith(("tests/", "specs/", "bench/")) for name in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "nndsl = nndsl.cli:entry_point" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_checks_specs_outside_the_tree(wheel, tmp_path):
    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = environment / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", wheel, "lark", "jinja2", "markupsafe")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "xor.nn").write_text((ROOT / "specs" / "checkerboard.nn").read_text(encoding="utf-8"),
                                      encoding="utf-8")
    (elsewhere / "bad.nn").write_text("model {\n    input 2\n    dense 1 rleu\n}\n", encoding="utf-8")

    result = run(environment / "bin" / "nndsl", "check", "xor.nn", cwd=elsewhere)
    assert result.stdout == "xor.nn: ok (2 layers, 33 parameters)\n"

    bad = subprocess.run([environment / "bin" / "nndsl", "check", "bad.nn"], capture_output=True, text=True,
                         cwd=elsewhere)
    assert bad.returncode == 1
    assert bad.stderr.startswith("bad.nn:3:13: error: unknown activation 'rleu' (did you mean 'relu'?)")

    # The installed copy, not this tree, answered: its grammar and templates are its own.
    script = (
        "import nndsl, pathlib\n"
        "from nndsl.resources import resource_dir\n"
        "package = pathlib.Path(nndsl.__file__).parent\n"
        "print(package)\n"
        "assert resource_dir('grammar') == package / 'grammar', resource_dir('grammar')\n"
        "assert (resource_dir('templates')).parent == package\n"
        "print(nndsl.summary(nndsl.load('xor.nn')).total_params)\n"
    )
    result = run(python, "-c", script, cwd=elsewhere)
    location, total = result.stdout.split()
    assert Path(location).is_relative_to(environment)
    assert total == "33"


def test_make_run_trains_the_checkerboard_and_leaves_its_results_in_the_folder_it_prints(tmp_path):
    """README's main job, as `make run` does it, with this suite's virtualenv (VENV) and a
    temporary RUN_DIR: the summary, a line per epoch, the validation metrics, and the folder."""
    venv_dir = Path(sys.prefix)
    if not (venv_dir / "bin" / "nndsl").exists():
        pytest.skip("the suite does not run from a virtualenv with nndsl installed (make test's does)")
    out = tmp_path / "checkerboard"
    result = run("make", "--no-print-directory", "run", f"VENV={venv_dir}", f"RUN_DIR={out}", cwd=ROOT)
    assert "Total params: 33" in result.stdout
    assert "epoch 200/200" in result.stderr  # progress on stderr, results on stdout
    accuracy = float(result.stdout.split("validation: ")[1].split("accuracy: ")[1].split()[0])
    assert accuracy >= 0.9  # the exercise's goal
    assert result.stdout.rstrip().endswith(f"results (weights.npz, history.json, loss.png, decision_boundary.png): {out}")
    assert {"weights.npz", "history.json", "loss.png", "decision_boundary.png", "model.py"} <= {p.name for p in out.iterdir()}
