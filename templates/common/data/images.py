"""Reading a folder of images, one subfolder per class, through Pillow (DataError comes from errors.py)."""

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # as Keras' image_dataset_from_directory
IMAGE_FORMATS = ("BMP", "GIF", "JPEG", "PNG")  # the only Pillow decoders tried, whatever a file's name says
CHANNELS = {"grayscale": 1, "rgb": 3}
SIXTEEN_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")  # 16-bit grayscale PNGs, as Pillow opens them


def load_images(folder: Path, size: tuple[int, int], color: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The images x (samples × height × width × channels, float32 in [0, 1]), their labels y
    (samples,) int64, and the class names, label 0 first.

    Each subfolder of `folder` is a class; the labels number the subfolders in sorted order
    (Python's `sorted`, as Keras' image_dataset_from_directory sorts them: "Cat" before "cat",
    "10" before "9"). The images are the files directly in a class folder whose names end in
    .bmp, .gif, .jpeg, .jpg or .png (in any case), in sorted order, class by class; other files
    and names starting with "." are skipped. Each is decoded by Pillow (the first frame of a
    GIF; 16-bit grey levels scaled to 8 bits), converted to `color` ("grayscale": one
    channel, "rgb": three, an alpha channel dropped), resized to `size` = (height, width) with
    Pillow's bilinear interpolation, and divided by 255. Links are followed only while they
    stay inside `folder`.

    Every problem raises DataError, its message starting with the path it is about: a missing
    folder, no class folders or only one, an empty class folder, a folder inside a class
    folder, a link out of the folder, a file Pillow cannot decode, and an image with more
    pixels than Pillow's decompression-bomb limit (Image.MAX_IMAGE_PIXELS). Nothing is
    returned until every image has been read.
    """
    if len(size) != 2 or not all(type(n) is int and n > 0 for n in size):
        raise ValueError(f"size must be (height, width), two positive integers. Received: size={size!r}")
    height, width = size
    if color not in CHANNELS:
        raise ValueError(f"color must be 'grayscale' or 'rgb'. Received: color={color!r}")
    folder = Path(folder)
    classes = image_files(folder)
    Image = pillow_image(folder)  # the module PIL.Image; a DataError with the install command if missing

    mode = "L" if color == "grayscale" else "RGB"
    pixels, labels = [], []
    for label, files in enumerate(classes.values()):
        for path in files:
            pixels.append(read_image(Image, path, mode, (width, height)))
            labels.append(label)
    x = np.stack(pixels).reshape(len(pixels), height, width, CHANNELS[color]).astype(np.float32)
    x /= 255
    return x, np.array(labels, dtype=np.int64), list(classes)


def image_files(folder: Path) -> dict[str, list[Path]]:
    """{class name: its image files}, both sorted, once the folder's layout is known to be usable."""
    root = resolved_folder(folder)
    classes = {}
    for entry in visible_entries(folder):
        if entry.is_dir():  # other files beside the class folders are skipped
            inside(root, entry)
            classes[entry.name] = []
    if not classes:
        raise DataError(f"{folder}: no class folders; put the images of each class in a subfolder named after the class")
    if len(classes) == 1:
        (name,) = classes
        raise DataError(f"{folder}: only one class folder, {name!r}; a classifier needs at least two")
    for name, files in classes.items():
        for entry in visible_entries(folder / name):
            if entry.is_dir():
                raise DataError(f"{entry}: a folder inside class folder {name!r}; put its images directly in {name!r}")
            if entry.suffix.lower() in IMAGE_SUFFIXES:
                inside(root, entry)
                files.append(entry)
        if not files:
            raise DataError(f"{folder / name}: an empty class folder: no {', '.join(IMAGE_SUFFIXES)} files")
    return classes


def resolved_folder(folder: Path) -> Path:
    """The real path of `folder` (a link to the folder itself is followed), which must be a folder."""
    try:
        exists, is_dir = folder.exists(), folder.is_dir()
        root = folder.resolve(strict=True) if exists else folder
    except (OSError, RuntimeError) as err:  # a name too long, a folder that cannot be searched, a link loop
        raise DataError(f"{folder}: cannot read the folder ({getattr(err, 'strerror', None) or err})") from None
    if not exists:
        raise DataError(f"{folder}: no such folder")
    if not is_dir:
        raise DataError(f"{folder}: is a file, not a folder of class subfolders")
    return root


def visible_entries(folder: Path) -> list[Path]:
    """The entries of `folder` whose names do not start with ".", sorted by name."""
    try:
        return sorted((entry for entry in folder.iterdir() if not entry.name.startswith(".")), key=lambda e: e.name)
    except OSError as err:
        raise DataError(f"{folder}: cannot read the folder ({err.strerror})") from None


def inside(root: Path, entry: Path) -> None:
    """DataError unless `entry`, with every link in it followed, is inside the folder `root`."""
    try:
        target = entry.resolve(strict=True)
    except (OSError, RuntimeError):  # a dangling link, a link loop
        raise DataError(f"{entry}: a broken link") from None
    if not target.is_relative_to(root):
        raise DataError(f"{entry}: a link out of the image folder; copy the file in rather than link to it")


def pillow_image(folder: Path):
    """The module PIL.Image, or a DataError saying how to install Pillow."""
    try:
        from PIL import Image
    except ImportError:
        raise DataError(
            f'{folder}: reading images needs Pillow: pip install "nndsl[images]" (or pip install Pillow)'
        ) from None
    return Image


def read_image(Image, path: Path, mode: str, size: tuple[int, int]) -> np.ndarray:
    """The pixels of one image file (`Image` is the module PIL.Image), converted to `mode` and resized
    to `size` = (width, height), as uint8."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # over the limit is refused, not warned
            with Image.open(path, formats=IMAGE_FORMATS) as image:
                if image.mode in SIXTEEN_BIT_MODES:
                    image = Image.fromarray(sixteen_to_eight_bits(np.asarray(image)), mode="L")
                return np.asarray(image.convert(mode).resize(size, Image.BILINEAR), dtype=np.uint8)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise DataError(f"{path}: refused as a possible decompression bomb ({err})") from None
    except Image.UnidentifiedImageError:
        raise DataError(f"{path}: not a BMP, GIF, JPEG or PNG image (Pillow cannot identify it)") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as err:
        raise DataError(f"{path}: a corrupt or truncated image ({err})") from None


def sixteen_to_eight_bits(pixels: np.ndarray) -> np.ndarray:
    """16-bit grey levels 0 … 65535 as 8-bit 0 … 255, rounded (Pillow's convert("L") would clip them at 255)."""
    wide = np.clip(pixels.astype(np.int64), 0, 65535)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)
