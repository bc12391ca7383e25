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
from pathlib import Path

from nndsl import ir
from nndsl.errors import SpecError, visible
from nndsl.files import remove_stale_temps, write_atomic
from nndsl.launch import LAUNCHERS, LaunchError, launcher, one_process
from nndsl.resources import resource_dir


def _common_snippet(name: str):
    """templates/common/<name>, which every generated program carries: one behaviour for both."""
    path = resource_dir("templates") / "common" / name
    spec = importlib.util.spec_from_file_location(f"nndsl_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_LINES = _common_snippet("progress.py")  # the epoch lines and the live bar
_TENSORBOARD = _common_snippet("tensorboard.py")
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


def run_training(program: ir.Program, args) -> int:
    """Carry out `nndsl train` for a checked program; returns the exit status. nndsl's own process
    trains in one process, whatever TF_CONFIG or WORLD_SIZE say (launch.one_process)."""
    with one_process() as ignored:
        ours = LAUNCHERS[args.backend].variables if args.backend in LAUNCHERS else ()
        ignored = [name for name in ignored if name in ours]
        if ignored and getattr(args, "nproc", None) is None and not args.quiet:
            print(f"note: nndsl train trains in one process: it ignores {' and '.join(ignored)} in the environment "
                  "(--nproc N starts N processes; the generated program, run by hand, reads it)", file=sys.stderr)
        return _run_training(program, args)


def _run_training(program: ir.Program, args) -> int:
    from nndsl.codegen import generate, load_module

    if program.train is None or program.data is None or program.loss is None:
        raise SpecError(
            "nothing to train: the spec needs data, loss and train blocks",
            filename=program.filename,
        )
    out = Path(args.out) if args.out else default_out_dir(program)
    data_dir = str(Path(program.filename).resolve().parent) if program.filename != "<spec>" else "."
    program = with_overrides(program, args)
    nproc = getattr(args, "nproc", None)  # (nndsl sweep's runs have no --nproc)
    created: list[Path] = []
    try:
        # (under --nproc the ranks write the event files: rank 0, the chief, does)
        board = _TENSORBOARD.TensorBoardLog(args.tensorboard) if args.tensorboard and nproc is None else None
        launch = launcher(args.backend) if nproc is not None else None  # a backend without one: refused first
        source = generate(program, backend=args.backend, target=args.target, data_dir=data_dir)
        created = prepare_out_dir(out, args.resume)
        if launch is not None:
            return _train_in_processes(program, args, source, out, launch, nproc)
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
        _fit(trainer, last, checkpoint, program.train.checkpoint_every or 10, board, args)
    except (TrainError, LaunchError, _TENSORBOARD.TensorBoardError) as error:
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
    except OSError as error:
        print(f"nndsl: error: cannot write in {visible(str(out))}: {error.strerror or error}", file=sys.stderr)
        return 1
    return _finish(program, args, source, module, trainer, out)


def _finish(program: ir.Program, args, source: str, module, trainer, out: Path, nproc: int | None = None) -> int:
    """model.py and the plots next to the weights and history of a finished run (of `nproc` processes,
    whose first has said that it saved weights.npz and history.json)."""
    try:
        write_atomic(out / "model.py", source)
        if not args.no_plots:
            from nndsl.plots import plot_run

            plot_run(program, module, trainer, out)
    except OSError as error:  # a full disk, a folder made read-only while training
        print(f"nndsl: error: cannot write in {visible(str(out))}: {error.strerror or error}", file=sys.stderr)
        return 1
    plots = "" if args.no_plots else " and plots"
    if nproc is None:
        print(f"saved weights.npz, history.json, checkpoint.npz, model.py{plots} in {visible(str(out))}")
    else:
        print(f"saved model.py{plots} in {visible(str(out))} ({nproc} processes trained)")
    return 0


def _fit(trainer, last: int, checkpoint: Path, every: int, board, args) -> None:
    """trainer.fit() to epoch `last`: its progress on stderr (nothing with --quiet), and with
    --tensorboard the epochs' logs written to `board`; the generated program's main() does the same."""
    report = None if args.quiet else _LINES.EpochReport(trainer.epoch, last, stream=sys.stderr, verbose=args.verbose)
    listeners = [listener for listener in (report, board) if listener is not None]

    def on_epoch(epoch, logs):
        for listener in listeners:
            listener.on_epoch(epoch, logs)
        plateau = getattr(trainer, "plateau", None)  # reduce_lr_on_plateau's line, as main() prints it
        if report is not None and plateau is not None and plateau.reduced:
            report.note(visible(plateau.report(epoch, trainer.learning_rate())))

    try:
        with _quiet_float_errors():  # a diverging run ends in one clear TrainingDiverged, not in warnings
            # No on_batch: the bar counts epochs, and without it a backend may run a whole epoch in
            # one call (TensorFlow does, in one graph).
            trainer.fit(last - trainer.epoch, on_epoch=on_epoch, checkpoint=checkpoint, checkpoint_every=every)
    finally:
        for listener in listeners:
            listener.close()


def _train_in_processes(program: ir.Program, args, source: str, out: Path, launch, nproc: int) -> int:
    """Train as `nproc` processes of the generated program, started by `launch` (its own command
    line: the first process prints each epoch's line and the validation line, and writes
    weights.npz, history.json and the checkpoints), then add model.py and the plots here. A process
    that fails ends the run with LaunchError."""
    from nndsl.codegen import load_module

    argv = ["--out", str(out.resolve()), "--epochs", str(program.train.epochs)] + (["--resume"] if args.resume else [])
    argv += ["--tensorboard", str(Path(args.tensorboard).resolve())] if args.tensorboard else []
    argv += ["--verbose"] if args.verbose else []
    with tempfile.TemporaryDirectory(prefix="nndsl-processes-") as folder:
        path = Path(folder) / "model.py"
        path.write_text(source, encoding="utf-8")
        try:
            launch.start(path, argv, nproc, Path(folder), target=args.target, quiet=args.quiet)
        except LaunchError as error:
            if (out / "checkpoint.npz").exists():
                raise LaunchError(f"{error} (--resume continues from the last checkpoint in {out})") from None
            raise
    module = load_module(source)
    trainer = _make_trainer(module, program.seed)  # in this process, for the plots: the processes' results loaded
    trainer.load(out / "weights.npz")
    trainer.history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    return _finish(program, args, source, module, trainer, out, nproc)


def _quiet_float_errors():
    """NumPy's overflow warnings off while training: every backend checks the loss for NaN/Inf itself."""
    import numpy as np

    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def _make_trainer(module, seed: int):
    return module.make_trainer(seed=seed)
