"""The image layer kinds in the front end (nndsl/layers.py): arguments, shapes, errors, summary, fmt."""

from __future__ import annotations

from pathlib import Path

import pytest

import nndsl
from nndsl import ir
from nndsl.errors import SpecError

CNN = """data npz("digits.npz", seed=3) { split 0.8 }

model digits_cnn {
    input 8x8x1
    conv2d 16 kernel=3 padding=same relu
    maxpool 2
    conv2d 32 kernel=3 padding=same relu
    batchnorm
    global_avgpool
    dense 10 softmax
}

loss categorical_crossentropy

train {
    optimizer adam(lr=0.01)
    epochs 3
}
"""


def model(layers: str, shape: str = "8x8x1") -> ir.Model:
    return nndsl.parse(CNN.replace(CNN[CNN.index("    input"):CNN.index("}\n\nloss")],
                                   f"    input {shape}\n{layers}\n"), filename="cnn.nn").model


def error(layers: str, shape: str = "8x8x1", text: str | None = None) -> str:
    with pytest.raises(SpecError) as info:
        if text is not None:
            nndsl.parse(text, filename="cnn.nn")
        else:
            model(layers, shape)
    (diagnostic, *_) = info.value.diagnostics
    return f"{diagnostic.span.line}:{diagnostic.span.column}: {diagnostic.message}"


def test_the_issue_spec_checks_with_every_shape_inferred():
    program = nndsl.parse(CNN, filename="cnn.nn")
    shapes = [layer.out_shape for layer in program.model.layers]
    assert program.model.in_shape == (8, 8, 1) and program.model.images
    assert shapes == [(8, 8, 16), (4, 4, 16), (4, 4, 32), (4, 4, 32), (32,), (10,)]
    conv = program.model.layers[0]
    assert conv.kernel == (3, 3) and conv.padding == (1, 1, 1, 1) and conv.activation.name == "relu"
    assert conv.kernel_init.kind == "he_normal"  # He for relu; fan_in = 3·3·1
    assert [p.name for p in program.model.parameters] == [
        "conv2d_1.W", "conv2d_1.b", "conv2d_2.W", "conv2d_2.b",
        "batchnorm_1.gamma", "batchnorm_1.beta", "batchnorm_1.mean", "batchnorm_1.var", "dense_1.W", "dense_1.b"]
    assert program.model.parameters[0].shape == (16, 3, 3, 1)  # (filters, kh, kw, in_channels)
    assert [p.trainable for p in program.model.layers[3].parameters] == [True, True, False, False]


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "out"),
    [(8, 3, 1, "valid", 6), (8, 3, 1, "same", 8), (7, 2, 2, "same", 4), (8, 4, 2, "same", 4), (5, 2, 2, "valid", 2)],
)
def test_conv_output_sizes_follow_tensorflow(size, kernel, stride, padding, out):
    conv = model(f"    conv2d 4 kernel={kernel} stride={stride} padding={padding}\n    flatten\n    dense 10 softmax",
                 f"{size}x{size}x1").layers[0]
    assert conv.out_shape == (out, out, 4)
    if padding == "same":  # TensorFlow's split: the extra cell after
        total = max((out - 1) * stride + kernel - size, 0)
        assert conv.padding == (total // 2, total - total // 2) * 2


def test_pools_default_their_stride_to_the_window_and_take_rectangles():
    layers = model("    maxpool 2\n    avgpool 3x1 stride=1 padding=same\n    flatten\n    dense 10 softmax").layers
    assert layers[0].stride == (2, 2) and layers[0].out_shape == (4, 4, 1)
    assert layers[1].pool == (3, 1) and layers[1].out_shape == (4, 4, 1) and layers[1].padding == (1, 1, 0, 0)
    assert layers[2].out_shape == (16,)


@pytest.mark.parametrize(
    ("layers", "shape", "message"),
    [
        ("    conv2d 4 kernel=3\n    dense 10 softmax", "8x8x1",
         "6:5: dense takes a vector, but 'conv2d_1' gives an image of 6x6x4; add 'flatten' (all 144 values) or "
         "'global_avgpool' (one per channel) before it (Keras would apply a Dense layer to the last axis alone)"),
        ("    conv2d 4 kernel=3\n    dense 10 softmax", "64",
         "5:5: conv2d takes an image (height x width x channels), but the input is a vector of 64 values (write "
         "the input as 'input HxWxC', e.g. 'input 8x8x1')"),
        ("    conv2d 4 kernel=9\n    flatten\n    dense 10 softmax", "8x8x1",
         "5:5: conv2d: the kernel 9x9 is larger than its input 8x8 (padding=valid); use a smaller kernel or "
         "padding=same"),
        ("    maxpool 2\n    maxpool 2\n    maxpool 2\n    maxpool 2\n    flatten\n    dense 10 softmax", "8x8x1",
         "8:5: maxpool: the pool 2x2 is larger than its input 1x1 (padding=valid); use a smaller pool or "
         "padding=same"),
        ("    batchnorm\n    flatten\n    dense 10 softmax", "8x8x1",
         "5:5: batchnorm normalises what a conv2d or dense layer computes, so it comes after one; to normalise "
         "the inputs, scale the data"),
        ("    dense 10 softmax\n    flatten", "64", "6:5: flatten takes an image, but 'dense_1' gives a vector of 10 "
                                                  "values already; leave it out"),
        ("    flatten\n    dense 10 softmax", "8x8",
         "4:11: an image input is height x width x channels, e.g. 'input 8x8x1'; received input=8x8; for one "
         "channel, 'input 8x8x1'"),
        ("    conv2d 4\n    flatten\n    dense 10 softmax", "8x8x1",
         "5:5: conv2d needs kernel=K or kernel=RxC, e.g. 'conv2d 4 kernel=3'"),
        ("    conv2d 4 kernel=3x3x3\n    flatten\n    dense 10 softmax", "8x8x1",
         "5:21: kernel must be N or RxC (rows x columns); received kernel=3x3x3"),
        ("    conv2d 4 kernel=3 relu tanh\n    flatten\n    dense 10 softmax", "8x8x1",
         "5:28: conv2d got two activations; give one"),
    ],
)
def test_shape_mistakes_are_reported_at_the_statement_with_a_hint(layers, shape, message):
    assert error(layers, shape) == message


def test_an_image_input_into_a_data_set_of_rows_is_an_error():
    text = CNN.replace('data npz("digits.npz", seed=3) { split 0.8 }', "data xor(samples=100)")
    assert error("", text=text) == (
        "4:11: input 8x8x1 is an image, but xor data are rows of features; images come from npz(...) files "
        "(x of shape (N, H, W, C) or (N, H, W))")


def test_the_summary_shows_shapes_and_formulas_with_kerass_totals():
    summary = nndsl.summary(nndsl.parse(CNN, filename="cnn.nn"))
    rows = {layer.name: layer for layer in summary.layers}
    assert rows["conv2d_1"].output_shape == (None, 8, 8, 16)
    assert rows["conv2d_1"].formula == "(3·3·1 + 1) × 16 = 160"
    assert rows["batchnorm_1"].formula == "4 × 32 = 128 (64 non-trainable)"
    assert rows["global_avgpool_1"].type == "GlobalAveragePooling2D"
    data = summary.to_dict()
    assert data["input_shape"] == [None, 8, 8, 1]
    assert (data["total_params"], data["trainable_params"], data["non_trainable_params"]) == (5258, 5194, 64)


def test_the_canonical_text_of_an_image_model_means_the_same():
    text = CNN.replace("    maxpool 2\n", "    maxpool 2 stride=1 padding=same name=pool\n    dropout 0.25\n").replace(
        "batchnorm\n", "batchnorm momentum=0.9 eps=0.0001\n    conv2d 8 kernel=2x3 stride=2 leaky_relu(0.2) l2(0.001)\n")
    program = nndsl.parse(text, filename="cnn.nn")
    again = nndsl.parse(nndsl.format(program), filename="cnn.nn")
    assert again.model == program.model
    assert nndsl.format(nndsl.parse(nndsl.format(text), filename="cnn.nn")) == nndsl.format(program)


@pytest.mark.parametrize(("backend", "module", "kind", "line"), [
    ("numpy", "numpy_backend", "batchnorm", 8), ("torch", "torch_backend", "maxpool", 6),
    ("tensorflow", "tensorflow_backend", "conv2d", 5)])
def test_a_backend_without_a_layer_kind_says_so_at_the_layer(monkeypatch, backend, module, kind, line):
    """Every backend generates every kind today; one that lacks a kind (a kind added to the
    language before its templates) refuses at the layer's statement, not with a KeyError."""
    import importlib

    from nndsl.codegen import generate

    lowering = importlib.import_module(f"nndsl.codegen.{module}")
    monkeypatch.setattr(lowering, "LAYER_KINDS", lowering.LAYER_KINDS - {kind})
    with pytest.raises(SpecError, match=f"the {backend} backend does not generate {kind} layers yet") as info:
        generate(nndsl.parse(CNN, filename="cnn.nn"), backend=backend, target="cpu")
    assert (info.value.line, info.value.column) == (line, 5)


@pytest.mark.parametrize("module", ["numpy_backend", "torch_backend", "tensorflow_backend"])
def test_every_backend_generates_every_layer_kind(module):
    import importlib

    from nndsl import layers

    assert importlib.import_module(f"nndsl.codegen.{module}").LAYER_KINDS == frozenset(layers.KINDS)


def test_a_model_that_ends_in_an_image_is_an_error():
    assert error("    conv2d 4 kernel=3") == (
        "5:5: the model ends in an image of 6x6x4; end it with 'flatten' or 'global_avgpool' and a dense layer, one "
        "unit per output")


IMAGES = CNN.replace('npz("digits.npz", seed=3)', 'images("shapes", size=8x8, color=grayscale, seed=1)')


def test_an_images_folder_fixes_the_input_shape():
    program = nndsl.parse(IMAGES, filename="cnn.nn")
    assert program.data.source == ir.ImageFolderData("shapes", (8, 8), "grayscale")
    assert error("", text=IMAGES.replace("color=grayscale", "color=rgb")) == (
        "4:11: input 8x8x1 disagrees with the data: images(...) gives 8x8x3 (8x8, rgb); write 'input 8x8x3'")
    assert error("", text=IMAGES.replace("size=8x8, ", "")) == (
        "1:1: images needs size=HxW, the height and width every image is resized to, e.g. size=16x16")
    assert error("", text=IMAGES.replace("input 8x8x1", "input 64")) == (
        "4:11: images(...) gives images of 8x8x1, not rows of features; write 'input 8x8x1' (and 'flatten' before a "
        "dense layer)")


def test_a_folder_with_other_classes_than_the_model_is_a_clear_error(tmp_path):
    shapes = Path(__file__).resolve().parent.parent / "specs" / "data" / "shapes"
    (tmp_path / "spec.nn").write_text(
        (Path(__file__).resolve().parent.parent / "specs" / "shapes.nn").read_text(encoding="utf-8")
        .replace('"data/shapes"', '"shapes"').replace("dense 3 softmax", "dense 4 softmax"), encoding="utf-8")
    (tmp_path / "shapes").symlink_to(shapes)
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "nndsl", "train", "spec.nn", "--out", "run", "--quiet"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr == (f"nndsl: error: {tmp_path / 'shapes'}: the model has 4 classes, but the folder has 3: "
                             "circle, square, triangle\n")
