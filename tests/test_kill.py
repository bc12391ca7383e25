"""Fault tests: SIGKILL `nndsl train`, the generated script and `nndsl compile -o` at random
points and inside their file writes, then resume; corrupt checkpoints; the NaN stop.

Every kill is a real SIGKILL of a real process. Two ways of choosing the moment:

* **by the clock**: wait for a seeded random number of checkpoints, then kill after a seeded
  random delay of up to two epochs (the phase it lands in is read off the disk afterwards);
* **by a hook**: the process runs under `KILLER`, which wraps `os.fsync` or `os.replace` and
  SIGKILLs its own process on the k-th call (k seeded). Every atomic write calls fsync once on
  the temporary (after its data, before the rename) and once on the folder (after the rename),
  and os.replace for the rename itself, so this lands kills exactly inside a write — where a
  clock would hit only by luck.

After each kill: the checkpoint on disk is whole (its checksum holds) and `--resume` ends with
weights bitwise equal to an uninterrupted run's, the same history (no missing or repeated
epochs) and no temporary files. Phases are counted and printed (`pytest -s` shows them).
"""

from __future__ import annotations

import collections
import importlib.util
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import nndsl
from tests.conftest import require_backend

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
EPOCHS = 40
FRAMEWORK_EPOCHS = 8  # torch's per-step overhead makes its epochs 20x slower on this net; TensorFlow's too


def train_flags(epochs: int = EPOCHS) -> list[str]:
    return ["--epochs", str(epochs), "--checkpoint-every", "1", "--quiet"]


TRAIN_FLAGS = train_flags()

# Runs `nndsl ARGS` (after `--`) or a generated script (`--script PATH ARGS`) with os.<kind>
# wrapped so that its n-th call SIGKILLs the process (n = 0: never; the calls are counted on stderr).
KILLER = r"""
import os, runpy, signal, sys
kind, n = sys.argv[1], int(sys.argv[2])
real, calls = getattr(os, kind), 0
def hooked(*args, **kwargs):
    global calls
    calls += 1
    if calls == n:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
setattr(os, kind, hooked)
try:
    if sys.argv[3] == "--script":
        sys.argv = sys.argv[4:]
        runpy.run_path(sys.argv[0], run_name="__main__")
        status = 0
    else:
        from nndsl.cli import main
        status = main(sys.argv[4:])
except SystemExit as exit:
    status = exit.code
print(f"\n{kind} calls: {calls}", file=sys.stderr)
sys.exit(status)
"""


def nndsl_command(*args) -> list[str]:
    return [sys.executable, "-m", "nndsl", *map(str, args)]


def hooked_command(kind: str, n: int, *args) -> list[str]:
    """nndsl ARGS, or with args[0] == "--script" a generated script, killed at the n-th os.<kind>."""
    head = [] if args and args[0] == "--script" else ["--"]
    return [sys.executable, "-c", KILLER, kind, str(n), *head, *map(str, args)]


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300, **kwargs)


def counted_calls(result: subprocess.CompletedProcess, kind: str) -> int:
    return int(re.search(rf"{kind} calls: (\d+)", result.stderr).group(1))


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def read_weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def assert_bitwise_equal(actual: dict, expected: dict) -> None:
    assert sorted(actual) == sorted(expected)
    for name, value in expected.items():
        assert actual[name].dtype == value.dtype and actual[name].shape == value.shape, name
        assert actual[name].tobytes() == value.tobytes(), name


def load_module(path: Path):
    spec = importlib.util.spec_from_file_location(f"generated_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Run:
    """The results of an uninterrupted run: weights, history, and what one needs to judge a kill."""

    def __init__(self, out: Path, module, epochs: int = EPOCHS) -> None:
        self.out = out
        self.epochs = epochs
        self.module = module  # the generated program, for its checkpoint reader
        self.weights = read_weights(out / "weights.npz")
        self.history = json.loads((out / "history.json").read_text())
        assert all(len(values) == epochs for values in self.history.values())
        self.files = sorted(p.name for p in out.iterdir())
        self.training_seconds = 0.0
        self.calls: dict[str, int] = {}

    def check_resumed(self, out: Path) -> None:
        assert_bitwise_equal(read_weights(out / "weights.npz"), self.weights)
        history = json.loads((out / "history.json").read_text())
        assert history == self.history  # every epoch once, in order, with the same losses
        assert temporaries(out) == []
        assert sorted(p.name for p in out.iterdir()) == self.files

    def checkpoint_epoch(self, out: Path) -> int:
        """The epoch of out/checkpoint.npz, which must be whole (never a part of a write)."""
        _, header = self.module._read_checkpoint(out / "checkpoint.npz")
        return header["epoch"]


def phase_of_kill(out: Path, reference: Run) -> str:
    """Where a killed run was, read off its folder; checks that both checkpoints are whole."""
    epoch = reference.checkpoint_epoch(out)
    if (out / "checkpoint.prev.npz").exists():
        _, previous = reference.module._read_checkpoint(out / "checkpoint.prev.npz")
        assert previous["epoch"] in (epoch - 1, epoch)  # equal: killed between keeping .prev and the write
    temps = temporaries(out)
    if temps:
        return "inside the write of " + "+".join(sorted({t[1:].rsplit(".", 3)[0] for t in temps}))
    if (out / "weights.npz").exists() or epoch == reference.epochs:
        return "after the last epoch (final files)"
    return "training, between checkpoints"


# --- nndsl train, NumPy ---------------------------------------------------------------------------


def reference_run(tmp_path_factory, backend: str, epochs: int = EPOCHS, count_renames: bool = False) -> Run:
    """An uninterrupted `nndsl train`, timed (first checkpoint to exit) and with its calls counted."""
    out = tmp_path_factory.mktemp(f"reference_{backend}")
    flags = [*train_flags(epochs), "-b", backend, "--no-plots"]
    process = subprocess.Popen(hooked_command("fsync", 0, "train", SPECS / "checkerboard.nn", "--out", out, *flags),
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not (out / "checkpoint.npz").exists() and process.poll() is None:
        time.sleep(0.002)
    started = time.perf_counter()
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    reference = Run(out, load_module(out / "model.py"), epochs)
    reference.training_seconds = time.perf_counter() - started
    reference.calls["fsync"] = counted_calls(subprocess.CompletedProcess([], 0, stdout, stderr), "fsync")
    if count_renames:
        replaced = run(hooked_command("replace", 0, "train", SPECS / "checkerboard.nn", "--out", out, *flags))
        assert replaced.returncode == 0, replaced.stderr
        reference.calls["replace"] = counted_calls(replaced, "replace")
    return reference


@pytest.fixture(scope="module")
def numpy_run(tmp_path_factory) -> Run:
    return reference_run(tmp_path_factory, "numpy", count_renames=True)


def resume(out: Path, reference: Run, *flags: str) -> None:
    result = run(nndsl_command("train", SPECS / "checkerboard.nn", "--out", out, "--resume",
                               *train_flags(reference.epochs), *flags))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "warning" not in result.stderr, result.stderr
    reference.check_resumed(out)


@pytest.mark.slow
def test_sigkill_train_at_random_moments_then_resume_ends_bitwise(numpy_run, tmp_path):
    """12 SIGKILLs at seeded random moments after a checkpoint; each run resumed to the end."""
    rng = random.Random(6)
    phases = collections.Counter()
    killed = 0
    for trial in range(12):
        out = tmp_path / f"trial{trial}"
        process = subprocess.Popen(
            nndsl_command("train", SPECS / "checkerboard.nn", "--out", out, *TRAIN_FLAGS, "--no-plots"),
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Wait for a random number of checkpoints (counted by inode: each save is a new file),
        # then up to two epochs more: by progress, not by the clock alone, so that a machine
        # busier or idler than during the reference run still gets its kills in.
        wanted, seen, inode = rng.randrange(1, EPOCHS - 4), 0, None
        while seen < wanted:
            assert process.poll() is None, process.stderr.read()
            try:
                current = os.stat(out / "checkpoint.npz").st_ino
            except FileNotFoundError:
                current = inode
            seen, inode = seen + (current != inode), current
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 2 * numpy_run.training_seconds / EPOCHS))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
            assert process.wait() == -signal.SIGKILL
            phases[phase_of_kill(out, numpy_run)] += 1
        else:  # finished before the kill: resuming a finished run must change nothing either
            assert process.wait() == 0
            phases["finished before the kill (not counted)"] += 1
        process.stderr.close()
        resume(out, numpy_run, "--no-plots")
    print(f"\nnndsl train, killed by the clock: {killed} kills; {dict(phases)}")
    assert killed >= 10, phases


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["fsync", "replace"])
def test_sigkill_train_inside_its_writes_then_resume_ends_bitwise(numpy_run, tmp_path, kind):
    """SIGKILL at the k-th fsync / rename of the run: inside checkpoint, weights, history, model.py writes."""
    calls = numpy_run.calls[kind]
    rng = random.Random(f"train-{kind}")
    # From the third call on, so that a checkpoint exists; odd fsyncs are a temporary's (inside a
    # write; even ones sync the folder after a rename). The last two: inside and after model.py's.
    start = 3 if kind == "fsync" else 2
    chosen = sorted(set(rng.sample(range(start, calls - 3, start - 1), 3)) | {calls - 1, calls})
    phases = collections.Counter()
    for n in chosen:
        out = tmp_path / f"{kind}{n}"
        result = run(hooked_command(kind, n, "train", SPECS / "checkerboard.nn", "--out", out, *TRAIN_FLAGS,
                                    "--no-plots"))
        assert result.returncode == -signal.SIGKILL, result.stderr
        phases[phase_of_kill(out, numpy_run)] += 1
        resume(out, numpy_run, "--no-plots")
    print(f"\nnndsl train, killed at os.{kind} call {chosen} of {calls}: {dict(phases)}")
    assert len(chosen) >= 5


@pytest.mark.slow
def test_sigkill_while_plots_are_written_then_resume(numpy_run, tmp_path):
    """The PNGs are written atomically too: a kill while writing one leaves no part of it."""
    out = tmp_path / "plots"
    n = numpy_run.calls["fsync"] + 1  # loss.png's temporary, written and synced, not yet renamed
    result = run(hooked_command("fsync", n, "train", SPECS / "checkerboard.nn", "--out", out, *TRAIN_FLAGS))
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert [name for name in temporaries(out) if name.startswith(".loss.png.")], temporaries(out)
    assert not (out / "loss.png").exists()
    resumed = run(nndsl_command("train", SPECS / "checkerboard.nn", "--out", out, "--resume", *TRAIN_FLAGS))
    assert resumed.returncode == 0, resumed.stderr
    assert_bitwise_equal(read_weights(out / "weights.npz"), numpy_run.weights)
    assert temporaries(out) == []
    assert sorted(p.name for p in out.iterdir()) == sorted([*numpy_run.files, "loss.png", "decision_boundary.png"])
    assert (out / "loss.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


# --- the generated script -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    """checkerboard.nn with `checkpoint every=1`, compiled; and its uninterrupted run."""
    folder = tmp_path_factory.mktemp("script")
    text = (SPECS / "checkerboard.nn").read_text(encoding="utf-8")
    assert "    seed 1\n" in text
    spec = folder / "checkerboard.nn"
    spec.write_text(text.replace("    seed 1\n", "    seed 1\n    checkpoint every=1\n"), encoding="utf-8")
    path = folder / "model.py"
    assert run(nndsl_command("compile", spec, "-o", path)).returncode == 0
    out = folder / "reference"
    result = run(hooked_command("fsync", 0, "--script", path, "--out", out, "--epochs", EPOCHS))
    assert result.returncode == 0, result.stderr
    reference = Run(out, load_module(path))
    reference.calls["fsync"] = counted_calls(result, "fsync")
    return path, reference


def test_sigkill_generated_script_inside_checkpoint_writes_then_resume(script, tmp_path):
    path, reference = script
    calls = reference.calls["fsync"]
    rng = random.Random("script")
    chosen = sorted(set(rng.sample(range(3, calls - 5, 2), 2)) | {calls - 3, calls - 1})  # odd: inside a write
    phases = collections.Counter()
    for n in chosen:
        out = tmp_path / f"fsync{n}"
        result = run(hooked_command("fsync", n, "--script", path, "--out", out, "--epochs", EPOCHS))
        assert result.returncode == -signal.SIGKILL, result.stderr
        phases[phase_of_kill(out, reference)] += 1
        resumed = run([sys.executable, str(path), "--out", str(out), "--epochs", str(EPOCHS), "--resume"])
        assert resumed.returncode == 0 and resumed.stderr == "", resumed.stderr
        reference.check_resumed(out)  # including: the killed run's temporary was removed
    print(f"\ngenerated script, killed at os.fsync call {chosen} of {calls}: {dict(phases)}")


# --- nndsl compile -o -----------------------------------------------------------------------------


OLD_PROGRAM = "# the previous program\n"


@pytest.fixture(scope="module")
def compiled() -> str:
    result = run(nndsl_command("compile", SPECS / "checkerboard.nn"))
    assert result.returncode == 0
    return result.stdout


@pytest.mark.parametrize(("kind", "n", "expected"), [
    ("fsync", 1, OLD_PROGRAM),  # the temporary is written and synced, not yet renamed
    ("replace", 1, OLD_PROGRAM),  # about to rename
    ("fsync", 2, None),  # renamed, the folder not yet synced: the new program
])
def test_sigkill_inside_compile_write_leaves_old_or_new_file(tmp_path, compiled, kind, n, expected):
    target = tmp_path / "model.py"
    target.write_text(OLD_PROGRAM)
    result = run(hooked_command(kind, n, "compile", SPECS / "checkerboard.nn", "-o", target))
    assert result.returncode == -signal.SIGKILL
    assert target.read_text() == (expected or compiled)
    assert len(temporaries(tmp_path)) == (1 if expected else 0)
    # The next compile finishes the job and clears the dead one's temporary.
    assert run(nndsl_command("compile", SPECS / "checkerboard.nn", "-o", target)).returncode == 0
    assert target.read_text() == compiled and temporaries(tmp_path) == []


def test_sigkill_compile_at_random_moments_leaves_old_or_new_file(tmp_path, compiled):
    rng = random.Random("compile")
    outcomes = collections.Counter()
    target = tmp_path / "model.py"
    for _ in range(6):
        target.write_text(OLD_PROGRAM)
        process = subprocess.Popen(nndsl_command("compile", SPECS / "checkerboard.nn", "-o", target), cwd=ROOT,
                                   stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 0.6))
        process.send_signal(signal.SIGKILL)
        status = process.wait()
        text = target.read_text()
        assert text in (OLD_PROGRAM, compiled)
        outcomes[("killed" if status == -signal.SIGKILL else "finished") + (", old" if text == OLD_PROGRAM else ", new")
                 + (", temporary left" if temporaries(tmp_path) else "")] += 1
    assert run(nndsl_command("compile", SPECS / "checkerboard.nn", "-o", target)).returncode == 0
    assert target.read_text() == compiled and temporaries(tmp_path) == []
    print(f"\nnndsl compile -o, killed by the clock: {dict(outcomes)}")


# --- corrupt checkpoints --------------------------------------------------------------------------


def test_every_bit_flip_in_a_checkpoint_is_detected_or_harmless(numpy_run, tmp_path):
    """Flip one bit in every 7th byte of a real checkpoint: reading it raises CheckpointError
    (never another exception) or returns exactly what was saved (the flip hit unused zip fields)."""
    module = numpy_run.module
    good = (numpy_run.out / "checkpoint.npz").read_bytes()
    arrays, header = module._read_checkpoint(numpy_run.out / "checkpoint.npz")
    damaged = tmp_path / "checkpoint.npz"
    outcomes = collections.Counter()
    for position in range(0, len(good), 7):
        data = bytearray(good)
        data[position] ^= 1 << (position % 8)
        damaged.write_bytes(data)
        try:
            got_arrays, got_header = module._read_checkpoint(damaged)
        except module.CheckpointError:
            outcomes["detected"] += 1
            continue
        assert got_header == header, position
        assert_bitwise_equal(got_arrays, arrays)
        outcomes["harmless"] += 1
    assert outcomes["detected"] > 0.9 * sum(outcomes.values()), outcomes


def damaged_copies(good: bytes, rng: random.Random):
    """Every truncation; one random bit flipped in each byte; 1,000 times 1-4 random bytes overwritten;
    1,000 times one member damaged inside an intact zip (its CRC recomputed, so that NumPy's .npy
    header parser and the JSON header, not zipfile's CRC check, meet the damage); and one header
    damaged by hand."""
    yield from (good[:n] for n in range(len(good)))
    for position in range(len(good)):
        data = bytearray(good)
        data[position] ^= 1 << rng.randrange(8)
        yield bytes(data)
    for _ in range(1000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        yield bytes(data)
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    for _ in range(1000):
        victim = rng.randrange(len(members))
        stream = io.BytesIO()
        with zipfile.ZipFile(stream, "w") as archive:
            for index, (name, data) in enumerate(members):
                if index == victim:
                    data = bytearray(data)
                    if rng.random() < 0.3:
                        del data[rng.randrange(len(data)):]
                    else:  # mostly within the .npy header (its first 128 bytes)
                        for _ in range(rng.randint(1, 3)):
                            data[rng.randrange(min(len(data), 128))] = rng.randrange(256)
                archive.writestr(name, bytes(data))
        yield stream.getvalue()
    # Rare in random damage, so made on purpose: an .npy header whose keys NumPy cannot sort (TypeError).
    name, data = members[0]
    size = int.from_bytes(data[8:10], "little")
    header = data[10:10 + size].decode("latin-1").replace("{", "{b'': 0, ", 1).replace(" " * 8 + "\n", "\n")
    assert len(header) == size
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        archive.writestr(name, data[:10] + header.encode("latin-1") + data[10 + size:])
        for other, content in members[1:]:
            archive.writestr(other, content)
    yield stream.getvalue()


def test_no_damage_to_a_checkpoint_escapes_as_another_exception(tmp_path):
    """Seeded fuzzing of a real checkpoint (circle.nn's: Adam's state too): reading each damaged copy
    raises CheckpointError (never another exception) or returns exactly what was saved."""
    trainer = nndsl.build(nndsl.load(SPECS / "circle.nn"))
    trainer.fit(epochs=2, checkpoint=tmp_path / "checkpoint.npz")
    module = trainer.module
    good = (tmp_path / "checkpoint.npz").read_bytes()
    arrays, header = module._read_checkpoint(tmp_path / "checkpoint.npz")
    damaged = tmp_path / "damaged.npz"
    outcomes = collections.Counter()
    for data in damaged_copies(good, random.Random("fuzz")):
        damaged.write_bytes(data)
        try:
            got_arrays, got_header = module._read_checkpoint(damaged)
        except module.CheckpointError as error:
            outcomes[str(error).split(": ", 1)[1].split(" (")[0]] += 1
            continue
        assert got_header == header
        assert_bitwise_equal(got_arrays, arrays)
        outcomes["harmless"] += 1
    print(f"\n{sum(outcomes.values())} damaged checkpoints: {dict(outcomes)}")
    assert outcomes["harmless"] < 0.1 * sum(outcomes.values()), outcomes


def flip(path: Path, position: float = 0.5) -> None:
    """Flip one bit in the middle of the file."""
    data = bytearray(path.read_bytes())
    data[int(len(data) * position)] ^= 0x10
    path.write_bytes(data)


@pytest.fixture
def stopped_train(tmp_path, numpy_run) -> Path:
    """A `nndsl train` folder with checkpoints at epochs 4 and 5 (prev), killed (in effect) after epoch 5."""
    out = tmp_path / "run"
    flags = ["--epochs", "5", "--checkpoint-every", "1", "--quiet", "--no-plots"]
    assert run(nndsl_command("train", SPECS / "checkerboard.nn", "--out", out, *flags)).returncode == 0
    for name in ("weights.npz", "history.json", "model.py"):
        (out / name).unlink()
    return out


def test_train_resume_from_a_bit_flipped_checkpoint_uses_the_previous_one(stopped_train, numpy_run):
    flip(stopped_train / "checkpoint.npz")
    result = run(nndsl_command("train", SPECS / "checkerboard.nn", "--out", stopped_train, "--resume",
                               *TRAIN_FLAGS, "--no-plots"))
    assert result.returncode == 0, result.stderr
    assert re.search(r"warning: \S+checkpoint\.npz: .*; resuming from checkpoint\.prev\.npz instead\n", result.stderr)
    assert "resuming at epoch 4" in result.stderr and "warning" not in result.stdout
    numpy_run.check_resumed(stopped_train)


def test_after_a_fallback_the_next_checkpoint_keeps_a_good_previous_one(stopped_train, numpy_run):
    """The corrupt checkpoint.npz must not become checkpoint.prev.npz at the next save."""
    flip(stopped_train / "checkpoint.npz")
    result = run(nndsl_command("train", SPECS / "checkerboard.nn", "--out", stopped_train, "--resume",
                               *train_flags(5), "--no-plots"))
    assert result.returncode == 0 and "resuming from checkpoint.prev.npz instead" in result.stderr
    assert numpy_run.checkpoint_epoch(stopped_train) == 5
    _, header = numpy_run.module._read_checkpoint(stopped_train / "checkpoint.prev.npz")
    assert header["epoch"] == 4
    assert temporaries(stopped_train) == []


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_train_resume_with_both_checkpoints_bad_is_one_clear_error(stopped_train, damage):
    for name in ("checkpoint.npz", "checkpoint.prev.npz"):
        path = stopped_train / name
        if damage == "flip":
            flip(path)
        else:
            path.write_bytes(path.read_bytes()[:-100])
    result = run(nndsl_command("train", SPECS / "checkerboard.nn", "--out", stopped_train, "--resume", "--quiet"))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    error = result.stderr.splitlines()[-1]
    assert error.startswith("nndsl: error: ") and "checkpoint.npz" in error and "checkpoint.prev.npz" in error


def script_run(path: Path, out: Path, *args) -> subprocess.CompletedProcess:
    return run([sys.executable, str(path), "--out", str(out), *map(str, args)])


def test_generated_script_resume_from_a_bit_flipped_checkpoint_uses_the_previous_one(script, tmp_path):
    path, reference = script
    out = tmp_path / "run"
    assert script_run(path, out, "--epochs", 5).returncode == 0
    flip(out / "checkpoint.npz")
    result = script_run(path, out, "--epochs", EPOCHS, "--resume")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"warning: \S+checkpoint\.npz: .*; resuming from checkpoint\.prev\.npz instead\n",
                        result.stderr)
    reference.check_resumed(out)


def test_generated_script_resume_with_both_checkpoints_bad_is_one_clear_error(script, tmp_path):
    path, _ = script
    out = tmp_path / "run"
    assert script_run(path, out, "--epochs", 3).returncode == 0
    flip(out / "checkpoint.npz")
    (out / "checkpoint.prev.npz").write_bytes(b"")
    result = script_run(path, out, "--epochs", EPOCHS, "--resume")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert re.fullmatch(r"warning: .*\nerror: \S+checkpoint\.npz: .*; and \S+checkpoint\.prev\.npz: .*\n",
                        result.stderr)


# --- the NaN stop ---------------------------------------------------------------------------------


def test_generated_script_stops_on_nan_and_keeps_the_last_good_checkpoint(script, tmp_path):
    path, _ = script
    out = tmp_path / "run"
    assert script_run(path, out, "--epochs", 3).returncode == 0
    kept = {p.name: p.read_bytes() for p in out.iterdir()}
    wild = tmp_path / "wild.py"
    wild.write_text(path.read_text().replace("LR = 0.03", "LR = 1e30"))
    assert wild.read_text() != path.read_text()
    result = script_run(wild, out, "--epochs", 10, "--resume")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert re.fullmatch(r"error: epoch 4: the (validation )?loss became (nan|inf); try a smaller learning rate\n",
                        result.stderr)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == kept  # nothing written, nothing left


# --- torch and TensorFlow (CPU) -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_sigkill_framework_train_then_resume_ends_bitwise(tmp_path_factory, tmp_path, backend):
    require_backend(backend)
    reference = reference_run(tmp_path_factory, backend, FRAMEWORK_EPOCHS)
    calls = reference.calls["fsync"]
    rng = random.Random(backend)
    # Odd calls sync a temporary (even ones its folder, after the rename): inside a checkpoint's
    # write, and inside the write of model.py, the last file.
    chosen = [2 * rng.randrange(1, (calls - 6) // 2) + 1, calls - 1]
    phases = collections.Counter()
    for n in chosen:
        out = tmp_path / f"fsync{n}"
        result = run(hooked_command("fsync", n, "train", SPECS / "checkerboard.nn", "--out", out,
                                    *train_flags(FRAMEWORK_EPOCHS), "-b", backend, "--no-plots"))
        assert result.returncode == -signal.SIGKILL, result.stderr
        phases[phase_of_kill(out, reference)] += 1
        resume(out, reference, "-b", backend, "--no-plots")
    print(f"\nnndsl train -b {backend}, killed at os.fsync call {chosen} of {calls}: {dict(phases)}")
    assert all(phase.startswith("inside the write") for phase in phases), phases


@pytest.fixture(scope="module")
def remove_stale_temps_both():
    """Both copies: the compiler's (one name) and the generated program's (several names)."""
    import nndsl.files

    module = nndsl.build(nndsl.load(SPECS / "checkerboard.nn")).module
    return {"nndsl.files": nndsl.files.remove_stale_temps,
            "generated": lambda folder, name: module.remove_stale_temps(folder, [name])}


@pytest.mark.parametrize("which", ["nndsl.files", "generated"])
def test_stale_temporaries_go_and_a_live_writers_stays_unless_it_is_an_hour_old(tmp_path, remove_stale_temps_both,
                                                                                which):
    """A temporary is kept while the process its name gives runs and writes to it; a dead process's
    goes; and so does one untouched for an hour, whose id a new process has reused."""
    remove = remove_stale_temps_both[which]
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        try:
            dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                                  text=True, check=True).stdout.strip()
            writing = tmp_path / f".weights.npz.{live.pid}.0a1b2c3d.tmp"
            reused = tmp_path / f".weights.npz.{live.pid}.4e5f6a7b.tmp"
            killed = tmp_path / f".weights.npz.{dead}.8c9d0e1f.tmp"
            other = tmp_path / f".history.json.{dead}.8c9d0e1f.tmp"
            for path in (writing, reused, killed, other):
                path.write_bytes(b"part")
            hour_ago = time.time() - 3601
            os.utime(reused, (hour_ago, hour_ago))
            remove(tmp_path, "weights.npz")
            assert sorted(p.name for p in tmp_path.iterdir()) == sorted([writing.name, other.name])
        finally:
            live.kill()
