"""The Namer's stated invariants (nndsl/codegen/naming.py), for any names a spec may give."""

from __future__ import annotations

import builtins
import keyword
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from nndsl.codegen.naming import GENERATED_CODE_NAMES, TORCH_NETWORK_ATTRIBUTES, Namer, is_safe_identifier

RESERVED = sorted(
    set(keyword.kwlist) | set(keyword.softkwlist) | {"type", "match", "case", "_"} | set(dir(builtins))
    | GENERATED_CODE_NAMES | TORCH_NETWORK_ATTRIBUTES
)
WANTED = st.one_of(
    st.sampled_from(RESERVED),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True),
    st.sampled_from(RESERVED).map(lambda name: f"{name}_layer"),  # what a renaming would produce
    st.sampled_from(RESERVED).map(lambda name: f"{name}_layer_2"),
    st.text(max_size=6),  # not identifiers at all: the Namer still hands out a safe one
)


def assert_invariants(names: list[str], avoid: frozenset[str]) -> None:
    assert len(set(names)) == len(names)
    for name in names:
        assert name.isascii() and name.isidentifier(), name
        assert unicodedata.normalize("NFKC", name) == name
        assert not keyword.iskeyword(name) and name not in {"type", "match", "case", "_"}
        assert name not in dir(builtins) and name not in GENERATED_CODE_NAMES and name not in avoid
        assert not name.startswith("__")
        assert is_safe_identifier(name, avoid)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(WANTED, max_size=12))
def test_names_are_unique_safe_and_deterministic(wanted):
    namer = Namer(TORCH_NETWORK_ATTRIBUTES)
    names = [namer.name(w) for w in wanted]
    assert_invariants(names, TORCH_NETWORK_ATTRIBUTES)
    again = Namer(TORCH_NETWORK_ATTRIBUTES)
    assert [again.name(w) for w in wanted] == names


def test_safe_names_are_kept_and_unsafe_ones_renamed_predictably():
    namer = Namer(TORCH_NETWORK_ATTRIBUTES)
    assert [namer.name(w) for w in ["hidden", "np", "np_layer", "forward", "self", "type", "print", "hidden"]] == [
        "hidden", "np_layer", "np_layer_2", "forward_layer", "self_layer", "type_layer", "print_layer", "hidden_2",
    ]
    # nn.Sequential's own methods: add_module refused them ("attribute 'append' already exists").
    assert [namer.name(w) for w in ["append", "extend", "insert", "pop", "_modules", "penalty"]] == [
        "append_layer", "extend_layer", "insert_layer", "pop_layer", "modules_layer", "penalty_layer",
    ]
    # A leading underscore is dropped; a digit after it must not start the name (this looped forever).
    assert [namer.name(w) for w in ["_1", "_", "__init__", "_9x"]] == ["layer_1", "layer", "init__", "layer_9x"]


def test_a_layer_named_underscore_digit_compiles_for_torch():
    """`name=_1` is a legal spec name; the Namer once looped forever on it (a compiler hang)."""
    import nndsl
    from nndsl.codegen import generate

    spec = (
        "data xor(samples=40)\n"
        "model { input 2  dense 4 relu name=_1  dense 1 sigmoid name=_2x }\n"
        "loss binary_crossentropy\n"
        "train { optimizer sgd(lr=0.1)  epochs 1 }\n"
    )
    source = generate(nndsl.parse(spec), backend="torch")
    assert '("layer_1", nn.Linear(2, 4))' in source and '("layer_2x", nn.Linear(4, 1))' in source
    assert '"_1.W"' in source  # the IR name stays what the spec says
