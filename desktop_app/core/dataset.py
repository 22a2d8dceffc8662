"""A folder of examples to teach: one sub-folder per class, the folder's name is the label.

Only file names and content hashes are held (never pixels), so a folder of many thousands
of images costs memory in proportion to its file list. Whether a file decodes is found out
later, when its features are computed; here a file is skipped only when it cannot be read.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from desktop_app.core.errors import LensError
from desktop_app.core.image_io import iter_image_files

_CHUNK = 1 << 20


class DatasetError(LensError):
    """A training folder that cannot be taught from (too few classes or images)."""


@dataclass(frozen=True)
class Example:
    path: Path
    label: int
    digest: str  # SHA-256 of the file's bytes: cache key and duplicate detector


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


@dataclass(frozen=True)
class Duplicate:
    """The same bytes filed under two classes (a contradiction the model cannot learn),
    each file named as the user knows it (see ``dataset_from``'s ``name_of``)."""

    first: str
    second: str
    classes: tuple[str, str]


@dataclass(frozen=True)
class Dataset:
    classes: tuple[str, ...]
    examples: tuple[Example, ...]
    skipped: tuple[Skipped, ...]
    duplicates: tuple[Duplicate, ...]
    # Copies of one file within a class count once (a copy in the validation split would
    # only measure memory).
    repeats: int
    # When the files were listed: a project changed after it has other images than these.
    taken_at: datetime

    def counts(self) -> dict[str, int]:
        return count_by_class(self.classes, self.examples)


def count_by_class(classes: Sequence[str], examples: Iterable[Example]) -> dict[str, int]:
    totals = dict.fromkeys(classes, 0)
    for example in examples:
        totals[classes[example.label]] += 1
    return totals


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def class_folders(root: Path) -> list[Path]:
    """The class sub-folders of ``root`` in sorted order (hidden ones left out)."""
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    return sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )


def scan_dataset(root: str | os.PathLike[str]) -> Dataset:
    """Classes, examples, unreadable files and duplicates of a training folder."""
    folders = class_folders(Path(root))
    files = ((label, path) for label, folder in enumerate(folders)
             for path in iter_image_files([folder]))  # streamed, sorted
    return dataset_from(tuple(f.name for f in folders), files)


def dataset_from(classes: tuple[str, ...], files: Iterable[tuple[int, Path]],
                 name_of: Callable[[Path], str] = str) -> Dataset:
    """The dataset of ``(label, path)`` pairs: each file hashed once, a file that cannot be
    read skipped with its reason, copies within a class counted once, copies across classes
    kept and reported as duplicates, named by ``name_of`` (a folder's files by their path;
    a project's by the name the user gave them, not that of its private copy)."""
    taken_at = datetime.now().astimezone()
    examples: list[Example] = []
    skipped: list[Skipped] = []
    duplicates: list[Duplicate] = []
    seen: dict[str, Example] = {}
    repeats = 0
    for label, path in files:
        try:
            digest = file_digest(path)
        except OSError as exc:
            skipped.append(Skipped(path, exc.strerror or type(exc).__name__))
            continue
        earlier = seen.get(digest)
        if earlier is None:
            example = Example(path, label, digest)
            seen[digest] = example
            examples.append(example)
        elif earlier.label == label:
            repeats += 1
        else:
            duplicates.append(
                Duplicate(name_of(earlier.path), name_of(path),
                          (classes[earlier.label], classes[label])))
            examples.append(Example(path, label, digest))
    return Dataset(classes, tuple(examples), tuple(skipped), tuple(duplicates), repeats,
                   taken_at)


def repeats_note(repeats: int) -> str | None:
    """The plain-words line for copies counted once: without it, a class trained on fewer
    images than the files the user gave it, and nothing said why."""
    if not repeats:
        return None
    copies = "1 file is a copy" if repeats == 1 else f"{repeats} files are copies"
    return (f"{copies} of an image already in the same class: each image counts once, so "
            "that class trains on fewer images than its files")


def check_teachable(classes: tuple[str, ...], counts: dict[str, int]) -> None:
    """Raise ``DatasetError`` unless there are two classes with two usable images each."""
    if len(classes) < 2:
        found = f"found {len(classes)}" + (f" ({classes[0]})" if classes else "")
        raise DatasetError(
            f"need at least two classes (one sub-folder of images per class); {found}")
    small = [f"{name} ({counts[name]})" for name in classes if counts[name] < 2]
    if small:
        raise DatasetError(
            f"each class needs at least two usable images; too few in {', '.join(small)}")
