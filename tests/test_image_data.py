"""Image data: the folder loader templates/common/data/images.py, image arrays in .npz files,
and the two image data sets in specs/data (digits.npz and the shapes/ folder)."""

from __future__ import annotations

import importlib.util
import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import require_backend
from tests.test_data_snippets import DATA, NPZ, ROOT, DataError, check_data_file, load_snippet, savez

Image = require_backend("PIL.Image")  # Pillow, the extra nndsl[images]
IMAGES = load_snippet("images", DataError=DataError, check_data_file=check_data_file)
load_images = IMAGES.load_images
SHAPES = ROOT / "specs" / "data" / "shapes"
DIGITS = ROOT / "specs" / "data" / "digits.npz"


def script(name: str):
    """specs/data/<name>.py as a module (its __main__ block does not run)."""
    spec = importlib.util.spec_from_file_location(f"nndsl_{name}", ROOT / "specs" / "data" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def png(path: Path, value: int | tuple = 128, size: tuple[int, int] = (4, 4), mode: str = "L") -> Path:
    """A small uniform image file at `path` (its folders made); the format follows the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)
    return path


def two_classes(root: Path) -> Path:
    """root/a/0.png and root/b/0.png: the smallest folder that loads."""
    png(root / "a" / "0.png", 0)
    png(root / "b" / "0.png", 255)
    return root


# --- the shapes folder ----------------------------------------------------------------------


def test_shapes_folder_loads_as_three_classes_of_forty_grayscale_images():
    x, y, classes = load_images(SHAPES, size=(16, 16), color="grayscale")
    assert x.shape == (120, 16, 16, 1) and x.dtype == np.float32
    assert y.shape == (120,) and y.dtype == np.int64
    assert classes == ["circle", "square", "triangle"]
    np.testing.assert_array_equal(y, np.repeat([0, 1, 2], 40))  # class by class, in sorted order
    assert x.min() >= 0 and x.max() <= 1 and x.max() > 0.9
    np.testing.assert_allclose(x * 255, np.round(x * 255), atol=1e-4)  # the grey levels, divided by 255
    first = np.asarray(Image.open(SHAPES / "circle" / "00.png"), dtype=np.float32) / 255
    np.testing.assert_array_equal(x[0, :, :, 0], first)  # no resizing at its own size; files in sorted order
    again = load_images(SHAPES, size=(16, 16), color="grayscale")
    np.testing.assert_array_equal(again[0], x)
    np.testing.assert_array_equal(again[1], y)


def test_resizing_takes_height_then_width_and_rgb_repeats_the_grey():
    x, _, _ = load_images(SHAPES, size=(8, 12), color="rgb")
    assert x.shape == (120, 8, 12, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x[..., 0], x[..., 1])
    np.testing.assert_array_equal(x[..., 0], x[..., 2])
    again, _, _ = load_images(SHAPES, size=(8, 12), color="rgb")
    np.testing.assert_array_equal(again, x)  # resizing is deterministic
    gray, _, _ = load_images(SHAPES, size=(8, 12), color="grayscale")
    np.testing.assert_allclose(gray[..., 0], x[..., 0], atol=1 / 255 + 1e-6)


def test_shapes_folder_is_what_make_shapes_draws_and_small(tmp_path):
    files = sorted(SHAPES.glob("*/*.png"))
    assert len(files) == 120 and {f.parent.name for f in files} == {"circle", "square", "triangle"}
    assert sum(f.stat().st_size for f in files) < 200_000
    script("make_shapes").draw_shapes(tmp_path)
    committed, _, _ = load_images(SHAPES, size=(16, 16), color="grayscale")
    redrawn, _, _ = load_images(tmp_path, size=(16, 16), color="grayscale")
    # Pillow's rasteriser may move an edge pixel between versions; the noise and layout are NumPy's.
    assert np.abs(committed - redrawn).mean() < 0.01


def test_classes_and_files_in_python_sort_order(tmp_path):
    for name in ("b", "A", "a", "10", "9"):
        png(tmp_path / name / "0.png")
    for value, name in enumerate(("b.png", "a.PNG", "10.jpg", "9.bmp", "c.gif", "d.jpeg")):
        png(tmp_path / "a" / name, (value * 40,) * 3, mode="RGB")
    x, y, classes = load_images(tmp_path, size=(4, 4), color="grayscale")
    assert classes == ["10", "9", "A", "a", "b"]  # as Keras' image_dataset_from_directory: sorted()
    np.testing.assert_array_equal(y, [0, 1, 2, 3, 3, 3, 3, 3, 3, 3, 4])
    # In class 'a': 0.png, 10.jpg, 9.bmp, a.PNG, b.png, c.gif, d.jpeg.
    np.testing.assert_allclose(x[3:10, 0, 0, 0] * 255, [128, 80, 120, 40, 0, 160, 200], atol=2)


def test_other_files_and_hidden_names_are_skipped(tmp_path):
    two_classes(tmp_path)
    (tmp_path / "README.txt").write_text("not a class")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    (tmp_path / "a" / ".DS_Store").write_bytes(b"\0\1")
    (tmp_path / "a" / "._0.png").write_bytes(b"AppleDouble")
    png(tmp_path / ".hidden" / "0.png")
    x, y, classes = load_images(tmp_path, size=(2, 2), color="grayscale")
    assert classes == ["a", "b"] and len(x) == 2


def test_rgb_channels_in_order_and_alpha_dropped(tmp_path):
    png(tmp_path / "a" / "0.png", (255, 128, 0, 10), mode="RGBA")
    png(tmp_path / "b" / "0.png", (0, 0, 255), mode="RGB")
    x, _, _ = load_images(tmp_path, size=(3, 3), color="rgb")
    np.testing.assert_allclose(x[:, 0, 0, :], [[1, 128 / 255, 0], [0, 0, 1]], atol=1e-6)


def test_sixteen_bit_grey_levels_are_scaled_not_clipped(tmp_path):
    png(tmp_path / "a" / "0.png")
    (tmp_path / "b").mkdir()
    Image.fromarray(np.array([[0, 257, 32896, 65535]], dtype=np.uint16)).save(tmp_path / "b" / "0.png")
    assert Image.open(tmp_path / "b" / "0.png").mode.startswith("I")
    for color in ("grayscale", "rgb"):
        x, _, _ = load_images(tmp_path, size=(1, 4), color=color)
        np.testing.assert_allclose(x[1, 0, :, 0] * 255, [0, 1, 128, 255], atol=1e-4)


def test_the_content_decides_the_decoder_not_the_suffix(tmp_path):
    two_classes(tmp_path)
    Image.new("L", (4, 4), 200).save(tmp_path / "a" / "1.jpg", format="PNG")  # a PNG named .jpg reads
    x, _, _ = load_images(tmp_path, size=(4, 4), color="grayscale")
    assert len(x) == 3
    # A TIFF named .png is refused: only the BMP, GIF, JPEG and PNG decoders are tried.
    Image.new("L", (4, 4), 200).save(tmp_path / "b" / "1.png", format="TIFF")
    with pytest.raises(DataError) as caught:
        load_images(tmp_path, size=(4, 4), color="grayscale")
    assert str(caught.value) == f"{tmp_path / 'b' / '1.png'}: not a BMP, GIF, JPEG or PNG image (Pillow cannot identify it)"


# --- bad input: a DataError naming the path -------------------------------------------------


def corrupt(root: Path) -> tuple[Path, Path]:
    """(the folder to load, the path the error names), as each of these makers returns."""
    two_classes(root)
    (root / "b" / "1.png").write_bytes(b"this is text, not a picture")
    return root, root / "b" / "1.png"


def truncated(root: Path) -> tuple[Path, Path]:
    two_classes(root)
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)).save(buffer, "PNG")
    (root / "b" / "1.png").write_bytes(buffer.getvalue()[:300])
    return root, root / "b" / "1.png"


def empty_class(root: Path) -> tuple[Path, Path]:
    two_classes(root)
    (root / "c").mkdir()
    (root / "c" / "notes.txt").write_text("no images here")
    return root, root / "c"


def single_class(root: Path) -> tuple[Path, Path]:
    png(root / "only" / "0.png")
    return root, root


def no_classes(root: Path) -> tuple[Path, Path]:
    png(root / "0.png")
    return root, root


def missing(root: Path) -> tuple[Path, Path]:
    return root / "nowhere", root / "nowhere"


def a_file(root: Path) -> tuple[Path, Path]:
    return png(root / "image.png"), root / "image.png"


def nested(root: Path) -> tuple[Path, Path]:
    two_classes(root)
    png(root / "a" / "more" / "0.png")
    return root, root / "a" / "more"


BAD_FOLDERS = [
    (corrupt, r"1\.png: not a BMP, GIF, JPEG or PNG image \(Pillow cannot identify it\)$"),
    (truncated, r"1\.png: a corrupt or truncated image \(.+\)$"),
    (empty_class, r"c: an empty class folder: no \.bmp, \.gif, \.jpeg, \.jpg, \.png files$"),
    (single_class, r": only one class folder, 'only'; a classifier needs at least two$"),
    (no_classes, r": no class folders; put the images of each class in a subfolder named after the class$"),
    (missing, r"nowhere: no such folder$"),
    (a_file, r"image\.png: is a file, not a folder of class subfolders$"),
    (nested, r"more: a folder inside class folder 'a'; put its images directly in 'a'$"),
]


@pytest.mark.parametrize("make, message", BAD_FOLDERS, ids=[make.__name__ for make, _ in BAD_FOLDERS])
def test_bad_folders_raise_a_data_error_naming_the_path(tmp_path, make, message):
    folder, named = make(tmp_path / "images")
    with pytest.raises(DataError, match=message) as caught:
        load_images(folder, size=(4, 4), color="grayscale")
    assert str(caught.value).startswith(f"{named}:")


@pytest.mark.parametrize("limit", [200, 100], ids=["over the warning limit", "over the error limit"])
def test_an_image_over_the_decompression_bomb_limit_is_refused(tmp_path, monkeypatch, limit):
    """Pillow warns above MAX_IMAGE_PIXELS and raises above twice that; both are refusals."""
    two_classes(tmp_path)
    big = png(tmp_path / "b" / "big.png", size=(16, 16))  # 256 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(DataError, match=r"big\.png: refused as a possible decompression bomb \(.*256 pixels") as caught:
        load_images(tmp_path, size=(4, 4), color="grayscale")
    assert str(caught.value).startswith(f"{big}:")


def test_missing_pillow_says_how_to_install_it(tmp_path, monkeypatch):
    two_classes(tmp_path)
    monkeypatch.setitem(sys.modules, "PIL", None)  # `from PIL import Image` raises ImportError
    with pytest.raises(DataError) as caught:
        load_images(tmp_path, size=(4, 4), color="grayscale")
    assert str(caught.value) == f'{tmp_path}: reading images needs Pillow: pip install "nndsl[images]" (or pip install Pillow)'


def test_size_and_color_are_checked():
    with pytest.raises(ValueError, match=r"size must be \(height, width\), two positive integers. Received: size=\(0, 4\)"):
        load_images(SHAPES, size=(0, 4), color="grayscale")
    with pytest.raises(ValueError, match=r"Received: size=\(16,\)"):
        load_images(SHAPES, size=(16,), color="grayscale")
    with pytest.raises(ValueError, match=r"color must be 'grayscale' or 'rgb'. Received: color='RGB'"):
        load_images(SHAPES, size=(4, 4), color="RGB")


# --- links ----------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32", reason="needs symbolic links")
def test_links_inside_the_folder_are_followed_links_out_are_refused(tmp_path):
    outside = png(tmp_path / "elsewhere" / "secret.png", 77)
    root = two_classes(tmp_path / "images")
    (root / "a" / "1.png").symlink_to(root / "b" / "0.png")  # inside: followed
    (root / "c").symlink_to(root / "a", target_is_directory=True)  # a class folder linked to another, inside
    x, y, classes = load_images(root, size=(4, 4), color="grayscale")
    assert classes == ["a", "b", "c"] and len(x) == 5

    (root / "b" / "2.png").symlink_to(outside)
    with pytest.raises(DataError) as caught:
        load_images(root, size=(4, 4), color="grayscale")
    assert str(caught.value) == f"{root / 'b' / '2.png'}: a link out of the image folder; copy the file in rather than link to it"
    (root / "b" / "2.png").unlink()

    (root / "d").symlink_to(outside.parent, target_is_directory=True)
    with pytest.raises(DataError, match=r"/d: a link out of the image folder"):
        load_images(root, size=(4, 4), color="grayscale")
    (root / "d").unlink()

    (root / "b" / "3.png").symlink_to(root / "gone.png")
    with pytest.raises(DataError, match=r"3\.png: a broken link$"):
        load_images(root, size=(4, 4), color="grayscale")
    (root / "b" / "3.png").unlink()

    # The folder itself may be a link (a data/ link to a shared data set): its target is the folder.
    (tmp_path / "linked").symlink_to(root, target_is_directory=True)
    x, _, classes = load_images(tmp_path / "linked", size=(4, 4), color="grayscale")
    assert classes == ["a", "b", "c"] and len(x) == 5


# --- image arrays in .npz files -------------------------------------------------------------


def test_npz_three_dimensional_x_is_one_channel(tmp_path):
    pixels = np.random.default_rng(1).random((6, 5, 4))
    path = savez(tmp_path, x=pixels, y=np.arange(6) % 2)
    x, y = NPZ.load_npz(path, "x", "y")
    assert x.shape == (6, 5, 4, 1) and x.dtype == np.float32 and y.shape == (6,) and y.dtype == np.float64
    np.testing.assert_array_equal(x[..., 0], pixels.astype(np.float32))


def test_npz_four_dimensional_x_is_kept_and_values_are_not_rescaled(tmp_path):
    pixels = np.random.default_rng(2).integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    x, _ = NPZ.load_npz(savez(tmp_path, compressed=True, x=pixels, y=np.zeros(3)), "x", "y")
    assert x.shape == (3, 4, 5, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x, pixels)


def test_npz_images_keep_the_checks_of_every_array(tmp_path):
    cases = [
        ({"x": np.ones((2, 3, 3, 1, 1)), "y": np.ones(2)},
         ": 'x' has shape (2, 3, 3, 1, 1); it must be 2-D (samples × features), 3-D (samples × height × width) "
         "or 4-D (samples × height × width × channels)"),
        ({"x": np.ones((2, 3, 0)), "y": np.ones(2)}, ": 'x' has shape (2, 3, 0): images without pixels"),
        ({"x": np.ones((2, 3, 3, 1)), "y": np.ones(3)}, ": 'x' has 2 samples but 'y' has 3"),
        ({"x": np.full((2, 3, 3), 1e300), "y": np.ones(2)}, ": 'x'[0, 0, 0] = 1e+300 is too large for float32"),
        ({"x": np.array([[[1.0, np.nan]]]), "y": np.ones(1)}, ": 'x'[0, 0, 1] = nan is not a finite number"),
    ]
    for arrays, message in cases:
        path = savez(tmp_path, **arrays)
        with pytest.raises(DataError) as caught:
            NPZ.load_npz(path, "x", "y")
        assert str(caught.value) == f"{path}{message}"


# --- digits.npz -----------------------------------------------------------------------------


def test_digits_npz_holds_the_documented_arrays():
    with np.load(DIGITS, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["x", "y"]
        x, y = archive["x"], archive["y"]
    assert x.shape == (1797, 8, 8) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0 and x.max() == 1
    np.testing.assert_array_equal(x * 16, np.round(x * 16))  # sixteenths: the values 0 … 16 divided by 16
    counts = np.bincount(y)
    assert len(counts) == 10 and counts.min() >= 170 and counts.max() <= 190
    assert DIGITS.stat().st_size < 200_000

    loaded, labels = NPZ.load_npz(DIGITS, "x", "y")  # the loader a generated program uses
    assert loaded.shape == (1797, 8, 8, 1) and loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded[..., 0], x)
    np.testing.assert_array_equal(labels, y)


def test_make_digits_writes_the_committed_file_byte_for_byte(tmp_path):
    """The script's writer is deterministic (fixed zip dates): given the committed arrays it writes the
    committed file. (Drawing them from scikit-learn's load_digits() needs scikit-learn, which is no
    dependency of nndsl; specs/data/README.md says how to rebuild.)"""
    make_digits = script("make_digits")
    with np.load(DIGITS) as committed:
        arrays = {key: committed[key] for key in ("x", "y")}
    make_digits.write_npz(tmp_path / "digits.npz", arrays)
    assert (tmp_path / "digits.npz").read_bytes() == DIGITS.read_bytes()


def test_the_loader_is_a_snippet_like_the_others():
    assert (DATA / "images.py").exists()
    assert IMAGES.IMAGE_SUFFIXES == (".bmp", ".gif", ".jpeg", ".jpg", ".png")
