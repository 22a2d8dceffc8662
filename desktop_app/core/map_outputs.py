"""The map files a folder run writes for one image: overlays or raw maps, one per class
and CAM method, named ``<stem>.top<rank>-<class>.<method>.<layer>.<format>``.

What each format costs, per map, for a 3-megapixel photo (measured, layer4):
``jpg`` overlay capped at 1024 px ~0.1-0.15 MB; ``png`` capped ~1 MB; full-size overlays
(``max_side=None``) ~0.6 MB as JPEG, ~4 MB as PNG; ``npz`` (float16 grid + crop geometry,
full map by ``desktop_app.load_map``) ~1 KB; ``npy`` (float32, full size) 4 bytes per
pixel, 12 MB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop_app.core.results import Prediction

OVERLAY_FORMATS = ("jpg", "png")
MAP_FORMATS = (*OVERLAY_FORMATS, "npz", "npy")
OVERLAY_MAX_SIDE = 1024  # a screenful: enough to see what the model looked at


@dataclass(frozen=True)
class MapOptions:
    folder: Path
    format: str = "jpg"
    colormap: str = "jet"
    alpha: float = 0.5
    max_side: int | None = OVERLAY_MAX_SIDE  # overlays only; None: the photo's full size


def write_maps(options: MapOptions, source: Path, stem: str,
               predictions: Sequence[Prediction]) -> list[dict[str, Any]]:
    """Write every map of ``predictions`` (one per CAM method) for the image at ``source``;
    return a description of each file (method, layer, class, path) for the results."""
    # Here, not above: the command line reads this module's formats for --help, which
    # must not wait for OpenCV.
    from desktop_app.core.image_io import decode_for_overlay
    from desktop_app.core.map_files import SavedMap, save_map
    from desktop_app.core.overlay import overlay, save_jpeg, save_npy, save_png

    pixels = None  # decoded once for all overlays, only when one is written
    written: list[dict[str, Any]] = []
    for pred in predictions:
        if pred.cams is None:
            continue
        rank = {s.index: r for r, s in enumerate(pred.topk, start=1)}
        for index in pred.cams:
            name = f"{stem}.top{rank[index]}" if index in rank else f"{stem}.class"
            target = options.folder / (
                f"{name}-{index}.{pred.cam_method}.{pred.cam_layer}.{options.format}")
            if options.format in OVERLAY_FORMATS:
                if pixels is None:
                    pixels = decode_for_overlay(source, options.max_side).array
                height, width = pixels.shape[:2]
                image = overlay(pixels, pred.cams.at_size(index, width, height),
                                options.colormap, options.alpha)
                (save_jpeg if options.format == "jpg" else save_png)(target, image)
            elif options.format == "npz":
                save_map(target, SavedMap(pred.cams.grid(index), pred.cams.geometry,
                                          pred.cams.size, index, str(pred.cam_method),
                                          str(pred.cam_layer)))
            else:
                save_npy(target, pred.cams[index])
            written.append({"method": pred.cam_method, "layer": pred.cam_layer,
                            "class": index, "path": str(target)})
    return written
