"""Colormaps, the Grad-CAM overlay blend, and atomic export."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from desktop_app.core import atomic
from desktop_app.core.atomic import PART_SUFFIX
from desktop_app.core.colormaps import COLORMAPS, apply_colormap, colormap_indices, lut
from desktop_app.core.geometry import CropGeometry
from desktop_app.core.overlay import overlay, save_npy, save_png
from desktop_app.core.results import CamMaps

NAN = np.nan


@pytest.mark.parametrize("name", COLORMAPS)
def test_lut_is_opencvs_colormap_in_rgb_order(name: str) -> None:
    code = getattr(cv2, f"COLORMAP_{name.upper()}")
    bgr = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], code)[:, 0]
    table = lut(name)
    assert table.shape == (256, 3) and table.dtype == np.uint8
    np.testing.assert_array_equal(table, bgr[:, ::-1])
    assert lut(name) is table and not table.flags.writeable


def test_required_colormaps_exist_and_jet_runs_blue_to_red() -> None:
    assert {"jet", "turbo", "inferno", "viridis"} <= set(COLORMAPS)
    # Written out, not derived from OpenCV: RGB order means jet starts blue and ends red.
    assert tuple(lut("jet")[0]) == (0, 0, 128)
    assert tuple(lut("jet")[255]) == (128, 0, 0)


def test_unknown_colormap_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown colormap 'rainbow'; choose one of: jet, turbo"):
        lut("rainbow")


def test_apply_colormap_quantises_clips_and_blackens_nan() -> None:
    values = np.array([0.0, 1.0, 0.5, 0.2, -1.0, 2.0, np.inf, -np.inf, NAN], dtype=np.float32)
    expected_index = [0, 255, 128, 51, 0, 255, 255, 0, 0]
    np.testing.assert_array_equal(colormap_indices(values), expected_index)
    rgb = apply_colormap(values, "viridis")
    np.testing.assert_array_equal(rgb[:-1], lut("viridis")[expected_index[:-1]])
    assert tuple(rgb[-1]) == (0, 0, 0)
    grid = apply_colormap(np.zeros((2, 3), dtype=np.float64), "hot")
    assert grid.shape == (2, 3, 3) and grid.dtype == np.uint8
    with pytest.raises(TypeError, match="float"):
        apply_colormap(np.zeros(3, dtype=np.uint8), "jet")


def test_overlay_math_on_a_tiny_image() -> None:
    image = np.full((2, 2, 3), 100, dtype=np.uint8)
    cam = np.array([[0.0, 1.0], [NAN, 0.5]], dtype=np.float32)
    out = overlay(image, cam, "jet", alpha=0.25, dim_unseen=0.5)
    # jet: 0 -> (0, 0, 128), 1 -> (128, 0, 0), 0.5 -> index 128 -> (130, 255, 126).
    expected = np.array(
        [
            [[75, 75, 107], [107, 75, 75]],   # 0.75·100 + 0.25·colour
            [[50, 50, 50], [108, 139, 106]],  # unseen: 0.5·100; 107.5 and 106.5 round to even
        ],
        dtype=np.uint8,
    )
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.uint8


def test_overlay_matches_a_float64_reference() -> None:
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    cam = rng.random((37, 53)).astype(np.float32)
    cam[rng.random((37, 53)) < 0.3] = NAN
    alpha, dim = 0.35, 0.7
    out = overlay(image, cam, "turbo", alpha=alpha, dim_unseen=dim)
    colours = apply_colormap(cam, "turbo").astype(np.float64)
    exact = np.where(
        np.isnan(cam)[..., None],
        image * (1 - dim),
        image * (1 - alpha) + colours * alpha,
    )
    diff = np.abs(out - np.rint(exact))
    # OpenCV blends in float32, so values that are exactly k + 0.5 in decimal (0.65·10 +
    # 0.35·100 = 41.5) may round either way; every other pixel must match exactly.
    near_tie = np.abs(exact % 1.0 - 0.5) < 1e-4
    assert diff.max() <= 1 and not (diff[~near_tie] > 0).any()


def test_unseen_region_is_dimmed_not_coloured() -> None:
    image = np.full((4, 6, 3), (90, 150, 210), dtype=np.uint8)
    cam = np.full((4, 6), NAN, dtype=np.float32)
    cam[1:3, 2:4] = 1.0
    out = overlay(image, cam, "jet", alpha=0.5, dim_unseen=0.4)
    unseen = np.isnan(cam)
    assert (out[unseen] == (54, 90, 126)).all()  # 0.6 × pixel, hue kept
    assert (out[~unseen] == (109, 75, 105)).all()  # mid-way to jet's dark red (128, 0, 0)
    np.testing.assert_array_equal(overlay(image, cam, dim_unseen=0.0)[unseen], image[unseen])
    assert (overlay(image, cam, dim_unseen=1.0)[unseen] == 0).all()


def test_alpha_extremes() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)
    cam = rng.random((5, 5))
    np.testing.assert_array_equal(overlay(image, cam, alpha=0.0), image)
    np.testing.assert_array_equal(overlay(image, cam, "inferno", alpha=1.0),
                                  apply_colormap(cam, "inferno"))


def test_overlay_leaves_inputs_alone_and_accepts_read_only_and_strided_arrays() -> None:
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
    cam = rng.random((8, 10)).astype(np.float32)
    cam[0] = NAN
    image_before, cam_before = image.copy(), cam.copy()
    image.setflags(write=False)
    cam.setflags(write=False)
    out = overlay(image, cam)
    np.testing.assert_array_equal(image, image_before)
    np.testing.assert_array_equal(cam, cam_before)
    assert out.flags.writeable and not np.shares_memory(out, image)
    strided = overlay(image[::2, ::-1], cam[::2, ::-1])
    np.testing.assert_array_equal(strided, overlay(image[::2, ::-1].copy(),
                                                   cam[::2, ::-1].copy()))


def test_overlay_of_a_real_cam_map_dims_what_the_model_did_not_see() -> None:
    # A landscape image: the centre crop leaves bands left and right unseen.
    geometry = CropGeometry.for_transform(120, 60, resize_size=64, crop_size=56)
    grid = np.linspace(0, 1, 49, dtype=np.float32).reshape(7, 7)
    cams = CamMaps({3: grid}, geometry, (120, 60))
    image = np.full((60, 120, 3), 200, dtype=np.uint8)
    cam = cams.at_size(3, 120, 60)
    out = overlay(image, cam, "viridis", alpha=0.6, dim_unseen=0.5)
    seen = geometry.seen_mask()
    assert seen[30, 60] and not seen[:, 0].any() and not seen[0].any()
    assert (out[~seen] == 100).all()
    assert (out[seen] != 100).any(axis=-1).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"image_rgb": [[0]]}, TypeError, "numpy array"),
        ({"image_rgb": np.zeros((4, 4, 3), dtype=np.float32)}, TypeError, "uint8"),
        ({"image_rgb": np.zeros((4, 4), dtype=np.uint8)}, ValueError, "shape"),
        ({"cam": np.zeros((4, 4), dtype=np.uint8)}, TypeError, "float"),
        ({"cam": [[0.5]]}, TypeError, "numpy array"),
        ({"cam": np.zeros((2, 2), dtype=np.float32)}, ValueError, "at_size"),
        ({"alpha": 1.5}, ValueError, "alpha"),
        ({"alpha": float("nan")}, ValueError, "alpha"),
        ({"alpha": "0.5"}, TypeError, "alpha"),
        ({"dim_unseen": -0.1}, ValueError, "dim_unseen"),
        ({"dim_unseen": True}, TypeError, "dim_unseen"),
        ({"colormap": "nope"}, ValueError, "unknown colormap"),
    ],
)
def test_overlay_validates_arguments(kwargs: dict, error: type, match: str) -> None:
    args = {
        "image_rgb": np.zeros((4, 4, 3), dtype=np.uint8),
        "cam": np.zeros((4, 4), dtype=np.float32),
        **kwargs,
    }
    with pytest.raises(error, match=match):
        overlay(**args)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(PART_SUFFIX))


def test_save_png_round_trips_rgb_and_grey(tmp_path: Path) -> None:
    rgb = np.zeros((3, 4, 3), dtype=np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[2, 3] = (0, 0, 255)
    path = tmp_path / "überlay 1.png"
    save_png(path, rgb)
    with Image.open(path) as img:
        assert img.format == "PNG" and img.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(img), rgb)
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    save_png(str(path), grey)  # replaces the first file
    with Image.open(path) as img:
        np.testing.assert_array_equal(np.asarray(img), grey)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("array", "error"),
    [
        (np.zeros((2, 2, 3), dtype=np.float32), TypeError),
        (np.zeros((2, 2, 4), dtype=np.uint8), ValueError),
        (np.zeros((0, 2, 3), dtype=np.uint8), ValueError),
    ],
)
def test_save_png_rejects_bad_arrays_without_writing(
    tmp_path: Path, array: np.ndarray, error: type
) -> None:
    with pytest.raises(error):
        save_png(tmp_path / "x.png", array)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cam.png"
    path.write_bytes(b"old contents")

    def disk_full(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_png(path, np.zeros((2, 2, 3), dtype=np.uint8))
    with pytest.raises(OSError, match="No space left"):
        save_npy(path, np.zeros(3))
    assert path.read_bytes() == b"old contents"
    assert _leftovers(tmp_path) == []


def test_interrupted_write_removes_the_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cam.npy"

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_npy(path, np.ones(4))
    assert list(tmp_path.iterdir()) == []


def test_save_into_a_missing_folder_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        save_png(tmp_path / "missing" / "x.png", np.zeros((2, 2, 3), dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_save_npy_round_trips_exactly_at_the_given_path(tmp_path: Path) -> None:
    cam = np.array([[0.25, NAN], [1.0, 0.0]], dtype=np.float32)
    path = tmp_path / "map.cam"  # np.save would append .npy to a path; ours does not
    save_npy(path, cam)
    assert [p.name for p in tmp_path.iterdir()] == ["map.cam"]
    loaded = np.load(path, allow_pickle=False)
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, cam)
    with pytest.raises(ValueError, match="object"):
        save_npy(path, np.array([{"a": 1}], dtype=object))
    with pytest.raises(TypeError, match="numpy array"):
        save_npy(path, [1, 2, 3])  # type: ignore[arg-type]
    np.testing.assert_array_equal(np.load(path), cam)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_saved_files_get_the_usual_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    path = tmp_path / "shared.png"
    save_png(path, np.zeros((1, 1, 3), dtype=np.uint8))
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
