"""Scaling of TensorFlow multi-worker training on this machine: N workers against one process.

    python bench/multi_worker.py                       # large and cnn, 1 and 2 workers
    python bench/multi_worker.py --workload cnn --nproc 1 2 4 --epochs 3 --reps 3

For each workload the bench spec (bench/specs/*.nn) is compiled for TensorFlow on the CPU and
run by this script's worker mode in N processes, with TF_CONFIG naming N workers on loopback
ports, as `nndsl train --nproc N` starts them (nndsl/launch.py; N = 1: no TF_CONFIG,
the one-process program). Every process trains the spec's global batch, each worker its share
of it. A worker first runs one epoch (tracing, the collectives' set-up: excluded), then `fit`
for the timed epochs; the chief reports the seconds of those epochs. Repetitions alternate the
process counts, so slow phases of a shared machine hit every count alike; the medians are
printed as samples/second and as the speed-up over one process (efficiency = speed-up / N).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.workloads import SPEC_DIR, WORKLOADS, ensure_npz  # noqa: E402
from nndsl.launch import free_loopback_ports, tf_config  # noqa: E402

HANG_GUARD = 1800  # seconds for one run of N workers


def worker(script: str, epochs: int) -> None:
    """Worker mode: train the generated program at `script`; the chief prints the timed epochs' seconds."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_model", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    trainer = module.make_trainer()
    trainer.fit(1)  # warm-up: graphs traced, collectives set up
    started = time.perf_counter()
    trainer.fit(epochs)
    seconds = time.perf_counter() - started
    if module.is_chief():
        print(json.dumps({"seconds": seconds, "samples": len(trainer.data.x_train) * epochs}))


def run(script: Path, nproc: int, epochs: int) -> dict:
    """One run of `nproc` processes; the chief's report."""
    command = [sys.executable, __file__, "--worker", str(script), "--epochs", str(epochs)]
    ports = free_loopback_ports(nproc)
    processes = []
    for index in range(nproc):
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="-1")
        if nproc > 1:
            env["TF_CONFIG"] = tf_config(ports, index)
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [process.communicate(timeout=HANG_GUARD) for process in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        if process.returncode:
            raise SystemExit(f"a worker failed:\n{stderr[-3000:]}")
    return json.loads(outputs[0][0].strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", nargs="+", default=["large", "cnn"], choices=sorted(WORKLOADS))
    parser.add_argument("--nproc", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per run (after one warm-up epoch)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.epochs)
        return
    import nndsl

    print(f"| workload | processes | samples/s (median of {args.reps}) | speed-up | efficiency |")
    print("| --- | --- | --- | --- | --- |")
    for name in args.workload:
        workload = WORKLOADS[name]
        if workload.data_file is not None:
            ensure_npz(workload.data_file)
        source = nndsl.generate(nndsl.load(workload.spec), backend="tensorflow", target="cpu", data_dir=str(SPEC_DIR))
        with tempfile.TemporaryDirectory() as folder:
            script = Path(folder) / "model.py"
            script.write_text(source, encoding="utf-8")
            speeds = {nproc: [] for nproc in args.nproc}
            for rep in range(args.reps):
                order = args.nproc if rep % 2 == 0 else list(reversed(args.nproc))
                for nproc in order:
                    report = run(script, nproc, args.epochs)
                    speeds[nproc].append(report["samples"] / report["seconds"])
        base = statistics.median(speeds[args.nproc[0]])
        for nproc in args.nproc:
            speed = statistics.median(speeds[nproc])
            ratio = speed / base
            print(f"| {name} | {nproc} | {speed:,.0f} | {ratio:.2f}× | {ratio / nproc * args.nproc[0]:.0%} |",
                  flush=True)


if __name__ == "__main__":
    main()
