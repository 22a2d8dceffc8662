"""Teaching projects: classes and samples saved as they change, reopened as they were, and
damaged manifests refused with one line."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from PIL import Image
from support.teach_data import solid_image

from desktop_app.core.atomic import PART_SUFFIX
from desktop_app.core.dataset import check_teachable, scan_dataset
from desktop_app.core.errors import LensError, one_line
from desktop_app.core.teach_project import (
    MANIFEST,
    ClassNameError,
    TeachProject,
    TeachProjectError,
    check_class_name,
    frame_stem,
    sample_label,
)


def _class_folder(root: Path) -> Path:
    """``root/cats`` with two images, ``root/dogs`` with three, one loose image."""
    for i in range(2):
        solid_image(root / "cats" / f"c{i}.png", 10 + i)
    for i in range(3):
        solid_image(root / "dogs" / "deeper" / f"d{i}.png", 100 + i)
    solid_image(root / "loose.png", 200)
    return root


def test_classes_and_samples_survive_reopening(tmp_path: Path) -> None:
    project = TeachProject.create(tmp_path / "proj")
    project.add_class("cats")
    project.add_class("dogs")
    added = project.add_files("cats", [solid_image(tmp_path / "in" / "a.png", 1),
                                       solid_image(tmp_path / "in" / "b.png", 2)])
    assert len(added.samples) == 2 and added.skipped == ()
    frame = np.zeros((8, 10, 3), np.uint8)
    frame[..., 0] = 255
    shot = project.add_frame("dogs", frame)
    project.rename_class("cats", "Kittens")

    again = TeachProject.open(tmp_path / "proj")
    assert again.classes == ("Kittens", "dogs")  # order kept: it is the label index
    assert again.counts() == {"Kittens": 2, "dogs": 1}
    assert np.array_equal(np.asarray(Image.open(shot)), frame)  # RGB, losslessly
    assert all(p.parent == again.root / "images" for p in again.samples("Kittens"))


def test_files_are_copied_in_so_moving_the_originals_loses_nothing(tmp_path: Path) -> None:
    original = solid_image(tmp_path / "a.png", 7)
    project = TeachProject.create(tmp_path / "proj")
    project.add_class("x")
    project.add_files("x", [original])
    original.unlink()
    (sample,) = TeachProject.open(project.root).samples("x")
    assert sample.is_file() and sample.name.endswith("-a.png")


def test_dataset_follows_the_manifest_and_skips_missing_files(tmp_path: Path) -> None:
    project = TeachProject.create(tmp_path / "proj")
    project.add_class_folder(_class_folder(tmp_path / "data"))
    deleted = project.samples("dogs")[0]
    deleted.unlink()  # behind the app's back
    dataset = project.dataset()
    assert dataset.classes == ("cats", "dogs")
    assert dataset.counts() == {"cats": 2, "dogs": 2}
    assert [(s.path, s.reason) for s in dataset.skipped] == [
        (deleted, "No such file or directory")]
    check_teachable(dataset.classes, dataset.counts())
    # The same classes and digests as the CLI's reading of the folder.
    folder = scan_dataset(tmp_path / "data")
    assert folder.classes == dataset.classes
    assert {e.digest for e in folder.examples} > {e.digest for e in dataset.examples}


def test_an_image_added_while_a_training_runs_makes_the_project_newer_than_its_dataset(
        tmp_path: Path) -> None:
    """A training's results are dated by when its dataset listed the files (the report's
    ``trained_at``); the window calls results stale when the manifest is newer. An image
    added after the listing, while the training still runs, must count as a change."""
    project = TeachProject.create(tmp_path / "proj")
    project.add_class_folder(_class_folder(tmp_path / "data"))
    dataset = project.dataset()  # the training starts
    assert dataset.taken_at <= datetime.now().astimezone()
    time.sleep(0.05)  # file times come from a coarse clock (a few ms behind): not a race
    project.add_files("cats", [solid_image(tmp_path / "late.png", 99)])  # during it
    assert (project.root / MANIFEST).stat().st_mtime > dataset.taken_at.timestamp()


def test_an_image_in_two_classes_is_named_as_the_user_added_it(tmp_path: Path) -> None:
    # Found by driving the window: the training's warning named the project's private
    # copies (images/9748c873-circle8.png), which the user never saw.
    project = TeachProject.create(tmp_path / "proj")
    project.add_class("cats")
    project.add_class("dogs")
    picture = solid_image(tmp_path / "kitten.png", 5)
    project.add_files("cats", [picture])
    project.add_files("dogs", [picture])
    [duplicate] = project.dataset().duplicates
    assert (duplicate.first, duplicate.second, duplicate.classes) == (
        "kitten.png", "kitten.png", ("cats", "dogs"))


def test_a_class_folder_creates_its_classes_and_reports_loose_images(tmp_path: Path) -> None:
    project = TeachProject.create(tmp_path / "proj")
    project.add_class("Dogs")
    added = project.add_class_folder(_class_folder(tmp_path / "data"))
    # "dogs" joins the class "Dogs" (names are compared without case).
    assert project.classes == ("Dogs", "cats")
    assert project.counts() == {"Dogs": 3, "cats": 2}
    assert [(s.path.name, s.reason) for s in added.skipped] == [
        ("loose.png", "not in a class sub-folder")]


def test_a_non_image_file_is_refused_with_its_reason(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    project = TeachProject.create(tmp_path / "proj")
    project.add_class("x")
    added = project.add_files("x", [notes, tmp_path / "gone.png"])
    assert added.samples == ()
    assert [(s.path.name, s.reason) for s in added.skipped] == [
        ("notes.txt", "not an image file"), ("gone.png", "No such file or directory")]
    assert project.counts() == {"x": 0}


def test_removing_samples_and_classes_deletes_their_files(tmp_path: Path) -> None:
    project = TeachProject.create(tmp_path / "proj")
    project.add_class("a")
    project.add_class("b")
    project.add_files("a", [solid_image(tmp_path / f"{i}.png", i) for i in range(3)])
    project.add_files("b", [solid_image(tmp_path / "b.png", 50)])
    first, second, third = project.samples("a")
    assert project.remove_samples("a", [second]) == 1
    assert not second.exists() and project.samples("a") == (first, third)
    (b_file,) = project.samples("b")
    project.remove_class("b")
    assert not b_file.exists()
    assert TeachProject.open(project.root).counts() == {"a": 2}
    assert project.remove_samples("a", [tmp_path / "elsewhere.png"]) == 0


@pytest.mark.parametrize(("name", "taken", "message"), [
    ("   ", (), "a class needs a name"),
    ("Cat", ("cat",), "there is already a class named 'Cat'"),
    ("two\nlines", (), "cannot hold line breaks"),
    ("x" * 81, (), "at most 80 characters"),
])
def test_bad_class_names_are_refused_with_a_reason(
        name: str, taken: tuple[str, ...], message: str) -> None:
    with pytest.raises(ClassNameError, match=message):
        check_class_name(name, taken)


def test_class_names_are_trimmed_and_a_rename_to_itself_in_another_case_works(
        tmp_path: Path) -> None:
    project = TeachProject.create(tmp_path / "proj")
    assert project.add_class("  red car ") == "red car"
    assert project.rename_class("red car", "Red car") == "Red car"
    with pytest.raises(TeachProjectError, match="no class named 'blue'"):
        project.rename_class("blue", "green")


def test_each_change_is_on_disk_at_once_and_leaves_no_partial_file(tmp_path: Path) -> None:
    project = TeachProject.create(tmp_path / "proj")
    project.add_class("a")
    project.add_frame("a", np.zeros((4, 4, 3), np.uint8))
    # What a crash right now would leave: the manifest names the frame, written in full.
    manifest = json.loads((project.root / MANIFEST).read_text())
    assert [c["name"] for c in manifest["classes"]] == ["a"]
    (sample,) = manifest["classes"][0]["samples"]
    assert (project.root / sample).is_file()
    leftovers = [p for p in project.root.rglob("*") if p.name.endswith(PART_SUFFIX)]
    assert leftovers == []


@pytest.mark.parametrize(("content", "message"), [
    (None, "not a teaching project (project.json is missing)"),
    ("{not json", "damaged (not valid JSON: Expecting property name"),
    ('{"format": "something else"}', "not a ResNet Lens teaching project"),
    ('{"format": "resnet-lens-teaching-project", "version": 99, "classes": []}',
     "written by a newer ResNet Lens"),
    ('{"format": "resnet-lens-teaching-project", "version": 1, "classes": '
     '[{"name": "a", "samples": ["../../etc/passwd"]}]}', "a sample outside the project"),
    ('{"format": "resnet-lens-teaching-project", "version": 1, "classes": '
     '[{"name": "a"}, {"name": "A"}]}', "already a class named 'A'"),
    ("\udcff", "cannot be read (not UTF-8 text)"),
])
def test_a_missing_or_damaged_manifest_is_one_line(
        tmp_path: Path, content: str | None, message: str) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    if content is not None:
        (root / MANIFEST).write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(TeachProjectError) as caught:
        TeachProject.open(root)
    assert isinstance(caught.value, LensError)
    assert message in one_line(caught.value) and "\n" not in str(caught.value)


def test_create_refuses_a_project_or_a_folder_in_use(tmp_path: Path) -> None:
    TeachProject.create(tmp_path / "proj")
    with pytest.raises(TeachProjectError, match="already a teaching project; open it"):
        TeachProject.create(tmp_path / "proj")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.doc").write_text("mine")
    with pytest.raises(TeachProjectError, match="not an empty folder"):
        TeachProject.create(tmp_path / "busy")


def test_model_path_is_inside_the_project_and_named_after_it(tmp_path: Path) -> None:
    project = TeachProject.create(tmp_path / "my plants")
    assert project.model_path == project.root / "model" / "my_plants.safetensors"
    assert project.model_path.parent.is_dir()


def test_warnings_name_what_stands_in_the_way_of_training(tmp_path: Path) -> None:
    project = TeachProject.create(tmp_path / "proj")
    assert project.warnings() == ["Add at least two classes, each with a few example images."]
    project.add_class("a")
    project.add_files("a", [solid_image(tmp_path / f"{i}.png", i) for i in range(2)])
    assert project.warnings() == ["Add a second class: a model learns to tell classes apart."]
    project.add_class("b")
    assert project.warnings() == ["Needs at least 2 images: b."]
    project.add_files("b", [solid_image(tmp_path / f"{i}.png", i) for i in range(5, 7)])
    assert project.warnings() == []


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="needs POSIX permissions")
def test_an_unwritable_place_is_one_line(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(TeachProjectError, match="cannot create the project"):
            TeachProject.create(locked / "proj")
    finally:
        locked.chmod(0o700)


def test_a_sample_is_shown_by_its_own_name_without_the_random_prefix(tmp_path: Path) -> None:
    project = TeachProject.create(tmp_path / "proj")
    project.add_class("x")
    project.add_files("x", [solid_image(tmp_path / "IMG 0001.png", 3)])
    project.add_frame("x", np.zeros((4, 4, 3), np.uint8))
    own, frame = (sample_label(p) for p in project.samples("x"))
    assert own == "IMG_0001.png" and re.fullmatch(r"x-\d{8}-\d{6}-001\.png", frame)
    assert sample_label(Path("cafe-au-lait.png")) == "cafe-au-lait.png"  # not our prefix


def test_reopening_makes_the_image_and_model_folders_again(tmp_path: Path) -> None:
    project = TeachProject.create(tmp_path / "proj")
    project.model_path.parent.rmdir()
    (project.root / "images").rmdir()
    again = TeachProject.open(project.root)
    assert again.model_path.parent.is_dir() and (again.root / "images").is_dir()


# What a camera's or a video's title, or a class name, can hold: path separators, characters
# Windows refuses, a device name, trailing dots and blanks.
HOSTILE = 'Camera 0 — ../..\\CON:*?<>|"x. '
SAFE_NAME = re.compile(r"[0-9a-f]{8}-[\w.-]+\.png")


def test_captured_frames_are_named_by_class_time_and_number_safe_everywhere(
        tmp_path: Path) -> None:
    project = TeachProject.create(tmp_path / "proj")
    name = project.add_class(HOSTILE)
    frame = np.zeros((4, 4, 3), np.uint8)
    rels = [project.write_frame(frame, name, n) for n in range(1, 4)]
    rels.append(project.write_frame(frame, "café", 1))
    names = [PurePosixPath(rel).name for rel in rels]
    assert all(PurePosixPath(rel).parent == PurePosixPath("images") for rel in rels)
    assert len(set(names)) == len(names)  # unique, even within one second
    for file_name in names:
        assert SAFE_NAME.fullmatch(file_name), file_name
        assert not set(file_name) & set('/\\:*?"<>| ') and len(file_name) < 80
    labels = [sample_label(Path(n)) for n in names]
    assert re.fullmatch(r"Camera_0_.._.._CON_x-\d{8}-\d{6}-002\.png", labels[1])
    assert re.fullmatch(r"café-\d{8}-\d{6}-001\.png", labels[3])
    assert frame_stem("...", 7, datetime(2026, 1, 2, 3, 4, 5)) == "frame-20260102-030405-007"


def test_a_project_with_frames_named_the_old_way_still_opens(tmp_path: Path) -> None:
    """Frames used to be named after their source ("Camera_0-frame-812.png")."""
    project = TeachProject.create(tmp_path / "proj")
    project.add_class("hand")
    old = "images/3fa2c1d0-Video_My__clip.avi-frame-12.png"
    solid_image(project.root / old, 5)
    project.attach("hand", [old])
    again = TeachProject.open(project.root)
    assert again.samples("hand") == (project.root / old,)
    assert sample_label(again.samples("hand")[0]) == "Video_My__clip.avi-frame-12.png"
