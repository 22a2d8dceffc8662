"""decode_image and iter_image_files against the corpus of awkward and malformed files."""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, features
from support.corpus import (
    LARGE_SIZE,
    QUAD_H,
    QUAD_W,
    ROTATED_LARGE_STORED,
    CorpusEntry,
    build_corpus,
    quadrant_probes,
    quadrants,
    stored_for_orientation,
)

from desktop_app.core import image_io
from desktop_app.core.errors import ImageDecodeError, LensError
from desktop_app.core.image_io import (
    IMAGE_EXTENSIONS,
    TRANSPARENT_BACKGROUND,
    DecodedImage,
    decode_image,
    iter_image_files,
)

# Words each refusal's reason must contain, so that users learn what is wrong.
EXPECTED_REASONS = {
    "empty": "empty",
    "text": "text file",
    "text-txt": "text file",
    "truncated-jpeg": "truncated",
    "truncated-png": "truncated",
    "truncated-gif": "truncated",
    "bomb-declared": "limit",
    "bomb-compressed": "too large",
    "svg": "SVG",
    "pdf": "PDF",
    "eps": "EPS",
    "jpeg2000": "JPEG 2000",
    "qoi": "QOI",
    "zip-named-jpg": "ZIP",
    "directory-named-jpg": "folder",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CorpusEntry]:
    entries = build_corpus(tmp_path_factory.mktemp("corpus"))
    return {entry.kind: entry for entry in entries}


def _probe_failures(decoded: DecodedImage, entry: CorpusEntry) -> list[str]:
    failures = []
    for probe in entry.probes:
        got = decoded.array[probe.y, probe.x].astype(int)
        if np.abs(got - probe.rgb).max() > probe.tolerance:
            failures.append(f"({probe.x},{probe.y}) is {tuple(got)}, expected {probe.rgb}"
                            f" ±{probe.tolerance}")
    return failures


def _assert_one_line_error(error: ImageDecodeError, label: str) -> str:
    message = str(error)
    assert isinstance(error, LensError)
    assert message.startswith(f"{label}: "), message
    assert "\n" not in message and "\r" not in message, message
    assert "Traceback" not in message and len(message) < len(label) + 200, message
    return message


def test_corpus_covers_many_kinds(corpus: dict[str, CorpusEntry]) -> None:
    readable = [e for e in corpus.values() if e.readable]
    refused = [e for e in corpus.values() if not e.readable]
    assert len(corpus) >= 30
    assert len(readable) >= 30 and len(refused) >= 12
    # Nearly every readable file has pixels with a known colour.
    assert sum(1 for e in readable if e.probes) >= len(readable) - 2


def test_readable_files_decode_to_rgb_with_right_size_and_colours(
    corpus: dict[str, CorpusEntry],
) -> None:
    failures = []
    for entry in corpus.values():
        if not entry.readable:
            continue
        decoded = decode_image(entry.path)
        pixels = decoded.array
        assert decoded.image.mode == "RGB", entry.kind
        assert pixels.dtype == np.uint8 and pixels.shape == (*decoded.image.size[::-1], 3)
        assert decoded.name == str(entry.path)
        if decoded.original_size != entry.expected_size:
            failures.append(f"{entry.kind}: size {decoded.original_size}, "
                            f"expected {entry.expected_size}")
        if decoded.image.size != decoded.original_size:
            failures.append(f"{entry.kind}: decoded at {decoded.image.size} without min_side")
        failures += [f"{entry.kind}: {f}" for f in _probe_failures(decoded, entry)]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_restores_the_upright_picture(
    corpus: dict[str, CorpusEntry], orientation: int
) -> None:
    entry = corpus[f"jpeg-exif-{orientation}"]
    # The stored pixels really are turned (except for 1): the probes alone would not prove it.
    with Image.open(entry.path) as raw:
        stored_size = raw.size
    assert stored_size == ((QUAD_H, QUAD_W) if orientation >= 5 else (QUAD_W, QUAD_H))
    decoded = decode_image(entry.path)
    assert decoded.original_size == (QUAD_W, QUAD_H)
    assert not _probe_failures(decoded, entry)


def test_exif_orientation_in_png_is_exact(corpus: dict[str, CorpusEntry]) -> None:
    decoded = decode_image(corpus["png-exif-6"].path)
    np.testing.assert_array_equal(decoded.array, quadrants())


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_refused_files_raise_one_line_errors_naming_the_file(
    corpus: dict[str, CorpusEntry],
) -> None:
    for entry in corpus.values():
        if entry.readable:
            continue
        with pytest.raises(ImageDecodeError) as caught:
            decode_image(entry.path)
        message = _assert_one_line_error(caught.value, str(entry.path))
        if entry.kind in EXPECTED_REASONS:
            assert EXPECTED_REASONS[entry.kind] in message, message


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_refused_bytes_raise_with_the_given_name(corpus: dict[str, CorpusEntry]) -> None:
    for entry in corpus.values():
        if entry.readable or entry.path.is_dir():
            continue
        data = entry.path.read_bytes()
        with pytest.raises(ImageDecodeError) as caught:
            decode_image(data)
        _assert_one_line_error(caught.value, "<bytes>")
        with pytest.raises(ImageDecodeError) as caught:
            decode_image(bytearray(data), name="upload.jpg")
        _assert_one_line_error(caught.value, "upload.jpg")


def test_bytes_and_paths_decode_alike(corpus: dict[str, CorpusEntry]) -> None:
    for kind in ("jpeg-exif-6", "png-RGBA", "tiff-I;16", "gif-animated", "unicode-name"):
        path = corpus[kind].path
        from_path = decode_image(path)
        from_bytes = decode_image(memoryview(path.read_bytes()))
        np.testing.assert_array_equal(from_path.array, from_bytes.array)
        assert from_bytes.original_size == from_path.original_size
        assert from_bytes.format == from_path.format
        assert from_bytes.name == "<bytes>"


def test_unicode_and_spaces_in_paths(corpus: dict[str, CorpusEntry]) -> None:
    path = corpus["unicode-name"].path
    assert " " in path.name and "猫" in path.name
    for source in (path, str(path)):
        assert decode_image(source).original_size == (QUAD_W, QUAD_H)
    with pytest.raises(ImageDecodeError, match=r"ünïcödé fïlé 猫 missing\.png: file not found"):
        decode_image(path.with_name("ünïcödé fïlé 猫 missing.png"))


def test_formats_are_reported(corpus: dict[str, CorpusEntry]) -> None:
    assert decode_image(corpus["png-named-jpg"].path).format == "PNG"
    assert decode_image(corpus["mpo"].path).format == "MPO"
    assert decode_image(corpus["tiff-multipage"].path).format == "TIFF"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageDecodeError, match=r"nowhere\.jpg: file not found$"):
        decode_image(tmp_path / "nowhere.jpg")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.png"
    path.write_bytes(b"not checked")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user that ignores file permissions (root)")
        with pytest.raises(ImageDecodeError, match=r"secret\.png: permission denied$"):
            decode_image(path)
    finally:
        path.chmod(0o600)


def test_permission_error_on_open_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Also covers root, for whom chmod 0 does not stop reading.
    path = tmp_path / "locked.png"
    path.write_bytes(b"x")

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(image_io, "open", refuse, raising=False)
    with pytest.raises(ImageDecodeError, match=r"locked\.png: permission denied$"):
        decode_image(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.timeout(10)
def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageDecodeError, match=r"pipe\.jpg: not a regular file$"):
        decode_image(fifo)


@pytest.mark.skipif(sys.platform == "win32", reason="newlines are not allowed in names")
def test_control_characters_in_names_stay_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "two\nlines\x1b.jpg"
    path.write_bytes(b"plain text")
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(path)
    message = str(caught.value)
    assert "\n" not in message and "\x1b" not in message
    assert "two lines\\u001b.jpg: a text file" in message
    undecodable = os.fsdecode(b"caf\xe9.jpg")  # not UTF-8: a surrogate escape in the str
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(tmp_path / undecodable)
    assert "caf\\xe9.jpg: file not found" in str(caught.value)
    str(caught.value).encode("utf-8")  # printable: no lone surrogates left


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_pillow_pixel_limit_is_respected(
    corpus: dict[str, CorpusEntry], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = corpus["png-rgb"].path  # 3072 pixels
    # Above the limit, Pillow only warns, and decode_image refuses.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)
    with pytest.raises(ImageDecodeError, match=r"image too large \(64×48 = 0.00307 megapixels"):
        decode_image(path)
    # Above twice the limit, Pillow itself refuses.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageDecodeError, match=r"exceed the safety limit of 0.002 megapixels$"):
        decode_image(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert decode_image(path).original_size == (QUAD_W, QUAD_H)


def _draft_size(size: tuple[int, int], min_side: int) -> tuple[int, int]:
    """The size libjpeg's DCT scaling gives: the largest 1/s (s in 8, 4, 2, 1) keeping both
    sides >= min_side, rounded up."""
    fits = min(size) // min_side
    scale = next(s for s in (8, 4, 2, 1) if s <= max(fits, 1))
    return math.ceil(size[0] / scale), math.ceil(size[1] / scale)


@pytest.mark.parametrize("min_side", [232, 256, 600, 1100, 3000])
def test_large_jpeg_decodes_at_reduced_size(
    corpus: dict[str, CorpusEntry], min_side: int
) -> None:
    decoded = decode_image(corpus["jpeg-24mp"].path, min_side=min_side)
    assert decoded.original_size == LARGE_SIZE
    assert decoded.image.size == _draft_size(LARGE_SIZE, min_side)
    assert min(decoded.image.size) >= min_side
    if min_side == 232:
        assert decoded.image.size == (750, 500)


def test_draft_keeps_the_picture(corpus: dict[str, CorpusEntry]) -> None:
    path = corpus["jpeg-24mp"].path
    small = decode_image(path, min_side=232).array.astype(np.float32)
    full = decode_image(path).array
    # 8×8 block means of the full decode ~ the 1/8 decode (DCT scaling averages blocks).
    means = cv2.resize(full, (750, 500), interpolation=cv2.INTER_AREA).astype(np.float32)
    assert np.abs(means - small).mean() < 3.0


def test_draft_with_exif_rotation(corpus: dict[str, CorpusEntry]) -> None:
    decoded = decode_image(corpus["jpeg-exif-6-large"].path, min_side=100)
    stored_w, stored_h = ROTATED_LARGE_STORED
    assert decoded.original_size == (stored_h, stored_w)
    assert decoded.image.size == _draft_size((stored_h, stored_w), 100) == (150, 250)
    # Red grows along the stored x axis, which orientation 6 shows top to bottom.
    red = decoded.array[..., 0].astype(float)
    assert red[:5].mean() < 30 < 225 < red[-5:].mean()
    assert np.ptp(red[:, 5:-5].mean(axis=0)) < 10


def test_min_side_is_ignored_for_formats_without_draft(corpus: dict[str, CorpusEntry]) -> None:
    decoded = decode_image(corpus["3000x1"].path, min_side=1)
    assert decoded.image.size == decoded.original_size == (3000, 1)


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "256"])
def test_min_side_must_be_a_positive_int(corpus: dict[str, CorpusEntry], bad: object) -> None:
    with pytest.raises(ValueError, match="min_side"):
        decode_image(corpus["png-rgb"].path, min_side=bad)  # type: ignore[arg-type]


def test_rgb_array_is_taken_as_is() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    decoded = decode_image(rgb)
    np.testing.assert_array_equal(decoded.array, rgb)
    assert decoded.original_size == (7, 5) and decoded.name == "<array>"
    assert decoded.format is None
    strided = np.asarray(rgb[::2, ::-1])
    np.testing.assert_array_equal(decode_image(strided).array, strided)


def test_grey_and_rgba_arrays_are_converted() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(decode_image(grey).array, np.repeat(grey[..., None], 3, 2))
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)
    pixels = decode_image(rgba, name="overlay").array
    assert tuple(pixels[0, 0]) == (255, 0, 0)
    assert tuple(pixels[1, 1]) == TRANSPARENT_BACKGROUND


@pytest.mark.parametrize(
    ("array", "reason"),
    [
        (np.zeros((4, 4, 3), dtype=np.float32), "dtype float32"),
        (np.zeros((4, 4, 3), dtype=np.uint16), "dtype uint16"),
        (np.zeros((4, 4, 2), dtype=np.uint8), "shape (4, 4, 2)"),
        (np.zeros((4,), dtype=np.uint8), "shape (4,)"),
        (np.zeros((0, 4, 3), dtype=np.uint8), "shape (0, 4, 3)"),
        (np.zeros((2, 4, 4, 3), dtype=np.uint8), "shape (2, 4, 4, 3)"),
    ],
)
def test_unsupported_arrays_are_refused(array: np.ndarray, reason: str) -> None:
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(array, name="frame 3")
    message = _assert_one_line_error(caught.value, "frame 3")
    assert reason in message


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("HSV", (0, 255, 255), (255, 0, 0)),
        ("HSV", (85, 255, 255), (0, 255, 0)),
        ("YCbCr", (255, 128, 128), (255, 255, 255)),
        ("CMYK", (0, 255, 255, 0), (255, 0, 0)),
        ("LA", (200, 0), TRANSPARENT_BACKGROUND),
        ("PA", (0, 255), (0, 0, 0)),
        ("RGBa", (0, 0, 0, 0), TRANSPARENT_BACKGROUND),
        ("RGBX", (1, 2, 3, 0), (1, 2, 3)),
        ("I;16", 65535, (255, 255, 255)),
        ("I;16", 257 * 100, (100, 100, 100)),
        ("F", 0.5, (128, 128, 128)),
        ("1", 1, (255, 255, 255)),
    ],
)
def test_pil_images_of_every_mode(mode: str, value: object, expected: tuple) -> None:
    img = Image.new(mode, (3, 2), value)  # type: ignore[arg-type]
    decoded = decode_image(img)
    assert decoded.image.mode == "RGB" and decoded.original_size == (3, 2)
    assert tuple(decoded.array[1, 2]) == expected
    assert img.mode == mode  # the caller's image is untouched


def test_unconvertible_mode_is_a_decode_error() -> None:
    with pytest.raises(ImageDecodeError, match=r"^odd: corrupt or unsupported image data"):
        decode_image(Image.new("La", (2, 2)), name="odd")


def test_pil_image_with_exif_is_turned_without_touching_the_callers(
    corpus: dict[str, CorpusEntry],
) -> None:
    with Image.open(corpus["jpeg-exif-8"].path) as img:
        decoded = decode_image(img)
        assert img.size == (QUAD_H, QUAD_W)  # still as stored
        assert img.getexif().get(0x0112) == 8
    assert decoded.original_size == (QUAD_W, QUAD_H)
    assert not _probe_failures(decoded, corpus["jpeg-exif-8"])
    assert decoded.name == str(corpus["jpeg-exif-8"].path)
    assert decoded.format == "JPEG"


def test_lazy_pil_image_that_fails_to_load(corpus: dict[str, CorpusEntry]) -> None:
    with (
        Image.open(corpus["truncated-png"].path) as img,
        pytest.raises(ImageDecodeError, match="truncated"),
    ):
        decode_image(img)


def test_decoded_image_is_immutable(corpus: dict[str, CorpusEntry]) -> None:
    decoded = decode_image(corpus["png-rgb"].path)
    pixels = decoded.array
    assert pixels is decoded.array  # computed once
    assert not pixels.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        pixels[0, 0, 0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded.name = "other"  # type: ignore[misc]
    assert decode_image(decoded) is decoded
    with pytest.raises(ValueError, match="RGB"):
        DecodedImage(Image.new("L", (2, 2)), (2, 2), "grey")


def test_unsupported_source_types() -> None:
    with pytest.raises(TypeError, match="int"):
        decode_image(123)  # type: ignore[arg-type]


def test_concurrent_decoding_matches_sequential(corpus: dict[str, CorpusEntry]) -> None:
    paths = [e.path for e in corpus.values() if e.readable and e.kind != "jpeg-24mp"]
    sequential = [decode_image(p).array for p in paths]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda p: decode_image(p).array, paths * 2))
    for a, b in zip(sequential * 2, concurrent, strict=True):
        np.testing.assert_array_equal(a, b)


def test_image_extensions_are_formats_the_decoder_opens() -> None:
    registered = Image.registered_extensions()
    allowed = set(image_io._FORMATS) | {"MPO"}
    for suffix in IMAGE_EXTENSIONS:
        assert suffix == suffix.lower() and suffix.startswith(".")
        if suffix == ".avif" and not features.check("avif"):
            continue
        assert registered.get(suffix) in allowed, suffix
    assert {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"} <= IMAGE_EXTENSIONS
    assert not {".eps", ".pdf", ".jp2", ".qoi", ".svg"} & IMAGE_EXTENSIONS


def test_every_corpus_suffix_of_a_readable_file_is_scanned(
    corpus: dict[str, CorpusEntry],
) -> None:
    for entry in corpus.values():
        if entry.readable:
            assert entry.path.suffix.lower() in IMAGE_EXTENSIONS, entry.path.name


def _tree(root: Path) -> None:
    for relative in ("b.jpg", "A.PNG", "c.txt", ".hidden.jpg", ".git/x.jpg", "sub/z.jpeg",
                     "sub/deeper/y.GIF", "sub/a.webp", "sub/notes.md", "aa/k.tif"):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_iter_image_files_walks_folders_in_sorted_order(tmp_path: Path) -> None:
    _tree(tmp_path)
    found = [p.relative_to(tmp_path).as_posix() for p in iter_image_files([tmp_path])]
    assert found == ["A.PNG", "b.jpg", "aa/k.tif", "sub/a.webp", "sub/z.jpeg",
                     "sub/deeper/y.GIF"]


def test_iter_image_files_keeps_named_files_whatever_they_are(tmp_path: Path) -> None:
    _tree(tmp_path)
    named = [tmp_path / "c.txt", str(tmp_path / "missing.jpg"), tmp_path / "sub" / "deeper"]
    found = list(iter_image_files(named))
    assert found == [tmp_path / "c.txt", tmp_path / "missing.jpg",
                     tmp_path / "sub" / "deeper" / "y.GIF"]
    assert list(iter_image_files([])) == []


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_iter_image_files_does_not_follow_folder_links(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "p.jpg").write_bytes(b"")
    (tmp_path / "photos" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "photos" / "link.jpg").symlink_to(tmp_path / "photos" / "p.jpg")
    found = [p.name for p in iter_image_files([tmp_path / "photos"])]
    assert found == ["link.jpg", "p.jpg"]


def test_quadrant_helpers_agree_with_each_other() -> None:
    # Guards the corpus itself: the probe points sit inside the right quadrants.
    pixels = quadrants()
    for probe in quadrant_probes():
        assert tuple(pixels[probe.y, probe.x]) == probe.rgb
    # Each orientation's stored pixels are a distinct arrangement of the same picture.
    stored = {o: stored_for_orientation(pixels, o).tobytes() for o in range(1, 9)}
    assert len(set(stored.values())) == 8
