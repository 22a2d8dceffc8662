"""``resnet-lens``: the window by default; ``predict``, ``train``, ``sanity``, ``weights``
and ``bench`` sub-commands.

Heavy modules (torch, Qt) are imported inside the commands that need them, so ``resnet-lens``
reaches the window quickly and ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from desktop_app import __version__
from desktop_app.core.errors import InvalidArgument, LensError, one_line
from desktop_app.core.map_outputs import MAP_FORMATS, OVERLAY_MAX_SIDE
from desktop_app.core.process import configure_logging
from desktop_app.core.teach_recipe import DEFAULT_RECIPE, Recipe
from desktop_app.inference.catalog import (
    AUGMENTATIONS,
    CAM_METHODS,
    DEFAULT_CAM_LAYER,
    DEFAULT_CAM_METHOD,
    DEFAULT_MODEL,
    FAITHFULNESS_METRICS,
    MODEL_NAMES,
)

if TYPE_CHECKING:
    from desktop_app.core.evaluation import Evaluation
    from desktop_app.inference.training import TrainedModel

SUBCOMMANDS = ("predict", "train", "sanity", "weights", "bench")
PROG = "resnet-lens"
# Building the fused forward takes as long as this many eager forwards save
# (tests/bench/bench_backends.py): fewer are fastest with eager PyTorch, e.g. one photo.
FORWARDS_TO_COMPILE = 24


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--self-test" in args:
        from desktop_app.selftest import main as self_test

        args.remove("--self-test")
        return self_test(args)
    if not args or args[0] not in (*SUBCOMMANDS, "-h", "--help", "--version"):
        from desktop_app.ui.app import main as gui_main

        return gui_main(args)
    parser = _parser()
    options = parser.parse_args(args)
    configure_logging(logging.WARNING, f"{PROG}: %(message)s")
    try:
        return int(options.run(options))
    except LensError as exc:
        _err(one_line(exc))
        return 2
    except OSError as exc:  # e.g. the disk filled up while writing maps
        _err(one_line(exc))
        return 1
    except KeyboardInterrupt:  # Ctrl+C, e.g. during Score-CAM's forwards
        if sys.stderr is not None and sys.stderr.isatty():
            sys.stderr.write("\n")  # end a progress line
        _err("interrupted")
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="See what a ResNet sees. With no sub-command (or with image paths), "
        "opens the window. --self-test checks an installation (Qt, model, a sample image) "
        "and prints a JSON result.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    predict = sub.add_parser(
        "predict",
        help="classify images, folders, globs or @list files, optionally saving maps",
        description="Classify images. Inputs: files, folders (walked recursively, in name "
        "order), globs such as 'photos/**/*.jpg', or @FILE listing one path per line. "
        "Files are decoded ahead on a small thread pool, run through the model in batches "
        "and written behind on a writer thread; memory stays bounded on any number of files.",
    )
    predict.add_argument("inputs", nargs="+", metavar="IMAGE_FOLDER_GLOB_OR_@LIST")
    _model_options(predict)
    predict.add_argument("--topk", type=_positive_int, default=5,
                         help="classes to report (default 5)")
    predict.add_argument(
        "--cam-layer",
        default=DEFAULT_CAM_LAYER,
        help="layer4 (default), layer1-3, or a block such as layer3.5",
    )
    predict.add_argument(
        "--cam-classes",
        type=_cam_classes,
        default="top1",
        metavar="top1|topk|I,J,…",
        help="classes to map with --cam-dir: top1 (default), topk (each reported class: "
        "--topk times the files and time), or class indices",
    )
    predict.add_argument(
        "--cam",
        type=_method_list,
        default=[DEFAULT_CAM_METHOD],
        metavar="METHOD[,METHOD…]",
        help=f"CAM methods for --cam-dir: {', '.join(CAM_METHODS)} (default {DEFAULT_CAM_METHOD});"
        " maps are named <image>.top<rank>-<class>.<method>.<layer>.<format>",
    )
    predict.add_argument(
        "--metrics",
        type=_metric_list,
        default=[],
        metavar="METRIC[,METRIC…]",
        help=f"score each map's faithfulness: {', '.join(FAITHFULNESS_METRICS)} (deletion: "
        "lower is better; insertion and road: higher is better)",
    )
    predict.add_argument("--aug-smooth", action="store_true",
                         help="average the maps of 6 flipped/scaled inputs (6x the cost)")
    predict.add_argument("--eigen-smooth", action="store_true",
                         help="first principal component of the weighted activations")
    predict.add_argument("--cam-dir", type=Path, help="write CAM maps into this folder")
    predict.add_argument(
        "--cam-format",
        choices=MAP_FORMATS,
        default="jpg",
        help="per map, for a 3-megapixel photo: jpg (default) overlay, at most "
        f"{OVERLAY_MAX_SIDE} px, ~0.15 MB; png lossless overlay ~1 MB; npz raw map, "
        "float16 grid + crop geometry, ~1 KB (full-size array: desktop_app.load_map(path)); "
        "npy raw float32 map at full size, NaN where the model saw nothing, 12 MB",
    )
    predict.add_argument("--full-size", action="store_true",
                         help="overlays at the photo's own size (a 3-megapixel photo: "
                         "~0.6 MB as jpg, ~4 MB as png, and slower)")
    predict.add_argument("--colormap", default="jet",
                         help="overlay colormap: jet (default), turbo, inferno, viridis, …")
    predict.add_argument("--alpha", type=_fraction, default=0.5,
                         help="overlay opacity from 0 to 1 (default 0.5)")
    predict.add_argument("--json", action="store_true",
                         help='one JSON object per image; a file that fails gets '
                         '{"file": …, "error": …}')
    predict.add_argument("--out", type=Path, metavar="FILE.jsonl",
                         help="also write the JSON lines to FILE, each flushed as its image "
                         "is done (an interrupted run keeps every finished image)")
    predict.add_argument("--resume", action="store_true",
                         help="with --out: skip images whose line is in FILE and whose map "
                         "files exist (same --cam, --cam-layer, --cam-format); add the rest")
    predict.add_argument("--batch-size", type=_positive_int, default=None,
                         help="images per forward (default: 1 on a CPU, where the fused forward "
                         "is fastest per image, 32 on CUDA; with --cluster, Ray's batches: 8)")
    predict.add_argument("--cluster", metavar="ray[://ADDRESS]",
                         help="run on Ray Data (pip install 'resnet-lens[cluster]'): ray for a "
                         "local instance or the one RAY_ADDRESS names, ray://HOST:10001 for a "
                         "cluster; inputs must be readable by the workers")
    predict.set_defaults(run=_run_predict, parser=predict)

    train = sub.add_parser(
        "train", help="teach a model your own classes: one sub-folder of images per class")
    train.add_argument("data_dir", type=Path, metavar="DATA_DIR",
                       help="a folder with one sub-folder per class; the folder name is the label")
    train.add_argument("--out", type=Path, required=True, metavar="FILE.safetensors",
                       help="the new checkpoint; FILE.txt (labels) and FILE.report.json go beside")
    _model_options(train)
    train.add_argument("--linear-only", action="store_true",
                       help="train only a linear head on the frozen features (fastest)")
    train.add_argument("--epochs", type=_positive_int, default=DEFAULT_RECIPE.epochs,
                       help=f"fine-tuning epochs at most (default {DEFAULT_RECIPE.epochs}; "
                       "early stopping may end sooner)")
    train.add_argument("--lr", type=_positive_float, default=DEFAULT_RECIPE.learning_rate,
                       help="fine-tuning learning rate "
                       f"(default {DEFAULT_RECIPE.learning_rate:g})")
    train.add_argument("--val-split", type=_open_fraction, default=DEFAULT_RECIPE.val_split,
                       help=f"share of each class held out for validation "
                       f"(default {DEFAULT_RECIPE.val_split:g})")
    train.add_argument("--seed", type=_whole_number, default=DEFAULT_RECIPE.seed,
                       help="random seed: the same seed and images give the same model")
    train.add_argument("--cache-dir", type=Path, default=None,
                       help="feature cache folder (default: $RESNET_LENS_CACHE_DIR, else the "
                       "user cache folder)")
    train.add_argument("--json", action="store_true",
                       help="print the report (as written to FILE.report.json) as JSON")
    train.add_argument("--onnx", action="store_true",
                       help="also write FILE.onnx (normalised image batch to logits; needs "
                       "pip install 'resnet-lens[onnx]')")
    train.set_defaults(run=_run_train, parser=train)

    sanity = sub.add_parser(
        "sanity", help="model-randomisation check: do the maps change when the weights do?")
    sanity.add_argument("image", metavar="IMAGE")
    _model_options(sanity)
    sanity.add_argument("--cam", type=_method_list, default=[DEFAULT_CAM_METHOD],
                        metavar="METHOD[,METHOD…]",
                        help=f"methods to check: {', '.join(CAM_METHODS)} "
                        f"(default {DEFAULT_CAM_METHOD})")
    sanity.add_argument("--cam-layer", default=DEFAULT_CAM_LAYER,
                        help="layer4 (default), layer1-3, or a block such as layer3.5")
    sanity.add_argument("--class", dest="class_index", type=_whole_number, default=None,
                        metavar="I", help="class index to map (default: the top class)")
    sanity.add_argument("--seed", type=_whole_number, default=0,
                        help="seed of the re-initialisation (default 0)")
    sanity.add_argument("--json", action="store_true", help="one JSON object")
    sanity.set_defaults(run=_run_sanity, parser=sanity)

    weights = sub.add_parser("weights", help="list models and cached weights; fetch them now")
    weights.add_argument(
        "--fetch",
        nargs="+",
        metavar="MODEL",
        help=f"download these models' weights for offline use ('all' = {', '.join(MODEL_NAMES)})",
    )
    weights.set_defaults(run=_run_weights)

    bench = sub.add_parser("bench", help="per-stage latency of predict")
    bench.add_argument(
        "--models",
        nargs="+",
        default=["resnet18", "resnet50"],
        choices=MODEL_NAMES,
        metavar="MODEL",
    )
    bench.add_argument("--devices", nargs="+", default=["auto"], metavar="DEVICE")
    bench.add_argument("--runs", type=_positive_int, default=20)
    bench.add_argument("--warmup", type=_whole_number, default=5)
    bench.add_argument("--size", default="640x480", help="input image WxH (default 640x480)")
    bench.add_argument("--topk", type=_positive_int, default=5)
    bench.add_argument("--cam-layer", default=DEFAULT_CAM_LAYER)
    bench.add_argument("--backend", default="auto", help="auto, eager, onednn or torchscript")
    bench.set_defaults(run=_run_bench)
    return parser


def _model_options(parser: argparse.ArgumentParser) -> None:
    """The model options of every command that loads a model, the window's included (its
    launcher, ``desktop_app.ui.app``, adds them from here)."""
    parser.add_argument(
        "--model",
        choices=MODEL_NAMES,
        default=None,
        help=f"architecture (default {DEFAULT_MODEL}, or inferred from --weights)",
    )
    parser.add_argument("--weights", type=Path, help="weights file (.pth, .pt, .safetensors)")
    parser.add_argument("--labels", type=Path, help="labels file (.txt one per line, or .json)")
    parser.add_argument("--device", default="auto",
                        help="auto (default; the window: as last time), cpu, cuda, cuda:1, mps")


def _cam_classes(text: str) -> str | list[int]:
    if text in ("top1", "topk"):
        return text
    try:
        indices = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        indices = []
    if not indices or min(indices) < 0:
        raise argparse.ArgumentTypeError(
            f"expected top1, topk or class indices from 0 up such as 0,3, got {text!r}")
    return indices


def _names_from(choices: Sequence[str], what: str) -> Callable[[str], list[str]]:
    """A comma-separated list of names from ``choices``, repeats dropped, order kept."""
    def parse(text: str) -> list[str]:
        names = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [n for n in names if n not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(unknown) or repr(text)}; "
                f"choose from {', '.join(choices)}")
        return list(dict.fromkeys(names))

    return parse


_method_list = _names_from(CAM_METHODS, "CAM method")
_metric_list = _names_from(FAITHFULNESS_METRICS, "metric")


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected a whole number from {minimum} up, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1)
_whole_number = _int_at_least(0)


def _number_where(accepts: Callable[[float], bool], expected: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")  # accepted by none of the tests below
        if not accepts(value) or value == float("inf"):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_fraction = _number_where(lambda v: 0.0 <= v <= 1.0, "a number from 0 to 1")
_positive_float = _number_where(lambda v: v > 0.0, "a number above 0")
_open_fraction = _number_where(lambda v: 0.0 < v < 1.0, "a number between 0 and 1")


def _bad_argument(options: argparse.Namespace, option: str, message: str) -> NoReturn:
    """argparse's own one-line error and exit status 2, for what only the model can check."""
    parser: argparse.ArgumentParser = options.parser
    parser.exit(2, f"{parser.prog}: error: argument {option}: {message}\n")


def _run_predict(options: argparse.Namespace) -> int:
    from desktop_app.core.sources import iter_inputs

    if options.cam_dir:  # OpenCV's tables, imported only when maps are drawn
        from desktop_app.core.colormaps import COLORMAPS

        if options.colormap not in COLORMAPS:  # before the slow model load
            _bad_argument(options, "--colormap", f"unknown colormap {options.colormap!r}; "
                          f"choose from {', '.join(COLORMAPS)}")
    if options.resume and not options.out:
        _bad_argument(options, "--resume", "needs --out FILE, the results it continues")
    if options.cluster:
        _check_cluster(options)
    if options.cam_dir:
        _check_writable(options, "--cam-dir", options.cam_dir)
    stream = iter_inputs(options.inputs)
    # A few files ahead: how many there are decides the forward, and inputs that name
    # nothing are reported before the model loads (which may fail for its own reasons).
    head: list[Path] = []
    missing = 0
    for item in stream:
        if isinstance(item, Path):
            head.append(item)
            if len(head) == FORWARDS_TO_COMPILE:
                break
        else:
            missing += 1
            _report_failure(options, item.item, item.reason)
    if not head:  # nothing to classify: the model (a download, perhaps) is not needed
        if not missing:
            _err("no images to classify")
        return 1
    if options.out:  # said before the slow model load; the file itself is left as it is
        if options.out.is_dir():
            _bad_argument(options, "--out", f"{options.out}: a folder, not a file")
        _check_writable(options, "--out", options.out.parent)
    clf = _load_for_predict(options, files=len(head))
    with contextlib.ExitStack() as stack:
        log = None
        if options.out:
            from desktop_app.core.result_log import ResultLog

            log = stack.enter_context(ResultLog(options.out, resume=options.resume))
        failed = _predict_stream(options, clf, itertools.chain(head, stream), log)
    return 1 if failed or missing else 0


def _check_writable(options: argparse.Namespace, option: str, folder: Path) -> None:
    """Exit status 2 naming ``option`` unless files can be written into ``folder`` (made if
    missing): said before any slow work, not after it."""
    from desktop_app.core.atomic import check_writable

    try:
        check_writable(folder)
    except OSError as exc:
        _bad_argument(options, option, one_line(exc))


def _fused_forwards(options: argparse.Namespace, files: int) -> int:
    """How many forwards through the fused path (when built) ``files`` images will take,
    ``FORWARDS_TO_COMPILE`` standing for "many"."""
    methods = options.cam if options.cam_dir or options.metrics else ()
    if options.metrics or "scorecam" in methods:
        return FORWARDS_TO_COMPILE  # one per perturbed or masked input: dozens to thousands
    if methods and options.cam_layer != DEFAULT_CAM_LAYER:
        return 0  # maps off layer4 need the eager split forward anyway
    return files * (len(AUGMENTATIONS) if methods and options.aug_smooth else 1)


def _load_for_predict(options: argparse.Namespace, files: int):
    from desktop_app.inference import load_classifier

    clf = load_classifier(
        options.model,
        options.weights,
        options.labels,
        options.device,
        progress=_download_progress(),
        backend="auto" if _fused_forwards(options, files) >= FORWARDS_TO_COMPILE else "eager",
    )
    try:
        clf.check_arguments(options.topk, "gradcam", options.cam_layer, options.cam_classes)
    except InvalidArgument as exc:
        _bad_argument(options, f"--{exc.argument.replace('_', '-')}", str(exc))
    return clf


def _predict_stream(options: argparse.Namespace, clf, inputs: Iterator, log) -> int:
    """Classify ``inputs`` through the pipeline, printing and writing as they finish;
    returns the number that failed."""
    from desktop_app.core.map_outputs import MapOptions
    from desktop_app.inference.folder_outputs import FolderOutputs
    from desktop_app.inference.pipeline import FolderRequest, Outcome, run_folder

    methods = tuple(options.cam) if options.cam_dir or options.metrics else ()
    maps = MapOptions(options.cam_dir, options.cam_format, options.colormap, options.alpha,
                      None if options.full_size else OVERLAY_MAX_SIDE) if options.cam_dir else None
    scoring = bool(options.metrics)
    request = FolderRequest(options.topk, methods, options.cam_layer, options.cam_classes,
                            options.aug_smooth, options.eigen_smooth,
                            lambda method, image: _cam_progress(method, image, scoring),
                            tuple(options.metrics))
    outputs = FolderOutputs(log, maps, methods, options.cam_layer, resume=options.resume,
                            with_metrics=scoring)
    failed = 0
    tick = _progress_counter("classifying")

    def write(outcome: Outcome) -> None:
        nonlocal failed
        tick()
        try:
            record = outputs.write(outcome)
        except (LensError, OSError) as exc:
            record, outcome = None, Outcome(outcome.index, outcome.path, error=one_line(exc))
        if record is None:
            failed += 1
            _report_failure(options, str(outcome.path), str(outcome.error))
            return
        pred = outcome.predictions[0]
        if options.json:
            _out(json.dumps(record))
        else:
            best = ", ".join(f"{s.label} {s.probability:.1%}" for s in pred.topk)
            _out(f"{outcome.path}: {best}")
            for p in outcome.predictions if options.metrics else ():
                for index, scores in p.metrics.items():
                    values = ", ".join(f"{name} {value:.3f}" for name, value in scores.items())
                    _out(f"  {p.cam_method} {clf.labels[index]} ({index}): {values}")

    try:
        if options.cluster:
            _run_on_cluster(options, outputs.pending(inputs), request, write)
        else:
            run_folder(clf, outputs.pending(inputs), request, write,
                       batch_size=options.batch_size)
    finally:
        tick(end=True)
    if outputs.skipped:
        _err(f"resumed: {outputs.skipped} image(s) already done in {options.out}")
    return failed


def _check_cluster(options: argparse.Namespace) -> None:
    """A bad --cluster, or no Ray, is said before the model loads."""
    import importlib.util

    from desktop_app.inference.cluster import ray_address

    try:
        ray_address(options.cluster)
    except LensError as exc:
        _bad_argument(options, "--cluster", str(exc))
    if importlib.util.find_spec("ray") is None:
        raise LensError("--cluster needs Ray: pip install 'resnet-lens[cluster]'")


def _run_on_cluster(options: argparse.Namespace, files: Iterator, request, write) -> None:
    from desktop_app.inference.cluster import RAY_BATCH_SIZE, ModelSpec, ray_address, run_on_ray

    # Workers load what this process loaded: the same file, or the same official weights.
    spec = ModelSpec(options.model, str(options.weights) if options.weights else None,
                     str(options.labels) if options.labels else None, options.device)
    run_on_ray(ray_address(options.cluster), spec, files, request, write,
               batch_size=options.batch_size or RAY_BATCH_SIZE)


def _run_sanity(options: argparse.Namespace) -> int:
    from desktop_app.inference import load_classifier
    from desktop_app.inference.sanity import FLAG_STEP, randomisation_check

    path = Path(options.image)
    if not path.is_file():
        _bad_argument(options, "IMAGE", f"{options.image}: no such file")
    clf = load_classifier(options.model, options.weights, options.labels, options.device,
                          progress=_download_progress(), backend="eager")
    classes = None if options.class_index is None else [options.class_index]
    try:
        clf.check_arguments(1, options.cam[0], options.cam_layer, classes)
    except InvalidArgument as exc:
        argument = "--class" if exc.argument == "cam_classes" else \
            f"--{exc.argument.replace('_', '-')}"
        _bad_argument(options, argument, str(exc))
    report = randomisation_check(clf, path, options.cam, options.class_index,
                                 options.cam_layer, options.seed)
    if options.json:
        print(json.dumps({"file": str(path), "model": clf.model_name, **report.to_dict()}))
        return 0
    print(f"{path}: class {report.label} ({report.class_index}), {report.cam_layer}; Spearman "
          "correlation of each map with the trained model's after re-initialising, top down:")
    width = max(12, *(len(m) + 2 for m in report.correlations))
    print(f"{'randomised':<12}" + "".join(f"{m:>{width}}" for m in report.correlations))
    for i, step in enumerate(report.steps):
        label = step if i == 0 else f"..{step}"
        print(f"{label:<12}" + "".join(
            f"{values[i]:>{width}.2f}" for values in report.correlations.values()))
    for method in report.flagged:
        print(f"{method}: still correlates >= {report.threshold} with everything down to "
              f"{FLAG_STEP} random: it explains the image more than the model")
    if not report.flagged:
        print("every map changed with the weights (correlation below "
              f"{report.threshold} by {FLAG_STEP})")
    return 0


def _cam_progress(method: str, image: str, scoring: bool) -> Callable[[int, int], None] | None:
    """Score-CAM's and Ablation-CAM's forwards, or the scoring's, counted on a terminal's
    stderr; else nothing."""
    stream = sys.stderr
    slow = scoring or method in ("scorecam", "ablationcam")
    if stream is None or not stream.isatty() or not slow:
        return None
    name = Path(image).name

    def report(done: int, total: int) -> None:
        stream.write(f"\r{method} {name}: {done}/{total} forwards")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return report


def _report_failure(options: argparse.Namespace, item: str, reason: str) -> None:
    """One line on stderr naming the input; with --json also a JSON line on stdout, so that
    a program reading the results knows what is missing."""
    from desktop_app.inference.folder_outputs import failure_line

    message = failure_line(item, reason)
    _err(message)
    if options.json:
        _out(json.dumps({"file": item, "error": message}))


def _run_train(options: argparse.Namespace) -> int:
    from desktop_app.core.dataset import check_teachable, repeats_note, scan_dataset
    from desktop_app.core.errors import Cancelled
    from desktop_app.inference.taught_files import files_for

    try:
        files = files_for(options.out)
    except InvalidArgument as exc:
        _bad_argument(options, "--out", str(exc))
    _check_writable(options, "--out", files.checkpoint.parent)
    if options.onnx:  # a missing extra is said before any work
        from desktop_app.inference.onnx_export import check_onnx_available

        check_onnx_available()
    dataset = scan_dataset(options.data_dir)  # before the slow model load
    for skipped in dataset.skipped:
        _err(f"{skipped.path}: {skipped.reason}; skipped")
    if (note := repeats_note(dataset.repeats)) is not None:
        _err(note)
    check_teachable(dataset.classes, dataset.counts())

    from desktop_app.inference import load_classifier
    from desktop_app.inference.taught_files import maps_note, save_taught
    from desktop_app.inference.training import teach

    recipe = Recipe(linear_only=options.linear_only, epochs=options.epochs,
                    learning_rate=options.lr, val_split=options.val_split, seed=options.seed)
    backbone = load_classifier(options.model, options.weights, options.labels, options.device,
                               progress=_download_progress(), backend="eager")
    with _ctrl_c_stops() as stop, _count_line("features") as count:
        try:
            trained = teach(
                backbone, dataset, recipe, options.cache_dir,
                progress=lambda r: _err(f"{r.stage} {r.epoch}/{r.epochs}: loss {r.loss:.3f}, "
                                        f"validation accuracy {r.val_accuracy:.1%}"),
                on_skip=lambda _example, reason: _err(f"{reason}; skipped"),
                on_count=count, cancel=stop.is_set)
        except Cancelled as exc:
            _err(str(exc))
            return 130
    saved = save_taught(trained, dataset, backbone, files, onnx=options.onnx)
    maps = saved.mistake_maps
    if options.json:
        print(json.dumps(saved.report), flush=True)
    else:
        _print_evaluation(saved.evaluation, trained)
        print(f"wrote {files.checkpoint}, {files.labels.name}, {files.report.name}"
              + (f", {Path(str(saved.report['onnx'])).name}" if options.onnx else "")
              + (f" and {len(maps)} mistake {'map' if len(maps) == 1 else 'maps'} in "
                 f"{maps[0].parent.name}" if maps else ""))
        if maps and trained.cross_validation is not None:
            print(maps_note(int(saved.report["mistake_maps_trained_on"]), len(maps)))
    if trained.stopped == "cancelled":
        _err("stopped by Ctrl+C: saved the best model so far")
        return 130
    return 0


def _print_evaluation(evaluation: Evaluation, trained: TrainedModel) -> None:
    classes = evaluation.classes
    print("images: " + ", ".join(f"{c} {evaluation.counts[c]}" for c in classes))
    print(f"validation accuracy ({evaluation.validation}): {evaluation.accuracy:.1%} on "
          f"{sum(evaluation.val_counts.values())} images (linear probe alone on the "
          f"early-stopping split: {trained.probe_val_accuracy:.1%})")
    for c in classes:
        print(f"  {c}: {evaluation.per_class_accuracy[c]:.1%} of {evaluation.val_counts[c]}")
    width = max(6, *(len(c) for c in classes))
    print("confusion matrix (rows: true class, columns: predicted):")
    print(" " * (width + 2) + "".join(f"{c:>{width + 1}}" for c in classes))
    for c, row in zip(classes, evaluation.confusion_matrix, strict=True):
        print(f"  {c:<{width}}" + "".join(f"{n:>{width + 1}}" for n in row))
    if evaluation.mistakes:
        print("most confident mistakes:")
        for m in evaluation.mistakes:
            print(f"  {m.path}: {m.true}, taken for {m.predicted} ({m.confidence:.1%})")
    for warning in evaluation.warnings:
        print(f"warning: {warning}")
    print(f"best: {trained.best} ({trained.stopped}); "
          f"features: {trained.features.computed} computed, "
          f"{trained.features.from_cache} from the cache")


@contextlib.contextmanager
def _ctrl_c_stops() -> Iterator[threading.Event]:
    """The first Ctrl+C asks training to stop and keep its best model; a second aborts."""
    stop = threading.Event()

    def handler(_signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        _err("stopping: the best model so far will be saved (Ctrl+C again to abort)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _count_line(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """``label done/total`` redrawn on a terminal's stderr; nothing otherwise."""
    stream = sys.stderr
    if stream is None or not stream.isatty():
        yield None
        return
    shown = False

    def report(done: int, total: int) -> None:
        nonlocal shown
        shown = done < total  # the last count ends the line
        stream.write(f"\r{label} {done}/{total}" + ("" if shown else "\n"))
        stream.flush()

    try:
        yield report
    finally:
        if shown:
            stream.write("\n")
            stream.flush()


def _run_weights(options: argparse.Namespace) -> int:
    from desktop_app.inference import weights

    wanted = options.fetch or []
    if "all" in wanted:
        wanted = list(MODEL_NAMES)
    unknown = [m for m in wanted if m not in MODEL_NAMES]
    if unknown:
        raise LensError(
            f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODEL_NAMES)}"
        )
    failures = 0
    for model in wanted:
        try:
            path = weights.official_weights_path(model, progress=_download_progress(model))
            print(f"{model}: {path}")
        except LensError as exc:
            failures += 1
            _err(str(exc))
    print(f"cache folder: {weights.cache_dir()}")
    print(f"{'model':<18} {'file':<32} {'MB':>7}  where")
    for model in MODEL_NAMES:
        status = weights.official_weights_status(model)
        where = str(status.path) if status.path else "not present"
        default = " (default)" if model == DEFAULT_MODEL else ""
        print(f"{model + default:<18} {status.file_name:<32} {status.size_mb:7.1f}  {where}")
    return 1 if failures else 0


def _run_bench(options: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from desktop_app.inference import load_classifier

    try:
        width, height = (int(v) for v in options.size.lower().split("x"))
    except ValueError as exc:
        raise LensError(f"--size must look like 640x480, got {options.size}") from exc
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    print(
        f"{width}x{height} RGB input, top-{options.topk} + Grad-CAM ({options.cam_layer}) for "
        f"every top-k class, median of {options.runs} runs after {options.warmup}, "
        f"{torch.get_num_threads()} threads; milliseconds"
    )
    stages = ("decode", "preprocess", "forward", "cam", "maps", "total")
    print(
        f"{'model':<16} {'device':<7} {'backend':<12}"
        + "".join(f"{s:>11}" for s in stages)
        + f"{'eager fwd':>11}{'ratio':>7}"
    )
    for model in options.models:
        for device in options.devices:
            clf = load_classifier(model, device=device, backend=options.backend, download=False)
            samples: dict[str, list[float]] = {s: [] for s in stages}
            for i in range(options.warmup + options.runs):
                start = time.perf_counter()
                pred = clf.predict(image, topk=options.topk, cam_layer=options.cam_layer)
                for index in pred.cams:  # the full-resolution maps are part of the cost
                    pred.cams[index]
                total = (time.perf_counter() - start) * 1000
                if i >= options.warmup:
                    for stage in stages[:-2]:
                        samples[stage].append(pred.timings.get(stage, 0.0))
                    samples["maps"].append(total - pred.timings["total"])
                    samples["total"].append(total)
            eager = _eager_forward_ms(clf, options.warmup, options.runs)
            medians = {s: statistics.median(v) for s, v in samples.items()}
            print(
                f"{model:<16} {clf.device:<7} {clf.backend:<12}"
                + "".join(f"{medians[s]:11.2f}" for s in stages)
                + f"{eager:11.2f}{medians['total'] / eager:7.2f}"
            )
    return 0


def _eager_forward_ms(clf, warmup: int, runs: int) -> float:
    """A plain torchvision forward under inference_mode: the baseline users compare with."""
    import torch

    network = clf.network
    x = torch.randn(1, 3, clf.preprocessor.crop_size, clf.preprocessor.crop_size, device=clf.device)
    times = []
    with torch.inference_mode():
        for i in range(warmup + runs):
            start = time.perf_counter()
            network(x)
            if x.device.type == "cuda":
                torch.cuda.synchronize()
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _err(message: str) -> None:
    # Windowed frozen apps have no stderr at all.
    if sys.stderr is not None:
        print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _download_progress(label: str = "weights"):
    """A download progress line on a terminal's stderr; silent otherwise."""
    stream: TextIO | None = sys.stderr
    if stream is None or not stream.isatty():
        return None

    def report(done: int, total: int | None) -> None:
        size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        stream.write(f"\rdownloading {label}: {size}")
        if total and done >= total:
            stream.write("\n")
        stream.flush()

    return report


def _progress_counter(label: str) -> Callable[..., None]:
    """``tick()`` per image counts on a terminal's stderr (the total is not known: inputs
    are streamed); ``tick(end=True)`` ends the line. Silent elsewhere."""
    stream = sys.stderr
    show = stream is not None and stream.isatty()
    done = 0

    def tick(end: bool = False) -> None:
        nonlocal done
        if not show:
            return
        if end:
            if done > 1:
                stream.write("\n")
        else:
            done += 1
            if done > 1:
                stream.write(f"\r{label}: {done} done")
        stream.flush()

    return tick


def _out(line: str) -> None:
    # One write per line: the writer thread prints results while the main thread may not.
    if sys.stdout is not None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
