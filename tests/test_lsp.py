"""`nndsl lsp`, driven by a real LSP client (pytest-lsp) over the stdio of a real `python -m nndsl lsp`
subprocess: open, change, hover, complete, format, symbols, definition, shut down; a malformed
request and a crashing checker. The analysis under it (nndsl.lsp without pygls) is tested directly
where a table of cases is clearer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as t
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

import nndsl
from nndsl import catalog, definitions, lsp
from nndsl.source import normalize_newlines
from tests.golden import ROOT, SPECS

BAD_SPECS = sorted((ROOT / "tests" / "bad_specs").glob("*.nn"))
SERVER = [sys.executable, "-m", "nndsl", "lsp"]
#: The same server, with a checker that crashes on every spec (a bug in nndsl, simulated).
CRASHING = [sys.executable, "-c",
            "import nndsl.check, nndsl.lsp; nndsl.check.check = lambda file: 1 / 0; raise SystemExit(nndsl.lsp.main())"]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))

async def start(lsp_client: LanguageClient) -> None:
    await lsp_client.initialize_session(t.InitializeParams(
        capabilities=pytest_lsp.client_capabilities("visual-studio-code"), root_uri=ROOT.as_uri()))


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, server_env=ENV))
async def client(lsp_client: LanguageClient):
    await start(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=CRASHING, server_env=ENV))
async def crashing(lsp_client: LanguageClient):
    await start(lsp_client)
    yield
    await lsp_client.shutdown_session()


async def published(client: LanguageClient, uri: str, version: int | None = None) -> list[t.Diagnostic]:
    """The next diagnostics published for `uri` (of `version`, if given)."""
    while True:
        params = await client.wait_for_notification(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if params.uri == uri and (version is None or params.version == version):
            return list(params.diagnostics)


async def open_text(client: LanguageClient, text: str, name: str = "spec.nn", version: int = 1) -> tuple[str, list]:
    uri = (ROOT / "specs" / name).as_uri()
    client.text_document_did_open(t.DidOpenTextDocumentParams(
        t.TextDocumentItem(uri=uri, language_id="nndsl", version=version, text=text)))
    return uri, await published(client, uri, version)


async def change(client: LanguageClient, uri: str, version: int, text: str, range_: t.Range | None = None) -> list:
    event = (t.TextDocumentContentChangeWholeDocument(text=text) if range_ is None
             else t.TextDocumentContentChangePartial(range=range_, text=text))
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        t.VersionedTextDocumentIdentifier(uri=uri, version=version), [event]))
    return await published(client, uri, version)


def as_check(diagnostic: t.Diagnostic) -> tuple:
    return (diagnostic.message, diagnostic.range.start.line + 1, diagnostic.range.start.character + 1,
            diagnostic.range.end.line + 1, diagnostic.range.end.character + 1,
            "error" if diagnostic.severity == t.DiagnosticSeverity.Error else "warning")


def check_says(path: Path) -> list[tuple]:
    """What `nndsl check` reports for the file, as (message, line, column, end line, end column, severity);
    an end past its line's end is the line's end, as LSP has it."""
    try:
        found = list(nndsl.load(path).warnings)
    except nndsl.SpecError as error:
        found = list(error.diagnostics)
    lines = normalize_newlines(path.read_text(encoding="utf-8")).split("\n")
    return [(d.message, d.span.line, d.span.column, d.span.end_line,
             min(d.span.end_column, len(lines[d.span.end_line - 1]) + 1), d.severity) if d.span
            else (d.message, 1, 1, 1, 1, d.severity) for d in found]


def readable(path: Path) -> str | None:
    """The file as an editor would hold it: text, if it is UTF-8 (an editor cannot send the others)."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None


# --- diagnostics ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_diagnostics_are_what_nndsl_check_reports_for_every_bad_and_example_spec(client: LanguageClient):
    cases = [path for path in BAD_SPECS + SPECS if readable(path) is not None]
    assert len(cases) > 70
    for path in cases:
        uri, diagnostics = await open_text(client, readable(path), path.name)
        assert [as_check(d) for d in diagnostics] == check_says(path), path.name
        assert all(d.source == "nndsl" for d in diagnostics)
        client.text_document_did_close(t.DidCloseTextDocumentParams(t.TextDocumentIdentifier(uri)))
        assert await published(client, uri) == []  # closed: its diagnostics go


@pytest.mark.asyncio
async def test_the_command_line_prints_the_same_positions_and_messages(client: LanguageClient, tmp_path):
    text = (ROOT / "README.md").read_text(encoding="utf-8").split("$ cat bad.nn\n", 1)[1].split("$ nndsl", 1)[0]
    _, diagnostics = await open_text(client, text, "bad.nn")
    (tmp_path / "bad.nn").write_text(text, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "nndsl", "check", "bad.nn"], cwd=tmp_path, env=ENV,
                          capture_output=True, text=True)
    headers = [line for line in done.stderr.splitlines() if line.startswith("bad.nn:")]
    assert headers == [f"bad.nn:{d.range.start.line + 1}:{d.range.start.character + 1}: error: {d.message}"
                       for d in diagnostics]
    assert len(headers) == 2 and "(did you mean 'relu'?)" in headers[0]


@pytest.mark.asyncio
async def test_diagnostics_follow_each_change_and_clear_when_fixed(client: LanguageClient):
    good = (ROOT / "specs" / "checkerboard.nn").read_text(encoding="utf-8")
    bad = good.replace("dense 8 relu", "dense 8 rleu").replace("epochs 200", "epochs -1")
    uri, first = await open_text(client, bad)
    assert [d.message.split(" (")[0] for d in first] == ["unknown activation 'rleu'", first[1].message.split(" (")[0]]
    assert "epochs" in first[1].message
    assert await change(client, uri, 2, good) == []
    # An incremental change: 'relu' → 'rel' on its line, then back.
    row = next(i for i, line in enumerate(good.split("\n")) if line.startswith("    dense 8 relu"))
    edit = t.Range(t.Position(row, 14), t.Position(row, 16))
    (only,) = await change(client, uri, 3, "l", edit)
    assert only.message == "unknown activation 'rel' (did you mean 'relu'?)"
    assert (only.range.start.line, only.range.start.character, only.range.end.character) == (row, 12, 15)
    assert await change(client, uri, 4, "lu", t.Range(t.Position(row, 14), t.Position(row, 15))) == []


@pytest.mark.asyncio
async def test_positions_count_utf16_code_units(client: LanguageClient):
    # '𝑥' is one character, two UTF-16 code units: the error after it starts one unit later than its column.
    text = 'data csv("𝑥.csv", target=y, sed=1)\nmodel { input 2  dense 1 name="𝑥𝑥" }  loss mse\n'
    _, (diagnostic, *_) = await open_text(client, text)
    column = text.index("sed")  # 0-based, in characters
    assert diagnostic.message.startswith("unknown argument 'sed' for csv (did you mean 'seed'?)")
    assert (diagnostic.range.start.line, diagnostic.range.start.character) == (0, column + 1)
    second = text.split("\n")[1]
    hover = await client.text_document_hover_async(t.HoverParams(
        t.TextDocumentIdentifier((ROOT / "specs" / "spec.nn").as_uri()), t.Position(1, second.index("mse") + 2)))
    assert hover is not None and hover.contents.value.startswith("**mse** (loss)")


# --- hover, completion, formatting, symbols, definition ----------------------------------------


async def hover_at(client: LanguageClient, uri: str, text: str, needle: str, offset: int = 0) -> str | None:
    before = text[: text.index(needle) + offset]
    position = t.Position(before.count("\n"), len(before.rsplit("\n", 1)[-1]))
    hover = await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(uri), position))
    return None if hover is None else hover.contents.value


@pytest.mark.asyncio
async def test_hover_shows_a_layer_as_nndsl_summary_does_and_what_words_mean(client: LanguageClient):
    text = (ROOT / "specs" / "spiral3.nn").read_text(encoding="utf-8")
    uri, _ = await open_text(client, text, "spiral3.nn")
    summary = nndsl.summary(nndsl.load(ROOT / "specs" / "spiral3.nn"))
    layer = summary.layers[0]
    shown = await hover_at(client, uri, text, "dense 32 relu\n", 2)
    assert shown == f"**{layer.name}** ({layer.type}): output shape (None, 32), {layer.params:,} parameters\n\n`{layer.formula}`"
    assert layer.formula == "(4 + 1) × 32 = 160"
    assert "(None, 3)" in await hover_at(client, uri, text, "dense 3 softmax")
    assert (await hover_at(client, uri, text, "relu", 1)).startswith("**relu** (activation): Rectified Linear Unit")
    assert "Cross-entropy with c classes" in await hover_at(client, uri, text, "categorical_crossentropy")
    assert "gradient descent" in await hover_at(client, uri, text, "sgd(")
    assert await hover_at(client, uri, text, "# A three") is None  # a comment
    # A spec with an error: the words still explain themselves, the layers say why they cannot.
    broken = text.replace("dense 3 softmax", "dense 3 softmx")
    await change(client, uri, 2, broken)
    assert "the spec has errors" in await hover_at(client, uri, broken, "dense 32 relu\n")
    assert "Rectified" in await hover_at(client, uri, broken, "relu", 1)


async def labels(client: LanguageClient, uri: str, text: str, at: str) -> list[str]:
    before = text[: text.index(at) + len(at)]
    position = t.Position(before.count("\n"), len(before.rsplit("\n", 1)[-1]))
    result = await client.text_document_completion_async(t.CompletionParams(t.TextDocumentIdentifier(uri), position))
    return [item.label for item in result.items]


@pytest.mark.asyncio
async def test_completion_offers_what_the_cursors_place_takes(client: LanguageClient):
    text = """data spiral(samples=300, classes=3) {
    features x1, x2
}

model {
    input 2
    dense 8 relu init=he_normal
    dense 3 softmax
}

loss categorical_crossentropy

train {
    optimizer adam(lr=0.01, beta1=0.9)
    metrics accuracy
}
"""
    uri, _ = await open_text(client, text)
    assert await labels(client, uri, text, "model {\n    ") == list(catalog.BLOCK_STATEMENTS["model"])
    assert await labels(client, uri, text, "train {\n    ") == list(catalog.BLOCK_STATEMENTS["train"])
    assert await labels(client, uri, text, "data spiral(samples=300, ") == [f"{o}=" for o in definitions.DATA_OPTIONS["spiral"]]
    assert await labels(client, uri, text, "data ") == list(definitions.DATA_SOURCES)
    assert await labels(client, uri, text, "features ") == list(catalog.PLAYGROUND_FEATURES)
    layer = await labels(client, uri, text, "dense 8 ")
    assert set(catalog.ACTIVATIONS) <= set(layer) and {"init=", "name=", "trainable=", "l2"} <= set(layer)
    assert await labels(client, uri, text, "init=") == list(catalog.INITIALIZERS)
    assert await labels(client, uri, text, "loss ") == list(catalog.LOSSES)
    assert await labels(client, uri, text, "optimizer ") == list(catalog.OPTIMIZERS)
    assert await labels(client, uri, text, "adam(lr=0.01, ") == [f"{a}=" for a in catalog.OPTIMIZERS["adam"]]
    assert await labels(client, uri, text, "metrics ") == list(catalog.METRICS)
    assert await labels(client, uri, text, "}\n\n") == ["data", "model", "loss", "train"]  # between blocks


@pytest.mark.asyncio
async def test_formatting_symbols_and_go_to_definition(client: LanguageClient):
    text = "model   tiny {input 2\n dense 8 relu name=hidden   # the hidden layer\n  dense 1}\n"
    uri, _ = await open_text(client, text)
    identifier = t.TextDocumentIdentifier(uri)
    (edit,) = await client.text_document_formatting_async(t.DocumentFormattingParams(
        identifier, t.FormattingOptions(tab_size=4, insert_spaces=True)))
    assert edit.new_text == nndsl.format(text)
    assert (edit.range.start.line, edit.range.start.character, edit.range.end.line) == (0, 0, 3)
    await change(client, uri, 2, edit.new_text)
    assert not await client.text_document_formatting_async(t.DocumentFormattingParams(
        identifier, t.FormattingOptions(tab_size=4, insert_spaces=True)))  # formatted already: no edits

    (model,) = await client.text_document_document_symbol_async(t.DocumentSymbolParams(identifier))
    assert (model.name, model.kind) == ("model tiny", t.SymbolKind.Module)
    assert [(c.name, c.detail) for c in model.children] == [
        ("input", "input 2"), ("hidden", "dense 8 relu name=hidden"), ("dense_2", "dense 1")]

    formatted = edit.new_text
    row = formatted.split("\n").index("    dense 8 relu name=hidden  # the hidden layer")
    found = await client.text_document_definition_async(t.DefinitionParams(identifier, t.Position(row, 26)))
    assert found.uri == uri
    assert (found.range.start.line, found.range.start.character, found.range.end.character) == (row, 22, 28)
    assert await client.text_document_definition_async(t.DefinitionParams(identifier, t.Position(0, 1))) is None


def test_layer_names_resolve_to_their_definitions():
    """What go-to-definition reads: explicit names and default names, for references by name
    (from=, add, concat) once the grammar has them."""
    analysis = lsp.analyze("model {\n  input 2\n  dense 8 relu name=a\n  dense 4\n  activation relu name='b'\n}\n")
    spans = {name: (span.line, span.column, span.end_column) for name, span in lsp.layer_definitions(analysis).items()}
    assert spans == {"a": (3, 21, 22), "b": (5, 24, 27), "dense_2": (4, 3, 8)}
    assert lsp.layer_definitions(lsp.analyze("model { input 2  dense 8 rleu name=a }")) == {
        "a": lsp.layer_definitions(lsp.analyze("model { input 2  dense 8 relu name=a }"))["a"]}


GRAPH = """model {
  input 2
  dense 4 relu name=a
  dense 4 tanh from=x name=b
  residual name=r {
    dense 4 relu name=inner
  } shortcut {
    dense 4 name=short
  }
  concat a, b, r
  dense 4 name=tail
  add tail, short, inner
}
"""


def test_references_in_a_graph_go_to_the_name_they_read():
    """from=, the operands of add and concat, and names inside residual and shortcut blocks, go to
    the `name=` that defines them (1-based line and column of its value)."""
    analysis = lsp.analyze(GRAPH)
    assert analysis.program is not None, analysis.diagnostics
    lines = GRAPH.split("\n")

    def target(row: int, column: int) -> tuple[int, int] | None:
        span = lsp.definition_at(analysis, row, column)
        return None if span is None else (span.line, span.column)

    def defined(name: str) -> tuple[int, int]:
        row = next(i for i, line in enumerate(lines) if f"name={name}" in line)
        return row + 1, lines[row].index(f"name={name}") + len("name=") + 1

    concat, add = lines.index("  concat a, b, r"), lines.index("  add tail, short, inner")
    assert [target(concat, lines[concat].index(w)) for w in (" a,", " b,", " r")] == [None, None, None]
    assert [target(concat, lines[concat].index(w) + 1) for w in (" a,", " b,", " r")] == [
        defined("a"), defined("b"), defined("r")]
    assert [target(add, lines[add].index(w)) for w in ("tail", "short", "inner")] == [
        defined("tail"), defined("short"), defined("inner")]
    assert target(3, lines[3].index("from=x") + 5) is None  # the input has no statement to go to


# --- robustness ---------------------------------------------------------------------------------


async def send_raw(client: LanguageClient, body: bytes, msg_id: str | None = None):
    """Write a message as bytes, past the client's own checks; the response to `msg_id`, if any."""
    future = None
    if msg_id is not None:
        future = concurrent.futures.Future()
        client.protocol._request_futures[msg_id] = future
    client.protocol.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    return None if future is None else await asyncio.wait_for(asyncio.wrap_future(future), timeout=30)


@pytest.mark.asyncio
async def test_a_malformed_request_gets_an_error_and_the_server_goes_on(client: LanguageClient):
    text = "model { input 2  dense 1 }\n"
    uri, _ = await open_text(client, text)
    await send_raw(client, b"{this is not json")
    with pytest.raises(JsonRpcException):  # params of the wrong type
        await send_raw(client, json.dumps({"jsonrpc": "2.0", "id": "bad-1", "method": "textDocument/hover",
                                           "params": {"textDocument": {"uri": 7}, "position": "here"}}).encode(),
                       "bad-1")
    with pytest.raises(JsonRpcException):  # a document never opened, whose file does not exist
        await client.text_document_hover_async(t.HoverParams(
            t.TextDocumentIdentifier((ROOT / "nothere" / "x.nn").as_uri()), t.Position(0, 0)))
    assert "dense_1" in await hover_at(client, uri, text, "dense")


@pytest.mark.asyncio
async def test_a_checker_that_crashes_is_reported_and_the_server_goes_on(crashing: LanguageClient):
    text = "model { input 2  dense 1 sigmoid }\n"
    uri, (diagnostic,) = await open_text(crashing, text)
    assert diagnostic.message.startswith("nndsl's checker crashed (a bug in nndsl; please report it): ZeroDivisionError")
    assert diagnostic.severity == t.DiagnosticSeverity.Error
    assert "Logistic function" in await hover_at(crashing, uri, text, "sigmoid")
    (again,) = await change(crashing, uri, 2, text + "\n")
    assert again.message == diagnostic.message


# --- the tables behind hover and completion ------------------------------------------------------


def test_every_name_of_the_language_has_a_definition():
    assert set(definitions.ACTIVATIONS) == set(catalog.ACTIVATIONS)
    assert set(definitions.LOSSES) == set(catalog.LOSSES)
    assert set(definitions.INITIALIZERS) == set(catalog.INITIALIZERS)
    assert set(definitions.OPTIMIZERS) == set(catalog.OPTIMIZERS)
    assert set(definitions.METRICS) == set(catalog.METRICS)
    assert set(definitions.REGULARIZERS) == set(catalog.REGULARIZERS)
    assert set(definitions.DATA_SOURCES) == set(catalog.DATA_SOURCES) == set(definitions.DATA_OPTIONS)
    assert {name for names in catalog.OPTIMIZERS.values() for name in names} <= set(definitions.OPTIMIZER_ARGUMENTS)
    # In the lecture's words where it has them.
    assert definitions.ACTIVATIONS["sigmoid"].startswith("Logistic function σ(x) = 1 / (1 + e^−x)")
    assert "σ² = 2/n_in" in definitions.INITIALIZERS["he_normal"]
    assert "2/(n_in + n_out)" in definitions.INITIALIZERS["glorot_normal"]


VALUES = {"init": "he_normal", "bias": "[0, 0, 0, 0]", "weights": "[[1, 1], [1, 1], [1, 1], [1, 1]]",
          "trainable": "false", "name": "x", "kernel": "3", "stride": "1", "padding": "same", "momentum": "0.9",
          "eps": "0.001", "every": "5", "samples": "100", "noise": "0.1", "seed": "3", "classes": "2"}


@pytest.mark.parametrize("statement", sorted(definitions.STATEMENT_KEYWORDS))
def test_the_checker_takes_every_keyword_completion_offers(statement):
    """No completion the checker would reject as an unknown argument."""
    layer = {"dense": "dense 4", "conv2d": "conv2d 4", "maxpool": "maxpool 2", "avgpool": "avgpool 2",
             "activation": "activation relu", "dropout": "dropout 0.1", "checkpoint": "checkpoint"}.get(statement, statement)
    for key in definitions.STATEMENT_KEYWORDS[statement]:
        line = f"{layer} {key}={VALUES[key]}"
        model = f"input 8x8x1  {line}" if statement not in ("dense", "activation", "dropout", "checkpoint") else \
            f"input 2  {line if statement != 'checkpoint' else 'dense 1'}"
        train = f"\ntrain {{ optimizer sgd epochs 1 {line} }}" if statement == "checkpoint" else ""
        spec = f"data xor\nmodel {{ {model} }}\nloss mse{train}\n"
        try:
            nndsl.parse(spec)
        except nndsl.SpecError as error:
            assert all(f"unknown argument '{key}'" not in d.message for d in error.diagnostics), (spec, error.render())


@pytest.mark.parametrize("source", sorted(definitions.DATA_OPTIONS))
def test_the_checker_takes_every_data_option_completion_offers(source):
    for key in definitions.DATA_OPTIONS[source]:
        value = {"target": "y", "x": "'x'", "y": "'y'", "size": "8x8", "color": "rgb"}.get(key, VALUES.get(key))
        path = '"data.csv", ' if source in ("csv", "npz", "images") else ""
        spec = f"data {source}({path}{key}={value})\nmodel {{ input 2  dense 1 }}\n"
        try:
            nndsl.parse(spec)
        except nndsl.SpecError as error:
            assert all(f"unknown argument '{key}'" not in d.message for d in error.diagnostics), (spec, error.render())


def test_the_latency_bench_runs_small():
    """bench/lsp_latency.py keeps working (tiny sizes; it asserts no time, and neither does this)."""
    done = subprocess.run([sys.executable, "bench/lsp_latency.py", "--lines", "40", "--changes", "2", "--runs", "1"],
                          cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "diagnostics after a change" in done.stdout and "cold nndsl check" in done.stdout
