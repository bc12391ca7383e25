"""The machine's float32 matrix-product peak, as NumPy reaches it: the yardstick for the large net and the cnn.

The large workload's time is almost all matrix products, so the speed NumPy's BLAS reaches on
products of the same shapes, back to back on warm buffers with nothing else in between, is the
most an epoch can average. ``run.py`` reports the generated NumPy trainer's achieved GFLOP/s
(the epoch's matrix-product flops divided by its time) as a fraction of this. For the cnn the
shapes are its convolutions' im2col products (bench.workloads.Workload.products), and the
profile (profile_numpy.py) sets the products' own speed inside a step against the same peak.

    python bench/matmul_peak.py [--workload large|cnn] [--reps N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: `python bench/matmul_peak.py`
    sys.path.insert(0, str(ROOT))

from bench.workloads import CNN  # noqa: E402

#: (m, k, n) of C = A·B, the large products of one training step of the 784-1024-1024-10 net at
#: batch 256, in both ways of writing them: row form, x·Wᵀ and dz·W (256 rows), and column form,
#: W·xᵀ and Wᵀ·dzᵀ (1024 rows), which the NumPy trainers use; ∂L/∂W = dzᵀ·x is 1024×256 by
#: 256×784 or 256×1024 either way. The peak is the best of them all, whichever form is faster.
LARGE_NET_SHAPES = (
    (256, 784, 1024),
    (256, 1024, 1024),
    (1024, 784, 256),
    (1024, 1024, 256),
    (1024, 256, 1024),
    (1024, 256, 784),
)

#: the cnn's conv products at batch 64, as the generated NumPy code writes them: forward
#: patches·Wᵀ (one row per output cell: 64·26·26 by 3·3·1 for conv1, 64·11·11 by 3·3·32 for
#: conv2), ∂L/∂W = dzᵀ·patches, and conv2's ∂L/∂patches = dz·W.
CNN_SHAPES = tuple((m, k, n) for what, m, k, n in CNN.products(CNN.batch) if what.startswith("conv"))

#: the shapes whose best is each workload's peak
PEAK_SHAPES = {"large": LARGE_NET_SHAPES, "cnn": CNN_SHAPES}


def product_gflops(m: int, k: int, n: int, reps: int = 10, inner: int = 5) -> float:
    """Best GFLOP/s of `inner` back-to-back float32 products (m×k)·(k×n) into a preallocated result, over `reps`."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), dtype=np.float32)
    np.matmul(a, b, out=out)  # warm-up: BLAS threads started, pages touched
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(inner):
            np.matmul(a, b, out=out)
        best = min(best, (time.perf_counter() - start) / inner)
    return 2.0 * m * k * n / best / 1e9


def matmul_peak(shapes=LARGE_NET_SHAPES, reps: int = 10) -> dict[tuple[int, int, int], float]:
    """GFLOP/s per shape (the best of `reps`); the peak is the largest value."""
    return {shape: product_gflops(*shape, reps=reps) for shape in shapes}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=sorted(PEAK_SHAPES), default="large", help="whose shapes (default large)")
    parser.add_argument("--reps", type=int, default=10, help="repetitions per shape; the best counts (default 10)")
    args = parser.parse_args(argv)
    results = matmul_peak(PEAK_SHAPES[args.workload], reps=args.reps)
    for (m, k, n), gflops in results.items():
        print(f"{m:>5} x {k:<5} @ {k:>5} x {n:<5}  {gflops:8.1f} GFLOP/s")
    print(f"peak: {max(results.values()):.1f} GFLOP/s (float32, NumPy {np.__version__})")


if __name__ == "__main__":
    main()
