"""Mutated image files: decode_image returns a valid image or raises ImageDecodeError.

Anything else (another exception type, a hang, a malformed result) is a failure. Two kinds of
input per format: prefixes of a small valid file (every one within its first 256 and last 64
bytes, where headers and trailers are, and about 1000 in all), and
Hypothesis-driven mutations (bit flips, byte overwrites with extreme values, insertions,
deletions, truncation). Hypothesis runs derandomized with no example database, and prints the
falsifying input should one fail.

The number of inputs tried is reported per format with ``record_property`` (JUnit XML:
``pytest --junitxml=...``) and printed as ``fuzz-summary ...`` lines (visible with ``-rP``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import features
from support.corpus import sample_bytes

from desktop_app.core.errors import ImageDecodeError
from desktop_app.core.image_io import DecodedImage, decode_image

FORMATS = ("PNG", "JPEG", "GIF", "TIFF", "BMP", "WEBP", "ICO", "TGA", "PPM",
           *(("AVIF",) if features.check("avif") else ()))
EXAMPLES_PER_FORMAT = 300
RecordProperty = Callable[[str, object], None]
# Overwrites that turn size, offset and count fields into extreme values.
EXTREMES = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00", b"\xff\xff", b"\x7f\xff\xff\xff",
            b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x00\x01\x00\x00")


def mutate(seed: bytes, operations: list[tuple]) -> bytes:
    data = bytearray(seed)
    for op, *args in operations:
        if not data:
            break
        position = args[0] % len(data)
        if op == "flip":
            data[position] ^= 1 << args[1]
        elif op == "overwrite":
            data[position:position + len(args[1])] = args[1]
        elif op == "insert":
            data[position:position] = args[1]
        elif op == "delete":
            del data[position:position + args[1]]
        elif op == "truncate":
            del data[position:]
    return bytes(data)


def mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    """Files close to ``seed``: headers (first 128 bytes) are mutated as often as the rest."""
    last = len(seed) - 1
    position = st.one_of(st.integers(0, min(127, last)), st.integers(0, last))
    operation = st.one_of(
        st.tuples(st.just("flip"), position, st.integers(0, 7)),
        st.tuples(st.just("overwrite"), position,
                  st.one_of(st.sampled_from(EXTREMES), st.binary(min_size=1, max_size=8))),
        st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=32)),
        st.tuples(st.just("delete"), position, st.integers(1, 64)),
        st.tuples(st.just("truncate"), position),
    )
    return st.lists(operation, min_size=1, max_size=6).map(lambda ops: mutate(seed, ops))


def truncation_points(size: int, budget: int = 1000) -> list[int]:
    """Every cut near the start and the end of a file, evenly spaced ones in between."""
    edges = set(range(min(size, 256))) | set(range(max(0, size - 64), size))
    stride = max(1, size // budget)
    return sorted(edges | set(range(0, size, stride)))


def check_outcome(data: bytes, min_side: int | None, outcome: Counter) -> DecodedImage | None:
    """Decode and count the outcome; any exception but ImageDecodeError propagates."""
    outcome["tried"] += 1
    try:
        decoded = decode_image(data, min_side=min_side)
    except ImageDecodeError as error:
        message = str(error)
        assert message.startswith("<bytes>: ") and "\n" not in message, message
        outcome["refused"] += 1
        return None
    assert isinstance(decoded, DecodedImage) and decoded.image.mode == "RGB"
    width, height = decoded.image.size
    assert decoded.array.shape == (height, width, 3) and decoded.array.dtype == np.uint8
    assert width >= 1 and height >= 1
    assert decoded.original_size[0] >= width and decoded.original_size[1] >= height
    outcome["decoded"] += 1
    return decoded


def report(fmt: str, kind: str, outcome: Counter, record_property: RecordProperty) -> None:
    record_property(f"fuzz_{kind}_{fmt}_tried", outcome["tried"])
    record_property(f"fuzz_{kind}_{fmt}_decoded", outcome["decoded"])
    record_property(f"fuzz_{kind}_{fmt}_refused", outcome["refused"])
    print(f"fuzz-summary {kind} {fmt}: tried={outcome['tried']} decoded={outcome['decoded']} "
          f"refused={outcome['refused']}")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.filterwarnings("ignore")  # Pillow warns about corrupt EXIF, bombs, etc.
@pytest.mark.timeout(120)
def test_every_truncation_is_decoded_or_refused(
    fmt: str, record_property: RecordProperty
) -> None:
    seed = sample_bytes(fmt)
    intact = decode_image(seed).array
    outcome: Counter = Counter()
    for end in truncation_points(len(seed)):
        decoded = check_outcome(seed[:end], None, outcome)
        if decoded is not None:
            # Only trailers (end markers, checksums) may be missing from a prefix that
            # decodes: its pixels must all be there, never a partly grey picture.
            np.testing.assert_array_equal(decoded.array, intact)
    report(fmt, "truncation", outcome, record_property)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.filterwarnings("ignore")
@pytest.mark.timeout(180)  # the real guard against a hang; the deadline catches slow inputs
def test_mutated_files_are_decoded_or_refused(
    fmt: str, record_property: RecordProperty
) -> None:
    seed = sample_bytes(fmt)
    outcome: Counter = Counter()

    @settings(
        max_examples=EXAMPLES_PER_FORMAT,
        deadline=timedelta(seconds=5),
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=mutations(seed), min_side=st.sampled_from([None, 8]))
    def decode_mutant(data: bytes, min_side: int | None) -> None:
        check_outcome(data, min_side, outcome)

    decode_mutant()
    assert outcome["tried"] >= EXAMPLES_PER_FORMAT * 0.9
    assert outcome["refused"] >= 1
    report(fmt, "mutation", outcome, record_property)
