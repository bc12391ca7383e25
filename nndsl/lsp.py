"""`nndsl lsp`: a Language Server Protocol server over stdio, built on pygls (``nndsl[lsp]``).

What it offers an editor:

* diagnostics as you type: exactly what `nndsl check` reports (every error, its range, the
  did-you-mean hints; the warnings of a spec that checks), on open and on every change, and
  none once the spec is fixed;
* hover: on a layer, its output shape, parameters and formula as `nndsl summary` prints them;
  on an activation, loss, initializer, optimizer, metric, data set or block, its definition
  (nndsl/definitions.py);
* completion: the statements of the block at the cursor, activations, losses, optimizers and
  their arguments, initializers, metrics, features, data sets and their options;
* formatting (`nndsl fmt`), document symbols (blocks and their statements), and go-to-definition
  for layer names (`name=`, and each layer's default name).

The analysis below is plain Python on spec text, without pygls, so that tests and the benchmark
can call it; `make_server` wires it to pygls. Positions: nndsl counts lines and columns from 1,
in characters; LSP from 0, in the code units the client and server agreed on (UTF-16 unless the
client offers UTF-32 or UTF-8). Line ends are '\\n', '\\r\\n' and '\\r' for both.
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from nndsl import catalog, definitions
from nndsl.errors import Diagnostic, SpecError
from nndsl.source import Span, normalize_newlines

log = logging.getLogger("nndsl.lsp")


# --- analysis: the checker's results for one version of a document --------------------------


@dataclass
class Analysis:
    """One document version: its text, syntax tree and checked program (None where they failed),
    and the diagnostics `nndsl check` prints for it."""

    text: str
    filename: str
    syntax: object | None = None  # nndsl.syntax.File
    program: object | None = None  # nndsl.ir.Program
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")


def analyze(text: str, filename: str = "<spec>") -> Analysis:
    """Parse and check `text` as `nndsl check` does; never raises (a crash of the checker is a
    diagnostic that says so, and the traceback goes to the log)."""
    from nndsl.check import check
    from nndsl.source import decode_spec
    from nndsl.syntax import parse_syntax

    text = normalize_newlines(text)
    analysis = Analysis(text, filename)
    try:
        # As `nndsl check` reads a file: the size limit, a NUL, a byte-order mark; then parse and check.
        decoded = decode_spec(text.encode("utf-8", "surrogatepass"), filename)
        analysis.syntax = parse_syntax(decoded, filename)
        analysis.program = check(analysis.syntax)
        analysis.diagnostics = list(analysis.program.warnings)
    except SpecError as error:
        analysis.diagnostics = list(error.diagnostics)
    except Exception as error:  # a bug in nndsl: say so in the editor, keep serving
        log.exception("nndsl's checker crashed on %s", filename)
        analysis.diagnostics = [Diagnostic(
            "error", f"nndsl's checker crashed (a bug in nndsl; please report it): {type(error).__name__}: {error}",
            filename, Span.point(1, 1))]
    return analysis


def filename_of(uri: str) -> str:
    """The file system path of a file: URI (data paths resolve against its folder), else the URI."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        path = unquote(parsed.path)
        if sys.platform == "win32" and re.match(r"^/[A-Za-z]:", path):
            path = path[1:]
        return path
    return uri


# --- positions ------------------------------------------------------------------------------


def _units(text: str, encoding: str) -> int:
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def to_client(lines: list[str], line: int, column: int, encoding: str = "utf-16") -> tuple[int, int]:
    """nndsl's 1-based (line, column in characters) as LSP's 0-based (line, character in code units)."""
    row = min(max(line - 1, 0), max(len(lines) - 1, 0))
    text = lines[row] if lines else ""
    return row, _units(text[: max(column - 1, 0)], encoding)


def from_client(lines: list[str], line: int, character: int, encoding: str = "utf-16") -> tuple[int, int]:
    """LSP's (line, character in code units) as a 0-based (row, index into the line's characters)."""
    if not 0 <= line < len(lines):
        return line, 0
    text, units, index = lines[line], 0, 0
    while index < len(text) and units < character:
        units += _units(text[index], encoding)
        index += 1
    return line, index


def span_range(lines: list[str], span: Span | None, encoding: str = "utf-16") -> tuple[tuple[int, int], tuple[int, int]]:
    if span is None:
        return (0, 0), (0, 0)
    return to_client(lines, span.line, span.column, encoding), to_client(lines, span.end_line, span.end_column, encoding)


# --- words and context ----------------------------------------------------------------------

_TOKEN = re.compile(r"""(?P<comment>\#[^\n]*)|(?P<string>"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<other>\S)""")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def word_at(lines: list[str], row: int, index: int) -> tuple[str, int, int] | None:
    """The name under (row, index) — (word, start, end) in the line — outside comments and strings."""
    if not 0 <= row < len(lines):
        return None
    for match in _TOKEN.finditer(lines[row]):
        if match.start() <= index <= match.end() and match.lastgroup == "word":
            return match.group(), match.start(), match.end()
        if match.start() > index:
            break
    return None


def _code_before(text: str) -> list[tuple[str, str]]:
    """(kind, text) of each token in `text`, comments dropped."""
    return [(m.lastgroup, m.group()) for m in _TOKEN.finditer(text) if m.lastgroup != "comment"]


@dataclass
class Context:
    """Where the cursor is: the block, the statement (its head word), the call and keyword it is in."""

    block: str | None  # data, model, loss, train; None between blocks
    statement: str | None  # the statement's first word; None where a statement (or block) starts
    call: str | None = None  # the name before the innermost open '('
    keyword: str | None = None  # `key=` right before the cursor
    after: str | None = None  # the word before the cursor's word, in the statement
    data_source: bool = False  # right after `data`


def context_at(text: str, offset: int) -> Context:
    """The context of the cursor at `offset` (characters into the normalised text)."""
    before = text[:offset]
    # The word being typed does not count.
    before = before[: len(before) - len(re.search(r"[A-Za-z0-9_]*$", before).group())]
    tokens = _code_before(before)
    block, depth, statement_start = None, 0, 0
    for i, (kind, value) in enumerate(tokens):
        if kind == "word" and depth == 0 and value in ("data", "model", "loss", "train"):
            block, statement_start = value, i
        elif value == "{":
            depth += 1
            if depth == 1:
                statement_start = i + 1
        elif value == "}":
            depth = max(0, depth - 1)
            if depth == 0:
                block, statement_start = None, i + 1
    at_line_start = before.rsplit("\n", 1)[-1].strip() == ""
    inside_body = depth >= 1
    if block in ("model", "data", "train") and inside_body:
        statements = catalog.BLOCK_STATEMENTS[block]
        if at_line_start:  # a bare name starting a line is a statement keyword
            return Context(block, None)
        # The statement is the last statement keyword in this body (keywords are reserved words).
        for i in range(len(tokens) - 1, statement_start - 1, -1):
            kind, value = tokens[i]
            if kind == "word" and value in statements:
                return _statement_context(block, tokens[i:])
        return Context(block, None)
    if block == "loss" and not inside_body:
        rest = tokens[statement_start:]
        if len(rest) > 1 and at_line_start:  # `loss mse` done: the next block
            return Context(None, None)
        return Context("loss", "loss")
    if block == "data" and not inside_body:
        rest = tokens[statement_start:]
        if len(rest) == 1:
            return Context("data", "data", data_source=True)
        context = _statement_context("data", rest)
        return context if context.call else Context(None, None)
    if block == "model" and not inside_body:
        return Context("model", "model")
    return Context(block if inside_body else None, None)


def _statement_context(block: str, tokens: list[tuple[str, str]]) -> Context:
    head = tokens[0][1]
    calls: list[str | None] = []
    previous = None
    for kind, value in tokens[1:]:
        if value == "(":
            calls.append(previous)
        elif value == ")" and calls:
            calls.pop()
        previous = value if kind == "word" else None
    keyword = None
    if len(tokens) >= 2 and tokens[-1][1] == "=" and tokens[-2][0] == "word":
        keyword = tokens[-2][1]
    after = tokens[-1][1] if len(tokens) > 1 and tokens[-1][0] == "word" else None
    return Context(block, head, calls[-1] if calls else None, keyword, after)


# --- completion -----------------------------------------------------------------------------

#: (label, kind, detail) — kind one of: keyword, function, value, property, variable
Completion = tuple[str, str, str]

_VALUES_OF_KEYWORD = {
    "padding": ("valid", "same"),
    "trainable": ("true", "false"),
    "nesterov": ("true", "false"),
    "color": ("grayscale", "rgb"),
}


def _named(table: dict[str, str], kind: str) -> list[Completion]:
    return [(name, kind, text) for name, text in table.items()]


def completions(text: str, offset: int) -> list[Completion]:
    """What may be written at `offset`."""
    context = context_at(text, offset)
    if context.keyword is not None:
        if context.keyword == "init":
            return _named(definitions.INITIALIZERS, "function")
        values = _VALUES_OF_KEYWORD.get(context.keyword)
        return [(value, "value", f"{context.keyword}={value}") for value in values] if values else []
    if context.call is not None:
        if context.call in catalog.OPTIMIZERS:
            return [(f"{name}=", "property", f"{definitions.OPTIMIZER_ARGUMENTS.get(name, '')} (default {default})")
                    for name, default in catalog.OPTIMIZERS[context.call].items()]
        if context.call in definitions.DATA_OPTIONS:
            return [(f"{name}=", "property", f"an option of {context.call}")
                    for name in definitions.DATA_OPTIONS[context.call]]
        return []
    if context.block is None:
        return _named(definitions.BLOCKS, "keyword")
    if context.data_source:
        return _named(definitions.DATA_SOURCES, "function")
    if context.statement is None:
        if context.block in catalog.BLOCK_STATEMENTS:
            return [(word, "keyword", f"a statement of the {context.block} block")
                    for word in catalog.BLOCK_STATEMENTS[context.block]]
        return []
    head = context.statement
    if head == "loss":
        return _named(definitions.LOSSES, "value")
    if head == "optimizer":
        return _named(definitions.OPTIMIZERS, "function")
    if head == "metrics":
        return _named(definitions.METRICS, "value")
    if head == "features":
        return [(name, "value", "a Playground input feature") for name in catalog.PLAYGROUND_FEATURES]
    if head == "normalize":
        return [(name, "value", f"shift by the {shift}, divide by the {scale} of the training rows")
                for name, (shift, scale) in catalog.NORMALIZE_METHODS.items()]
    if head == "regularizer":
        return _named(definitions.REGULARIZERS, "function")
    if head == "activation":
        return _named(definitions.ACTIVATIONS, "function")
    items: list[Completion] = []
    if head in ("dense", "conv2d"):
        items += _named(definitions.ACTIVATIONS, "function")
    if head == "dense":
        items += _named(definitions.REGULARIZERS, "function")
    items += [(f"{name}=", "property", f"an argument of {head}") for name in definitions.STATEMENT_KEYWORDS.get(head, ())]
    return items


# --- hover ----------------------------------------------------------------------------------


def _statement_at(analysis: Analysis, line: int, column: int):
    """The syntax tree's statement (in any block body) that holds 1-based (line, column), and its block kind."""
    if analysis.syntax is None:
        return None, None
    for block in analysis.syntax.blocks:
        body = getattr(block, "body", None)
        if body is None:
            continue
        for statement in body.statements:
            if _contains(statement.span, line, column):
                return statement, type(block).__name__
    return None, None


def _contains(span: Span, line: int, column: int) -> bool:
    return (span.line, span.column) <= (line, column) <= (span.end_line, span.end_column)


def layer_at(analysis: Analysis, line: int, column: int):
    """The checked IR layer whose statement holds 1-based (line, column), or None."""
    if analysis.program is None:
        return None
    for layer in analysis.program.model.layers:
        if _contains(layer.span, line, column):
            return layer
    return None


def layer_hover(analysis: Analysis, layer) -> str:
    """What `nndsl summary` prints for the layer: name (type), output shape, parameters, formula."""
    from nndsl.summary import summarize

    for row in summarize(analysis.program).layers:
        if row.name == layer.name:
            shape = "(" + ", ".join("None" if d is None else str(d) for d in row.output_shape) + ")"
            frozen = "" if row.trainable else " (frozen)"
            lines = [f"**{row.name}** ({row.type}): output shape {shape}, {row.params:,} parameters{frozen}"]
            if row.formula:
                lines.append(f"`{row.formula}`")
            return "\n\n".join(lines)
    return f"**{layer.name}**"


def hover_text(analysis: Analysis, row: int, index: int) -> str | None:
    """Markdown for a hover at 0-based (row, character index), or None."""
    found = word_at(analysis.lines, row, index)
    if found is None:
        return None
    word, start, _ = found
    line, column = row + 1, start + 1
    statement, _ = _statement_at(analysis, line, column)
    is_head = statement is not None and (statement.span.line, statement.span.column) == (line, column)
    names = layer_definitions(analysis)
    if is_head or word in names:
        layer = layer_at(analysis, line, column) if is_head else _layer_named(analysis, word)
        if layer is not None:
            return layer_hover(analysis, layer)
        if is_head and word == "input" and analysis.program is not None:
            shape = analysis.program.model.in_shape
            return f"**input**: {'x'.join(map(str, shape))} ({'an image' if len(shape) == 3 else 'features'})"
        if is_head and analysis.program is None and word in catalog.BLOCK_STATEMENTS["model"]:
            return f"**{word}**: the spec has errors; its shape and parameters show once it checks"
    meaning = definitions.definition(word)
    if meaning is not None:
        kind, text = meaning
        return f"**{word}** ({kind}): {text}"
    return None


def _layer_named(analysis: Analysis, name: str):
    if analysis.program is None:
        return None
    for layer in analysis.program.model.layers:
        if layer.name == name:
            return layer
    return None


# --- names: go to definition --------------------------------------------------------------------


def layer_definitions(analysis: Analysis) -> dict[str, Span]:
    """Where each layer name is defined: the value of an explicit `name=`, else (for a default
    name like dense_1, in a spec that checks) the layer's statement keyword. References to layers
    (`from=`, `add a, b`, `concat a, b`) resolve through this."""
    from nndsl import syntax as s

    found: dict[str, Span] = {}
    if analysis.syntax is None:
        return found
    heads: dict[tuple[int, int], Span] = {}
    for block in analysis.syntax.blocks:
        if not isinstance(block, s.ModelBlock):
            continue
        for statement in _statements(block.body):
            heads[(statement.span.line, statement.span.column)] = statement.head.span
            for arg in statement.args:
                if isinstance(arg, s.Keyword) and arg.key.text == "name" and isinstance(arg.value, (s.Name, s.String)):
                    text = arg.value.text if isinstance(arg.value, s.Name) else arg.value.value
                    found.setdefault(text, arg.value.span)
    if analysis.program is not None:
        for layer in analysis.program.model.layers:
            head = heads.get((layer.span.line, layer.span.column))
            if head is not None:
                found.setdefault(layer.name, head)
    return found


def _statements(body):
    """Statements of a body, and of the bodies nested in it: `residual { … } shortcut { … }`."""
    for statement in getattr(body, "statements", ()):
        yield statement
        for inner in (getattr(statement, "body", None), getattr(statement, "shortcut", None)):
            if inner is not None:
                yield from _statements(inner)


def definition_at(analysis: Analysis, row: int, index: int) -> Span | None:
    found = word_at(analysis.lines, row, index)
    if found is None:
        return None
    return layer_definitions(analysis).get(found[0])


# --- symbols ----------------------------------------------------------------------------------


@dataclass
class Symbol:
    name: str
    detail: str
    kind: str  # block, layer, setting
    span: Span
    selection: Span
    children: list[Symbol] = field(default_factory=list)


def document_symbols(analysis: Analysis) -> list[Symbol]:
    from nndsl import fmt
    from nndsl import syntax as s

    if analysis.syntax is None:
        return []
    names = {(layer.span.line, layer.span.column): layer.name
             for layer in (analysis.program.model.layers if analysis.program is not None else ())}
    symbols = []
    for block in analysis.syntax.blocks:
        header = Span(block.span.line, block.span.column, block.span.line, block.span.column + 1)
        if isinstance(block, s.DataBlock):
            source = block.source.name.text
            symbol = Symbol(f"data {source}", "data", "block", block.span, block.source.name.span)
        elif isinstance(block, s.ModelBlock):
            title = f"model {block.name.text}" if block.name else "model"
            symbol = Symbol(title, "model", "block", block.span, block.name.span if block.name else header)
        elif isinstance(block, s.LossBlock):
            symbol = Symbol(f"loss {fmt.value(block.value)}", "loss", "block", block.span, block.value.span)
        else:
            symbol = Symbol("train", "train", "block", block.span, header)
        for statement in getattr(getattr(block, "body", None), "statements", ()):
            text = fmt._statement(statement)
            if isinstance(block, s.ModelBlock):
                name = names.get((statement.span.line, statement.span.column))
                symbol.children.append(Symbol(name or text.split()[0], text, "layer", statement.span,
                                              getattr(statement, "head", statement).span))
            else:
                head = getattr(statement, "head", None)
                symbol.children.append(Symbol(head.text if head else text.split()[0], text, "setting",
                                              statement.span, head.span if head else statement.span))
        symbols.append(symbol)
    return symbols


# --- formatting -------------------------------------------------------------------------------


def formatted(analysis: Analysis) -> str | None:
    """The canonical text (`nndsl fmt`), or None for a spec that does not parse."""
    from nndsl.fmt import format_text

    try:
        return format_text(analysis.text, analysis.filename)
    except SpecError:
        return None


# --- the server -------------------------------------------------------------------------------


def make_server():
    """The pygls LanguageServer, its features registered."""
    from lsprotocol import types as t
    from pygls.exceptions import JsonRpcException
    from pygls.lsp.server import LanguageServer
    from pygls.protocol import LanguageServerProtocol

    from nndsl import __version__

    class AnsweringProtocol(LanguageServerProtocol):
        """pygls logs a request whose params do not fit the method's types and drops it, so the
        client waits for ever; here it gets its error (InvalidParams), as JSON-RPC says."""

        def structure_message(self, data):
            try:
                return super().structure_message(data)
            except JsonRpcException as error:
                if isinstance(data, dict) and "jsonrpc" in data and "method" in data and "id" in data:
                    self._send_response(data["id"], None, t.ResponseError(code=error.code, message=error.message))
                raise

    server = LanguageServer("nndsl", __version__, text_document_sync_kind=t.TextDocumentSyncKind.Incremental,
                            protocol_cls=AnsweringProtocol)
    analyses: dict[str, Analysis] = {}
    severities = {"error": t.DiagnosticSeverity.Error, "warning": t.DiagnosticSeverity.Warning}
    completion_kinds = {"keyword": t.CompletionItemKind.Keyword, "function": t.CompletionItemKind.Function,
                        "value": t.CompletionItemKind.Value, "property": t.CompletionItemKind.Property}
    symbol_kinds = {"block": t.SymbolKind.Module, "layer": t.SymbolKind.Field, "setting": t.SymbolKind.Property}

    def encoding(ls) -> str:
        return str(getattr(ls.workspace.position_codec, "encoding", "utf-16"))

    def to_range(ls, lines, span) -> t.Range:
        start, end = span_range(lines, span, encoding(ls))
        return t.Range(t.Position(*start), t.Position(*end))

    def current(ls, uri: str) -> Analysis:
        document = ls.workspace.get_text_document(uri)
        analysis = analyses.get(uri)
        if analysis is None or analysis.text != normalize_newlines(document.source):
            analysis = analyses[uri] = analyze(document.source, filename_of(uri))
        return analysis

    def publish(ls, uri: str) -> None:
        document = ls.workspace.get_text_document(uri)
        analysis = analyses[uri] = analyze(document.source, filename_of(uri))
        lines = analysis.lines
        diagnostics = [t.Diagnostic(range=to_range(ls, lines, d.span), message=d.message,
                                    severity=severities.get(d.severity, t.DiagnosticSeverity.Error), source="nndsl")
                       for d in analysis.diagnostics]
        ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics,
                                                                        version=document.version))

    def cursor(ls, analysis: Analysis, position: t.Position) -> tuple[int, int]:
        return from_client(analysis.lines, position.line, position.character, encoding(ls))

    @server.feature(t.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls, params: t.DidOpenTextDocumentParams) -> None:
        publish(ls, params.text_document.uri)

    @server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls, params: t.DidChangeTextDocumentParams) -> None:
        publish(ls, params.text_document.uri)

    @server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls, params: t.DidCloseTextDocumentParams) -> None:
        analyses.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    @server.feature(t.TEXT_DOCUMENT_HOVER)
    def hover(ls, params: t.HoverParams) -> t.Hover | None:
        analysis = current(ls, params.text_document.uri)
        text = hover_text(analysis, *cursor(ls, analysis, params.position))
        if text is None:
            return None
        return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value=text))

    @server.feature(t.TEXT_DOCUMENT_COMPLETION, t.CompletionOptions(trigger_characters=[" ", "(", "=", ","]))
    def completion(ls, params: t.CompletionParams) -> t.CompletionList:
        analysis = current(ls, params.text_document.uri)
        row, index = cursor(ls, analysis, params.position)
        offset = sum(len(line) + 1 for line in analysis.lines[:row]) + index
        items = [t.CompletionItem(label=label, kind=completion_kinds.get(kind), detail=detail)
                 for label, kind, detail in completions(analysis.text, offset)]
        return t.CompletionList(is_incomplete=False, items=items)

    @server.feature(t.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls, params: t.DocumentFormattingParams) -> list[t.TextEdit] | None:
        document = ls.workspace.get_text_document(params.text_document.uri)
        analysis = current(ls, params.text_document.uri)
        new = formatted(analysis)
        if new is None or new == document.source:
            return None if new is None else []
        lines = analysis.lines
        end = t.Position(len(lines) - 1, _units(lines[-1], encoding(ls)))
        return [t.TextEdit(range=t.Range(t.Position(0, 0), end), new_text=new)]

    @server.feature(t.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def symbols(ls, params: t.DocumentSymbolParams) -> list[t.DocumentSymbol]:
        analysis = current(ls, params.text_document.uri)
        lines = analysis.lines

        def convert(symbol: Symbol) -> t.DocumentSymbol:
            return t.DocumentSymbol(name=symbol.name, detail=symbol.detail, kind=symbol_kinds[symbol.kind],
                                    range=to_range(ls, lines, symbol.span),
                                    selection_range=to_range(ls, lines, symbol.selection),
                                    children=[convert(child) for child in symbol.children])

        return [convert(symbol) for symbol in document_symbols(analysis)]

    @server.feature(t.TEXT_DOCUMENT_DEFINITION)
    def definition(ls, params: t.DefinitionParams) -> t.Location | None:
        analysis = current(ls, params.text_document.uri)
        span = definition_at(analysis, *cursor(ls, analysis, params.position))
        if span is None:
            return None
        return t.Location(uri=params.text_document.uri, range=to_range(ls, analysis.lines, span))

    return server


def main() -> int:
    """Serve on stdin/stdout until the client says exit."""
    try:
        server = make_server()
    except ImportError as error:
        print(f"nndsl lsp: error: the language server needs pygls ({error.name or error} is not installed): "
              "pip install 'nndsl[lsp]'", file=sys.stderr)
        return 1
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="nndsl lsp: %(levelname)s: %(message)s")
    server.start_io()
    return 0
