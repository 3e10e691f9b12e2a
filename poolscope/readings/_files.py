"""Reading a file a user names (a run file, a sweep file, a locustfile): a regular file
only, up to a size, so that a FIFO cannot hang a command and a device or a huge file
cannot fill its memory; every refusal is one line."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from poolscope._errors import PoolscopeError

__all__ = ["read_regular_file"]


def read_regular_file(path: Path, *, kind: str, limit: int, error: type[PoolscopeError]) -> bytes:
    """The bytes of ``path`` (a symbolic link followed) when it is a regular file of at
    most ``limit`` bytes; else an ``error`` naming ``path`` and, in its wording, ``kind``
    (``"run file"``). A FIFO, a device or a socket is refused unread."""
    try:
        return _read(path, kind=kind, limit=limit, error=error)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory") from None
    except OSError as problem:
        raise error(f"{path}: cannot be read ({problem})") from None


def _read(path: Path, *, kind: str, limit: int, error: type[PoolscopeError]) -> bytes:
    # Non-blocking: a FIFO opens without waiting for a writer, and is refused below.
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(descriptor)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(info.st_mode):
            raise error(
                f"{path}: not a regular file (a FIFO, device or socket); {kind}s are "
                "read from regular files only"
            )
        # From its size first, unread; then as read, should it grow meanwhile.
        if info.st_size <= limit:
            data = file.read(limit + 1)
            if len(data) <= limit:
                return data
    raise error(
        f"{path}: larger than {limit // (1024 * 1024)} MiB, the most a {kind} is read to "
        "(docs/limits.md)"
    )
