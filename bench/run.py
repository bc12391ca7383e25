"""Speed of nndsl's generated trainers against hand-written references, as ratios.

    python bench/run.py                               # every backend and workload (make bench)
    python bench/run.py --backend numpy --workload large --reps 9
    python bench/run.py --workload cnn --reps 5       # the conv net; NumPy's step profiled
    python bench/run.py --workload resmlp rescnn      # residual nets (issue 17): the adds' cost
    python bench/run.py --quick                       # a rough table in a minute or two

For each backend and workload the bench spec (bench/specs/*.nn) is compiled in process with
nndsl's API into a fresh module, and its Trainer is timed against the hand-written references
of the same framework (bench/hand_*.py), which start from the same initial weights, train on the
same data in the same batch order and compute the same losses (tests/test_bench_references.py).

Each reference races the generated trainer(s) in a heat of its own (see measure()). In a heat,
each contender is built once and warmed up (one timed-apart `fit`, which also traces graphs and
compiles where it does; excluded). Then the repetitions are **interleaved**: in every repetition
each contender runs `fit(epochs)` once, in an order that alternates between repetitions, so slow
phases of a shared machine hit all of them alike. Reported are the median samples/second
(training samples of the epochs over the time of `fit`, its validation pass included) and the
median over repetitions of the ratio generated/reference of the same repetition: above 1 the
generated code is faster.

Rows marked torch.compile / XLA run the generated trainer with `make_trainer(compile=True)` /
`make_trainer(jit_compile=True)`. Their steady speed excludes compilation; the column
"whole run" estimates the ratio over the spec's full training run with the compilation (taken
from the warm-up) included.

For the NumPy large and cnn workloads the achieved GFLOP/s (the epoch's matrix-product flops over
its time, for the median and for the fastest repetition; a conv counted as its im2col products,
Workload.products) is compared with the float32 matmul peak NumPy reaches on this machine on the
workload's own product shapes (matmul_peak.py, best of several runs). The peak is probed before
every repetition and after the last one; the table gives the fraction of the best probe of the
whole run, and, paired, the median over repetitions of each repetition's GFLOP/s over the better
of the two probes around it: on a shared machine whose speed drifts, that compares the epoch with
the peak of the same minutes. For the cnn, the NumPy trainers' steps are then profiled
(profile_numpy.py): milliseconds per step in the conv products, the im2col copies, col2im,
pooling, bias and ReLU, the dense layer and loss, and the SGD update, and the conv products' own
GFLOP/s inside the step against the same peak.

Every backend runs in a child process of its own, so no framework's threads or settings disturb
another's. The table is printed and written to bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: `python bench/run.py`
    sys.path.insert(0, str(ROOT))

from bench.workloads import WORKLOADS, Workload, tiny  # noqa: E402

BACKENDS = ("numpy", "torch", "tensorflow")
RESULTS = ROOT / "bench" / "results" / "latest.md"
QUICK_EPOCHS = {"small": 5, "large": 1, "cnn": 1, "resmlp": 1, "rescnn": 1}
PROFILE_EPOCHS = 3  # instrumented epochs per NumPy trainer of an image workload; the fastest is shown


@dataclass
class Contender:
    """One trainer in the race: `build()` makes it, `fit(epochs)` is what is timed."""

    label: str
    build: object  # () -> object with fit(epochs)
    generated: bool = False
    compiles: bool = False  # the warm-up includes a compilation worth reporting
    trainer: object = None
    warmup_s: float = 0.0
    times: list[float] = field(default_factory=list)


# --- the contenders of each backend ---------------------------------------------------------------


def generated_module(workload: Workload, backend: str):
    """The bench spec compiled by nndsl and imported as a fresh module."""
    import nndsl
    from nndsl.codegen import load_module

    return load_module(nndsl.generate(nndsl.load(workload.spec), backend=backend, target="cpu"))


#: each backend's hand-written references: label, and per kind of workload (Workload.kind) the
#: class, as "module:Class"
REFERENCES = {
    "numpy": (("hand NumPy", {"mlp": "bench.hand_numpy:NumpyMLP", "cnn": "bench.hand_numpy:NumpyCNN",
                              "resmlp": "bench.hand_numpy_residual:NumpyResidualMLP",
                              "rescnn": "bench.hand_numpy_residual:NumpyResidualCNN"}),),
    "torch": (("hand torch", {"mlp": "bench.hand_torch:TorchMLP", "cnn": "bench.hand_torch:TorchCNN",
                              "resmlp": "bench.hand_torch:TorchResidualMLP",
                              "rescnn": "bench.hand_torch:TorchResidualCNN"}),),
    "tensorflow": (("hand Keras fit", {"mlp": "bench.hand_tf_keras:KerasMLP", "cnn": "bench.hand_tf_keras:KerasCNN",
                                       "resmlp": "bench.hand_tf_keras:KerasResidual",
                                       "rescnn": "bench.hand_tf_keras:KerasResidual"}),
                   ("hand raw tf.function", {"mlp": "bench.hand_tf_raw:RawTFMLP", "cnn": "bench.hand_tf_raw:RawTFCNN",
                                             "resmlp": "bench.hand_tf_raw:RawTFResidualMLP",
                                             "rescnn": "bench.hand_tf_raw:RawTFResidualCNN"})),
}


def hand_reference(label: str, workload: Workload, **options):
    """The hand-written reference `label` built for the workload (the class for its kind)."""
    classes = next(entry[1] for entries in REFERENCES.values() for entry in entries if entry[0] == label)
    module, name = classes[workload.kind].split(":")
    return getattr(importlib.import_module(module), name)(*workload.reference_args(), **options)


def contenders(backend: str, workload: Workload, compiled: bool) -> list[Contender]:
    """The generated trainer(s) first, then the hand-written references."""
    module = generated_module(workload, backend)
    found = [Contender("generated", module.make_trainer, generated=True)]
    if compiled and backend == "torch":
        found.append(Contender("generated, torch.compile", lambda: module.make_trainer(compile=True),
                               generated=True, compiles=True))
    if compiled and backend == "tensorflow":
        found.append(Contender("generated, XLA", lambda: module.make_trainer(jit_compile=True),
                               generated=True, compiles=True))
    for label, *_ in REFERENCES[backend]:
        found.append(Contender(label, lambda label=label: hand_reference(label, workload)))
    return found


# --- timing ---------------------------------------------------------------------------------------


def timed_fit(trainer, epochs: int) -> float:
    start = time.perf_counter()
    trainer.fit(epochs)
    return time.perf_counter() - start


def race(racers: list[Contender], epochs: int, reps: int, probe=None) -> list[float]:
    """Warm every contender up, then time `reps` interleaved repetitions of fit(epochs) each.

    With `probe` (a function returning a number), it runs before each repetition and after the
    last; the list of its results is returned.
    """
    for racer in racers:
        racer.trainer = racer.build()
        racer.warmup_s = timed_fit(racer.trainer, epochs)
    probes = []
    for rep in range(reps):
        if probe is not None:
            probes.append(probe())
        order = racers if rep % 2 == 0 else racers[::-1]
        for racer in order:
            racer.times.append(timed_fit(racer.trainer, epochs))
    if probe is not None:
        probes.append(probe())
    return probes


def measure(backend: str, workload: Workload, epochs: int, reps: int, compiled: bool) -> list[dict]:
    """The cells of the table for one backend and workload, one per reference: each is a race of
    the generated trainer(s) against that reference alone, its times as plain data for the parent.

    Racing each reference on its own keeps a much slower one (Keras fit is 40× slower on the small
    net) from running between the two contenders of another comparison: measured, the trainer
    that ran right after Keras fit was the slower one of its pair, and the small-net ratio against
    the raw loop moved between 0.95× and 1.28× from run to run; in heats of their own, 1.07-1.15×.
    """
    everyone = contenders(backend, workload, compiled)
    generated = [racer for racer in everyone if racer.generated]
    sizes = tuple(len(part) for part in workload.load()[::2])
    return [heat(backend, workload, sizes, epochs, reps, [replace(racer, times=[]) for racer in generated] + [reference])
            for reference in everyone if not reference.generated]


def heat(backend: str, workload: Workload, sizes: tuple[int, int], epochs: int, reps: int,
         racers: list[Contender]) -> dict:
    """One cell of the table: a race of `racers`, every contender's times; `sizes` = (n_train, n_val).

    For NumPy and an image workload, the trainers' steps are then profiled (profile_numpy.py)."""
    from bench.matmul_peak import PEAK_SHAPES

    n_train, n_val = sizes
    probe = None
    if backend == "numpy" and workload.name in PEAK_SHAPES:
        probe = functools.partial(peak_gflops, PEAK_SHAPES[workload.name])
    peaks = race(racers, epochs, reps, probe)
    profiles = None
    if backend == "numpy" and workload.image is not None:
        from bench.profile_numpy import profile_trainers

        steps = -(-n_train // workload.batch)
        profiles = profile_trainers({r.label: r.trainer for r in racers}, steps, PROFILE_EPOCHS)
    return {
        "backend": backend,
        "workload": workload.name,
        "epochs": epochs,
        "spec_epochs": workload.spec_epochs,
        "n_train": n_train,
        "flops_per_epoch": workload.flops_per_epoch(n_train, n_val),
        "peaks": peaks,  # GFLOP/s, probed before each repetition and after the last
        "profiles": profiles,  # {label: ms per step by part, conv GFLOP/s} (profile_numpy.profile_epoch)
        "racers": [
            {"label": r.label, "generated": r.generated, "compiles": r.compiles, "warmup_s": r.warmup_s, "times": r.times}
            for r in racers
        ],
    }


def peak_gflops(shapes) -> float:
    from bench.matmul_peak import matmul_peak

    return max(matmul_peak(shapes, reps=3).values())


# --- the table ------------------------------------------------------------------------------------


def rows_of(cell: dict) -> list[dict]:
    """Each generated variant against each reference of its backend."""
    n, epochs = cell["n_train"], cell["epochs"]
    racers = cell["racers"]
    for racer in racers:
        racer["sps"] = statistics.median(n * epochs / t for t in racer["times"])
    rows = []
    for gen in (r for r in racers if r["generated"]):
        for ref in (r for r in racers if not r["generated"]):
            paired = statistics.median(
                t_ref / t_gen for t_gen, t_ref in zip(gen["times"], ref["times"], strict=True)
            )
            whole = None
            if gen["compiles"]:
                # the spec's whole run: the compilation (the warm-up beyond one steady fit) plus its epochs
                steady = statistics.median(gen["times"])
                compile_s = max(gen["warmup_s"] - steady, 0.0)
                run_gen = compile_s + steady * cell["spec_epochs"] / epochs
                run_ref = statistics.median(ref["times"]) * cell["spec_epochs"] / epochs
                whole = run_ref / run_gen
            rows.append({"gen": gen, "ref": ref, "ratio": paired, "whole": whole})
    return rows


def render(cells: list[dict], header: str) -> str:
    lines = [
        header,
        "",
        "| workload | backend | generated | samples/s | reference | samples/s | generated/reference | whole run |",
        "| --- | --- | --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for cell in cells:
        for row in rows_of(cell):
            whole = f"{row['whole']:.2f}× (compile {row['gen']['warmup_s']:.1f} s)" if row["whole"] else "—"
            lines.append(
                f"| {cell['workload']} | {cell['backend']} | {row['gen']['label']} | {row['gen']['sps']:,.0f} "
                f"| {row['ref']['label']} | {row['ref']['sps']:,.0f} | **{row['ratio']:.2f}×** | {whole} |"
            )
    probed = [cell for cell in cells if cell.get("peaks")]
    if probed:
        lines += ["", "| workload | trainer | GFLOP/s (median rep) | GFLOP/s (best rep) | float32 matmul peak (best probe) "
                  "| fraction of peak, median rep | best rep | paired with the probes around each rep, median |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for cell in probed:
            peak, probes = max(cell["peaks"]), cell["peaks"]
            for racer in cell["racers"]:
                flops = cell["flops_per_epoch"] * cell["epochs"] / 1e9
                median, best = flops / statistics.median(racer["times"]), flops / min(racer["times"])
                paired = statistics.median(flops / t / max(probes[i], probes[i + 1]) for i, t in enumerate(racer["times"]))
                lines.append(f"| {cell['workload']} | {racer['label']} | {median:.1f} | {best:.1f} | {peak:.1f} "
                             f"| **{median / peak:.0%}** | {best / peak:.0%} | **{paired:.0%}** |")
    for cell in cells:
        if cell.get("profiles"):
            from bench.profile_numpy import render as render_profile

            lines += ["", f"Where a NumPy training step of {cell['workload']} goes (ms per step, exclusive; the "
                      f"least disturbed of {PROFILE_EPOCHS} instrumented epochs each, profile_numpy.py):", ""]
            lines += render_profile(cell["profiles"], max(cell["peaks"]) if cell["peaks"] else None)
    return "\n".join(lines) + "\n"


#: the frameworks the table's header names, each with the pip distributions that install it
VERSIONED = {"numpy": ("numpy",), "torch": ("torch",), "tensorflow": ("tensorflow", "tensorflow-cpu")}


def machine_header(reps: int, cells: list[dict]) -> str:
    versions = []  # from the installed packages' metadata: importing TensorFlow here would take seconds
    for name, distributions in VERSIONED.items():
        for distribution in distributions:
            try:
                versions.append(f"{name} {metadata.version(distribution)}")
                break
            except metadata.PackageNotFoundError:
                pass
    epochs = ", ".join(sorted({f"{c['workload']}: {c['epochs']} epoch(s)" for c in cells}))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, CPU only; "
        f"Python {platform.python_version()}, {', '.join(versions)}. "
        f"Median of {reps} interleaved repetitions of fit() ({epochs} each), after a warm-up; "
        f"load average {load:.1f} at the end. Ratios above 1: the generated code is faster."
    )


# --- command line ---------------------------------------------------------------------------------


def child(args) -> None:
    """Measure one backend's cells and print them as JSON on stdout's last line."""
    workloads = load_workloads(args)
    cells = [cell for w in workloads for cell in measure(args.child, w, epochs_for(args, w), args.reps, args.compiled)]
    sys.stdout.flush()
    print("\n" + json.dumps(cells))


def load_workloads(args) -> list[Workload]:
    chosen = [WORKLOADS[name] for name in args.workload]
    if args.tiny:
        return [tiny(w, Path(args.tiny)) for w in chosen]
    return chosen


def epochs_for(args, workload: Workload) -> int:
    if args.epochs:
        return args.epochs
    if args.quick and not args.tiny:
        return QUICK_EPOCHS[workload.name]
    return workload.epochs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--workload", nargs="+", choices=sorted(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--reps", type=int, default=None, help="timed repetitions per contender (default 7, quick 2)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per repetition (default: the workload's)")
    parser.add_argument("--quick", action="store_true", help="few repetitions and epochs, no compiled variants")
    parser.add_argument("--no-compiled", dest="compiled", action="store_false",
                        help="leave out the torch.compile and XLA rows")
    parser.add_argument("--tiny", metavar="DIR", help="scaled-down workloads written to DIR (for tests)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"where the table goes (default {RESULTS})")
    parser.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reps is None:
        args.reps = 2 if args.quick else 7
    if args.quick:
        args.compiled = False
    if args.child:
        child(args)
        return 0

    cells = []
    with tempfile.TemporaryDirectory() as scratch:
        for backend in args.backend:
            command = [sys.executable, __file__, "--child", backend, "--workload", *args.workload,
                       "--reps", str(args.reps)]
            command += ["--quick"] * args.quick + ["--no-compiled"] * (not args.compiled)
            command += ["--epochs", str(args.epochs)] if args.epochs else []
            command += ["--tiny", str(Path(scratch) / backend)] if args.tiny else []
            print(f"measuring {backend} …", file=sys.stderr, flush=True)
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")  # TensorFlow's start-up chatter
            done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=False)
            if done.returncode != 0:
                print(f"{backend}: the measurement failed (exit {done.returncode})", file=sys.stderr)
                return 1
            cells += json.loads(done.stdout.strip().splitlines()[-1])
    table = render(cells, machine_header(args.reps, cells))
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table, encoding="utf-8")
    print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
