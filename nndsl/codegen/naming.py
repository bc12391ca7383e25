"""Names in generated code: one place decides them, with stated invariants.

Invariants of every name this module returns:

* it is a legal Python identifier (ASCII letters, digits, `_`; not starting
  with a digit), compared after NFKC normalisation, as Python compares them;
* it is not a keyword or soft keyword (of any Python from 3.10 on: `match`,
  `case`, `type`, `_`), not a builtin, and does not start with `__`;
* it does not shadow a name the generated code itself uses (`np`, `torch`,
  `nn`, `tf`, `keras`, `self`, …) or an attribute of the framework's base
  class (`forward`, `training`, `parameters`, … on an `nn.Module`);
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

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: Names generated code binds at module level or relies on.
GENERATED_CODE_NAMES = frozenset(
    {
        "np", "torch", "nn", "F", "tf", "keras", "self", "cls", "math", "json", "sys", "os", "argparse",
        "Path", "SimpleNamespace", "NamedTuple", "Dataset", "Network", "Net", "Trainer", "main",
        "load_data", "initial_weights", "make_trainer", "split_data", "random_streams",
    }
)

#: Attributes of torch.nn.Module that a layer attribute must not replace.
TORCH_MODULE_ATTRIBUTES = frozenset(
    {
        "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children", "compile", "cpu",
        "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward", "get_buffer",
        "get_extra_state", "get_parameter", "get_submodule", "half", "ipu", "load_state_dict",
        "modules", "mtia", "named_buffers", "named_children", "named_modules", "named_parameters",
        "parameters", "register_backward_hook", "register_buffer", "register_forward_hook",
        "register_forward_pre_hook", "register_full_backward_hook", "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook", "register_module",
        "register_parameter", "register_state_dict_pre_hook", "requires_grad_", "set_extra_state",
        "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train", "training", "type",
        "xpu", "zero_grad", "predict", "fit", "evaluate", "save", "load",
    }
)

#: Attributes of keras.Model / keras.Layer a name must not replace.
KERAS_MODEL_ATTRIBUTES = frozenset(
    {
        "build", "call", "compile", "evaluate", "fit", "get_config", "get_layer", "get_weights",
        "layers", "load_weights", "losses", "metrics", "name", "non_trainable_weights", "predict",
        "save", "save_weights", "set_weights", "summary", "trainable", "trainable_weights",
        "variables", "weights", "input", "output", "inputs", "outputs", "optimizer", "loss",
    }
)

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
