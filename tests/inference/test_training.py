"""Teaching new classes (desktop_app.inference.training, ``resnet-lens train``).

The backbone is the small trained shapes model (tests/support/shapes_model.py). It learned
four outline/pattern classes in random colours; the classes it is taught here are
shape/colour combinations it never had as classes: warm- or cool-coloured circles and squares.

What this backbone allows (measured while choosing these classes, 12-30 images per class):
whatever survives average pooling, a linear probe on the pooled features already learns,
here (colour x shape) at 0.99 held out, and even colour-XOR-shape groupings at 0.93; what
pooling loses (which of two stacked shapes is on top; a square's or a cross's outline under
the same foreign pattern) fine-tuning layer4 on a few dozen images does not learn either
(held out 0.45-0.6: it memorises). So the issue's "probe clearly worse" has no class on this
backbone that a test can afford; asserted is that the default recipe reaches 0.90 and is not
worse than the probe.

A later search for a family that separates them (15-40 images a class, 15-30 held out,
seeds 0-2; held-out accuracy probe / default) found none either:
- binding: a red circle and a blue square vs a blue circle and a red square, anywhere:
  0.83-0.95 / 0.90-0.98 (pooled features already hold colour-and-pattern conjunctions);
  binding pattern scale to shape (fine dots and coarse checks vs the reverse) 0.78 / 0.75-0.82;
- what pooling loses (left/right is out: the recipe flips maps): dots above checks vs the
  reverse, as two shapes apart 0.52-0.62 / 0.50-0.62, as the two halves of one shape
  0.63-0.68 / 0.68-0.73, as repeating bands in a cyclic order (every boundary tells the
  class) 0.58 / 0.58-0.60; the training loss falls, held-out accuracy does not; one dotted
  circle vs two of half its area 0.60-0.67 / the same (the probe stayed best on validation);
- small shapes (24-60 crop pixels) in new colour x shape classes: 0.42-0.80, fine-tuning
  within 0.03 of the probe.
New textures (rings, diagonal checks, grids, stripe direction, pattern scale) are linearly
separable from pooled layer-4 features (0.90-1.00, 5-fold), as from pooled layer-3 ones: this
backbone's single layer-4 block keeps whatever layer 3 pools to.

A third search (seeds 0-2, 20 held out a class, probe / default as above) found none either:
- absolute vertical position (the recipe flips and shifts, but never vertically by more than
  a layer-3 cell): the shape in the top vs the bottom 15% of where it may sit, anything else
  random, 30 a class: 0.38-0.63 / 0.38-0.65; one warm square, 40 a class: 0.45-0.65 /
  0.50-0.65. Pooled layer-3 and layer-4 features hold no vertical position (5-fold, 80 a
  class: 0.54 and 0.55), and fine-tuning does not find it through the zero padding;
- what layer 4 might have learned to ignore, 5-fold on pooled layer-3 / layer-4 features (80
  a class): upright vs tilted 12-15 degrees either way 0.57 / 0.51 (a square alone 0.54 /
  0.60), shape size 60-80 vs 110-130 crop pixels 0.91 / 0.90, scribbles or none 0.78 / 0.78,
  noise amplitude 12 vs 40 0.99 / 0.99, pattern period 8-10 vs 16-20 0.74 / 0.74: nothing
  layer 3 has that layer 4 drops, except which colour is the figure: dots of half the area
  (mean colour equal), warm on cool vs cool on warm 0.91 / 0.84, red on blue vs the reverse
  0.98 / 0.91. Taught, 40 a class: warm/cool 0.75-0.80 / 0.80 on every seed, red/blue
  0.88-0.95 / the same (the probe was kept, or fine-tuning matched it).
The default fine-tuning is 15 epochs at most of a few batches (45-60 AdamW steps at 3e-4 for
two classes of 30-40 images): enough to sharpen features that are there, too few to build
a new spatial conjunction in layer4.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import support.shapes_model as shapes
from PIL import Image
from support.processes import run_cli
from support.shapes_model import CLASSES, Sample, ShapesModel, make_sample

from desktop_app.cli import main
from desktop_app.core.dataset import DatasetError, check_teachable, scan_dataset
from desktop_app.core.errors import Cancelled
from desktop_app.core.evaluation import HOLD_OUT, evaluate
from desktop_app.inference import load_classifier
from desktop_app.inference.classifier import Classifier
from desktop_app.inference.preprocess import Preprocessor
from desktop_app.inference.taught_files import (
    evaluation_of,
    files_for,
    maps_note,
    save_checkpoint,
    save_taught,
)
from desktop_app.inference.taught_gallery import gallery_of
from desktop_app.inference.training import (
    CROSS_VALIDATION,
    FINE_TUNE,
    PROBE,
    EpochReport,
    Recipe,
    TrainedModel,
    fold_count,
    stratified_folds,
    stratified_split,
    teach,
)

# The two colours of a shape (its own pattern in them), jittered per image.
PALETTES = {"warm": ((230, 50, 30), (250, 200, 40)), "cool": ((30, 60, 230), (40, 210, 230))}
# name -> (shape class, palette), in sorted order: the label indices ``resnet-lens train``
# gives the class folders.
NOVEL = {
    "cool circle": (CLASSES.index("circle"), "cool"),
    "cool square": (CLASSES.index("square"), "cool"),
    "warm circle": (CLASSES.index("circle"), "warm"),
    "warm square": (CLASSES.index("square"), "warm"),
}
NOVEL_INDEX = {name: i for i, name in enumerate(NOVEL)}
TRAIN_PER_CLASS = 12
HELDOUT_PER_CLASS = 10
DEFAULT_ACCURACY = 0.90
CAM_ON_OBJECT = 0.8


@dataclass(frozen=True)
class Written:
    path: Path
    label: int
    sample: Sample


def coloured_sample(rng: np.random.Generator, shape: int, palette: str) -> Sample:
    """A shapes-model image whose shape has ``palette``'s colours instead of random ones."""
    colours = iter(PALETTES[palette])

    def pick(rng: np.random.Generator, *_others: np.ndarray) -> np.ndarray:
        jitter = rng.integers(-25, 26, size=3)
        return np.clip(np.array(next(colours)) + jitter, 0, 255).astype(np.float32)

    # make_sample draws its two colours through this helper; that file must not change
    # (the cached model's key is its source), so the colours are chosen from outside.
    with mock.patch.object(shapes, "_distinct_colour", pick):
        return make_sample(rng, shape)


def write_novel(root: Path, per_class: int, seed: int, first: int = 0) -> list[Written]:
    """``per_class`` PNGs per novel class under ``root/<class>/``, numbered from ``first``."""
    written = []
    for label, (name, (shape, palette)) in enumerate(NOVEL.items()):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        streams = np.random.SeedSequence([seed, label]).spawn(first + per_class)[first:]
        for i, stream in enumerate(streams, start=first):
            sample = coloured_sample(np.random.default_rng(stream), shape, palette)
            path = folder / f"{i:03d}.png"
            sample.image.save(path)
            written.append(Written(path, label, sample))
    return written


# -- the folder, the split and the evaluation (no model) ----------------------------------------
def _png(path: Path, value: int) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, dtype=np.uint8)).save(path)
    return path


def test_scan_finds_classes_duplicates_across_classes_and_repeats_within_one(tmp_path) -> None:
    _png(tmp_path / "cat" / "a.png", 1)
    shutil.copy(tmp_path / "cat" / "a.png", tmp_path / "cat" / "copy.png")
    _png(tmp_path / "cat" / "nested" / "b.png", 2)
    _png(tmp_path / "dog" / "c.png", 3)
    shutil.copy(tmp_path / "cat" / "a.png", tmp_path / "dog" / "same-as-a.png")
    (tmp_path / "dog" / "notes.txt").write_text("not an image file name: not listed")
    (tmp_path / ".hidden").mkdir()

    dataset = scan_dataset(tmp_path)

    assert dataset.classes == ("cat", "dog")
    assert dataset.counts() == {"cat": 2, "dog": 2}  # the copy within cat counts once
    assert dataset.repeats == 1
    [dup] = dataset.duplicates
    assert (dup.first, dup.second, dup.classes) == (
        str(tmp_path / "cat" / "a.png"), str(tmp_path / "dog" / "same-as-a.png"), ("cat", "dog"))


def test_too_few_classes_or_images_are_one_line_errors(tmp_path) -> None:
    with pytest.raises(DatasetError, match=r"at least two classes.*found 1 \(cat\)"):
        check_teachable(("cat",), {"cat": 5})
    with pytest.raises(DatasetError, match=r"at least two usable images; too few in dog \(1\)"):
        check_teachable(("cat", "dog"), {"cat": 5, "dog": 1})
    with pytest.raises(DatasetError, match="not a folder"):
        scan_dataset(tmp_path / "missing")


def test_stratified_split_keeps_every_class_on_both_sides_and_follows_the_seed() -> None:
    labels = np.array([0] * 2 + [1] * 10 + [2] * 31)
    train, val = stratified_split(labels, 0.2, seed=3)
    assert sorted([*train, *val]) == list(range(len(labels)))
    assert [int((labels[val] == c).sum()) for c in range(3)] == [1, 2, 6]
    again, _ = stratified_split(labels, 0.2, seed=3)
    other, _ = stratified_split(labels, 0.2, seed=4)
    assert again.tolist() == train.tolist() and other.tolist() != train.tolist()


def test_stratified_folds_cover_every_image_once_with_every_class_in_each_fold() -> None:
    labels = np.array([0] * 3 + [1] * 7 + [2] * 12)
    folds = stratified_folds(labels, fold_count(3), seed=5)
    assert len(folds) == 3
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(labels)))
    for fold in folds:
        assert sorted(set(labels[fold].tolist())) == [0, 1, 2]
        assert 7 <= len(fold) <= 8  # classes' extra images land in different folds
    assert [f.tolist() for f in stratified_folds(labels, 3, seed=5)] == [f.tolist() for f in folds]
    assert (fold_count(2), fold_count(9), fold_count(10), fold_count(500)) == (2, 5, 0, 0)


def test_evaluation_counts_confusions_orders_mistakes_and_warns(tmp_path) -> None:
    from desktop_app.core.dataset import Duplicate

    classes = ("a", "b", "c")
    y_true = np.array([0, 0, 1, 1, 2])
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1],
                      [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    paths = [tmp_path / f"{i}.png" for i in range(5)]
    dup = Duplicate(str(tmp_path / "a" / "x.png"), str(tmp_path / "b" / "x.png"), ("a", "b"))
    result = evaluate(classes, {"a": 40, "b": 12, "c": 4}, y_true, probs, paths, [dup])

    assert result.validation == "hold-out split"
    assert result.confusion_matrix == [[1, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert result.per_class_accuracy == {"a": 0.5, "b": 0.5, "c": 1.0}
    assert result.accuracy == pytest.approx(0.6)
    assert [(m.path, m.true, m.predicted) for m in result.mistakes] == [
        (str(paths[1]), "a", "b"), (str(paths[3]), "b", "a")]  # 0.7 before 0.6
    text = " | ".join(result.warnings)
    assert "only 4 images of c" in text
    assert "unbalanced classes: a has 40 images, c only 4" in text
    assert "the same image is in a" in text and "x.png" in text
    assert "predicts" not in text

    everything_a = evaluate(classes, {"a": 10, "b": 10, "c": 10}, y_true,
                            np.tile([0.5, 0.3, 0.2], (5, 1)), paths)
    assert everything_a.warnings == (
        "the model predicts a for every validation image: it has not learned to tell the "
        "classes apart (more, or more varied, images help)",)


def test_the_maps_note_says_how_many_of_the_images_the_saved_model_trained_on() -> None:
    assert maps_note(10, 12).endswith(
        "The maps are the saved model's, the one you will use, which trained on 10 of these 12 "
        "images: its maps of what it trained on may look better than on new images.")
    assert "which trained on all 3 of these images:" in maps_note(3, 3)
    assert "which trained on this image:" in maps_note(1, 1)
    assert maps_note(0, 2).endswith("which did not train on these images.")


# -- teaching the shapes model new combinations ----------------------------------------------
@dataclass(frozen=True)
class Novel:
    train_dir: Path
    heldout: list[Written]


@pytest.fixture(scope="module")
def backbone(shapes_model: ShapesModel) -> Classifier:
    return load_classifier(weights=shapes_model.weights, labels=shapes_model.labels,
                           device="cpu", backend="eager")


@pytest.fixture(scope="module")
def novel(tmp_path_factory: pytest.TempPathFactory) -> Novel:
    root = tmp_path_factory.mktemp("novel")
    write_novel(root / "train", TRAIN_PER_CLASS, seed=1)
    return Novel(root / "train", write_novel(root / "heldout", HELDOUT_PER_CLASS, seed=2))


@pytest.fixture(scope="module")
def feature_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("features")


@pytest.fixture(scope="module")
def taught(backbone: Classifier, novel: Novel, feature_cache: Path,
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[TrainedModel, Path]]:
    """The default recipe and the linear probe alone, each saved as a checkpoint."""
    out = tmp_path_factory.mktemp("taught")
    dataset = scan_dataset(novel.train_dir)
    models = {}
    for name, recipe in (("default", Recipe()), ("linear", Recipe(linear_only=True))):
        trained = teach(backbone, dataset, recipe, feature_cache)
        files = files_for(out / f"{name}.safetensors")
        save_checkpoint(trained, files)
        models[name] = (trained, files.checkpoint)
    return models


def _heldout_accuracy(checkpoint: Path, heldout: list[Written]) -> float:
    clf = load_classifier(weights=checkpoint, device="cpu", backend="eager")
    assert clf.labels == tuple(NOVEL)  # the labels file beside the checkpoint
    hits = [clf.predict(w.path, topk=1, cam=None).topk[0].index == w.label for w in heldout]
    return float(np.mean(hits))


@pytest.mark.slow
def test_cancelling_during_fine_tuning_keeps_the_best_model_so_far(
    backbone: Classifier, novel: Novel, feature_cache: Path
) -> None:
    reports: list[EpochReport] = []
    trained = teach(backbone, scan_dataset(novel.train_dir), Recipe(epochs=10, patience=10),
                    feature_cache, progress=reports.append,
                    cancel=lambda: any(r.stage == FINE_TUNE for r in reports))
    assert trained.stopped == "cancelled"
    assert [r.stage for r in reports] == [PROBE] * 4 + [FINE_TUNE]
    assert (trained.best_stage, trained.best_epoch) in ((PROBE, 0), (FINE_TUNE, 1))
    labels = np.array([trained.examples[i].label for i in trained.val_index])
    kept = float((trained.val_probabilities.argmax(1) == labels).mean())
    assert kept == max(r.val_accuracy for r in reports)
    # The kept probabilities are the kept network's own.
    assert _network_probabilities(trained, trained.val_index) == pytest.approx(
        trained.val_probabilities, abs=1e-3)


@pytest.mark.slow
def test_cancelling_before_any_model_exists_raises(backbone: Classifier, novel: Novel,
                                                   tmp_path: Path) -> None:
    with pytest.raises(Cancelled, match="nothing was trained"):
        teach(backbone, scan_dataset(novel.train_dir), Recipe(), tmp_path, cancel=lambda: True)


@pytest.mark.slow
def test_retraining_after_adding_images_computes_only_their_features(
    backbone: Classifier, novel: Novel, tmp_path: Path
) -> None:
    data, aside, cache = tmp_path / "data", tmp_path / "aside", tmp_path / "cache"
    shutil.copytree(novel.train_dir, data)
    for path in sorted(data.glob("*/01[01].png")):  # two per class wait outside
        (aside / path.parent.name).mkdir(parents=True, exist_ok=True)
        path.rename(aside / path.parent.name / path.name)
    n = len(NOVEL) * (TRAIN_PER_CLASS - 2)
    first = teach(backbone, scan_dataset(data), Recipe(linear_only=True), cache)
    assert (first.features.computed, first.features.from_cache) == (n, 0)

    shutil.copytree(aside, data, dirs_exist_ok=True)
    second = teach(backbone, scan_dataset(data), Recipe(linear_only=True), cache)
    assert (second.features.computed, second.features.from_cache) == (2 * len(NOVEL), n)
    # Each pass stored the layer-3 activations too: the full recipe computes nothing.
    third = teach(backbone, scan_dataset(data), Recipe(epochs=1), cache)
    assert (third.features.computed, third.features.from_cache) == (0, n + 2 * len(NOVEL))


def _subset(novel: Novel, root: Path, folders: dict[str, tuple[str, slice]]) -> Path:
    """``root/<new name>/`` holding a slice of a novel class's training images."""
    for name, (source, part) in folders.items():
        (root / name).mkdir(parents=True)
        for path in sorted((novel.train_dir / source).iterdir())[part]:
            shutil.copy(path, root / name / path.name)
    return root


@pytest.mark.slow
def test_few_images_are_evaluated_out_of_fold_so_memorising_does_not_score(
    backbone: Classifier, novel: Novel, feature_cache: Path, tmp_path: Path
) -> None:
    # Two "classes" that are one class split at random: nothing to learn, yet a probe on
    # 512 features memorises its ten training images. Scoring a model on images it trained
    # on would report that memory; out-of-fold scores stay near chance.
    source = list(NOVEL)[2]
    data = _subset(novel, tmp_path / "noise",
                   {"a": (source, slice(0, 12, 2)), "b": (source, slice(1, 12, 2))})
    trained = teach(backbone, scan_dataset(data), Recipe(linear_only=True), feature_cache)
    assert trained.cross_validation is not None and trained.cross_validation.folds == 5
    labels = np.array([e.label for e in trained.examples])
    on_training = _probabilities(trained, [trained.examples[i].path for i in trained.train_index])
    assert (on_training.argmax(1) == labels[trained.train_index]).mean() == 1.0
    out_of_fold = (trained.cross_validation.probabilities.argmax(1) == labels).mean()
    assert out_of_fold <= 0.75, out_of_fold


@pytest.mark.slow
def test_fewer_than_ten_images_a_class_cross_validates_the_chosen_schedule(
    backbone: Classifier, novel: Novel, feature_cache: Path, tmp_path: Path
) -> None:
    data = _subset(novel, tmp_path / "data", {n: (n, slice(0, 6)) for n in NOVEL})
    dataset = scan_dataset(data)
    reports: list[EpochReport] = []
    trained = teach(backbone, dataset, Recipe(epochs=2, patience=2), feature_cache,
                    progress=reports.append)
    stages = [r.stage for r in reports]
    assert stages[:4] == [PROBE] * 4 and set(stages[4:-5]) <= {FINE_TUNE}
    assert [(r.stage, r.epoch, r.epochs) for r in reports[-5:]] == [
        (CROSS_VALIDATION, fold, 5) for fold in range(1, 6)]
    cv = trained.cross_validation
    assert cv is not None and cv.probabilities.shape == (6 * len(NOVEL), len(NOVEL))
    assert cv.probabilities.sum(1) == pytest.approx(np.ones(6 * len(NOVEL)), abs=1e-5)
    evaluation = evaluation_of(trained, dataset)
    assert evaluation.validation == "5-fold cross-validation"
    assert evaluation.val_counts == evaluation.counts == dict.fromkeys(NOVEL, 6)
    assert evaluation.accuracy > 0.5  # these classes are learnable: well above chance (0.25)


@pytest.mark.slow
def test_under_k_fold_the_gallery_shows_every_class_with_its_out_of_fold_predictions(
    backbone: Classifier, novel: Novel, feature_cache: Path, tmp_path: Path
) -> None:
    # Six images a class: 5-fold. The saved model's split holds out one image a class, which
    # was all the gallery used to show, predicted by a model other than the table's.
    data = _subset(novel, tmp_path / "data", {n: (n, slice(0, 6)) for n in NOVEL})
    dataset = scan_dataset(data)
    trained = teach(backbone, dataset, Recipe(linear_only=True), feature_cache)
    cv = trained.cross_validation
    assert cv is not None and len(trained.val_index) == len(NOVEL)
    saved = save_taught(trained, dataset, backbone, files_for(tmp_path / "out" / "m.safetensors"))

    gallery = gallery_of(saved, trained)

    assert gallery.validation == saved.evaluation.validation == "5-fold cross-validation"
    row_of = {example.path: i for i, example in enumerate(trained.examples)}
    confusion = np.zeros((len(NOVEL), len(NOVEL)), dtype=np.int64)
    for name, tiles in gallery.by_class.items():
        assert len(tiles) == 6  # every image of the class (GALLERY_PER_CLASS)
        for tile in tiles:
            probabilities = cv.probabilities[row_of[tile.path]]
            assert tile.true == name == tile.path.parent.name
            assert tile.predicted == trained.classes[int(probabilities.argmax())]
            assert tile.confidence == pytest.approx(float(probabilities.max()))
            confusion[NOVEL_INDEX[tile.true], NOVEL_INDEX[tile.predicted]] += 1
    assert confusion.tolist() == saved.evaluation.confusion_matrix  # what the table shows
    # The saved model trained on the split's other 5 images a class, and the tiles say whose.
    train = {trained.examples[i].path for i in trained.train_index}
    assert gallery.trained_on == len(train) == 5 * len(NOVEL)
    assert saved.report["mistake_maps_trained_on"] == sum(
        Path(m.path) in train for m in saved.evaluation.mistakes)
    assert json.loads(saved.files.report.read_text())["mistake_maps_trained_on"] == (
        saved.report["mistake_maps_trained_on"])


@pytest.mark.slow
def test_with_a_hold_out_split_the_gallery_is_the_validation_images_by_the_saved_model(
    backbone: Classifier, novel: Novel, feature_cache: Path, tmp_path: Path
) -> None:
    dataset = scan_dataset(novel.train_dir)  # 12 images a class: no k-fold
    trained = teach(backbone, dataset, Recipe(linear_only=True), feature_cache)
    assert trained.cross_validation is None
    saved = save_taught(trained, dataset, backbone, files_for(tmp_path / "m.safetensors"))
    # Dated by the images it listed, not by when it ended (see test_teach_project).
    assert saved.report["trained_at"] == dataset.taken_at.isoformat()

    gallery = gallery_of(saved, trained)

    assert (gallery.validation, gallery.trained_on) == (HOLD_OUT, 0)
    shown = [tile for tiles in gallery.by_class.values() for tile in tiles]
    val_paths = [trained.examples[i].path for i in trained.val_index]
    assert [tile.path for tile in shown] == val_paths  # two a class, in the split's order
    for tile, probabilities in zip(shown, trained.val_probabilities, strict=True):
        assert tile.predicted == trained.classes[int(probabilities.argmax())]
        assert tile.confidence == pytest.approx(float(probabilities.max()))
    assert saved.report["mistake_maps_trained_on"] == 0


@pytest.mark.slow
def test_layer3_activations_stay_on_disk_and_are_read_a_batch_at_a_time(
    taught: dict[str, tuple[TrainedModel, Path]], feature_cache: Path,
    shapes_model: ShapesModel, tmp_path: Path
) -> None:
    import torch

    from desktop_app.core.errors import LensError
    from desktop_app.inference.feature_cache import FeatureCache, Layer3Rows, weights_digest
    from desktop_app.inference.network import run_stem

    trained = taught["default"][0]
    rows = trained.features.layer3
    assert isinstance(rows, Layer3Rows)  # never all in memory
    assert len(rows) == len(trained.examples)
    index = np.array([5, 0, 17])
    pre, net = trained.preprocessor, trained.network  # layers 1-3 are the backbone's
    batch = torch.cat([pre(_decoded(trained.examples[i].path, pre)) for i in index])
    with torch.no_grad():
        expected = net.layer3(net.layer2(net.layer1(run_stem(net, batch)))).half().numpy()
    got = rows[index]
    assert got.dtype == np.float16 and got.shape == expected.shape
    np.testing.assert_allclose(got.astype(np.float32), expected.astype(np.float32), atol=2e-2)

    # A cache that loses an entry while training: a one-line error, not a traceback.
    digests = [e.digest for e in trained.examples]
    shutil.copytree(feature_cache, tmp_path / "copy")
    cache = FeatureCache(tmp_path / "copy", weights_digest(shapes_model.weights), pre)
    next(cache.folder.glob(f"*/{digests[0]}.layer3.npy")).unlink()
    with pytest.raises(LensError, match="the feature cache lost an entry"):
        Layer3Rows(cache, digests)[np.array([1, 0])]


def _decoded(path: Path, pre: Preprocessor) -> Image.Image:
    from desktop_app.core.image_io import decode_for_model

    return decode_for_model(path, pre.resize_size).image


def _network_probabilities(trained: TrainedModel, index: np.ndarray) -> np.ndarray:
    return _probabilities(trained, [trained.examples[i].path for i in index])


def _probabilities(trained: TrainedModel, paths: list[Path]) -> np.ndarray:
    """The taught network's class probabilities for image files, before any saving."""
    import torch

    from desktop_app.core.image_io import decode_for_model

    pre = trained.preprocessor
    batch = torch.cat([pre(decode_for_model(path, pre.resize_size).image) for path in paths])
    with torch.no_grad():
        return torch.softmax(trained.network(batch), 1).numpy()


# -- the command line ------------------------------------------------------------------------
def _two_classes(novel: Novel, root: Path, per_class: int) -> Path:
    """The first two novel classes, ``per_class`` images each, under ``root``."""
    for name in list(NOVEL)[:2]:
        (root / name).mkdir(parents=True)
        for path in sorted((novel.train_dir / name).iterdir())[:per_class]:
            shutil.copy(path, root / name / path.name)
    return root


@pytest.mark.slow
def test_cli_train_skips_a_bad_file_warns_of_a_duplicate_and_writes_the_files(
    shapes_model: ShapesModel, novel: Novel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = list(NOVEL)[:2]
    data = _two_classes(novel, tmp_path / "data", 5)
    (data / first / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but then nothing")
    shutil.copy(data / first / "000.png", data / second / "same.png")
    out = tmp_path / "out" / "model.safetensors"

    status = main(["train", str(data), "--out", str(out), "--weights", str(shapes_model.weights),
                   "--linear-only", "--json", "--cache-dir", str(tmp_path / "cache")])

    captured = capsys.readouterr()
    assert status == 0, captured.err
    [skip] = [line for line in captured.err.splitlines() if "broken.png" in line]
    assert skip.endswith("; skipped")
    assert "linear probe 1/4: loss" in captured.err
    report = json.loads(captured.out)
    assert report["classes"] == [first, second]
    assert report["counts"] == {first: 5, second: 6}
    assert any(w.startswith(f"the same image is in {first}") for w in report["warnings"])
    assert report["recipe"]["linear_only"] is True
    assert report["validation"] == "5-fold cross-validation"  # fewer than 10 images a class
    assert report["val_counts"] == report["counts"]
    # Out-of-fold mistakes, mapped by the saved model: how many of them it trained on.
    assert 0 <= report["mistake_maps_trained_on"] <= len(report["mistake_maps"])
    assert json.loads((out.parent / "model.report.json").read_text()) == report
    assert (out.parent / "model.txt").read_text() == f"{first}\n{second}\n"
    assert load_classifier(weights=out, device="cpu").labels == (first, second)


def test_cli_train_refuses_one_class_or_a_class_with_one_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, second = tmp_path / "data", "dog"
    for i in range(3):
        _png(data / "cat" / f"{i}.png", i)
    _png(data / second / "only.png", 9)
    out = str(tmp_path / "m.safetensors")
    assert main(["train", str(data), "--out", out]) == 2
    err = capsys.readouterr().err
    assert err == (f"resnet-lens: each class needs at least two usable images; too few in "
                   f"{second} (1)\n")

    # Two files, one a copy of the other: why the class has one image is said first.
    shutil.copyfile(data / second / "only.png", data / second / "only (copy).png")
    assert main(["train", str(data), "--out", out]) == 2
    assert capsys.readouterr().err == (
        "resnet-lens: 1 file is a copy of an image already in the same class: each image "
        "counts once, so that class trains on fewer images than its files\n"
        f"resnet-lens: each class needs at least two usable images; too few in {second} (1)\n")

    shutil.rmtree(data / second)
    assert main(["train", str(data), "--out", out]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["train", str(data), "--out", str(tmp_path / "m.pth")])
    assert exit_info.value.code == 2
    assert "argument --out: must end in .safetensors" in capsys.readouterr().err
    # A place the model cannot be written to is said before any training, not after it.
    a_file = tmp_path / "models"
    a_file.write_text("a file where the folder should be")
    for folder, says in ((a_file, "a file, not a folder"), (a_file / "sub", "Not a directory")):
        with pytest.raises(SystemExit) as exit_info:
            main(["train", str(data), "--out", str(folder / "m.safetensors")])
        assert exit_info.value.code == 2
        assert f"argument --out: {folder}: {says}\n" in capsys.readouterr().err


# -- what the taught model learned -----------------------------------------------------------
@pytest.mark.slow
def test_default_recipe_learns_new_combinations_and_is_not_worse_than_the_probe(
    taught: dict[str, tuple[TrainedModel, Path]], novel: Novel
) -> None:
    assert tuple(NOVEL) == tuple(sorted(NOVEL))
    default = _heldout_accuracy(taught["default"][1], novel.heldout)
    linear = _heldout_accuracy(taught["linear"][1], novel.heldout)
    print(f"held-out accuracy: default recipe {default:.3f}, linear probe {linear:.3f}")
    assert default >= DEFAULT_ACCURACY, (default, linear)
    # The probe counts as fine-tuning's epoch 0 on validation; held out, fine-tuning must
    # not have made it worse.
    assert default >= linear - 0.05, (default, linear)


@pytest.mark.slow
def test_the_taught_models_grad_cam_peaks_on_the_object(
    taught: dict[str, tuple[TrainedModel, Path]], novel: Novel
) -> None:
    from support.shapes_model import CROP_SIZE, crop_geometry

    clf = load_classifier(weights=taught["default"][1], device="cpu", backend="eager")
    on_object = 0
    for written in novel.heldout:
        pred = clf.predict(written.path, topk=1, cam_classes=[written.label])
        cam = pred.cams[written.label]
        y, x = np.unravel_index(np.nanargmax(cam), cam.shape)
        geometry = crop_geometry(*written.sample.image.size)
        half_cell = CROP_SIZE / 7 / 2 / min(geometry.scale_x, geometry.scale_y)
        x0, y0, x1, y1 = written.sample.box
        on_object += (x0 - half_cell <= x <= x1 + half_cell
                      and y0 - half_cell <= y <= y1 + half_cell)
    assert on_object / len(novel.heldout) >= CAM_ON_OBJECT, on_object


@pytest.mark.slow
def test_round_trip_train_save_load_and_cli_predict_agree(
    taught: dict[str, tuple[TrainedModel, Path]], novel: Novel
) -> None:
    trained, checkpoint = taught["default"]
    paths = [w.path for w in novel.heldout]
    before = _probabilities(trained, paths)
    clf = load_classifier(weights=checkpoint, device="cpu", backend="eager")
    for path, expected in zip(paths, before, strict=True):
        scores = clf.predict(path, topk=len(NOVEL), cam=None).topk
        got = np.zeros(len(NOVEL))
        got[[s.index for s in scores]] = [s.probability for s in scores]
        assert got == pytest.approx(expected, abs=1e-5)

    result = run_cli("predict", str(novel.heldout[0].path.parent.parent), "--weights",
                     str(checkpoint), "--json", "--topk", "1")
    assert result.returncode == 0, result.stderr
    cli_top = {json.loads(line)["file"]: json.loads(line)["topk"][0]["index"]
               for line in result.stdout.splitlines()}
    assert {Path(f): i for f, i in cli_top.items()} == {
        p: int(row.argmax()) for p, row in zip(paths, before, strict=True)}
