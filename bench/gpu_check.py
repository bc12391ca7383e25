"""The GPU check: one prepared script for a machine with an NVIDIA GPU (issue 20).

    python bench/gpu_check.py                  # everything the GPU(s) here allow
    python bench/gpu_check.py --epochs 3 --reps 5
    python bench/gpu_check.py --device cpu     # the same checks on the CPU (a dry run of the script)

1. Every example spec (specs/*.nn with a train block) on torch and TensorFlow, compiled with
   `-t gpu`, against the NumPy reference: the outputs of the initial weights on the validation
   set within the cross-backend tolerance of the tests (rtol 1e-4, atol 1e-6 × max(1, |max|):
   tests/test_torch_backend.py, tests/test_tensorflow_backend.py) and the history of `--epochs`
   epochs within 1e-3 relative (tests/test_image_backends.py's whole-training tolerance).
   TF32 is switched off in both frameworks first (RESEARCH.md: it is on by default for Ampere and
   newer, and would part the numbers by about 1e-3 per product).
2. The large MLP and the CNN benchmarks (bench/workloads.py) trained on the GPU by the generated
   torch and TensorFlow programs and by the hand-written references (bench/hand_torch.py,
   bench/hand_tf_keras.py): samples/second, their ratio, and that both reach the same history.
3. Two-GPU data parallelism (torch DDP): `nndsl train specs/checkerboard.nn -b torch -t gpu --nproc 2`
   against one process, the weights within OUTPUT_RTOL; skipped with fewer than two GPUs
   (--device cpu runs it as 2 CPU processes).

Without a CUDA GPU (for torch and for TensorFlow alike) it says so and exits 0 having checked
nothing; --require-gpu makes that exit status 1. A failed check exits 1. The report is printed
and written to bench/results/gpu_check.md (--report).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: `python bench/gpu_check.py`
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

REPORT = ROOT / "bench" / "results" / "gpu_check.md"
OUTPUT_RTOL = 1e-4
OUTPUT_ATOL_OF_SCALE = 1e-6
HISTORY_RTOL = 1e-3


# --- what is here -------------------------------------------------------------------------------


def torch_gpus() -> tuple[int, str]:
    """(GPUs torch sees, a line saying what it found)."""
    try:
        import torch
    except ImportError:
        return 0, "torch is not installed"
    if not torch.cuda.is_available():
        build = "a CPU build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}, no GPU visible"
        return 0, f"torch {torch.__version__}: {build}"
    names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    return torch.cuda.device_count(), f"torch {torch.__version__} (CUDA {torch.version.cuda}): {names}"


def tensorflow_gpus() -> tuple[int, str]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError:
        return 0, "tensorflow is not installed"
    gpus = tf.config.list_physical_devices("GPU")
    built = "built with CUDA" if tf.test.is_built_with_cuda() else "a CPU build"
    return len(gpus), f"tensorflow {tf.__version__} ({built}): {len(gpus)} GPU(s)"


def no_tf32() -> None:
    """Full float32 products: TF32 would part GPU numbers from NumPy's by far more than rounding."""
    try:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    except ImportError:
        pass
    try:
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(False)
    except ImportError:
        pass


# --- 1. every example spec against NumPy ----------------------------------------------------------


def example_specs(only: list[str] | None) -> list[Path]:
    import nndsl

    specs = []
    for path in sorted((ROOT / "specs").glob("*.nn")):
        if only and path.stem not in only:
            continue
        program = nndsl.load(path)
        if program.train is not None and program.data is not None:
            specs.append(path)
    return specs


def build(path: Path, backend: str, target: str):
    import nndsl

    return nndsl.build(nndsl.load(path), backend=backend, target=target, data_dir=str(path.parent))


def compare_outputs(actual, expected) -> float:
    """The largest |actual − expected| over the allowed difference (≤ 1 passes)."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise AssertionError(f"shape {actual.shape}, NumPy's {expected.shape}")
    atol = OUTPUT_ATOL_OF_SCALE * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    return float(np.max(np.abs(actual - expected) / (atol + OUTPUT_RTOL * np.abs(expected)), initial=0.0))


def compare_histories(actual: dict, expected: dict) -> float:
    """The largest relative difference of any history entry (≤ HISTORY_RTOL passes)."""
    if sorted(actual) != sorted(expected):
        raise AssertionError(f"history keys {sorted(actual)}, NumPy's {sorted(expected)}")
    worst = 0.0
    for key, values in expected.items():
        a, e = np.asarray(actual[key], dtype=np.float64), np.asarray(values, dtype=np.float64)
        if a.shape != e.shape:
            raise AssertionError(f"{key}: {a.size} epochs, NumPy's {e.size}")
        worst = max(worst, float(np.max(np.abs(a - e) / np.maximum(np.abs(e), 1e-12), initial=0.0)))
    return worst


def check_examples(specs: list[Path], backends: list[str], target: str, epochs: int) -> tuple[list[str], bool]:
    rows = ["| spec | backend | outputs (≤ 1 passes) | history max rel. diff (≤ 1e-3) | result |",
            "| --- | --- | --- | --- | --- |"]
    ok = True
    for path in specs:
        reference = build(path, "numpy", "cpu")
        x_val = reference.data.x_val
        expected_outputs = reference.predict(x_val)
        expected_history = reference.fit(epochs=epochs)
        for backend in backends:
            try:
                trainer = build(path, backend, target)
                outputs = compare_outputs(trainer.predict(x_val), expected_outputs)
                history = compare_histories(trainer.fit(epochs=epochs), expected_history)
                passed = outputs <= 1.0 and history <= HISTORY_RTOL
                cells = [f"{outputs:.3g}", f"{history:.2e}", "pass" if passed else "**FAIL**"]
            except Exception as error:  # a check that cannot run is a failed check, with its reason
                passed = False
                cells = ["-", "-", f"**ERROR** {type(error).__name__}: {str(error).splitlines()[0][:120]}"]
                traceback.print_exc()
            ok = ok and passed
            rows.append(f"| {path.name} | {backend} | " + " | ".join(cells) + " |")
            print(rows[-1], flush=True)
    return rows, ok


# --- 2. the large MLP and the CNN against hand-written code on the GPU --------------------------------


def generated_trainer(workload, backend: str, target: str):
    import nndsl
    from nndsl.codegen import load_module

    module = load_module(nndsl.generate(nndsl.load(workload.spec), backend=backend, target=target))
    return module.make_trainer()


def hand_trainer(workload, backend: str, device: str):
    from bench import hand_tf_keras, hand_torch

    args = workload.reference_args()
    if backend == "torch":
        cls = hand_torch.TorchCNN if workload.kind == "cnn" else hand_torch.TorchMLP
        return cls(*args, device=device)
    cls = hand_tf_keras.KerasCNN if workload.kind == "cnn" else hand_tf_keras.KerasMLP
    return cls(*args, order="nndsl")  # nndsl's batch order, so that the histories can be compared


def synchronize(backend: str) -> None:
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


def timed(trainer, backend: str, epochs: int) -> float:
    synchronize(backend)
    start = time.perf_counter()
    trainer.fit(epochs)
    synchronize(backend)
    return time.perf_counter() - start


def check_benchmarks(backends: list[str], target: str, device: str, epochs: int, reps: int) -> tuple[list[str], bool]:
    from bench.workloads import CNN, LARGE

    rows = ["| workload | backend | generated samples/s | hand-written samples/s | generated / hand | "
            "same history (rel. diff) |", "| --- | --- | --- | --- | --- | --- |"]
    ok = True
    for workload in (LARGE, CNN):
        samples = len(workload.load().x_train) * epochs
        for backend in backends:
            try:
                ours, theirs = generated_trainer(workload, backend, target), hand_trainer(workload, backend, device)
                ours_history, theirs_history = ours.fit(epochs), theirs.fit(epochs)  # warm-up; also the check
                keys = ("loss", "val_loss")
                diff = max(float(np.max(np.abs(np.subtract(ours_history[k], theirs_history[k]))
                                        / np.abs(theirs_history[k]))) for k in keys)
                ours_times, theirs_times = [], []
                for rep in range(reps):  # interleaved, alternating who goes first
                    pair = [(ours, ours_times), (theirs, theirs_times)]
                    for trainer, times in pair if rep % 2 == 0 else pair[::-1]:
                        times.append(timed(trainer, backend, epochs))
                mine, hand = samples / statistics.median(ours_times), samples / statistics.median(theirs_times)
                passed = diff <= HISTORY_RTOL
                cells = [f"{mine:,.0f}", f"{hand:,.0f}", f"{mine / hand:.2f}",
                         f"{diff:.1e} {'pass' if passed else '**FAIL**'}"]
            except Exception as error:
                passed = False
                cells = ["-", "-", "-", f"**ERROR** {type(error).__name__}: {str(error).splitlines()[0][:120]}"]
                traceback.print_exc()
            ok = ok and passed
            rows.append(f"| {workload.name} | {backend} | " + " | ".join(cells) + " |")
            print(rows[-1], flush=True)
    return rows, ok


# --- 3. two GPUs ---------------------------------------------------------------------------------------


def check_ddp(target: str, gpus: int, epochs: int) -> tuple[list[str], bool]:
    """checkerboard.nn trained by `nndsl train -b torch --nproc 2` against one process in this one."""
    if target == "gpu" and gpus < 2:
        return [f"2-GPU DDP: skipped ({gpus} GPU{'s' if gpus != 1 else ''} here; it needs 2)."], True
    import nndsl

    spec = ROOT / "specs" / "checkerboard.nn"
    with tempfile.TemporaryDirectory(prefix="gpu-check-ddp-") as folder:
        run = subprocess.run([sys.executable, "-m", "nndsl", "train", str(spec), "-b", "torch", "-t", target,
                              "--nproc", "2", "--epochs", str(epochs), "--out", folder, "--no-plots", "--quiet"],
                             capture_output=True, text=True, cwd=ROOT)
        if run.returncode != 0:
            return [f"2-process DDP ({target}): fail: {(run.stderr.strip().splitlines() or ['no message'])[-1]}"], False
        ranks = dict(np.load(Path(folder) / "weights.npz"))
    trainer = nndsl.build(nndsl.load(spec), backend="torch", target=target)
    trainer.fit(epochs=epochs)
    one = trainer.get_weights()
    worst = max(float(np.max(np.abs(ranks[name] - value))) / max(1.0, float(np.max(np.abs(value))))
                for name, value in one.items())
    ok = all(np.allclose(ranks[name], value, rtol=OUTPUT_RTOL, atol=OUTPUT_ATOL_OF_SCALE) for name, value in one.items())
    return [f"2-process DDP ({target}): {'pass' if ok else 'FAIL'}: checkerboard.nn, {epochs} epoch(s), the weights "
            f"of 2 processes against one within rtol {OUTPUT_RTOL:g} (largest difference {worst:.1e} of max(1, |W|))."], ok


# --- the report --------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("gpu", "cpu"), default="gpu",
                        help="gpu (default); cpu runs the same checks on the CPU, to try the script")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per example spec and per timed benchmark fit")
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions per benchmark")
    parser.add_argument("--spec", action="append", metavar="NAME", help="only these example specs (by stem)")
    parser.add_argument("--backend", action="append", choices=("torch", "tensorflow"),
                        help="only this framework (default: both)")
    parser.add_argument("--no-bench", action="store_true", help="skip the benchmarks (part 2)")
    parser.add_argument("--require-gpu", action="store_true", help="exit 1 if no CUDA GPU is here")
    parser.add_argument("--report", type=Path, default=REPORT, help="where the report goes (default: %(default)s)")
    args = parser.parse_args(argv)

    torch_count, torch_line = torch_gpus()
    tf_count, tf_line = tensorflow_gpus()
    print(f"gpu_check: {torch_line}; {tf_line}", flush=True)
    if args.device == "gpu":
        backends = [name for name, count in (("torch", torch_count), ("tensorflow", tf_count)) if count]
        if not backends:
            print("gpu_check: no CUDA GPU here (neither torch nor TensorFlow sees one), so nothing was checked. "
                  "Run it on a machine with an NVIDIA GPU and the CUDA builds of torch and TensorFlow.")
            return 1 if args.require_gpu else 0
        target, device = "gpu", "cuda"
    else:
        backends = [name for name, line in (("torch", torch_line), ("tensorflow", tf_line))
                    if "not installed" not in line]
        target, device = "cpu", "cpu"
    backends = [name for name in backends if not args.backend or name in args.backend]
    no_tf32()
    started = time.perf_counter()
    lines = [f"# GPU check ({args.device})", "", f"- machine: {platform.node()}, {platform.platform()}",
             f"- {torch_line}", f"- {tf_line}", f"- epochs: {args.epochs}, benchmark repetitions: {args.reps}", "",
             "## Example specs against NumPy", ""]
    rows, examples_ok = check_examples(example_specs(args.spec), backends, target, args.epochs)
    lines += rows
    bench_ok = True
    if not args.no_bench:
        lines += ["", "## Large MLP and CNN against hand-written code", ""]
        rows, bench_ok = check_benchmarks(backends, target, device, args.epochs, args.reps)
        lines += rows
    ddp_ok = True
    if "torch" in backends:
        ddp_lines, ddp_ok = check_ddp(target, torch_count, args.epochs)
        lines += ["", "## Two GPUs", "", *ddp_lines]
    lines += ["", f"Took {time.perf_counter() - started:.0f} s."]
    text = "\n".join(lines) + "\n"
    print(text)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text, encoding="utf-8")
    print(f"gpu_check: report written to {args.report}")
    return 0 if examples_ok and bench_ok and ddp_ok else 1


if __name__ == "__main__":
    sys.exit(main())
