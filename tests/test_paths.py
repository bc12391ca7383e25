"""Paths: the data files a spec names, and the files and folders nndsl writes.

The policy (SECURITY.md): a data path in a spec is relative to the spec's
folder, written with '/', and stays inside that folder by its letters (no
absolute path, drive, backslash or '..'); symlinks inside the folder are
followed when the generated program opens the file. It reaches generated code
only as a string literal, joined to the folder (also a literal). nndsl never
unpickles: .npz files are opened with allow_pickle=False. Output: `compile -o`
writes a new or regular file in an existing folder, atomically, never the spec
itself; `train --out` is a folder. Every refusal is a message and exit 1, no
traceback.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nndsl
from nndsl.cli import main
from nndsl.codegen import BACKENDS, generate
from tests.conftest import require_backend

ROOT = Path(__file__).resolve().parent.parent
SPEC = """data csv({path}, target=y) {{ features a, b }}
model {{ input 2  dense 1 sigmoid }}
loss binary_crossentropy
train {{ optimizer sgd(lr=0.1)  epochs 1 }}
"""


def spec_with_path(path: str) -> str:
    return SPEC.format(path=path)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ('"/etc/passwd"', "path must be relative to the spec's folder"),
        ('"C:/data.csv"', "path must be relative to the spec's folder"),
        ('"data\\\\x.csv"', "path must be relative to the spec's folder"),
        ('"../x.csv"', "path must stay inside the spec's folder (no '..')"),
        ('"data/../../x.csv"', "path must stay inside the spec's folder (no '..')"),
        ('""', "path is empty"),
        ('"a\\nb.csv"', "path contains the control character U+000A"),
        ('"a\u202eb.csv"', "path contains the invisible format character U+202E (right-to-left override)"),
    ],
)
def test_data_paths_outside_the_folder_are_refused_where_written(path, message):
    with pytest.raises(nndsl.SpecError) as info:
        nndsl.parse(spec_with_path(path))
    assert message in info.value.message
    assert (info.value.line, info.value.column) == (1, 10)


def test_data_path_reaches_code_as_literals_joined_to_the_spec_folder(tmp_path):
    folder = tmp_path / "it's a \"folder\""
    folder.mkdir()
    spec = folder / "x.nn"
    spec.write_text(spec_with_path('"sub/d\'a\\"ta.csv"'), encoding="utf-8")
    program = nndsl.load(spec)
    for backend in BACKENDS:
        tree = ast.parse(generate(program, backend=backend))
        constants = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
        assert "sub/d'a\"ta.csv" in constants
        assert str(folder) in constants  # DATA_DIR: the spec's folder


def test_symlinked_data_folder_is_followed(tmp_path):
    """A data folder that is a symlink to a shared data set is a normal setup."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "d.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)), encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    (project / "data").symlink_to(shared, target_is_directory=True)
    (project / "x.nn").write_text(spec_with_path('"data/d.csv"'), encoding="utf-8")
    trainer = nndsl.build(nndsl.load(project / "x.nn"), backend="numpy")
    history = trainer.fit(epochs=1)
    assert len(history["loss"]) == 1


def test_npz_with_python_objects_is_refused_not_unpickled(tmp_path):
    class Sentinel:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'PWNED'}",))

    np.savez(tmp_path / "evil.npz", x=np.array([Sentinel()] * 4, dtype=object), y=np.zeros(4))
    (tmp_path / "x.nn").write_text(
        'data npz("evil.npz")\nmodel { input 1  dense 1 sigmoid }\nloss binary_crossentropy\n'
        "train { optimizer sgd  epochs 1 }\n", encoding="utf-8")
    program = nndsl.load(tmp_path / "x.nn")
    for backend in ("numpy",):
        with pytest.raises(Exception, match="never unpickles"):
            nndsl.build(program, backend=backend)
    assert not (tmp_path / "PWNED").exists()


# --- output files and folders ------------------------------------------------------------


LONG = "n" * 300  # a file name longer than any file system allows (255 bytes on Linux)


def run(*args: str, cwd: Path) -> tuple[int, str, str]:
    result = subprocess.run([sys.executable, "-m", "nndsl", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=300)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture
def folder(tmp_path):
    shutil.copy(ROOT / "specs" / "checkerboard.nn", tmp_path / "spec.nn")
    return tmp_path


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (".", "output . is a directory"),
        ("spec.nn", "output spec.nn is the spec itself"),
        ("./link.nn", "output ./link.nn is the spec itself"),
        ("/dev/null", "output /dev/null is not a regular file"),
        ("missing/out.py", "cannot write missing/out.py: folder missing does not exist"),
        ("/proc/out.py", "cannot write /proc/out.py"),
        (LONG + ".py", f"cannot write {LONG}.py: File name too long"),
    ],
)
def test_compile_output_refusals(folder, capsys, monkeypatch, output, message):
    (folder / "link.nn").symlink_to(folder / "spec.nn")
    before = (folder / "spec.nn").read_bytes()
    monkeypatch.chdir(folder)
    status = main(["compile", "spec.nn", "-o", output])
    captured = capsys.readouterr()
    assert status == 1
    assert message in captured.err and "Traceback" not in captured.err
    assert (folder / "spec.nn").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["link.nn", "spec.nn"]  # no temporaries left


def test_compile_output_replaces_a_symlink_never_writes_through_it(folder, monkeypatch):
    victim = folder / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    (folder / "out.py").symlink_to(victim)
    monkeypatch.chdir(folder)
    assert main(["compile", "spec.nn", "-o", "out.py"]) == 0
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert not (folder / "out.py").is_symlink()
    ast.parse((folder / "out.py").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("spec.nn", "--out spec.nn exists and is not a folder"),
        ("/proc/nndsl-out", "cannot create /proc/nndsl-out"),
        ("spec.nn/sub", "cannot create spec.nn/sub"),
        ("/proc", "cannot write in /proc"),  # a folder where nobody, root included, can create a file
        (LONG, f"cannot use --out {LONG}: File name too long"),
        (f"{LONG}/sub", f"cannot use --out {LONG}/sub: File name too long"),
        (f"{LONG} --resume", f"cannot use --out {LONG}: File name too long"),
    ],
)
def test_train_out_refusals(folder, out, message):
    out, *resume = out.split(" ")
    status, stdout, stderr = run("train", "spec.nn", "--epochs", "1", "--out", out, "--no-plots", "--quiet", *resume,
                                 cwd=folder)
    assert status == 1
    assert message in stderr and "Traceback" not in stderr
    assert stdout == ""  # refused before training


def test_train_into_a_folder_it_may_not_write_is_refused_before_training(folder, monkeypatch, capsys):
    """A read-only folder, simulated: the tests may run as root, who writes anywhere. Creating a
    file there fails as the operating system would fail it for another user."""
    import tempfile

    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", str(dir))

    (folder / "ro").mkdir()
    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    monkeypatch.chdir(folder)
    assert main(["train", "spec.nn", "--epochs", "1", "--out", "ro", "--no-plots"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "nndsl: error: cannot write in ro: Permission denied\n"
    assert list((folder / "ro").iterdir()) == []


def script(folder: Path, backend: str, *args: str) -> tuple[int, str, str]:
    """The generated program of folder/spec.nn for `backend`, run in `folder` with `args`."""
    path = folder / f"model_{backend}.py"
    if not path.exists():
        path.write_text(generate(nndsl.load(folder / "spec.nn"), backend=backend), encoding="utf-8")
    result = subprocess.run([sys.executable, path.name, *args], cwd=folder, capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "spec.nn"], "--out spec.nn exists and is not a folder"),
        (["--out", "spec.nn/sub"], "cannot create spec.nn/sub: Not a directory"),
        (["--out", "/proc/nndsl-out"], "cannot create /proc/nndsl-out: No such file or directory"),
        (["--out", "/proc"], "cannot write in /proc: "),
        (["--out", "missing/run", "--resume"], "nothing to resume: no folder missing/run"),
        (["--out", LONG], f"cannot use --out {LONG}: File name too long"),
        (["--out", LONG, "--resume"], f"cannot use --out {LONG}: File name too long"),
    ],
)
def test_generated_script_out_refusals(folder, args, message):
    before = sorted(p.name for p in folder.rglob("*"))
    status, stdout, stderr = script(folder, "numpy", "--epochs", "1", *args)
    assert status == 1 and stdout == ""  # refused before training
    assert stderr.startswith(f"error: {message}") and len(stderr.splitlines()) == 1, stderr
    assert sorted(p.name for p in folder.rglob("*")) == sorted([*before, "model_numpy.py"])


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_generated_framework_script_out_refusal(folder, backend):
    require_backend(backend)
    status, stdout, stderr = script(folder, backend, "--epochs", "1", "--out", "spec.nn")
    assert status == 1 and stdout == ""
    assert stderr.splitlines()[-1] == "error: --out spec.nn exists and is not a folder", stderr
    assert "Traceback" not in stderr


def test_data_dir_may_be_a_path_object(tmp_path):
    program = nndsl.parse(spec_with_path('"d.csv"'), filename=str(tmp_path / "x.nn"))
    assert generate(program, data_dir=tmp_path / "it's") == generate(program, data_dir=str(tmp_path / "it's"))
    with pytest.raises(TypeError, match="data_dir must be a str"):
        generate(program, data_dir=b"/tmp")


@pytest.mark.parametrize(("name", "folder"), [("x.nn", "x"), ("...nn", "spec"), ("..nn", "spec")])
def test_default_train_folder_stays_under_runs(name, folder):
    from nndsl.train import default_out_dir

    program = nndsl.parse("model { input 2  dense 1 }", filename=f"some/where/{name}")
    assert default_out_dir(program) == Path("runs") / folder


def test_generated_script_reads_its_data_from_data_dir(tmp_path):
    """A compiled script copied away from the spec's folder is pointed at the data with --data-dir."""
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "d.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)),
                                            encoding="utf-8")
    (project / "x.nn").write_text(spec_with_path('"data/d.csv"'), encoding="utf-8")
    program = nndsl.load(project / "x.nn")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "model.py").write_text(generate(program, backend="numpy"), encoding="utf-8")
    shutil.move(project, tmp_path / "moved")

    def script(*args):
        result = subprocess.run([sys.executable, "model.py", *args], cwd=elsewhere, capture_output=True, text=True)
        return result.returncode, result.stdout, result.stderr

    status, _, stderr = script()  # the spec's folder, baked in, is gone
    assert status == 1 and f"{project / 'data/d.csv'}: no such file" in stderr and "Traceback" not in stderr
    status, stdout, stderr = script("--data-dir", str(tmp_path / "moved"))
    assert status == 0, stderr
    assert "epoch 1/1 - " in stdout and " - loss: " in stdout
    status, _, _ = script("--help")
    assert status == 0


def test_only_file_data_scripts_take_data_dir():
    for name, takes in (("income", True), ("checkerboard", False)):
        for backend in BACKENDS:
            source = (ROOT / "tests" / "golden" / f"{name}.{backend}.py").read_text(encoding="utf-8")
            assert ('"--data-dir"' in source) == takes, (name, backend)
            assert ("[--data-dir DIR]" in source) == takes, (name, backend)
