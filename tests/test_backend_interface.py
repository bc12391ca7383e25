"""What every backend's Trainer does alike at its interface: the errors of set_weights and of
restoring a checkpoint that another backend wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

import nndsl
from nndsl.codegen import BACKENDS
from tests.conftest import require_backend

CHECKERBOARD = (Path(__file__).resolve().parent.parent / "specs" / "checkerboard.nn").read_text(encoding="utf-8")


def trainer(backend: str, optimizer: str = "sgd(lr=0.03)"):
    require_backend(backend)
    return nndsl.build(nndsl.parse(CHECKERBOARD.replace("sgd(lr=0.03)", optimizer)), backend=backend, target="cpu")


@pytest.mark.parametrize("backend", BACKENDS)
def test_set_weights_names_what_is_missing_misshapen_or_unknown(backend):
    model = trainer(backend)
    weights = model.get_weights()
    with pytest.raises(KeyError, match="no weights for dense_2.b"):
        model.set_weights({k: v for k, v in weights.items() if k != "dense_2.b"})
    with pytest.raises(ValueError, match=r"dense_1.W has shape \(8, 2\), not \(2, 8\)"):
        model.set_weights(weights | {"dense_1.W": weights["dense_1.W"].T})
    with pytest.raises(KeyError, match=r"no parameter dense_3\.W in this model \(its parameters: dense_1\.W, "
                                       r"dense_1\.b, dense_2\.W, dense_2\.b\)"):
        model.set_weights(weights | {"dense_3.W": weights["dense_2.W"]})  # a bigger model's weights


PAIRS = [(writer, reader) for writer in BACKENDS for reader in BACKENDS if writer != reader]


@pytest.mark.parametrize(("writer", "reader"), PAIRS, ids=[f"{w}-to-{r}" for w, r in PAIRS])
@pytest.mark.parametrize("optimizer", ["sgd(lr=0.03)", "sgd(lr=0.03, momentum=0.9)", "adam(lr=0.03)"],
                         ids=["sgd", "momentum", "adam"])
def test_restore_refuses_a_checkpoint_of_another_backend(tmp_path, writer, reader, optimizer):
    """Named before its optimizer state is read: another backend keeps that state under other
    names (torch once failed there with an IndexError)."""
    trainer(writer, optimizer).fit(epochs=1, checkpoint=tmp_path / "checkpoint.npz")
    model = trainer(reader, optimizer)
    with pytest.raises(model.module.CheckpointError, match=f"was written by a {writer} program; this one runs {reader}"):
        model.restore(tmp_path / "checkpoint.npz")
    assert model.epoch == 0
