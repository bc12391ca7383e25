"""The canonical text of a spec: `nndsl fmt`.

One statement per line, four-space indents, one blank line between blocks,
`key=value` without spaces, lists and calls with ", " between items. Numbers
and strings keep the spelling the user chose; comments stay with the code they
annotate (a comment on its own line stays before the statement it precedes, a
comment after code stays at the end of that line); single blank lines between
statements are kept. Formatting is idempotent, and the formatted text parses
to the same IR.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nndsl import syntax as s

INDENT = "    "
MAX_WIDTH = 88


@dataclass
class _Notes:
    """Comments attached to one piece of code."""

    leading: list[s.Comment] = field(default_factory=list)
    trailing: list[s.Comment] = field(default_factory=list)


class _Formatter:
    def __init__(self, file: s.File) -> None:
        self.file = file
        self.lines = file.text.split("\n")
        self.notes: dict[tuple, _Notes] = {}
        self.end_comments: list[s.Comment] = []
        self._attach_comments()

    # -- where comments go --

    def _anchors(self):
        """(key, span start, depth) of everything a comment can precede."""
        for i, block in enumerate(self.file.blocks):
            yield ("block", i), block.span, 0
            body = getattr(block, "body", None)
            if body is not None:
                yield from self._body_anchors(i, body, (), 1)

    def _body_anchors(self, i: int, body: s.Body, path: tuple, depth: int):
        for j, statement in enumerate(body.statements):
            yield ("statement", i, (*path, j)), statement.span, depth
            for part, inner in _inner_bodies(statement):
                yield from self._body_anchors(i, inner, (*path, j, part), depth + 1)
        yield ("close", i, path), s.Span.point(body.span.end_line, max(1, body.span.end_column - 1)), depth

    def _attach_comments(self) -> None:
        anchors = sorted(self._anchors(), key=lambda a: (a[1].line, a[1].column, a[2]))
        for comment in self.file.comments:
            if comment.own_line:
                following = next((a for a in anchors if a[1].line > comment.span.line), None)
                if following is None:
                    self.end_comments.append(comment)
                else:
                    self._notes(following[0]).leading.append(comment)
            else:
                self._notes(self._line_owner(comment.span.line)).trailing.append(comment)

    def _line_owner(self, line: int) -> tuple:
        """The piece of code a comment at the end of `line` belongs to."""
        for i, block in enumerate(self.file.blocks):
            if not block.span.line <= line <= block.span.end_line:
                continue
            body = getattr(block, "body", None)
            best = self._body_owner(i, body, (), line, block.span.line) if body is not None else None
            return best or ("block", i)
        return ("block", len(self.file.blocks) - 1)

    def _body_owner(self, i: int, body: s.Body, path: tuple, line: int, header_line: int) -> tuple | None:
        best = None
        for j, statement in enumerate(body.statements):
            if statement.span.line <= line <= statement.span.end_line:
                best = ("statement", i, (*path, j))
                for part, inner in _inner_bodies(statement):
                    if inner.span.line <= line <= inner.span.end_line:
                        opener = statement.span.line if part == "body" else inner.span.line
                        best = self._body_owner(i, inner, (*path, j, part), line, opener) or best
        if best is None and line == body.span.end_line and line != header_line:
            best = ("close", i, path)
        return best

    def _notes(self, key: tuple) -> _Notes:
        return self.notes.setdefault(key, _Notes())

    # -- printing --

    def format(self) -> str:
        out: list[str] = []
        for i, block in enumerate(self.file.blocks):
            if i:
                out.append("")
            out.extend(self._block(i, block))
        if self.end_comments:
            if out:
                out.append("")
            out.extend(c.text.rstrip() for c in self.end_comments)
        return "\n".join(out) + "\n"

    def _block(self, i: int, block: s.Block) -> list[str]:
        notes = self.notes.get(("block", i), _Notes())
        out = [c.text.rstrip() for c in notes.leading]
        body = getattr(block, "body", None)
        if isinstance(block, s.DataBlock):
            header = "data " + value(block.source)
        elif isinstance(block, s.ModelBlock):
            header = "model" + (f" {block.name.text}" if block.name else "")
        elif isinstance(block, s.LossBlock):
            header = "loss " + value(block.value)
        else:
            header = "train"
        close_notes = self.notes.get(("close", i, ()), _Notes())
        has_body = body is not None and (body.statements or close_notes.leading or close_notes.trailing)
        if not has_body and body is not None and isinstance(block, (s.ModelBlock, s.TrainBlock)):
            has_body = True  # `model {}` stays a (failing) block rather than vanishing
        if has_body:
            header += " {"
        out.append(_with_trailing(header, notes.trailing))
        if not has_body:
            return out
        return out + self._body(i, body, (), block.span.line)

    def _body(self, i: int, body: s.Body, path: tuple, opened_at: int) -> list[str]:
        """The lines of a body's statements, indented, and its closing '}' (not indented)."""
        out: list[str] = []
        close_notes = self.notes.get(("close", i, path), _Notes())
        previous_end = opened_at
        for j, statement in enumerate(body.statements):
            statement_notes = self.notes.get(("statement", i, (*path, j)), _Notes())
            first_line = min([statement.span.line] + [c.span.line for c in statement_notes.leading])
            if j and self._blank_between(previous_end, first_line):
                out.append("")
            out.extend(INDENT + c.text.rstrip() for c in statement_notes.leading)
            if isinstance(statement, s.Residual):
                lines = self._residual(i, statement, (*path, j), statement_notes)
            else:
                lines = _statement(statement).split("\n")
                lines[-1] = _with_trailing(lines[-1], statement_notes.trailing)
            out.extend(INDENT + line if line else line for line in lines)
            previous_end = statement.span.end_line
        if close_notes.leading and body.statements and self._blank_between(
            previous_end, close_notes.leading[0].span.line
        ):
            out.append("")
        out.extend(INDENT + c.text.rstrip() for c in close_notes.leading)
        out.append(_with_trailing("}", close_notes.trailing))
        return out

    def _residual(self, i: int, statement: s.Residual, path: tuple, notes: _Notes) -> list[str]:
        """`residual … {`, its body, and `} shortcut {`, its body, `}`: comments on the header line
        stay there; those at a closing brace stay with it."""
        header = " ".join(["residual", *(value(a) for a in statement.args)]) + " {"
        lines = [_with_trailing(header, notes.trailing)]
        body = self._body(i, statement.body, (*path, "body"), statement.span.line)
        if statement.shortcut is not None:
            shortcut = self._body(i, statement.shortcut, (*path, "shortcut"), statement.shortcut.span.line)
            closing = body[-1]  # "}" and its comments
            comments = closing[1:].strip()
            body[-1] = "} shortcut {" + (f"  {comments}" if comments else "")
            body += shortcut
        return lines + body

    def _blank_between(self, end_line: int, start_line: int) -> bool:
        return any(not self.lines[k - 1].strip() for k in range(end_line + 1, start_line))


def _inner_bodies(statement) -> list[tuple[str, s.Body]]:
    """The bodies nested in a statement: a residual block's, and its shortcut's."""
    if not isinstance(statement, s.Residual):
        return []
    return [("body", statement.body)] + ([("shortcut", statement.shortcut)] if statement.shortcut else [])


def _with_trailing(line: str, comments: list[s.Comment]) -> str:
    if not comments:
        return line
    return line + "  " + " ".join(c.text.rstrip() for c in comments)


def _statement(statement: s.BlockStatement) -> str:
    if isinstance(statement, s.Features):
        return "features " + ", ".join(_feature(f) for f in statement.items)
    head = statement.head.text
    separator = ", " if head in ("metrics", "add", "concat") else " "
    positional = [value(a) for a in statement.args if not isinstance(a, s.Keyword)]
    keywords = [value(a) for a in statement.args if isinstance(a, s.Keyword)]
    one_line = " ".join([head, separator.join(positional)] if positional else [head])
    if keywords:
        one_line += " " + " ".join(keywords)
    if len(INDENT + one_line) <= MAX_WIDTH or not keywords:
        return one_line
    first = " ".join([head, separator.join(positional)] if positional else [head])
    return "\n".join([first] + [INDENT + k for k in keywords])


def _feature(feature: s.Feature) -> str:
    if feature.kind == "column":
        return _quote(feature.parts[0])
    return feature.text


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def value(node) -> str:
    """The canonical text of a value or argument."""
    if isinstance(node, (s.Number, s.Shape)):
        return node.text
    if isinstance(node, s.Name):
        return node.text
    if isinstance(node, s.String):
        return node.raw
    if isinstance(node, s.Bool):
        return "true" if node.value else "false"
    if isinstance(node, s.ListValue):
        return "[" + ", ".join(value(item) for item in node.items) + "]"
    if isinstance(node, s.Call):
        return f"{node.name.text}(" + ", ".join(value(arg) for arg in node.args) + ")"
    if isinstance(node, s.Keyword):
        return f"{node.key.text}={value(node.value)}"
    raise TypeError(f"not a syntax value: {node!r}")


def format_syntax(file: s.File) -> str:
    """The canonical text of a parsed spec, comments included."""
    return _Formatter(file).format()


def format_text(text: str, filename: str = "<spec>") -> str:
    """Format spec text; raises `SpecError` if it does not parse."""
    return format_syntax(s.parse_syntax(text, filename))


# --- IR -> text ------------------------------------------------------------------


def format_program(program) -> str:
    """Spec text for a checked program (no comments: the IR has none).

    Defaults are left out where the checker would fill in the same value, so
    `parse(format_program(p)) == p` for every program.
    """
    from nndsl import ir

    out: list[str] = []
    if program.data is not None:
        out += _data_lines(program.data, ir)
        out.append("")
    model = program.model
    out.append("model" + (f" {model.name}" if model.name else "") + " {")
    default_input = "input" if any(layer.name == "x" for layer in model.layers) else "x"
    named_input = "" if model.input_name == default_input else f" name={_column(model.input_name)}"
    out.append(f"{INDENT}input {'x'.join(str(n) for n in model.in_shape)}{named_input}")
    counts: dict[str, int] = {}
    above = model.input_name
    for layer in model.layers:
        kind = layer.kind
        counts[kind] = counts.get(kind, 0) + 1
        default_name = f"{kind}_{counts[kind]}"
        sources = model.sources(layer)
        if isinstance(layer, (ir.Add, ir.Concat)):
            text = f"{kind} " + ", ".join(_column(source) for source in sources)
            text += "" if layer.name == default_name else f" name={_column(layer.name)}"
        else:
            reads = [] if sources == (above,) else [f"from={_column(sources[0])}"]
            text = _layer_text(layer, default_name, ir, reads)
        above = layer.name
        out.extend(INDENT + line for line in text.split("\n"))
    out.append("}")
    if program.loss is not None:
        out += ["", f"loss {program.loss.name}"]
    if program.train is not None:
        out += [""] + _train_lines(program.train, ir)
    return "\n".join(out) + "\n"


def _number(x) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    text = repr(float(x))
    return text


def _data_lines(data, ir) -> list[str]:
    source = data.source
    args: list[str] = []
    if isinstance(source, ir.PlaygroundData):
        args += [f"samples={source.samples}", f"noise={_number(source.noise)}"]
        if source.generator == "spiral" and source.classes != 2:
            args.append(f"classes={source.classes}")
        name = source.generator
    elif isinstance(source, ir.CsvData):
        args += [_quote(source.path), f"target={_column(source.target)}"]
        name = "csv"
    elif isinstance(source, ir.ImageFolderData):
        args += [_quote(source.path), f"size={'x'.join(map(str, source.size))}", f"color={source.color}"]
        name = "images"
    else:
        args.append(_quote(source.path))
        if source.x_key != "x":
            args.append(f"x={_column(source.x_key)}")
        if source.y_key != "y":
            args.append(f"y={_column(source.y_key)}")
        name = "npz"
    if data.seed is not None:
        args.append(f"seed={data.seed}")
    lines = [f"data {name}(" + ", ".join(args) + ") {"]
    if data.features is not None:
        lines.append(INDENT + "features " + ", ".join(_feature_name(f.name, source, ir) for f in data.features))
    lines.append(f"{INDENT}split {_number(data.split)}")
    if data.normalize is not None:
        lines.append(f"{INDENT}normalize {data.normalize}")
    lines.append("}")
    return lines


def _column(name: str) -> str:
    import re

    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and name not in _RESERVED else _quote(name)


def _reserved() -> frozenset[str]:
    """The keywords (catalog.BLOCK_STATEMENTS, the blocks, true and false): a name spelt like one is quoted."""
    from nndsl import catalog

    return frozenset({"data", "model", "loss", "train", "true", "false"}
                     | {word for words in catalog.BLOCK_STATEMENTS.values() for word in words})


_RESERVED = _reserved()


def _feature_name(name: str, source, ir) -> str:
    return name if isinstance(source, ir.PlaygroundData) else _column(name)


def _activation_text(activation, catalog) -> str:
    if activation.name in catalog.ACTIVATION_ALPHA and activation.alpha != catalog.ACTIVATION_ALPHA[activation.name]:
        return f"{activation.name}({_number(activation.alpha)})"
    return activation.name


def _initializer_text(init) -> str:
    if init.kind in ("constant", "normal"):
        return f"{init.kind}({_number(init.value)})"
    return init.kind


def _values_text(values) -> str:
    if isinstance(values, tuple):
        return "[" + ", ".join(_values_text(v) for v in values) + "]"
    return _number(values)


def _layer_text(layer, default_name: str, ir, reads=()) -> str:
    from nndsl import catalog

    name = [*reads] + ([] if layer.name == default_name else [f"name={_column(layer.name)}"])  # name="data" stays quoted
    if isinstance(layer, ir.Dropout):
        return " ".join([f"dropout {_number(layer.rate)}", *name])
    if isinstance(layer, ir.ActivationLayer):
        return " ".join([f"activation {_activation_text(layer.activation, catalog)}", *name])
    if isinstance(layer, (ir.Flatten, ir.GlobalPool)):
        return " ".join([layer.kind, *name])
    if isinstance(layer, ir.BatchNorm):
        options = [] if layer.momentum == 0.99 else [f"momentum={_number(layer.momentum)}"]
        options += [] if layer.eps == 0.001 else [f"eps={_number(layer.eps)}"]
        return " ".join([layer.kind, *options, *name])
    if isinstance(layer, ir.Pool2D):
        window = [f"{layer.kind} {_pair_text(layer.pool)}"]
        window += [] if layer.stride == layer.pool else [f"stride={_pair_text(layer.stride)}"]
        window += [] if layer.padding_name == "valid" else [f"padding={layer.padding_name}"]
        return " ".join([*window, *name])
    if isinstance(layer, ir.Conv2D):
        parts = [f"conv2d {layer.filters}"]
        window = [f"kernel={_pair_text(layer.kernel)}"]
        window += [] if layer.stride == (1, 1) else [f"stride={_pair_text(layer.stride)}"]
        window += [] if layer.padding_name == "valid" else [f"padding={layer.padding_name}"]
        return _weighted_layer_text(layer, parts, name, catalog, window)
    return _weighted_layer_text(layer, [f"dense {layer.units}"], name, catalog)


def _pair_text(pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def _weighted_layer_text(layer, parts, name, catalog, window=()) -> str:
    """dense and conv2d: the activation, penalties, then init=, bias=, trainable=, name=."""
    if layer.activation.name != "linear":
        parts.append(_activation_text(layer.activation, catalog))
    default_init = "he_normal" if layer.activation.name in catalog.RELU_FAMILY else "glorot_normal"
    keywords = []
    if layer.kernel_init.kind == "values":
        keywords.append(f"weights={_values_text(layer.kernel_init.values)}")
    elif layer.kernel_init.kind != default_init:
        keywords.append(f"init={_initializer_text(layer.kernel_init)}")
    if layer.bias_init.kind == "values":
        keywords.append(f"bias={_values_text(layer.bias_init.values)}")
    elif layer.bias_init.kind != "zeros":
        keywords.append(f"bias={_initializer_text(layer.bias_init)}")
    if not layer.trainable:
        keywords.append("trainable=false")
    keywords = [*window, *keywords, *name]
    parts += [f"{r.kind}({_number(r.rate)})" for r in layer.regularizers]
    one_line = " ".join(parts + keywords)
    if len(INDENT + one_line) <= MAX_WIDTH or not keywords:
        return one_line
    return "\n".join([" ".join(parts)] + [INDENT + k for k in keywords])


def _train_lines(train, ir) -> list[str]:
    from nndsl import catalog

    optimizer = train.optimizer
    defaults = catalog.OPTIMIZERS[optimizer.kind]
    args = [
        f"{key}={_number(getattr(optimizer, key))}"
        for key in defaults
        if key == "lr" or getattr(optimizer, key) != defaults[key]
    ]
    lines = ["train {", f"{INDENT}optimizer {optimizer.kind}(" + ", ".join(args) + ")"]
    lines.append(f"{INDENT}batch {'all' if train.batch is None else train.batch}")
    lines.append(f"{INDENT}epochs {train.epochs}")
    if train.metrics:
        lines.append(f"{INDENT}metrics " + ", ".join(catalog.metric_spelling(key) for key in train.metrics))
    lines.append(f"{INDENT}seed {train.seed}")
    if not train.shuffle:
        lines.append(f"{INDENT}shuffle false")
    if train.checkpoint_every is not None:
        lines.append(f"{INDENT}checkpoint every={train.checkpoint_every}")
    if train.schedule.kind != "constant":
        args = ", ".join(f"{key}={_number(value)}" for key, value in train.schedule.args)
        lines.append(f"{INDENT}schedule {train.schedule.kind}({args})")
    for statement in (train.early_stopping, train.reduce_lr_on_plateau):
        if statement is not None:
            lines.append(f"{INDENT}{_callback_text(statement)}")
    if train.clip_norm is not None:
        lines.append(f"{INDENT}clip_norm {_number(train.clip_norm)}")
    lines.append("}")
    return lines


def _callback_text(statement) -> str:
    """early_stopping / reduce_lr_on_plateau with every argument written out (monitor first)."""
    from dataclasses import fields as dataclass_fields

    from nndsl import ir

    word = "early_stopping" if isinstance(statement, ir.EarlyStopping) else "reduce_lr_on_plateau"
    parts = [word]
    for argument in dataclass_fields(statement):
        if argument.name in ("span", "direction"):
            continue
        value = getattr(statement, argument.name)
        parts.append(f"{argument.name}={value if isinstance(value, str) else _number(value)}")
    one_line = " ".join(parts)
    if len(INDENT + one_line) <= MAX_WIDTH:
        return one_line
    return "\n".join([word] + [INDENT * 2 + part for part in parts[1:]])  # as long dense statements break
