"""The model summary: the lecture's parameter counts, with their formulas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import nndsl

SPECS = Path(__file__).resolve().parent.parent / "specs"


def summary_of(hidden: str, inputs: int = 2, output: str = "dense 1 sigmoid"):
    return nndsl.summary(nndsl.parse(f"model {{ input {inputs}  {hidden}  {output} }}"))


@pytest.mark.parametrize(
    "hidden,total",
    [
        ("dense 8 relu", 33),  # the checkerboard exercise: (2+1)·8 + (8+1)·1
        ("dense 2 relu", 9),  # too narrow: (2+1)·2 + (2+1)·1
        ("dense 8 relu  dense 4 relu", 65),  # one more layer: 24 + 36 + 5
        ("", 3),  # the perceptron: two weights and a bias
    ],
)
def test_lecture_exercise_parameter_counts(hidden, total):
    result = summary_of(hidden)
    assert result.total_params == total
    assert result.trainable_params == total
    assert result.non_trainable_params == 0


@pytest.mark.parametrize(
    "spec,total", [("checkerboard.nn", 33), ("checkerboard_2.nn", 9), ("checkerboard_8_4.nn", 65),
                   ("perceptron.nn", 3), ("staircase.nn", 22)]
)
def test_example_specs(spec, total):
    assert nndsl.summary(nndsl.load(SPECS / spec)).total_params == total


def test_counts_agree_with_the_ir_parameters():
    program = nndsl.parse("model { input 7  dense 16 relu  dropout 0.2  dense 16 relu  dense 8 relu  dense 3 softmax }")
    result = nndsl.summary(program)
    assert result.total_params == sum(p.size for p in program.model.parameters) == 8 * 16 + 17 * 16 + 17 * 8 + 9 * 3


def test_layers_shapes_and_formulas():
    result = summary_of("dense 8 relu  dropout 0.5  activation tanh")
    assert [(layer.name, layer.type) for layer in result.layers] == [
        ("dense_1", "Dense"), ("dropout_1", "Dropout"), ("activation_1", "Activation"), ("dense_2", "Dense"),
    ]
    assert [layer.output_shape for layer in result.layers] == [(None, 8), (None, 8), (None, 8), (None, 1)]
    assert [layer.params for layer in result.layers] == [24, 0, 0, 9]
    assert [layer.formula for layer in result.layers] == ["(2 + 1) × 8 = 24", "", "", "(8 + 1) × 1 = 9"]
    assert result.input_shape == (None, 2)


def test_formula_uses_thousands_separators():
    result = summary_of("dense 1000 relu", inputs=784, output="dense 10 softmax")
    assert result.layers[0].formula == "(784 + 1) × 1000 = 785,000"
    assert result.total_params == 785_000 + 10_010
    assert "Total params: 795,010" in str(result)


def test_frozen_layers_count_as_non_trainable():
    staircase = nndsl.load(SPECS / "staircase.nn")
    result = nndsl.summary(staircase)
    assert (result.total_params, result.trainable_params, result.non_trainable_params) == (22, 8, 14)
    assert [layer.trainable for layer in result.layers] == [False, True]
    result = summary_of("dense 8 relu trainable=false")
    assert (result.trainable_params, result.non_trainable_params) == (9, 24)


def test_table_text():
    text = str(nndsl.summary(nndsl.load(SPECS / "checkerboard.nn")))
    lines = text.split("\n")
    assert lines[0] == f'Model: "checkerboard"  ({SPECS / "checkerboard.nn"})'
    assert lines[2].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#", "Formula"]
    rows = [line for line in lines if line.startswith(("input", "dense"))]
    assert rows[0].split() == ["input", "(Input)", "(None,", "2)", "0"]
    assert rows[1].split() == ["dense_1", "(Dense)", "(None,", "8)", "24", "(2", "+", "1)", "×", "8", "=", "24"]
    assert rows[2].split() == ["dense_2", "(Dense)", "(None,", "1)", "9", "(8", "+", "1)", "×", "1", "=", "9"]
    assert lines[-3:] == ["Total params: 33", "Trainable params: 33", "Non-trainable params: 0"]
    # columns line up
    assert len({row.index("(None") for row in rows}) == 1


def test_frozen_layer_is_marked_in_the_table():
    text = str(nndsl.summary(nndsl.load(SPECS / "staircase.nn")))
    assert "14 (frozen)" in text
    assert "Non-trainable params: 14" in text


def test_to_dict_uses_keras_words():
    data = nndsl.summary(nndsl.load(SPECS / "staircase.nn")).to_dict()
    assert {"layers", "total_params", "trainable_params", "non_trainable_params"} <= set(data)
    assert (data["total_params"], data["trainable_params"], data["non_trainable_params"]) == (22, 8, 14)
    assert data["layers"][0] == {
        "name": "dense_1", "type": "Dense", "output_shape": [None, 7], "params": 14,
        "formula": "(1 + 1) × 7 = 14", "trainable": False, "inputs": ["x"],
    }
    json.dumps(data)  # plain JSON data


def test_cli_summary_json():
    result = subprocess.run(
        [sys.executable, "-m", "nndsl", "summary", str(SPECS / "checkerboard_8_4.nn"), "--json"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["total_params"], data["trainable_params"], data["non_trainable_params"]) == (65, 65, 0)
    assert [layer["params"] for layer in data["layers"]] == [24, 36, 5]
    assert [layer["formula"] for layer in data["layers"]] == [
        "(2 + 1) × 8 = 24", "(8 + 1) × 4 = 36", "(4 + 1) × 1 = 5",
    ]


def test_cli_summary_table():
    result = subprocess.run(
        [sys.executable, "-m", "nndsl", "summary", str(SPECS / "checkerboard.nn")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "(2 + 1) × 8 = 24" in result.stdout
    assert "Total params: 33" in result.stdout
