"""A corpus of awkward image files, good and bad, generated on demand.

``build_corpus(folder)`` writes every file and returns a :class:`CorpusEntry` per file saying
whether ``decode_image`` must read it, the size it must report and, for most readable files,
pixels whose decoded colour is known (:class:`Probe`). Output is deterministic; the whole
corpus takes well under a second to write (the 24-megapixel JPEG is encoded once per process).

Other test modules import it too (``from corpus import build_corpus``).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import DTypeLike
from PIL import Image, features

from desktop_app.core.image_io import TRANSPARENT_BACKGROUND

RGB = tuple[int, int, int]

# The canonical test picture: four solid quadrants, asymmetric under every flip and rotation.
QUAD_W, QUAD_H = 64, 48
RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)
QUADRANT_COLOURS: tuple[RGB, RGB, RGB, RGB] = (RED, GREEN, BLUE, WHITE)  # TL, TR, BL, BR
LARGE_SIZE = (6000, 4000)
ROTATED_LARGE_STORED = (2000, 1200)  # stored pixels of the orientation-6 JPEG


class Probe(NamedTuple):
    """Pixel (x, y) of the decoded image must be ``rgb``, each channel within ``tolerance``."""

    x: int
    y: int
    rgb: RGB
    tolerance: int = 0


@dataclass(frozen=True)
class CorpusEntry:
    path: Path
    kind: str
    readable: bool
    expected_size: tuple[int, int] | None  # (width, height) after EXIF orientation
    probes: tuple[Probe, ...] = ()


def quadrant_probes(
    colours: Sequence[RGB] = QUADRANT_COLOURS, tolerance: int = 0,
    width: int = QUAD_W, height: int = QUAD_H,
) -> tuple[Probe, ...]:
    """Probes at the centres of the four quadrants (TL, TR, BL, BR)."""
    xs, ys = (width // 4, 3 * width // 4), (height // 4, 3 * height // 4)
    points = ((xs[0], ys[0]), (xs[1], ys[0]), (xs[0], ys[1]), (xs[1], ys[1]))
    return tuple(Probe(x, y, c, tolerance) for (x, y), c in zip(points, colours, strict=True))


def quadrants(
    values: tuple = QUADRANT_COLOURS, width: int = QUAD_W, height: int = QUAD_H,
    dtype: DTypeLike = np.uint8,
) -> np.ndarray:
    """An array whose four quadrants hold ``values`` (scalars for grey, tuples for colour)."""
    sample = np.asarray(values[0])
    out = np.empty((height, width, *sample.shape), dtype=dtype)
    hh, hw = height // 2, width // 2
    out[:hh, :hw], out[:hh, hw:], out[hh:, :hw], out[hh:, hw:] = values
    return out


def stored_for_orientation(upright: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels a camera stores so that EXIF ``orientation`` displays ``upright``.

    Written from the EXIF definitions (where the stored 0th row and column appear when
    displayed), independently of Pillow's exif_transpose.
    """
    transforms: dict[int, Callable[[np.ndarray], np.ndarray]] = {
        1: lambda a: a,
        2: np.fliplr,                            # 0th row top, 0th column right
        3: lambda a: np.rot90(a, 2),             # bottom, right
        4: np.flipud,                            # bottom, left
        5: lambda a: a.transpose(1, 0, 2),       # row 0 is the left side, column 0 the top
        6: lambda a: np.rot90(a, 1),             # row 0 is the right side, column 0 the top
        7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),  # the right side, the bottom
        8: lambda a: np.rot90(a, -1),            # row 0 is the left side, column 0 the bottom
    }
    return np.ascontiguousarray(transforms[orientation](upright))


def exif_bytes(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


@cache
def large_jpeg_bytes() -> bytes:
    """A 6000×4000 photo-like JPEG (gradients plus noise, quality 90), about 7 MB."""
    width, height = LARGE_SIZE
    rng = np.random.default_rng(24)
    y = np.linspace(0, 127, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 127, width, dtype=np.float32)[None, :]
    noise = rng.integers(0, 24, (height, width), dtype=np.uint8)
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[..., 0] = (0.6 * y + 0.4 * x).astype(np.uint8) + noise
    pixels[..., 1] = np.broadcast_to(x.astype(np.uint8), (height, width)) + noise
    pixels[..., 2] = np.broadcast_to((127 - y).astype(np.uint8), (height, width)) + noise
    return encode(Image.fromarray(pixels), "JPEG", quality=90)


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **params)
    return buffer.getvalue()


@cache
def sample_bytes(fmt: str) -> bytes:
    """A small valid file (48×32 quadrants plus a gradient) in ``fmt``: seeds for fuzzing."""
    pixels = quadrants(width=48, height=32)
    # A gradient in one channel, so that compressors see more than four flat blocks.
    pixels[..., 1] = pixels[..., 1] // 2 + np.arange(48, dtype=np.uint8)[None, :] * 2
    img = Image.fromarray(pixels)
    if fmt == "GIF":
        return encode(img.convert("P"), "GIF")
    if fmt == "JPEG":
        return encode(img, "JPEG", quality=85)
    return encode(img, fmt)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width``×``height`` (8-bit grey) but holds almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + png_chunk(b"IEND", b""))


def bilevel_png(width: int, height: int) -> bytes:
    """A real, complete 1-bit PNG of zeros: tens of kilobytes for a hundred megapixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", data)
            + png_chunk(b"IEND", b""))


def blend_with_background(colour: RGB, alpha: int) -> RGB:
    r, g, b = (round((c * alpha + bg * (255 - alpha)) / 255)
               for c, bg in zip(colour, TRANSPARENT_BACKGROUND, strict=True))
    return r, g, b


def build_corpus(folder: Path, *, include_large: bool = True) -> list[CorpusEntry]:
    """Write the corpus into ``folder`` (created if needed) and describe each file."""
    folder.mkdir(parents=True, exist_ok=True)
    entries: list[CorpusEntry] = []

    def add(name: str, data: bytes, kind: str, size: tuple[int, int] | None,
            probes: tuple[Probe, ...] = ()) -> None:
        path = folder / name
        path.write_bytes(data)
        entries.append(CorpusEntry(path, kind, size is not None, size, probes))

    quad = Image.fromarray(quadrants())
    size = (QUAD_W, QUAD_H)
    greys = (0, 85, 170, 255)
    grey_colours = [(g, g, g) for g in greys]
    grey_probes = quadrant_probes(grey_colours)

    # Every pixel mode, in lossless containers so colours can be checked exactly.
    add("rgb.png", encode(quad, "PNG"), "png-rgb", size, quadrant_probes())
    add("grey.png", encode(Image.fromarray(quadrants(greys)), "PNG"), "png-L", size, grey_probes)
    bilevel = Image.fromarray(quadrants((0, 255, 0, 255))).convert("1")
    add("bilevel.png", encode(bilevel, "PNG"), "png-1", size,
        quadrant_probes((BLACK, WHITE, BLACK, WHITE)))
    palette = quad.quantize(colors=4)
    add("palette.png", encode(palette, "PNG"), "png-P", size, quadrant_probes())
    transparent_index = palette.getpixel((0, 0))
    add("palette_transparent.png", encode(palette, "PNG", transparency=transparent_index),
        "png-P-transparency", size,
        quadrant_probes((TRANSPARENT_BACKGROUND, GREEN, BLUE, WHITE)))
    add("palette_transparent.gif", encode(palette, "GIF", transparency=transparent_index),
        "gif-transparency", size,
        quadrant_probes((TRANSPARENT_BACKGROUND, GREEN, BLUE, WHITE)))
    alpha = quadrants((0, 128, 255, 255))
    la = Image.merge("LA", (Image.fromarray(quadrants(greys)), Image.fromarray(alpha)))
    add("grey_alpha.png", encode(la, "PNG"), "png-LA", size, quadrant_probes(
        (TRANSPARENT_BACKGROUND, blend_with_background((85, 85, 85), 128), (170, 170, 170), WHITE),
        tolerance=1))
    rgba = Image.merge("RGBA", (*quad.split(), Image.fromarray(alpha)))
    rgba_probes = quadrant_probes(
        (TRANSPARENT_BACKGROUND, blend_with_background(GREEN, 128), BLUE, WHITE), tolerance=1)
    add("rgba.png", encode(rgba, "PNG"), "png-RGBA", size, rgba_probes)
    add("rgba_lossless.webp", encode(rgba, "WEBP", lossless=True, exact=True), "webp-RGBA",
        size, rgba_probes)
    cmyk = quad.convert("CMYK")
    add("cmyk.tif", encode(cmyk, "TIFF"), "tiff-CMYK", size, quadrant_probes())
    add("cmyk.jpg", encode(cmyk, "JPEG", quality=95), "jpeg-CMYK", size,
        quadrant_probes(tolerance=40))
    add("ycbcr.tif", encode(quad.convert("YCbCr"), "TIFF"), "tiff-YCbCr", size,
        quadrant_probes(tolerance=4))
    # 8-bit LAB cannot hold saturated sRGB exactly (the round trip is ~20 off), but a reader
    # that copied L, a, b into R, G, B would be off by more than 100.
    add("lab.tif", encode(quad.convert("LAB"), "TIFF"), "tiff-LAB", size,
        quadrant_probes(tolerance=30))
    words = (0, 21845, 43690, 65535)  # k/3 of full scale: exactly 0, 85, 170, 255 in 8 bits
    i16 = Image.fromarray(quadrants(words, dtype=np.uint16))
    add("grey16.png", encode(i16, "PNG"), "png-I;16", size, grey_probes)
    add("grey16.tif", encode(i16, "TIFF"), "tiff-I;16", size, grey_probes)
    # Built from bytes: Pillow's convert("I;16B") clips at 255.
    i16b = Image.frombytes("I;16B", size, quadrants(words, dtype=">u2").tobytes())
    add("grey16_bigendian.tif", encode(i16b, "TIFF"), "tiff-I;16B", size, grey_probes)
    i32 = Image.fromarray(quadrants((0, 1000, 2000, 3000), dtype=np.int32))
    add("grey32.tif", encode(i32, "TIFF"), "tiff-I", size, grey_probes)
    unit = Image.fromarray(quadrants((0.0, 1 / 3, 2 / 3, 1.0), dtype=np.float32))
    add("float_unit.tif", encode(unit, "TIFF"), "tiff-F-unit", size, grey_probes)
    ranged = Image.fromarray(quadrants((-50.0, 50.0, 150.0, 250.0), dtype=np.float32))
    add("float_range.tif", encode(ranged, "TIFF"), "tiff-F-range", size, grey_probes)
    with_nan = Image.fromarray(quadrants((0.0, 0.5, 1.0, np.nan), dtype=np.float32))
    add("float_nan.tif", encode(with_nan, "TIFF"), "tiff-F-nan", size,
        quadrant_probes((BLACK, (128, 128, 128), WHITE, BLACK)))

    # Other containers.
    add("quadrants.bmp", encode(quad, "BMP"), "bmp", size, quadrant_probes())
    add("quadrants.tga", encode(quad, "TGA"), "tga", size, quadrant_probes())
    add("quadrants.ppm", encode(quad, "PPM"), "ppm", size, quadrant_probes())
    add("grey.pgm", encode(Image.fromarray(quadrants(greys)), "PPM"), "pgm", size, grey_probes)
    add("bilevel.pbm", encode(bilevel, "PPM"), "pbm", size,
        quadrant_probes((BLACK, WHITE, BLACK, WHITE)))
    add("quadrants.webp", encode(quad, "WEBP", quality=90), "webp-lossy", size,
        quadrant_probes(tolerance=40))
    if features.check("avif"):
        add("quadrants.avif", encode(quad, "AVIF", quality=90), "avif", size,
            quadrant_probes(tolerance=40))
    square = Image.fromarray(quadrants(width=32, height=32))
    add("icon.ico", encode(square, "ICO", sizes=[(32, 32)]), "ico", (32, 32),
        quadrant_probes(width=32, height=32))
    add("progressive.jpg", encode(quad, "JPEG", quality=95, progressive=True), "jpeg-progressive",
        size, quadrant_probes(tolerance=40))
    add("grey.jpg", encode(Image.fromarray(quadrants(greys)), "JPEG", quality=95), "jpeg-L",
        size, quadrant_probes(grey_colours, tolerance=6))
    add("two_pictures.mpo", encode(quad, "MPO", save_all=True,
                                   append_images=[Image.new("RGB", size, BLACK)]),
        "mpo", size, quadrant_probes(tolerance=40))

    # Animations and multi-page files: the first frame counts.
    frames = [Image.new("RGB", size, c) for c in (RED, BLUE, GREEN)]
    first_red = quadrant_probes((RED,) * 4, tolerance=1)
    add("animated.gif", encode(frames[0], "GIF", save_all=True, append_images=frames[1:],
                               duration=100, loop=0), "gif-animated", size, first_red)
    add("animated.png", encode(frames[0], "PNG", save_all=True, append_images=frames[1:],
                               duration=100), "apng", size, first_red)
    add("animated.webp", encode(frames[0], "WEBP", save_all=True, append_images=frames[1:],
                                lossless=True, duration=100), "webp-animated", size, first_red)
    add("multipage.tif", encode(quad, "TIFF", save_all=True, append_images=frames[1:]),
        "tiff-multipage", size, quadrant_probes())

    # EXIF orientations: every stored variant must decode to the upright quadrants.
    upright = quadrants()
    for orientation in range(1, 9):
        stored = Image.fromarray(stored_for_orientation(upright, orientation))
        add(f"exif_orientation_{orientation}.jpg",
            encode(stored, "JPEG", quality=95, exif=exif_bytes(orientation)),
            f"jpeg-exif-{orientation}", size, quadrant_probes(tolerance=40))
    stored = Image.fromarray(stored_for_orientation(upright, 6))
    add("exif_orientation_6.png", encode(stored, "PNG", exif=exif_bytes(6)), "png-exif-6",
        size, quadrant_probes())

    # Extreme shapes.
    add("one_pixel.png", encode(Image.new("RGB", (1, 1), (10, 200, 30)), "PNG"), "1x1",
        (1, 1), (Probe(0, 0, (10, 200, 30)),))
    column = np.zeros((3000, 1, 3), dtype=np.uint8)
    column[-1] = WHITE
    add("column_1x3000.png", encode(Image.fromarray(column), "PNG"), "1x3000", (1, 3000),
        (Probe(0, 0, BLACK), Probe(0, 2999, WHITE)))
    add("row_3000x1.png", encode(Image.fromarray(column.transpose(1, 0, 2)), "PNG"), "3000x1",
        (3000, 1), (Probe(0, 0, BLACK), Probe(2999, 0, WHITE)))
    if include_large:
        add("large_24mp.jpg", large_jpeg_bytes(), "jpeg-24mp", LARGE_SIZE)
    gradient = np.zeros((ROTATED_LARGE_STORED[1], ROTATED_LARGE_STORED[0], 3), dtype=np.uint8)
    gradient[..., 0] = np.linspace(0, 255, ROTATED_LARGE_STORED[0], dtype=np.uint8)[None, :]
    add("large_rotated.jpg",
        encode(Image.fromarray(gradient), "JPEG", quality=80, exif=exif_bytes(6)),
        "jpeg-exif-6-large", (ROTATED_LARGE_STORED[1], ROTATED_LARGE_STORED[0]))

    # Names and extensions that lie or are unusual.
    add("really_a_png.jpg", encode(quad, "PNG"), "png-named-jpg", size, quadrant_probes())
    add("ünïcödé fïlé 猫.png", encode(quad, "PNG"), "unicode-name", size, quadrant_probes())
    add("UPPER CASE.JPEG", encode(quad, "JPEG", quality=95), "uppercase-suffix", size,
        quadrant_probes(tolerance=40))

    # Files that must be refused.
    jpeg = encode(quad, "JPEG", quality=95)
    png = encode(quad, "PNG")
    add("empty.jpg", b"", "empty", None)
    add("text.jpg", b"This is not an image.\nJust words.\n", "text", None)
    add("notes.txt", "Ünïcode text, not pixels.\n".encode(), "text-txt", None)
    add("truncated.jpg", jpeg[: len(jpeg) // 2], "truncated-jpeg", None)
    add("truncated.png", png[: len(png) // 2], "truncated-png", None)
    gif = encode(Image.fromarray(np.random.default_rng(1).integers(0, 255, (48, 64, 3),
                                                                   dtype=np.uint8)), "GIF")
    add("truncated.gif", gif[: len(gif) // 2], "truncated-gif", None)
    add("header_only.jpg", jpeg[:20], "jpeg-header-only", None)
    add("random.jpg", np.random.default_rng(7).bytes(4096), "random-bytes", None)
    add("bomb.png", png_header_only(100_000, 100_000), "bomb-declared", None)
    add("bomb_real.png", bilevel_png(10_000, 10_000), "bomb-compressed", None)
    add("drawing.svg", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
        b'width="10" height="10"><rect width="10" height="10"/></svg>\n', "svg", None)
    add("document.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "pdf", None)
    # Refused on purpose: OpenJPEG decodes truncated JPEG 2000 files without complaint, and
    # Pillow's QOI decoder is pure Python (seconds per megapixel).
    add("picture.jp2", encode(quad, "JPEG2000"), "jpeg2000", None)
    add("picture.qoi", encode(quad, "QOI"), "qoi", None)
    add("figure.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
        "eps", None)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("photo.jpg", date_time=(2020, 1, 1, 0, 0, 0)), jpeg)
    add("archive.jpg", archive.getvalue(), "zip-named-jpg", None)
    broken = bytearray(png)
    broken[29] ^= 0xFF  # inside IHDR's CRC
    add("bad_crc.png", bytes(broken), "png-bad-crc", None)
    directory = folder / "folder.jpg"
    directory.mkdir(exist_ok=True)
    entries.append(CorpusEntry(directory, "directory-named-jpg", False, None))
    return entries
