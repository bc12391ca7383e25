"""Spec text and positions in it.

A `Span` is where a piece of a spec came from: lines and columns start at 1,
as a compiler prints them, and `end_column` is one past the last character.
`read_spec` turns a path into text, or into a `SpecError` that says why not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from nndsl.errors import SpecError

#: Spec files are hand-written; anything bigger is not a spec.
MAX_SPEC_BYTES = 1 << 20


@dataclass(frozen=True, order=True)
class Span:
    """A region of a spec: 1-based lines and columns, `end_column` exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int

    def __post_init__(self) -> None:
        if self.line < 1 or self.column < 1:
            raise ValueError(f"spans start at 1:1, got {self.line}:{self.column}")

    @classmethod
    def point(cls, line: int, column: int) -> Span:
        return cls(line, column, line, column + 1)

    @classmethod
    def of_meta(cls, meta) -> Span:
        """The span of a Lark tree (its `meta`, with `propagate_positions=True`)."""
        return cls(meta.line, meta.column, meta.end_line, meta.end_column)

    @classmethod
    def of_token(cls, token) -> Span:
        return cls(token.line, token.column, token.end_line, token.end_column)

    def to(self, other: Span) -> Span:
        """The span from the start of `self` to the end of `other`."""
        return Span(self.line, self.column, other.end_line, other.end_column)

    def contains(self, other: Span) -> bool:
        """Whether `other` lies within this span."""
        return (self.line, self.column) <= (other.line, other.column) and (
            (other.end_line, other.end_column) <= (self.end_line, self.end_column))

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


def decode_spec(data: bytes, filename: str) -> str:
    """Decode spec bytes as UTF-8 text, or raise a `SpecError` pointing at the bad byte."""
    if len(data) > MAX_SPEC_BYTES:
        line, column = _position_of(data, MAX_SPEC_BYTES)  # where the limit is passed
        raise SpecError(
            f"spec file is too large (more than {MAX_SPEC_BYTES:,} bytes, the limit; it passes it here)",
            filename=filename,
            span=Span.point(line, column),
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    nul = data.find(b"\0")
    try:
        text = (data[:nul] if nul >= 0 else data).decode("utf-8")  # report whichever problem comes first
    except UnicodeDecodeError as exc:
        line, column = _position_of(data, exc.start)
        raise SpecError(
            f"spec is not valid UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); is this a binary file?",
            filename=filename,
            span=Span.point(line, column),
        ) from None
    if nul >= 0:
        line, column = _position_of(data, nul)
        raise SpecError(
            "spec contains a NUL byte; is this a binary file?",
            filename=filename,
            span=Span.point(line, column),
        )
    return normalize_newlines(text)


def normalize_newlines(text: str) -> str:
    """`text` with every line end as '\\n'. Lines end where editors end them: at '\\r\\n'
    (Windows), '\\n' (Unix) and a lone '\\r' (classic Mac OS), so positions count lines
    as an editor shows them."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def check_spec_size(text: str, filename: str) -> None:
    """Spec text handed over as a string (`nndsl.parse`) has the file limit too."""
    if len(text) <= MAX_SPEC_BYTES // 4:  # at most 4 bytes a character: surely within the limit
        return
    data = text.encode("utf-8", "surrogatepass")
    if len(data) > MAX_SPEC_BYTES:
        decode_spec(data[: MAX_SPEC_BYTES + 1], filename)  # raises, positioned


def read_spec(path: str | os.PathLike) -> tuple[str, str]:
    """Read a spec file; return `(text, filename)` or raise a `SpecError`."""
    filename = os.fspath(path)
    file = Path(filename)
    try:
        if file.is_dir():
            raise SpecError("is a directory, not a spec file", filename=filename)
        with open(file, "rb") as stream:
            data = stream.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise SpecError("no such file", filename=filename) from None
    except PermissionError:
        raise SpecError("permission denied", filename=filename) from None
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", filename=filename) from None
    return decode_spec(data, filename), filename


def _position_of(data: bytes, offset: int) -> tuple[int, int]:
    before = data[:offset].replace(b"\r\n", b"\n").replace(b"\r", b"\n")  # line ends as editors count them
    line = before.count(b"\n") + 1
    line_start = before.rfind(b"\n") + 1
    column = len(before[line_start:].decode("utf-8", "replace")) + 1  # in characters, as everywhere
    return line, column
