"""bench/gpu_check.py, the GPU check, on a machine without a GPU: it says so and stops cleanly;
and its comparisons, run on the CPU (--device cpu), pass for an example spec on both frameworks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import require_backend

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "gpu_check.py"


def run_script(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # no GPU for either framework, even on a machine with one
    return subprocess.run([sys.executable, str(SCRIPT), "--report", str(tmp_path / "report.md"), *args],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)


def test_without_a_gpu_it_says_so_and_checks_nothing(tmp_path):
    """One interpreter (it imports torch and TensorFlow: the cost of this test): --require-gpu
    turns the message into exit status 1; without it the same branch returns 0."""
    require_backend("torch")
    require_backend("tensorflow")
    required = run_script("--require-gpu", tmp_path=tmp_path)
    assert required.returncode == 1, required.stdout + required.stderr
    assert "no CUDA GPU here (neither torch nor TensorFlow sees one), so nothing was checked" in required.stdout
    assert "Traceback" not in required.stderr
    assert not (tmp_path / "report.md").exists()


def test_its_comparisons_pass_on_the_cpu(tmp_path):
    require_backend("torch")
    require_backend("tensorflow")
    result = run_script("--device", "cpu", "--spec", "checkerboard", "--epochs", "1", "--no-bench",
                        tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| checkerboard.nn | torch |" in report and "| checkerboard.nn | tensorflow |" in report
    assert report.count("| pass |") == 2
    assert "2-process DDP (cpu): pass: checkerboard.nn, 1 epoch(s)" in report
