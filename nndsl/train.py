"""`nndsl train`: build the generated program, train it with a progress bar, keep the results.

The output folder receives weights.npz (IR names, lecture layout), history.json
(Keras's History layout), checkpoint.npz (and checkpoint.prev.npz), model.py
(the generated program) and the plots: loss.png, and for 2-D inputs
decision_boundary.png (for 1-D inputs, fit.png); for images, predictions.png (validation
images, true and predicted classes, the mistakes first), confusion.png and filters.png (the
first conv layer's filters).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

from nndsl import ir
from nndsl.errors import SpecError, visible
from nndsl.files import remove_stale_temps, write_atomic
from nndsl.resources import resource_dir


def _run_lines():
    """templates/common/progress.py, which every generated program carries: one format for both."""
    path = resource_dir("templates") / "common" / "progress.py"
    spec = importlib.util.spec_from_file_location("nndsl_run_lines", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_LINES = _run_lines()
duration = _LINES.duration

# Everything a run writes into --out (each through write_atomic, so a kill leaves old or new files).
OUTPUT_FILES = ("checkpoint.npz", "checkpoint.prev.npz", "weights.npz", "history.json", "model.py",
                "loss.png", "decision_boundary.png", "fit.png", "predictions.png", "confusion.png", "filters.png")


class TrainError(Exception):
    """Training could not start or stopped on a user-facing problem."""


def default_out_dir(program: ir.Program) -> Path:
    """runs/<the spec's stem>; a stem of '.' or '..' (a spec named '...nn') would leave runs/."""
    stem = Path(program.filename).stem if program.filename != "<spec>" else "spec"
    return Path("runs") / (stem if stem.strip(".") else "spec")


def prepare_out_dir(out: Path, resume: bool) -> list[Path]:
    """Check --out before any training: a folder this run can write into (created if missing); to
    resume, an existing one holding a checkpoint (nothing is created then if it is not there).
    Returns the folders it created, outermost first: a run that fails before writing anything
    removes them again (remove_if_empty), so that a bad data file leaves no empty --out behind."""
    try:
        if out.exists() and not out.is_dir():
            raise TrainError(f"--out {out} exists and is not a folder")
        created = []
        if resume and not (out / "checkpoint.npz").exists() and not (out / "checkpoint.prev.npz").exists():
            raise TrainError(f"nothing to resume: no checkpoint.npz in {out}")
        if not resume:
            created = [folder for folder in reversed([out, *out.parents]) if not folder.exists()]
    except OSError as error:  # a name too long for the file system, a folder that cannot be searched
        raise TrainError(f"cannot use --out {out}: {error.strerror or error}") from None
    if not resume:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise TrainError(f"cannot create {out}: {error.strerror or error}") from None
    try:
        with tempfile.TemporaryFile(dir=out):  # tried, not guessed from permissions (root ignores those)
            pass
        for name in OUTPUT_FILES:
            remove_stale_temps(out, name)
    except OSError as error:
        remove_if_empty(created)
        raise TrainError(f"cannot write in {out}: {error.strerror or error}") from None
    return created


def remove_if_empty(folders: list[Path]) -> None:
    """Remove the folders prepare_out_dir created, innermost first, as long as they are empty."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:  # something was written there (a checkpoint before a divergence), or it is gone
            return


def with_overrides(program: ir.Program, args) -> ir.Program:
    """The program as this run trains it: --seed, --epochs and --checkpoint-every in place of the
    spec's, so that the model.py saved with the results reproduces the run. The data seed stays the
    spec's (the training seed stands in for a missing one): --seed changes no data."""
    train = program.train
    changes = {"seed": args.seed, "epochs": args.epochs, "checkpoint_every": args.checkpoint_every}
    changes = {key: value for key, value in changes.items() if value is not None and value != getattr(train, key)}
    if not changes:
        return program
    data = program.data
    if data is not None and data.seed is None:
        data = dataclasses.replace(data, seed=program.data_seed)
    overridden = tuple((key, getattr(train, key)) for key in changes)
    return dataclasses.replace(program, data=data, train=dataclasses.replace(train, **changes, overridden=overridden))


class Progress:
    """A one-line progress bar per epoch on a terminal; one summary line per epoch always."""

    def __init__(self, total_epochs: int, stream=None, quiet: bool = False) -> None:
        self.total = total_epochs
        self.stream = stream if stream is not None else sys.stderr  # the current one, not the one at import
        self.quiet = quiet
        self.live = not quiet and self.stream.isatty()
        self.started = time.perf_counter()
        self.epoch = 0

    def on_batch(self, done: int, total: int, loss=None) -> None:
        if not self.live:
            return
        width = 30
        filled = int(width * done / total)
        bar = "=" * filled + (">" if filled < width else "") + " " * (width - filled - 1)
        self.stream.write(f"\repoch {self.epoch + 1}/{self.total} [{bar[:width]}] {done}/{total}")
        self.stream.flush()

    def on_epoch(self, epoch: int, logs: dict) -> None:
        self.epoch = epoch
        elapsed = time.perf_counter() - self.started
        self.started = time.perf_counter()
        if self.quiet:
            return
        clear = "\r\033[K" if self.live else ""
        self.stream.write(f"{clear}{_LINES.epoch_line(epoch, self.total, elapsed, logs)}\n")
        self.stream.flush()


def run_training(program: ir.Program, args) -> int:
    """Carry out `nndsl train` for a checked program; returns the exit status."""
    from nndsl.codegen import generate, load_module

    if program.train is None or program.data is None or program.loss is None:
        raise SpecError(
            "nothing to train: the spec needs data, loss and train blocks",
            filename=program.filename,
        )
    out = Path(args.out) if args.out else default_out_dir(program)
    data_dir = str(Path(program.filename).resolve().parent) if program.filename != "<spec>" else "."
    program = with_overrides(program, args)
    created: list[Path] = []
    nproc = getattr(args, "nproc", 1)
    try:
        launch = _launcher(args.backend, nproc) if nproc > 1 else None
        source = generate(program, backend=args.backend, target=args.target, data_dir=data_dir)
        created = prepare_out_dir(out, args.resume)
        if launch is not None:  # the workers train and the chief writes; nndsl adds model.py and plots
            status = launch(program, args, source, out, args.resume)
            if status:
                remove_if_empty(created)
            return status
        module = load_module(source)
        trainer = _make_trainer(module, program.seed)
        checkpoint = out / "checkpoint.npz"
        last = program.train.epochs
        if args.resume:
            trainer.restore(checkpoint)
            if trainer.epoch > last:
                given = f"--epochs {last}" if args.epochs else f"the spec's {last} epochs"
                raise TrainError(f"the checkpoint in {out} is at epoch {trainer.epoch} already, past {given}; "
                                 f"resume with --epochs {trainer.epoch} or more")
            print(f"resuming at epoch {trainer.epoch} from {visible(str(checkpoint))}", file=sys.stderr)
        else:
            earlier = [out / name for name in ("checkpoint.npz", "checkpoint.prev.npz") if (out / name).exists()]
            for path in earlier:
                path.unlink()
            if earlier:
                print(f"note: a fresh run: removed the checkpoint of an earlier run in {visible(str(out))} "
                      "(--resume would have continued it)", file=sys.stderr)
        every = program.train.checkpoint_every or 10
        progress = Progress(last, quiet=args.quiet)
        progress.epoch = trainer.epoch
        with _quiet_float_errors():  # a diverging run ends in one clear TrainingDiverged, not in warnings
            trainer.fit(
                last - trainer.epoch,
                on_epoch=progress.on_epoch,
                # Per-batch calls only where a progress bar shows them: without on_batch, a backend
                # may run a whole epoch in one call (TensorFlow does, in one graph).
                on_batch=progress.on_batch if progress.live else None,
                checkpoint=checkpoint,
                checkpoint_every=every,
            )
    except TrainError as error:
        remove_if_empty(created)
        print(f"nndsl: error: {visible(str(error))}", file=sys.stderr)
        return 1
    except Exception as error:  # errors the generated program defines for user-facing problems
        if type(error).__name__ in ("DataError", "CheckpointError", "TrainingDiverged", "DeviceError"):
            remove_if_empty(created)
            print(f"nndsl: error: {visible(str(error))}", file=sys.stderr)
            return 1
        raise
    if program.train.early_stopping is not None and trainer.early_stopping.stopped_epoch is not None:
        print(visible(trainer.early_stopping.report()))
    if program.validates:  # `split 1` holds nothing out: the last epoch's line is the run's result
        print(_LINES.validation_line(trainer.evaluate()))
    try:
        trainer.save(out / "weights.npz")
        write_atomic(out / "history.json", json.dumps(trainer.history, indent=1) + "\n")
        write_atomic(out / "model.py", source)
        if not args.no_plots:
            from nndsl.plots import plot_run

            plot_run(program, module, trainer, out)
    except OSError as error:  # a full disk, a folder made read-only while training
        print(f"nndsl: error: cannot write in {visible(str(out))}: {error.strerror or error}", file=sys.stderr)
        return 1
    plots = "" if args.no_plots else " and plots"
    print(f"saved weights.npz, history.json, checkpoint.npz, model.py{plots} in {visible(str(out))}")
    return 0


def _launcher(backend: str, nproc: int):
    """The function that trains on `nproc` local processes for `backend` (nndsl train --nproc)."""
    if backend == "tensorflow":
        from nndsl.launch_tensorflow import train_on_workers

        return train_on_workers
    raise TrainError(f"--nproc {nproc}: -b {backend} trains in one process; several need -b tensorflow")


def _quiet_float_errors():
    """NumPy's overflow warnings off while training: every backend checks the loss for NaN/Inf itself."""
    import numpy as np

    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def _make_trainer(module, seed: int):
    return module.make_trainer(seed=seed)
