"""``resnet-lens``: the window by default; ``predict``, ``sanity``, ``weights`` and ``bench``
sub-commands.

Heavy modules (torch, Qt) are imported inside the commands that need them, so ``resnet-lens``
reaches the window quickly and ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from desktop_app import __version__
from desktop_app.core.errors import InvalidArgument, LensError, one_line
from desktop_app.inference.catalog import (
    CAM_METHODS,
    DEFAULT_CAM_LAYER,
    DEFAULT_CAM_METHOD,
    DEFAULT_MODEL,
    FAITHFULNESS_METRICS,
    MODEL_NAMES,
)

SUBCOMMANDS = ("predict", "sanity", "weights", "bench")
PROG = "resnet-lens"


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
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
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

    predict = sub.add_parser("predict", help="classify images or folders, optionally saving maps")
    predict.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER")
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
        type=_index_list,
        default=None,
        metavar="I,J,…",
        help="class indices to map (default: the top-k classes)",
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
        choices=("png", "npy"),
        default="png",
        help="png: overlay on the image; npy: raw float32 map, image-sized, "
        "NaN where the model saw nothing",
    )
    predict.add_argument("--colormap", default="jet",
                         help="overlay colormap: jet (default), turbo, inferno, viridis, …")
    predict.add_argument("--alpha", type=_fraction, default=0.5,
                         help="overlay opacity from 0 to 1 (default 0.5)")
    predict.add_argument("--json", action="store_true",
                         help='one JSON object per image; a file that fails gets '
                         '{"file": …, "error": …}')
    predict.set_defaults(run=_run_predict, parser=predict)

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


def _index_list(text: str) -> list[int]:
    try:
        indices = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated class indices such as 0,3, got {text!r}") from exc
    if not indices or min(indices) < 0:
        raise argparse.ArgumentTypeError(
            f"expected class indices from 0 up, such as 0,3, got {text!r}")
    return indices


def _method_list(text: str) -> list[str]:
    methods = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [m for m in methods if m not in CAM_METHODS]
    if unknown or not methods:
        raise argparse.ArgumentTypeError(
            f"unknown CAM method {', '.join(unknown) or repr(text)}; "
            f"choose from {', '.join(CAM_METHODS)}")
    return list(dict.fromkeys(methods))


def _metric_list(text: str) -> list[str]:
    metrics = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [m for m in metrics if m not in FAITHFULNESS_METRICS]
    if unknown or not metrics:
        raise argparse.ArgumentTypeError(
            f"unknown metric {', '.join(unknown) or repr(text)}; "
            f"choose from {', '.join(FAITHFULNESS_METRICS)}")
    return list(dict.fromkeys(metrics))


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


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def _bad_argument(options: argparse.Namespace, option: str, message: str) -> NoReturn:
    """argparse's own one-line error and exit status 2, for what only the model can check."""
    parser: argparse.ArgumentParser = options.parser
    parser.exit(2, f"{parser.prog}: error: argument {option}: {message}\n")


def _run_predict(options: argparse.Namespace) -> int:
    from desktop_app.core.colormaps import COLORMAPS
    from desktop_app.inference import load_classifier

    if options.colormap not in COLORMAPS:  # before the slow model load
        _bad_argument(options, "--colormap",
                      f"unknown colormap {options.colormap!r}; choose from {', '.join(COLORMAPS)}")
    if options.cam_dir:
        if options.cam_dir.exists() and not options.cam_dir.is_dir():
            _bad_argument(options, "--cam-dir", f"{options.cam_dir} is a file, not a folder")
        try:
            options.cam_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _bad_argument(options, "--cam-dir", one_line(exc))
    files, missing = _expand_inputs(options.inputs)
    for item, reason in missing:
        _report_failure(options, item, reason)
    failures = len(missing)
    clf = load_classifier(
        options.model,
        options.weights,
        options.labels,
        options.device,
        progress=_download_progress(),
        # Building the fused forward costs seconds and saves a fraction of one forward per
        # image: a single photo is fastest with eager PyTorch.
        backend="eager" if len(files) <= 1 else "auto",
    )
    try:
        clf.check_arguments(options.topk, "gradcam", options.cam_layer, options.cam_classes)
    except InvalidArgument as exc:
        _bad_argument(options, f"--{exc.argument.replace('_', '-')}", str(exc))
    used_stems: set[str] = set()
    methods = options.cam if options.cam_dir or options.metrics else []
    for path in _progress(files, "classifying"):
        try:
            preds = []
            for method in methods or [None]:
                with _cam_progress(method, path, bool(options.metrics)) as report:
                    preds.append(clf.predict(
                        path,
                        topk=options.topk,
                        cam_layer=options.cam_layer,
                        cam=method,
                        cam_classes=options.cam_classes,
                        aug_smooth=options.aug_smooth,
                        eigen_smooth=options.eigen_smooth,
                        metrics=options.metrics if method else (),
                        progress=report,
                    ))
            written = []
            if options.cam_dir:
                stem = _free_stem(path, used_stems)
                for pred in preds:
                    written += _write_maps(options, path, stem, pred)
        except (LensError, OSError) as exc:
            failures += 1
            _report_failure(options, str(path), one_line(exc))
            continue
        pred = preds[0]
        if options.json:
            record = {"file": str(path), **pred.to_dict()}
            del record["cam_method"]  # one line per image, possibly several methods
            record["cam_methods"] = list(methods)
            record["maps"] = written
            # {method: {class: {metric: score}}}
            record["metrics"] = {p.cam_method: p.to_dict()["metrics"] for p in preds
                                 if options.metrics}
            print(json.dumps(record), flush=True)
        else:
            best = ", ".join(f"{s.label} {s.probability:.1%}" for s in pred.topk)
            print(f"{path}: {best}", flush=True)
            for p in preds if options.metrics else []:
                for index, scores in p.metrics.items():
                    values = ", ".join(f"{name} {value:.3f}" for name, value in scores.items())
                    print(f"  {p.cam_method} {clf.labels[index]} ({index}): {values}",
                          flush=True)
    return 1 if failures else 0


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


def _free_stem(path: Path, used_stems: set[str]) -> str:
    """The file name stem for ``path``'s maps; two inputs with one name must not overwrite
    each other."""
    stem, n = path.stem, 2
    while stem in used_stems:
        stem, n = f"{path.stem}-{n}", n + 1
    used_stems.add(stem)
    return stem


@contextlib.contextmanager
def _cam_progress(
    method: str | None, path: Path, scoring: bool
) -> Iterator[Callable[[int, int], None] | None]:
    """Score-CAM's and Ablation-CAM's forwards, or the scoring's, counted on a terminal's
    stderr; else nothing."""
    stream = sys.stderr
    slow = scoring or method in ("scorecam", "ablationcam")
    if stream is None or not stream.isatty() or method is None or not slow:
        yield None
        return
    shown = False

    def report(done: int, total: int) -> None:
        nonlocal shown
        shown = True
        stream.write(f"\r{method} {path.name}: {done}/{total} forwards")
        stream.flush()

    try:
        yield report
    except KeyboardInterrupt:
        shown = False  # main() ends the line
        raise
    finally:
        if shown:
            stream.write("\n")
            stream.flush()


def _report_failure(options: argparse.Namespace, item: str, reason: str) -> None:
    """One line on stderr naming the input; with --json also a JSON line on stdout, so that
    a program reading the results knows what is missing."""
    message = reason if reason.startswith(item) else f"{item}: {reason}"
    _err(message)
    if options.json:
        print(json.dumps({"file": item, "error": message}), flush=True)


def _expand_inputs(inputs: Sequence[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files as given, folders expanded to their images; plus (input, reason) per missing one."""
    from desktop_app.core.image_io import iter_image_files

    files: list[Path] = []
    missing: list[tuple[str, str]] = []
    for item in inputs:
        path = Path(item)
        if not path.exists():
            missing.append((item, "no such file or folder"))
        elif path.is_dir():
            found = list(iter_image_files([path]))
            if not found:
                missing.append((item, "folder holds no images"))
            files.extend(found)
        else:
            files.append(path)
    return files, missing


def _write_maps(
    options: argparse.Namespace, path: Path, stem: str, pred
) -> list[dict[str, object]]:
    """Write one map per class, named by rank, class, method and layer; describe each."""
    from desktop_app.core.image_io import decode_image
    from desktop_app.core.overlay import overlay, save_npy, save_png

    rank = {s.index: r for r, s in enumerate(pred.topk, start=1)}
    pixels = decode_image(path).array if options.cam_format == "png" else None
    written: list[dict[str, object]] = []
    for index in pred.cams:
        name = f"{stem}.top{rank[index]}" if index in rank else f"{stem}.class"
        target = options.cam_dir / (
            f"{name}-{index}.{pred.cam_method}.{pred.cam_layer}.{options.cam_format}"
        )
        if pixels is None:
            save_npy(target, pred.cams[index])
        else:
            save_png(target, overlay(pixels, pred.cams[index], options.colormap, options.alpha))
        written.append({"method": pred.cam_method, "layer": pred.cam_layer, "class": index,
                        "path": str(target)})
    return written


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


def _progress(items: list[Path], label: str) -> Iterator[Path]:
    """Yield ``items``, drawing a progress bar on stderr when it is a terminal."""
    stream = sys.stderr
    show = stream is not None and stream.isatty() and len(items) > 1
    for i, item in enumerate(items, start=1):
        yield item
        if show:
            width = 30
            filled = width * i // len(items)
            stream.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {i}/{len(items)}")
            stream.flush()
    if show:
        stream.write("\n")
        stream.flush()
