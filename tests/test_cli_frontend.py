"""The command line's front end: `nndsl check`, `summary`, `compile --emit ir`, and
every way a user can get it wrong. A mistake prints a compiler-style message on
stderr and exits 1; a traceback would be a bug in nndsl."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKERBOARD = ROOT / "specs" / "checkerboard.nn"
BAD = "model {\n    input 2\n    dense 8 rleu\n    dense 1\n}\n"


def nndsl(*args, cwd=None):
    result = subprocess.run([sys.executable, "-m", "nndsl", *map(str, args)], capture_output=True, text=True, cwd=cwd)
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture
def bad_spec(tmp_path):
    path = tmp_path / "bad.nn"
    path.write_text(BAD, encoding="utf-8")
    return path


def test_check_ok():
    result = nndsl("check", CHECKERBOARD)
    assert result.returncode == 0
    assert result.stdout == f"{CHECKERBOARD}: ok (2 layers, 33 parameters)\n"
    assert result.stderr == ""


def test_check_bad_spec_prints_diagnostics_with_caret(bad_spec):
    result = nndsl("check", bad_spec)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"{bad_spec}:3:13: error: unknown activation 'rleu' (did you mean 'relu'?)\n"
        "        dense 8 rleu\n"
        "                ^~~~\n"
    )


def test_check_relative_path_from_another_folder(bad_spec):
    result = nndsl("check", "bad.nn", cwd=bad_spec.parent)
    assert result.returncode == 1
    assert result.stderr.startswith("bad.nn:3:13: error: unknown activation 'rleu'")


def test_check_several_specs_reports_each_and_fails_if_one_fails(bad_spec):
    result = nndsl("check", CHECKERBOARD, bad_spec, ROOT / "specs" / "perceptron.nn")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{CHECKERBOARD}: ok (2 layers, 33 parameters)",
        f"{ROOT / 'specs' / 'perceptron.nn'}: ok (1 layer, 3 parameters)",
    ]
    assert f"{bad_spec}:3:13: error:" in result.stderr


def test_check_every_example_spec():
    specs = sorted((ROOT / "specs").glob("*.nn"))
    result = nndsl("check", *specs)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(specs)


def test_warnings_go_to_stderr_and_do_not_fail(tmp_path):
    path = tmp_path / "warn.nn"
    path.write_text("model {\n    input 2\n    dense 3 softmax\n}\nloss mse\n", encoding="utf-8")
    result = nndsl("check", path)
    assert result.returncode == 0
    assert result.stdout == f"{path}: ok (1 layer, 9 parameters)\n"
    assert result.stderr.startswith(f"{path}:3:5: warning: mse on a softmax output")
    assert "        dense 3 softmax\n        ^~~~~~~~~~~~~~~" in result.stderr


def test_several_errors_in_one_run(tmp_path):
    path = tmp_path / "three.nn"
    path.write_text(
        "data xor\nmodel {\n    input 2\n    dense 8 rleu\n    dense 1 sigmoid init=glorot\n}\n"
        "loss binary_crossentropy\ntrain {\n    optimizer sgd(lr=-1)\n    epochs 3\n}\n",
        encoding="utf-8",
    )
    result = nndsl("check", path)
    assert result.returncode == 1
    headers = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert [h.split(": error: ")[0] for h in headers] == [f"{path}:4:13", f"{path}:5:26", f"{path}:9:22"]


@pytest.mark.parametrize("command", ["check", "summary", "fmt", "compile", "train"])
def test_missing_file(tmp_path, command):
    missing = tmp_path / "missing.nn"
    result = nndsl(command, missing)
    assert result.returncode == 1
    assert result.stderr.strip() == f"{missing}: error: no such file"


@pytest.mark.parametrize("command", ["check", "summary"])
def test_directory(tmp_path, command):
    result = nndsl(command, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"{tmp_path}: error: is a directory, not a spec file"


def test_binary_file(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00\xff\xfe")
    result = nndsl("check", path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"{path}:1:6: error: spec contains a NUL byte; is this a binary file?"
    path.write_bytes(b"model \xff\xfe")
    result = nndsl("check", path)
    assert result.returncode == 1
    assert "spec is not valid UTF-8 text (byte 0xff at offset 6)" in result.stderr


def test_spec_errors_stop_every_command(bad_spec, tmp_path):
    for args in (["summary", bad_spec], ["summary", bad_spec, "--json"], ["compile", bad_spec],
                 ["compile", bad_spec, "--emit", "ir"], ["train", bad_spec, "--out", tmp_path / "run"]):
        result = nndsl(*args)
        assert result.returncode == 1, args
        assert result.stdout == "", args
        assert f"{bad_spec}:3:13: error: unknown activation 'rleu'" in result.stderr, args
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (["compile", "x.nn", "-b", "nonsense"], "argument -b/--backend: invalid choice: 'nonsense'"),
        (["compile", "x.nn", "-t", "quantum"], "argument -t/--target: invalid choice: 'quantum'"),
        (["compile", "x.nn", "--emit", "asm"], "argument --emit: invalid choice: 'asm'"),
        (["train", "x.nn", "--epochs", "0"], "argument --epochs: must be a positive integer, not '0'"),
        (["train", "x.nn", "--epochs", "ten"], "argument --epochs: must be a positive integer, not 'ten'"),
        (["train", "x.nn", "--seed", "-1"], "argument --seed: must be an integer in [0, 2**32), not '-1'"),
        (["train", "x.nn", "--checkpoint-every", "0"], "argument --checkpoint-every: must be a positive integer"),
        (["check"], "the following arguments are required: SPEC"),
        (["summary"], "the following arguments are required: SPEC"),
        (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
        (["check", "--no-such-option", "x.nn"], "unrecognized arguments: --no-such-option"),
    ],
)
def test_bad_command_lines_exit_1_with_a_message(args, message):
    result = nndsl(*args)
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stdout == ""


def test_no_command_prints_help_and_exits_1():
    result = nndsl()
    assert result.returncode == 1
    assert "usage: nndsl" in result.stderr
    for command in ("check", "summary", "compile", "train", "fmt"):
        assert command in result.stderr


def test_help_and_version_exit_0():
    result = nndsl("--help")
    assert result.returncode == 0 and "usage: nndsl" in result.stdout
    result = nndsl("--version")
    assert result.returncode == 0
    import nndsl as package

    assert result.stdout == f"nndsl {package.__version__}\n"


def test_compile_emit_ir_prints_the_checked_ir():
    result = nndsl("compile", CHECKERBOARD, "--emit", "ir")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["node"] == "Program"
    assert [layer["units"] for layer in data["model"]["layers"]] == [8, 1]
    assert data["model"]["layers"][0]["kernel_init"]["kind"] == "he_normal"
    assert data["loss"]["name"] == "binary_crossentropy"


def test_compile_output_to_a_missing_folder_is_a_usage_error(tmp_path):
    target = tmp_path / "no" / "such" / "out.json"
    result = nndsl("compile", CHECKERBOARD, "--emit", "ir", "-o", target)
    assert result.returncode == 1
    assert "does not exist" in result.stderr
    result = nndsl("compile", CHECKERBOARD, "--emit", "ir", "-o", tmp_path)
    assert result.returncode == 1
    assert "is a directory" in result.stderr


def test_compile_output_naming_a_missing_folder_writes_nothing(tmp_path):
    """`-o newdir/` (a trailing slash: the user meant a folder) must not create a file named newdir."""
    result = nndsl("compile", CHECKERBOARD, "-o", f"{tmp_path / 'newdir'}/")
    assert result.returncode == 1
    assert "names a folder, which does not exist" in result.stderr
    assert list(tmp_path.iterdir()) == []
    result = nndsl("compile", CHECKERBOARD, "-o", "")
    assert result.returncode == 1
    assert result.stderr == "nndsl: error: -o needs a file name\n"


def test_check_counts_in_the_singular_for_one(tmp_path):
    path = tmp_path / "one.nn"
    path.write_text("model m {\n    input 1\n    dense 1\n}\n", encoding="utf-8")
    result = nndsl("check", path)
    assert result.stdout == f"{path}: ok (1 layer, 2 parameters)\n"


def test_fmt_write_that_fails_is_an_error_not_a_traceback(tmp_path, monkeypatch, capsys):
    """A spec in a folder the user may not write to (simulated: the tests may run as root)."""
    import nndsl.files
    from nndsl.cli import main

    def refuse(path, text):
        raise PermissionError(13, "Permission denied", str(path))

    spec = tmp_path / "x.nn"
    original = "model m {\n  input 1\n    dense 1\n}\n"
    spec.write_text(original, encoding="utf-8")
    monkeypatch.setattr(nndsl.files, "write_atomic", refuse)
    assert main(["fmt", "--write", str(spec)]) == 1
    assert capsys.readouterr().err == f"nndsl: error: cannot write {spec}: Permission denied\n"
    assert spec.read_text(encoding="utf-8") == original


def test_compile_emit_ir_to_a_file(tmp_path):
    target = tmp_path / "ir.json"
    result = nndsl("compile", CHECKERBOARD, "--emit", "ir", "-o", target)
    assert result.returncode == 0, result.stderr
    assert json.loads(target.read_text(encoding="utf-8"))["model"]["name"] == "checkerboard"
    assert result.stdout == ""
    assert f"wrote {target}" in result.stderr


def test_non_ascii_paths_and_messages(tmp_path):
    path = tmp_path / "größe.nn"
    path.write_text("model {\n    input 2\n    dense 1 sigmöid\n}\n", encoding="utf-8")
    result = nndsl("check", path)
    assert result.returncode == 1
    assert f"{path}:3:17: error: unexpected character U+00F6 (LATIN SMALL LETTER O WITH DIAERESIS)" in result.stderr


def test_main_returns_exit_codes_in_process(bad_spec, capsys):
    from nndsl.cli import main

    assert main(["check", str(CHECKERBOARD)]) == 0
    assert main(["check", str(bad_spec)]) == 1
    assert main(["compile", "x.nn", "-b", "nonsense"]) == 1
    captured = capsys.readouterr()
    assert "ok (2 layers" in captured.out
    assert "unknown activation 'rleu'" in captured.err
    assert "invalid choice: 'nonsense'" in captured.err
