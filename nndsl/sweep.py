"""`nndsl sweep`: train one spec over a grid of settings and seeds, in parallel, and compare them.

A setting is ``--set PATH=V1,V2,…``. PATH names a place in the spec the way the IR names it:

* ``LAYER.ARG``: an argument of a layer statement, the layer by its IR name (``dense_1``, or its
  ``name=``): ``dense_1.units``, ``dense_1.activation``, ``dense_1.init``, ``dropout_1.rate``,
  ``conv2d_1.filters``;
* ``data.ARG``: an argument of the data source (``data.noise``, ``data.samples``, ``data.seed``),
  ``data.split``, and ``data.features`` (a list, ``[x1, x2, x1^2]``; the model's ``input N``
  follows the number of features, as the Playground's does);
* ``train.ARG``: an optimizer argument (``train.lr``, ``train.momentum``), ``train.optimizer``, and
  each one-value train statement (``train.batch``, ``train.epochs``, ``train.shuffle``);
  ``train.STATEMENT.ARG`` for the others (``train.checkpoint.every``);
* ``loss``: the loss.

Each value is read by the spec's grammar and put where the spec has that argument (or added as
``ARG=value`` where the spec leaves it to its default), in the syntax tree, never the text; the
checker then checks every combination as it checks a spec, so a bad value gets the checker's own
message, pointed at the value on the command line. Which syntax node fills which argument is
what the checker's `bind` says (recorded while it checks the spec), so sweep.py keeps no list of
any statement's arguments.

Each run is `nndsl train` (nndsl/train.py) with the setting applied and a training seed, in
``DIR/runs/<run id>``; its result is recorded in ``result.json`` there (atomically), and a run whose
result is recorded is not trained again, so an interrupted sweep resumes where it stopped.
``DIR/sweep.csv`` holds one row per run, ``DIR/sweep.png`` the plot; the table printed at the
end gives each setting's mean ± standard deviation of the final validation metrics over the seeds.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import io
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path

from nndsl import catalog, ir
from nndsl import syntax as s
from nndsl.check import Checker
from nndsl.errors import Diagnostic, SpecError, visible
from nndsl.files import write_atomic
from nndsl.source import Span
from nndsl.suggest import did_you_mean

#: More runs than this is no sweep one machine (or a small cluster) gets through: a typo in --seeds.
MAX_RUNS = 10_000
#: What diagnostics call the command line's settings: `--set:2:15` is the 2nd --set, column 15.
SETTINGS_FILE = "--set"


class SweepError(Exception):
    """The sweep cannot start or go on (a folder it cannot write, Ray missing)."""


class SettingError(SpecError):
    """Errors in --set settings (pointed at the command line) or in the spec under a setting."""

    def __init__(self, diagnostics, texts: dict[str, str]) -> None:
        super().__init__(diagnostics=diagnostics)
        self.texts = texts

    def render(self) -> str:
        return "\n".join(d.render(self.texts.get(d.filename)) for d in self.diagnostics)


# --- settings: parsing --set, and where each one goes ------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One --set option: its path, its values as written, and each value as syntax (spans on its line)."""

    path: str
    texts: tuple[str, ...]
    values: tuple  # syntax values; for data.features, tuples of s.Feature
    line: int  # which --set it is, from 1: its line in the settings' text


def split_values(text: str) -> list[tuple[str, int]]:
    """The comma-separated values of `text` with their offsets; commas inside brackets, parentheses
    or quotes belong to the value (`leaky_relu(0.2)`, `[x1, x2]`)."""
    values, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            values.append((text[start:i], start))
            start = i + 1
    values.append((text[start:], start))
    return values


def _point(line: int, start: int, end: int) -> Span:
    """Columns `start`..`end` (0-based, end exclusive) of a settings line."""
    return Span(line, start + 1, line, max(end, start + 1) + 1)


def parse_settings(options: Sequence[str], first_line: int) -> tuple[list[Setting], list[Diagnostic]]:
    """Read each `PATH=V1,V2,…`; its values get spans on line `first_line + k` (k from 0): the lines
    appended after the spec's text while the checker checks a setting."""
    settings, errors = [], []
    for k, option in enumerate(options):
        line = first_line + k
        path, equals, rest = option.partition("=")
        if not equals or not path.strip():
            errors.append(Diagnostic("error", f"--set takes PATH=V1,V2,… (e.g. dense_1.units=2,4,8), not "
                                              f"'{option}'", SETTINGS_FILE, _point(line, 0, len(option))))
            continue
        texts, values = [], []
        for text, offset in split_values(rest):
            column = len(path) + 1 + offset
            stripped = text.strip()
            column += len(text) - len(text.lstrip())
            if not stripped:
                errors.append(Diagnostic("error", f"{path.strip()}: empty value", SETTINGS_FILE,
                                         _point(line, column, column + 1)))
                continue
            value = _parse_value(path.strip(), stripped, line, column)
            if value is None:
                what = ("a list of input features, e.g. [x1, x2, x1^2]" if path.strip() == "data.features" else
                        "a value: a number, a name, a call such as leaky_relu(0.2), true or false")
                errors.append(Diagnostic("error", f"{path.strip()}: '{stripped}' is not {what}", SETTINGS_FILE,
                                         _point(line, column, column + len(stripped))))
                continue
            if stripped in texts:
                errors.append(Diagnostic("error", f"{path.strip()}: {stripped} is given twice", SETTINGS_FILE,
                                         _point(line, column, column + len(stripped))))
                continue
            texts.append(stripped)
            values.append(value)
        if texts:
            settings.append(Setting(path.strip(), tuple(texts), tuple(values), line))
    return settings, errors


def _parse_value(path: str, text: str, line: int, column: int):
    if path != "data.features":
        return s.parse_fragment(text, "value", line, column + 1)
    inner, offset = (text[1:-1], 1) if text.startswith("[") and text.endswith("]") else (text, 0)
    features = []
    for item, start in split_values(inner):
        stripped = item.strip()
        at = column + offset + start + len(item) - len(item.lstrip())
        feature = s.parse_fragment(stripped, "feature", line, at + 1) if stripped else None
        if feature is None:
            return None
        features.append(feature)
    return tuple(features)


@dataclass
class _Binding:
    """What one `Checker.bind` call saw: the owner (a statement's keyword, a call's name), the span
    it was given, the arguments it takes, and the syntax node it bound to each."""

    owner: str
    span: Span
    slots: tuple[str, ...]
    aliases: dict[str, str]
    values: dict[str, s.Value]


class _Recorder(Checker):
    """The checker, noting each binding: which syntax node is which argument."""

    def __init__(self, file: s.File) -> None:
        super().__init__(file)
        self.bindings: list[_Binding] = []

    def bind(self, owner, args, span, positional=(), keywords=(), aliases=None, **options):
        bound = super().bind(owner, args, span, positional, keywords, aliases, **options)
        slots = tuple(dict.fromkeys([*positional, *keywords]))
        self.bindings.append(_Binding(owner, span, slots, dict(aliases or {}), dict(bound.values)))
        return bound


@dataclass(frozen=True)
class _Place:
    """Where a setting's value goes: `node` (a value to replace), else `holder` (a statement or call
    that gets `slot=value` added), else `body` (a block body that gets a `slot value` statement)."""

    slot: str
    node: object = None
    holder: object = None
    body: object = None
    features: object = None  # data.features: the Features statement (None: add one to `body`)
    input_value: object = None  # data.features: the model's `input N` value, which follows
    statement: str | None = None  # a statement to add to `body` as `statement slot=value` (not `slot value`)
    slot_span: Span | None = None  # where the setting's last part stands on its --set line


class _Edits:
    """The changes one combination of settings makes to the syntax tree, applied in one pass."""

    def __init__(self) -> None:
        self.replace: dict[int, object] = {}
        self.add_args: dict[int, list] = {}
        self.add_statements: dict[int, list] = {}

    def rebuild(self, node):
        if id(node) in self.replace:
            return self.replace[id(node)]
        if isinstance(node, tuple):
            items = tuple(self.rebuild(item) for item in node)
            return items if any(a is not b for a, b in zip(items, node, strict=True)) else node
        if not is_dataclass(node) or isinstance(node, Span):
            return node
        changes = {}
        for f in fields(node):
            value = getattr(node, f.name)
            new = self.rebuild(value)
            if new is not value:
                changes[f.name] = new
        if id(node) in self.add_args:
            changes["args"] = changes.get("args", node.args) + tuple(self.add_args[id(node)])
        if id(node) in self.add_statements:
            changes["statements"] = changes.get("statements", node.statements) + tuple(self.add_statements[id(node)])
        return dataclasses.replace(node, **changes) if changes else node


class Grid:
    """A spec (its syntax tree, which must check) and its --set settings: `programs()` gives each
    combination's checked program."""

    def __init__(self, file: s.File, options: Sequence[str]) -> None:
        self.spec_lines = file.text.split("\n")
        self.file = _with_calls(file)
        self.options = list(options)
        first_line = len(self.spec_lines) + 1
        self.settings, errors = parse_settings(self.options, first_line)
        recorder = _Recorder(self.file)
        self.base = recorder.run()
        self.bindings = recorder.bindings
        self.places: list[_Place] = []
        seen: dict[str, Setting] = {}
        for setting in self.settings:
            try:
                place = self._place(setting)
            except _PathError as error:
                errors.append(Diagnostic("error", str(error), SETTINGS_FILE, error.span))
                continue
            owner = setting.path.rsplit(".", 1)[0]  # train.learning_rate and train.lr are one setting
            key = f"{owner}.{place.slot}" if "." in setting.path else setting.path
            if key in seen:
                errors.append(Diagnostic("error", f"{setting.path} is set twice (first by --set {seen[key].path})",
                                         SETTINGS_FILE, _point(setting.line, 0, len(setting.path))))
                continue
            seen[key] = setting
            slot = setting.path.rsplit(".", 1)[-1]
            self.places.append(dataclasses.replace(
                place, slot_span=_point(setting.line, len(setting.path) - len(slot), len(setting.path))))
        if errors:
            raise self.error(errors)
        self.size = math.prod(len(setting.values) for setting in self.settings)

    # -- errors --

    def error(self, diagnostics: list[Diagnostic]) -> SettingError:
        """Diagnostics on the appended lines are the settings': renumbered to count --set options."""
        first = len(self.spec_lines)
        out, seen = [], set()
        for d in diagnostics:
            if d.span is not None and d.span.line > first:
                span = d.span
                d = Diagnostic(d.severity, d.message, SETTINGS_FILE,
                               Span(span.line - first, span.column, span.end_line - first, span.end_column))
            key = (d.filename, d.span, d.message.split(" (with --set ")[0])
            if key not in seen:
                seen.add(key)
                out.append(d)
        return SettingError(out, {SETTINGS_FILE: "\n".join(self.options),
                                  self.file.filename: "\n".join(self.spec_lines)})

    # -- where a path points --

    def _place(self, setting: Setting) -> _Place:
        head, _, rest = setting.path.partition(".")
        line = setting.line
        where = _PathError.at(line)
        layers = [layer.name for layer in self.base.model.layers]
        if head == "loss" and not rest:
            block = self._block(s.LossBlock)
            if block is None:
                raise where("the spec has no loss block", 0, len(head))
            return _Place("loss", node=block.value)
        if head == "data":
            return self._data_place(rest, line, where)
        if head == "train":
            return self._train_place(rest, line, where)
        if head in layers:
            layer = self.base.model.layers[layers.index(head)]
            statement = self._statement_at(layer.span)
            binding = self._binding(statement.head.text, layer.span) if statement is not None else None
            slots = [slot for slot in (binding.slots if binding else ()) if slot != "name"]
            return self._slot_place(binding, statement, rest, slots, setting.path, len(head) + 1, where)
        choices = [*layers, "data", "train", "loss"]
        raise where(f"unknown setting '{setting.path}': no layer or block '{head}'{did_you_mean(head, choices)}; "
                    f"the spec has {', '.join(choices)}", 0, len(head))

    def _slot_place(self, binding, holder, slot, slots, path, column, where) -> _Place:
        if binding is not None:
            slot = binding.aliases.get(slot, slot)
        owner = path[: column - 1]
        if not slot or slot not in slots:
            takes = ", ".join(slots) if slots else "nothing a sweep can set"
            shown = f"'{slot}'" if slot else "nothing"
            raise where(f"{owner} has no setting {shown}{did_you_mean(slot, slots) if slot else ''}; "
                        f"{owner} takes {takes}", column, len(path))
        if slot in binding.values:
            return _Place(slot, node=binding.values[slot])
        return _Place(slot, holder=holder)

    def _data_place(self, rest, line, where) -> _Place:
        block = self._block(s.DataBlock)
        if block is None:
            raise where("the spec has no data block", 0, 4)
        source = self._binding(block.source.name.text, block.span)
        slots = [*(source.slots if source else ()), "split", "features"]
        if rest == "features":
            features = next((st for st in _statements(block.body) if isinstance(st, s.Features)), None)
            model = self._block(s.ModelBlock)
            given = next((st for st in model.body.statements if isinstance(st, s.Statement)
                          and st.head.text == "input"), None)
            input_value = self._binding("input", given.span).values.get("features") if given else None
            return _Place("features", features=features, body=block.body,
                          input_value=input_value if isinstance(input_value, s.Number) else None)
        if rest == "split":
            return self._statement_place(block.body, "split", "fraction")
        return self._slot_place(source, block.source, rest, slots, "data." + rest, 5, where)

    def _train_place(self, rest, line, where) -> _Place:
        block = self._block(s.TrainBlock)
        if block is None:
            raise where("the spec has no train block", 0, 5)
        statement, _, slot = rest.partition(".")
        optimizer = self._optimizer_binding(block)
        optimizer_slots = list(optimizer.slots) if optimizer else []
        one_value = [head for head in catalog.BLOCK_STATEMENTS["train"]
                     if self._one_value(block, head) is not False]
        if slot:
            written = _written(block.body, statement)
            binding = self._binding(statement, written.span) if written is not None else None
            if written is None and statement in catalog.BLOCK_STATEMENTS["train"] and statement != "optimizer":
                return _Place(slot, body=block.body, statement=statement)  # `checkpoint every=5`, checked as written
            if binding is None or statement == "optimizer":
                choices = [h for h in catalog.BLOCK_STATEMENTS["train"] if h not in one_value]
                raise where(f"train has no statement '{statement}' with arguments to set"
                            f"{did_you_mean(statement, choices)}", 6, 6 + len(statement))
            return self._slot_place(binding, written, slot, [x for x in binding.slots if x != "name"],
                                    f"train.{rest}", 7 + len(statement), where)
        if optimizer is not None and optimizer.aliases.get(rest, rest) in optimizer_slots:
            call = self._optimizer_call(block)
            return self._slot_place(optimizer, call, rest, optimizer_slots, "train." + rest, 6, where)
        if rest in one_value:
            return self._statement_place(block.body, rest, "value")
        choices = [*optimizer_slots, *one_value]
        raise where(f"train has no setting '{rest}'{did_you_mean(rest, choices)}; train takes "
                    f"{', '.join(choices)}", 6, 6 + len(rest))

    def _one_value(self, block, head: str) -> bool | None:
        """Whether the train statement `head` takes one value (None: not written, so not known)."""
        written = _written(block.body, head)
        if written is None:
            return None
        binding = self._binding(head, written.span)
        return binding is not None and binding.slots == ("value",)

    def _statement_place(self, body, head: str, slot: str) -> _Place:
        written = _written(body, head)
        if written is None:
            return _Place(head, body=body)
        binding = self._binding(head, written.span)
        node = binding.values.get(slot) if binding else None
        if node is None:  # `split` with no value: the setting gives it one
            return _Place(head, holder=written)
        return _Place(head, node=node)

    def _optimizer_binding(self, block) -> _Binding | None:
        call = self._optimizer_call(block)
        return self._binding(call.name.text, call.span) if call is not None else None

    def _optimizer_call(self, block) -> s.Call | None:
        written = next((st for st in _statements(block.body) if st.head.text == "optimizer"), None)
        value = written.args[0] if written is not None and written.args else None
        return value if isinstance(value, s.Call) else None

    def _binding(self, owner: str, span: Span) -> _Binding | None:
        return next((b for b in self.bindings if b.owner == owner and b.span == span), None)

    def _block(self, kind):
        return next((block for block in self.file.blocks if isinstance(block, kind)), None)

    def _statement_at(self, span: Span):
        def walk(statements):
            for statement in statements:
                if statement.span == span and isinstance(statement, s.Statement):
                    return statement
                if isinstance(statement, s.Residual):
                    found = walk(statement.body.statements) or (walk(statement.shortcut.statements)
                                                                if statement.shortcut else None)
                    if found:
                        return found
            return None

        return walk(self._block(s.ModelBlock).body.statements)

    # -- the combinations --

    def combinations(self) -> list[tuple[tuple[str, str], ...]]:
        """Each combination's (path, value as written) pairs, in the order of the --set options."""
        return [tuple(zip([x.path for x in self.settings], texts, strict=True))
                for texts in itertools.product(*(x.texts for x in self.settings))]

    def programs(self) -> list[ir.Program]:
        """The checked program of each combination (in `combinations()` order); every error of every
        combination reported at once (a SettingError)."""
        from nndsl.check import check

        text = "\n".join([*self.spec_lines, *self.options])
        programs, errors = [], []
        for indices in itertools.product(*(range(len(x.values)) for x in self.settings)):
            edits = _Edits()
            for setting, place, index in zip(self.settings, self.places, indices, strict=True):
                _apply(edits, place, setting.values[index])
            file = dataclasses.replace(edits.rebuild(self.file), text=text)
            try:
                program = check(file)
            except SpecError as error:
                where = " ".join(f"{x.path}={x.texts[i]}" for x, i in zip(self.settings, indices, strict=True))
                errors += [d if d.span is None or d.span.line > len(self.spec_lines) else
                           dataclasses.replace(d, message=f"{d.message} (with --set {where})")
                           for d in error.diagnostics]
                continue
            programs.append(program)
        if errors:
            raise self.error(errors)
        return programs


class _PathError(Exception):
    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.span = span

    @staticmethod
    def at(line: int):
        return lambda message, start, end: _PathError(message, _point(line, start, end))


def _apply(edits: _Edits, place: _Place, value) -> None:
    if place.slot == "features":
        span = value[0].span.to(value[-1].span)
        statement = s.Features(tuple(value), span)
        if place.features is not None:
            edits.replace[id(place.features)] = statement
        else:
            edits.add_statements.setdefault(id(place.body), []).append(statement)
        if place.input_value is not None:
            edits.replace[id(place.input_value)] = s.Number(str(len(value)), place.input_value.span)
        return
    if place.node is not None:
        edits.replace[id(place.node)] = value
    elif place.holder is not None:
        keyword = s.Keyword(s.Name(place.slot, place.slot_span or value.span), value, value.span)
        edits.add_args.setdefault(id(place.holder), []).append(keyword)
    elif place.statement is not None:
        keyword = s.Keyword(s.Name(place.slot, place.slot_span or value.span), value, value.span)
        statement = s.Statement(s.Name(place.statement, value.span), (keyword,), value.span)
        edits.add_statements.setdefault(id(place.body), []).append(statement)
    else:
        statement = s.Statement(s.Name(place.slot, value.span), (value,), value.span)
        edits.add_statements.setdefault(id(place.body), []).append(statement)


def _statements(body) -> tuple:
    return body.statements if body is not None else ()


def _written(body, head: str) -> s.Statement | None:
    """The statement `head …` in a block's body, if the spec has one."""
    return next((st for st in _statements(body) if isinstance(st, s.Statement) and st.head.text == head), None)


def _with_calls(file: s.File) -> s.File:
    """`data plane` and `optimizer sgd` written as the calls `plane()` and `sgd()` (the same spec), so
    that their arguments have a place to go; a data block without a body gets an empty one."""
    edits = _Edits()
    for block in file.blocks:
        if isinstance(block, s.DataBlock):
            if isinstance(block.source, s.Name):
                edits.replace[id(block.source)] = s.Call(block.source, (), block.source.span)
            if block.body is None:
                edits.replace[id(block)] = dataclasses.replace(
                    block, source=edits.replace.get(id(block.source), block.source), body=s.Body((), block.span))
        if isinstance(block, s.TrainBlock):
            for statement in block.body.statements:
                if isinstance(statement, s.Statement) and statement.head.text == "optimizer" and statement.args \
                        and isinstance(statement.args[0], s.Name):
                    name = statement.args[0]
                    edits.replace[id(name)] = s.Call(name, (), name.span)
    return edits.rebuild(file)


# --- runs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One training: a combination of settings and a training seed."""

    settings: tuple[tuple[str, str], ...]
    seed: int
    program: ir.Program
    key: str  # a hash of everything the run depends on: a recorded result is reused only if it matches

    @property
    def id(self) -> str:
        return self.key[:12]

    @property
    def label(self) -> str:
        return " ".join([*(f"{path}={value}" for path, value in self.settings), f"seed={self.seed}"])


def plan_runs(programs, combinations, seeds: int, backend: str, target: str) -> list[Run]:
    runs = []
    for program, settings in zip(programs, combinations, strict=True):
        program = dataclasses.replace(program, filename=os.path.abspath(program.filename))
        for seed in range(program.seed, program.seed + seeds):
            payload = json.dumps({"program": ir.to_data(program), "seed": seed, "backend": backend,
                                  "target": target}, sort_keys=True)
            runs.append(Run(settings, seed, program, hashlib.sha256(payload.encode()).hexdigest()))
    return runs


def train_run(program: ir.Program, seed: int, backend: str, target: str, folder: str) -> dict:
    """One run through `nndsl train`'s own path (nndsl.train.run_training), its output in
    `folder`/train.log; returns what it got: status, epochs, the last epoch's metrics, seconds."""
    from nndsl.train import run_training

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    args = argparse.Namespace(backend=backend, target=target, epochs=None, seed=seed, checkpoint_every=None,
                              out=str(out), resume=False, quiet=True, no_plots=True,
                              verbose=False, tensorboard=None)
    started = time.perf_counter()
    with open(out / "train.log", "w", encoding="utf-8") as log, redirect_stdout(log), redirect_stderr(log):
        status = run_training(program, args)
    seconds = time.perf_counter() - started
    if status != 0:
        lines = (out / "train.log").read_text(encoding="utf-8").strip().splitlines()
        return {"status": lines[-1] if lines else f"exit status {status}", "epochs": None, "metrics": {},
                "time_s": seconds}
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    return {"status": "ok", "epochs": len(history.get("loss", ())),
            "metrics": {key: values[-1] for key, values in history.items() if values}, "time_s": seconds}


def _limit_threads(threads: int) -> None:
    """In a pool worker, before NumPy loads: each run gets its share of the cores, not all of them."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)


def _record_path(out: Path, run: Run) -> Path:
    return out / "runs" / run.id / "result.json"


def recorded(out: Path, run: Run) -> dict | None:
    """The result of an earlier successful run with the same key, or None. A failed run is tried
    again: its cause may be gone (a data file fixed), and a divergence only costs its time again."""
    try:
        record = json.loads(_record_path(out, run).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(record, dict) and record.get("key") == run.key and record.get("status") == "ok"
    return record if ok else None


def record(out: Path, run: Run, result: dict) -> dict:
    entry = {"key": run.key, "run": run.id, "settings": dict(run.settings), "seed": run.seed,
             "params": sum(p.size for p in run.program.model.parameters), **result}
    write_atomic(_record_path(out, run), json.dumps(entry, indent=1) + "\n")
    return entry


def execute(runs: list[Run], out: Path, backend: str, target: str, engine: str, jobs: int,
            address: str | None, on_result) -> None:
    """Train `runs`, calling on_result(run, result) in the parent as each one finishes."""
    folders = {run.key: str((out / "runs" / run.id).resolve()) for run in runs}
    if not runs:
        return None
    if engine == "ray":
        return _execute_ray(runs, folders, backend, target, jobs, address, on_result)
    jobs = min(jobs, len(runs))
    if jobs == 1:
        for run in runs:
            on_result(run, train_run(run.program, run.seed, backend, target, folders[run.key]))
        return None
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    threads = max(1, (os.cpu_count() or 1) // jobs)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_limit_threads, initargs=(threads,))
    try:
        pending = {pool.submit(train_run, run.program, run.seed, backend, target, folders[run.key]): run
                   for run in runs}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                on_result(pending.pop(future), future.result())
    except BrokenProcessPool:
        _stop_pool(pool)
        raise SweepError("a worker process died (killed, or out of memory?); the runs done are recorded, and "
                         "the same command again trains the rest") from None
    except BaseException:
        _stop_pool(pool)
        raise
    pool.shutdown()
    return None


def _stop_pool(pool) -> None:
    """Cancel what has not started and end the runs in progress (their results are not recorded)."""
    pool.shutdown(wait=False, cancel_futures=True)
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


def _execute_ray(runs, folders, backend, target, jobs, address, on_result) -> None:
    try:
        import ray
    except ImportError:
        raise SweepError("--engine ray needs Ray: pip install 'nndsl[sweep]'") from None
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:  # a local instance on this machine, as small as the sweep: no dashboard, a small object store
            # (Ray 2.60 listens on every interface, with its token authentication; it maps a
            # node address of 127.0.0.1 to the machine's own, so it cannot be kept to loopback.)
            ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False,
                     object_store_memory=100 * 1024 * 1024)
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise SweepError(f"cannot start Ray{f' at {address}' if address else ''}: {error}") from None
    try:
        task = ray.remote(num_cpus=1)(train_run)
        pending = {task.remote(run.program, run.seed, backend, target, folders[run.key]): run for run in runs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                on_result(pending.pop(ref), ray.get(ref))
    finally:
        ray.shutdown()


# --- results: the CSV, the table, the plot ----------------------------------------------------


def metric_names(entries: list[dict]) -> list[str]:
    names: list[str] = []
    for entry in entries:
        names += [key for key in entry.get("metrics", {}) if key not in names]
    trained = [n for n in names if not n.startswith("val_") and n != "lr"]
    return trained + [n for n in names if n.startswith("val_")] + (["lr"] if "lr" in names else [])  # lr: the last epoch's


def write_csv(path: Path, paths: list[str], entries: list[dict]) -> None:
    metrics = metric_names(entries)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["run", *paths, "seed", "params", "status", "epochs", "time_s", *metrics])
    for e in entries:
        writer.writerow([e["run"], *(e["settings"].get(p, "") for p in paths), e["seed"], e["params"], e["status"],
                         "" if e["epochs"] is None else e["epochs"], f"{e['time_s']:.3f}",
                         *(_csv_number(e["metrics"].get(m)) for m in metrics)])
    write_atomic(path, buffer.getvalue())


def _csv_number(value) -> str:
    return "" if value is None else repr(float(value))


def summarize(paths: list[str], entries: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Each setting's row: its values, parameters, runs, and mean ± std (over the seeds, ddof 1) of
    each final validation metric."""
    import numpy as np

    validation = [m for m in metric_names(entries) if m.startswith("val_")]
    groups: dict[tuple, list[dict]] = {}
    for entry in entries:
        groups.setdefault(tuple(entry["settings"].get(p) for p in paths), []).append(entry)
    header = [*paths, "params", "runs", *validation]
    rows = []
    for values, group in groups.items():
        cells = [*values, str(group[0]["params"])]
        ok = [e for e in group if e["status"] == "ok"]
        cells.append(str(len(ok)) if len(ok) == len(group) else f"{len(ok)} ({len(group) - len(ok)} failed)")
        for metric in validation:
            numbers = np.array([e["metrics"][metric] for e in ok if metric in e["metrics"]], dtype=float)
            if numbers.size == 0:
                cells.append("-")
            elif numbers.size == 1:
                cells.append(f"{numbers[0]:.4f}")
            else:
                cells.append(f"{numbers.mean():.4f} ± {numbers.std(ddof=1):.4f}")
        rows.append(cells)
    return header, rows


def format_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
             for line in [header, *rows]]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def plotted_metric(entries: list[dict]) -> str | None:
    """The validation metric a plot shows: the spec's first metric, else the loss."""
    validation = [m for m in metric_names(entries) if m.startswith("val_")]
    others = [m for m in validation if m != "val_loss"]
    return others[0] if others else (validation[0] if validation else None)


def draw_sweep(paths: list[str], entries: list[dict], metric: str, title: str):
    """The metric against the first swept setting: each seed a dot, the mean ± std as a bar; one
    line per combination of the other settings."""
    import numpy as np

    from nndsl.plots import CLASS_COLOURS, _pyplot

    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    x_path = paths[0] if paths else None
    x_values = list(dict.fromkeys(e["settings"].get(x_path, "") for e in entries)) if x_path else [""]
    series: dict[tuple, dict] = {}
    for e in entries:
        if e["status"] != "ok" or metric not in e["metrics"]:
            continue
        rest = tuple(f"{p}={e['settings'][p]}" for p in paths[1:])
        where = x_values.index(e["settings"].get(x_path, "")) if x_path else 0
        series.setdefault(rest, {}).setdefault(where, []).append(e["metrics"][metric])
    for n, (rest, points) in enumerate(series.items()):
        colour = CLASS_COLOURS[(n + 1) % len(CLASS_COLOURS)]
        offset = (n - (len(series) - 1) / 2) * 0.08
        xs = sorted(points)
        for x in xs:
            axis.scatter(np.full(len(points[x]), x + offset), points[x], s=14, color=colour, alpha=0.45,
                         linewidths=0)
        means = [float(np.mean(points[x])) for x in xs]
        stds = [float(np.std(points[x], ddof=1)) if len(points[x]) > 1 else 0.0 for x in xs]
        axis.errorbar(np.array(xs) + offset, means, yerr=stds, color=colour, marker="o", capsize=3,
                      label=" ".join(rest) or None)
    axis.set_xticks(range(len(x_values)), [str(v) for v in x_values])
    axis.set_xlabel(x_path or "")
    axis.set_ylabel(f"final {metric}")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    if any(series) and len(series) > 1:
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_sweep(path: Path, paths: list[str], entries: list[dict], metric: str, title: str) -> Path:
    from nndsl.plots import _save

    _save(draw_sweep(paths, entries, metric, title), path)
    return path


# --- the command --------------------------------------------------------------------------------


def default_out_dir(program: ir.Program) -> Path:
    from nndsl.train import default_out_dir as train_dir

    return train_dir(program).with_name(train_dir(program).name + "-sweep")


def run_sweep(program: ir.Program, file: s.File, args) -> int:
    """Carry out `nndsl sweep` for a checked spec (and its syntax tree); returns the exit status."""
    if program.train is None or program.data is None or program.loss is None:
        raise SpecError("nothing to train: the spec needs data, loss and train blocks", filename=program.filename)
    grid = Grid(file, args.set or [])
    if grid.size * args.seeds > MAX_RUNS:
        print(f"nndsl sweep: error: {grid.size:,} settings × {args.seeds} seeds is {grid.size * args.seeds:,} runs, "
              f"more than {MAX_RUNS:,}", file=sys.stderr)
        return 1
    runs = plan_runs(grid.programs(), grid.combinations(), args.seeds, args.backend, args.target)
    out = Path(args.out) if args.out else default_out_dir(program)
    paths = [setting.path for setting in grid.settings]
    try:
        (out / "runs").mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"nndsl sweep: error: cannot create {visible(str(out))}: {error.strerror or error}", file=sys.stderr)
        return 1
    results: dict[str, dict] = {}
    for run in runs:
        entry = recorded(out, run)
        if entry is not None:
            results[run.key] = entry
    todo = list({run.key: run for run in runs if run.key not in results}.values())  # `8` and `8.0`: one run

    def done() -> int:
        return sum(run.key in results for run in runs)

    earlier = f"; {done()} done already (in {visible(str(out))})" if results else ""
    print(f"sweep: {len(runs)} runs ({_count(grid.size, 'setting')} × {_count(args.seeds, 'seed')}){earlier}; "
          f"{len(todo)} to train on {_engine_text(args)}", file=sys.stderr)

    def on_result(run: Run, result: dict) -> None:
        results[run.key] = record(out, run, result)
        write_csv(out / "sweep.csv", paths, [_entry(results, r) for r in runs if r.key in results])
        metric = plotted_metric([results[run.key]])
        shown = f"{metric} {result['metrics'][metric]:.4f}" if metric in result["metrics"] else result["status"]
        print(f"[{done()}/{len(runs)}] {visible(run.label)}: {visible(shown)} ({result['time_s']:.1f}s)",
              file=sys.stderr)

    try:
        execute(todo, out, args.backend, args.target, args.engine, args.jobs, args.address, on_result)
    except KeyboardInterrupt:
        print(f"interrupted: {done()} of {len(runs)} runs done, recorded in {visible(str(out))}; "
              "the same command again trains the rest", file=sys.stderr)
        return 130
    except SweepError as error:
        print(f"nndsl sweep: error: {visible(str(error))}", file=sys.stderr)
        return 1
    entries = [_entry(results, run) for run in runs]
    write_csv(out / "sweep.csv", paths, entries)
    print(format_table(*summarize(paths, entries)))
    metric = plotted_metric(entries)
    written = ["sweep.csv"]
    if metric is not None:
        plot_sweep(out / "sweep.png", paths, entries, metric, f"{Path(program.filename).name}: {len(runs)} runs")
        written.append("sweep.png")
    failed = [e for e in entries if e["status"] != "ok"]
    print(f"saved {', '.join(written)} and the runs in {visible(str(out))}", file=sys.stderr)
    if failed:
        print(f"nndsl sweep: {len(failed)} of {len(entries)} runs failed (their train.log in "
              f"{visible(str(out / 'runs'))} says why)", file=sys.stderr)
        return 1
    return 0


def _entry(results: dict, run: Run) -> dict:
    """A run's row: its recorded result, under its own settings (two spellings of a value share a result)."""
    return {**results[run.key], "settings": dict(run.settings), "seed": run.seed}


def _engine_text(args) -> str:
    if args.engine == "ray":
        return f"Ray at {args.address}" if args.address else f"a local Ray instance ({args.jobs} CPUs)"
    return "this process" if args.jobs == 1 else f"{args.jobs} local processes"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
