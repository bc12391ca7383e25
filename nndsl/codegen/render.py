"""Rendering: the Jinja environment, Python literals, and verbatim snippets.

Templates receive only what this module and the lowering passes hand them:
validated identifiers, and values rendered as Python literals with `repr`
semantics (`py`). Nothing from a spec is ever pasted into generated code raw.
Snippets are plain, lint-clean Python files under templates/ that are pasted
verbatim; their imports are hoisted into the generated module's import block.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
import threading
from dataclasses import dataclass
from functools import cache

import jinja2

from nndsl.resources import resource_dir

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_env: jinja2.Environment | None = None
_env_lock = threading.Lock()
_parse_lock = threading.Lock()


def parse_python(source: str) -> ast.Module:
    """`ast.parse(source)`, one thread at a time.

    CPython 3.11's AST constructor keeps one recursion counter per interpreter, not per call:
    two threads parsing at once can corrupt it and raise "SystemError: AST constructor recursion
    depth mismatch" (python/cpython#106905; seen in tests/test_concurrency.py). A parse takes
    milliseconds of a compile's tens, so serialising it costs little.
    """
    with _parse_lock:
        return ast.parse(source)


class RenderError(Exception):
    """A value that validation should have stopped reached the renderer: a bug in nndsl."""


def py(value) -> str:
    """`value` as a Python literal: repr semantics, finite numbers only."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        if abs(value) > 10**18:
            raise RenderError(f"integer too large to render: {value}")
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RenderError(f"non-finite number reached the renderer: {value}")
        return repr(value)
    if isinstance(value, str):
        text = repr(value)
        if text.startswith("'") and '"' not in value:
            text = '"' + text[1:-1] + '"'  # the house style's double quotes, same escapes
        return text
    if isinstance(value, (tuple, list)):
        items = ", ".join(py(v) for v in value)
        if isinstance(value, tuple) and len(value) == 1:
            return f"({items},)"
        return f"({items})" if isinstance(value, tuple) else f"[{items}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py(key)}: {py(item)}" for key, item in value.items()) + "}"
    raise RenderError(f"cannot render {type(value).__name__} as a literal")


def ident(name: str) -> str:
    """`name` as an identifier; it must already be a valid, non-keyword one."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name) or keyword.iskeyword(name):
        raise RenderError(f"not a safe identifier: {name!r}")
    return name


def comment(text: str) -> str:
    """Text safe inside a `#` comment or a docstring: one line, printable, no quotes or backslashes."""
    cleaned = "".join(ch if ch.isprintable() and ch not in "\\\"'`" else "?" for ch in str(text))
    return cleaned[:200]


def environment() -> jinja2.Environment:
    global _env
    with _env_lock:
        if _env is None:
            env = jinja2.Environment(
                loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
                undefined=jinja2.StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=True,
                autoescape=False,
            )
            env.filters["py"] = py
            env.filters["ident"] = ident
            env.filters["comment"] = comment
            _env = env
        return _env


def render_template(name: str, **context) -> str:
    return environment().get_template(name).render(**context)


@dataclass(frozen=True)
class Snippet:
    """A verbatim piece of generated code: its import lines, and the rest."""

    name: str
    imports: tuple[str, ...]
    body: str
    functions: tuple[str, ...] = ()  # the top-level functions it defines


@cache
def snippet(name: str) -> Snippet:
    """Load templates/<name> (a .py file): split its leading imports from its body."""
    path = resource_dir("templates") / name
    text = path.read_text(encoding="utf-8")
    tree = parse_python(text)
    lines = text.split("\n")
    imports: list[str] = []
    body_start = 0
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.extend(lines[node.lineno - 1 : node.end_lineno])
            body_start = node.end_lineno
        elif isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant) and not imports:
            body_start = node.end_lineno  # a module docstring: not pasted
        else:
            break
    body = "\n".join(lines[body_start:]).strip("\n") + "\n"
    functions = tuple(node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef)))
    return Snippet(name, tuple(i for i in imports if not i.startswith("from __future__")), body, functions)


def drop_unused_functions(source: str, candidates) -> str:
    """Remove the top-level functions (and classes) named in `candidates` that nothing in `source` uses.

    A snippet brings a whole operation (forward and backward) or a family of helpers; what
    the module does not call (sigmoid's own backward when the loss fuses it, the label checks
    of another task) is dead code a reader would have to skip, so it is taken out. A function
    used only by removed ones goes too, and so does an import only they used. One parse.
    """
    tree = parse_python(source)
    functions = {node.name: node for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in candidates}
    uses = {name: _names_in(node) - {name} for name, node in functions.items()}  # what each one refers to
    outside = _names_in(*(node for node in tree.body if node not in functions.values()))
    used, todo = set(), [name for name in functions if name in outside]
    while todo:
        name = todo.pop()
        if name not in used:
            used.add(name)
            todo.extend(other for other in uses[name] if other in functions)
    unused = [node for name, node in functions.items() if name not in used]
    if not unused:
        return source
    still_referenced = outside.union(*(uses[name] for name in used))
    doomed = list(unused)
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) and len(node.names) == 1:
            alias = node.names[0]
            if (alias.asname or alias.name.split(".")[0]) not in still_referenced:
                doomed.append(node)
    lines = source.split("\n")
    for node in sorted(doomed, key=lambda node: node.lineno, reverse=True):
        first = min([node.lineno] + [decorator.lineno for decorator in getattr(node, "decorator_list", [])])
        del lines[first - 1 : node.end_lineno]
    return tidy("\n".join(lines))


def _names_in(*nodes) -> set[str]:
    """Every name the nodes load, store or call."""
    return {name.id for node in nodes for name in ast.walk(node) if isinstance(name, ast.Name)}


def tidy(source: str) -> str:
    """Strip trailing spaces and collapse runs of blank lines to two."""
    lines = [line.rstrip() for line in source.split("\n")]
    out: list[str] = []
    blanks = 0
    for line in lines:
        blanks = blanks + 1 if not line else 0
        if blanks <= 2:
            out.append(line)
    return "\n".join(out).strip("\n") + "\n"


def sort_imports(lines) -> list[str]:
    """Standard-library imports, then third-party, each group sorted, isort style."""
    third_party = ("numpy", "torch", "tensorflow", "keras", "PIL")
    unique = sorted(set(lines), key=_import_key)
    stdlib = [line for line in unique if not _module_of(line).startswith(third_party)]
    others = [line for line in unique if _module_of(line).startswith(third_party)]
    return stdlib + ([""] if stdlib and others else []) + others


def _module_of(line: str) -> str:
    return line.split()[1]


def _import_key(line: str):
    return (line.startswith("from "), _module_of(line).lower(), line)
