"""Checkpoints: arrays and a JSON header in one .npz, checksummed, written atomically."""

import hashlib
import json
import os
import secrets
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np


class CheckpointError(Exception):
    """A checkpoint is missing, truncated or corrupt."""


def _digest(arrays):
    sha = hashlib.sha256()
    for name in sorted(arrays):
        value = np.ascontiguousarray(arrays[name])
        sha.update(name.encode("utf-8"))
        sha.update(str(value.dtype).encode("ascii"))
        sha.update(repr(value.shape).encode("ascii"))
        sha.update(value.tobytes())
    return sha.hexdigest()


def _temporary(path):
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def write_atomic(path, write):
    """Call write(file) on a temporary file beside `path`, then rename it over `path`."""
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


def _keep_previous(path):
    """Make <name>.prev.npz a copy of the current checkpoint, without ever removing it."""
    previous = path.with_suffix(".prev.npz")
    temp = _temporary(previous)
    try:
        try:
            os.link(path, temp)
        except OSError:
            shutil.copyfile(path, temp)
        os.replace(temp, previous)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def save_checkpoint(path, arrays, header):
    """Write arrays plus a JSON header; the one it replaces stays as <name>.prev.npz.

    At every moment `path` holds either the old checkpoint or the new one.
    """
    path = Path(path)
    header = dict(header, sha256=_digest(arrays))
    payload = dict(arrays, __header__=np.array(json.dumps(header)))
    if path.exists():
        _keep_previous(path)
    write_atomic(path, lambda stream: np.savez(stream, **payload))


def _read_checkpoint(path):
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise CheckpointError(f"{path}: unreadable checkpoint ({error})") from None
    if "__header__" not in arrays:
        raise CheckpointError(f"{path}: not an nndsl checkpoint")
    header = json.loads(str(arrays.pop("__header__")))
    if header.get("sha256") != _digest(arrays):
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
        return _read_checkpoint(previous)
