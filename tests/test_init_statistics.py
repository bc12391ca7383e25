"""Initial weights have the lecture's variances: σ² = 2/(n_in + n_out) (Glorot, for sigmoid and
tanh) and σ² = 2/n_in (He, for ReLU), drawn by a generated program's `initial_weights()`.

Each layer here has N = 10⁶ weights. The tolerances are five standard errors of the estimate
(a test that fails by chance about once in 1.7 million runs; the seeds are fixed, so it either
passes or does not):

* the sample mean of N draws with variance σ² has standard error σ/√N (10⁻³ σ);
* the sample variance has standard error σ²·√((κ − 1)/N), κ the kurtosis: 3 for a Gaussian
  (1.4·10⁻³ relative), 9/5 for a uniform (0.9·10⁻³ relative).

A wrong formula is far outside: for the 1000 × 1000 layer, Glorot's 1/1000 and He's 2/1000
differ by a factor of two; the 500 → 2000 layer tells n_in from n_out apart (He 4·10⁻³,
Glorot 8·10⁻⁴, "2/n_out" 10⁻³).
"""

from __future__ import annotations

import numpy as np
import pytest

import nndsl
from nndsl.codegen import load_module

KURTOSIS = {"normal": 3.0, "uniform": 9 / 5}
SHAPES = [(1000, 1000), (500, 2000)]  # (n_in, n_out): 10⁶ weights each


def initial_weights(n_in: int, n_out: int, layer: str) -> dict:
    """initial_weights() of a generated program whose model is `input n_in  <layer>`."""
    spec = f"""
        data npz("unused.npz")
        model {{ input {n_in}  {layer} }}
        loss mse
        train {{ optimizer sgd(lr=0.1)  batch all  epochs 1  seed 12 }}
    """
    module = load_module(nndsl.generate(nndsl.parse(spec)))
    weights = module.initial_weights()
    assert weights["dense_1.W"].shape == (n_out, n_in)  # W is units × inputs
    assert weights["dense_1.W"].dtype == np.float32
    return weights


def assert_statistics(W: np.ndarray, variance: float, family: str) -> None:
    n = W.size
    sample = W.astype(np.float64)
    mean_error = 5 * np.sqrt(variance / n)
    variance_error = 5 * variance * np.sqrt((KURTOSIS[family] - 1) / n)
    assert abs(sample.mean()) < mean_error, (sample.mean(), mean_error)
    assert abs(sample.var() - variance) < variance_error, (sample.var(), variance, variance_error)


@pytest.mark.parametrize("n_in, n_out", SHAPES)
@pytest.mark.parametrize(
    "init, family, variance",
    [
        ("he_normal", "normal", lambda n_in, n_out: 2 / n_in),
        ("glorot_normal", "normal", lambda n_in, n_out: 2 / (n_in + n_out)),
        ("he_uniform", "uniform", lambda n_in, n_out: 2 / n_in),
        ("glorot_uniform", "uniform", lambda n_in, n_out: 2 / (n_in + n_out)),
    ],
)
def test_initializer_variance(init, family, variance, n_in, n_out):
    weights = initial_weights(n_in, n_out, f"dense {n_out} tanh init={init}")
    W = weights["dense_1.W"]
    sigma2 = variance(n_in, n_out)
    assert_statistics(W, sigma2, family)
    if family == "uniform":
        # Uniform on ±limit with limit = √(3σ²): √(6/n_in) for He, √(6/(n_in + n_out)) for Glorot.
        limit = np.sqrt(3 * sigma2)
        assert np.abs(W).max() <= np.float32(limit)
        assert np.abs(W).max() > 0.999 * limit
    else:
        # Not truncated (docs/reproducibility.md): a Gaussian puts 4.55 % beyond 2σ (standard
        # error 0.02 % here) and about 63 of a million beyond 4σ; Keras' truncated normal, none.
        beyond_two = np.mean(np.abs(W) > 2 * np.sqrt(sigma2))
        assert abs(beyond_two - 0.0455) < 0.002
        assert np.abs(W).max() > 4 * np.sqrt(sigma2)
    np.testing.assert_array_equal(weights["dense_1.b"], np.zeros(n_out, np.float32))


@pytest.mark.parametrize(
    "activation, variance",
    [
        ("relu", lambda n_in, n_out: 2 / n_in),
        ("leaky_relu", lambda n_in, n_out: 2 / n_in),
        ("sigmoid", lambda n_in, n_out: 2 / (n_in + n_out)),
        ("tanh", lambda n_in, n_out: 2 / (n_in + n_out)),
        ("linear", lambda n_in, n_out: 2 / (n_in + n_out)),
    ],
)
def test_default_initializer_follows_the_activation(activation, variance):
    """The lecture: He for ReLU, Glorot for sigmoid and tanh (Gaussian, both); zero biases."""
    n_in, n_out = 500, 2000
    weights = initial_weights(n_in, n_out, f"dense {n_out} {activation}")
    assert_statistics(weights["dense_1.W"], variance(n_in, n_out), "normal")
    np.testing.assert_array_equal(weights["dense_1.b"], np.zeros(n_out, np.float32))


def test_normal_initializer_uses_its_standard_deviation():
    weights = initial_weights(1000, 1000, "dense 1000 init=normal(0.05) bias=normal(0.5)")
    assert_statistics(weights["dense_1.W"], 0.05**2, "normal")
    assert weights["dense_1.b"].std() == pytest.approx(0.5, rel=0.2)  # 1000 draws: ±2.2 % standard error


def test_same_seed_same_weights_other_seed_other_weights():
    spec = """
        data npz("unused.npz")
        model { input 50  dense 40 relu  dense 30 tanh init=glorot_uniform }
        loss mse
        train { optimizer sgd(lr=0.1)  batch all  epochs 1 }
    """
    module = load_module(nndsl.generate(nndsl.parse(spec)))
    first, again, other = module.initial_weights(3), module.initial_weights(3), module.initial_weights(4)
    for name in first:
        assert np.array_equal(first[name], again[name])
    assert not np.array_equal(first["dense_1.W"], other["dense_1.W"])
    assert not np.array_equal(first["dense_2.W"], other["dense_2.W"])
