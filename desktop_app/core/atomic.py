"""The one way this project writes a file: completely, or not at all.

Data goes to a temporary file in the target's folder (``.<name>.<random>.part``), is flushed
to disk, and is renamed over the target. The rename is atomic on one file system, so a
reader, a crash or a full disk leaves either the old file or the new one, never half of
one; the temporary file is removed whatever goes wrong. It is created with mode 0o666, so
the user's umask applies as for any new file (``tempfile.mkstemp`` would force 0o600, and
exported results would come out unreadable to everyone else).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

PART_SUFFIX = ".part"


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(stream)`` on a temporary file, then rename it to ``path``."""
    target = Path(path)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{PART_SUFFIX}")
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


def write_text_atomically(path: str | os.PathLike[str], text: str) -> Path:
    """``text`` as UTF-8, line endings as given."""
    data = text.encode("utf-8")
    return write_atomically(path, lambda stream: stream.write(data))
