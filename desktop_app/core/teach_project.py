"""A teaching project: the classes a user is collecting examples for, saved as they go.

A project is a folder::

    project.json        the manifest: classes in order, each with its samples
    images/             every sample, copied in (or a captured frame, saved as PNG)
    model/              where the model taught from it is written

Files are *copied in*, never referenced where they lie: a project then survives its
sources being moved, renamed or deleted, and can be moved or shared as one folder. The
manifest names samples by paths relative to the project (``images/3fa2c1d0-cat.jpg``).

Every change rewrites the manifest with the one atomic writer, so a crash or a closed
window leaves the last complete state. A new file is written (atomically) *before* the
manifest names it, and a removed one deleted *after* the manifest stops naming it: a crash
in between leaves at worst an unnamed file in ``images/``, never a name without its file.

Copying and frame encoding (:meth:`TeachProject.copy_in`, :meth:`TeachProject.write_frame`)
only create new files, so a window runs them off its GUI thread and then hands the result
to :meth:`TeachProject.attach` on its own thread, which alone changes the manifest.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import shutil
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

import numpy as np

from desktop_app.core.atomic import write_atomically, write_text_atomically
from desktop_app.core.dataset import Dataset, Skipped, class_folders, dataset_from
from desktop_app.core.errors import LensError
from desktop_app.core.image_io import IMAGE_EXTENSIONS, iter_image_files

MANIFEST = "project.json"
IMAGES = "images"
MODEL = "model"
FORMAT = "resnet-lens-teaching-project"
VERSION = 1
MAX_NAME = 80
_STEM_CHARS = 40  # the readable part of a sample's file name
_FRAME_CLASS_CHARS = 20  # a frame's class name, before its time and number
_UNSAFE_RUN = re.compile(r"[^\w.-]+")
_PREFIX_BYTES = 4  # random hex in front of a sample's file name
MIN_PER_CLASS = 2  # what training needs (core.dataset.check_teachable)
# Characters that cannot be in a label: a labels file holds one per line, and Python's
# ``splitlines`` also breaks at these (control characters, line and paragraph separators).
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


class TeachProjectError(LensError):
    """A project folder that cannot be opened or created, or a change it cannot take."""


class ClassNameError(TeachProjectError):
    """A class name that is empty, taken, or cannot be written as a label."""


@dataclass(frozen=True)
class Copied:
    """What :meth:`TeachProject.copy_in` made: new samples (relative paths) and refusals."""

    samples: tuple[str, ...]
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class FolderImport:
    """A folder with one sub-folder per class: its classes' files, and loose files left out."""

    classes: tuple[tuple[str, tuple[Path, ...]], ...]
    skipped: tuple[Skipped, ...] = ()


def check_class_name(name: str, taken: Iterable[str] = ()) -> str:
    """``name`` as stored (surrounding blanks removed), or ``ClassNameError`` saying why not.

    Names are compared without regard to case: "Cat" and "cat" would read as one class.
    """
    cleaned = name.strip()
    if not cleaned:
        raise ClassNameError("a class needs a name")
    if len(cleaned) > MAX_NAME:
        raise ClassNameError(f"a class name can have at most {MAX_NAME} characters")
    if any(unicodedata.category(ch) in _BAD_CATEGORIES for ch in cleaned):
        raise ClassNameError(f"{cleaned!r}: a class name cannot hold line breaks or "
                             "control characters")
    key = cleaned.casefold()
    if any(other.casefold() == key for other in taken):
        raise ClassNameError(f"there is already a class named {cleaned!r}")
    return cleaned


def read_class_folder(folder: Path) -> FolderImport:
    """The classes of a dropped folder with one sub-folder per class (the sub-folder's name
    is the class, as for ``resnet-lens train``); images lying beside the sub-folders belong
    to no class and are listed as skipped."""
    classes = tuple((sub.name, tuple(iter_image_files([sub]))) for sub in class_folders(folder))
    loose = tuple(Skipped(p, "not in a class sub-folder") for p in _images_in(folder))
    return FolderImport(classes, loose)


def sample_label(path: Path) -> str:
    """A sample's name as the user knows it: its file name without the random prefix."""
    prefix, dash, rest = path.name.partition("-")
    is_prefix = len(prefix) == 2 * _PREFIX_BYTES and all(c in "0123456789abcdef" for c in prefix)
    return rest if dash and rest and is_prefix else path.name


def has_class_folders(folder: Path) -> bool:
    try:
        return folder.is_dir() and bool(class_folders(folder))
    except OSError:
        return False


def _images_in(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (not in its sub-folders)."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in IMAGE_EXTENSIONS)


class TeachProject:
    """One open project. Not thread-safe: change it from one thread; only
    :meth:`copy_in` and :meth:`write_frame` may run on others."""

    def __init__(self, root: Path, classes: dict[str, list[str]]) -> None:
        self.root = root
        self._classes = classes  # name -> samples (relative paths); dicts keep their order

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | os.PathLike[str]) -> TeachProject:
        """A new, empty project in ``root``, which must not exist or be an empty folder."""
        path = Path(root).absolute()
        if (path / MANIFEST).exists():
            raise TeachProjectError(f"{path}: already a teaching project; open it instead")
        try:
            if path.exists() and (not path.is_dir() or any(path.iterdir())):
                raise TeachProjectError(
                    f"{path}: not an empty folder; choose a new or empty one for the project")
            (path / IMAGES).mkdir(parents=True, exist_ok=True)
            (path / MODEL).mkdir(exist_ok=True)
        except OSError as exc:
            raise TeachProjectError(f"{path}: cannot create the project "
                                    f"({exc.strerror or type(exc).__name__})") from exc
        project = cls(path, {})
        project.save()
        return project

    @classmethod
    def open(cls, root: str | os.PathLike[str]) -> TeachProject:
        """The project saved in ``root``; ``TeachProjectError`` when its manifest is
        missing or damaged. Samples whose files went missing stay listed:
        :meth:`dataset` reports them as skipped."""
        path = Path(root).absolute()
        manifest = path / MANIFEST
        try:
            text = manifest.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TeachProjectError(
                f"{path}: not a teaching project ({MANIFEST} is missing)") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise TeachProjectError(f"{manifest}: cannot be read ({reason})") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TeachProjectError(
                f"{manifest}: damaged (not valid JSON: {exc.msg}, line {exc.lineno})") from exc
        project = cls(path, _parse_manifest(data, manifest))
        for folder in (IMAGES, MODEL):  # emptied or deleted by hand: made again, if we may
            with contextlib.suppress(OSError):
                (path / folder).mkdir(exist_ok=True)
        return project

    def save(self) -> None:
        data = {
            "format": FORMAT,
            "version": VERSION,
            "classes": [{"name": name, "samples": samples}
                        for name, samples in self._classes.items()],
        }
        write_text_atomically(self.root / MANIFEST, json.dumps(data, indent=1) + "\n")

    # -- reading ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.root.name

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self._classes)

    def samples(self, name: str) -> tuple[Path, ...]:
        """The files of class ``name``, as absolute paths, in the order they were added."""
        return tuple(self.root / rel for rel in self._samples_of(name))

    def counts(self) -> dict[str, int]:
        return {name: len(samples) for name, samples in self._classes.items()}

    @property
    def model_path(self) -> Path:
        """Where the model taught from this project is written (labels and report beside
        it, as ``inference.taught_files`` names them)."""
        return self.root / MODEL / f"{_file_stem(self.name) or 'taught'}.safetensors"

    def dataset(self) -> Dataset:
        """The classes and samples to teach, with files that cannot be read (e.g. deleted
        behind the app's back) listed as skipped. Reads every file to hash it: a window
        calls this off its GUI thread."""
        files = ((label, self.root / rel)
                 for label, samples in enumerate(self._classes.values()) for rel in samples)
        return dataset_from(self.classes, files, name_of=sample_label)

    def warnings(self) -> list[str]:
        """What stands in the way of training, in plain words (cheap: counts only)."""
        counts = self.counts()
        if not counts:
            return ["Add at least two classes, each with a few example images."]
        found: list[str] = []
        if len(counts) < 2:
            found.append("Add a second class: a model learns to tell classes apart.")
        few = [name for name, n in counts.items() if n < MIN_PER_CLASS]
        if few:
            found.append(f"Needs at least {MIN_PER_CLASS} images: {', '.join(few)}.")
        return found

    # -- classes ---------------------------------------------------------------------------
    def add_class(self, name: str) -> str:
        cleaned = check_class_name(name, self._classes)
        self._classes[cleaned] = []
        self.save()
        return cleaned

    def ensure_class(self, name: str) -> str:
        """The existing class named ``name`` (any case), or a new one."""
        key = name.strip().casefold()
        existing = next((c for c in self._classes if c.casefold() == key), None)
        return existing if existing is not None else self.add_class(name)

    def rename_class(self, old: str, new: str) -> str:
        self._samples_of(old)
        cleaned = check_class_name(new, (c for c in self._classes if c != old))
        # Rebuilt to keep the class's place in the order (its label index).
        self._classes = {cleaned if c == old else c: s for c, s in self._classes.items()}
        self.save()
        return cleaned

    def remove_class(self, name: str) -> None:
        samples = self._samples_of(name)
        del self._classes[name]
        self.save()
        self._delete_files(samples)

    # -- samples ---------------------------------------------------------------------------
    def copy_in(self, paths: Iterable[str | os.PathLike[str]]) -> Copied:
        """Copy image files (folders: the images in them, recursively) into the project;
        they belong to no class until :meth:`attach`. Safe on any thread."""
        samples: list[str] = []
        skipped: list[Skipped] = []
        for path in iter_image_files(paths):
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                skipped.append(Skipped(path, "not an image file"))
                continue
            rel = self._new_sample_name(path.stem, path.suffix.lower())
            try:
                with open(path, "rb") as source:
                    write_atomically(self.root / rel,
                                     lambda out, s=source: shutil.copyfileobj(s, out))
            except OSError as exc:
                skipped.append(Skipped(path, exc.strerror or type(exc).__name__))
                continue
            samples.append(rel)
        return Copied(tuple(samples), tuple(skipped))

    def write_frame(self, pixels_rgb: np.ndarray, class_name: str, number: int = 1) -> str:
        """Save an (H, W, 3) uint8 RGB frame captured for ``class_name`` (the ``number``-th
        of its capture) as a PNG in the project; returns its relative path, to
        :meth:`attach`. Safe on any thread."""
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(pixels_rgb)).save(buffer, format="PNG")
        rel = self._new_sample_name(frame_stem(class_name, number, datetime.now()), ".png")
        data = buffer.getvalue()
        write_atomically(self.root / rel, lambda out: out.write(data))
        return rel

    def attach(self, name: str, samples: Sequence[str]) -> None:
        """Add files already in the project (from :meth:`copy_in` or :meth:`write_frame`)
        to class ``name``."""
        self._samples_of(name).extend(samples)
        self.save()

    def add_files(self, name: str, paths: Iterable[str | os.PathLike[str]]) -> Copied:
        """Copy files (or the images in folders) into class ``name``."""
        self._samples_of(name)
        copied = self.copy_in(paths)
        self.attach(name, copied.samples)
        return copied

    def add_frame(self, name: str, pixels_rgb: np.ndarray) -> Path:
        self._samples_of(name)
        rel = self.write_frame(pixels_rgb, name)
        self.attach(name, [rel])
        return self.root / rel

    def add_class_folder(self, folder: str | os.PathLike[str]) -> Copied:
        """Add a folder with one sub-folder per class: each sub-folder's images go to the
        class of its name, created when missing."""
        found = read_class_folder(Path(folder))
        samples: list[str] = []
        skipped = list(found.skipped)
        for class_name, files in found.classes:
            copied = self.copy_in(files)
            self.attach(self.ensure_class(class_name), copied.samples)
            samples += copied.samples
            skipped += copied.skipped
        return Copied(tuple(samples), tuple(skipped))

    def remove_samples(self, name: str, paths: Iterable[Path]) -> int:
        """Remove samples (absolute paths, as :meth:`samples` gives them) from class
        ``name`` and delete their files; returns how many were removed."""
        samples = self._samples_of(name)
        gone = {self._relative(Path(p)) for p in paths}
        kept = [rel for rel in samples if rel not in gone]
        removed = [rel for rel in samples if rel in gone]
        if not removed:
            return 0
        self._classes[name] = kept
        self.save()
        self._delete_files(removed)
        return len(removed)

    # -- helpers ---------------------------------------------------------------------------
    def _samples_of(self, name: str) -> list[str]:
        try:
            return self._classes[name]
        except KeyError:
            raise TeachProjectError(f"there is no class named {name!r}") from None

    def _relative(self, path: Path) -> str:
        try:
            return path.absolute().relative_to(self.root).as_posix()
        except ValueError:
            return ""

    def _new_sample_name(self, stem: str, suffix: str) -> str:
        """A fresh name under ``images/`` (a random prefix: files added at once from many
        folders often share names such as ``IMG_0001.jpg``)."""
        readable = _file_stem(stem)[:_STEM_CHARS] or "image"
        while True:
            rel = f"{IMAGES}/{secrets.token_hex(_PREFIX_BYTES)}-{readable}{suffix}"
            if not (self.root / rel).exists():
                return rel

    def _delete_files(self, samples: Iterable[str]) -> None:
        # A file another class still names (a hand-edited manifest) is kept.
        named = {rel for rels in self._classes.values() for rel in rels}
        for rel in samples:
            if rel not in named:
                (self.root / rel).unlink(missing_ok=True)


def frame_stem(class_name: str, number: int, taken: datetime) -> str:
    """A captured frame's name: its class, when, and its number in the capture
    (``hand-20261201-043501-007``). Never the source's title: a camera's or a video's can
    hold anything, and frames of one class should read alike."""
    readable = _file_stem(class_name)[:_FRAME_CLASS_CHARS] or "frame"
    return f"{readable}-{taken:%Y%m%d-%H%M%S}-{number:03d}"


def _file_stem(text: str) -> str:
    """``text`` reduced to letters, digits and ``-_.``, each run of other characters to one
    ``_``: safe in a file name on every system. Composed (NFC) first, so that an accent
    stays part of its letter."""
    kept = _UNSAFE_RUN.sub("_", unicodedata.normalize("NFC", text))
    return kept.strip("._")


def _parse_manifest(data: object, manifest: Path) -> dict[str, list[str]]:
    def damaged(why: str) -> TeachProjectError:
        return TeachProjectError(f"{manifest}: damaged ({why})")

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TeachProjectError(f"{manifest}: not a ResNet Lens teaching project")
    version = data.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise TeachProjectError(
            f"{manifest}: written by a newer ResNet Lens (format {version}); update the app")
    entries = data.get("classes")
    if not isinstance(entries, list):
        raise damaged("no list of classes")
    classes: dict[str, list[str]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise damaged("a class without a name")
        try:
            name = check_class_name(entry["name"], classes)
        except ClassNameError as exc:
            raise damaged(str(exc)) from None
        samples = entry.get("samples", [])
        if not isinstance(samples, list) or not all(_is_inside(s) for s in samples):
            raise damaged(f"class {name!r} lists a sample outside the project")
        classes[name] = list(samples)
    return classes


def _is_inside(sample: object) -> bool:
    """A relative path that stays inside the project (a manifest is data, not a pointer to
    files elsewhere that removing a sample would delete)."""
    if not isinstance(sample, str) or not sample:
        return False
    path = PurePosixPath(sample)
    return not path.is_absolute() and ".." not in path.parts and "\\" not in sample \
        and ":" not in sample
