"""Spec text -> syntax tree: the grammar's rules as frozen dataclasses.

The syntax tree keeps what the user wrote (number text, comments, argument
order) so that the formatter can print it back; meaning is assigned later by
`nndsl.check`. Parsing reports every syntax error it can recover from, each
with a position, and never lets a Lark exception escape.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, replace

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from nndsl.catalog import BLOCK_STATEMENTS
from nndsl.errors import Diagnostic, SpecError
from nndsl.resources import resource_dir
from nndsl.source import Span, check_spec_size, normalize_newlines
from nndsl.spellings import keyword_argument_hint, statement_hint
from nndsl.suggest import closest

#: Deeper nesting than this is not a hand-written spec (and would exhaust the stack).
MAX_NESTING = 32
#: Stop reporting after this many syntax errors; later ones are usually echoes.
MAX_SYNTAX_ERRORS = 20
#: Error recovery re-parses; it stops once it has read the text about this many times.
RECOVERY_BUDGET = 2

BLOCK_KEYWORDS = ("data", "model", "loss", "train")


# --- the syntax tree -------------------------------------------------------


@dataclass(frozen=True)
class Number:
    text: str
    span: Span


@dataclass(frozen=True)
class Name:
    text: str
    span: Span


@dataclass(frozen=True)
class Shape:
    """Sizes written with x, `8x8x1`: `dims` are the numbers."""

    text: str
    span: Span

    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.text.split("x"))


@dataclass(frozen=True)
class String:
    value: str
    raw: str  # as written, quotes and escapes included
    span: Span


@dataclass(frozen=True)
class Bool:
    value: bool
    span: Span


@dataclass(frozen=True)
class ListValue:
    items: tuple[Value, ...]
    span: Span


@dataclass(frozen=True)
class Keyword:
    key: Name
    value: Value
    span: Span


@dataclass(frozen=True)
class Call:
    name: Name
    args: tuple[Arg, ...]
    span: Span


Value = Number | Shape | Name | String | Bool | ListValue | Call
Arg = Value | Keyword


@dataclass(frozen=True)
class Statement:
    """`head arg arg key=value ...` inside a block, e.g. `dense 8 relu`."""

    head: Name
    args: tuple[Arg, ...]
    span: Span


@dataclass(frozen=True)
class Feature:
    """One input feature: `x1`, `x1^2`, `x1*x2`, `sin(x1)` or a quoted column name."""

    kind: str  # "name", "power", "product", "call" or "column"
    parts: tuple[str, ...]
    span: Span

    @property
    def text(self) -> str:
        if self.kind == "power":
            return f"{self.parts[0]}^{self.parts[1]}"
        if self.kind == "product":
            return f"{self.parts[0]}*{self.parts[1]}"
        if self.kind == "call":
            return f"{self.parts[0]}({self.parts[1]})"
        return self.parts[0]


@dataclass(frozen=True)
class Features:
    items: tuple[Feature, ...]
    span: Span


@dataclass(frozen=True)
class Residual:
    """`residual { … }` in a model, optionally followed by `shortcut { … }`: y = shortcut(x) + f(x),
    f the block's layers, the shortcut the identity where none is given."""

    head: Name  # `residual`
    args: tuple[Arg, ...]  # `name=…` of the add that joins the paths
    body: Body
    shortcut: Body | None
    span: Span


BlockStatement = Statement | Features | Residual


@dataclass(frozen=True)
class Body:
    statements: tuple[BlockStatement, ...]
    span: Span  # from '{' to '}'


@dataclass(frozen=True)
class DataBlock:
    source: Call | Name
    body: Body | None
    span: Span


@dataclass(frozen=True)
class ModelBlock:
    name: Name | None
    body: Body
    span: Span


@dataclass(frozen=True)
class LossBlock:
    value: Value
    span: Span


@dataclass(frozen=True)
class TrainBlock:
    body: Body
    span: Span


Block = DataBlock | ModelBlock | LossBlock | TrainBlock


@dataclass(frozen=True)
class Comment:
    text: str  # from '#' to the end of the line
    span: Span
    own_line: bool  # nothing but whitespace before it on its line


@dataclass(frozen=True)
class File:
    blocks: tuple[Block, ...]
    comments: tuple[Comment, ...]
    filename: str
    text: str


# --- parsing ----------------------------------------------------------------

_parser: Lark | None = None
_parser_lock = threading.Lock()


def grammar_parser() -> Lark:
    """The LALR parser for grammar/nndsl.lark, built once and then only read."""
    global _parser
    with _parser_lock:
        if _parser is None:
            grammar = (resource_dir("grammar") / "nndsl.lark").read_text(encoding="utf-8")
            _parser = Lark(
                grammar,
                parser="lalr",
                lexer="basic",  # keywords are reserved everywhere, never names
                propagate_positions=True,
                maybe_placeholders=False,
            )
        return _parser


_fragment_parser: Lark | None = None


def parse_fragment(text: str, rule: str, line: int, column: int) -> Value | Feature | None:
    """One value (`rule` 'value': a number, name, call, list, …) or input feature ('feature': x1^2,
    sin(x1)) written outside a spec, such as a command line's `--set`, read by the spec's own
    grammar; its spans say `line`:`column` where it starts. None if `text` is not one."""
    global _fragment_parser
    with _parser_lock:
        if _fragment_parser is None:
            grammar = (resource_dir("grammar") / "nndsl.lark").read_text(encoding="utf-8")
            _fragment_parser = Lark(grammar, parser="lalr", lexer="basic", propagate_positions=True,
                                    maybe_placeholders=False, start=["value", "feature"])
    depth = 0
    for ch in text:  # as in a spec (_scan): deeper nesting is no setting, and would exhaust the stack
        depth += ch in "([{"
        if depth > MAX_NESTING:
            return None
    try:
        tree = _fragment_parser.parse("\n" * (line - 1) + " " * (column - 1) + text, start=rule)
        return _feature(tree) if rule == "feature" else _value(tree)
    except (UnexpectedInput, SpecError):  # SpecError: a bad escape in a string
        return None


def parse_syntax(text: str, filename: str = "<spec>") -> File:
    """Parse spec text into a syntax tree, or raise `SpecError` with every syntax error found."""
    if not isinstance(text, str):
        raise TypeError(f"spec text must be str, got {type(text).__name__}")
    check_spec_size(text, filename)
    text = normalize_newlines(text)
    comments, scan_errors = _scan(text, filename)
    if scan_errors:
        raise SpecError(diagnostics=scan_errors, text=text)
    if not text.strip() or all(c.own_line for c in comments) and not _strip_comments(text, comments).strip():
        raise SpecError(
            "spec is empty; it needs at least a model block, e.g. 'model { input 2  dense 1 }'",
            filename=filename,
            span=Span.point(1, 1),
            text=text,
        )
    tree = _parse_with_recovery(text, filename)
    assert tree is not None
    try:
        blocks = tuple(_block(child) for child in tree.children)
    except SpecError as exc:  # a bad escape in a string
        diagnostics = [replace(d, filename=filename) for d in exc.diagnostics]
        raise SpecError(diagnostics=diagnostics, text=text) from None
    return File(blocks, tuple(comments), filename, text)


def _strip_comments(text: str, comments: list[Comment]) -> str:
    lines = text.split("\n")
    for comment in comments:
        row = comment.span.line - 1
        lines[row] = lines[row][: comment.span.column - 1]
    return "\n".join(lines)


_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}


def _scan(text: str, filename: str) -> tuple[list[Comment], list[Diagnostic]]:
    """Find comments and check bracket nesting before Lark sees the text.

    Lark's parser is iterative, but building the tree from a 10,000-deep list
    would not be; so nesting is limited here, with a position.
    """
    comments: list[Comment] = []
    stack: list[tuple[str, int, int]] = []
    line, column, i, n = 1, 1, 0, len(text)
    line_has_code = False
    while i < n:
        ch = text[i]
        if ch == "\n":
            line, column, i, line_has_code = line + 1, 1, i + 1, False
            continue
        if ch == "#":
            end = text.find("\n", i)
            end = n if end < 0 else end
            body = text[i:end]
            comments.append(Comment(body, Span(line, column, line, column + len(body)), not line_has_code))
            column += end - i
            i = end
            continue
        if not ch.isspace():
            line_has_code = True
        if ch in "\"'":
            j = i + 1
            while j < n and text[j] not in (ch, "\n"):
                j += 2 if text[j] == "\\" else 1
            j = min(j, n - 1) if j >= n else j
            step = j - i + (1 if j < n and text[j] == ch else 0)
            column += step
            i += step
            continue
        if ch in _OPENERS:
            stack.append((ch, line, column))
            if len(stack) > MAX_NESTING:
                return comments, [
                    Diagnostic(
                        "error",
                        f"brackets nested too deeply (more than {MAX_NESTING} levels)",
                        filename,
                        Span.point(line, column),
                    )
                ]
        elif ch in _CLOSERS:
            if stack and stack[-1][0] == _CLOSERS[ch]:
                stack.pop()
            # A stray closer is the parser's to report, in context.
        i += 1
        column += 1
    return comments, []


def _parse_with_recovery(text: str, filename: str) -> Tree:
    """Parse; on a syntax error, record it, skip the broken statement and go on.

    Recovery works on the text, not on Lark's state: the statement holding the
    error is blanked out (newlines kept, so positions stay true) up to the next
    line that starts a statement or a block, and the text is parsed again. A
    block that lacks its closing brace gets one at the end of the line before
    the next block. Each error is thus reported once, without echoes.
    """
    errors: list[Diagnostic] = []
    current = text
    # Each retry parses again from the start, up to the next error. Bound the
    # total so that a big spec with many errors stays linear: a few passes over
    # the text at most, whatever the number of errors.
    budget, spent = RECOVERY_BUDGET * len(text) + 100_000, 0
    while True:
        try:
            tree = grammar_parser().parse(current)
        except UnexpectedInput as exc:
            message, span = _describe_error(exc, current)
            errors.append(Diagnostic("error", message, filename, span))
            position = getattr(exc, "pos_in_stream", None)
            spent += position if isinstance(position, int) and position >= 0 else len(current)
            repaired = None if _at_end(exc) else _skip_broken_statement(current, exc)
            if repaired is None or len(errors) >= MAX_SYNTAX_ERRORS or spent > budget:
                break
            current = repaired
        else:
            if not errors:
                return tree
            break
    raise SpecError(diagnostics=errors, text=text)


_SYNC_WORDS = frozenset(BLOCK_KEYWORDS) | {word for words in BLOCK_STATEMENTS.values() for word in words} | {"shortcut"}


def _first_word(line: str) -> str:
    stripped = line.lstrip()
    if stripped.startswith("}"):
        return "}"
    word = []
    for ch in stripped:
        if not (ch.isalnum() or ch == "_"):
            break
        word.append(ch)
    return "".join(word)


def _skip_broken_statement(text: str, exc: UnexpectedInput) -> str | None:
    lines = text.split("\n")
    error_row = (getattr(exc, "line", 1) or 1) - 1
    token = getattr(exc, "token", None)
    if token is not None and _keyword_as_model_name(text, token, set(exc.expected)):
        # A keyword as the model's name: read it as a name and go on.
        row, column = token.line - 1, token.column - 1
        lines[row] = lines[row][:column] + "_" * len(token) + lines[row][column + len(token) :]
        return "\n".join(lines)
    starts_line = token is not None and token.column == len(lines[error_row]) - len(lines[error_row].lstrip()) + 1
    if token is not None and token.type in _BLOCK_STARTS and starts_line and error_row > 0:
        stack, _ = _open_brackets("\n".join(lines[:error_row]))
        if stack:  # a block (or a call, a list) left open: close it and go on
            closers = " " + " ".join(_OPENERS[ch] for ch, _, _ in reversed(stack)) + " "
            end = _code_end(lines[error_row - 1])
            lines[error_row - 1] = lines[error_row - 1][:end] + closers + lines[error_row - 1][end:]
            return "\n".join(lines)
    if token is not None and "LBRACE" in exc.expected and _is_statement_keyword(token) and error_row > 0:
        if starts_line:  # a block header without its '{': open the block and go on
            end = _code_end(lines[error_row - 1])
            lines[error_row - 1] = lines[error_row - 1][:end] + " { " + lines[error_row - 1][end:]
            return "\n".join(lines)
    if token is not None and set(exc.expected) <= _BLOCK_STARTS | {"$END"}:
        # Between blocks: drop the bad token and what follows it, up to the next block.
        _blank_from(lines, error_row, token.column - 1, frozenset(BLOCK_KEYWORDS))
        return "\n".join(lines)
    if starts_line and error_row > 0 and _first_word(lines[error_row]) in (_SYNC_WORDS | {"}"}):
        # A statement keyword (or '}') where a value was due: the statement
        # before it is unfinished (`init=` at the end of a line). Drop that one.
        start = error_row - 1
        while start > 0 and _first_word(lines[start]) not in _SYNC_WORDS:
            start -= 1
        # (A block keyword here, with no bracket open, means a block header above is unfinished.)
        if _first_word(lines[start]) not in BLOCK_KEYWORDS or token.type in _BLOCK_STARTS:
            for row in range(start, error_row):
                lines[row] = " " * len(lines[row])
            return "\n".join(lines)
    start = error_row
    while start > 0 and _first_word(lines[start]) not in _SYNC_WORDS:
        start -= 1
    if _first_word(lines[start]) in BLOCK_KEYWORDS:
        stops = frozenset(BLOCK_KEYWORDS)
    else:
        stops = _SYNC_WORDS | {"}"}
    end = start + 1
    while end < len(lines) and _first_word(lines[end]) not in stops:
        end += 1
    if end <= error_row:
        # The error lies past the statement found (a '$' after a '}'): drop from the error on instead.
        _blank_from(lines, error_row, (getattr(exc, "column", 1) or 1) - 1, stops)
        return "\n".join(lines)
    for row in range(start, end):
        lines[row] = " " * len(lines[row])
    return "\n".join(lines)


def _is_statement_keyword(token: Token) -> bool:
    return token.type.lower() in _SYNC_WORDS and token.type not in _BLOCK_STARTS


def _blank_from(lines: list[str], row: int, column: int, stops: frozenset[str]) -> None:
    """Blank `lines` from (row, column) up to the next line whose first word is in `stops`."""
    lines[row] = lines[row][:column] + " " * (len(lines[row]) - column)
    row += 1
    while row < len(lines) and _first_word(lines[row]) not in stops:
        lines[row] = " " * len(lines[row])
        row += 1


def _at_end(exc: UnexpectedInput) -> bool:
    return isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    )


_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "SHAPE": "a size such as 8x8x1",
    "STRING": "a string",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "EQUAL": "'='",
    "CIRCUMFLEX": "'^'",
    "STAR": "'*'",
}


def _terminal_text(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    if name == "$END":
        return "the end of the file"
    return f"'{name.lower()}'"


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type == "NAME":
        return f"name '{token}'"
    if token.type == "NUMBER":
        return f"number {token}"
    if token.type == "STRING":
        return "string " + (token if len(token) <= 40 else token[:37] + "...")
    if token.type in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[token.type]
    return f"keyword '{token}'"


def _describe_error(exc: UnexpectedInput, text: str) -> tuple[str, Span]:
    if isinstance(exc, UnexpectedCharacters):
        return _unexpected_character(exc, text)
    if isinstance(exc, UnexpectedToken):
        return _unexpected_token(exc, text)
    line = text.count("\n") + 1
    return "unexpected end of file", Span.point(line, len(text.split("\n")[-1]) + 1)


def _unexpected_character(exc: UnexpectedCharacters, text: str) -> tuple[str, Span]:
    ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
    span = Span.point(exc.line, exc.column)
    if ch in "\"'":
        return "unterminated string (strings end on the line they start)", span
    if ch and ord(ch) > 127 or unicodedata.category(ch or " ").startswith("C"):
        if unicodedata.category(ch) == "Cs":
            name = "a lone surrogate: half of a UTF-16 pair, not a character"
        else:
            name = unicodedata.name(ch, "unnamed character")
        return (
            f"unexpected character U+{ord(ch):04X} ({name}); "
            "names and keywords are ASCII letters, digits and '_'",
            span,
        )
    return f"unexpected character '{ch}'", span


_VALUE_STARTS = {"NAME", "NUMBER", "SHAPE", "STRING", "LSQB", "TRUE", "FALSE"}
_BLOCK_STARTS = {"DATA", "MODEL", "LOSS", "TRAIN"}


def _unexpected_token(exc: UnexpectedToken, text: str) -> tuple[str, Span]:
    token = exc.token
    expected = set(exc.expected)
    if token.type == "$END":
        opener = _unclosed_bracket(text)
        line = text.rstrip().count("\n") + 1
        last = text.rstrip().split("\n")[-1]
        span = Span.point(line, len(last) + 1)
        if opener:
            ch, ol, oc = opener
            return f"unexpected end of file: '{ch}' opened at {ol}:{oc} is never closed", span
        return f"unexpected end of file; expected {_expected_text(expected)}", span
    span = Span.of_token(token)
    keywords = sorted(e.lower() for e in expected if e.isalpha() and e not in _TERMINAL_WORDS)
    closers = ("RBRACE", "RPAR", "RSQB")
    missing = _missing_value(text, token)
    if missing is not None and expected & _VALUE_STARTS:
        return missing
    if token.type in closers and expected <= _VALUE_STARTS:
        return f"expected a value before {_describe_token(token)}", span
    if token.type in closers and expected <= _BLOCK_STARTS:
        return f"unmatched {_describe_token(token)}", span
    if token.type in closers and _unclosed_bracket(text[: _offset(text, token.line, token.column)], closer=str(token)):
        return f"unmatched {_describe_token(token)}", span
    if token.type in closers:
        opener = _unclosed_bracket(text[: _offset(text, token.line, token.column)])
        if opener and _OPENERS[opener[0]] != str(token):
            ch, ol, oc = opener
            return f"'{ch}' opened at {ol}:{oc} is not closed before {_describe_token(token)}", span
    if _keyword_as_model_name(text, token, expected):
        return f"'{token}' is a keyword and cannot be a model name; use another name, e.g. '{token}_model'", span
    line_text = text.split("\n")[token.line - 1]
    starts_line = not line_text[: token.column - 1].strip()
    opener = _unclosed_bracket(text[: _offset(text, token.line, token.column)]) if starts_line else None
    if "LBRACE" in expected and _is_statement_keyword(token):
        return f"missing '{{' before {_describe_token(token)}", span
    if token.type in _BLOCK_STARTS and opener:
        ch, ol, oc = opener
        if ch == "{":
            return f"missing '}}' before '{token}': the block opened at {ol}:{oc} is never closed", span
        return f"missing '{_OPENERS[ch]}' before '{token}': the '{ch}' opened at {ol}:{oc} is never closed", span
    if token.type not in _TERMINAL_WORDS and token.type != "$END" and expected & _VALUE_STARTS:
        before = text[: _offset(text, token.line, token.column)].rstrip()
        if re.search(r"\bname\s*=$", before) and str(token).isidentifier():  # a layer name: a string may say it
            return (f"'{token}' is a keyword and cannot be used as a name unquoted; "
                    f"write name=\"{token}\" (the layer keeps that name)"), span
        return f"'{token}' is a keyword and cannot be used as a value or a name here", span
    if token.type == "EQUAL":
        before = text.split("\n")[token.line - 1][: token.column - 1].rstrip()
        word = before.split()[-1] if before.split() else ""
        if word.lower() in _SYNC_WORDS:
            column = len(before) - len(word) + 1
            hint = keyword_argument_hint(word.lower(), _rest_of_line(text, token), before[: column - 1])
            return (f"'{word}' is a keyword and cannot name an argument{hint}",
                    Span(token.line, column, token.line, column + len(word)))
    if token.type == "NAME" and keywords:
        if set(keywords) >= set(BLOCK_KEYWORDS):
            return (
                f"unknown block '{token}'{_suggest(token, BLOCK_KEYWORDS)}; a spec is made of "
                "data, model, loss and train blocks",
                span,
            )
        statements = [k for k in keywords if k not in ("true", "false")]
        if statements:
            block = _enclosing_block(text, token)
            return f"unknown statement '{token}'{statement_hint(str(token), _rest_of_line(text, token), block)}", span
    return f"unexpected {_describe_token(token)}; expected {_expected_text(expected)}", span


def _rest_of_line(text: str, token: Token) -> str:
    """The code after `token` on its line (its comment left out)."""
    line = text.split("\n")[token.line - 1]
    return line[: _code_end(line)][token.column - 1 + len(token) :]


def _enclosing_block(text: str, token: Token) -> str | None:
    """data, model or train: the block whose '{' is open where `token` stands, if any."""
    offset = _offset(text, token.line, token.column)
    stack, _ = _open_brackets(text[:offset])
    braces = [(line, column) for ch, line, column in stack if ch == "{"]
    if not braces:
        return None
    line, column = braces[0]
    code = "\n".join(row[: _code_end(row)] for row in text.split("\n")[:line])
    head = re.sub(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'", "", code[: _offset(code, line, column)])
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", head)  # (strings left out: a path may say 'model')
    return next((word for word in reversed(words) if word in BLOCK_STATEMENTS), None)


def _keyword_as_model_name(text: str, token: Token, expected: set[str]) -> bool:
    """`model dense {`: a keyword where the model's name goes."""
    if token.type in _TERMINAL_WORDS or token.type == "$END" or not {"NAME", "LBRACE"} <= expected:
        return False
    offset = _offset(text, token.line, token.column)
    before = "\n".join(line[: _code_end(line)] for line in text[:offset].split("\n")).split()
    after = "\n".join(line[: _code_end(line)] for line in text[offset + len(token) :].split("\n")).lstrip()
    return bool(before) and before[-1] == "model" and after.startswith("{")


def _missing_value(text: str, token: Token) -> tuple[str, Span] | None:
    """A value left out: `key=` followed by a closing bracket or by the next
    line, or a keyword (`loss`, `epochs`) ending its line with nothing after it."""
    offset = _offset(text, token.line, token.column)
    code = "\n".join(line[: _code_end(line)].ljust(len(line)) for line in text[:offset].split("\n"))
    before = code.rstrip()
    next_line = "\n" in code[len(before) :]
    if before.endswith("="):
        if token.type not in ("RBRACE", "RPAR", "RSQB") and not next_line:
            return None  # `init=dense`: a value is there, just not a usable one
        key = before[:-1].rstrip()
        what = "{}="
    elif next_line and token.type not in _TERMINAL_WORDS:
        key = before  # the token is a keyword starting the next line
        what = "{}"
    else:
        return None
    start = len(key)
    while start > 0 and (key[start - 1].isalnum() or key[start - 1] == "_"):
        start -= 1
    word = key[start:]
    if not word or (what == "{}" and (word.lower() not in _SYNC_WORDS or word in ("model", "train"))):
        return None  # (after `model` comes a name or '{', after `train` a '{': not a value)
    line = before.count("\n") + 1
    column = (start if what == "{}" else len(before) - 1) - (before.rfind("\n") + 1) + 1
    width = len(word) if what == "{}" else 1
    return f"missing value after '{what.format(word)}'", Span(line, column, line, column + width)


def _offset(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    return sum(len(x) + 1 for x in lines[: line - 1]) + column - 1


def _suggest(token: str, choices) -> str:
    match = closest(str(token), choices)
    return f" (did you mean '{match}'?)" if match else ""


def _expected_text(expected: set[str]) -> str:
    words: list[str] = []
    if expected & _VALUE_STARTS:
        words.append("a value")
    if expected & _BLOCK_STARTS:
        words.append("a block (data, model, loss or train)")
    if any(e.lower() in _SYNC_WORDS and e not in _BLOCK_STARTS for e in expected):
        words.append("a statement")
    continuations = {"LPAR", "EQUAL"} if words else set()
    words += sorted(_TERMINAL_WORDS[e] for e in expected if e in _TERMINAL_WORDS and e not in _VALUE_STARTS and e not in continuations)
    if "$END" in expected:
        words.append("the end of the file")
    if not words:
        return "something else"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _unclosed_bracket(text: str, closer: str | None = None) -> tuple[str, int, int] | None:
    """The innermost bracket left open at the end of `text`.

    With `closer`, instead answer whether that closing bracket would be
    unmatched there (a truthy tuple) or not (None).
    """
    stack, (line, column) = _open_brackets(text)
    if closer is not None:
        if any(opener == _CLOSERS[closer] for opener, _, _ in stack):
            return None
        return (closer, line, column)
    return stack[-1] if stack else None


def _open_brackets(text: str) -> tuple[list[tuple[str, int, int]], tuple[int, int]]:
    """The brackets left open at the end of `text`, outermost first, and where the text ends."""
    stack: list[tuple[str, int, int]] = []
    line, column = 1, 1
    in_comment = False
    quote = ""
    for ch in text:
        if ch == "\n":
            line, column, in_comment, quote = line + 1, 1, False, ""
            continue
        if in_comment:
            pass
        elif quote:
            if ch == quote:
                quote = ""
        elif ch == "#":
            in_comment = True
        elif ch in "\"'":
            quote = ch
        elif ch in _OPENERS:
            stack.append((ch, line, column))
        elif ch in _CLOSERS and stack and stack[-1][0] == _CLOSERS[ch]:
            stack.pop()
        column += 1
    return stack, (line, column)


def _code_end(line: str) -> int:
    """Where the code of a line ends: at its comment, if it has one."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return i
    return len(line)


# --- parse tree -> syntax tree ----------------------------------------------


def _block(tree: Tree) -> Block:
    span = Span.of_meta(tree.meta)
    children = tree.children
    if tree.data == "data":
        source = _value(children[0])
        body = _body(children[1]) if len(children) > 1 else None
        return DataBlock(source, body, span)
    if tree.data == "model":
        name = _name(children[0]) if isinstance(children[0], Token) else None
        return ModelBlock(name, _body(children[-1]), span)
    if tree.data == "loss":
        return LossBlock(_value(children[0]), span)
    if tree.data == "train":
        return TrainBlock(_body(children[0]), span)
    raise AssertionError(f"unknown block rule {tree.data}")


def _body(tree: Tree) -> Body:
    statements: list[BlockStatement] = []
    for child in tree.children:
        if child.data == "features":
            items = tuple(_feature(f) for f in child.children)
            statements.append(Features(items, Span.of_meta(child.meta)))
        elif child.data == "residual":
            head, *rest = child.children
            shortcut = None
            if rest and isinstance(rest[-1], Tree) and rest[-1].data == "shortcut":
                shortcut = _body(rest.pop().children[0])
            body = _body(rest.pop())
            statements.append(Residual(_name(head), tuple(_arg(a) for a in rest), body, shortcut,
                                       Span.of_meta(child.meta)))
        else:
            head_tree, *args = child.children
            head = _name(head_tree.children[0])
            statements.append(Statement(head, tuple(_arg(a) for a in args), Span.of_meta(child.meta)))
    return Body(tuple(statements), Span.of_meta(tree.meta))


def _feature(tree: Tree) -> Feature:
    span = Span.of_meta(tree.meta)
    kind = tree.data.removeprefix("feature_")
    if kind == "column":
        return Feature("column", (_string(tree.children[0]).value,), span)
    return Feature(kind, tuple(str(t) for t in tree.children), span)


def _name(token: Token) -> Name:
    return Name(str(token), Span.of_token(token))


def _arg(tree: Tree | Token) -> Arg:
    if isinstance(tree, Tree) and tree.data == "kwarg":
        key, value = tree.children
        if isinstance(key, Tree):  # keyword_key: `seed=` inside parentheses
            key = key.children[0]
        if isinstance(value, Tree) and value.children and getattr(value.children[0], "type", "") == "LOSS":
            _keyword_after(str(key), value.children[0])
        return Keyword(_name(key), _value(value), Span.of_meta(tree.meta))
    return _value(tree)


def _keyword_after(key: str, token: Token) -> None:
    """The keyword `loss` after `=` is a name only in `monitor=loss` (the history key); anywhere
    else it is refused as any keyword is there."""
    if key == "monitor":
        return
    span = Span.of_token(token)
    if key == "name":
        raise SpecError(f"'{token}' is a keyword and cannot be used as a name unquoted; "
                        f"write name=\"{token}\" (the layer keeps that name)", span=span)
    raise SpecError(f"'{token}' is a keyword and cannot be used as a value or a name here", span=span)


def _value(tree: Tree | Token) -> Value:
    if isinstance(tree, Token):  # a bare source name: `data plane`
        return _name(tree)
    span = Span.of_meta(tree.meta)
    kind = tree.data
    if kind == "number":
        return Number(str(tree.children[0]), span)
    if kind == "shape":
        return Shape(str(tree.children[0]), span)
    if kind in ("name", "bare"):
        return _name(tree.children[0])
    if kind == "string":
        return _string(tree.children[0])
    if kind in ("true", "false"):
        return Bool(kind == "true", span)
    if kind == "list":
        return ListValue(tuple(_value(c) for c in tree.children), span)
    if kind == "call":
        name, *args = tree.children
        return Call(_name(name), tuple(_arg(a) for a in args), span)
    raise AssertionError(f"unknown value rule {kind}")


_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t"}


def _string(token: Token) -> String:
    raw = str(token)
    span = Span.of_token(token)
    out: list[str] = []
    body = raw[1:-1]
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            escaped = body[i + 1]
            if escaped not in _ESCAPES:
                column = span.column + 1 + i
                raise SpecError(
                    f"unknown escape '\\{escaped}' in string; use \\\\, \\\", \\', \\n or \\t",
                    span=Span(span.line, column, span.line, column + 2),
                )
            out.append(_ESCAPES[escaped])
            i += 2
        else:
            out.append(ch)
            i += 1
    return String("".join(out), raw, span)
