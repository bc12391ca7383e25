"""Where a NumPy training step of an image workload goes: the conv products, the im2col copies, the
col2im adds, max pooling, bias and ReLU, the dense layers and loss, the SGD update, and the rest.

One epoch of ``train_epoch()`` (no validation) is timed with every op of the trainer wrapped in a
timer: for the generated trainer the op functions of its module (``conv2d_forward``,
``maxpool_backward``, …, and its optimizer's ``step``), for the hand-written ``NumpyCNN`` its
methods (``_im2col``, ``_pool``, ``_route``, …). ``np.matmul`` is timed inside them too, so a conv
layer's products are told from its copies, and each product's shape gives its flops: the conv
products' own GFLOP/s inside a step, to set against the matmul peak of the same shapes. The times
are exclusive (an op's own, without the ops and products it calls); what no op covers (gathering
the batch, the training loop, the metric sums) is "the rest". A wrapped call costs about a
microsecond, a few hundred of them a step.

    python bench/profile_numpy.py [--epochs N]     # the cnn workload, generated against hand-written
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: `python bench/profile_numpy.py`
    sys.path.insert(0, str(ROOT))

CONV_PRODUCTS = "conv products (im2col matmuls)"
IM2COL = "im2col (patch copies)"
COL2IM = "col2im (∂L/∂x adds, fills)"
POOLING = "max pooling (forward, routing back)"
BIAS_RELU = "bias, ReLU, ReLU′, ∂L/∂b"
DENSE = "flatten, dense layer, loss"
OPTIMIZER = "SGD update"
REST = "the rest (batch gather, loop)"
CATEGORIES = (CONV_PRODUCTS, IM2COL, COL2IM, POOLING, BIAS_RELU, DENSE, OPTIMIZER, REST)
#: for graphs (rescnn), shown where a trainer spends time in them
RESIDUAL_ADD = "residual adds (forward)"
PATH_SUM = "gradient sums over the paths (backward)"
GLOBAL_POOL = "global average pooling"
GRAPH_CATEGORIES = (RESIDUAL_ADD, PATH_SUM, GLOBAL_POOL)

#: the generated program's functions: category, and whether its products are a conv's
GENERATED_OPS = {
    "conv2d_patches": (IM2COL, True),
    "conv2d_patches_by_weight": (IM2COL, True),
    "conv2d_forward": (BIAS_RELU, True),  # its own time: the bias add after the product
    "conv2d_backward": (COL2IM, True),  # its own time: nothing but its calls
    "conv2d_backward_pooled": (COL2IM, True),  # its own time: dz copied into image order for ∂L/∂x
    "conv2d_input_gradient": (COL2IM, True),  # its own time: the ∂L/∂x adds into a zeroed buffer
    "relu_forward": (BIAS_RELU, False),
    "relu_backward": (BIAS_RELU, False),
    "maxpool_forward": (POOLING, False),
    "maxpool_backward": (POOLING, False),
    "maxpool_blocks_forward": (POOLING, False),
    "maxpool_blocks_backward": (POOLING, False),
    "flatten_forward": (DENSE, False),
    "flatten_backward": (DENSE, False),
    "dense_forward": (DENSE, False),
    "dense_backward": (DENSE, False),
    "softmax_categorical_crossentropy": (DENSE, False),
    "add_forward": (RESIDUAL_ADD, False),
    "sum_of_paths": (PATH_SUM, False),
    "global_avgpool_forward": (GLOBAL_POOL, False),
    "global_avgpool_backward": (GLOBAL_POOL, False),
}

#: NumpyCNN's methods, the same way
HAND_OPS = {
    "_im2col": (IM2COL, True),
    "_conv_pool": (BIAS_RELU, True),  # its own time: bias and ReLU on the pooled cells
    "_pool": (POOLING, True),
    "_route": (POOLING, True),
    "_backward_conv": (BIAS_RELU, True),  # its own time: ReLU′ and ∂L/∂b
    "_input_gradient": (COL2IM, True),
    "_forward": (DENSE, False),
    "_backward_dense": (DENSE, False),
    "_update": (OPTIMIZER, False),
}

#: NumpyResidualCNN's methods and its module's functions (in the module's namespace); `_forward`'s
#: own time is the ReLUs (into the padded buffers), the input copy, global pooling and the dense layer
HAND_RESIDUAL_METHODS = {
    "_conv": (IM2COL, True),  # its own time: the patch copy and the bias add after the product
    "_conv_backward": (COL2IM, True),
    "_shortcut_backward": (COL2IM, True),
    "_block_backward": (COL2IM, False),  # its own time: the fill of ∂L/∂h
    "_forward": (BIAS_RELU, False),
    "_backward": (DENSE, False),
    "_update": (OPTIMIZER, False),
}
HAND_RESIDUAL_FUNCTIONS = {
    "residual_add": (RESIDUAL_ADD, False),
    "sum_of_paths": (PATH_SUM, False),
    "start_from_identity": (PATH_SUM, False),
    "start_from_shortcut": (PATH_SUM, False),
    "relu_gradient_into": (BIAS_RELU, False),
    "softmax_loss": (DENSE, False),
}


class Profile:
    """Exclusive seconds per category, and the conv products' flops, over the wrapped calls."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.conv_flops = 0.0
        self._stack = []  # [category, inside a conv op, seconds of the calls it made]

    def wrap(self, function, category, conv):
        def timed(*args, **kwargs):
            caller = self._stack[-1][0] if self._stack else None
            # an op a graph op calls (the generated sum_of_paths calls add_forward) counts as its caller
            own = caller if caller in GRAPH_CATEGORIES else category
            frame = [own, conv or bool(self._stack and self._stack[-1][1]), 0.0]
            self._stack.append(frame)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._close(frame, time.perf_counter() - start)
        return timed

    def _close(self, frame, elapsed):
        self._stack.pop()
        self.seconds[frame[0]] += elapsed - frame[2]
        if self._stack:
            self._stack[-1][2] += elapsed

    def matmul(self, a, b, *args, **kwargs):
        """np.matmul, timed: a conv op's products (not its 1ᵀ·dz bias sums) are conv products."""
        outer = self._stack[-1] if self._stack else [REST, False, 0.0]
        is_conv_product = outer[1] and np.ndim(a) == 2
        frame = [CONV_PRODUCTS if is_conv_product else outer[0], outer[1], 0.0]
        self._stack.append(frame)
        start = time.perf_counter()
        try:
            return np.matmul(a, b, *args, **kwargs)
        finally:
            self._close(frame, time.perf_counter() - start)
            if is_conv_product:
                self.conv_flops += 2.0 * a.shape[0] * a.shape[1] * b.shape[-1]


class _TimedNumpy:
    """Stands in for `np` in a profiled module: np.matmul timed, everything else NumPy's own."""

    def __init__(self, profile: Profile):
        self.matmul = profile.matmul

    def __getattr__(self, name):
        return getattr(np, name)


@contextmanager
def _patched(namespace: dict, replacements: dict):
    saved = {name: namespace[name] for name in replacements}
    namespace.update(replacements)
    try:
        yield
    finally:
        namespace.update(saved)


@contextmanager
def instrumented(trainer, profile: Profile):
    """Wrap the ops of `trainer` (a generated NumPy Trainer or a NumpyCNN) while the block runs."""
    from bench import hand_numpy, hand_numpy_residual

    if isinstance(trainer, hand_numpy_residual.ResidualTrainer):
        module = vars(hand_numpy_residual)
        replacements = {"np": _TimedNumpy(profile)}
        replacements |= {name: profile.wrap(module[name], *where) for name, where in HAND_RESIDUAL_FUNCTIONS.items()}
        methods = {name: profile.wrap(getattr(trainer, name), *where) for name, where in HAND_RESIDUAL_METHODS.items()
                   if hasattr(trainer, name)}
        with _patched(module, replacements):
            vars(trainer).update(methods)
            try:
                yield
            finally:
                for name in methods:
                    delattr(trainer, name)
        return
    if isinstance(trainer, hand_numpy.NumpyCNN):
        module = vars(hand_numpy)
        replacements = {"np": _TimedNumpy(profile), "softmax_loss": profile.wrap(module["softmax_loss"], DENSE, False)}
        methods = {name: profile.wrap(getattr(trainer, name), *where) for name, where in HAND_OPS.items()}
        with _patched(module, replacements):
            vars(trainer).update(methods)  # instance attributes shadow the methods
            try:
                yield
            finally:
                for name in methods:
                    delattr(trainer, name)
        return
    module = type(trainer).train_step.__globals__  # the generated module's namespace
    replacements = {"np": _TimedNumpy(profile)}
    for name, (category, conv) in GENERATED_OPS.items():
        if name in module:  # a function no layer calls is left out of the module
            replacements[name] = profile.wrap(module[name], category, conv)
    optimizer = trainer.optimizer
    with _patched(module, replacements):
        optimizer.step = profile.wrap(optimizer.step, OPTIMIZER, False)
        try:
            yield
        finally:
            del optimizer.step


def profile_epoch(trainer, steps: int) -> dict:
    """One instrumented training epoch of `trainer` (`steps` batches): ms per step by category, the
    step's ms, and the conv products' GFLOP/s."""
    profile = Profile()
    with instrumented(trainer, profile):
        start = time.perf_counter()
        trainer.train_epoch()
        total = time.perf_counter() - start
    seconds = dict(profile.seconds)
    seconds[REST] = total - sum(v for k, v in seconds.items() if k != REST)
    return {
        "step_ms": 1e3 * total / steps,
        "ms": {category: 1e3 * seconds.get(category, 0.0) / steps for category in CATEGORIES + GRAPH_CATEGORIES},
        "conv_gflops": profile.conv_flops / seconds[CONV_PRODUCTS] / 1e9 if seconds.get(CONV_PRODUCTS) else None,
    }


def profile_trainers(trainers: dict, steps: int, epochs: int = 3) -> dict:
    """{label: the profile of its least disturbed epoch} over `epochs` instrumented epochs of each
    trainer, taken in turns."""
    runs = defaultdict(list)
    for _ in range(epochs):
        for label, trainer in trainers.items():
            runs[label].append(profile_epoch(trainer, steps))
    return {label: min(found, key=lambda run: run["step_ms"]) for label, found in runs.items()}


def render(profiles: dict, peak: float | None = None) -> list[str]:
    """Markdown lines: ms per step and share by category for each trainer, then the products' speed."""
    labels = list(profiles)
    lines = ["| part of the step | " + " | ".join(f"{label} ms | share" for label in labels) + " |",
             "| --- |" + " ---: | ---: |" * len(labels)]
    shown = CATEGORIES + tuple(c for c in GRAPH_CATEGORIES if any(profiles[label]["ms"][c] for label in labels))
    for category in shown:
        cells = [f"{profiles[label]['ms'][category]:.2f} | {profiles[label]['ms'][category] / profiles[label]['step_ms']:.0%}"
                 for label in labels]
        lines.append(f"| {category} | " + " | ".join(cells) + " |")
    lines.append("| **step** | " + " | ".join(f"**{profiles[label]['step_ms']:.2f}** | 100%" for label in labels) + " |")
    rates = []
    for label in labels:
        gflops = profiles[label]["conv_gflops"]
        if gflops is not None:
            rates.append(f"{label} {gflops:.0f} GFLOP/s" + (f" ({gflops / peak:.0%} of the peak)" if peak else ""))
    if rates:
        where = f", against a float32 matmul peak of {peak:.0f} GFLOP/s on the same shapes back to back" if peak else ""
        lines += ["", f"Conv products inside the step (the flops each trainer runs): {'; '.join(rates)}{where}."]
    return lines


def main(argv=None) -> None:
    from bench import run
    from bench.matmul_peak import CNN_SHAPES, matmul_peak
    from bench.workloads import CNN

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="instrumented epochs each; the fastest counts (default 3)")
    args = parser.parse_args(argv)
    trainers = {"generated": run.generated_module(CNN, "numpy").make_trainer(),
                "hand NumPy": run.hand_reference("hand NumPy", CNN)}
    for trainer in trainers.values():
        trainer.fit(1)  # warm: buffers allocated, pages touched
    steps = -(-len(CNN.load().x_train) // CNN.batch)
    profiles = profile_trainers(trainers, steps, args.epochs)
    print("\n".join(render(profiles, max(matmul_peak(CNN_SHAPES, reps=3).values()))))


if __name__ == "__main__":
    main()
