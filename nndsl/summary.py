"""The model summary: the lecture's `model.summary()` exercise, from the spec alone.

Parameter counts come with their formula, ``(n_in + 1) × units``: a dense
layer has one weight per input per unit, plus one bias per unit.
"""

from __future__ import annotations

from dataclasses import dataclass

from nndsl import ir
from nndsl import layers as layer_kinds


@dataclass(frozen=True)
class LayerSummary:
    name: str
    type: str
    output_shape: tuple[int | None, ...]
    params: int
    formula: str
    trainable: bool
    inputs: tuple[str, ...] = ()  # what it reads: earlier layers or the model's input, by name


@dataclass(frozen=True)
class Summary:
    """A model's layers, output shapes and parameter counts; `str()` is the table."""

    model_name: str | None
    filename: str
    input_shape: tuple[int | None, ...]
    layers: tuple[LayerSummary, ...]

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.layers)

    non_trainable: int = 0  # batch norm's running statistics: state, not trained
    input_name: str = "x"
    graph: bool = False  # branches or merges: the table shows what each layer reads ("Connected to")
    #: what `normalize` computes, a sentence (None: the inputs reach the first layer as the data hold them)
    normalize: str | None = None

    @property
    def trainable_params(self) -> int:
        return sum(layer.params for layer in self.layers if layer.trainable) - self.non_trainable

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def to_dict(self) -> dict:
        """Keras's words: layers, total_params, trainable_params, non_trainable_params."""
        return {
            "model": self.model_name,
            "spec": self.filename,
            "input_shape": list(self.input_shape),
            "input_name": self.input_name,
            "layers": [
                {
                    "name": layer.name,
                    "type": layer.type,
                    "output_shape": list(layer.output_shape),
                    "params": layer.params,
                    "formula": layer.formula,
                    "trainable": layer.trainable,
                    "inputs": list(layer.inputs),  # the graph's edges: this layer reads these
                }
                for layer in self.layers
            ],
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
        } | ({"normalize": self.normalize} if self.normalize else {})

    def __str__(self) -> str:
        header = ("Layer (type)", "Output Shape", "Param #", "Formula")
        rows = [("input (Input)", _shape(self.input_shape), "0", "")]
        if self.graph:  # as Keras shows a functional model: what each layer reads, `name[0][0]`
            header = ("Layer (type)", "Output Shape", "Param #", "Connected to", "Formula")
            rows = [(f"{self.input_name} (InputLayer)", _shape(self.input_shape), "0", "-", "")]
        for layer in self.layers:
            name = f"{layer.name} ({layer.type})"
            params = f"{layer.params:,}" + ("" if layer.trainable else " (frozen)")
            if self.graph:
                connected = ", ".join(f"{source}[0][0]" for source in layer.inputs)
                rows.append((name, _shape(layer.output_shape), params, connected, layer.formula))
            else:
                rows.append((name, _shape(layer.output_shape), params, layer.formula))
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        line = "  ".join(f"{{:<{w}}}" for w in widths)
        rule = "=" * (sum(widths) + 2 * (len(header) - 1))
        title = f'Model: "{self.model_name}"' if self.model_name else "Model"
        out = [f"{title}  ({self.filename})", rule, line.format(*header).rstrip(), rule]
        out += [line.format(*row).rstrip() for row in rows]
        out += [
            rule,
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
        ]
        if self.normalize:
            out.append(f"Inputs: {self.normalize}")
        return "\n".join(out)


def _shape(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def summarize(program: ir.Program) -> Summary:
    """The summary of a checked program's model."""
    layers = []
    for layer in program.model.layers:
        kind = layer_kinds.kind_of(layer)
        params = sum(p.size for p in layer.parameters)
        trainable = isinstance(layer, ir.BatchNorm) or all(p.trainable for p in layer.parameters)
        layers.append(LayerSummary(layer.name, kind.keras, (None, *layer.out_shape), params, kind.formula(layer),
                                   trainable, program.model.sources(layer)))
    state = sum(p.size for layer in program.model.layers if isinstance(layer, ir.BatchNorm)
                for p in layer.parameters if not p.trainable)
    return Summary(program.model.name, program.filename, (None, *program.model.in_shape), tuple(layers), state,
                   program.model.input_name, not program.model.is_stack, _normalize_text(program.model))


#: What each normalize method computes, in the summary's words.
NORMALIZE_TEXT = {
    "standard": "standardised per {per} with the mean and std (population, ddof 0) of the training rows: "
                "(x - mean) / std",
    "minmax": "scaled per {per} into [0, 1] with the min and max of the training rows: (x - min) / (max - min)",
}


def _normalize_text(model: ir.Model) -> str | None:
    """The summary's sentence for the data block's `normalize`, or None."""
    normalize = model.normalize
    if normalize is None:
        return None
    per = "channel" if model.images else "feature"
    count = f"{normalize.features} {per}{'s' if normalize.features != 1 else ''}"
    return (NORMALIZE_TEXT[normalize.method].format(per=per) + f" ({count}; a constant one gets scale 1); "
            f"the {2 * normalize.features} statistics, normalize.shift and normalize.scale, are saved with the "
            "weights and not counted above")
