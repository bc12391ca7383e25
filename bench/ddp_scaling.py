"""Scaling of data-parallel training on PyTorch: N processes against 1, on this machine's CPU.

    python bench/ddp_scaling.py [--workloads large cnn] [--nproc 1 2] [--epochs 2] [--reps 2] [--out FILE.md]

For each workload (bench/workloads.py's large MLP and CNN) the generated torch program
(`nndsl compile -b torch -t cpu`) trains under torchrun's agent, started as `nndsl train --nproc`
starts it (nndsl.launch.launch_torch: loopback, gloo, each rank OMP_NUM_THREADS = cores / N).
Each rank runs this file with --rank: it imports the program, trains one epoch to warm up,
then times `--epochs` epochs of Trainer.fit, and rank 0 prints the result as one JSON line.
The result: training samples per second and the scaling efficiency
throughput(N) / (N × throughput(1)), each from the fastest of --reps runs, the process counts
taking turns (1, 2, 1, 2, …) so that a change in the machine's load hits both. Process start-up
(importing torch, joining the group) is not timed. A machine shared with other work gives
noisy figures: say so with them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.workloads import CNN, LARGE, ensure_npz  # noqa: E402

WORKLOADS = {"large": LARGE, "cnn": CNN}


def rank_main(program: Path, epochs: int, result: Path) -> None:
    """One rank: warm up one epoch, time `epochs` more; rank 0 writes {"seconds", "samples"} to `result`."""
    spec = importlib.util.spec_from_file_location("ddp_program", program)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    trainer = module.make_trainer()
    trainer.fit(epochs=1)
    started = time.perf_counter()
    trainer.fit(epochs=epochs)
    seconds = time.perf_counter() - started
    if trainer.processes.main:
        result.write_text(json.dumps({"seconds": seconds, "samples": epochs * len(trainer.data.x_train)}),
                          encoding="utf-8")
    trainer.processes.stop()


def measure(workload, nproc: int, epochs: int, folder: Path, rep: int, threads: int | None = None) -> dict:
    """Train `workload` in `nproc` processes (each with `threads` threads, by default the cores shared
    out); the timed epochs' seconds and samples/second."""
    from nndsl import load
    from nndsl.codegen import generate
    from nndsl.launch import launch_torch

    if workload.data_file is not None:
        ensure_npz(workload.data_file)
    program = folder / f"{workload.name}.py"
    program.write_text(generate(load(workload.spec), backend="torch", target="cpu",
                                data_dir=str(workload.spec.parent)), encoding="utf-8")
    threads = threads or max(1, (os.cpu_count() or 1) // nproc)
    run = f"{workload.name}-{nproc}x{threads}-{rep}"  # (one process runs twice: with the cores, and with 1 thread)
    logs = folder / f"logs-{run}"
    logs.mkdir()
    result = folder / f"{run}.json"
    saved = os.environ.pop("OMP_NUM_THREADS", None)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        launch_torch(Path(__file__).resolve(), ["--rank", str(program), str(epochs), str(result)], nproc, logs)
    finally:
        os.environ.pop("OMP_NUM_THREADS")
        if saved is not None:
            os.environ["OMP_NUM_THREADS"] = saved
    line = json.loads(result.read_text(encoding="utf-8"))
    return {"workload": workload.name, "nproc": nproc, "threads": threads, "seconds": line["seconds"],
            "throughput": line["samples"] / line["seconds"]}


def render(rows: list[dict], epochs: int, reps: int) -> str:
    cores = os.cpu_count()
    lines = [f"# Data-parallel scaling, torch on the CPU ({cores} cores, gloo, loopback)", "",
             f"`python bench/ddp_scaling.py`: {epochs} timed epochs after one warm-up epoch, the fastest of "
             f"{reps} runs; each rank with OMP_NUM_THREADS = {cores} / N, and one process with 1 thread for "
             "comparison; speed-up and efficiency = throughput(N) / (N × throughput(1)) against the one "
             f"process with {cores} threads.", "",
             "| workload | processes × threads | seconds | samples/s | speed-up | efficiency |",
             "| --- | --- | --- | --- | --- | --- |"]
    single = {row["workload"]: row["throughput"] for row in rows if row["nproc"] == 1 and row["threads"] == cores}
    for row in rows:
        base = single.get(row["workload"])
        speedup = f"{row['throughput'] / base:.2f}×" if base else "–"
        efficiency = f"{row['throughput'] / (row['nproc'] * base):.0%}" if base and row["threads"] * row["nproc"] == cores else "–"
        lines.append(f"| {row['workload']} | {row['nproc']} × {row['threads']} | {row['seconds']:.1f} "
                     f"| {row['throughput']:,.0f} | {speedup} | {efficiency} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", nargs="+", choices=sorted(WORKLOADS), default=["large", "cnn"])
    parser.add_argument("--nproc", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs, after one warm-up epoch")
    parser.add_argument("--reps", type=int, default=2, help="runs per process count, the fastest kept")
    parser.add_argument("--out", help="also write the table to this Markdown file")
    parser.add_argument("--rank", nargs=3, metavar=("PROGRAM", "EPOCHS", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rank:
        rank_main(Path(args.rank[0]), int(args.rank[1]), Path(args.rank[2]))
        return 0
    best = {}
    with tempfile.TemporaryDirectory(prefix="ddp-scaling-") as folder:
        for name in args.workloads:
            for rep in range(args.reps):
                runs = [(nproc, None) for nproc in args.nproc] + [(1, 1)]  # and one process with one thread
                for nproc, threads in runs:
                    row = measure(WORKLOADS[name], nproc, args.epochs, Path(folder), rep, threads)
                    print(row, file=sys.stderr, flush=True)
                    key = (name, nproc, row["threads"])
                    if key not in best or row["seconds"] < best[key]["seconds"]:
                        best[key] = row
    table = render(list(best.values()), args.epochs, args.reps)
    print(table, end="")
    if args.out:
        Path(args.out).write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
