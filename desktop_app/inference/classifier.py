"""The classifier: one model on one device, giving top-k predictions and CAM maps."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from PIL import Image

from desktop_app.core.errors import InvalidArgument, WeightsError
from desktop_app.core.geometry import CropGeometry
from desktop_app.core.image_io import DecodedImage, decode_for_model
from desktop_app.core.results import CamMaps, ClassScore, Prediction
from desktop_app.inference import checkpoints, weights
from desktop_app.inference.backends import CompiledForward, build_forward, eager_forward
from desktop_app.inference.cam_methods import (
    CamRequest,
    CancelCheck,
    ProgressCallback,
    augmented_grids,
    method_cams,
)
from desktop_app.inference.catalog import (
    CAM_METHODS,
    DEFAULT_CAM_LAYER,
    DEFAULT_MODEL,
    FAITHFULNESS_METRICS,
    MODEL_NAMES,
)
from desktop_app.inference.devices import is_out_of_memory, resolve_device
from desktop_app.inference.faithfulness import (
    FaithfulnessSettings,
    checked_metrics,
    faithfulness_scores,
)
from desktop_app.inference.gradcam import cams_from_fc, normalise, split_forward
from desktop_app.inference.network import cam_layer_names, canonical_layer
from desktop_app.inference.preprocess import Preprocessor
from desktop_app.inference.threads import engine_threads

log = logging.getLogger(__name__)

ImageInput = str | os.PathLike[str] | Image.Image | np.ndarray | DecodedImage
# Which classes get maps: explicit indices, "top1", or "topk" (every reported class).
CamClasses = Sequence[int] | str | None
CAM_CLASS_CHOICES = ("top1", "topk")


@dataclass(frozen=True)
class ModelInput:
    """An image decoded by the one decode policy and preprocessed: what ``predict_batch``
    takes. Made by ``Classifier.prepare``, which is safe to call from several threads."""

    decoded: DecodedImage
    tensor: torch.Tensor  # (1, 3, crop, crop) on the CPU
    timings: dict[str, float]


@dataclass(frozen=True)
class LoadedModel:
    name: str
    network: torchvision.models.ResNet
    labels: tuple[str, ...]
    preprocessor: Preprocessor
    weights_path: Path


class Classifier:
    """Not thread-safe: the thread that calls ``predict`` owns it (the app's worker does)."""

    def __init__(
        self,
        loaded: LoadedModel,
        device: torch.device,
        backend: str,
        num_threads: int,
        compile_in_background: bool = False,
    ) -> None:
        self._loaded = loaded
        self._backend_choice = backend
        self._device = device
        self._threads = num_threads
        self._compiler: threading.Thread | None = None
        if compile_in_background and backend != "eager":
            # Serve at once with eager PyTorch; the fused forward replaces it once built and
            # checked against eager (build_forward does that), with no stall for anyone.
            self._compiled = eager_forward(loaded.network)
            self._compiler = threading.Thread(
                target=self._compile_in_background, name="lens-compile", daemon=True)
            self._compiler.start()
        else:
            with engine_threads(num_threads):
                self._compiled = self._compile()
        # layer4 is the one layer whose Grad-CAM needs no backward pass (see gradcam.py).
        self._fast_layer = canonical_layer(loaded.network, DEFAULT_CAM_LAYER)

    # -- what the GUI and CLI show ------------------------------------------------------------
    @property
    def model_name(self) -> str:
        return self._loaded.name

    @property
    def labels(self) -> tuple[str, ...]:
        return self._loaded.labels

    @property
    def num_classes(self) -> int:
        return len(self._loaded.labels)

    @property
    def device(self) -> str:
        return str(self._device)

    @property
    def backend(self) -> str:
        return self._compiled.name

    @property
    def num_threads(self) -> int:
        """torch intra-op threads the engine runs with (BLAS runs single-threaded)."""
        return self._threads

    @property
    def cam_layers(self) -> tuple[str, ...]:
        return cam_layer_names(self._loaded.network)

    @property
    def weights_path(self) -> Path:
        return self._loaded.weights_path

    @property
    def network(self) -> torchvision.models.ResNet:
        """The eager torch module (eval mode, parameters frozen)."""
        return self._loaded.network

    @property
    def preprocessor(self) -> Preprocessor:
        return self._loaded.preprocessor

    # -- inference ------------------------------------------------------------------------------
    def predict(
        self,
        image: ImageInput,
        topk: int = 5,
        cam: str | None = "gradcam",
        cam_layer: str = DEFAULT_CAM_LAYER,
        cam_classes: CamClasses = None,
        *,
        aug_smooth: bool = False,
        eigen_smooth: bool = False,
        batch_size: int | None = None,
        metrics: Sequence[str] = (),
        metric_settings: FaithfulnessSettings | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
    ) -> Prediction:
        """Top-k classes of ``image`` and, unless ``cam`` is None, their CAM maps.

        ``cam`` is one of ``CAM_METHODS`` (see ``cam_methods`` and ``cam_formulas``). Maps
        are in the input image's own pixels (full size, after EXIF orientation); the part the
        model never saw is NaN. ``cam_classes``: class indices, ``"top1"``, or ``"topk"``
        (the default, also meant by None): the top-k classes.
        ``aug_smooth``/``eigen_smooth`` are pytorch-grad-cam's options of those names.
        ``batch_size``: images per forward for Ablation-CAM (off layer4) and Score-CAM, which
        report ``progress(done, total)`` forwards and stop with ``Cancelled`` once ``cancel()``
        returns True. None: what runs fastest, ``devices.images_per_forward`` for the whole
        network (Score-CAM, the scores), ``cam_methods.ABLATION_BATCH`` for Ablation-CAM.
        ``metrics``: names from ``FAITHFULNESS_METRICS``; each mapped class's map is scored
        (``pred.metrics[class][name]``) on the model's input, as ``score_map`` would score
        it, with ``metric_settings`` (default ``FaithfulnessSettings()``, whose
        ``batch_size`` then follows ``batch_size``); ``progress`` then counts the scoring's
        perturbed images, after the CAM's forwards.
        """
        layer = self.check_arguments(topk, cam, cam_layer, cam_classes, metrics)
        if batch_size is not None and batch_size < 1:
            raise InvalidArgument("batch_size", f"must be at least 1, got {batch_size}")
        options = {"aug_smooth": aug_smooth, "eigen_smooth": eigen_smooth,
                   "batch_size": batch_size, "progress": progress, "cancel": cancel,
                   "metrics": checked_metrics(metrics),
                   "metric_settings": metric_settings or FaithfulnessSettings(
                       batch_size=batch_size)}

        start = time.perf_counter()
        decoded = decode_for_model(image, self.preprocessor.resize_size)
        timings = {"decode": _ms(start)}
        notes: list[str] = []
        with engine_threads(self._threads):
            try:
                scores, grids, forward, scored = self._infer(
                    decoded, topk, cam, layer, cam_classes, timings, options)
            except Exception as exc:
                if not (is_out_of_memory(exc) and self._device.type != "cpu"):
                    raise
                notes.append(f"{self._device.type.upper()} ran out of memory; switched to the CPU")
                log.warning("out of memory on %s; falling back to CPU", self._device)
                self._move_to(torch.device("cpu"))
                scores, grids, forward, scored = self._infer(
                    decoded, topk, cam, layer, cam_classes, timings, options)
        timings["total"] = _ms(start)

        return self._prediction(decoded, scores, grids, cam, cam_layer, forward, timings, notes,
                                scored)

    def prepare(self, image: ImageInput) -> ModelInput:
        """Decode (by ``decode_for_model``) and preprocess ``image`` for ``predict_batch``.
        Touches no model state, so a pool of threads can prepare the next images while
        the model runs (Pillow and torch release the GIL)."""
        start = time.perf_counter()
        decoded = decode_for_model(image, self.preprocessor.resize_size)
        timings = {"decode": _ms(start)}
        t = time.perf_counter()
        tensor = self.preprocessor(decoded.image)
        timings["preprocess"] = _ms(t)
        return ModelInput(decoded, tensor, timings)

    def predict_batch(
        self,
        inputs: Sequence[ModelInput],
        topk: int = 5,
        cam: str | None = "gradcam",
        cam_layer: str = DEFAULT_CAM_LAYER,
        cam_classes: CamClasses = None,
        *,
        aug_smooth: bool = False,
        eigen_smooth: bool = False,
        metrics: Sequence[str] = (),
        progress: Callable[[DecodedImage], ProgressCallback | None] | None = None,
        cancel: CancelCheck | None = None,
    ) -> list[Prediction]:
        """What ``predict`` gives for each prepared image, with one forward for all of them
        when no CAM or layer-4 Grad-CAM is asked for (its maps come from the same forward);
        any other CAM, or ``metrics``, runs ``predict`` image by image, with
        ``progress(image)``'s callback (Score-CAM's or the scoring's forwards) and
        ``cancel``, which stops those between two of their batches (``Cancelled``).
        ``timings["forward"]`` is each image's share of the batch's forward."""
        layer = self.check_arguments(topk, cam, cam_layer, cam_classes, metrics)
        batched = not metrics and (cam is None or (
            cam == "gradcam" and layer == self._fast_layer and not (aug_smooth or eigen_smooth)))
        if not batched:
            return [self.predict(item.decoded, topk, cam, cam_layer, cam_classes,
                                 aug_smooth=aug_smooth, eigen_smooth=eigen_smooth,
                                 metrics=metrics,
                                 progress=progress(item.decoded) if progress else None,
                                 cancel=cancel)
                    for item in inputs]
        if not inputs:
            return []
        with engine_threads(self._threads):
            try:
                return self._predict_batch(inputs, topk, cam, cam_layer, cam_classes)
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
        # A batch too big for the device: one at a time, as predict falls back itself.
        log.warning("out of memory for a batch of %d on %s", len(inputs), self._device)
        return [self.predict(item.decoded, topk, cam, cam_layer, cam_classes)
                for item in inputs]

    def _predict_batch(
        self,
        inputs: Sequence[ModelInput],
        topk: int,
        cam: str | None,
        cam_layer: str,
        cam_classes: CamClasses,
    ) -> list[Prediction]:
        start = time.perf_counter()
        compiled = self._compiled  # read once: a background compile may swap it meanwhile
        x = torch.cat([item.tensor for item in inputs]).to(self._device)
        with torch.inference_mode():
            logits, features = compiled.forward(x)
        forward_ms = _ms(start) / len(inputs)
        fc_weight = self._loaded.network.fc.weight
        predictions = []
        for i, item in enumerate(inputs):
            timings = {**item.timings, "forward": forward_ms}
            scores = self._top_scores(logits[i], topk)
            grids = None
            if cam is not None:
                t = time.perf_counter()
                classes = _classes_to_map(cam_classes, scores)
                with torch.inference_mode():
                    maps = (cams_from_fc(features[i:i + 1], fc_weight, classes) if classes
                            else np.zeros((0, 1, 1), dtype=np.float32))
                grids = dict(zip(classes, maps, strict=True))
                timings["cam"] = _ms(t)
            timings["total"] = sum(timings.values())
            predictions.append(self._prediction(
                item.decoded, scores, grids, cam, cam_layer, compiled.name, timings, [], {}))
        return predictions

    def _prediction(
        self,
        decoded: DecodedImage,
        scores: tuple[ClassScore, ...],
        grids: dict[int, np.ndarray] | None,
        cam: str | None,
        cam_layer: str,
        forward: str,
        timings: dict[str, float],
        notes: list[str],
        scored: dict[int, dict[str, float]],
    ) -> Prediction:
        width, height = decoded.image.size
        cams = None
        if grids is not None:
            cams = CamMaps(grids, self.preprocessor.geometry(width, height), decoded.original_size)
        return Prediction(
            topk=scores,
            cams=cams,
            timings=timings,
            image_size=decoded.original_size,
            model=self.model_name,
            device=self.device,
            cam_layer=cam_layer if cam else None,
            cam_method=cam,
            source=decoded.name,
            notes=tuple(notes),
            backend=forward,
            metrics=scored,
        )

    def score_map(
        self,
        image: ImageInput,
        class_index: int,
        saliency: np.ndarray,
        metrics: Sequence[str] = FAITHFULNESS_METRICS,
        *,
        settings: FaithfulnessSettings | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
        curves: dict[str, np.ndarray] | None = None,
    ) -> dict[str, float]:
        """``{metric: score}`` for any saliency map of ``image``, given in the image's own
        pixels (height, width after EXIF orientation, as ``pred.cams[c]``), for
        ``class_index``. Scored on the model's input: the map is sampled at every crop
        pixel (``CropGeometry.warp_to_crop``). NaN marks what the map says nothing about
        (the unseen part, in ``pred.cams``): it is left out of the sampling, and a crop pixel
        with only NaN around it ranks as the map's least salient value. See
        ``faithfulness`` for the metrics and ``FaithfulnessSettings`` for the defaults;
        ``curves`` as in ``faithfulness_scores`` (the window plots them).
        """
        self.check_arguments(1, None, DEFAULT_CAM_LAYER, [class_index], metrics, scoring=True)
        decoded = decode_for_model(image, self.preprocessor.resize_size)
        width, height = decoded.original_size
        saliency = np.asarray(saliency, dtype=np.float32)
        if saliency.shape != (height, width):
            raise InvalidArgument(
                "saliency", f"a {saliency.shape[-1] if saliency.ndim else 0}x"
                f"{saliency.shape[0] if saliency.ndim else 0} map for a {width}x{height} image")
        geometry = self.preprocessor.geometry(*decoded.image.size)
        on_crop = geometry.warp_to_crop(saliency)
        if np.isnan(on_crop).all():
            raise InvalidArgument("saliency", "the map is NaN over all the model sees")
        on_crop = np.where(np.isnan(on_crop), np.nanmin(on_crop), on_crop)
        with engine_threads(self._threads):
            x = self.preprocessor(decoded.image).to(self._device)
            return faithfulness_scores(_logits(self._compiled), x, class_index, on_crop, metrics,
                                       settings or FaithfulnessSettings(), progress, cancel,
                                       curves)

    def with_network(self, network: torchvision.models.ResNet) -> Classifier:
        """A classifier over ``network`` (same architecture, e.g. a re-initialised copy of
        this one's) with this one's labels, preprocessing, device and threads; eager."""
        loaded = LoadedModel(self.model_name, network.to(self._device).eval(), self.labels,
                             self.preprocessor, self.weights_path)
        return Classifier(loaded, self._device, "eager", self._threads)

    def check_arguments(
        self,
        topk: int = 5,
        cam: str | None = "gradcam",
        cam_layer: str = DEFAULT_CAM_LAYER,
        cam_classes: CamClasses = None,
        metrics: Sequence[str] = (),
        *,
        scoring: bool = False,
    ) -> str:
        """Raise ``InvalidArgument`` (naming the parameter) for what this model cannot take;
        return the block that ``cam_layer`` stands for. ``predict`` calls it first
        (``score_map`` with ``scoring``: metrics need no CAM method there)."""
        checked_metrics(metrics)
        if metrics and cam is None and not scoring:
            raise InvalidArgument("metrics", "scores are of maps: choose a CAM method")
        if cam is not None and cam not in CAM_METHODS:
            raise InvalidArgument(
                "cam", f"unknown CAM method {cam!r}; choose one of {', '.join(CAM_METHODS)}")
        if not topk >= 1:
            raise InvalidArgument("topk", f"must be at least 1, got {topk}")
        layer = canonical_layer(self._loaded.network, cam_layer)
        if isinstance(cam_classes, str):
            if cam_classes not in CAM_CLASS_CHOICES:
                raise InvalidArgument(
                    "cam_classes", f"expected top1, topk or class indices, got {cam_classes!r}")
        elif cam_classes is not None:
            bad = [int(c) for c in cam_classes if not 0 <= int(c) < self.num_classes]
            if bad:
                raise InvalidArgument(
                    "cam_classes",
                    f"class {', '.join(map(str, bad))} out of range: this model has "
                    f"{self.num_classes} classes, 0-{self.num_classes - 1}")
        return layer

    def _infer(
        self,
        decoded: DecodedImage,
        topk: int,
        cam: str | None,
        layer: str,
        cam_classes: CamClasses,
        timings: dict[str, float],
        options: dict[str, Any],
    ) -> tuple[tuple[ClassScore, ...], dict[int, np.ndarray] | None, str,
               dict[int, dict[str, float]]]:
        """Scores, CAM grids, the forward that ran ("eager" off the layer-4 fast path) and
        the maps' faithfulness scores."""
        t = time.perf_counter()
        x = self.preprocessor(decoded.image).to(self._device)
        timings["preprocess"] = _ms(t)

        t = time.perf_counter()
        fast_path = cam is None or layer == self._fast_layer
        compiled = self._compiled  # read once: a background compile may swap it meanwhile
        logits, features = self._forward(x, layer, fast_path, compiled)
        forward = compiled.name if fast_path else "eager"
        scores = self._top_scores(logits[0], topk)
        timings["forward"] = _ms(t)
        if cam is None:
            return scores, None, forward, {}

        t = time.perf_counter()
        classes = _classes_to_map(cam_classes, scores)
        network = self._loaded.network
        if not classes:
            maps = np.zeros((0, 1, 1), dtype=np.float32)
        elif cam == "gradcam" and fast_path and not (
            options["aug_smooth"] or options["eigen_smooth"]
        ):
            with torch.inference_mode():  # Grad-CAM at layer4 is CAM: fc weights, no gradients
                maps = cams_from_fc(features, network.fc.weight, classes)
        else:
            request = CamRequest(
                cam, layer, tuple(classes), fast_path, options["eigen_smooth"],
                options["batch_size"], options["progress"], options["cancel"],
                _logits(compiled),
            )

            def run(xa: torch.Tensor, req: CamRequest) -> torch.Tensor:
                known = (logits, features) if xa is x else self._forward(
                    xa, layer, fast_path, compiled)
                return method_cams(network, xa, *known, req)

            maps = (
                augmented_grids(run, x, request) if options["aug_smooth"]
                else normalise(run(x, request))
            )
        timings["cam"] = _ms(t)
        grids = dict(zip(classes, maps, strict=True))
        scored: dict[int, dict[str, float]] = {}
        if options["metrics"]:
            t = time.perf_counter()
            crop = self.preprocessor.crop_size
            on_crop = CropGeometry(crop, crop, 1.0, 1.0, 0, 0, crop)  # the grid over the crop
            report = options["progress"]
            for i, (c, grid) in enumerate(grids.items()):
                # One rising count over all the classes' scoring.
                progress = None if report is None else (
                    lambda done, total, i=i: report(i * total + done, len(grids) * total))
                scored[c] = faithfulness_scores(
                    _logits(compiled), x, c, on_crop.warp_to_image(grid), options["metrics"],
                    options["metric_settings"], progress, options["cancel"])
            timings["metrics"] = _ms(t)
        return scores, grids, forward, scored

    def _forward(
        self, x: torch.Tensor, layer: str, fast_path: bool, compiled: CompiledForward
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, activation at layer)``; at layer4 from ``compiled``."""
        if fast_path:
            with torch.inference_mode():
                return compiled.forward(x)
        return split_forward(self._loaded.network, x, layer)

    def _top_scores(self, logits: torch.Tensor, topk: int) -> tuple[ClassScore, ...]:
        logits = logits.float().cpu()
        probs = torch.softmax(logits, dim=0)
        values, indices = torch.topk(probs, min(topk, probs.numel()))
        labels = self._loaded.labels
        return tuple(
            ClassScore(labels[i], i, float(p), float(logits[i]))
            for p, i in zip(values.tolist(), indices.tolist(), strict=True)
        )

    # -- device handling ----------------------------------------------------------------------
    def _compile(self) -> CompiledForward:
        return build_forward(
            self._loaded.network, self._device, self._backend_choice, self.preprocessor.crop_size
        )

    def _compile_in_background(self) -> None:
        # Half the threads: the other half keep serving eager predictions meanwhile.
        with engine_threads(max(1, self._threads // 2)):
            compiled = self._compile()
        if compiled.name != "eager" and self._device.type == "cpu":  # not moved meanwhile
            self._compiled = compiled  # one reference swap: a running predict keeps its own
            log.info("switched to the %s forward", compiled.name)

    def wait_for_backend(self, timeout: float | None = None) -> str:
        """Wait for a background compile (if any) to finish; returns the backend now used."""
        if self._compiler is not None:
            self._compiler.join(timeout)
        return self.backend

    def _move_to(self, device: torch.device) -> None:
        self._loaded.network.to(device)
        self._device = device
        self._compiled = self._compile()


def _classes_to_map(cam_classes: CamClasses, scores: tuple[ClassScore, ...]) -> list[int]:
    """The classes whose maps are made, in order, without repeats."""
    if cam_classes == "top1":
        classes = [scores[0].index]
    elif cam_classes is None or cam_classes == "topk":
        classes = [s.index for s in scores]
    else:
        classes = [int(c) for c in cam_classes]
    return list(dict.fromkeys(classes))


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def load_classifier(
    model: str | None = None,
    weights: str | os.PathLike[str] | None = None,
    labels: str | os.PathLike[str] | Sequence[str] | None = None,
    device: str = "auto",
    *,
    download: bool = True,
    progress: weights.ProgressCallback | None = None,
    cancel: weights.CancelCheck | None = None,
    backend: str = "auto",
    num_threads: int | None = None,
    compile_in_background: bool = False,
) -> Classifier:
    """Load an official torchvision ResNet or a custom checkpoint, ready to ``predict``.

    ``model``: a name from ``MODEL_NAMES`` (default resnet50), or None with ``weights`` to
    infer the architecture from the checkpoint. ``weights``: None for the official weights
    (local cache, else downloaded with ``progress``/``cancel``), or a file (.pth/.pt/
    .safetensors). ``labels``: a list, or a .txt/.json file; by default the weights' own
    categories, a labels file beside the checkpoint, or ``class 0…N-1``. ``num_threads``:
    torch intra-op threads for this classifier (default: torch's setting in the loading
    thread); the classifier applies it, and single-threaded BLAS, whenever it runs
    (``desktop_app.inference.threads``). ``compile_in_background``: return at once and
    predict with eager PyTorch while the fused forward is built and verified on another
    thread (``Classifier.wait_for_backend`` waits for it); otherwise it is built here.
    """
    if model is not None and model not in MODEL_NAMES:
        raise WeightsError(f"unknown model {model!r}; choose one of {', '.join(MODEL_NAMES)}")
    target = resolve_device(device)
    if weights is None:
        loaded = _load_official(model or DEFAULT_MODEL, labels, download, progress, cancel)
    else:
        loaded = _load_file(model, Path(weights), labels)
    network = loaded.network
    network.eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)  # inference only: autograd never tracks weights
    network.to(target)
    return Classifier(loaded, target, backend, num_threads or torch.get_num_threads(),
                      compile_in_background)


def _load_official(
    model: str,
    labels: Any,
    download: bool,
    progress: weights.ProgressCallback | None,
    cancel: weights.CancelCheck | None,
) -> LoadedModel:
    spec = weights.official_weights(model)
    path = weights.official_weights_path(model, download=download, progress=progress, cancel=cancel)
    network = checkpoints.build_loaded(
        lambda: torchvision.models.get_model(model, weights=None),
        checkpoints.read_state_dict(path),
        path.name,
    )
    names = _checked_labels(labels, tuple(spec.meta["categories"]), path.name)
    return LoadedModel(model, network, names, Preprocessor(spec.transforms()), path)


def _load_file(model: str | None, path: Path, labels: Any) -> LoadedModel:
    state = checkpoints.read_state_dict(path)
    arch = checkpoints.infer_architecture(state, path.name)
    official = _official_spec_for_file(path.name)
    if model is None:
        network = checkpoints.build_loaded(arch.build, state, path.name)
        name = arch.name
    else:
        network = checkpoints.build_loaded(
            lambda: torchvision.models.get_model(model, weights=None, num_classes=arch.num_classes),
            state,
            path.name,
        )
        name = model
    if official is not None:
        default_labels = tuple(official.meta["categories"])
        preprocessor = Preprocessor(official.transforms())
    else:
        beside = checkpoints.find_labels_file(path)
        imagenet = weights.official_weights(DEFAULT_MODEL)
        if beside is not None and labels is None:
            labels = beside
        default_labels = (
            tuple(imagenet.meta["categories"])
            if arch.num_classes == 1000
            else tuple(f"class {i}" for i in range(arch.num_classes))
        )
        preprocessor = custom_checkpoint_preprocessor()
        name = f"{name} ({path.name})"
    names = _checked_labels(labels, default_labels, path.name)
    return LoadedModel(name, network, names, preprocessor, path)


def custom_checkpoint_preprocessor() -> Preprocessor:
    """What a custom checkpoint's images go through: torchvision's current ResNet recipe.
    Training (``inference.training``) uses it too, so a taught model sees at training time
    what it will see once loaded."""
    return Preprocessor(weights.official_weights(DEFAULT_MODEL).transforms())


def _official_spec_for_file(file_name: str) -> Any:
    """The torchvision weights a file is, judged by torchvision's own file name."""
    for model in MODEL_NAMES:
        for member in torchvision.models.get_model_weights(model):
            if Path(member.url).name == file_name:
                return member
    return None


def _checked_labels(labels: Any, default: tuple[str, ...], source: str) -> tuple[str, ...]:
    if labels is None:
        return default
    names = checkpoints.read_labels(labels)
    if len(names) != len(default):
        given = Path(labels).name if isinstance(labels, (str, os.PathLike)) else "the label list"
        raise WeightsError(
            f"{given} has {len(names)} labels but {source} has {len(default)} classes"
        )
    return names


__all__ = ["CAM_CLASS_CHOICES", "CAM_METHODS", "CamClasses", "Classifier", "ModelInput",
           "load_classifier"]


def _logits(compiled: CompiledForward) -> Callable[[torch.Tensor], torch.Tensor]:
    """The logits of ``compiled``'s forward: the fused one, checked against eager PyTorch
    when it was built (``backends.build_forward``), scores perturbed images too."""
    return lambda batch: compiled.forward(batch)[0]
