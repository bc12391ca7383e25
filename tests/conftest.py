"""Shared test helpers."""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest


def require_backend(name: str):
    """Import the framework `name` (torch, tensorflow) for a test module.

    Without it the module is skipped, except where NNDSL_REQUIRE_BACKENDS=1 (`make test`,
    CI): there a missing framework fails, so backend tests can never be skipped silently.
    """
    if os.environ.get("NNDSL_REQUIRE_BACKENDS") == "1":
        return importlib.import_module(name)
    return pytest.importorskip(name, reason=f"{name} is not installed (NNDSL_REQUIRE_BACKENDS=1 makes this an error)")


#: What a generated program may import beyond its framework, NumPy and the standard library: inside
#: the function that needs it, only then: tqdm for the live bar (progress.py; without it, the epoch
#: lines) and tensorboardX for --tensorboard (tensorboard.py). Never at the top of a module.
OPTIONAL_IMPORTS = {"tqdm", "tensorboardX"}


#: Floats from two separate executions (another process, a reloaded model) agree to float32
#: rounding, not bit for bit: under load a framework may split its kernels differently. Bitwise
#: equality stays for one execution path (resume from a checkpoint, fit in parts).
SEPARATE_RUN_RTOL = 1e-6


def assert_same_run(history, other_history, weights, other_weights, rtol: float = SEPARATE_RUN_RTOL) -> None:
    """Two executions of the same run: the same history keys and epochs, and values within `rtol`."""
    assert list(other_history) == list(history)
    for key, values in history.items():
        np.testing.assert_allclose(other_history[key], values, rtol=rtol, atol=0, err_msg=key)
    assert sorted(other_weights) == sorted(weights)
    for name, value in weights.items():
        np.testing.assert_allclose(other_weights[name], value, rtol=rtol, atol=rtol * float(np.max(np.abs(value))),
                                   err_msg=name)
