"""Checkpoints: arrays and a JSON header in one .npz, checksummed, written atomically."""

import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

#: 2: the history records each epoch's lr, and the header the early-stopping and plateau state
#: ("controls"). A checkpoint of format 1 (no "format" in its header) is refused by name.
CHECKPOINT_FORMAT = 2


class CheckpointError(Exception):
    """A checkpoint is missing, truncated or corrupt, cannot be written, or belongs to another model."""


def _digest(arrays, header):
    """SHA-256 of every array (name, dtype, shape, bytes) and of the header, in a fixed order."""
    sha = hashlib.sha256()
    for name in sorted(arrays):
        value = np.ascontiguousarray(arrays[name])
        sha.update(name.encode("utf-8"))
        sha.update(str(value.dtype).encode("utf-8"))
        sha.update(repr(value.shape).encode("utf-8"))
        sha.update(value.tobytes())
    sha.update(json.dumps(header, sort_keys=True).encode("utf-8"))
    return sha.hexdigest()


def _temporary(path):
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def write_atomic(path, write):
    """Call write(file) on a temporary file beside `path`, then rename it over `path`.

    A reader sees the old file or the new one, never a part of it. A killed process can
    leave its temporary behind: remove_stale_temps() clears those.
    """
    path = Path(path)
    temp = _temporary(path)
    try:
        with open(temp, "xb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def check_writable(folder):
    """Raise OSError unless a file can be created in `folder` (tried, not guessed from permissions)."""
    with tempfile.TemporaryFile(dir=folder):
        pass


def _sync_folder(folder):
    """Make a rename in `folder` durable (a power cut after it keeps the new name)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


STALE_AFTER = 3600  # seconds: a temporary nobody has written to for an hour has no writer


def remove_stale_temps(folder, names):
    """Remove the temporaries that killed writers of folder/<name> left, for each name.

    A temporary whose writer (the process id in its name) still runs is kept, unless nothing
    has written to it for STALE_AFTER seconds: then the process with that id is another one
    (process ids are reused, after a reboot soonest).
    """
    for name in names:
        for stale in Path(folder).glob(f".{name}.*.tmp"):
            pid = stale.name[len(name) + 2:].split(".")[0]
            try:
                recent = time.time() - stale.stat().st_mtime < STALE_AFTER
            except OSError:  # already gone
                continue
            if recent and pid.isdigit() and int(pid) != os.getpid() and _running(int(pid)):
                continue
            stale.unlink(missing_ok=True)


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: it exists
        return True
    return True


def _copy_atomic(source, target):
    """Make `target` a copy of `source` (a hard link where possible), never removing it."""
    temp = _temporary(target)
    try:
        try:
            os.link(source, temp)
        except OSError:
            shutil.copyfile(source, temp)
        os.replace(temp, target)
    finally:
        # Also when the rename succeeded: if `target` already was a link to `source` (a run
        # killed between keeping .prev and writing the new checkpoint leaves them so), rename()
        # does nothing.
        Path(temp).unlink(missing_ok=True)


def save_checkpoint(path, arrays, header):
    """Write arrays plus a JSON header; the one it replaces stays as <name>.prev.npz.

    At every moment `path` holds either the old checkpoint or the new one.
    """
    path = Path(path)
    header = dict(header, sha256=_digest(arrays, header))
    payload = dict(arrays, __header__=np.array(json.dumps(header)))
    try:
        if path.exists():
            _copy_atomic(path, path.with_suffix(".prev.npz"))
        write_atomic(path, lambda stream: np.savez(stream, **payload))
    except OSError as error:  # a full disk, a folder made read-only while training
        raise CheckpointError(f"cannot write {path}: {error.strerror or error}") from None


ZIP_MAGIC = b"PK\x03\x04"  # how a zip archive, as np.savez writes it, starts

# What reading a damaged archive raises (each seen in damaged files): zipfile's
# BadZipFile (a bad CRC, a mangled directory) and NotImplementedError (an unknown zip version or
# feature: a RuntimeError); OSError and EOFError (a seek or read beyond an end); and from NumPy's
# .npy header parser ValueError, TypeError, SyntaxError and tokenize.TokenError. A bad JSON header
# is a ValueError too; damaged compressed data (weights files may be compressed) a zlib.error.
DAMAGED = (zipfile.BadZipFile, RuntimeError, OSError, EOFError, ValueError, TypeError, SyntaxError,
           tokenize.TokenError, zlib.error)


def _read_arrays(path, compressed=False):
    """The arrays of an .npz archive as np.savez writes it (or np.savez_compressed, if `compressed`):
    .npy files, never unpickled, each header checked (check_npy_header) before NumPy allocates what
    it claims. Anything else raises ValueError."""
    arrays = {}
    size = os.path.getsize(path)
    methods = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) if compressed else (zipfile.ZIP_STORED,)
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            plain = info.compress_type in methods and not info.flag_bits & 0x1  # 0x1: encrypted
            if not (plain and info.filename.endswith(".npy")):
                raise ValueError(f"it holds {info.filename!r}, which np.savez does not write")
            try:
                check_npy_header(archive, info, size)
            except ValueError as error:
                raise ValueError(f"array {name!r}: {error}") from None
            with archive.open(info) as member:
                arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
    return arrays


def read_weights(path):
    """The arrays of a weights file as save() writes it (an .npz archive, by parameter name; np.savez_compressed's
    too), read as checkpoints are. A file that is not one, or is damaged, raises ValueError naming it."""
    with open(path, "rb") as stream:
        magic = stream.read(len(ZIP_MAGIC))
    if magic != ZIP_MAGIC:
        raise ValueError(f"{path}: not a weights file (save() writes an .npz archive)")
    try:
        return _read_arrays(path, compressed=True)
    except DAMAGED as error:
        raise ValueError(f"{path}: unreadable weights file ({error})") from None


def _read_checkpoint(path):
    try:
        with open(path, "rb") as stream:
            magic = stream.read(len(ZIP_MAGIC))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read it ({error.strerror or error})") from None
    if magic != ZIP_MAGIC:
        what = "not an .npz archive" if magic else "an empty file"
        raise CheckpointError(f"{path}: not an nndsl checkpoint ({what})")
    try:
        arrays = _read_arrays(path)
        header = json.loads(str(arrays.pop("__header__"))) if "__header__" in arrays else None
    except DAMAGED as error:
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(header, dict) or "sha256" not in header:
        raise CheckpointError(f"{path}: not an nndsl checkpoint")
    stored_digest = header.pop("sha256")
    if stored_digest != _digest(arrays, header):
        raise CheckpointError(f"{path}: checksum mismatch (the file is corrupt)")
    return arrays, header


def load_checkpoint(path):
    """Read a checkpoint; if it is corrupt, fall back to the previous one, with a warning."""
    path = Path(path)
    try:
        return _read_checkpoint(path)
    except CheckpointError as error:
        previous = path.with_suffix(".prev.npz")
        if not previous.exists():
            raise
        print(f"warning: {error}; resuming from {previous.name} instead", file=sys.stderr)
        try:
            arrays, header = _read_checkpoint(previous)
        except CheckpointError as second:
            raise CheckpointError(f"{error}; and {second}") from None
        try:  # the good one replaces the corrupt one, so that the next save keeps a good .prev
            _copy_atomic(previous, path)
        except OSError:
            pass
        return arrays, header


def named(arrays, prefix):
    """A checkpoint's arrays whose keys start with `prefix` ("param.", "optimizer."), by the rest of the key."""
    return {key.removeprefix(prefix): value for key, value in arrays.items() if key.startswith(prefix)}


def check_weight_names(weights, names):
    """KeyError unless `weights` has exactly the parameter `names`: a name the model does not have
    (a bigger model's weights, a misspelling) first, then one it lacks."""
    unknown = [name for name in weights if name not in names]
    if unknown:
        names = list(names)
        listed = ", ".join(names[:6]) + (", …" if len(names) > 6 else "")
        statistics = " (input statistics: the weights are of a spec whose data block says normalize)"
        raise KeyError(f"no parameter {unknown[0]} in this model (its parameters: {listed})"
                       + (statistics if unknown[0].startswith("normalize.") else ""))
    missing = [name for name in names if name not in weights]
    if missing and missing[0].startswith("normalize."):
        raise KeyError(f"no input statistics ({missing[0]}) in these weights: this spec's data block says normalize, "
                       "and the weights were saved without it; retrain, or save them from a program with normalize")
    if missing:
        raise KeyError(f"no weights for {missing[0]}")


def check_fits(path, arrays, header, own_header, shapes):
    """Refuse a checkpoint that this program cannot continue, naming the first difference from
    what it writes itself (`own_header`, and `shapes`: each array's, by name): another backend,
    another model (its parameters' names or shapes), another optimizer or optimizer state, or
    other metrics.

    Hyper-parameters are not compared: resuming with another learning rate fine-tunes. A header
    that names no backend and optimizer (an earlier nndsl's) is compared by its arrays alone.
    """
    missing = [key for key in ("epoch", "history", "shuffle_rng", "dropout_rng") if key not in header]
    if missing:
        raise CheckpointError(f"{path}: not an nndsl checkpoint (its header has no {missing[0]!r})")
    written = header.get("format", 1)
    if written != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is an nndsl checkpoint of format {written}, which this program "
                              f"(format {CHECKPOINT_FORMAT}: each epoch's lr, early-stopping and plateau state) "
                              "cannot continue; start a fresh run")
    backend = header.get("backend", own_header["backend"])
    if backend != own_header["backend"]:
        raise CheckpointError(f"{path} was written by a {backend} program; this one runs "
                              f"{own_header['backend']}, which keeps the optimizer state in another layout")
    _compare_arrays(path, arrays, shapes, "param.", "for a different model")
    optimizer = header.get("optimizer", own_header["optimizer"])
    if optimizer != own_header["optimizer"]:
        raise CheckpointError(f"{path} was written with optimizer {optimizer}; "
                              f"this spec trains with {own_header['optimizer']}")
    _compare_arrays(path, arrays, shapes, "optimizer.", "with a different optimizer state")
    controls, own_controls = sorted(header.get("controls", {})), sorted(own_header["controls"])
    if controls != own_controls:
        raise CheckpointError(f"{path} was written with {', '.join(controls) or 'no early stopping or plateau'}; "
                              f"this spec trains with {', '.join(own_controls) or 'neither'}")
    if list(header["history"]) != list(own_header["history"]):
        raise CheckpointError(f"{path} was written for other metrics: its history has "
                              f"{', '.join(header['history'])}; this spec records {', '.join(own_header['history'])}")


def _compare_arrays(path, arrays, expected, prefix, written):
    """Raise CheckpointError at the first array named prefix… whose name or shape is not as `expected`."""
    found = {name.removeprefix(prefix): value.shape for name, value in arrays.items() if name.startswith(prefix)}
    wanted = {name.removeprefix(prefix): tuple(shape) for name, shape in expected.items() if name.startswith(prefix)}
    for name, shape in wanted.items():
        if name not in found:
            raise CheckpointError(f"{path} was written {written}: it has no {name}")
        if found[name] != shape:
            raise CheckpointError(f"{path} was written {written}: {name} is {found[name]} there and {shape} here")
    for name in found:
        if name not in wanted:
            raise CheckpointError(f"{path} was written {written}: it has {name}, which this one has not")
