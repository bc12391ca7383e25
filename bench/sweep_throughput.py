"""Sweep throughput: a 40-run sweep of the checkerboard against 40 `nndsl train` runs one after another.

    python bench/sweep_throughput.py            # --jobs 2 and --jobs 1 sweeps, and 40 sequential trains
    python bench/sweep_throughput.py --reps 3   # each measured 3 times, interleaved; medians

The 40 runs: dense_1.units = 1, 2, 3, 4, 8 × 8 training seeds, 200 epochs each as the spec says,
on the NumPy backend, without plots. The sequential baseline is what a user would otherwise type:
`nndsl train SPEC --seed S --out DIR --quiet --no-plots` per run, each a fresh process, each
spec the sweep's setting written out (nndsl.format of the checked program the sweep trains).
`nndsl sweep --jobs 1` separates the start-up saved (one process instead of 40) from the
parallelism (--jobs 2). Every sweep starts in an empty folder, so nothing is resumed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SPEC = ROOT / "specs" / "checkerboard.nn"
UNITS = "1,2,3,4,8"
SEEDS = 8


def nndsl(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "nndsl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def sweep(folder: Path, jobs: int) -> float:
    shutil.rmtree(folder, ignore_errors=True)
    start = time.perf_counter()
    nndsl("sweep", str(SPEC), "--set", f"dense_1.units={UNITS}", "--seeds", str(SEEDS), "--jobs", str(jobs),
          "--out", str(folder))
    return time.perf_counter() - start


def sequential_specs(folder: Path) -> list[Path]:
    """The sweep's settings as spec files, one per value of dense_1.units."""
    import nndsl as api
    from nndsl.source import read_spec
    from nndsl.sweep import Grid
    from nndsl.syntax import parse_syntax

    text, filename = read_spec(SPEC)
    grid = Grid(parse_syntax(text, filename), [f"dense_1.units={UNITS}"])
    specs = []
    for program, settings in zip(grid.programs(), grid.combinations(), strict=True):
        path = folder / f"checkerboard_{settings[0][1]}.nn"
        path.write_text(api.format(program), encoding="utf-8")
        specs.append(path)
    return specs


def sequential(folder: Path, specs: list[Path]) -> float:
    shutil.rmtree(folder, ignore_errors=True)
    start = time.perf_counter()
    for spec in specs:
        for seed in range(1, 1 + SEEDS):
            nndsl("train", str(spec), "--seed", str(seed), "--out", str(folder / f"{spec.stem}-{seed}"), "--quiet",
                  "--no-plots")
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=1, help="repetitions of each (interleaved); medians")
    args = parser.parse_args(argv)
    times: dict[str, list[float]] = {"sweep --jobs 2": [], "sweep --jobs 1": [], "40 × nndsl train": []}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        specs = sequential_specs(folder)
        for rep in range(args.reps):
            order = list(times) if rep % 2 == 0 else list(times)[::-1]
            for name in order:
                if name == "40 × nndsl train":
                    seconds = sequential(folder / "train", specs)
                else:
                    seconds = sweep(folder / "sweep", int(name[-1]))
                times[name].append(seconds)
                print(f"{name}: {seconds:.1f} s", flush=True)
    baseline = statistics.median(times["40 × nndsl train"])
    print(f"\n{os.cpu_count()} cores; median of {args.reps}")
    print("| how | seconds | runs/s | speed-up over 40 × nndsl train |")
    print("| --- | --- | --- | --- |")
    for name, values in times.items():
        seconds = statistics.median(values)
        print(f"| {name} | {seconds:.1f} | {40 / seconds:.2f} | {baseline / seconds:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
