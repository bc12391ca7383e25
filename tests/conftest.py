"""Shared test helpers."""

from __future__ import annotations

import importlib
import os

import pytest


def require_backend(name: str):
    """Import the framework `name` (torch, tensorflow) for a test module.

    Without it the module is skipped, except where NNDSL_REQUIRE_BACKENDS=1 (`make test`,
    CI): there a missing framework fails, so backend tests can never be skipped silently.
    """
    if os.environ.get("NNDSL_REQUIRE_BACKENDS") == "1":
        return importlib.import_module(name)
    return pytest.importorskip(name, reason=f"{name} is not installed (NNDSL_REQUIRE_BACKENDS=1 makes this an error)")
