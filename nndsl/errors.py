"""Diagnostics: the one exception family for a user's mistake, and how it prints.

Every problem with a spec is a `Diagnostic` (error or warning, message, file,
span). A failed check raises one `SpecError` carrying all the errors found in
that run, so a user fixes several mistakes per round trip. The CLI prints them
the way a compiler does::

    specs/bad.nn:4:11: error: unknown activation 'rleu' (did you mean 'relu'?)
        dense 8 rleu
                ^~~~
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nndsl.source import Span


@dataclass(frozen=True)
class Diagnostic:
    """One message about a spec, with where it points."""

    severity: str  # "error" or "warning"
    message: str
    filename: str = "<spec>"
    span: Span | None = None

    def header(self) -> str:
        where = visible(self.filename)
        if self.span is not None:
            where += f":{self.span.line}:{self.span.column}"
        return f"{where}: {self.severity}: {visible(self.message)}"

    def render(self, text: str | None = None) -> str:
        """The header line, then (given the spec text) the source line and a caret."""
        lines = [self.header()]
        if text is not None and self.span is not None:
            lines.extend(_excerpt(text, self.span))
        return "\n".join(lines)


class SpecError(Exception):
    """A spec (or a data file it names) is wrong; carries one or more diagnostics.

    `line`, `column` and `filename` describe the first error; `diagnostics` holds
    them all. `str(error)` is the first one in `file:line:col: error: message` form.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        filename: str = "<spec>",
        span: Span | None = None,
        diagnostics: list[Diagnostic] | tuple[Diagnostic, ...] | None = None,
        text: str | None = None,
    ) -> None:
        if diagnostics is None:
            if message is None:
                raise ValueError("SpecError needs a message or diagnostics")
            diagnostics = [Diagnostic("error", message, filename, span)]
        if not diagnostics:
            raise ValueError("SpecError needs at least one diagnostic")
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        self.text = text
        super().__init__(self.diagnostics[0].header())

    @property
    def message(self) -> str:
        return self.diagnostics[0].message

    @property
    def filename(self) -> str:
        return self.diagnostics[0].filename

    @property
    def span(self) -> Span | None:
        return self.diagnostics[0].span

    @property
    def line(self) -> int | None:
        return None if self.span is None else self.span.line

    @property
    def column(self) -> int | None:
        return None if self.span is None else self.span.column

    def render(self) -> str:
        """All diagnostics, each with its source excerpt when the text is known."""
        return "\n".join(d.render(self.text) for d in self.diagnostics)


def _excerpt(text: str, span: Span) -> list[str]:
    lines = text.split("\n")
    if not 1 <= span.line <= len(lines):
        return []
    line = lines[span.line - 1]
    shown = "".join(_printable(ch) for ch in line)
    start = min(span.column - 1, len(line))
    if span.end_line == span.line:
        width = max(1, min(span.end_column, len(line) + 1) - span.column)
    else:
        width = max(1, len(line) - start)
    # Show at most a window of a very long line, around the caret.
    window = 100
    if len(shown) > window:
        left = max(0, min(start - window // 2, len(shown) - window))
        shown = ("..." if left else "") + shown[left : left + window] + "..."
        start = start - left + (3 if left else 0)
        width = min(width, window)
    caret = " " * start + "^" + "~" * (width - 1)
    return ["    " + shown.rstrip(), "    " + caret]


def visible(text: str) -> str:
    """`text` with every unprintable character (a terminal escape, a bidi override, a
    newline) written as its Python escape, so that a message echoing a spec's text or
    a file's name shows what is there and cannot drive the terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _printable(ch: str) -> str:
    """Keep column alignment but never echo control or bidi characters raw."""
    if ch == "\t":
        return " "
    if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        return "\N{REPLACEMENT CHARACTER}"
    return ch
