"""Teaching the model loaded now new classes, in the window: the training settings asked
first (remembered for the next time), a TRAIN request to the worker (which owns the model),
its progress and Cancel in the Teach dialog, then the results and *Use this model*, which
loads the saved checkpoint as *Choose weights file…* would. The open teaching project's
model, trained in an earlier session, has its results read back from its report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QWidget

from desktop_app.core.dataset import Dataset, check_teachable, repeats_note, scan_dataset
from desktop_app.core.errors import LensError
from desktop_app.core.evaluation import Evaluation
from desktop_app.core.teach_project import MANIFEST, TeachProject
from desktop_app.core.teach_recipe import DEFAULT_RECIPE, Recipe
from desktop_app.inference.taught_files import CHECKPOINT_SUFFIX, TaughtFiles, files_for
from desktop_app.inference.taught_gallery import Gallery, saved_gallery
from desktop_app.inference.taught_report import SavedTraining, read_saved
from desktop_app.ui.controllers.background import Background
from desktop_app.ui.controllers.model_controller import ModelController
from desktop_app.ui.controllers.worker import Reply, WorkerClient
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.settings import Settings
from desktop_app.ui.state.requests import (
    FailureReason,
    TrainProgress,
    TrainRequest,
    TrainResult,
    WorkerFailure,
    next_request_id,
)
from desktop_app.ui.widgets.recipe_dialog import RecipeDialog
from desktop_app.ui.widgets.teach_dialog import TeachDialog
from desktop_app.ui.widgets.teach_results import percent

CHECKPOINT_FILTER = f"Checkpoint (*{CHECKPOINT_SUFFIX})"
_HOW = {"cancelled": "stopped by Cancel: the best model so far was kept",
        "early stopping": "stopped early: no better on validation",
        "completed": "completed"}


def _read_saved(checkpoint: Path) -> tuple[SavedTraining, Gallery] | None:
    """Runs in the background pool: a saved training's report and its mistakes' maps."""
    saved = read_saved(checkpoint)
    return None if saved is None else (saved, saved_gallery(saved))


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def _summary(evaluation: Evaluation, probe_accuracy: float, best: str, how: str,
             recipe: str, files: TaughtFiles, trained_at: datetime, took: str) -> str:
    """The results' first lines: accuracy, the model kept, the recipe, when and on how
    many images, and the files."""
    return (
        f"<b>Validation accuracy {percent(evaluation.accuracy)}</b> "
        f"({evaluation.validation}) on "
        f"{sum(evaluation.val_counts.values())} images (linear probe alone on the "
        f"early-stopping split: {percent(probe_accuracy)}). Kept: {best}; {how}.<br>"
        + (f"Recipe: {escape(recipe)}.<br>" if recipe else "")
        + f"Trained {_when(trained_at)} on {sum(evaluation.counts.values())} images. "
        f"Saved {escape(str(files.checkpoint))} with {escape(files.labels.name)} and "
        f"{escape(files.report.name)}{took}.")


class TeachController(QObject):
    message = Signal(str, str)  # text, level
    finished = Signal(object)  # TrainResult: a model was trained and saved
    results_changed = Signal()  # the open project's saved results were read, or are gone
    running_changed = Signal()  # a training started or ended

    def __init__(self, window: QWidget, client: WorkerClient, models: ModelController,
                 settings: Settings, background: Background) -> None:
        super().__init__(window)
        self._window = window
        self._client = client
        self._models = models
        self._settings = settings
        self._background = background
        self.dialog: TeachDialog | None = None
        self.recipe_dialog: RecipeDialog | None = None  # open while the settings are asked
        self.result: TrainResult | None = None  # the last training's
        # The open project's model trained earlier, read back from its report.
        self.saved: SavedTraining | None = None
        self._saved_gallery: Gallery | None = None
        self._saved_unshown = False  # read, and newer than what the dialog shows
        self._project: TeachProject | None = None
        self._project_model: Path | None = None
        # The results the dialog shows: their files (Use this model) and time.
        self._shown: tuple[TaughtFiles, datetime] | None = None
        self._pending: TrainRequest | None = None
        self._reply = Reply(self._on_result, self._on_failure, self._on_progress)
        models.ready.connect(self._sync_use_button)
        models.load_failed.connect(self._sync_use_button)

    @property
    def running(self) -> bool:
        return self._pending is not None

    @property
    def has_results(self) -> bool:
        """*Show training results* has something to show."""
        return self.result is not None or self.saved is not None

    def set_project(self, project: TeachProject | None) -> None:
        """The Teach pane's project was opened or changed: another project's saved model
        has its results read (in the background); a change is said over the results."""
        self._project = project
        model = project.model_path if project is not None else None
        if model != self._project_model:
            self._project_model = model
            self.saved, self._saved_gallery, self._saved_unshown = None, None, False
            emit(self.results_changed)
            if model is not None:
                self._background.run(_read_saved, model, callback=self._saved_read(model))
        self._update_notice()

    def _saved_read(self, model: Path) -> Callable[[Any, str | None], None]:
        def done(found: tuple[SavedTraining, Gallery] | None, error: str | None) -> None:
            if model != self._project_model:
                return  # another project was opened meanwhile
            if error is not None:  # damaged: said once, the results stay unavailable
                emit(self.message, f"{error}: the training results cannot be shown", "info")
                return
            if found is not None:
                self.saved, self._saved_gallery = found
                self._saved_unshown = True
                emit(self.results_changed)
        return done

    @Slot(object, object)
    def ask_train(self, dataset: Dataset, out: Path) -> None:
        """The Teach pane's *Train…*: the training settings, then ``train``."""
        if self._refused_while_running():
            return
        images = sum(dataset.counts().values())
        self._ask_recipe(
            f"Teach {len(dataset.classes)} classes ({', '.join(dataset.classes)}; {images} "
            f"images) and save the model as {out.name}.",
            lambda recipe: self.train(dataset, out, recipe))

    def train(self, dataset: Dataset, out: Path, recipe: Recipe | None = None) -> None:
        """Teach the model loaded now the classes of ``dataset`` by ``recipe`` (None: the
        default one) and save it as ``out`` (``.safetensors``; labels and report beside
        it). Progress, errors and results show in the Teach dialog; ``finished`` carries
        the result."""
        if self._refused_while_running():
            return
        recipe = recipe or DEFAULT_RECIPE
        dialog = self._dialog()
        dialog.show()
        dialog.raise_()
        dialog.show_started(f"Teach — {out.name}",
                            f"Teaching {len(dataset.classes)} classes "
                            f"({', '.join(dataset.classes)}); recognition in the window "
                            "pauses until training ends.")
        for skipped in dataset.skipped:
            self._note(f"{skipped.path}: {skipped.reason}; skipped")
        if (note := repeats_note(dataset.repeats)) is not None:
            self._note(note)
        try:
            files_for(out)
            check_teachable(dataset.classes, dataset.counts())
        except LensError as error:
            self._refuse(str(error))
            return
        dialog.add_line(f"Recipe: {recipe.describe()}")
        self._pending = TrainRequest(next_request_id(), dataset, out, recipe)
        self._client.submit(self._pending, self._reply)
        emit(self.running_changed)

    @Slot()
    def cancel(self) -> None:
        """Stop training; the best model so far is still saved and shown."""
        if self._pending is None:
            return
        self._client.cancel_train()
        if self.dialog is not None:
            self.dialog.show_cancelling()

    @Slot()
    def use_model(self) -> None:
        """Load the checkpoint whose results the dialog shows as the window's model."""
        if self._shown is None:
            return
        files = self._shown[0]
        self._models.load_weights(str(files.checkpoint), str(files.labels))
        if self.dialog is not None:
            self.dialog.results.mark_used()

    @Slot()
    def _sync_use_button(self) -> None:
        """A model loaded or failed to: *Use this model* is on unless the window uses the
        shown results' checkpoint now. It stayed "Model in use" after the user chose
        another model, or after the checkpoint failed to load, with no way back to it."""
        if self.dialog is None or self._shown is None:
            return
        weights = self._models.request.weights
        if self._models.info is not None and weights is not None \
                and Path(weights) == self._shown[0].checkpoint:
            self.dialog.results.mark_used()
        else:
            self.dialog.results.show_unused()

    @Slot()
    def show_dialog(self) -> None:
        """Show the Teach window again (after it was closed): the last results stay, or
        the open project's saved ones when they are newer (a training in progress keeps
        its progress in view)."""
        if self._saved_unshown and not self.running:
            self._show_saved()
        dialog = self._dialog()
        dialog.show()
        dialog.raise_()

    def _show_saved(self) -> None:
        saved, gallery = self.saved, self._saved_gallery
        assert saved is not None and gallery is not None
        self._saved_unshown = False
        files, evaluation = saved.files, saved.evaluation
        how = _HOW.get(saved.stopped, saved.stopped)
        dialog = self._dialog()
        self._shown = (files, saved.trained_at)
        dialog.results.show_results(
            _summary(evaluation, saved.probe_accuracy, saved.best, how, saved.recipe, files,
                     saved.trained_at, ""), evaluation, gallery)
        dialog.show_saved(f"Teach — {files.checkpoint.name}",
                          f"Trained {len(evaluation.classes)} classes: {how}. Read back from "
                          f"{files.report.name}.")
        info = self._models.info
        if info is not None and info.weights_path == str(files.checkpoint):
            dialog.results.mark_used()  # the window kept it from the last session
        self._update_notice()

    def _update_notice(self) -> None:
        """Say over the results when the project changed after they were made: they
        describe the images it had then."""
        if self.dialog is None:
            return
        project, text = self._project, ""
        if self._shown is not None and project is not None:
            files, made = self._shown
            try:
                changed = (files.checkpoint == project.model_path
                           and (project.root / MANIFEST).stat().st_mtime > made.timestamp())
            except OSError:
                changed = False
            if changed:
                counts = project.counts()
                text = (f"⚠ The project has changed since this training ({_when(made)}): "
                        f"these results are of the images it had then, not of its "
                        f"{sum(counts.values())} images in {len(counts)} classes now. "
                        "Train again for results on them.")
        self.dialog.results.set_notice(text)

    @Slot()
    def ask_train_from_folder(self) -> None:
        """*Train from folder…*: a folder with one sub-folder of images per class, the file
        to save the model as, then the training settings."""
        if self._refused_while_running():
            return
        folder = QFileDialog.getExistingDirectory(
            self._window, "Folder with one sub-folder of images per class",
            self._settings.last_dir or str(Path.home()))
        if not folder:
            return
        self._settings.last_dir = folder
        suggested = Path(folder).with_name(f"{Path(folder).name}{CHECKPOINT_SUFFIX}")
        out, _ = QFileDialog.getSaveFileName(self._window, "Save the taught model as",
                                             str(suggested), CHECKPOINT_FILTER)
        if not out:
            return
        if not out.lower().endswith(CHECKPOINT_SUFFIX):
            out += CHECKPOINT_SUFFIX
        self._ask_recipe(
            f"Teach the classes in {folder} (one sub-folder each) and save the model as "
            f"{Path(out).name}.",
            lambda recipe: self.train_from_folder(Path(folder), Path(out), recipe))

    def train_from_folder(self, folder: Path, out: Path, recipe: Recipe | None = None) -> None:
        """Scan ``folder`` off the GUI thread (every file is read for its hash), then
        train from it by ``recipe``."""
        dialog = self._dialog()
        dialog.show_started(f"Teach — {out.name}", f"Reading {folder}…")
        dialog.show()
        dialog.raise_()
        self._background.run(scan_dataset, folder, callback=lambda dataset, error: (
            self._refuse(error) if error is not None else self.train(dataset, out, recipe)))

    def close(self) -> None:
        """At shutdown: the worker stops the training itself; nothing more is shown."""
        self._pending = None
        if self.dialog is not None:
            self.dialog.close()

    def _ask_recipe(self, text: str, start: Callable[[Recipe], None]) -> None:
        """The training settings, last used ones first; *Train* remembers them and calls
        ``start``. Window-modal, without a nested event loop."""
        dialog = RecipeDialog(text, self._settings.recipe, self._window)
        self.recipe_dialog = dialog

        def on_accepted() -> None:
            recipe = dialog.recipe()
            self._settings.recipe = recipe
            start(recipe)

        def on_finished() -> None:  # after on_accepted
            self.recipe_dialog = None
            dialog.deleteLater()

        dialog.accepted.connect(on_accepted)
        dialog.finished.connect(on_finished)
        dialog.open()

    def _dialog(self) -> TeachDialog:
        if self.dialog is None:
            self.dialog = TeachDialog(self._window)
            self.dialog.cancel_requested.connect(self.cancel)
            self.dialog.results.use_requested.connect(self.use_model)
        return self.dialog

    def _refused_while_running(self) -> bool:
        """One training at a time: another one is refused, and its progress shown."""
        if self._pending is None:
            return False
        self.show_dialog()
        emit(self.message, "A training is running already: wait for it or cancel it first.",
             "error")
        return True

    def _refuse(self, text: str) -> None:
        assert self.dialog is not None
        self.dialog.show_error(text)
        emit(self.message, f"Training: {text}", "error")

    def _note(self, text: str) -> None:
        assert self.dialog is not None
        self.dialog.add_line(text)
        emit(self.message, text, "info")

    def _on_progress(self, progress: TrainProgress) -> None:
        if self._pending is None or progress.request_id != self._pending.id:
            return
        dialog = self._dialog()
        if progress.note is not None:
            self._note(progress.note)
            return
        if progress.loss is not None:
            dialog.add_line(
                f"{progress.stage} {progress.done}/{progress.total}: loss {progress.loss:.3f}, "
                f"validation accuracy {percent(progress.val_accuracy or 0.0)}")
        if not dialog.cancel_button.isEnabled():
            return  # stopping: the dialog says so until the result arrives
        dialog.show_stage(progress.stage, progress.done, progress.total)

    def _on_result(self, result: TrainResult) -> None:
        if self._pending is None or result.request.id != self._pending.id:
            return
        self._pending = None
        emit(self.running_changed)
        self.result = result
        self._saved_unshown = False  # the dialog shows the newest results: these
        evaluation, files = result.saved.evaluation, result.saved.files
        how = _HOW.get(result.stopped, result.stopped)
        trained_at = datetime.fromisoformat(str(result.saved.report["trained_at"]))
        self._shown = (files, trained_at)
        dialog = self._dialog()
        dialog.results.show_results(
            _summary(evaluation, result.probe_accuracy, result.best, how,
                     result.request.recipe.describe(), files, trained_at,
                     f" ({result.worker_ms / 1000:.0f} s)"), evaluation, result.gallery)
        dialog.show_done(f"Trained {len(evaluation.classes)} classes: {how}.")
        self._update_notice()
        emit(self.message, f"Trained {files.checkpoint.name}: validation accuracy "
                           f"{percent(evaluation.accuracy)}", "info")
        emit(self.finished, result)

    def _on_failure(self, failure: WorkerFailure) -> None:
        if self._pending is None or failure.request_id != self._pending.id:
            return
        self._pending = None
        emit(self.running_changed)
        if failure.reason is FailureReason.CANCELLED:
            self._dialog().show_error(failure.message)  # "cancelled … nothing was trained"
            emit(self.message, f"Training: {failure.message}", "info")
            return
        self._refuse(failure.message)
