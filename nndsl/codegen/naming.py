"""Names in generated code: one place decides them, with stated invariants.

Invariants of every name this module returns:

* it is a legal Python identifier (ASCII letters, digits, `_`; not starting
  with a digit), compared after NFKC normalisation, as Python compares them;
* it is not a keyword or soft keyword (of any Python from 3.10 on: `match`,
  `case`, `type`, `_`), not a builtin, and does not start with `__`;
* it does not shadow a name the generated code itself uses (`np`, `torch`,
  `nn`, `tf`, `keras`, `self`, …) or an attribute of the object that holds it
  (`forward`, `training`, `append`, `pop`, … on the torch `nn.Sequential`):
  every name `dir()` gives for the framework's classes, kept in the snapshot
  nndsl/codegen/reserved_names.py so that compiling never imports a
  framework (nndsl/codegen/framework_names.py writes it, and a test keeps it
  current);
* names handed out by one `Namer` are unique.

Layer names from a spec are already ASCII identifiers that are neither
keywords nor dunders (the checker makes sure, with a positioned error); a
spec may still call a layer `np`, `self`, `print` or `forward`. Such a name
reaches generated code in two ways only: as a string literal, exactly as
written (a weights.npz key `np.W`, a Keras layer name), and, where a backend
needs an identifier (a torch module attribute), through a `Namer`, which
renames it deterministically when it would break an invariant above: a
`_layer` suffix, then a number. The same spec always gets the same names.
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata

from nndsl import catalog
from nndsl.codegen import reserved_names

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: Names generated code binds at module level or relies on.
GENERATED_CODE_NAMES = frozenset(
    {
        "np", "torch", "nn", "F", "tf", "keras", "self", "cls", "math", "json", "sys", "os", "argparse",
        "Path", "SimpleNamespace", "NamedTuple", "Dataset", "Network", "Net", "Trainer", "main",
        "load_data", "initial_weights", "make_trainer", "split_data", "random_streams",
    }
)

#: What the generated torch `Network` (templates/torch/network.j2) defines beyond nn.Sequential;
#: tests/test_reserved_names.py compares it with the generated classes.
TORCH_NETWORK_METHODS = frozenset({"penalty"})

#: Renamed since the first releases although no torch class has them; kept so that a spec's
#: layers keep their attribute names, which are its state_dict keys (`predict_layer.weight`).
_KEPT_RENAMINGS = frozenset({"predict", "fit", "evaluate", "save", "load"})


def attributes(*classes: str) -> frozenset[str]:
    """Every attribute name of an instance of the framework classes named ("torch.nn.Sequential"),
    from the snapshot nndsl/codegen/reserved_names.py, which is read off the frameworks themselves."""
    return frozenset().union(*(reserved_names.ATTRIBUTES[cls] for cls in classes))


#: Every attribute of the torch containers that may hold layers: nn.Sequential (the generated
#: Network), nn.Module, nn.ModuleDict and nn.ModuleList (custom modules and graphs).
TORCH_CONTAINER_ATTRIBUTES = attributes(*(cls for cls in reserved_names.ATTRIBUTES if cls.startswith("torch.")))

#: What a layer attribute of the generated torch Network must not be: an attribute of its
#: nn.Sequential (`add_module` refuses a name the module has: `append`, `pop`, `training`) or of
#: the Network itself. Only the container's own: a layer `keys` (an nn.ModuleDict method) keeps
#: its name, and so its state_dict keys. A generated container of another class hands its own
#: `attributes(...)` to its Namer.
TORCH_NETWORK_ATTRIBUTES = attributes("torch.nn.Sequential") | TORCH_NETWORK_METHODS | _KEPT_RENAMINGS

#: Every attribute of keras.Model, keras.Sequential and keras.layers.Layer, from the same
#: snapshot. The TensorFlow backend passes layer names to Keras as strings (a layer's `name=`,
#: `get_layer`), never as attributes, so it keeps the spec's names; a backend that made them
#: attributes of a Keras object would hand this set to its Namer.
KERAS_ATTRIBUTES = attributes(*(cls for cls in reserved_names.ATTRIBUTES if cls.startswith("keras.")))

_RESERVED = (
    frozenset(keyword.kwlist)
    | catalog.SOFT_KEYWORDS
    | frozenset(dir(builtins))
    | GENERATED_CODE_NAMES
)


def is_safe_identifier(name: str, avoid: frozenset[str] = frozenset()) -> bool:
    """Does `name` satisfy the invariants above (ignoring uniqueness)?"""
    normal = unicodedata.normalize("NFKC", name)
    return (
        normal == name
        and _IDENTIFIER.fullmatch(name) is not None
        and not name.startswith("__")
        and name not in _RESERVED
        and name not in avoid
    )


class Namer:
    """Hands out unique, safe identifiers for one generated scope."""

    def __init__(self, avoid: frozenset[str] = frozenset()) -> None:
        self.avoid = avoid
        self.taken: set[str] = set()

    def name(self, wanted: str) -> str:
        base = wanted if _IDENTIFIER.fullmatch(wanted) else "layer"
        base = base.lstrip("_")
        if not base or base[0].isdigit():  # "_" or "_1": what is left must still start a name
            base = f"layer_{base}" if base else "layer"
        if not is_safe_identifier(base, self.avoid):
            base = f"{base}_layer"
        candidate, k = base, 2
        while candidate in self.taken or not is_safe_identifier(candidate, self.avoid):
            candidate, k = f"{base}_{k}", k + 1
        self.taken.add(candidate)
        return candidate
