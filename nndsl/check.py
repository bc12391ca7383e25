"""Syntax tree -> checked IR: validation, name resolution, shape inference, defaults.

The checker reads each block, binds each statement's arguments against what
that statement takes, converts and range-checks every value, fills in the
defaults, infers layer widths, and finally checks the blocks against each
other (input width vs features, output activation vs loss, data vs loss).
It keeps going after an error so that one run reports them all; messages name
the argument and echo the value, Keras-style: ``units must be a positive
integer; received units=0``.
"""

from __future__ import annotations

import keyword
import math
import re
import struct
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from nndsl import catalog, ir, spellings
from nndsl import layers as layer_kinds
from nndsl import syntax as s
from nndsl.errors import Diagnostic, SpecError
from nndsl.source import Span
from nndsl.suggest import closest, did_you_mean

_INTEGER = re.compile(r"[+-]?\d+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_NUMBER_TEXT = 40
#: Report at most this many errors (and how many more there are).
MAX_ERRORS = 100


class _Skip(Exception):
    """Raised after recording an error, to abandon the statement at hand."""


# --- statement arguments ---------------------------------------------------------


@dataclass
class _Bound:
    """A statement's or call's arguments, bound to their names."""

    owner: str
    values: dict[str, s.Value]
    keys: dict[str, s.Name]
    span: Span

    def get(self, name: str) -> s.Value | None:
        return self.values.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self.values


class Checker:
    """Checks one syntax tree; `run()` returns the IR or raises `SpecError`."""

    Skip = _Skip  # for the layer kinds' checks (nndsl/layers.py)

    def __init__(self, file: s.File) -> None:
        self.file = file
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.data_failed = False
        self._lines: list[str] | None = None
        self._strays = 0  # misspelt statement keywords reported so far
        self._layer_names: frozenset[str] = frozenset()  # the names given with name= in the model

    # -- reporting --

    def error(self, span: Span | None, message: str) -> None:
        self.errors.append(Diagnostic("error", message, self.file.filename, span))

    def warn(self, span: Span | None, message: str) -> None:
        self.warnings.append(Diagnostic("warning", message, self.file.filename, span))

    def fail(self, span: Span | None, message: str) -> _Skip:
        self.error(span, message)
        return _Skip()

    # -- the whole program --

    def run(self) -> ir.Program:
        blocks = self._collect_blocks()
        data = self._guard(lambda: self.check_data(blocks["data"])) if blocks.get("data") else None
        self.data_failed = blocks.get("data") is not None and data is None
        reported = len(self.errors)
        model = self._guard(lambda: self.check_model(blocks["model"], data)) if blocks.get("model") else None
        model_failed = len(self.errors) > reported  # a dropped layer or activation would make echoes below
        loss = self._guard(lambda: self.check_loss(blocks["loss"])) if blocks.get("loss") else None
        train = self._guard(lambda: self.check_train(blocks["train"], loss, data, None if model_failed else model)) \
            if blocks.get("train") else None
        if blocks.get("model") is None:
            self.error(Span.point(1, 1), "spec has no model block; add e.g. 'model { input 2  dense 1 }'")
        if blocks.get("train") is not None:
            train_span = blocks["train"].span
            if blocks.get("data") is None:
                self.error(train_span, "train needs a data block to train on; add e.g. 'data xor(samples=500)'")
            if blocks.get("loss") is None:
                self.error(train_span, "train needs a loss; add e.g. 'loss mse' before the train block")
        if model is not None and not model_failed:
            self.check_objective(model, data, loss, blocks)
        if self.errors:
            ordered = sorted(self.errors, key=lambda d: (d.span.line, d.span.column) if d.span else (0, 0))
            if len(ordered) > MAX_ERRORS:  # a hostile spec could make millions; the first ones tell
                rest = ordered[MAX_ERRORS]
                ordered = ordered[:MAX_ERRORS] + [
                    Diagnostic("error", f"{len(ordered) - MAX_ERRORS:,} more errors not shown",
                               rest.filename, rest.span)
                ]
            raise SpecError(diagnostics=ordered, text=self.file.text)
        assert model is not None
        return ir.Program(
            model=model,
            data=data,
            loss=loss,
            train=train,
            filename=self.file.filename,
            warnings=tuple(sorted(self.warnings, key=lambda d: (d.span.line, d.span.column) if d.span else (0, 0))),
        )

    def _guard(self, check: Callable, default=None):
        """Run one check; after its error was recorded, carry on with `default`."""
        try:
            return check()
        except _Skip:
            return default

    def _collect_blocks(self) -> dict[str, s.Block | None]:
        kinds = {
            s.DataBlock: "data",
            s.ModelBlock: "model",
            s.LossBlock: "loss",
            s.TrainBlock: "train",
        }
        blocks: dict[str, s.Block | None] = {}
        for block in self.file.blocks:
            kind = kinds[type(block)]
            if blocks.get(kind) is not None:
                first = blocks[kind].span
                self.error(
                    block.span,
                    f"second {kind} block; a spec describes one experiment "
                    f"(the first {kind} block is at {first.line}:{first.column})",
                )
                continue
            blocks[kind] = block
        return blocks

    # -- binding arguments --

    def bind(
        self,
        owner: str,
        args: Sequence[s.Arg],
        span: Span,
        positional: Sequence[str] = (),
        keywords: Sequence[str] = (),
        aliases: dict[str, str] | None = None,
        at_line_start: Callable[[s.Value], bool] | None = None,
        unbound: Sequence[s.Arg] = (),
    ) -> _Bound:
        """Match arguments to names; report unknown, repeated and surplus ones, and a
        positional argument after a keyword one (as Python does: `nndsl fmt` puts
        positional arguments first, which would give it another meaning).

        `at_line_start` marks a statement's arguments (calls have none): a name among
        them that is a misspelt statement keyword starts the next statement.
        `unbound` are arguments of the statement taken out before binding (a dense
        layer's penalties), only to show the statement whole in a hint.
        """
        aliases = aliases or {}
        allowed = list(dict.fromkeys([*positional, *keywords]))
        bound = _Bound(owner, {}, {}, span)
        position = 0
        first_keyword: s.Keyword | None = None
        late: tuple[s.Value, s.Keyword] | None = None  # the first positional argument after a keyword one
        surplus = False
        slots: list[str] = []  # the positional parameters filled by position
        for arg in args:
            while position < len(positional) and positional[position] in bound.values:
                position += 1
            if self._stray_statement(arg, at_line_start, first=position == 0 and not bound.values):
                break
            if isinstance(arg, s.Keyword):
                first_keyword = first_keyword or arg
                key = aliases.get(arg.key.text, arg.key.text)
                if key not in allowed:
                    choices = ", ".join(allowed) if allowed else "no arguments"
                    hint = spellings.argument_hint(owner, arg.key.text, render(arg.value))
                    self.error(
                        arg.key.span,
                        f"unknown argument '{arg.key.text}' for {owner}"
                        f"{hint or did_you_mean(arg.key.text, allowed)}; {owner} takes {choices}",
                    )
                    continue
                if key in bound.values:
                    self.error(arg.key.span, f"{owner} got {key} twice")
                    continue
                bound.values[key] = arg.value
                bound.keys[key] = arg.key
                continue
            if position >= len(positional):
                if not surplus:  # the first says it; the rest would only echo it
                    self._surplus(owner, arg, positional)
                surplus = True
                continue
            if first_keyword is not None and late is None:
                late = (arg, first_keyword)
            bound.values[positional[position]] = arg
            slots.append(positional[position])
            position += 1
        if late is not None:
            self._positional_after_keyword(owner, late, bound, positional, slots, unbound,
                                           call=at_line_start is None)
        return bound

    def _positional_after_keyword(self, owner, late, bound: _Bound, positional, slots, unbound, call) -> None:
        arg, keyword_ = late
        # The fix: every positional parameter up to the last one filled by position, by
        # position and in order; the rest as keywords, in the order written.
        last = max(positional.index(slot) for slot in slots)
        parts = [render(bound.values[name]) for name in positional[: last + 1] if name in bound.values]
        parts += [render(a) for a in unbound]
        parts += [
            f"{bound.keys[name].text}={render(value)}"
            for name, value in bound.values.items()
            if name in bound.keys and not (name in positional and positional.index(name) <= last)
        ]
        fixed = f"{owner}({', '.join(parts)})" if call else " ".join([owner, *parts])
        hint = f": '{fixed}'" if len(fixed) <= 72 and "..." not in fixed else ""
        self.error(
            arg.span,
            f"positional argument '{render(arg)}' follows keyword argument '{render(keyword_)}'; "
            f"positional arguments come first{hint}",
        )

    def _stray_statement(self, arg, at_line_start, first: bool = False) -> bool:
        """A misspelt statement keyword reads as one more argument of the statement
        before it. A name starting a line gives it away; so does, on one line
        (`input 2 dnese 4`), a name like a statement keyword that is no value of the
        language, unless it is the statement's first argument (`activation dnese`
        names an activation, however it reads)."""
        if not isinstance(arg, s.Name) or at_line_start is None:
            return False
        statements = [w for ws in catalog.BLOCK_STATEMENTS.values() for w in ws]
        if at_line_start(arg) or (catalog.not_yet(arg.text) and not first):
            hint = spellings.statement_hint(arg.text, self._rest_of_line(arg.span), self._block_at(arg.span))
            self.error(arg.span, f"unknown statement '{arg.text}'{hint}")
            self._strays += 1
            return True
        layer_name = arg.text in self._layer_names or re.fullmatch(r"[a-z_0-9]+_\d+", arg.text)  # `add dense_1, b`
        match = None if first or arg.text in _VALUE_NAMES or layer_name else closest(arg.text, statements)
        if match is None:
            return False
        hint = spellings.statement_hint(arg.text, self._rest_of_line(arg.span), self._block_at(arg.span))
        self.error(arg.span, f"unknown statement '{arg.text}'{hint}")
        self._strays += 1
        return True

    def _block_at(self, span: Span) -> str | None:
        """data, model, loss or train: the block that `span` stands in."""
        kinds = {s.DataBlock: "data", s.ModelBlock: "model", s.LossBlock: "loss", s.TrainBlock: "train"}
        for block in self.file.blocks:
            if (block.span.line, block.span.column) <= (span.line, span.column) <= (block.span.end_line,
                                                                                   block.span.end_column):
                return kinds[type(block)] if kinds[type(block)] in catalog.BLOCK_STATEMENTS else None
        return None

    def _rest_of_line(self, span: Span) -> str:
        """The code after `span` on its line, for hints that quote the value written there."""
        if self._lines is None:
            self._lines = self.file.text.split("\n")
        line = self._lines[span.end_line - 1]
        return line[span.end_column - 1 :].split("#", 1)[0]

    def _surplus(self, owner, arg, positional) -> None:
        if positional:
            takes = f"at most {len(positional)} positional argument{'s' if len(positional) > 1 else ''} ({', '.join(positional)})"
        else:
            takes = "no positional arguments"
        self.error(arg.span, f"unexpected {describe(arg)}: {owner} takes {takes}")

    def line_start(self, value: s.Value) -> bool:
        if self._lines is None:
            self._lines = self.file.text.split("\n")
        line = self._lines[value.span.line - 1]
        return not line[: value.span.column - 1].strip()

    # -- values --

    def number(self, value: s.Value | None, name: str, owner: str = "") -> float | int:
        if not isinstance(value, s.Number):
            raise self.fail(_span_of(value), f"{name} must be a number; received {name}={render(value)}")
        text = value.text
        if len(text) > _MAX_NUMBER_TEXT:
            raise self.fail(value.span, f"{name} is too long a number ({len(text)} characters)")
        if _INTEGER.fullmatch(text):
            return int(text)
        number = float(text)
        if not math.isfinite(number):
            raise self.fail(value.span, f"{name} must be finite; received {name}={text}")
        return number

    def integer(
        self, value: s.Value | None, name: str, low: int | None = None, high: int | None = None, what: str = ""
    ) -> int:
        number = self.number(value, name)
        if not isinstance(number, int):
            raise self.fail(value.span, f"{name} must be an integer; received {name}={value.text}")
        if low is not None and number < low:
            kind = what or ("a positive integer" if low == 1 else f"an integer ≥ {low}")
            raise self.fail(value.span, f"{name} must be {kind}; received {name}={value.text}")
        if high is not None and number > high:
            raise self.fail(value.span, f"{name} must be at most {high:,}; received {name}={value.text}")
        return number

    def real(
        self,
        value: s.Value | None,
        name: str,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
        high_open: bool = False,
        what: str | None = None,
        float32: bool = True,
    ) -> float:
        """A real number in the given range. With `float32` (every number the generated
        code computes with), it must also be one in float32: finite there, and still in
        the range once rounded to float32 (`eps=1e-300` would be 0, `beta2=0.999999999` 1)."""
        number = float(self.number(value, name))

        def outside(x: float) -> bool:
            too_low = low is not None and (x <= low if low_open else x < low)
            too_high = high is not None and (x >= high if high_open else x > high)
            return too_low or too_high

        if what is None:
            left = "(" if low_open else "["
            right = ")" if high_open else "]"
            lo = "-inf" if low is None else _fmt(low)
            hi = "inf" if high is None else _fmt(high)
            what = f"in {left}{lo}, {hi}{right}"
        if outside(number):
            raise self.fail(value.span, f"{name} must be {what}; received {name}={value.text}")
        if float32:
            rounded = self._float32(value, number, name)
            if outside(rounded):
                if rounded == 0:
                    raise self.fail(
                        value.span,
                        f"{name} is too small for float32: it rounds to 0 (smallest positive float32 "
                        f"{_FLOAT32_TINY_TEXT}), and {name} must be {what}; received {name}={value.text}",
                    )
                raise self.fail(
                    value.span,
                    f"{name} rounds to {_fmt(rounded)} in float32, and {name} must be {what}; "
                    f"received {name}={value.text}",
                )
        return number

    def _float32(self, value: s.Number, number: float, name: str, received: str | None = None) -> float:
        """`number` rounded to float32, as the generated code holds it; an error if it overflows."""
        rounded = _to_float32(number)
        if rounded is None:
            limit = f"largest {_FLOAT32_MAX_TEXT}" if number > 0 else f"smallest -{_FLOAT32_MAX_TEXT}"
            raise self.fail(
                value.span,
                f"{name} is too large{'' if number > 0 else ' a negative number'} for float32 ({limit}), "
                f"the precision the generated code computes in; received {received or f'{name}={value.text}'}",
            )
        return rounded

    def boolean(self, value: s.Value | None, name: str) -> bool:
        if not isinstance(value, s.Bool):
            raise self.fail(_span_of(value), f"{name} must be true or false; received {name}={render(value)}")
        return value.value

    def choice(self, value: s.Value | None, name: str, choices: Sequence[str], kind: str) -> str:
        if not isinstance(value, s.Name):
            raise self.fail(
                _span_of(value), f"{name} must be one of {', '.join(choices)}; received {name}={render(value)}"
            )
        if value.text not in choices:
            raise self.fail(value.span, f"unknown {kind} '{value.text}'{spellings.value_hint(kind, value.text, choices)}")
        return value.text

    def identifier(self, value: s.Value | None, name: str) -> str:
        """A name that becomes a Python identifier (layer and model names): ASCII letters,
        digits and `_`, not a keyword or soft keyword, not a dunder. ASCII only, so
        that no two different names are equal after Python's NFKC normalisation of
        identifiers (`ﬁle` is `file` to Python) and no lookalike (Cyrillic `а`) passes."""
        if isinstance(value, s.Name):
            text = value.text
        elif isinstance(value, s.String):
            text = value.value
        elif isinstance(value, s.Bool):  # `name=true` reads as the keyword true
            raise self.fail(_span_of(value), f"{name} must be a name; received {name}={render(value)}, a keyword: "
                                             f'write {name}="{render(value)}" (the layer keeps that name)')
        else:
            raise self.fail(_span_of(value), f"{name} must be a name; received {name}={render(value)}")
        if not _IDENTIFIER.fullmatch(text):
            folded = unicodedata.normalize("NFKC", text)
            hint = f" (Python reads it as {folded!r}; write that)" if _IDENTIFIER.fullmatch(folded) else ""
            raise self.fail(
                value.span,
                f"{name} must be a name of ASCII letters, digits and '_', not starting with a digit; "
                f"received {name}={text!r}{hint}",
            )
        if len(text) > catalog.MAX_NAME_LENGTH:
            raise self.fail(value.span, f"{name} is longer than {catalog.MAX_NAME_LENGTH} characters")
        if keyword.iskeyword(text) or text in catalog.SOFT_KEYWORDS:
            raise self.fail(value.span, f"{name} cannot be the Python keyword '{text}' (the name becomes a Python "
                                        f"identifier in the generated code); write, say, '{_renamed(text, name)}'")
        if text.startswith("__"):
            raise self.fail(value.span, f"{name} cannot start with '__'; received {name}={text!r} (Python keeps "
                                        f"such names for itself); write, say, '{_renamed(text, name)}'")
        return text

    def string(self, value: s.Value | None, name: str) -> str:
        if not isinstance(value, s.String):
            raise self.fail(_span_of(value), f"{name} must be a quoted string; received {name}={render(value)}")
        bad = _invisible_character(value.value)
        if bad is not None:
            raise self.fail(value.span, f"{name} contains {_character_kind(bad)}; remove it")
        return value.value

    # -- data --

    def check_data(self, block: s.DataBlock) -> ir.Data:
        source_call = block.source
        name = source_call.name if isinstance(source_call, s.Call) else source_call
        args = source_call.args if isinstance(source_call, s.Call) else ()
        if name.text not in catalog.DATA_SOURCES:
            raise self.fail(
                name.span,
                f"unknown data source '{name.text}'{did_you_mean(name.text, catalog.DATA_SOURCES)}; "
                f"choose one of {', '.join(catalog.DATA_SOURCES)}",
            )
        statements = self._statements(block.body, "data")
        self._data_failed = False
        source, seed = self._guard(lambda: self._data_source(name, args, block.span)) or (None, None)
        reported = len(self.errors)
        features = self._features(statements.get("features"), source, name.text)
        features_failed = len(self.errors) > reported  # the model is not checked against a partial list
        split = self._split(statements.get("split"), source)
        normalize = self._guard(lambda: self._normalize(statements["normalize"])) if "normalize" in statements else None
        if source is None or self._data_failed:
            raise _Skip()
        if isinstance(source, ir.PlaygroundData) and split is not None and split < 1:
            train = math.floor(source.samples * split)
            if train < 1 or train >= source.samples:
                where = statements["split"].span if "split" in statements else block.span
                self.error(
                    where,
                    f"split {split} of {source.samples} samples leaves {train} for training and "
                    f"{source.samples - train} for validation; each needs at least one",
                )
        if split is None or features_failed:
            raise _Skip()
        if normalize is None:
            return ir.Data(source, features, split, seed, block.span)
        return ir.Data(source, features, split, seed, block.span, normalize, statements["normalize"].span)

    def _normalize(self, statement: s.Statement) -> str:
        """`normalize standard|minmax`: the method (catalog.NORMALIZE_METHODS)."""
        methods = tuple(catalog.NORMALIZE_METHODS)
        bound = self.bind("normalize", statement.args, statement.span, positional=["method"],
                          at_line_start=self.line_start)
        if "method" not in bound:
            raise self.fail(statement.span, "normalize needs a method: " + " or ".join(
                f"'normalize {name}' ({formula})" for name, formula in catalog.NORMALIZE_FORMULAS.items()))
        return self.choice(bound.get("method"), "normalize", methods, "normalize method")

    def _data_source(self, name: s.Name, args, span: Span):
        owner = name.text
        if owner in catalog.PLAYGROUND:
            keywords = ["samples", "noise", "seed"]
            if owner in ("spiral", "gauss", "xor", "checkerboard", "circle"):
                keywords.append("classes")
            bound = self.bind(owner, args, span, keywords=keywords)
            kind, default_samples = catalog.PLAYGROUND[owner]
            failed = len(self.errors)
            samples = default_samples
            if "samples" in bound:
                samples = self._guard(
                    lambda: self.integer(bound.get("samples"), "samples", 2, catalog.MAX_SAMPLES), samples
                )
            noise = 0.0
            if "noise" in bound:
                noise = self._guard(lambda: self.real(
                    bound.get("noise"), "noise", 0.0, catalog.MAX_NOISE,
                    what=f"between 0 and {catalog.MAX_NOISE} (the Playground's 0 to 50 %)",
                    float32=False,  # the data are drawn in float64
                ), noise)
            classes = 2 if kind == "classification" else None
            if "classes" in bound:
                classes = self._guard(
                    lambda: self.integer(bound.get("classes"), "classes", 2, catalog.MAX_CLASSES), classes
                )
                if owner != "spiral" and classes != 2:
                    self.error(
                        bound.get("classes").span,
                        f"{owner} has two classes; only spiral takes classes=N; received classes={classes}",
                    )
            seed = self._guard(lambda: self._seed(bound.get("seed"))) if "seed" in bound else None
            if len(self.errors) > failed:
                self._data_failed = True
            generator = "xor" if owner == "checkerboard" else owner
            return ir.PlaygroundData(generator, samples, noise, classes, span), seed
        if owner == "csv":
            bound = self.bind(owner, args, span, positional=["path"], keywords=["target", "seed"])
            path = self._path(bound.get("path"), bound, "csv")
            if "target" not in bound:
                raise self.fail(span, "csv needs target=COLUMN, the column to predict")
            target = self._column(bound.get("target"), "target")
            seed = self._seed(bound.get("seed")) if "seed" in bound else None
            return ir.CsvData(path, target, span), seed
        if owner == "images":
            bound = self.bind(owner, args, span, positional=["path"], keywords=["size", "color", "seed"])
            path = self._path(bound.get("path"), bound, "images")
            if "size" not in bound:
                raise self.fail(span, "images needs size=HxW, the height and width every image is resized to, "
                                      "e.g. size=16x16")
            size = layer_kinds.pair(self, bound.get("size"), "size", catalog.MAX_UNITS)
            color = self.choice(bound.get("color"), "color", ("grayscale", "rgb"), "color") if "color" in bound \
                else "grayscale"
            seed = self._seed(bound.get("seed")) if "seed" in bound else None
            return ir.ImageFolderData(path, size, color, span), seed
        bound = self.bind(owner, args, span, positional=["path"], keywords=["x", "y", "seed"])
        path = self._path(bound.get("path"), bound, "npz")
        x_key = self._column(bound.get("x"), "x", "array") if "x" in bound else "x"
        y_key = self._column(bound.get("y"), "y", "array") if "y" in bound else "y"
        seed = self._seed(bound.get("seed")) if "seed" in bound else None
        return ir.NpzData(path, x_key, y_key, span), seed

    def _path(self, value, bound: _Bound, owner: str) -> str:
        if value is None:
            raise self.fail(bound.span, f'{owner} needs a file path, e.g. {owner}("data/file.{owner}")')
        path = self.string(value, "path")
        if not path:
            raise self.fail(value.span, "path is empty")
        if "\\" in path or path.startswith("/") or re.match(r"[A-Za-z]:", path):
            raise self.fail(
                value.span,
                f"path must be relative to the spec's folder, with '/' between folders; received path={path!r}",
            )
        parts = PurePosixPath(path).parts
        if ".." in parts:
            raise self.fail(value.span, f"path must stay inside the spec's folder (no '..'); received path={path!r}")
        if owner != "images" and not path.endswith(f".{owner}"):  # (images reads a folder)
            self.warn(value.span, f"{owner} data path {path!r} does not end in .{owner}")
        return path

    def _column(self, value, name: str, what: str = "column") -> str:
        """A column (or npz array) name: a bare name, or a quoted string for any other."""
        if isinstance(value, s.Name):
            return value.text
        if not isinstance(value, s.String):
            article = "an" if what[0] in "aeiou" else "a"
            hint = ""
            if isinstance(value, s.Number):
                hint = f"; a {what} named {value.text} is written {name}=\"{value.text}\""
            raise self.fail(
                _span_of(value),
                f"{name} must be {article} {what} name, bare or quoted ({name}=y, {name}=\"y 2\"); "
                f"received {name}={render(value)}{hint}",
            )
        return self.string(value, name)

    def _seed(self, value) -> int:
        return self.integer(value, "seed", 0, catalog.MAX_SEED, what="an integer ≥ 0")

    def _features(self, statement: s.Features | None, source, source_name: str):
        if source is None:
            return None
        if isinstance(source, ir.PlaygroundData):
            if statement is None:
                return tuple(ir.Feature(f) for f in catalog.DEFAULT_FEATURES)
            out = []
            for item in statement.items:
                if item.kind == "column":
                    self.error(item.span, f"{source_name} features are names such as x1, not strings")
                    continue
                if item.text not in catalog.PLAYGROUND_FEATURES:
                    self.error(
                        item.span,
                        f"unknown feature '{item.text}'{did_you_mean(item.text, catalog.PLAYGROUND_FEATURES)}; "
                        f"the Playground's features are {', '.join(catalog.PLAYGROUND_FEATURES)}",
                    )
                    continue
                out.append(ir.Feature(item.text, item.span))
            return self._unique_features(out)
        if statement is None:
            return None
        if isinstance(source, ir.NpzData):
            raise self.fail(statement.span, "npz data has no column names; remove 'features' (set 'input N' instead)")
        if isinstance(source, ir.ImageFolderData):
            raise self.fail(statement.span, "images have no feature columns; remove 'features' (the model's "
                                            "'input HxWxC' says what it takes)")
        out = []
        for item in statement.items:
            if item.kind not in ("name", "column"):
                self.error(item.span, f"csv features are column names; '{item.text}' is a Playground feature")
                continue
            name = item.parts[0]
            bad = _invisible_character(name) if item.kind == "column" else None
            if bad is not None:
                self.error(item.span, f"column name contains {_character_kind(bad)}")
                continue
            if name == source.target:
                self.error(item.span, f"'{name}' is the target column; it cannot also be a feature")
                continue
            out.append(ir.Feature(name, item.span))
        return self._unique_features(out)

    def _unique_features(self, features: list[ir.Feature]) -> tuple[ir.Feature, ...]:
        seen: dict[str, ir.Feature] = {}
        for feature in features:
            if feature.name in seen:
                first = seen[feature.name].span
                self.error(feature.span, f"feature '{feature.name}' is listed twice (first at {first})")
            seen.setdefault(feature.name, feature)
        return tuple(seen.values())

    def _split(self, statement: s.Statement | None, source) -> float | None:
        if statement is None:
            if source is None:
                return None
            return catalog.DEFAULT_SPLIT["playground" if isinstance(source, ir.PlaygroundData) else "file"]
        bound = self.bind("split", statement.args, statement.span, positional=["fraction"],
                          at_line_start=self.line_start)
        if "fraction" not in bound:
            self.error(statement.span, "split needs the training fraction, e.g. 'split 0.5'")
            return None
        try:
            # 1 trains on every sample and validates on none (no val_ keys); below 1 the rest validates
            return self.real(bound.get("fraction"), "split", 0.0, 1.0, True, False,
                             what="a fraction above 0 and at most 1 (split 1: no validation)",
                             float32=False)  # used in float64
        except _Skip:
            return None

    def _statements(self, body: s.Body | None, block: str) -> dict[str, s.BlockStatement]:
        """The statements of a block that takes each at most once, keyed by keyword."""
        found: dict[str, s.BlockStatement] = {}
        if body is None:
            return found
        for statement in body.statements:
            keyword_ = "features" if isinstance(statement, s.Features) else statement.head.text
            head_span = statement.span if isinstance(statement, s.Features) else statement.head.span
            if keyword_ not in catalog.BLOCK_STATEMENTS[block]:
                self._misplaced(keyword_, head_span, block)
                continue
            if keyword_ in found:
                first = found[keyword_].span
                self.error(head_span, f"{keyword_} is given twice in the {block} block (first at {first})")
                continue
            found[keyword_] = statement
        return found

    def _misplaced(self, keyword_: str, span: Span, block: str) -> None:
        home = next((b for b, ws in catalog.BLOCK_STATEMENTS.items() if keyword_ in ws), None)
        takes = ", ".join(catalog.BLOCK_STATEMENTS[block])
        where = f"; it belongs in the {home} block" if home else ""
        self.error(span, f"'{keyword_}' does not belong in a {block} block{where} ({block} takes {takes})")

    # -- model --

    def check_model(self, block: s.ModelBlock, data: ir.Data | None) -> ir.Model:
        name = None
        if block.name is not None:
            name = self._guard(lambda: self.identifier(block.name, "model name"))
        input_statement: s.Statement | None = None
        layer_statements: list[s.Statement] = []
        model_regularizers: tuple[ir.Regularizer, ...] = ()
        regularizer_statement = None
        strays = self._strays
        for statement in block.body.statements:
            if isinstance(statement, s.Features):
                self._misplaced("features", statement.span, "model")
                continue
            head = statement.head.text
            if isinstance(statement, s.Residual):
                layer_statements.append(statement)
            elif head not in catalog.BLOCK_STATEMENTS["model"]:
                self._misplaced(head, statement.head.span, "model")
            elif head == "input":
                if input_statement is not None:
                    self.error(statement.head.span, f"input is given twice (first at {input_statement.span})")
                elif layer_statements:
                    self.error(statement.head.span, "input must come before the layers")
                input_statement = input_statement or statement
            elif head == "regularizer":
                if regularizer_statement is not None:
                    self.error(statement.head.span, "regularizer is given twice in the model block")
                    continue
                regularizer_statement = statement
                bound = self.bind("regularizer", statement.args, statement.span, positional=["penalty"],
                                  at_line_start=self.line_start)
                if "penalty" not in bound:
                    self.error(statement.span, "regularizer needs a penalty, e.g. 'regularizer l2(0.001)'")
                else:
                    model_regularizers = self._guard(lambda bound=bound: self._regularizers(bound.get("penalty"))) or ()
            else:
                layer_statements.append(statement)
        input_name, input_statement = self._input_name(input_statement, layer_statements)
        in_shape = self._input_shape(input_statement, data, block)
        if not layer_statements and self._strays == strays:  # else the layer is there, misspelt
            self.error(block.body.span, "model has no layers; add e.g. 'dense 1'")
        layers = self._layers(layer_statements, in_shape, model_regularizers, input_name)
        if layers and not self._layers_failed and len(layers[-1].out_shape) > 1:
            shape = "x".join(map(str, layers[-1].out_shape))
            self.error(layers[-1].span, f"the model ends in an image of {shape}; end it with 'flatten' or "
                                        "'global_avgpool' and a dense layer, one unit per output")
        in_shape = in_shape or (1,)
        normalize = None
        if data is not None and data.normalize is not None:  # per feature, or per channel of an image
            normalize = ir.Normalize(data.normalize, in_shape[-1], data.normalize_span)
        model = ir.Model(name, math.prod(in_shape), tuple(layers), block.span,
                         in_shape if len(in_shape) > 1 else None, input_name, normalize)
        self._parameter_limit(model)
        return model

    def _input_name(self, statement: s.Statement | None, layer_statements) -> tuple[str, s.Statement | None]:
        """What layers call the model's input (`input 2 name=x`), and the input statement without its name.
        Unnamed, the input is `x`, unless a layer has that name: then `input` (which no layer can read)."""
        given = [a for a in statement.args if isinstance(a, s.Keyword) and a.key.text == "name"] if statement else []
        if given:
            statement = replace(statement, args=tuple(a for a in statement.args if not any(a is g for g in given)))
            if len(given) > 1:
                self.error(given[1].key.span, "input got name twice")
            name = self._guard(lambda: self.identifier(given[0].value, "input name"))
            if name is not None:
                return name, statement
        return ("input" if "x" in _given_names(layer_statements) else "x"), statement

    def _parameter_limit(self, model: ir.Model) -> None:
        """Report a model over MAX_PARAMETERS at the layer that takes it over."""
        total = sum(p.size for p in model.parameters)
        if total <= catalog.MAX_PARAMETERS:
            return
        running, where = 0, model.span
        for layer in model.layers:
            running += sum(p.size for p in layer.parameters)
            if running > catalog.MAX_PARAMETERS:
                where = layer.span
                break
        self.error(where, f"model has {total:,} parameters, more than the limit of {catalog.MAX_PARAMETERS:,}")

    def _input_shape(self, statement: s.Statement | None, data: ir.Data | None,
                     block: s.ModelBlock) -> tuple[int, ...] | None:
        """`input N` (features) or `input HxWxC` (an image), checked against the data where it fixes them."""
        from_data = len(data.features) if data is not None and data.features is not None else None
        if statement is None:
            if from_data is None and not self.data_failed:  # a broken data block was reported already
                self.error(
                    block.body.span if block.body.statements == () else block.body.statements[0].span,
                    "model needs 'input N' (the number of input features) as its first statement",
                )
            return (from_data,) if from_data is not None else None
        bound = self.bind("input", statement.args, statement.span, positional=["features"],
                          at_line_start=self.line_start)
        if "features" not in bound:
            self.error(statement.span, "input needs the number of features, e.g. 'input 2', or an image's "
                                       "height x width x channels, e.g. 'input 8x8x1'")
            return (from_data,) if from_data is not None else None
        value = bound.get("features")
        if isinstance(value, s.Shape):
            return self._image_input(value, data)
        try:
            width = self.integer(value, "input", 1, catalog.MAX_UNITS)
        except _Skip:
            return (from_data,) if from_data is not None else None
        if data is not None and isinstance(data.source, ir.ImageFolderData):
            shape = "x".join(map(str, (*data.source.size, data.source.channels)))
            self.error(value.span, f"images(...) gives images of {shape}, not rows of features; write 'input {shape}' "
                                   "(and 'flatten' before a dense layer)")
            return None
        if from_data is not None and width != from_data:
            names = ", ".join(f.name for f in data.features)
            self.error(
                bound.get("features").span,
                f"input {width} disagrees with the data, which has {from_data} "
                f"feature{'s' if from_data != 1 else ''} ({names})",
            )
        return (width,)

    def _image_input(self, value: s.Shape, data: ir.Data | None) -> tuple[int, ...] | None:
        dims = value.dims
        if len(dims) != 3:
            hint = f"; for one channel, 'input {value.text}x1'" if len(dims) == 2 else ""
            self.error(value.span, f"an image input is height x width x channels, e.g. 'input 8x8x1'; "
                                   f"received input={value.text}{hint}")
            return None
        if not all(1 <= d <= catalog.MAX_UNITS for d in dims) or math.prod(dims) > catalog.MAX_UNITS:
            self.error(value.span, f"input {value.text} has {math.prod(dims):,} values, more than the limit "
                                   f"of {catalog.MAX_UNITS:,}")
            return None
        if data is not None and isinstance(data.source, ir.ImageFolderData):
            source = data.source
            expected = (*source.size, source.channels)
            if dims != expected:
                self.error(value.span, f"input {value.text} disagrees with the data: images(...) gives "
                                       f"{'x'.join(map(str, expected))} ({'x'.join(map(str, source.size))}, "
                                       f"{source.color}); write 'input {'x'.join(map(str, expected))}'")
                return None
        elif data is not None and not isinstance(data.source, ir.NpzData):
            source = data.source
            what = f"{source.generator}" if isinstance(source, ir.PlaygroundData) else "CSV"
            self.error(value.span, f"input {value.text} is an image, but {what} data are rows of features; "
                                   "images come from npz(...) files (x of shape (N, H, W, C) or (N, H, W))")
            return None
        return dims

    def _layers(self, statements, in_shape: tuple[int, ...] | None, model_regularizers,
                input_name: str) -> list[ir.Layer]:
        """The model's layers in the spec's order, each with the names it reads (`inputs`): the
        layer above, or `from=`; a residual block becomes its layers, its shortcut's and an add."""
        graph = _Graph(input_name, in_shape or (1,))
        graph.later = _given_names(statements)
        self._layer_names = frozenset(graph.later)
        flat = list(_flat_statements(statements))  # one layer each (a residual block: its add)
        if len(flat) > catalog.MAX_LAYERS:
            self.error(flat[catalog.MAX_LAYERS].span,
                       f"model has {len(flat):,} layers, more than the limit of {catalog.MAX_LAYERS:,}")
        self._walk(statements, graph, input_name, model_regularizers)
        self._unread_layers(graph)
        self._layers_failed = graph.failed
        return graph.layers

    def _walk(self, statements, graph: _Graph, above: str | None, model_regularizers) -> str | None:
        """Check `statements` as a stack that starts from `above` (a name; None: after an error);
        returns the name of what the last one gives."""
        for statement in statements:
            if graph.full:
                break
            if isinstance(statement, s.Residual):
                above = self._residual(statement, graph, above, model_regularizers)
                continue
            if isinstance(statement, s.Features) or statement.head.text not in layer_kinds.KINDS:
                self._not_a_layer(statement)  # inside a residual block or its shortcut
                continue
            kind = statement.head.text
            default_name = graph.default_name(kind)
            source, statement = self._from(statement, graph, above)
            if source is None:  # the layers below are checked as if this one were not there
                graph.failed = True
                continue
            context = layer_kinds.Context(model_regularizers, graph.layer(source),
                                          lambda value, what: graph.resolve(self, value, what), graph.shape)
            try:
                layer = layer_kinds.KINDS[kind].check(self, statement, graph.shape(source), default_name, context)
            except _Skip:
                graph.failed = True
                continue
            if not layer.inputs:
                layer = replace(layer, inputs=(source,))
            above = graph.add(self, layer, statement)
        return above

    def _not_a_layer(self, statement) -> None:
        keyword_ = "features" if isinstance(statement, s.Features) else statement.head.text
        span = statement.span if isinstance(statement, s.Features) else statement.head.span
        if keyword_ in catalog.BLOCK_STATEMENTS["model"]:  # input, regularizer
            self.error(span, f"'{keyword_}' cannot stand inside a residual block, which holds layers; put it at "
                             "the top of the model block")
        else:
            self._misplaced(keyword_, span, "model")

    def _from(self, statement: s.Statement, graph: _Graph, above: str | None):
        """The name a layer reads (its `from=`, else the layer above) and the statement without `from=`."""
        given = [a for a in statement.args if isinstance(a, s.Keyword) and a.key.text == "from"]
        if not given:
            if above is None and statement.head.text in layer_kinds.MERGES:  # it names what it reads
                return graph.input_name, statement
            return above, statement
        rest = tuple(a for a in statement.args if not any(a is g for g in given))
        statement = replace(statement, args=rest)
        if statement.head.text in layer_kinds.MERGES:
            self.error(given[0].key.span, f"{statement.head.text} names the layers it reads itself "
                                 f"('{statement.head.text} a, b'); from= is for the other layers")
            return None, statement
        if len(given) > 1:
            self.error(given[1].key.span, f"{statement.head.text} got from twice")
        source = self._guard(lambda: graph.resolve(self, given[0].value, "from", statement.span))
        return source, statement

    def _residual(self, statement: s.Residual, graph: _Graph, above: str | None, model_regularizers) -> str | None:
        """`residual { f } shortcut { g }`: f's layers and g's, each from the block's input, and an
        add of the two (g the identity where no shortcut is given)."""
        bound = self.bind("residual", statement.args, statement.span, keywords=["name"])
        name = self._guard(lambda: self.identifier(bound.get("name"), "name")) if "name" in bound else None
        if not statement.body.statements:
            self.error(statement.body.span, "residual block is empty; put the layers of f in y = x + f(x) in it, "
                                            "e.g. 'residual { dense 8 relu  dense 8 }'")
            return None
        if above is None:
            self._walk(statement.body.statements, graph, None, model_regularizers)
            return None
        failed = graph.failed
        body = self._walk(statement.body.statements, graph, above, model_regularizers)
        shortcut = above
        if statement.shortcut is not None:
            if not statement.shortcut.statements:
                self.error(statement.shortcut.span, "shortcut block is empty; leave it out for the identity "
                                                    "(y = x + f(x))")
                return None
            shortcut = self._walk(statement.shortcut.statements, graph, above, model_regularizers)
        default_name = graph.default_name("add")  # counted after the layers inside, as `add a, b` below them
        if body is None or shortcut is None:
            return None
        if graph.failed and not failed:  # a layer inside was refused: its shape is not known
            return above
        body_shape, shortcut_shape = graph.shape(body), graph.shape(shortcut)
        if body_shape != shortcut_shape:
            given, gives = _shape_text(body_shape), _shape_text(shortcut_shape)
            if statement.shortcut is not None:
                self.error(statement.shortcut.span, f"residual: the block gives {given} but its shortcut gives "
                                                    f"{gives}; they are added, so they must agree")
            else:
                self.error(statement.head.span,
                           f"residual: the block gives {given} but its input is {gives}, and y = x + f(x) adds "
                           f"them; add a shortcut that gives {given}, e.g. "
                           f"'shortcut {{ {_shortcut_hint(graph.shape(above), body_shape)} }}'")
            return None
        layer = ir.Add(name or default_name, body_shape, statement.span, (shortcut, body))
        return graph.add(self, layer, statement)

    def _unread_layers(self, graph: _Graph) -> None:
        """A layer whose output nothing reads, other than the last (the model's output), is an error:
        its parameters would never learn."""
        if not graph.layers or graph.failed:
            return
        read = {source for layer in graph.layers for source in layer.inputs}
        output = graph.layers[-1]
        for layer in graph.layers[:-1]:
            if layer.name not in read:
                self.error(layer.span, f"the output of '{layer.name}' is never read: the model's output is its last "
                                       f"layer, '{output.name}'; join '{layer.name}' in with 'add' or 'concat', "
                                       "read it with from=, or remove it")

    def _activation(self, value: s.Value) -> ir.Activation:
        if isinstance(value, s.Call):
            name = self.choice(value.name, "activation", catalog.ACTIVATIONS, "activation")
            if name not in catalog.ACTIVATION_ALPHA:
                raise self.fail(value.span, f"{name} takes no arguments")
            bound = self.bind(name, value.args, value.span, positional=["alpha"])
            alpha = catalog.ACTIVATION_ALPHA[name]
            if "alpha" in bound:
                alpha = self.real(bound.get("alpha"), "alpha", 0.0, None)
            return ir.Activation(name, alpha, value.span)
        name = self.choice(value, "activation", catalog.ACTIVATIONS, "activation")
        return ir.Activation(name, catalog.ACTIVATION_ALPHA.get(name), value.span)

    def _initializer(self, value: s.Value, name: str) -> ir.Initializer:
        call = value if isinstance(value, s.Call) else None
        kind = self.choice(call.name if call else value, name, catalog.INITIALIZERS, "initializer")
        argument = catalog.INITIALIZER_ARGUMENT.get(kind)
        if call is None:
            if argument:
                raise self.fail(value.span, f"{kind} needs its {argument}, e.g. {kind}(0.1)")
            return ir.Initializer(kind, span=value.span)
        if argument is None:
            raise self.fail(call.span, f"{kind} takes no arguments")
        bound = self.bind(kind, call.args, call.span, positional=[argument])
        if argument not in bound:
            raise self.fail(call.span, f"{kind} needs its {argument}, e.g. {kind}(0.1)")
        if kind == "normal":
            number = self.real(bound.get(argument), "std", 0.0, None, low_open=True, what="positive")
        else:
            number = self.real(bound.get(argument), "value")
        return ir.Initializer(kind, value=number, span=call.span)

    def _penalties(self, calls: list[s.Call]) -> tuple[ir.Regularizer, ...]:
        return self._regularizers(s.ListValue(tuple(calls), calls[0].span))

    def _regularizers(self, value: s.Value) -> tuple[ir.Regularizer, ...]:
        items = value.items if isinstance(value, s.ListValue) else (value,)
        out: dict[str, ir.Regularizer] = {}
        for item in items:
            if not isinstance(item, s.Call):
                if isinstance(item, s.Name) and item.text in catalog.REGULARIZERS:
                    raise self.fail(item.span, f"{item.text} needs its rate, e.g. {item.text}(0.001)")
                raise self.fail(
                    _span_of(item), f"regularizer must be l1(rate) or l2(rate); received {render(item)}"
                )
            kind = self.choice(item.name, "regularizer", catalog.REGULARIZERS, "regularizer")
            bound = self.bind(kind, item.args, item.span, positional=["rate"])
            if "rate" not in bound:
                raise self.fail(item.span, f"{kind} needs its rate, e.g. {kind}(0.001)")
            rate = self.real(bound.get("rate"), "rate", 0.0, None, what="≥ 0")
            if kind in out:
                raise self.fail(item.span, f"{kind} is given twice")
            out[kind] = ir.Regularizer(kind, rate, item.span)
        return tuple(out.values())

    def _element(self, value: s.Value, owner: str) -> float:
        number = float(self.number(value, "element"))
        self._float32(value, number, f"{owner} element", received=value.text)
        return number

    # -- loss and training --

    def check_loss(self, block: s.LossBlock) -> ir.Loss:
        value = block.value
        if isinstance(value, s.Call):
            raise self.fail(value.span, f"{value.name.text} takes no arguments")
        name = self.choice(value, "loss", catalog.LOSSES, "loss")
        return ir.Loss(name, block.span)

    def check_train(self, block: s.TrainBlock, loss: ir.Loss | None, data: ir.Data | None = None,
                    model: ir.Model | None = None) -> ir.Train:
        statements = self._statements(block.body, "train")
        optimizer = None
        if "optimizer" not in statements:
            self.error(block.span, "train needs an optimizer, e.g. 'optimizer sgd(lr=0.01)'")
        else:
            optimizer = self._guard(lambda: self._optimizer(statements["optimizer"]))
        epochs = None
        if "epochs" not in statements:
            self.error(block.span, "train needs 'epochs N'")
        else:
            value = self._single(statements["epochs"], "epochs", "number of epochs, e.g. 'epochs 100'")
            if value is not None:
                epochs = self._guard(lambda: self.integer(value, "epochs", 1, catalog.MAX_EPOCHS))
        batch: int | None = catalog.DEFAULT_BATCH
        if "batch" in statements:
            value = self._single(statements["batch"], "batch", "batch size, e.g. 'batch 32' or 'batch all'")
            if value is None:
                pass  # reported by _single
            elif isinstance(value, s.Name) and value.text == "all":
                batch = None
            elif isinstance(value, s.Name):
                self.error(value.span, f"batch must be a positive integer or 'all'; received batch={value.text}")
            else:
                batch = self._guard(lambda: self.integer(value, "batch", 1, catalog.MAX_SAMPLES))
        metrics = self._metrics(statements.get("metrics"), loss, model)
        seed = 0
        if "seed" in statements:
            value = self._single(statements["seed"], "seed", "seed, e.g. 'seed 1'")
            seed = (self._guard(lambda: self._seed(value)) if value is not None else None) or 0
        shuffle = True
        if "shuffle" in statements:
            value = self._single(statements["shuffle"], "shuffle", "true or false")
            shuffle = self._guard(lambda: self.boolean(value, "shuffle")) if value is not None else None
            shuffle = True if shuffle is None else shuffle
        checkpoint = None
        if "checkpoint" in statements:
            statement = statements["checkpoint"]
            bound = self.bind("checkpoint", statement.args, statement.span, keywords=["every"],
                              at_line_start=self.line_start)
            if "every" not in bound:
                self.error(statement.span, "checkpoint needs every=N (epochs), e.g. 'checkpoint every=10'")
            else:
                checkpoint = self._guard(lambda: self.integer(bound.get("every"), "every", 1, catalog.MAX_EPOCHS))
        schedule = ir.Schedule()
        if "schedule" in statements:
            schedule = self._guard(lambda: self._schedule(statements["schedule"])) or schedule
        monitors = ir.history_keys(metrics, validates=data is None or data.validates)[:-1]  # not lr
        stopping = plateau = None
        if "early_stopping" in statements:
            stopping = self._guard(lambda: self._early_stopping(statements["early_stopping"], monitors))
        if "reduce_lr_on_plateau" in statements:
            plateau = self._guard(lambda: self._plateau(statements["reduce_lr_on_plateau"], monitors))
        clip_norm = None
        if "clip_norm" in statements:
            value = self._single(statements["clip_norm"], "clip_norm", "maximum global gradient norm, e.g. 'clip_norm 1.0'")
            if value is not None:
                clip_norm = self._guard(lambda: self.real(value, "clip_norm", 0.0, None, low_open=True,
                                                          what="positive"))
        if optimizer is None or epochs is None:
            raise _Skip()
        if schedule.kind == "cosine" and schedule.arg("min_lr") >= optimizer.lr:
            self.error(schedule.span, f"cosine decays from the optimizer's lr ({_fmt(optimizer.lr)}) down to min_lr, "
                                      f"which must be below it; received min_lr={_fmt(schedule.arg('min_lr'))}")
        return ir.Train(optimizer, batch, epochs, metrics, seed, shuffle, checkpoint, block.span,
                        schedule=schedule, early_stopping=stopping, reduce_lr_on_plateau=plateau,
                        clip_norm=clip_norm)

    def _schedule(self, statement: s.Statement) -> ir.Schedule:
        """schedule constant | step(every=N, factor=F) | exponential(rate=R) | cosine(warmup=N, min_lr=X)."""
        value = self._single(statement, "schedule", "learning-rate schedule, e.g. 'schedule step(every=10, factor=0.5)'")
        if value is None:
            raise _Skip()
        call = value if isinstance(value, s.Call) else None
        kind = self.choice(call.name if call else value, "schedule", tuple(catalog.SCHEDULES), "schedule")
        arguments = dict(catalog.SCHEDULES[kind])
        if call is not None:
            bound = self.bind(kind, call.args, call.span, positional=list(arguments))
            reported = len(self.errors)
            for key, given in bound.values.items():
                arguments[key] = self._guard(lambda key=key, given=given: self._schedule_argument(key, given))
            if len(self.errors) > reported:
                raise _Skip()
        missing = [key for key, given in arguments.items() if given is None]
        if missing:
            example = {"every": "step(every=10, factor=0.5)", "rate": "exponential(rate=0.96)"}[missing[0]]
            raise self.fail(value.span, f"{kind} needs {missing[0]}=, e.g. 'schedule {example}'")
        return ir.Schedule(kind, tuple(arguments.items()), value.span)

    def _schedule_argument(self, key: str, value: s.Value):
        if key in ("every", "warmup"):  # epochs
            return self.integer(value, key, 1 if key == "every" else 0, catalog.MAX_EPOCHS)
        if key == "min_lr":
            return self.real(value, key, 0.0, None, what="≥ 0")
        return self.real(value, key, 0.0, 1.0, low_open=True, what="in (0, 1]")  # factor, rate

    def _monitor(self, bound: _Bound, monitors: list[str], owner: str) -> tuple[str, str]:
        """The history key `monitor=` names (default val_loss when the run validates, else loss) and
        its direction; a key this run's history will not have is refused at the value."""
        value = bound.get("monitor")
        if value is None:
            key = "val_loss" if "val_loss" in monitors else "loss"
            return key, catalog.monitor_direction(key)
        if not isinstance(value, s.Name):
            raise self.fail(_span_of(value), f"monitor must be a key of the history ({', '.join(monitors)}); "
                                             f"received monitor={render(value)}")
        key = value.text
        if key not in monitors:
            base = key.removeprefix("val_")
            if key.startswith("val_") and base in monitors:
                why = "this run has no validation set"
            elif catalog.metric_name(base) in catalog.METRICS or base == "loss":
                why = f"'{base}' is not among the train block's metrics (add 'metrics {catalog.metric_spelling(base)}')"
            else:
                why = f"not a key of this run's history{did_you_mean(key, monitors)}"
            raise self.fail(value.span, f"{owner} cannot monitor '{key}': {why}; it records {', '.join(monitors)}")
        return key, catalog.monitor_direction(key)

    def _early_stopping(self, statement: s.Statement, monitors: list[str]) -> ir.EarlyStopping:
        defaults = catalog.EARLY_STOPPING
        bound = self.bind("early_stopping", statement.args, statement.span, keywords=list(defaults),
                          at_line_start=self.line_start)
        monitor, direction = self._monitor(bound, monitors, "early_stopping")
        patience = bound.get("patience")
        min_delta = bound.get("min_delta")
        restore = bound.get("restore_best")
        return ir.EarlyStopping(
            monitor,
            defaults["patience"] if patience is None else self.integer(patience, "patience", 0, catalog.MAX_EPOCHS),
            defaults["min_delta"] if min_delta is None else self.real(min_delta, "min_delta", 0.0, None, what="≥ 0"),
            defaults["restore_best"] if restore is None else self.boolean(restore, "restore_best"),
            direction,
            statement.span,
        )

    def _plateau(self, statement: s.Statement, monitors: list[str]) -> ir.ReduceLROnPlateau:
        defaults = catalog.REDUCE_LR_ON_PLATEAU
        bound = self.bind("reduce_lr_on_plateau", statement.args, statement.span, keywords=list(defaults),
                          at_line_start=self.line_start)
        monitor, direction = self._monitor(bound, monitors, "reduce_lr_on_plateau")
        factor, patience = bound.get("factor"), bound.get("patience")
        min_delta, min_lr = bound.get("min_delta"), bound.get("min_lr")
        return ir.ReduceLROnPlateau(
            monitor,
            defaults["factor"] if factor is None else self.real(factor, "factor", 0.0, 1.0, low_open=True,
                                                                high_open=True, what="in (0, 1)"),
            defaults["patience"] if patience is None else self.integer(patience, "patience", 0, catalog.MAX_EPOCHS),
            defaults["min_delta"] if min_delta is None else self.real(min_delta, "min_delta", 0.0, None, what="≥ 0"),
            defaults["min_lr"] if min_lr is None else self.real(min_lr, "min_lr", 0.0, None, what="≥ 0"),
            direction,
            statement.span,
        )

    def _single(self, statement: s.Statement, name: str, what: str) -> s.Value | None:
        bound = self.bind(name, statement.args, statement.span, positional=["value"], at_line_start=self.line_start)
        if "value" not in bound:
            self.error(statement.span, f"{name} needs a {what}")
            return None
        return bound.get("value")

    def _optimizer(self, statement: s.Statement) -> ir.Optimizer:
        value = self._single(statement, "optimizer", "name, e.g. 'optimizer sgd(lr=0.01)'")
        if value is None:
            raise _Skip()
        call = value if isinstance(value, s.Call) else None
        kind = self.choice(call.name if call else value, "optimizer", tuple(catalog.OPTIMIZERS), "optimizer")
        defaults = catalog.OPTIMIZERS[kind]
        arguments = dict(defaults)
        if call is not None:
            bound = self.bind(kind, call.args, call.span, positional=list(defaults),
                              aliases=catalog.OPTIMIZER_ALIASES)
            reported = len(self.errors)
            for key, given in bound.values.items():  # each argument checked, all reported
                arguments[key] = self._guard(lambda key=key, given=given: self._optimizer_argument(key, given))
            if len(self.errors) > reported:
                raise _Skip()
        span = value.span
        if call is not None and kind == "sgd" and arguments["nesterov"] and arguments["momentum"] == 0:
            # Nesterov's look-ahead is along the momentum; without one there is nothing to look
            # ahead along, and torch.optim.SGD refuses the combination.
            key = bound.keys.get("nesterov")
            where = key.span.to(bound.get("nesterov").span) if key else bound.get("nesterov").span
            lr = bound.get("lr")
            example = f"lr={lr.text}, " if isinstance(lr, s.Number) else ""
            raise self.fail(
                where,
                f"nesterov=true needs momentum > 0; momentum is {_fmt(arguments['momentum'])}. Add one, e.g. "
                f"sgd({example}momentum=0.9, nesterov=true)",
            )
        if kind == "sgd":
            return ir.SGD(arguments["lr"], arguments["momentum"], arguments["nesterov"], span)
        if kind == "adam":
            return ir.Adam(arguments["lr"], arguments["beta1"], arguments["beta2"], arguments["eps"], span)
        return ir.RMSprop(arguments["lr"], arguments["rho"], arguments["eps"], span)

    def _optimizer_argument(self, key: str, value: s.Value):
        if key == "nesterov":
            return self.boolean(value, key)
        if key in ("lr", "eps"):
            return self.real(value, key, 0.0, None, low_open=True, what="positive")
        return self.real(value, key, 0.0, 1.0, high_open=True, what="in [0, 1)")

    def _metrics(self, statement: s.Statement | None, loss: ir.Loss | None, model: ir.Model | None) -> tuple[str, ...]:
        """The metrics' history keys (catalog.metric_key), in the order listed."""
        if statement is None:
            return ()
        out: list[str] = []
        for index, arg in enumerate(statement.args):
            metric = isinstance(arg, s.Name) and arg.text in catalog.METRICS  # may continue on the next line
            if not metric and self._stray_statement(arg, self.line_start, first=index == 0):
                break
            if isinstance(arg, s.Keyword):
                self.error(arg.span, "metrics takes metric names, e.g. 'metrics accuracy'")
                continue
            key = self._guard(lambda arg=arg: self._metric(arg, loss, model))
            if key is None:
                continue
            if key in out:
                self.error(arg.span, f"metric '{catalog.metric_spelling(key)}' is listed twice")
                continue
            out.append(key)
        if not statement.args:
            self.error(statement.span, "metrics needs at least one metric, e.g. 'metrics accuracy'")
        return tuple(out)

    def _metric(self, arg: s.Value, loss: ir.Loss | None, model: ir.Model | None) -> str:
        """One metric of `metrics`, checked against the loss (and for top_k_accuracy, the classes): its history key."""
        call = arg if isinstance(arg, s.Call) else None
        name = self.choice(call.name if call else arg, "metric", catalog.METRICS, "metric")
        argument = None
        if name in catalog.METRIC_ARGUMENTS:
            parameter = catalog.METRIC_ARGUMENTS[name]
            bound = self.bind(name, call.args, call.span, positional=[parameter]) if call else None
            if bound is None or parameter not in bound:
                raise self.fail(arg.span, f"{name} needs {parameter}=, the number of highest scores that may hold "
                                          f"the true class, e.g. 'metrics {name}({parameter}=5)'")
            argument = self.integer(bound.get(parameter), parameter, 1, catalog.MAX_CLASSES)
        elif call is not None:
            raise self.fail(call.span, f"metric {name} takes no arguments; write 'metrics {name}'")
        if loss is not None and name in catalog.CLASSIFICATION_METRICS:
            if loss.name not in catalog.CLASSIFICATION_LOSSES:
                raise self.fail(arg.span, f"{name} needs a classification loss (binary_crossentropy or "
                                          f"categorical_crossentropy); the loss is {loss.name}")
            if name == "top_k_accuracy" and loss.name != "categorical_crossentropy":
                raise self.fail(arg.span, f"{name} ranks the scores of many classes: it needs categorical_crossentropy "
                                          f"and a softmax output; with one sigmoid output, use accuracy")
        classes = model.out_features if model is not None and loss is not None else None
        if argument is not None and classes is not None and argument >= classes:
            raise self.fail(bound.get(parameter).span, f"{name}'s k must be below the number of classes ({classes}; "
                                                       f"with k={argument} every sample counts as a hit); received k={argument}")
        return catalog.metric_key(name, argument)

    # -- across blocks --

    def check_objective(self, model: ir.Model, data: ir.Data | None, loss: ir.Loss | None, blocks) -> None:
        if not model.layers:
            return
        last = model.layers[-1]
        activation = model.output_activation
        units = model.out_features
        if isinstance(last, ir.Dropout):
            self.warn(last.span, "dropout after the last layer drops the model's outputs while training")
        source = data.source if data is not None else None
        classes = source.classes if isinstance(source, ir.PlaygroundData) else None
        regression_data = isinstance(source, ir.PlaygroundData) and classes is None
        one_softmax = activation == "softmax" and units == 1
        if one_softmax and (loss is None or loss.name != "categorical_crossentropy"):
            self.warn(last.span, "a softmax over one unit is always 1, whatever its input (and its gradient is 0); for "
                                 "one probability use sigmoid")
        if loss is None:
            return
        where = last.span
        if loss.name == "binary_crossentropy":
            if activation != "sigmoid":
                self.error(
                    where,
                    f"binary_crossentropy needs a sigmoid output (a probability); the last activation is "
                    f"{activation}. Use 'dense 1 sigmoid' (nndsl fuses it with the loss for stability)",
                )
            elif units != 1 and not isinstance(source, ir.NpzData):
                self.error(where, f"binary_crossentropy predicts one 0/1 label: the output needs 1 unit, not {units}")
            if classes is not None and classes != 2:
                self.error(
                    blocks["data"].span,
                    f"binary_crossentropy needs 2 classes; the data has {classes}. Use "
                    f"categorical_crossentropy with 'dense {classes} softmax'",
                )
        elif loss.name == "categorical_crossentropy":
            if activation == "sigmoid" and units == 1:
                self.error(
                    where,
                    "categorical_crossentropy needs a softmax output over at least 2 classes; "
                    "with one sigmoid unit, use binary_crossentropy",
                )
            elif activation != "softmax":
                self.error(
                    where,
                    f"categorical_crossentropy needs a softmax output; the last activation is {activation}",
                )
            elif units < 2:
                self.error(where, "categorical_crossentropy needs at least 2 output units (one per class)")
            elif classes is not None and units != classes:
                self.error(where, f"the data has {classes} classes but the output has {units} units")
        else:
            if activation == "softmax" and not one_softmax:
                self.warn(
                    where,
                    f"{loss.name} on a softmax output: a softmax is a class distribution; for "
                    "classification use categorical_crossentropy",
                )
            if units != 1 and isinstance(source, (ir.PlaygroundData, ir.CsvData)):
                self.error(where, f"the data has one target value per sample, but the output has {units} units")
            if regression_data and activation in ("sigmoid", "relu", "softplus"):
                self.warn(
                    where,
                    f"{source.generator} targets can be negative, but a {activation} output cannot",
                )
        if loss.name in catalog.CLASSIFICATION_LOSSES and regression_data:
            self.error(
                blocks["loss"].span,
                f"{loss.name} needs class labels, but {source.generator} is a regression data set "
                "(real-valued targets); use mse or mae",
            )


# --- helpers -----------------------------------------------------------------

#: Characters a string in a spec may not hold: controls (C0, DEL, C1), format characters
#: (bidi overrides and isolates such as U+202E, zero-width spaces and joiners), line and
#: paragraph separators, surrogates, private-use and unassigned code points. They are
#: invisible or reorder text, so a path or column name could read as something it is not.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _character_kind(ch: str) -> str:
    """What a character `_invisible_character` found is, for a message."""
    category = unicodedata.category(ch)
    if category == "Cs":
        return f"a lone surrogate U+{ord(ch):04X} (half of a UTF-16 pair, not a character)"
    if category == "Co":
        return f"the private-use character U+{ord(ch):04X}"
    if category == "Cn":
        return f"the unassigned code point U+{ord(ch):04X}"
    if category == "Cf":  # zero-width spaces and joiners, bidi overrides and isolates
        return f"the invisible format character U+{ord(ch):04X} ({unicodedata.name(ch, 'unnamed').lower()})"
    if category in ("Zl", "Zp"):
        return f"the {'line' if category == 'Zl' else 'paragraph'} separator U+{ord(ch):04X}"
    return f"the control character U+{ord(ch):04X}"


def _invisible_character(text: str) -> str | None:
    """The first character of `text` a spec string may not hold, or None."""
    return next((ch for ch in text if unicodedata.category(ch) in _INVISIBLE_CATEGORIES), None)


#: Every name that is a value somewhere in a statement: never taken for a misspelt keyword.
_VALUE_NAMES = frozenset(
    [*catalog.ACTIVATIONS, *catalog.INITIALIZERS, *catalog.OPTIMIZERS, *catalog.METRICS, *catalog.LOSSES,
     *catalog.REGULARIZERS, *catalog.DATA_SOURCES, "all"]
)


#: The generated code computes in float32: its largest finite number and its smallest positive one.
_FLOAT32_MAX = 3.4028234663852886e38
_FLOAT32_MAX_TEXT = "3.4e38"
_FLOAT32_TINY_TEXT = "1.4e-45"


def _to_float32(number: float) -> float | None:
    """`number` rounded to the nearest float32 (as NumPy's cast rounds), or None where
    that is infinite. `struct` rather than NumPy: checking a spec loads no numerical library."""
    try:
        return struct.unpack("<f", struct.pack("<f", number))[0]
    except OverflowError:
        return None


def _renamed(text: str, what: str) -> str:
    """A legal name close to the refused `text` (a keyword or a dunder) for the hint: the
    `_layer` (or `_model`) suffix, as the torch Namer renames."""
    kind = "model" if what.startswith("model") else "layer"
    stem = text.strip("_") or kind
    if stem[0].isdigit():
        stem = f"{kind}_{stem}"
    if stem == text or keyword.iskeyword(stem) or stem in catalog.SOFT_KEYWORDS or stem in _NNDSL_KEYWORDS:
        stem = f"{stem}_{kind}"
    return stem


#: nndsl's own keywords (grammar/nndsl.lark), which a bare name cannot be.
_NNDSL_KEYWORDS = frozenset({"data", "model", "loss", "train", "true", "false", "shortcut",
                             *(word for words in catalog.BLOCK_STATEMENTS.values() for word in words)})


def _flat_statements(statements):
    """The layer statements of a model, those inside residual blocks and shortcuts too."""
    for statement in statements:
        if isinstance(statement, s.Residual):
            yield statement
            yield from _flat_statements(statement.body.statements)
            if statement.shortcut is not None:
                yield from _flat_statements(statement.shortcut.statements)
        elif isinstance(statement, s.Statement):
            yield statement


def _given_names(statements) -> dict[str | None, Span]:
    """The `name=` of each layer statement (blocks included), with where it is written."""
    return {_keyword_value(a): a.value.span for statement in _flat_statements(statements) for a in statement.args
            if isinstance(a, s.Keyword) and a.key.text == "name"}


def _keyword_value(arg: s.Keyword) -> str | None:
    value = arg.value
    return value.text if isinstance(value, s.Name) else value.value if isinstance(value, s.String) else None


def _shape_text(shape) -> str:
    return "x".join(map(str, shape))


def _shortcut_hint(x: tuple[int, ...], y: tuple[int, ...]) -> str:
    """A layer that takes shape x to shape y, for the hint of a residual whose shapes differ."""
    if len(x) == 3 and len(y) == 3:
        stride = max(1, round(x[0] / y[0])) if y[0] else 1
        return f"conv2d {y[2]} kernel=1" + (f" stride={stride}" if stride > 1 else "")
    if len(y) == 1:
        return ("flatten  " if len(x) == 3 else "") + f"dense {y[0]}"
    return "…"


class _Graph:
    """The layers checked so far and what each gives, by name (the model input among them)."""

    def __init__(self, input_name: str, in_shape: tuple[int, ...]) -> None:
        self.input_name = input_name
        self.layers: list[ir.Layer] = []
        self.shapes: dict[str, tuple[int, ...]] = {input_name: tuple(in_shape)}
        self.by_name: dict[str, ir.Layer] = {}
        self.counts: dict[str, int] = {}
        self.created = 0
        self.failed = False  # a layer was refused: reading names further on may fail for that reason
        self.full = False
        self.later: dict[str, Span] = {}  # names defined anywhere in the model, for "comes later"

    def default_name(self, kind: str) -> str:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return f"{kind}_{self.counts[kind]}"

    def layer(self, name: str | None) -> ir.Layer | None:
        return self.by_name.get(name) if name is not None else None

    def shape(self, name: str) -> tuple[int, ...]:
        return self.shapes[name]

    def add(self, checker: Checker, layer: ir.Layer, statement) -> str:
        self.created += 1
        if self.created >= catalog.MAX_LAYERS:  # reported once, at the first layer over (Checker._layers)
            self.full = True
        if layer.name in self.shapes:
            first = self.by_name[layer.name].span if layer.name in self.by_name else None
            where = f"also the layer at {first}" if first else "also the model's input"
            checker.error(layer.span, f"duplicate layer name '{layer.name}' ({where})")
            return layer.name
        self.layers.append(layer)
        self.by_name[layer.name] = layer
        self.shapes[layer.name] = tuple(layer.out_shape)
        return layer.name

    def resolve(self, checker: Checker, value, what: str, own: Span | None = None) -> str:
        """The name `value` gives, which must be the input or a layer defined above (`own`: the
        statement that reads it)."""
        name = checker.identifier(value, what)
        if name in self.shapes:
            return name
        defined = self.later.get(name)
        if defined is not None and own is not None and own.contains(defined):
            raise checker.fail(value.span, f"{what}={name}: '{name}' is this layer's own name; a layer reads only "
                                           "layers above it (reading itself would make a cycle)")
        if defined is not None and (defined.line, defined.column) < (value.span.line, value.span.column):
            raise checker.Skip()  # defined above, but its own check failed (and said so)
        if defined is not None:
            raise checker.fail(value.span, f"{what}={name}: '{name}' comes later, at {self.later[name]}; a layer reads "
                                           "only layers above it (reading one below would make a cycle)")
        known = list(self.shapes)
        hint = did_you_mean(name, known)
        if self.failed and not hint:
            raise checker.Skip()  # most likely a layer that failed its own check
        choices = ", ".join(known[-8:])
        raise checker.fail(value.span, f"{what}={name}: no layer or input is called '{name}'{hint}; the names above "
                                       f"are {choices}")


def _span_of(value) -> Span | None:
    return getattr(value, "span", None)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def render(value) -> str:
    """A value as the user wrote it, for echoing in messages (shortened)."""
    text = _render(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _render(value) -> str:
    if value is None:
        return "(nothing)"
    if isinstance(value, (s.Number, s.Shape)):
        return value.text
    if isinstance(value, s.Name):
        return value.text
    if isinstance(value, s.String):
        return value.raw
    if isinstance(value, s.Bool):
        return "true" if value.value else "false"
    if isinstance(value, s.ListValue):
        return "[" + ", ".join(_render(v) for v in value.items[:8]) + (", ...]" if len(value.items) > 8 else "]")
    if isinstance(value, s.Call):
        return f"{value.name.text}(" + ", ".join(_render(a) for a in value.args) + ")"
    if isinstance(value, s.Keyword):
        return f"{value.key.text}={_render(value.value)}"
    return "?"


def describe(arg) -> str:
    if isinstance(arg, s.Number):
        return f"number {arg.text}"
    if isinstance(arg, s.Shape):
        return f"size {arg.text}"
    if isinstance(arg, s.Name):
        return f"name '{arg.text}'"
    if isinstance(arg, s.String):
        return f"string {render(arg)}"
    if isinstance(arg, s.ListValue):
        return "list"
    if isinstance(arg, s.Call):
        return f"'{arg.name.text}(...)'"
    return render(arg)


def check(file: s.File) -> ir.Program:
    """Check a syntax tree; return the IR or raise `SpecError` with every error found."""
    return Checker(file).run()
