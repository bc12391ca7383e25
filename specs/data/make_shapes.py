"""Draw the shapes/ folder of small PNG images: `python specs/data/make_shapes.py` (needs Pillow).

shapes/<class>/<n>.png for the classes circle, square and triangle, 40 images each
(00.png … 39.png), 16×16 grayscale: a light shape of random size, position, rotation and
brightness on a dark background, with Gaussian pixel noise. Everything is drawn from fixed
seeds, so running the script again draws the same pixels. Each shape is drawn at 4× the size
and averaged down, so that its edges are smooth rather than jagged.
"""

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
CLASSES = ("circle", "square", "triangle")
SIZE = 16  # pixels, height and width
SCALE = 4  # drawn at SIZE * SCALE, then each SCALE × SCALE block averaged to one pixel
NOISE = 12.0  # standard deviation of the pixel noise, in grey levels 0 … 255
SEED = 16


def shape_image(kind: str, rng: np.random.Generator) -> Image.Image:
    """One SIZE × SIZE grayscale image of a `kind` shape, drawn from `rng`."""
    radius = rng.uniform(3.0, 6.5)  # centre to corner (or to the rim), in pixels
    cx, cy = rng.uniform(radius + 0.5, SIZE - radius - 0.5, size=2)
    angle = rng.uniform(0, 2 * math.pi)
    background, foreground = int(rng.integers(0, 60)), int(rng.integers(150, 256))

    canvas = Image.new("L", (SIZE * SCALE, SIZE * SCALE), background)
    draw = ImageDraw.Draw(canvas)
    x, y, r = cx * SCALE, cy * SCALE, radius * SCALE
    if kind == "circle":
        draw.ellipse((x - r, y - r, x + r, y + r), fill=foreground)
    else:
        corners = 4 if kind == "square" else 3
        points = [(x + r * math.cos(angle + 2 * math.pi * k / corners), y + r * math.sin(angle + 2 * math.pi * k / corners))
                  for k in range(corners)]
        draw.polygon(points, fill=foreground)
    small = canvas.resize((SIZE, SIZE), Image.BOX)
    noisy = np.asarray(small, dtype=np.float64) + rng.normal(0, NOISE, (SIZE, SIZE))
    return Image.fromarray(np.clip(np.round(noisy), 0, 255).astype(np.uint8), mode="L")


def draw_shapes(folder: Path, per_class: int = 40, seed: int = SEED) -> None:
    """Write folder/<class>/<n>.png, n zero-padded so that file order is drawing order."""
    for index, kind in enumerate(CLASSES):
        rng = np.random.default_rng([seed, index])  # one stream per class: classes do not shift each other
        (folder / kind).mkdir(parents=True, exist_ok=True)
        for n in range(per_class):
            shape_image(kind, rng).save(folder / kind / f"{n:02d}.png")


if __name__ == "__main__":
    draw_shapes(HERE / "shapes")
    files = sorted((HERE / "shapes").glob("*/*.png"))
    print(f"wrote {len(files)} images in {HERE / 'shapes'} ({sum(f.stat().st_size for f in files):,} bytes)")
