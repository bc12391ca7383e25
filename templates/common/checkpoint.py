"""Checkpoints: arrays and a JSON header in one .npz, checksummed, written atomically."""

import hashlib
import json
import os
import secrets
import shutil
import sys
from pathlib import Path

import numpy as np


class CheckpointError(Exception):
    """A checkpoint is missing, truncated or corrupt."""


def _digest(arrays, header):
    """SHA-256 of every array (name, dtype, shape, bytes) and of the header, in a fixed order."""
    sha = hashlib.sha256()
    for name in sorted(arrays):
        value = np.ascontiguousarray(arrays[name])
        sha.update(name.encode("utf-8"))
        sha.update(str(value.dtype).encode("ascii"))
        sha.update(repr(value.shape).encode("ascii"))
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


def remove_stale_temps(folder, names):
    """Remove the temporaries that killed writers of folder/<name> left, for each name.

    A temporary whose writer (the process id in its name) still runs is kept.
    """
    for name in names:
        for stale in Path(folder).glob(f".{name}.*.tmp"):
            pid = stale.name[len(name) + 2:].split(".")[0]
            if pid.isdigit() and int(pid) != os.getpid() and _running(int(pid)):
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
    if path.exists():
        _copy_atomic(path, path.with_suffix(".prev.npz"))
    write_atomic(path, lambda stream: np.savez(stream, **payload))


def _read_checkpoint(path):
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        header = json.loads(str(arrays.pop("__header__"))) if "__header__" in arrays else None
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as error:  # a damaged zip or .npy header fails in many ways: zipfile, tokenize, json, ...
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
