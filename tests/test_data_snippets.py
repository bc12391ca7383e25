"""The data snippets in templates/common/data, loaded as modules straight from their files.

The Playground generators are checked against a line-by-line transcription of the
Playground's src/dataset.ts (and of d3 v3's linear scale), fed the same random numbers
in the order each generator's docstring documents; then against the geometry they
promise. The file loaders are checked on good files and on every kind of bad one.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import math
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "templates" / "common" / "data"
GENERATORS = ("xor", "circle", "gauss", "spiral", "plane", "multigauss")
CLASSIFIERS = ("xor", "circle", "gauss", "spiral")


def load_snippet(name: str, folder: Path = DATA, **names):
    """templates/common/data/<name>.py (or <folder>/<name>.py) as a module; `names` are predefined,
    as in a generated module."""
    spec = importlib.util.spec_from_file_location(f"nndsl_data_snippet_{name}", folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(names)
    spec.loader.exec_module(module)
    return module


ERRORS = load_snippet("errors")
DataError, check_data_file = ERRORS.DataError, ERRORS.check_data_file
CSV = load_snippet("csv_file", DataError=DataError, check_data_file=check_data_file)
check_npy_header = load_snippet("npy_header", DATA.parent).check_npy_header
NPZ = load_snippet("npz_file", DataError=DataError, check_data_file=check_data_file, check_npy_header=check_npy_header)


def generator(name: str):
    return getattr(load_snippet(name), f"{name}_data")


def draw(name: str, samples: int, noise: float, seed: int = 0, **kwargs):
    return generator(name)(np.random.default_rng(seed), samples, noise, **kwargs)


# --- a transcription of dataset.ts -------------------------------------------------------


class MathRandom:
    """Math.random() replayed from a list, in the Playground's own call order."""

    def __init__(self, values):
        self.values = iter(values)

    def __call__(self) -> float:
        return float(next(self.values))


def per_point(rng: np.random.Generator, count: int, draws: int, normal: bool = False) -> list[float]:
    """`draws` values per point, taken from `rng` as the snippets take them (all of the first
    kind, then all of the second, …) and reordered into the Playground's point-by-point order."""
    block = rng.standard_normal(draws * count) if normal else rng.random(draws * count)
    return list(block.reshape(draws, count).T.ravel())


def d3_linear(domain, range_, clamp=False):
    """d3 v3's d3.scale.linear(): uninterpolateNumber, then interpolateNumber."""
    a, b = domain
    b = (b - a) or 1 / b
    r0, r1 = range_

    def scale(x):
        t = (x - a) / b
        if clamp:
            t = max(0, min(1, t))
        return r0 * (1 - t) + r1 * t

    return scale


def dist(ax, ay, bx, by):
    dx, dy = ax - bx, ay - by
    return math.sqrt(dx * dx + dy * dy)


def reference_xor(rng, samples, noise):
    random = MathRandom(per_point(rng, samples, 4))
    rand_uniform = lambda a, b: random() * (b - a) + a  # noqa: E731
    points = []
    for _ in range(samples):
        x = rand_uniform(-5, 5)
        padding = 0.3
        x += padding if x > 0 else -padding
        y = rand_uniform(-5, 5)
        y += padding if y > 0 else -padding
        noise_x = rand_uniform(-5, 5) * noise
        noise_y = rand_uniform(-5, 5) * noise
        label = 1 if (x + noise_x) * (y + noise_y) >= 0 else -1
        points.append((x, y, label))
    return points


def reference_circle(rng, samples, noise):
    radius = 5
    points = []
    for count, low, high in (((samples + 1) // 2, 0, radius * 0.5), (samples // 2, radius * 0.7, radius)):
        random = MathRandom(per_point(rng, count, 4))
        for _ in range(count):
            r = random() * (high - low) + low
            angle = random() * (2 * math.pi - 0) + 0
            x = r * math.sin(angle)
            y = r * math.cos(angle)
            noise_x = (random() * (2 * radius) - radius) * noise
            noise_y = (random() * (2 * radius) - radius) * noise
            label = 1 if dist(x + noise_x, y + noise_y, 0, 0) < radius * 0.5 else -1
            points.append((x, y, label))
    return points


def reference_gauss(rng, samples, noise):
    variance = d3_linear([0, 0.5], [0.5, 4])(noise)
    points = []
    for count, centre, label in (((samples + 1) // 2, 2, 1), (samples // 2, -2, -1)):
        normal = MathRandom(per_point(rng, count, 2, normal=True))
        for _ in range(count):
            x = centre + math.sqrt(variance) * normal()
            y = centre + math.sqrt(variance) * normal()
            points.append((x, y, label))
    return points


def reference_spiral(rng, samples, noise):
    n = samples / 2
    points = []
    for count, delta_t, label in (((samples + 1) // 2, 0, 1), (samples // 2, math.pi, -1)):
        random = MathRandom(per_point(rng, count, 2))
        for i in range(count):
            r = i / n * 5
            t = 1.75 * i / n * 2 * math.pi + delta_t
            x = r * math.sin(t) + (random() * 2 - 1) * noise
            y = r * math.cos(t) + (random() * 2 - 1) * noise
            points.append((x, y, label))
    return points


def reference_plane(rng, samples, noise):
    random = MathRandom(per_point(rng, samples, 4))
    label_scale = d3_linear([-10, 10], [-1, 1])
    points = []
    for _ in range(samples):
        x, y = random() * 12 - 6, random() * 12 - 6
        noise_x, noise_y = (random() * 12 - 6) * noise, (random() * 12 - 6) * noise
        points.append((x, y, label_scale((x + noise_x) + (y + noise_y))))
    return points


SIX_GAUSSIANS = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]


def six_gaussian_label(x, y):
    label_scale = d3_linear([0, 2], [1, 0], clamp=True)
    label = 0
    for cx, cy, sign in SIX_GAUSSIANS:
        new_label = sign * label_scale(dist(x, y, cx, cy))
        if abs(new_label) > abs(label):
            label = new_label
    return label


def reference_multigauss(rng, samples, noise):
    random = MathRandom(per_point(rng, samples, 4))
    points = []
    for _ in range(samples):
        x, y = random() * 12 - 6, random() * 12 - 6
        noise_x, noise_y = (random() * 12 - 6) * noise, (random() * 12 - 6) * noise
        points.append((x, y, six_gaussian_label(x + noise_x, y + noise_y)))
    return points


REFERENCES = {
    "xor": reference_xor,
    "circle": reference_circle,
    "gauss": reference_gauss,
    "spiral": reference_spiral,
    "plane": reference_plane,
    "multigauss": reference_multigauss,
}


@pytest.mark.parametrize("samples", [1, 50, 51])
@pytest.mark.parametrize("noise", [0.0, 0.1, 0.25, 0.37, 0.5])
@pytest.mark.parametrize("name", GENERATORS)
def test_generator_matches_a_transcription_of_dataset_ts(name, noise, samples):
    points, labels = draw(name, samples, noise, seed=3)
    expected = np.array(REFERENCES[name](np.random.default_rng(3), samples, noise), dtype=np.float64)
    if name in CLASSIFIERS:
        expected[:, 2] = expected[:, 2] > 0  # the Playground's +1 is 1, its -1 is 0
    # sin and cos may round differently in the last bit in NumPy's vectorised loops and in libm.
    if name in ("circle", "spiral"):
        np.testing.assert_allclose(points, expected[:, :2], rtol=0, atol=1e-14)
    else:
        np.testing.assert_array_equal(points, expected[:, :2])
    np.testing.assert_array_equal(labels, expected[:, 2])


# --- shapes, labels, determinism -------------------------------------------------------


@pytest.mark.parametrize("samples", [1, 2, 7, 8, 201])
@pytest.mark.parametrize("name", GENERATORS)
def test_exactly_samples_points_with_the_promised_dtypes(name, samples):
    points, labels = draw(name, samples, 0.1)
    assert points.shape == (samples, 2) and points.dtype == np.float64
    assert labels.shape == (samples,)
    assert labels.dtype == (np.int64 if name in CLASSIFIERS else np.float64)
    assert np.isfinite(points).all() and np.isfinite(labels).all()


@pytest.mark.parametrize("samples", [7, 8])
@pytest.mark.parametrize("name", ["circle", "gauss", "spiral"])
def test_two_classes_split_evenly_first_class_first(name, samples):
    _, labels = draw(name, samples, 0.0)
    first = (samples + 1) // 2
    np.testing.assert_array_equal(labels, [1] * first + [0] * (samples - first))


def test_xor_labels_are_zero_or_one_and_roughly_balanced():
    _, labels = draw("xor", 4000, 0.2)
    assert set(np.unique(labels)) == {0, 1}
    assert 0.45 < labels.mean() < 0.55


@pytest.mark.parametrize("samples, counts", [(9, [3, 3, 3]), (10, [4, 3, 3]), (11, [3, 3, 3, 2])])
def test_spiral_with_k_arms_labels_arm_j_as_j(samples, counts):
    classes = len(counts)
    _, labels = draw("spiral", samples, 0.1, classes=classes)
    np.testing.assert_array_equal(labels, np.repeat(np.arange(classes), counts))


@pytest.mark.parametrize("name", GENERATORS)
def test_same_seed_same_data_other_seed_other_data(name):
    a_points, a_labels = draw(name, 60, 0.2, seed=5)
    b_points, b_labels = draw(name, 60, 0.2, seed=5)
    c_points, _ = draw(name, 60, 0.2, seed=6)
    np.testing.assert_array_equal(a_points, b_points)
    np.testing.assert_array_equal(a_labels, b_labels)
    assert not np.array_equal(a_points, c_points)


# --- Playground geometry -----------------------------------------------------------------


def test_xor_keeps_clear_of_the_axes_and_labels_by_quadrant():
    points, labels = draw("xor", 2000, 0.0)
    x, y = points.T
    assert (np.abs(x) >= 0.3).all() and (np.abs(y) >= 0.3).all()
    assert (np.abs(points) <= 5.3).all()
    np.testing.assert_array_equal(labels, (x * y >= 0).astype(np.int64))


def test_circle_disc_and_ring_without_noise():
    points, labels = draw("circle", 2000, 0.0)
    radius = np.hypot(*points.T)
    disc, ring = radius[:1000], radius[1000:]
    assert disc.max() < 2.5 + 1e-12 and ring.min() >= 3.5 - 1e-12 and ring.max() <= 5 + 1e-12
    assert (labels[:1000] == 1).all() and (labels[1000:] == 0).all()


def test_gauss_centres_and_variance_without_noise():
    points, labels = draw("gauss", 20000, 0.0)
    for label, centre in ((1, 2.0), (0, -2.0)):
        cloud = points[labels == label]
        np.testing.assert_allclose(cloud.mean(axis=0), [centre, centre], atol=0.03)
        np.testing.assert_allclose(cloud.var(axis=0), [0.5, 0.5], rtol=0.05)


def test_gauss_noise_raises_the_variance_to_four():
    points, labels = draw("gauss", 20000, 0.5)
    np.testing.assert_allclose(points[labels == 1].var(axis=0), [4.0, 4.0], rtol=0.05)


@pytest.mark.parametrize("classes", [2, 3, 5])
def test_spiral_radius_grows_and_arms_are_rotated_copies(classes):
    samples = 60 * classes
    points, labels = draw("spiral", samples, 0.0, classes=classes)
    arms = [points[labels == (1 - j if classes == 2 else j)] for j in range(classes)]
    n = samples / classes
    for arm in arms:
        radius = np.hypot(*arm.T)
        np.testing.assert_allclose(radius, np.arange(len(arm)) / n * 5, atol=1e-12)
        assert (np.diff(radius) > 0).all()
        assert radius.max() < 5
    # x = r·sin(t), y = r·cos(t): the angle of a point is atan2(x, y).
    angle = [np.arctan2(arm[1:, 0], arm[1:, 1]) for arm in arms]
    for j in range(1, classes):
        turn = np.mod(angle[j] - angle[0], 2 * np.pi)
        np.testing.assert_allclose(turn, 2 * np.pi * j / classes, atol=1e-9)


def test_spiral_two_arms_start_at_angle_zero_with_label_one():
    points, labels = draw("spiral", 40, 0.0)
    assert labels[0] == 1 and labels[-1] == 0
    # The second point of the first arm: r = 0.25, t = 1.75·2π/20.
    t = 1.75 * 2 * np.pi / 20
    np.testing.assert_allclose(points[1], [0.25 * np.sin(t), 0.25 * np.cos(t)])
    np.testing.assert_allclose(points[21], [-0.25 * np.sin(t), -0.25 * np.cos(t)])


def test_plane_target_is_x_plus_y_over_ten_without_noise():
    points, labels = draw("plane", 2000, 0.0)
    np.testing.assert_allclose(labels, points.sum(axis=1) / 10, rtol=0, atol=1e-12)
    assert (np.abs(points) <= 6).all()
    # The Playground's scale is not clamped: x + y in [-12, 12) gives targets in [-1.2, 1.2).
    assert np.abs(labels).max() <= 1.2 and np.abs(labels).max() > 1.0


def test_multigauss_follows_the_six_gaussian_rule_without_noise():
    points, labels = draw("multigauss", 500, 0.0)
    assert (np.abs(labels) <= 1).all()
    expected = [six_gaussian_label(x, y) for x, y in points]
    np.testing.assert_array_equal(labels, expected)
    # Near each centre the target has that bump's sign.
    for cx, cy, sign in SIX_GAUSSIANS:
        near = np.hypot(points[:, 0] - cx, points[:, 1] - cy) < 1.0
        assert near.any() and (np.sign(labels[near]) == sign).all()


@pytest.mark.parametrize("name", ["xor", "circle", "plane", "multigauss"])
def test_noise_jitters_the_labels_not_the_points(name):
    quiet_points, quiet_labels = draw(name, 3000, 0.0)
    noisy_points, noisy_labels = draw(name, 3000, 0.5)
    np.testing.assert_array_equal(noisy_points, quiet_points)
    changed = np.mean(noisy_labels != quiet_labels)
    assert changed > 0.05
    if name == "plane":
        spread = noisy_labels - quiet_labels  # noise·(u + v) / 10 with u, v uniform in [-6, 6)
        assert 0.35 < np.abs(spread).max() <= 0.6 and np.abs(noisy_labels).max() <= 1.8
    if name == "multigauss":
        assert (np.abs(noisy_labels) <= 1).all()


def test_spiral_noise_moves_points_by_at_most_noise_per_coordinate():
    quiet, _ = draw("spiral", 400, 0.0)
    noisy, _ = draw("spiral", 400, 0.3)
    shift = np.abs(noisy - quiet)
    assert shift.max() <= 0.3 and shift.mean() > 0.1


# --- CSV files ---------------------------------------------------------------------------


def write(tmp_path: Path, content: bytes | str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def test_csv_features_in_the_order_asked_and_the_target_as_float64(tmp_path):
    path = write(tmp_path, "a,b,name,y\n1,2,alice,3\n4,5.5,bob,-6e1\n")
    x, y = CSV.load_csv(path, target="y", features=["b", "a"])
    assert x.dtype == np.float32 and y.dtype == np.float64
    np.testing.assert_array_equal(x, [[2, 1], [5.5, 4]])
    np.testing.assert_array_equal(y, [3, -60])


def test_csv_without_features_takes_every_other_column_in_file_order(tmp_path):
    path = write(tmp_path, "y,b,a\n1,2,3\n4,5,6\n")
    x, y = CSV.load_csv(path, target="y", features=None)
    np.testing.assert_array_equal(x, [[2, 3], [5, 6]])
    np.testing.assert_array_equal(y, [1, 4])


def test_csv_tolerates_bom_crlf_blank_lines_quotes_and_spaces(tmp_path):
    path = write(tmp_path, b'\xef\xbb\xbf a , y\r\n\r\n"1.5", 2 \r\n\r\n3,4\r\n\r\n')
    x, y = CSV.load_csv(path, target="y", features=["a"])
    np.testing.assert_array_equal(x, [[1.5], [3]])
    np.testing.assert_array_equal(y, [2, 4])


CSV_ERRORS = [
    # (content, target, features, expected message after the path)
    ("a,y\n1,\xff\n".encode("latin-1"), "y", None, ":2: not UTF-8 text (byte 0xff)"),
    (b"", "y", None, ": the file is empty"),
    (b"\n\n", "y", None, ": the file is empty"),
    ("a,a,y\n1,2,3\n", "y", None, ":1: the header names column 'a' twice"),
    (
        "grade,age,income\n1,2,3\n",
        "incme",
        None,
        ":1: no target column 'incme' (did you mean 'income'?); the header has 'grade', 'age', 'income'",
    ),
    ("a,b,y\n1,2,3\n", "y", ["a", "c"], ":1: no feature column 'c'; the header has 'a', 'b', 'y'"),
    ("1.0,2.0\n3,4\n", "y", None, "(that row looks like data: the file needs a header row naming the columns)"),
    ("a,y\n1,2\n3\n", "y", None, ":3: the header has 2 columns, but this row has 1"),
    ("a,y\n1,2\n\n3,4,5\n", "y", None, ":4: the header has 2 columns, but this row has 3"),
    ("a,y\n1,2\nabc,3\n", "y", None, ":3: 'abc' in column 'a' is not a number"),
    ("a,y\n1,2\n1_000,3\n", "y", None, ":3: '1_000' in column 'a' is not a number"),
    ("a,y\n1, \n", "y", None, ":2: empty cell in column 'y'"),
    ("a,y\nnan,1\n", "y", None, ":2: 'nan' in column 'a': NaN and infinite values are not allowed"),
    ("a,y\n1,-inf\n", "y", None, ":2: '-inf' in column 'y': NaN and infinite values are not allowed"),
    ("a,y\n1e300,1\n", "y", None, ":2: 1e+300 in column 'a' is too large for float32"),
    ("a,y\n", "y", None, ": no data rows after the header"),
    ("a,y\n1,2\n", "y", ["a", "y"], ": column 'y' is the target, so it cannot also be a feature"),
    (",a,y\n0,1,2\n", "y", None, ":1: column 1 has no name in the header"),
    ("y\n1\n", "y", None, ":1: no feature columns: the only column is the target 'y'"),
    ("a,y\n" + "1" * 200_000 + ",1\n", "y", None, ":2: malformed CSV (field larger than field limit"),
]


@pytest.mark.parametrize("content, target, features, message", CSV_ERRORS)
def test_csv_errors_name_the_file_the_line_and_the_problem(tmp_path, content, target, features, message):
    path = write(tmp_path, content)
    with pytest.raises(DataError) as caught:
        CSV.load_csv(path, target=target, features=features)
    text = str(caught.value)
    if message.startswith(":"):
        assert text.startswith(f"{path}{message}"), text
    else:
        assert text.startswith(f"{path}:") and message in text, text


def test_csv_values_outside_the_chosen_columns_may_be_anything(tmp_path):
    path = write(tmp_path, "a,note,y\n1,,2\n3,n/a,4\n")
    x, _ = CSV.load_csv(path, target="y", features=["a"])
    np.testing.assert_array_equal(x, [[1], [3]])


def test_csv_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match=r"missing\.csv: no such file$"):
        CSV.load_csv(tmp_path / "missing.csv", target="y", features=None)
    with pytest.raises(DataError, match=r": is a directory, not a CSV file$"):
        CSV.load_csv(tmp_path, target="y", features=None)
    with pytest.raises(DataError, match=r"n\.csv: cannot read the file \(File name too long\)$"):
        CSV.load_csv(tmp_path / f"{'n' * 300}.csv", target="y", features=None)


def test_csv_refuses_files_over_the_size_limit(tmp_path, monkeypatch):
    path = write(tmp_path, "a,y\n1,2\n3,4\n")
    monkeypatch.setattr(CSV, "CSV_MAX_BYTES", 8)
    with pytest.raises(DataError, match=r"over the .* GiB limit for CSV files; store large data sets as \.npz"):
        CSV.load_csv(path, target="y", features=None)
    assert CSV.CSV_MAX_BYTES == 8 and 2**30 == load_snippet("csv_file", DataError=DataError, check_data_file=check_data_file).CSV_MAX_BYTES


def test_csv_header_with_many_columns_is_shortened(tmp_path):
    header = ",".join(f"c{i}" for i in range(30)) + ",y\n"
    path = write(tmp_path, header + ",".join("1" * 31) + "\n")
    with pytest.raises(DataError, match=r"'c19', … \(31 in all\)$"):
        CSV.load_csv(path, target="y", features=["zzz"])


# --- npz files ---------------------------------------------------------------------------


def savez(tmp_path: Path, name: str = "data.npz", compressed: bool = False, **arrays) -> Path:
    path = tmp_path / name
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_loads_x_as_float32_and_y_as_float64(tmp_path, compressed):
    path = savez(tmp_path, compressed=compressed, x=np.arange(6).reshape(3, 2), y=np.array([True, False, True]))
    x, y = NPZ.load_npz(path, "x", "y")
    assert x.dtype == np.float32 and x.shape == (3, 2) and y.dtype == np.float64 and y.shape == (3,)
    np.testing.assert_array_equal(y, [1, 0, 1])


def test_npz_other_keys_and_two_dimensional_targets(tmp_path):
    path = savez(tmp_path, inputs=np.ones((4, 3), np.float16), targets=np.zeros((4, 2), np.int8))
    x, y = NPZ.load_npz(path, "inputs", "targets")
    assert x.shape == (4, 3) and y.shape == (4, 2) and y.dtype == np.float64


def good(**changes):
    arrays = {"x": np.ones((5, 2)), "y": np.zeros(5)}
    arrays.update(changes)
    return arrays


NPZ_ERRORS = [
    (good(y=np.array([{}, 1, 2, 3, 4], dtype=object)), ": array 'y' holds Python objects; nndsl never unpickles data"),
    (good(x=np.array([["a", "b"]] * 5)), ": array 'x' has dtype <U1; it must hold numbers"),
    (good(y=np.ones(5, np.complex128)), ": array 'y' has dtype complex128; it must hold numbers"),
    (good(x=np.ones(5)), ": 'x' has shape (5,); it must be 2-D (samples × features)"),
    (good(y=np.ones((5, 1, 1))), ": 'y' has shape (5, 1, 1); it must be 1-D (samples) or 2-D (samples × targets)"),
    (good(y=np.ones(4)), ": 'x' has 5 samples but 'y' has 4"),
    (good(x=np.ones((0, 2)), y=np.ones(0)), ": 'x' and 'y' hold no samples"),
    (good(x=np.ones((5, 0))), ": 'x' has shape (5, 0) and 'y' shape (5,): no columns to use"),
    (good(x=np.array([[1, 2]] * 4 + [[3, np.nan]])), ": 'x'[4, 1] = nan is not a finite number"),
    (good(y=np.array([0, 0, np.inf, 0, 0])), ": 'y'[2] = inf is not a finite number"),
    (good(x=np.full((5, 2), 1e300)), ": 'x'[0, 0] = 1e+300 is too large for float32"),
]


@pytest.mark.parametrize("arrays, message", NPZ_ERRORS)
def test_npz_errors_name_the_file_and_the_problem(tmp_path, arrays, message):
    path = savez(tmp_path, **arrays)
    with pytest.raises(DataError) as caught:
        NPZ.load_npz(path, "x", "y")
    assert str(caught.value) == f"{path}{message}"


def test_npz_missing_key_lists_the_arrays(tmp_path):
    path = savez(tmp_path, x=np.ones((2, 2)), y=np.ones(2))
    with pytest.raises(DataError) as caught:
        NPZ.load_npz(path, "X", "y")
    assert str(caught.value) == f"{path}: no array 'X' (did you mean 'x'?); the file holds 'x', 'y'"


def test_npz_object_array_is_never_unpickled(tmp_path, monkeypatch):
    path = savez(tmp_path, **good(x=np.array([[Path("a"), 1]] * 5, dtype=object)))
    monkeypatch.setattr("pickle.loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr("pickle.load", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(DataError, match="holds Python objects; nndsl never unpickles data"):
        NPZ.load_npz(path, "x", "y")


def test_npz_loader_always_passes_allow_pickle_false():
    tree = ast.parse((DATA / "npz_file.py").read_text(encoding="utf-8"))
    loads = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and ast.unparse(node.func) == "np.load"]
    assert loads
    for call in loads:
        keywords = {k.arg: ast.unparse(k.value) for k in call.keywords}
        assert keywords.get("allow_pickle") == "False"


def test_npy_header_claims_are_bounded_by_the_archive_itself(tmp_path):
    """A zip directory can lie about a member's size as well as the .npy header about its shape:
    what a member holds is bounded by the archive's bytes (1032x them for deflate, its utmost)."""
    path = savez(tmp_path, x=np.ones((1000, 2)), y=np.ones(1000))
    size = path.stat().st_size
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("x.npy")
        check_npy_header(archive, info, size)  # the truth passes
        info.file_size = 2**50  # a lying directory (a zip64 size field can say this)
        check_npy_header(archive, info, size)  # the header's claim, 16,000 bytes, is within the archive
        with pytest.raises(ValueError, match=r"claims shape \(1000, 2\) of float64, 16,000 bytes, but it holds "
                                             rf"{size // 2:,}"):
            check_npy_header(archive, info, size // 2)  # (as if the archive were half as long)
    compressed = savez(tmp_path, "c.npz", compressed=True, x=np.zeros((1000, 2)), y=np.ones(1000))
    with zipfile.ZipFile(compressed) as archive:
        info = archive.getinfo("x.npy")
        info.file_size = 2**50
        check_npy_header(archive, info, 16)  # deflate may expand 16 bytes to 16,512: enough
        with pytest.raises(ValueError, match="but it holds 15,480"):
            check_npy_header(archive, info, 15)


def test_npz_member_cut_inside_its_npy_magic_is_corrupt(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.npy", b"\x93NUMPY")  # the magic string, and no version after it
        archive.writestr("y.npy", b"\x93NUMPY\x01")
    path = write(tmp_path, buffer.getvalue(), "cut.npz")
    with pytest.raises(DataError, match=r"cut\.npz: array 'x' is corrupt \(truncated header\)"):
        NPZ.load_npz(path, "x", "y")


def test_npz_truncated_and_corrupt_archives(tmp_path):
    whole = savez(tmp_path, **good()).read_bytes()
    truncated = write(tmp_path, whole[: len(whole) // 2], "truncated.npz")
    with pytest.raises(DataError, match=r"truncated\.npz: a corrupt or truncated \.npz file"):
        NPZ.load_npz(truncated, "x", "y")
    # A compressed archive whose data bytes are damaged: the central directory still reads.
    compressed = savez(tmp_path, "c.npz", compressed=True, x=np.random.default_rng(0).random((200, 2)), y=np.ones(200))
    data = bytearray(compressed.read_bytes())
    for offset in range(100, 1500, 7):
        data[offset] ^= 0xFF
    damaged = write(tmp_path, bytes(data), "damaged.npz")
    with pytest.raises(DataError, match=r"damaged\.npz: .*corrupt"):
        NPZ.load_npz(damaged, "x", "y")


def test_npz_not_an_archive(tmp_path):
    with pytest.raises(DataError, match=r"text\.npz: not an \.npz file"):
        NPZ.load_npz(write(tmp_path, "x,y\n1,2\n", "text.npz"), "x", "y")
    npy = tmp_path / "array.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(DataError, match=r"array\.npy: a single \.npy array, not an \.npz archive"):
        NPZ.load_npz(npy, "x", "y")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x", "not an array")
    with pytest.raises(DataError, match=r"'x' is not a NumPy array"):
        NPZ.load_npz(write(tmp_path, buffer.getvalue(), "other.zip"), "x", "y")


def test_npz_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match=r"missing\.npz: no such file$"):
        NPZ.load_npz(tmp_path / "missing.npz", "x", "y")
    with pytest.raises(DataError, match=r": is a directory, not an \.npz file$"):
        NPZ.load_npz(tmp_path, "x", "y")
    with pytest.raises(DataError, match=r"n\.npz: cannot read the file \(File name too long\)$"):
        NPZ.load_npz(tmp_path / f"{'n' * 300}.npz", "x", "y")


# --- the snippet convention, lint, and the example data -----------------------------------


SNIPPETS = sorted(DATA.glob("*.py"))


@pytest.mark.parametrize("path", SNIPPETS, ids=[p.name for p in SNIPPETS])
def test_snippet_is_imports_then_definitions(path):
    text = path.read_text(encoding="utf-8")
    body = ast.parse(text).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # a module docstring, which the generator leaves out
    imports = 0
    while imports < len(body) and isinstance(body[imports], (ast.Import, ast.ImportFrom)):
        imports += 1
    for node in body[:imports]:
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
        for module in modules:
            top = module.split(".")[0]
            assert top == "numpy" or top in sys.stdlib_module_names, f"{path.name} imports {module}"
    if imports:
        assert text.split("\n")[body[imports - 1].end_lineno] == "", "a blank line after the imports"
    for node in body[imports:]:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            continue
        assert isinstance(node, (ast.Assign, ast.AnnAssign)), f"{path.name}:{node.lineno}: only defs and constants"
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        assert all(isinstance(t, ast.Name) and t.id.isupper() for t in targets), f"{path.name}:{node.lineno}"


def test_every_generator_has_its_snippet():
    assert {p.stem for p in SNIPPETS} >= {*GENERATORS, "errors", "csv_file", "npz_file"}


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_data_snippets_pass_ruff():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "templates/common/data"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_csv_files_load_and_match_make_data():
    make_data_spec = importlib.util.spec_from_file_location("nndsl_make_data", ROOT / "specs/data/make_data.py")
    make_data = importlib.util.module_from_spec(make_data_spec)
    make_data_spec.loader.exec_module(make_data)

    x, y = CSV.load_csv(ROOT / "specs/data/income.csv", target="income", features=["grade", "age", "participation"])
    assert x.shape == (200, 3) and y.shape == (200,)
    assert (x[:, 0] >= 1).all() and (x[:, 0] <= 4).all() and (y > 0).all()
    rebuilt = np.loadtxt(io.StringIO(make_data.income_table()), delimiter=",", skiprows=1)
    np.testing.assert_allclose(rebuilt, np.column_stack([x, y]), atol=0.051)

    x, y = CSV.load_csv(ROOT / "specs/data/staircase.csv", target="y", features=None)
    assert x.shape == (400, 1) and x.min() >= -3 and x.max() <= 5
    exact_x = np.loadtxt(ROOT / "specs/data/staircase.csv", delimiter=",", skiprows=1)[:, 0]  # x as float64
    residual = y - make_data.staircase(exact_x)  # the measurement noise, σ = 0.05
    assert 0.04 < residual.std() < 0.06 and abs(residual.mean()) < 0.01
    rebuilt = np.loadtxt(io.StringIO(make_data.staircase_table()), delimiter=",", skiprows=1)
    np.testing.assert_allclose(rebuilt, np.column_stack([exact_x, y]), atol=2e-6)
    # The steps: 0.25 on (-2, -1), 0.5 on (-1, 0), …, 1.6 on (3, 4), 0 outside [-2, 4], under the noise.
    for low, height in zip(range(-2, 4), (0.25, 0.5, 1.0, 1.2, 0.8, 1.6), strict=True):
        inside = (x[:, 0] > low + 0.2) & (x[:, 0] < low + 0.8)
        assert abs(y[inside].mean() - height) < 0.03
    outside = (x[:, 0] < -2.2) | (x[:, 0] > 4.2)
    assert abs(y[outside].mean()) < 0.03
