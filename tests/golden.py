"""Golden files of generated code: `python -m tests.golden` (or `make golden`) rewrites them.

Each example spec in specs/ is compiled for each backend into
tests/golden/<spec>.<backend>.py. tests/test_golden.py fails when the compiler's
output drifts from these files; after an intended change, regenerate them and
review the diff like any other code change. It also rewrites the VS Code grammar's word lists
(from the Pygments lexer, which reads the catalog) and docs/plain/, the checkerboard's
plain programs that README shows (tests/test_plain.py holds them to the compiler's output).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
SPECS = sorted((ROOT / "specs").glob("*.nn"))
BACKENDS = ("numpy", "torch", "tensorflow")


def available_backends() -> list[str]:
    """Backends whose lowering exists in this tree (all three, once they are written)."""
    return [b for b in BACKENDS if importlib.util.find_spec(f"nndsl.codegen.{_module(b)}") is not None]


def _module(backend: str) -> str:
    return {"numpy": "numpy_backend", "torch": "torch_backend", "tensorflow": "tensorflow_backend"}[backend]


def golden_path(spec: Path, backend: str) -> Path:
    return GOLDEN / f"{spec.stem}.{backend}.py"


PLAIN_DOCS = ROOT / "docs" / "plain"
PLAIN_SPEC = ROOT / "specs" / "checkerboard.nn"


def plain_doc_path(backend: str) -> Path:
    return PLAIN_DOCS / f"{PLAIN_SPEC.stem}_{backend}.py"


PLAIN_LENGTHS = PLAIN_DOCS / "lengths.md"
PLAIN_BACKENDS = ("numpy", "torch", "tensorflow")


def plain_lengths() -> str:
    """docs/plain/lengths.md: the lines of every example's plain program, on each backend."""
    rows = [f"| {spec.stem} | " + " | ".join(str(len(render(spec, b, plain=True).splitlines())) for b in PLAIN_BACKENDS)
            + " |" for spec in SPECS]
    return ("# Lines of each example's plain program\n\n"
            "`nndsl compile SPEC -b BACKEND --plain`, counted by tests/test_plain.py, rewritten by\n"
            "`python -m tests.golden` (`make golden`).\n\n"
            "| spec | numpy | torch | tensorflow |\n| --- | --- | --- | --- |\n" + "\n".join(rows) + "\n")


def render(spec: Path, backend: str, plain: bool = False) -> str:
    """The generated code for a spec (`plain`: its plain program), with paths relative to the repository root."""
    import nndsl

    relative = spec.relative_to(ROOT).as_posix()
    program = nndsl.parse(spec.read_text(encoding="utf-8"), filename=relative)
    return nndsl.generate(program, backend=backend, target="auto", data_dir="specs", plain=plain)


README = ROOT / "README.md"
PLAIN_BLOCK = re.compile(r"(<details><summary>\w+: <code>docs/plain/(\w+)\.py</code>, )\d+( lines</summary>\n\n```python\n).*?(```\n\n</details>)",
                         re.DOTALL)


def readme_with_plain_programs(text: str) -> str:
    """README.md with its plain-program blocks (README "Plain programs") as docs/plain/ holds them."""
    def block(match: re.Match) -> str:
        program = (PLAIN_DOCS / f"{match[2]}.py").read_text(encoding="utf-8")
        return f"{match[1]}{len(program.splitlines())}{match[3]}{program}{match[4]}"

    return PLAIN_BLOCK.sub(block, text)


TEXTMATE_GRAMMAR = ROOT / "editors" / "vscode" / "syntaxes" / "nndsl.tmLanguage.json"
#: The TextMate grammar's word lists, by rule, as the Pygments lexer (which reads the catalog) has them.
TEXTMATE_WORDS = {"statement": "STATEMENTS", "builtin": "BUILTINS"}


def textmate_grammar(text: str) -> str:
    """The grammar's JSON with its statement and builtin alternations made from the lexer's words."""
    from nndsl import lexer

    for rule, words in TEXTMATE_WORDS.items():
        alternation = "\\\\b(?:" + "|".join(getattr(lexer, words)) + ")\\\\b"
        text = re.sub(rf'("{rule}": \{{\n\s*"name": "[^"]*",\n\s*"match": )"[^"]*"',
                      lambda match, alternation=alternation: f'{match[1]}"{alternation}"', text)
    return text


def _rewrite(path: Path, text: str) -> int:
    """Write `text` to `path` if it holds something else; 1 if it did."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"updated {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 1


def main() -> int:
    GOLDEN.mkdir(exist_ok=True)
    written = 0
    for backend in available_backends():
        pairs = [(golden_path(spec, backend), render(spec, backend)) for spec in SPECS]
        for path, text in [*pairs, (plain_doc_path(backend), render(PLAIN_SPEC, backend, plain=True))]:
            written += _rewrite(path, text)
    if set(PLAIN_BACKENDS) <= set(available_backends()):
        written += _rewrite(PLAIN_LENGTHS, plain_lengths())
    written += _rewrite(README, readme_with_plain_programs(README.read_text(encoding="utf-8")))
    written += _rewrite(TEXTMATE_GRAMMAR, textmate_grammar(TEXTMATE_GRAMMAR.read_text(encoding="utf-8")))
    print(f"{written} golden file(s) updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
