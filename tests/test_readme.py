"""The console sessions shown in README.md are real: each `$ nndsl …` prints what the README shows.

A session is a fenced block whose lines start with `$ `: `$ cat FILE` defines FILE (the lines
up to the next `$ `) in a scratch folder, and `$ nndsl ARGS` runs the command there (with
specs/ reachable), its stdout and stderr compared with the lines shown.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```\n(\$ .*?)^```$", re.MULTILINE | re.DOTALL)


def sessions(path: Path) -> list[list[tuple[str, str]]]:
    """Each console block of `path` as (command, expected output) pairs."""
    out = []
    for block in FENCE.findall(path.read_text(encoding="utf-8")):
        steps = []
        for chunk in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, output = chunk.partition("\n")
            steps.append((command, output))
        out.append(steps)
    return out


SESSIONS = sessions(ROOT / "README.md")


def test_the_readme_has_console_sessions():
    commands = [command for steps in SESSIONS for command, _ in steps]
    assert "nndsl check bad.nn" in commands and "nndsl summary specs/checkerboard.nn" in commands


@pytest.mark.parametrize("steps", SESSIONS, ids=[steps[-1][0] for steps in SESSIONS])
def test_readme_session_prints_what_it_shows(steps, tmp_path):
    (tmp_path / "specs").symlink_to(ROOT / "specs")
    for command, expected in steps:
        program, *args = shlex.split(command)
        if program == "cat":
            (tmp_path / args[0]).write_text(expected, encoding="utf-8")
            continue
        assert program == "nndsl", command
        result = subprocess.run([sys.executable, "-m", "nndsl", *args], cwd=tmp_path, capture_output=True,
                                text=True, encoding="utf-8", timeout=120)
        assert result.stdout + result.stderr == expected, command


def test_readme_lists_every_example_spec():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("The examples in `specs/`", 1)[1].split("\n\n", 2)[1]
    listed = set(re.findall(r"`(\w+\.nn)`", table))
    assert listed == {path.name for path in (ROOT / "specs").glob("*.nn")}


def test_readme_install_table_names_every_extra_of_the_package():
    table = (ROOT / "pyproject.toml").read_text(encoding="utf-8").split("[project.optional-dependencies]\n", 1)[1]
    extras = re.findall(r"^([\w-]+) = \[", table.split("\n[", 1)[0], re.MULTILINE)  # (tomllib is 3.11+)
    assert "torch" in extras and "tensorflow" in extras
    install = (ROOT / "README.md").read_text(encoding="utf-8").split("## Install", 1)[1].split("\n## ", 1)[0]
    for extra in extras:
        assert f"| `nndsl[{extra}]` |" in install, extra
    assert "--index-url https://download.pytorch.org/whl/cpu" in install
