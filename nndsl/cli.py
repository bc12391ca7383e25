"""The `nndsl` command: check, summary, compile, train, sweep, export, predict, fmt, lsp.

A mistake in a spec, a data file or the command line prints a compiler-style
message and exits with status 1; a Python traceback always means a bug in
nndsl. Start-up imports no numerical library, so `nndsl check` is quick.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import textwrap
from pathlib import Path

from nndsl.codegen import BACKENDS, TARGETS, UnsupportedTarget
from nndsl.errors import SpecError, visible


class UsageError(Exception):
    """A bad command line (exit status 1, like every other user mistake)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2; nndsl's contract is 1
        raise UsageError(f"{self.prog}: error: {message}")


def _print_diagnostics(error: SpecError) -> None:
    print(error.render(), file=sys.stderr)


def _print_warnings(program) -> None:
    for warning in program.warnings:
        text = None
        try:
            text = Path(warning.filename).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError, ValueError):
            pass
        print(warning.render(text), file=sys.stderr)


def _load(path: str):
    import nndsl

    program = nndsl.load(path)
    _print_warnings(program)
    return program


# --- commands ------------------------------------------------------------------


def cmd_check(args) -> int:
    failed = False
    for path in args.specs:
        try:
            program = _load(path)
        except SpecError as error:
            _print_diagnostics(error)
            failed = True
            continue
        total = sum(p.size for p in program.model.parameters)
        layers = len(program.model.layers)
        print(f"{visible(path)}: ok ({_count(layers, 'layer')}, {_count(total, 'parameter')})")
    return 1 if failed else 0


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def cmd_summary(args) -> int:
    import nndsl

    program = _load(args.spec)
    result = nndsl.summary(program)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(result)
    return 0


def cmd_compile(args) -> int:
    import nndsl
    from nndsl.files import remove_stale_temps, write_atomic

    program = _load(args.spec)
    if args.plain and args.emit == "ir":
        raise UsageError("nndsl compile: error: --plain shapes the program; with --emit ir there is none")
    if args.emit == "ir":
        text = nndsl.to_json(program)
    else:
        from nndsl.codegen import generate

        data_dir = os.path.dirname(args.spec) or "."
        if not args.plain:  # a plain program names its data as the command line named the spec's folder
            data_dir = os.path.abspath(data_dir)
        text = generate(program, backend=args.backend, target=args.target, data_dir=data_dir, plain=args.plain)
        if program.train is None:
            print(f"note: {visible(args.spec)} has no train block: an inference program (make_model(): "
                  "predict, get_weights, set_weights, save, load)", file=sys.stderr)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        _check_output_path(args.output, args.spec)
        output = Path(args.output)
        try:
            remove_stale_temps(output.parent, output.name)  # left by a compile that was killed
            write_atomic(output, text)
        except OSError as error:
            raise UsageError(f"nndsl: error: cannot write {args.output}: {error.strerror or error}") from None
        print(f"wrote {visible(args.output)}", file=sys.stderr)
    return 0


def cmd_train(args) -> int:
    from nndsl.train import run_training

    program = _load(args.spec)
    return run_training(program, args)


def cmd_sweep(args) -> int:
    from nndsl.source import read_spec
    from nndsl.sweep import run_sweep
    from nndsl.syntax import parse_syntax

    if args.address is not None and args.engine != "ray":
        raise UsageError("nndsl sweep: error: --address is for --engine ray")
    program = _load(args.spec)
    text, filename = read_spec(args.spec)
    return run_sweep(program, parse_syntax(text, filename), args)


def cmd_export(args) -> int:
    from nndsl.export import ExportError, export

    program = _load(args.spec)
    if args.output is not None and not args.output:
        raise UsageError("nndsl export: error: -o needs a path")
    try:
        written = export(program, args.weights, args.format, args.output)
    except ExportError as error:
        print(f"nndsl export: error: {visible(str(error))}", file=sys.stderr)
        return 1
    print(f"wrote {visible(str(written))}", file=sys.stderr)
    return 0


def cmd_lsp(args) -> int:
    from nndsl.lsp import main as serve

    return serve()


def cmd_predict(args) -> int:
    from nndsl.predict import run_predict

    program = _load(args.spec)
    if args.output not in (None, "-"):
        _check_output_path(args.output, args.spec)
    return run_predict(program, args)


def cmd_fmt(args) -> int:
    from nndsl.files import write_atomic
    from nndsl.fmt import format_text
    from nndsl.source import read_spec

    if (args.check or args.write) and not args.specs:
        raise UsageError("nndsl fmt: error: --check and --write need spec files")
    if not args.specs:
        return _fmt_stdin(format_text)
    changed = []
    failed = False
    for path in args.specs:
        try:
            text, filename = read_spec(path)
            formatted = format_text(text, filename)
        except SpecError as error:
            _print_diagnostics(error)
            failed = True
            continue
        # Compared with the file's bytes: read_spec gives '\n' line ends, and CRLF or CR ones are not canonical.
        unchanged = (args.check or args.write) and formatted.encode("utf-8") == Path(path).read_bytes()
        if args.check:
            if not unchanged:
                changed.append(path)
        elif args.write:
            if not unchanged:
                try:
                    write_atomic(path, formatted)
                except OSError as error:
                    print(f"nndsl: error: cannot write {visible(str(path))}: {error.strerror or error}", file=sys.stderr)
                    failed = True
                    continue
                print(f"formatted {visible(str(path))}", file=sys.stderr)
        else:
            sys.stdout.write(formatted)
    for path in changed:
        shown = visible(str(path))
        print(f"{shown}: not formatted (run 'nndsl fmt --write {shown}')", file=sys.stderr)
    return 1 if failed or changed else 0


def _fmt_stdin(format_text) -> int:
    """`nndsl fmt` with no files: the spec piped into it, formatted, on stdout (as gofmt does)."""
    from nndsl.source import MAX_SPEC_BYTES, decode_spec

    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("nndsl fmt: error: name the spec files to format, or pipe a spec into it")
    try:
        formatted = format_text(decode_spec(sys.stdin.buffer.read(MAX_SPEC_BYTES + 1), "<stdin>"), "<stdin>")
    except SpecError as error:
        _print_diagnostics(error)
        return 1
    sys.stdout.write(formatted)
    return 0


def _check_output_path(path: str, spec: str) -> None:
    """`compile -o`: a new or regular file in an existing folder, never the spec itself.

    A symlink at `path` is replaced by the new file (the write is atomic: a
    temporary file renamed over the path), never written through.
    """
    if not path:
        raise UsageError("nndsl: error: -o needs a file name")
    try:
        _check_output_target(Path(path), path, spec)
    except OSError as error:  # a name too long for the file system, a folder that cannot be searched
        raise UsageError(f"nndsl: error: cannot write {path}: {error.strerror or error}") from None


def _check_output_target(target: Path, path: str, spec: str) -> None:
    if path.endswith(("/", os.sep)) and not target.is_dir():
        raise UsageError(f"nndsl: error: output {path} names a folder, which does not exist; -o takes a file name")
    if target.is_dir():
        raise UsageError(f"nndsl: error: output {path} is a directory")
    if target.exists() and not target.is_file():  # a device, a pipe (/dev/stdout), a socket
        raise UsageError(f"nndsl: error: output {path} is not a regular file; use no -o to print the program")
    try:
        same = target.exists() and os.path.samefile(target, spec)
    except OSError:
        same = False
    if same:
        raise UsageError(f"nndsl: error: output {path} is the spec itself; choose another file")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"nndsl: error: cannot write {path}: folder {parent} does not exist")


# --- the parser ------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def _folder(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("needs a folder")
    return text


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer ≥ 0, not {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**32), not {text!r}")
    return value


_SPEC_HELP = "a spec file (*.nn): data, model, loss and train blocks; see docs/language.md"
_BACKEND_HELP = ("BACKEND is numpy (the reference; no framework to install), torch or tensorflow "
                 "(pip install 'nndsl[torch]' or 'nndsl[tensorflow]'); default: %(default)s")
_TARGET_HELP = ("TARGET is auto (a GPU where the framework sees one, else the CPU), cpu, gpu or tpu; gpu and tpu "
                "need -b torch (tpu through torch_xla) or -b tensorflow; default: %(default)s")


def _examples(*lines: str) -> str:
    """An epilog of example command lines with what each does, as git and ruff show them."""
    return "examples:\n" + "\n".join(f"  {line}" if line else "" for line in lines)


def _fill(text: str) -> str:
    return textwrap.fill(text, width=min(shutil.get_terminal_size().columns, 100) - 2)


def _command(commands, name: str, summary: str, description: str, examples: tuple[str, ...]) -> argparse.ArgumentParser:
    return commands.add_parser(name, help=summary, description=_fill(description), epilog=_examples(*examples),
                               formatter_class=argparse.RawDescriptionHelpFormatter)


def _backend_and_target(command: argparse.ArgumentParser) -> None:
    command.add_argument("-b", "--backend", choices=BACKENDS, default="numpy", metavar="BACKEND", help=_BACKEND_HELP)
    command.add_argument("-t", "--target", choices=TARGETS, default="auto", metavar="TARGET", help=_TARGET_HELP)


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nndsl",
        description=_fill("Check, summarise, compile and train neural network specs (*.nn): one spec, "
                          "standalone Python for NumPy, PyTorch and TensorFlow."),
        epilog=_examples(
            "nndsl check specs/checkerboard.nn            # diagnostics, or 'ok' with the parameter count",
            "nndsl summary specs/spiral.nn                # layers, output shapes, parameters",
            "nndsl train specs/checkerboard.nn            # train on NumPy; results in runs/checkerboard/",
            "nndsl train specs/spiral.nn -b torch -t gpu  # the same spec on PyTorch, on a GPU",
            "nndsl compile specs/circle.nn -b tensorflow -o model.py  # a program that runs without nndsl",
            "nndsl sweep specs/checkerboard.nn --set dense_1.units=1,2,4,8 --seeds 5  # mean ± std per setting",
            "nndsl fmt --write specs/*.nn                 # canonical formatting",
            "",
            "'nndsl COMMAND --help' tells more about each command. The language: docs/language.md.",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = _command(
        commands, "check", "check specs; print diagnostics",
        "Check each spec: the grammar, every argument, and that the model, loss and data fit together. Errors "
        "are printed as FILE:LINE:COL: error: MESSAGE with the line and a caret; exit status 1 if any spec has "
        "one. Nothing is imported but nndsl itself, so it is quick enough for an editor or a pre-commit hook.",
        ("nndsl check specs/checkerboard.nn       # 'specs/checkerboard.nn: ok (2 layers, 33 parameters)'",
         "nndsl check specs/*.nn                  # every spec; exit status 1 if one has an error"),
    )
    check.add_argument("specs", nargs="+", metavar="SPEC", help=_SPEC_HELP + "; one or more")
    check.set_defaults(run=cmd_check)

    summary = _command(
        commands, "summary", "layers, output shapes and parameter counts",
        "Print the model as Keras's model.summary() does: each layer, its output shape and its parameters, "
        "and the totals.",
        ("nndsl summary specs/spiral.nn",
         "nndsl summary specs/spiral.nn --json    # the same, as JSON with Keras's field names"),
    )
    summary.add_argument("spec", metavar="SPEC", help=_SPEC_HELP)
    summary.add_argument("--json", action="store_true", help="print JSON in Keras's words")
    summary.set_defaults(run=cmd_summary)

    compile_ = _command(
        commands, "compile", "generate a standalone Python program",
        "Generate the Python program of a spec for one framework: readable, lint-clean and runnable without "
        "nndsl (python model.py --help lists its own options: --epochs, --out, --resume).",
        ("nndsl compile specs/checkerboard.nn > model.py         # NumPy, printed",
         "nndsl compile specs/spiral.nn -b torch -o model.py     # PyTorch, written atomically",
         "nndsl compile specs/spiral.nn -b tensorflow -t tpu -o model.py",
         "nndsl compile specs/checkerboard.nn -b torch --plain  # the short program a tutorial shows",
         "nndsl compile specs/spiral.nn --emit ir               # the checked spec as JSON"),
    )
    compile_.add_argument("spec", metavar="SPEC", help=_SPEC_HELP)
    _backend_and_target(compile_)
    compile_.add_argument("-o", "--output", metavar="OUT.py",
                          help="write the program to this file (atomically) instead of printing it")
    compile_.add_argument("--emit", choices=("code", "ir"), default="code",
                          help="code: the program (default); ir: the checked spec, as JSON")
    compile_.add_argument("--plain", action="store_true",
                          help="the short program to read and edit: data, model, loss, optimizer and a training loop "
                               "printing a line per epoch, computing the same numbers as the full program, without "
                               "its command line, checkpoints and file checks")
    compile_.set_defaults(run=cmd_compile)

    train = _command(
        commands, "train", "train a spec and save weights, history and plots",
        "Train a spec and keep the results in --out: weights.npz, history.json (Keras's History layout), "
        "checkpoint.npz, model.py (the program that reproduces the run) and the plots (loss.png, and "
        "decision_boundary.png or fit.png for 1- and 2-D inputs). On stderr, a live bar on a terminal (with "
        "nndsl[progress]), else lines 'epoch 3/10 - 12ms - loss: 0.4012 - …' for the first and last epochs "
        "and about ten between (--verbose: every epoch); the final validation metrics on stdout.",
        ("nndsl train specs/checkerboard.nn                    # NumPy; results in runs/checkerboard/",
         "nndsl train specs/spiral.nn -b torch --epochs 50     # PyTorch, 50 epochs instead of the spec's",
         "nndsl train specs/spiral.nn --out runs/a --seed 7    # another seed for the initial weights",
         "nndsl train specs/spiral.nn --out runs/a --resume --epochs 200  # continue to epoch 200",
         "nndsl train specs/spiral.nn --tensorboard runs/tb/a  # then: tensorboard --logdir runs/tb",
         "nndsl train specs/spiral.nn -b torch --nproc 2       # 2 data-parallel processes (torchrun)",
         "nndsl train specs/spiral.nn -b tensorflow --nproc 2  # 2 TensorFlow workers, one global batch"),
    )
    train.add_argument("spec", metavar="SPEC", help=_SPEC_HELP)
    _backend_and_target(train)
    train.add_argument("--epochs", type=_positive_int, metavar="N",
                       help="train until epoch N instead of the spec's epochs")
    train.add_argument("--seed", type=_seed, metavar="S",
                       help="the training seed (initial weights, batch order) instead of the spec's; "
                            "the data and its split keep the spec's seed")
    train.add_argument("--out", metavar="DIR", help="the folder for the results (default: runs/<spec name>)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in --out from its checkpoint, to the same numbers as an "
                            "uninterrupted run")
    train.add_argument("--checkpoint-every", type=_positive_int, metavar="N",
                       help="checkpoint every N epochs (default: the spec's, else 10), and at the end")
    train.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    printed = train.add_mutually_exclusive_group()
    printed.add_argument("--quiet", action="store_true", help="no progress bar and no per-epoch lines")
    printed.add_argument("--verbose", action="store_true",
                         help="every epoch's line (default: a live bar on a terminal, where tqdm is installed; "
                              "else the first and last epochs' lines and about ten between)")
    train.add_argument("--tensorboard", metavar="DIR", type=_folder,
                       help="write TensorBoard event files in DIR: each epoch's loss, metrics and lr "
                            "(pip install 'nndsl[tensorboard]')")
    train.add_argument("--nproc", type=_positive_int, metavar="N",
                       help="train in N data-parallel processes on this machine, each its share of every batch "
                            "(-b torch: torchrun and DistributedDataParallel; -b tensorflow: "
                            "MultiWorkerMirroredStrategy), to the same weights as one process")
    train.set_defaults(run=cmd_train)

    sweep = _command(
        commands, "sweep", "train a spec over a grid of settings and seeds, in parallel",
        "Train a spec once per combination of the --set values and per seed, each run as 'nndsl train' "
        "does it, in parallel: local processes (--jobs) or Ray (--engine ray). PATH names a setting by "
        "the IR's names: LAYER.ARG (dense_1.units, dense_1.activation, dropout_1.rate), data.ARG "
        "(data.noise, data.samples, data.split, data.features=[x1,x2,x1^2]), train.ARG (train.lr, "
        "train.momentum, train.optimizer, train.batch, train.epochs) or loss. --out gets sweep.csv (a row "
        "per run), sweep.png and runs/<id>/ (each run's results); the table printed at the end gives each "
        "setting's mean ± std of the final validation metrics over the seeds. Run the same command again "
        "after an interruption: the runs done are not trained again.",
        ("nndsl sweep specs/checkerboard.nn --set dense_1.units=1,2,3,4,8 --set train.lr=0.01,0.03 --seeds 5 "
         "--out runs/sweep",
         "nndsl sweep specs/checkerboard.nn --set 'data.features=[x1,x2,x1^2],[x1,x2,x1*x2]' --seeds 3",
         "nndsl sweep specs/spiral.nn --set data.noise=0,0.1,0.2 --engine ray   # on a local Ray instance"),
    )
    sweep.add_argument("spec", metavar="SPEC", help=_SPEC_HELP)
    sweep.add_argument("--set", action="append", metavar="PATH=V1,V2,...",
                       help="a setting and its values (repeat --set for a grid: every combination is trained)")
    sweep.add_argument("--seeds", type=_positive_int, default=1, metavar="N",
                       help="train each setting with N training seeds, the spec's and the N-1 after it "
                            "(the data keeps the spec's seed); default: %(default)s")
    sweep.add_argument("--jobs", type=_positive_int, default=_cores(), metavar="N",
                       help="runs at a time (local processes, or Ray CPUs); default: the cores, %(default)s")
    sweep.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local: a process pool on this machine (default); ray: Ray (pip install "
                            "'nndsl[sweep]'), a local instance unless --address names a cluster")
    sweep.add_argument("--address", metavar="ADDR", help="with --engine ray: the cluster, e.g. ray://head:10001")
    _backend_and_target(sweep)
    sweep.add_argument("--out", metavar="DIR", help="the folder for the results (default: runs/<spec name>-sweep)")
    sweep.set_defaults(run=cmd_sweep)

    export = _command(
        commands, "export", "write a trained model as ONNX, .keras or a SavedModel",
        "Write the spec's model with trained weights (weights.npz from nndsl train or trainer.save()) in a "
        "format other runtimes read: onnx (through the generated PyTorch model; pip install 'nndsl[export]'), "
        "keras (a .keras file) or savedmodel (a TensorFlow SavedModel folder; both pip install "
        "'nndsl[tensorflow]'). The model is in inference mode with its output activation, so it gives what "
        "predict() gives; its batch size is free. Each export is loaded back and checked before it is kept.",
        ("nndsl export specs/checkerboard.nn --weights runs/checkerboard/weights.npz --format onnx",
         "nndsl export specs/spiral.nn --weights w.npz --format keras -o spiral.keras",
         "nndsl export specs/spiral.nn --weights w.npz --format savedmodel -o serving/spiral"),
    )
    export.add_argument("spec", metavar="SPEC", help=_SPEC_HELP)
    export.add_argument("--weights", required=True, metavar="W.npz",
                        help="the trained weights: weights.npz from nndsl train, or a trainer.save() file")
    export.add_argument("--format", required=True, choices=("onnx", "keras", "savedmodel"),
                        help="onnx, keras or savedmodel")
    export.add_argument("-o", "--output", metavar="PATH",
                        help="where to write (default: <model name>.onnx, .keras or _savedmodel beside the weights)")
    export.set_defaults(run=cmd_export)

    predict = _command(
        commands, "predict", "run a trained model on new data",
        "Run the spec's model with trained weights on the samples of a CSV file (a header row; the feature "
        "columns by name, as in training; for Playground data the coordinates x1, x2, from which the spec's "
        "features are computed) or an .npz file (its array x: rows of features or images). Prints CSV, one "
        "row per sample: the prediction (regression), the probability of class 1 (binary) or of each class.",
        ("nndsl predict specs/income.nn --weights runs/income/weights.npz new_students.csv",
         "nndsl predict specs/spiral.nn --weights w.npz points.csv -b torch -o predictions.csv",
         "nndsl predict specs/digits_cnn.nn --weights w.npz images.npz"),
    )
    predict.add_argument("spec", metavar="SPEC", help=_SPEC_HELP)
    predict.add_argument("--weights", required=True, metavar="W.npz",
                         help="the trained weights: weights.npz from nndsl train, or a trainer.save() file")
    predict.add_argument("input", metavar="INPUT", help="the samples: a .csv file with a header row, or an .npz file")
    _backend_and_target(predict)
    predict.add_argument("-o", "--output", metavar="OUT.csv",
                         help="write the predictions to this file (atomically) instead of printing them")
    predict.set_defaults(run=cmd_predict)

    fmt = _command(
        commands, "fmt", "print specs in canonical form",
        "Print specs in canonical form: one statement per line, four-space indents, comments kept. "
        "Formatting never changes what a spec means.",
        ("nndsl fmt specs/spiral.nn               # the formatted spec on stdout",
         "nndsl fmt --write specs/*.nn            # rewrite the files in place",
         "nndsl fmt --check specs/*.nn            # exit status 1 if one is not formatted (for CI)",
         "cat spec.nn | nndsl fmt                 # a spec piped in"),
    )
    fmt.add_argument("specs", nargs="*", metavar="SPEC", help="spec files; none: the spec piped into stdin")
    mode = fmt.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if a spec is not formatted")
    mode.add_argument("--write", action="store_true", help="rewrite the files in place")
    fmt.set_defaults(run=cmd_fmt)

    lsp = _command(
        commands, "lsp", "the language server, for editors",
        "Run the Language Server Protocol server on stdin and stdout, as an editor starts it: diagnostics as "
        "you type (what nndsl check prints), hover (a layer's shape and parameters, what a word means), "
        "completion, formatting (nndsl fmt), document symbols and go-to-definition. Needs pip install "
        "'nndsl[lsp]'. editors/vscode/ in the source tree holds a VS Code extension that starts it.",
        ("nndsl lsp                               # an editor starts it; it talks JSON-RPC over stdio",),
    )
    lsp.set_defaults(run=cmd_lsp)
    return parser


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):
            pass
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
        if args.version:
            from nndsl import __version__

            print(f"nndsl {__version__}")
            return 0
        if args.command is None:
            parser.print_help(sys.stderr)
            return 1
        return args.run(args)
    except UsageError as error:
        print(visible(str(error)), file=sys.stderr)
        return 1
    except UnsupportedTarget as error:
        print(f"nndsl: error: {visible(str(error))}", file=sys.stderr)
        return 1
    except SpecError as error:
        _print_diagnostics(error)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def entry_point() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
