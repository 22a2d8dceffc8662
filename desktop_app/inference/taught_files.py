"""A taught model on disk: ``NAME.safetensors``, ``NAME.txt`` (its labels, one per line,
which ``load_classifier(weights=…)`` finds beside it) and ``NAME.report.json``.

The checkpoint is a plain torchvision ResNet state dict, so anything that loads custom
checkpoints loads it as it is; the class count comes from ``fc``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desktop_app.core.atomic import write_atomically, write_text_atomically
from desktop_app.core.dataset import Dataset, count_by_class
from desktop_app.core.errors import InvalidArgument
from desktop_app.core.evaluation import HOLD_OUT, Evaluation, evaluate

if TYPE_CHECKING:  # torch stays unimported until a model is trained: the CLI checks first
    from desktop_app.inference.classifier import Classifier
    from desktop_app.inference.training import TrainedModel

CHECKPOINT_SUFFIX = ".safetensors"


@dataclass(frozen=True)
class TaughtFiles:
    checkpoint: Path
    labels: Path
    report: Path


def files_for(checkpoint: Path) -> TaughtFiles:
    if checkpoint.suffix.lower() != CHECKPOINT_SUFFIX:
        raise InvalidArgument("out", f"must end in {CHECKPOINT_SUFFIX}, got {checkpoint.name}")
    return TaughtFiles(checkpoint, checkpoint.with_suffix(".txt"),
                       checkpoint.with_name(f"{checkpoint.stem}.report.json"))


@dataclass(frozen=True)
class Scored:
    """The images a training's evaluation scores, each by a model that did not train on it:
    the validation split by the saved model, or every image out of fold."""

    index: np.ndarray  # into ``trained.examples``
    probabilities: np.ndarray  # (len(index), classes)
    validation: str  # HOLD_OUT or "K-fold cross-validation"


def scored(trained: TrainedModel) -> Scored:
    cv = trained.cross_validation
    if cv is None:
        return Scored(trained.val_index, trained.val_probabilities, HOLD_OUT)
    return Scored(np.arange(len(trained.examples)), cv.probabilities,
                  f"{cv.folds}-fold cross-validation")


def evaluation_of(trained: TrainedModel, dataset: Dataset) -> Evaluation:
    """The validation split's scores, or every image's out-of-fold scores when training
    cross-validated (a class with fewer than ``FEW_IMAGES`` images)."""
    counts = count_by_class(trained.classes, trained.examples)
    scores = scored(trained)
    labels = [trained.examples[i].label for i in scores.index]
    return evaluate(
        trained.classes, counts, np.array(labels, dtype=np.int64), scores.probabilities,
        [trained.examples[i].path for i in scores.index], dataset.duplicates, scores.validation)


def trained_on(trained: TrainedModel, paths: Sequence[Path]) -> int:
    """How many of ``paths`` the saved model trained on (under k-fold most scored images;
    under a hold-out split none)."""
    train = {trained.examples[i].path for i in trained.train_index}
    return sum(Path(path) in train for path in paths)


def maps_note(seen: int, images: int) -> str:
    """Whose maps those of out-of-fold scored images are, in words: the saved model's, which
    trained on ``seen`` of the ``images`` (it learned from the split; the folds' models,
    which made the predictions, are not kept)."""
    if seen == 0:
        trained = "which did not train on " + ("this image" if images == 1 else "these images")
    elif seen == images:
        trained = ("which trained on this image" if images == 1
                   else f"which trained on all {images} of these images")
    else:
        trained = f"which trained on {seen} of these {images} images"
    caveat = ": its maps of what it trained on may look better than on new images" if seen else ""
    return ("Predictions are out-of-fold: each by a model that did not train on the image, as "
            f"counted above. The maps are the saved model's, the one you will use, {trained}"
            f"{caveat}.")


def report_of(trained: TrainedModel, evaluation: Evaluation, backbone: Classifier,
              dataset: Dataset, files: TaughtFiles) -> dict[str, object]:
    from desktop_app.inference.feature_cache import preprocessing_key
    from desktop_app.inference.training import recipe_record

    return {
        # The images as of the training's start: a project changed after it (also while it
        # trained) has other images than the results describe.
        "trained_at": dataset.taken_at.isoformat(),
        "checkpoint": str(files.checkpoint),
        "labels": str(files.labels),
        "backbone": {"model": backbone.model_name, "weights": str(backbone.weights_path)},
        "preprocessing": preprocessing_key(trained.preprocessor),
        "recipe": recipe_record(trained.recipe),
        "result": {"best_stage": trained.best_stage, "best_epoch": trained.best_epoch,
                   "stopped": trained.stopped,
                   "probe_val_accuracy": trained.probe_val_accuracy},
        "features": {"computed": trained.features.computed,
                     "from_cache": trained.features.from_cache},
        "train_images": len(trained.train_index),
        "skipped": [{"file": str(s.path), "reason": s.reason} for s in dataset.skipped],
        **evaluation.to_dict(),
    }


def save_checkpoint(trained: TrainedModel, files: TaughtFiles) -> None:
    """Write the checkpoint and its labels, each completely or not at all."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in trained.network.state_dict().items()}
    data = save(state, metadata={"format": "pt", "classes": json.dumps(trained.classes)})
    files.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(files.checkpoint, lambda stream: stream.write(data))
    write_text_atomically(files.labels, "".join(f"{name}\n" for name in trained.classes))


def write_report(files: TaughtFiles, report: dict[str, object]) -> None:
    write_text_atomically(files.report, json.dumps(report, indent=2, allow_nan=False) + "\n")


@dataclass(frozen=True)
class Saved:
    """What saving a taught model wrote, and its evaluation."""

    files: TaughtFiles
    evaluation: Evaluation
    report: dict[str, object]
    mistake_maps: tuple[Path, ...]


def save_taught(trained: TrainedModel, dataset: Dataset, backbone: Classifier,
                files: TaughtFiles, *, onnx: bool = False) -> Saved:
    """Evaluate ``trained`` and write its checkpoint, labels, mistake maps, report and, with
    ``onnx``, ``NAME.onnx`` beside them: the one way ``resnet-lens train`` and the window save
    what they taught."""
    evaluation = evaluation_of(trained, dataset)
    save_checkpoint(trained, files)
    maps = mistake_maps(files, evaluation)
    report = report_of(trained, evaluation, backbone, dataset, files)
    report["mistake_maps"] = [str(p) for p in maps]
    # Under k-fold the mistakes are the folds' models' and the maps the saved model's.
    report["mistake_maps_trained_on"] = trained_on(trained, [m.path for m in evaluation.mistakes])
    if onnx:
        from desktop_app.inference.onnx_export import export_onnx, onnx_path_for

        onnx_file = export_onnx(trained.network, onnx_path_for(files.checkpoint),
                                trained.preprocessor.crop_size)
        report["onnx"] = str(onnx_file)
    write_report(files, report)
    return Saved(files, evaluation, report, tuple(maps))


def mistake_maps(files: TaughtFiles, evaluation: Evaluation) -> list[Path]:
    """Grad-CAM overlays of the most confident mistakes, by the saved model as the engine
    loads it, for the class it wrongly chose: ``NAME.mistakes/<rank>-<image>.png``."""
    from desktop_app.core.image_io import decode_image
    from desktop_app.core.overlay import overlay, save_png
    from desktop_app.inference.classifier import load_classifier

    if not evaluation.mistakes:
        return []
    folder = files.checkpoint.with_name(f"{files.checkpoint.stem}.mistakes")
    folder.mkdir(parents=True, exist_ok=True)
    model = load_classifier(weights=files.checkpoint, device="cpu", backend="eager")
    written = []
    for rank, mistake in enumerate(evaluation.mistakes, start=1):
        predicted = model.labels.index(mistake.predicted)
        pred = model.predict(mistake.path, topk=1, cam_classes=[predicted])
        pixels = decode_image(mistake.path).array
        target = folder / f"{rank}-{Path(mistake.path).stem}.png"
        save_png(target, overlay(pixels, pred.cams[predicted]))
        written.append(target)
    return written
