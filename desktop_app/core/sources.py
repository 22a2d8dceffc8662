"""What a folder run classifies: files named, folders walked, globs and list files expanded,
one at a time.

Nothing is listed up front, so a folder of 100,000 photos starts at once and costs only the
names of one directory at a time. The order is deterministic (each directory's entries
sorted by name, glob matches sorted), so that a re-run visits the same files in the same
order and ``--resume`` can trust it.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.image_io import iter_image_files

LIST_PREFIX = "@"  # "@paths.txt": one path per line, as in many command-line tools
_GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class MissingInput:
    """An input that names nothing to classify, and why (shown as ``item: reason``)."""

    item: str
    reason: str


def iter_inputs(inputs: Iterable[str | os.PathLike[str]]) -> Iterator[Path | MissingInput]:
    """Each file to classify, in order, or a :class:`MissingInput` where an input names none.

    An input is a file (kept whatever its suffix: naming it says it is meant), a folder
    (walked recursively for image files, hidden ones skipped), a glob such as
    ``photos/**/*.jpg`` (used when no file has that name), or ``@list.txt`` (one path per
    line, blank lines and ``#`` comments skipped; each line a file, folder or glob).
    """
    for item in inputs:
        text = os.fspath(item)
        if text.startswith(LIST_PREFIX) and not Path(text).exists():
            yield from _from_list(text[len(LIST_PREFIX):])
        else:
            yield from _expand(text)


def _expand(text: str) -> Iterator[Path | MissingInput]:
    path = Path(text)
    if path.is_dir():
        yield from _from_folder(text, path)
    elif path.exists() or path.is_symlink():
        yield path
    elif _GLOB_CHARACTERS & set(text):
        yield from _from_glob(text)
    else:
        yield MissingInput(text, "no such file or folder")


def _from_folder(text: str, folder: Path) -> Iterator[Path | MissingInput]:
    found = False
    for path in iter_image_files([folder]):
        found = True
        yield path
    if not found:
        yield MissingInput(text, "folder holds no images")


def _from_glob(pattern: str) -> Iterator[Path | MissingInput]:
    # Sorted for a stable order; only names are held, never images.
    matches = sorted(glob.iglob(pattern, recursive=True))
    files = [Path(m) for m in matches if not Path(m).is_dir()]
    if not files:
        yield MissingInput(pattern, "no file matches this pattern")
    yield from files


def _from_list(list_file: str) -> Iterator[Path | MissingInput]:
    try:
        stream = open(list_file, encoding="utf-8")  # noqa: SIM115 (closed below; lazy lines)
    except OSError as exc:
        yield MissingInput(LIST_PREFIX + list_file, f"cannot read the list ({exc.strerror or exc})")
        return
    with stream:
        for line in stream:
            entry = line.strip()
            if entry and not entry.startswith("#"):
                yield from _expand(entry)  # a list does not name other lists
