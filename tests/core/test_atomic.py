"""The one atomic writer's folder check (desktop_app/core/atomic.py)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from desktop_app.core import atomic
from desktop_app.core.errors import one_line


def test_check_writable_makes_the_folder_and_leaves_nothing_behind(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "maps"
    assert atomic.check_writable(folder) == folder
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_a_folder_that_takes_no_files_is_named_in_the_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read-only media or permissions (which root ignores, so the refusal is simulated):
    the error names the user's folder, not the probe file."""

    def refuse(path: str, *_args: object) -> int:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

    monkeypatch.setattr(atomic.os, "open", refuse)
    with pytest.raises(OSError) as error:
        atomic.check_writable(tmp_path)
    assert one_line(error.value) == (
        f"{tmp_path}: cannot write files in this folder (Permission denied)")
