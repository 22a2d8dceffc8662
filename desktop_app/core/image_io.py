"""Turning files, buffers and arrays into RGB images, or into one-line errors.

Everything the app shows or classifies passes through :func:`decode_image`, so it must cope
with whatever a user drops on the window: odd pixel modes, rotated phone photos, 24-megapixel
JPEGs, and files that are not images at all. Any failure becomes an
:class:`~desktop_app.core.errors.ImageDecodeError` whose message is ``"<name>: <reason>"``.

Colour is handled the way torchvision's ``ImageFolder`` loader (``Image.open(f).convert("RGB")``)
handles it, because that is what the ImageNet weights were trained on: embedded ICC profiles
are not applied. Transparent pixels are composited onto :data:`TRANSPARENT_BACKGROUND`.
"""

from __future__ import annotations

import io
import logging
import math
import os
import stat
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from desktop_app.core.errors import ImageDecodeError

log = logging.getLogger(__name__)

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, Image.Image, np.ndarray,
                    "DecodedImage"]

# The ImageNet mean colour: after the model's normalisation a transparent area is ~0, i.e. it
# carries as little signal as the network's inputs can express.
TRANSPARENT_BACKGROUND: tuple[int, int, int] = (124, 116, 104)

# Suffixes offered when a folder is scanned. Each maps (in Pillow's registry) to a format in
# _FORMATS; tests/core/test_image_io.py checks that, so the two cannot drift apart.
IMAGE_EXTENSIONS: frozenset[str] = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".mpo",
    ".png", ".apng", ".gif", ".webp", ".avif",
    ".bmp", ".dib", ".tif", ".tiff", ".tga", ".ico",
    ".ppm", ".pgm", ".pbm", ".pnm",
})

# Formats Image.open may try. An explicit list keeps out plugins that run external programs
# (EPS calls Ghostscript) and exotic formats nobody would feed a classifier. Also left out:
# JPEG 2000, because OpenJPEG decodes a truncated file without error, as a partly black
# picture; QOI, whose decoder is pure Python (seconds per megapixel). Multi-picture JPEGs
# (format "MPO") are opened by the JPEG plugin.
_FORMATS: tuple[str, ...] = (
    "JPEG", "PNG", "GIF", "WEBP", "AVIF", "BMP", "DIB", "TIFF", "TGA", "ICO", "PPM",
)

_DRAFT_FORMATS = frozenset({"JPEG", "MPO"})
_TRANSPOSING = frozenset(range(2, 9))  # EXIF orientations other than upright
_SWAPS_AXES = frozenset({5, 6, 7, 8})  # those that also swap width and height
# Characters that would break a message's single line or could not be printed.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_SNIFF_BYTES = 2048
_MAX_REASON_CHARS = 160


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """An RGB image ready for the model, and what it was before decoding shrank it.

    ``original_size`` is (width, height) after EXIF orientation and before any draft
    reduction; ``image.size`` may be smaller when ``min_side`` let JPEG decode at 1/2, 1/4
    or 1/8 scale. Treat ``image`` as immutable: ``array`` is computed from it once.
    Equality is identity (comparing pixels would be costly and rarely what is meant).
    """

    image: Image.Image
    original_size: tuple[int, int]
    name: str
    format: str | None = None

    def __post_init__(self) -> None:
        if self.image.mode != "RGB":
            raise ValueError(f"DecodedImage needs an RGB image, got mode {self.image.mode!r}")

    @cached_property
    def array(self) -> np.ndarray:
        """The pixels as a read-only (H, W, 3) uint8 RGB array (made on first access)."""
        pixels = np.asarray(self.image)
        pixels.setflags(write=False)
        return pixels


def decode_for_model(source: ImageSource, resize_size: int, *,
                     name: str | None = None) -> DecodedImage:
    """The image a model whose preprocessing resizes to ``resize_size`` classifies: the one
    decode policy for every way an image comes in (the window, folder runs, CLI, API), so
    that the same file gets the same numbers everywhere.

    Files and encoded bytes of JPEGs decode at the smallest scale whose shorter side is
    still at least ``resize_size`` (the resize would shrink it that far anyway; a large
    photo decodes several times faster); other formats, arrays and PIL images are taken as
    they are. A :class:`DecodedImage` is used as given."""
    return decode_image(source, min_side=resize_size, name=name)


def decode_for_overlay(source: ImageSource, max_side: int | None, *,
                       name: str | None = None) -> DecodedImage:
    """The picture a saved overlay is drawn on: the whole image, shrunk (never enlarged) so
    that its longer side is at most ``max_side`` (None: full size). JPEGs decode at the
    smallest scale that still covers ``max_side``, as :func:`decode_for_model` does for the
    model; ``original_size`` stays the image's own."""
    return decode_image(source, fit_within=max_side, name=name)


def decode_image(
    source: ImageSource, *, min_side: int | None = None, name: str | None = None,
    fit_within: int | None = None,
) -> DecodedImage:
    """Decode ``source`` into an RGB :class:`DecodedImage`.

    ``source`` is a path, the bytes of a file, a PIL image, a uint8 array of shape (H, W, 3)
    RGB, (H, W) grey or (H, W, 4) RGBA, or a :class:`DecodedImage` (returned as is).
    ``min_side`` lets JPEGs decode at a reduced scale whose shorter side is still at least
    ``min_side`` pixels (files and bytes only). ``fit_within`` shrinks the result so that
    its longer side is at most that many pixels (see :func:`decode_for_overlay`). ``name``
    replaces the label used in messages
    (by default the path as given). An RGB PIL image without EXIF rotation is used as is,
    not copied.

    Raises :class:`ImageDecodeError` for anything that is not a readable image, and
    ``TypeError``/``ValueError`` for arguments of the wrong kind.
    """
    if min_side is not None and (
        not isinstance(min_side, int) or isinstance(min_side, bool) or min_side < 1
    ):
        raise ValueError(f"min_side must be a positive int or None, got {min_side!r}")
    if fit_within is None:
        return _decode_any(source, min_side, None, name)
    if not isinstance(fit_within, int) or isinstance(fit_within, bool) or fit_within < 1:
        raise ValueError(f"fit_within must be a positive int or None, got {fit_within!r}")
    decoded = _decode_any(source, min_side, fit_within, name)
    if max(decoded.image.size) <= fit_within:
        return decoded
    small = decoded.image.copy()  # a DecodedImage given by the caller stays as it was
    small.thumbnail((fit_within, fit_within), Image.Resampling.BILINEAR)
    return DecodedImage(small, decoded.original_size, decoded.name, decoded.format)


def _decode_any(source: ImageSource, min_side: int | None, fit_within: int | None,
                name: str | None) -> DecodedImage:
    if isinstance(source, DecodedImage):
        return source
    if isinstance(source, np.ndarray):
        return _from_array(source, _one_line(name or "<array>"))
    if isinstance(source, Image.Image):
        label = name or getattr(source, "filename", "") or "<image>"
        return _from_pil(source, _one_line(str(label)))
    if isinstance(source, (bytes, bytearray, memoryview)):
        label = _one_line(name or "<bytes>")
        return _decode_stream(io.BytesIO(source), label, min_side, fit_within)
    if isinstance(source, (str, os.PathLike)):
        label = _one_line(name or os.fsdecode(source))
        with _open_file(source, label) as stream:
            return _decode_stream(stream, label, min_side, fit_within)
    raise TypeError(f"cannot decode an image from {type(source).__name__}")


def iter_image_files(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Files to decode for what the user named, in a stable order.

    A named file is yielded whatever its extension (or even when it does not exist: decoding
    then reports why), since naming it says it is meant. A folder is walked recursively in
    sorted order, keeping files whose suffix is in :data:`IMAGE_EXTENSIONS` (any case) and
    skipping hidden files and folders. Symlinked folders are not followed (no cycles).
    """
    for item in paths:
        path = Path(item)
        try:
            is_folder = path.is_dir()
        except OSError:  # e.g. a parent folder we may not enter: decoding will say so
            is_folder = False
        if is_folder:
            yield from _walk_folder(path)
        else:
            yield path


def _walk_folder(folder: Path) -> Iterator[Path]:
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as exc:
        log.warning("skipping folder %s: %s", folder, exc.strerror or exc)
        return
    subfolders = []
    for entry in entries:
        if _is_hidden(entry):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                subfolders.append(Path(entry.path))
            elif Path(entry.name).suffix.lower() in IMAGE_EXTENSIONS and entry.is_file():
                yield Path(entry.path)
        except OSError as exc:
            log.warning("skipping %s: %s", entry.path, exc.strerror or exc)
    for subfolder in subfolders:
        yield from _walk_folder(subfolder)


def _is_hidden(entry: os.DirEntry[str]) -> bool:
    if entry.name.startswith("."):
        return True
    # Windows marks hidden files with an attribute rather than a leading dot.
    hidden_flag = getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 0)
    if hidden_flag:
        try:
            return bool(getattr(entry.stat(follow_symlinks=False), "st_file_attributes", 0)
                        & hidden_flag)
        except OSError:
            return False
    return False


def _open_file(path: str | os.PathLike, label: str) -> BinaryIO:
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise ImageDecodeError(f"{label}: is a folder, not an image file")
        if not stat.S_ISREG(info.st_mode):
            # Reading a FIFO or a device could block forever or never end.
            raise ImageDecodeError(f"{label}: not a regular file")
        return open(path, "rb")  # the caller closes it
    except FileNotFoundError as exc:
        raise ImageDecodeError(f"{label}: file not found") from exc
    except PermissionError as exc:
        raise ImageDecodeError(f"{label}: permission denied") from exc
    except OSError as exc:
        raise ImageDecodeError(f"{label}: cannot open file ({_reason(exc)})") from exc


def _decode_stream(stream: BinaryIO, label: str, min_side: int | None,
                   fit_within: int | None = None) -> DecodedImage:
    # Pillow warns about images between 1x and 2x its pixel limit; _check_pixel_count
    # refuses those itself, with a message, so the warning would only be noise on stderr.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return _decode_open_stream(stream, label, min_side, fit_within)


def _decode_open_stream(stream: BinaryIO, label: str, min_side: int | None,
                        fit_within: int | None) -> DecodedImage:
    try:
        img = Image.open(stream, formats=_available_formats())
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(f"{label}: {_unidentified_reason(stream)}") from exc
    except Exception as exc:
        raise _decode_failure(label, exc) from exc

    try:
        orientation = _orientation(img)
        width, height = img.size
        original_size = (height, width) if orientation in _SWAPS_AXES else (width, height)
        if min_side is not None and img.format in _DRAFT_FORMATS:
            # A square request keeps both sides >= min_side whatever the rotation.
            img.draft("RGB", (min_side, min_side))
        elif fit_within is not None and img.format in _DRAFT_FORMATS:
            # Both sides scaled alike, so the longer one still covers fit_within after the
            # draft (the longer side is the longer side in any orientation).
            fit = fit_within / max(width, height)
            img.draft("RGB", (math.ceil(width * fit), math.ceil(height * fit)))
        _check_pixel_count(img, label)
        img.load()
        if orientation in _TRANSPOSING:
            ImageOps.exif_transpose(img, in_place=True)
        rgb = _to_rgb(img)
    except ImageDecodeError:
        raise
    except Exception as exc:
        raise _decode_failure(label, exc) from exc
    return DecodedImage(rgb, original_size, label, img.format)


def _from_pil(img: Image.Image, label: str) -> DecodedImage:
    image_format = img.format  # transposed copies have none
    try:
        img.load()
        orientation = _orientation(img)
        if orientation in _TRANSPOSING:
            # Not in place: the caller's image stays as it was.
            img = ImageOps.exif_transpose(img) or img
        rgb = _to_rgb(img)
    except Exception as exc:
        raise _decode_failure(label, exc) from exc
    return DecodedImage(rgb, rgb.size, label, image_format)


def _from_array(pixels: np.ndarray, label: str) -> DecodedImage:
    if pixels.dtype != np.uint8:
        raise ImageDecodeError(f"{label}: unsupported array dtype {pixels.dtype} (need uint8)")
    shape_ok = pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (3, 4))
    if not shape_ok or pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ImageDecodeError(
            f"{label}: unsupported array shape {pixels.shape} (need (H, W), (H, W, 3) or (H, W, 4))"
        )
    rgb = _to_rgb(Image.fromarray(pixels))
    return DecodedImage(rgb, rgb.size, label, None)


def _orientation(img: Image.Image) -> int:
    """The EXIF (or XMP) orientation, 1 when absent or unreadable.

    Corrupt metadata must not make otherwise good pixels unreadable, so errors here are
    logged and ignored.
    """
    try:
        value = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception as exc:
        log.debug("ignoring unreadable EXIF: %s", exc)
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _check_pixel_count(img: Image.Image, label: str) -> None:
    """Refuse images whose decoded size exceeds Pillow's decompression-bomb limit.

    Checked after a JPEG draft, so a huge photo that will decode at 1/8 scale is accepted:
    the limit is about memory, and the draft is what gets allocated.
    """
    limit = Image.MAX_IMAGE_PIXELS
    width, height = img.size
    if limit and width * height > limit:
        raise ImageDecodeError(
            f"{label}: image too large ({width}×{height} = {_megapixels(width * height)} "
            f"megapixels; the limit is {_megapixels(limit)})"
        )


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    # Before the transparency test: Pillow's own conversion of these modes clips at 255.
    # (A tRNS key on 16-bit grey is ignored; scaling right matters more.)
    if mode.startswith("I"):
        return _grey_to_rgb(_scale_integers(img))
    if mode == "F":
        return _grey_to_rgb(_scale_floats(np.asarray(img, dtype=np.float32)))
    if mode in ("LA", "PA", "RGBA", "RGBa") or "transparency" in img.info:
        return _composite(img)
    if mode == "RGB":
        return img
    # 1, L, P, CMYK (Adobe-inverted CMYK JPEGs are un-inverted by Pillow's reader), YCbCr,
    # LAB, HSV, RGBX: Pillow converts these exactly.
    return img.convert("RGB")


def _composite(img: Image.Image) -> Image.Image:
    rgba = img.convert("RGBA")
    out = Image.new("RGB", rgba.size, TRANSPARENT_BACKGROUND)
    out.paste(rgba, (0, 0), rgba)
    return out


def _scale_integers(img: Image.Image) -> np.ndarray:
    """Integer grey levels to uint8 by the file's bit depth (never by clipping at 255).

    I;16 modes use the TIFF BitsPerSample when present (12-bit scans), else 16. Mode I is
    32-bit: scaling by 2**32 would render everything black, so unless the file declares 16
    bits or fewer its actual range is stretched instead, as is signed data.
    """
    values = np.asarray(img)
    declared = _declared_bits(img)
    bits = declared if declared is not None else (16 if img.mode.startswith("I;16") else None)
    if bits is not None and bits <= 16 and values.min(initial=0) >= 0:
        scaled = values.astype(np.float32) * np.float32(255.0 / (2**bits - 1))
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return _stretch(values.astype(np.float64))


def _declared_bits(img: Image.Image) -> int | None:
    tags = getattr(img, "tag_v2", None)
    if tags is None:
        return None
    bits = tags.get(258)  # BitsPerSample
    if isinstance(bits, tuple):
        bits = bits[0] if bits else None
    return bits if isinstance(bits, int) and 1 <= bits <= 32 else None


def _scale_floats(values: np.ndarray) -> np.ndarray:
    """Float grey levels to uint8: [0, 1] data as unit range, anything else min-max stretched.

    NaN and infinities become 0.
    """
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, dtype=np.uint8)
    lo, hi = float(values[finite].min()), float(values[finite].max())
    clean = np.where(finite, values, 0.0).astype(np.float64)
    if lo >= 0.0 and hi <= 1.0:
        return np.rint(clean * 255.0).astype(np.uint8)
    return _stretch(np.where(finite, clean, lo))


def _stretch(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.rint((values - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def _grey_to_rgb(grey: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(grey)).convert("RGB")


def _decode_failure(label: str, exc: BaseException) -> ImageDecodeError:
    log.debug("decoding %s failed", label, exc_info=exc)
    if isinstance(exc, MemoryError):
        return ImageDecodeError(f"{label}: not enough memory to decode this image")
    if isinstance(exc, Image.DecompressionBombError):
        # Pillow raises this itself beyond twice MAX_IMAGE_PIXELS.
        limit = _megapixels(2 * (Image.MAX_IMAGE_PIXELS or 0))
        return ImageDecodeError(
            f"{label}: image dimensions exceed the safety limit of {limit} megapixels"
        )
    text = str(exc)
    if isinstance(exc, OSError) and "truncated" in text.lower():
        return ImageDecodeError(f"{label}: file is truncated (incomplete image data)")
    return ImageDecodeError(f"{label}: corrupt or unsupported image data ({_reason(exc)})")


def _unidentified_reason(stream: BinaryIO) -> str:
    """Why Pillow did not recognise the data, in the user's terms."""
    try:
        stream.seek(0)
        head = stream.read(_SNIFF_BYTES)
    except Exception:
        return "not a recognised image format"
    if not head:
        return "file is empty"
    lowered = head.lower()
    if b"<svg" in lowered:
        return "SVG vector images are not supported"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive, not an image"
    if head.startswith(b"%PDF"):
        return "a PDF document, not an image"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return "HEIC/HEIF images are not supported"
    if head.startswith((b"%!PS", b"\xc5\xd0\xd3\xc6")):
        return "PostScript/EPS files are not supported"
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "JPEG 2000 images are not supported"
    if head.startswith(b"qoif"):
        return "QOI images are not supported"
    if _looks_like_text(head):
        return "a text file, not an image"
    return "not a recognised image format"


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character may be cut at the end of the sniffed block.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return all(ch.isprintable() or ch in "\r\n\t\f" for ch in text)


def _reason(exc: BaseException) -> str:
    text = (getattr(exc, "strerror", None) if isinstance(exc, OSError) else None) or str(exc)
    text = _one_line(text.strip()) or type(exc).__name__
    if len(text) > _MAX_REASON_CHARS:
        text = text[: _MAX_REASON_CHARS - 1] + "…"
    return text


def _one_line(text: str) -> str:
    """Escape control and unencodable characters so a message stays one printable line.

    File names may hold newlines or, via surrogate escapes, bytes that are not UTF-8.
    """
    if text.isprintable():
        return text
    return "".join(
        (" " if ch in "\r\n\t" else _escape(ch))
        if unicodedata.category(ch) in _UNSAFE_CATEGORIES else ch
        for ch in text
    )


def _escape(ch: str) -> str:
    code = ord(ch)
    if unicodedata.category(ch) == "Cs" and 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # a byte smuggled in by surrogateescape
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


@lru_cache(maxsize=1)
def _available_formats() -> tuple[str, ...]:
    """_FORMATS minus plugins this Pillow build lacks (Image.open fails on unknown names)."""
    Image.init()
    return tuple(fmt for fmt in _FORMATS if fmt in Image.OPEN)


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.3g}"
