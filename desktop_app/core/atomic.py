"""The one way this project writes a file: completely, or not at all.

Data goes to a temporary file in the target's folder (``.<name>.<random>.part``), is flushed
to disk, and is renamed over the target. The rename is atomic on one file system, so a
reader, a crash or a full disk leaves either the old file or the new one, never half of
one; the temporary file is removed whatever goes wrong. It is created with mode 0o666, so
the user's umask applies as for any new file (``tempfile.mkstemp`` would force 0o600, and
exported results would come out unreadable to everyone else).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

PART_SUFFIX = ".part"
_TOKEN_BYTES = 4
# What write_atomically names its temporary files.
_LEFTOVER = re.compile(rf"^\..+\.[0-9a-f]{{{2 * _TOKEN_BYTES}}}{re.escape(PART_SUFFIX)}$")


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(stream)`` on a temporary file, then rename it to ``path``."""
    target = Path(path)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(_TOKEN_BYTES)}{PART_SUFFIX}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(temp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def check_writable(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` if it is missing and write (then remove) a temporary file there,
    as ``write_atomically`` will: raises ``OSError`` at once, before a long job whose
    results would go there, for a folder that exists but takes no files (read-only media,
    permissions) as well as for one that cannot be made."""
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a file, not a folder", str(root))
    root.mkdir(parents=True, exist_ok=True)
    probe = root / f".write-check.{secrets.token_hex(_TOKEN_BYTES)}{PART_SUFFIX}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:  # named after the folder: the probe's name means nothing to a user
        raise OSError(exc.errno, f"cannot write files in this folder ({exc.strerror})",
                      str(root)) from exc
    probe.unlink()
    return root


def write_text_atomically(path: str | os.PathLike[str], text: str) -> Path:
    """``text`` as UTF-8, line endings as given."""
    data = text.encode("utf-8")
    return write_atomically(path, lambda stream: stream.write(data))


def remove_leftovers(folder: str | os.PathLike[str]) -> int:
    """Delete the temporary files that a writer killed mid-write (SIGKILL, a power cut: no
    chance to clean up) left in ``folder``; returns how many. Only for a folder that no
    other writer is using at the time, e.g. before a resumed run writes into it again."""
    removed = 0
    root = Path(folder)
    if not root.is_dir():
        return 0
    for entry in root.iterdir():
        if _LEFTOVER.match(entry.name) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed += 1
    return removed
