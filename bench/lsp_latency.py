"""How quickly the editor hears: the language server's diagnostics after a change to a 1,000-line
spec (target: within 100 ms), and a cold `nndsl check` of one spec (target: under 0.3 s).

    python bench/lsp_latency.py                  # both, as a table
    python bench/lsp_latency.py --changes 50     # more changes to time

Latency is measured as an editor sees it: a real `nndsl lsp` subprocess over stdio, driven by
pygls' client; each time runs from sending didChange to receiving its publishDiagnostics, with
the edit alternating between a valid spec and one with an error. Cold check is `python -m nndsl
check` in a fresh process (interpreter start-up included), best and median of several runs.
Nothing here asserts a time (tests/test_lsp_bench.py only runs it small).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.compile_speed import generated_spec  # noqa: E402


def spec_of_lines(lines: int) -> str:
    """A complete spec of about `lines` lines: dense layers, with a comment every tenth."""
    text = generated_spec(max(2, lines - 18))
    out = []
    for i, line in enumerate(text.split("\n")):
        out.append(line + ("  # a comment, as hand-written specs have" if i % 10 == 5 and line.strip() else ""))
    return "\n".join(out)


async def diagnostics_latency(text: str, changes: int) -> list[float]:
    from lsprotocol import types as t
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("bench", "1")
    received: asyncio.Queue = asyncio.Queue()

    @client.feature(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: t.PublishDiagnosticsParams) -> None:
        received.put_nowait((time.perf_counter(), params))

    await client.start_io(sys.executable, "-m", "nndsl", "lsp", env={"PYTHONPATH": str(ROOT)})
    await client.initialize_async(t.InitializeParams(capabilities=t.ClientCapabilities()))
    client.initialized(t.InitializedParams())
    uri = (ROOT / "bench" / "latency.nn").as_uri()
    client.text_document_did_open(t.DidOpenTextDocumentParams(t.TextDocumentItem(uri=uri, language_id="nndsl", version=1, text=text)))
    await received.get()
    broken = text.replace("dense 8 relu", "dense 8 rleu", 1)
    times = []
    for version in range(2, changes + 2):
        body = broken if version % 2 else text
        sent = time.perf_counter()
        client.text_document_did_change(t.DidChangeTextDocumentParams(
            t.VersionedTextDocumentIdentifier(version=version, uri=uri), [t.TextDocumentContentChangeWholeDocument(text=body)]))
        while True:
            arrived, params = await received.get()
            if params.version == version:
                break
        expected = 1 if version % 2 else 0
        assert len(params.diagnostics) == expected, params.diagnostics
        times.append(arrived - sent)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return times


def cold_check(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "nndsl", "check", "specs/checkerboard.nn"], cwd=ROOT,
                              capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        assert done.returncode == 0, done.stderr
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1000, help="the spec's size in lines (default 1000)")
    parser.add_argument("--changes", type=int, default=20, help="changes to time (default 20)")
    parser.add_argument("--runs", type=int, default=10, help="cold checks to time (default 10)")
    args = parser.parse_args(argv)
    text = spec_of_lines(args.lines)
    latency = asyncio.run(diagnostics_latency(text, args.changes))
    cold = cold_check(args.runs)
    print(f"diagnostics after a change, {text.count(chr(10)) + 1:,}-line spec ({args.changes} changes): "
          f"median {statistics.median(latency) * 1000:.1f} ms, worst {max(latency) * 1000:.1f} ms  (target 100 ms)")
    print(f"cold nndsl check specs/checkerboard.nn ({args.runs} runs): best {min(cold):.3f} s, "
          f"median {statistics.median(cold):.3f} s  (target 0.3 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
