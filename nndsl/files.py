"""Writing files so that a reader sees the old version or the new one, never a part."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename.

    An interrupted write leaves `path` as it was (and, if the process was
    killed, a stray `.<name>.*.tmp` beside it: see `remove_stale_temps`).
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    temp = folder / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        with open(temp, "xb") as stream:  # created with the usual permissions (umask)
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        if target.exists():
            os.chmod(temp, target.stat().st_mode & 0o777)
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    _sync_folder(folder)


#: Seconds: a temporary nobody has written to for an hour has no writer, whatever its name says.
STALE_AFTER = 3600


def remove_stale_temps(folder: str | os.PathLike, name: str) -> None:
    """Remove the temporaries that killed `write_atomic(folder/name)` calls left behind.

    A temporary whose writer (the process id in its name) still runs is kept, so this is
    safe to call while another process writes the same file; unless nothing has written to
    it for STALE_AFTER seconds: then the process with that id is another one (ids are reused).
    """
    for stale in Path(folder).glob(f".{name}.*.tmp"):
        pid = stale.name[len(name) + 2:].split(".")[0]
        try:
            recent = time.time() - stale.stat().st_mtime < STALE_AFTER
        except OSError:  # already gone
            continue
        if recent and pid.isdigit() and int(pid) != os.getpid() and _running(int(pid)):
            continue
        try:
            stale.unlink()
        except OSError:
            pass


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: it exists
        return True
    return True


def _sync_folder(folder: Path) -> None:
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
