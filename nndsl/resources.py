"""Where the grammar and the templates live, installed or in a source tree.

A wheel carries `grammar/` and `templates/` inside the package (see
pyproject.toml); a source checkout or an editable install has them beside it.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """The folder `grammar` or `templates`, wherever this copy of nndsl keeps it."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"nndsl is incomplete: no '{name}' folder next to {_PACKAGE}")
