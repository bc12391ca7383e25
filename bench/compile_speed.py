"""How fast the front end reads a spec: parse (text -> syntax tree) and check
(syntax tree -> checked IR), in process, for every spec in specs/ and for
generated specs of 10 to 10,000 dense layers.

    python bench/compile_speed.py                 # the table
    python bench/compile_speed.py --layers 10 100 # fewer sizes

Time per layer should stay flat as the model grows: the front end is linear in
the size of the spec. Each time is the best of several runs (the least
disturbed by the rest of the machine), taken with the garbage collector paused
as `timeit` does: with it running, a 10,000-layer spec costs up to about twice
as much per layer, because CPython's collector keeps re-scanning the many live
tree nodes (`--gc` shows that). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LAYERS = (10, 100, 1_000, 10_000)


def generated_spec(layers: int, width: int = 8) -> str:
    """A complete spec whose model has `layers` dense layers (the last one the output)."""
    hidden = "\n".join(f"    dense {width} relu" for _ in range(layers - 1))
    return (
        "data xor(samples=500, noise=0.1, seed=1) {\n    features x1, x2\n    split 0.5\n}\n\n"
        f"model deep {{\n    input 2\n{hidden}\n    dense 1 sigmoid\n}}\n\n"
        "loss binary_crossentropy\n\n"
        "train {\n    optimizer sgd(lr=0.01)\n    batch 32\n    epochs 10\n    metrics accuracy\n}\n"
    )


def best_time(function, repeat: int, collect: bool) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        if not collect:
            gc.disable()
        try:
            start = time.perf_counter()
            function()
            best = min(best, time.perf_counter() - start)
        finally:
            gc.enable()
    return best


def measure(name: str, text: str, repeat: int, collect: bool = False) -> dict:
    """Best-of-`repeat` parse and check times of one spec, in seconds."""
    from nndsl.check import check
    from nndsl.syntax import parse_syntax

    tree = parse_syntax(text, name)
    program = check(tree)
    runs = max(1, repeat if len(text) < 100_000 else repeat // 3)
    parse = best_time(lambda: parse_syntax(text, name), runs, collect)
    checked = best_time(lambda: check(tree), runs, collect)
    return {
        "spec": name,
        "layers": len(program.model.layers),
        "lines": text.count("\n") + 1,
        "parse": parse,
        "check": checked,
    }


def example_specs() -> list[Path]:
    return sorted((ROOT / "specs").glob("*.nn"))


def table(rows: list[dict]) -> str:
    header = ("spec", "layers", "lines", "parse ms", "check ms", "total ms", "µs/layer")
    lines = []
    for row in rows:
        total = row["parse"] + row["check"]
        lines.append((
            row["spec"],
            f"{row['layers']:,}",
            f"{row['lines']:,}",
            f"{row['parse'] * 1e3:.2f}",
            f"{row['check'] * 1e3:.2f}",
            f"{total * 1e3:.2f}",
            f"{total * 1e6 / max(row['layers'], 1):.1f}",
        ))
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)]

    def render(cells):
        first = f"{cells[0]:<{widths[0]}}"
        return "  ".join([first] + [f"{cell:>{width}}" for cell, width in zip(cells[1:], widths[1:], strict=True)])

    rule = "-" * len(render(header))
    return "\n".join([render(header), rule, *(render(cells) for cells in lines)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, nargs="+", default=list(DEFAULT_LAYERS),
                        help="sizes of the generated specs (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=7, help="runs per spec; the best counts (default: 7)")
    parser.add_argument("--no-examples", action="store_true", help="skip the specs in specs/")
    parser.add_argument("--gc", action="store_true", help="keep the garbage collector running while timing")
    args = parser.parse_args(argv)
    if args.repeat < 1 or any(n < 1 for n in args.layers):
        parser.error("--repeat and --layers need positive numbers")

    from nndsl.syntax import grammar_parser

    start = time.perf_counter()
    grammar_parser()  # built once per process; not part of any row below
    print(f"grammar loaded in {(time.perf_counter() - start) * 1e3:.1f} ms (once per process)")
    collector = "running" if args.gc else "paused"
    print(f"Python {sys.version.split()[0]}; best of {args.repeat} runs; garbage collector {collector}\n")

    rows = []
    if not args.no_examples:
        specs = example_specs()
        if not specs:
            print("(no specs in specs/)\n")
        for path in specs:
            text = path.read_text(encoding="utf-8")
            rows.append(measure(path.relative_to(ROOT).as_posix(), text, args.repeat, args.gc))
    for layers in args.layers:
        rows.append(measure(f"generated: {layers:,} dense layers", generated_spec(layers), args.repeat, args.gc))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
