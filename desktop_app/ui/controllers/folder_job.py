"""A folder run as the worker thread does it: the command line's pipeline (``run_folder``:
decode ahead, batched forwards, writing behind) and its writers (``FolderOutputs``).

Plain Python, no Qt: the worker hands in how to report each file and when to stop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from desktop_app.core.errors import LensError, one_line
from desktop_app.ui.state.requests import FolderItem, FolderRunRequest, FolderRunResult

# Other CAM methods (and other layers) run image by image inside a batch anyway: a batch of
# one then costs nothing and lets a cancel, or the still on screen, in after each image.
_BATCHED_METHOD = "gradcam"


def classify_folder(classifier: Any, request: FolderRunRequest,
                    report: Callable[[FolderItem], None],
                    cancel: Callable[[], bool], *,
                    map_progress: Callable[[int, int], None] | None = None,
                    stop_map: Callable[[], bool] | None = None) -> FolderRunResult:
    """Run ``request`` on ``classifier``; ``report`` gets each file as it finishes, in
    order (on the pipeline's writer thread), ``cancel()`` is asked between batches. A slow
    map (Score-CAM, Ablation-CAM off layer4) counts its forwards for the image under way
    with ``map_progress(done, total)`` and asks ``stop_map()`` between two batches of them
    (which may use the classifier meanwhile: the map goes on where it was): True ends the
    run there, that image unwritten."""
    from desktop_app.core.map_outputs import OVERLAY_MAX_SIDE, MapOptions
    from desktop_app.core.result_log import ResultLog
    from desktop_app.inference.catalog import DEFAULT_CAM_LAYER
    from desktop_app.inference.folder_outputs import FolderOutputs, failure_line
    from desktop_app.inference.pipeline import FolderRequest, Outcome, run_folder

    output = request.output
    layer = request.cam_layer or DEFAULT_CAM_LAYER
    methods = (request.cam_method,) if output is not None else ()
    pipeline_request = FolderRequest(
        request.topk, methods, layer, output.cam_classes if output is not None else "top1",
        cam_progress=(lambda _method, _image: map_progress) if map_progress else None,
        cam_cancel=stop_map)
    with contextlib.ExitStack() as stack:
        log, maps = None, None
        if output is not None:
            folder = Path(output.folder)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                log = stack.enter_context(ResultLog(output.results_file, resume=output.resume))
            except OSError as exc:
                raise LensError(f"cannot write to {folder}: {one_line(exc)}") from exc
            maps = MapOptions(folder, "jpg", output.colormap, output.alpha,
                              None if output.full_size else OVERLAY_MAX_SIDE)
        outputs = FolderOutputs(log, maps, methods, layer,
                                resume=output is not None and output.resume)
        # run_folder numbers what it is given; the window needs each file's place in the
        # list. Set on the feeding thread before the file is given, read by the writer.
        positions: dict[int, int] = {}
        current = [0]
        written = [0]

        def listed() -> Iterator[Path]:
            for position, name in enumerate(request.files):
                current[0] = position
                yield Path(name)

        def skipped(path: Path) -> None:
            report(FolderItem(request.id, current[0], str(path), skipped=True))

        def given() -> Iterator[Any]:
            for index, item in enumerate(outputs.pending(listed(), skipped)):
                positions[index] = current[0]
                yield item

        def write(outcome: Outcome) -> None:
            position = positions.pop(outcome.index)
            try:
                record = outputs.write(outcome)
                error = outcome.error
            except (LensError, OSError) as exc:
                record, error = None, one_line(exc)
            source = str(outcome.path)
            if record is None:
                report(FolderItem(request.id, position, source,
                                  error=failure_line(source, error or "unreadable image")))
                return
            written[0] += len(record["maps"])
            report(FolderItem(request.id, position, source, outcome.predictions[0]))

        batch = None if request.cam_method == _BATCHED_METHOD or not methods else 1
        completed = run_folder(classifier, given(), pipeline_request, write,
                               batch_size=batch, cancel=cancel)
    return FolderRunResult(request, completed, outputs.skipped, written[0])
