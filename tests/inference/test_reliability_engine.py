"""Issue 5 on the engine side: the awkward-file corpus through the API and the CLI, and
fuzzing of checkpoint loading. Nothing crashes, nothing hangs, nothing else is lost."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import torch
import torchvision
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save
from support.corpus import build_corpus
from support.processes import run_cli

from desktop_app.core.errors import LensError, WeightsError
from desktop_app.inference import checkpoints, load_classifier


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    return folder, build_corpus(folder)


def test_corpus_through_the_api(corpus, resnet18_weights) -> None:
    _, entries = corpus
    assert len({e.kind for e in entries}) >= 30
    clf = load_classifier("resnet18", device="cpu")
    for entry in entries:
        if entry.readable:
            pred = clf.predict(entry.path, topk=3)
            assert pred.image_size == entry.expected_size, entry.kind
            for index in pred.cams:  # full-size maps, NaN outside the crop
                assert pred.cams[index].shape == entry.expected_size[::-1]
        else:
            with pytest.raises(LensError) as info:
                clf.predict(entry.path)
            message = str(info.value)
            assert "\n" not in message and entry.path.name in message, entry.kind


@pytest.mark.slow
def test_corpus_through_the_cli(corpus, resnet18_weights) -> None:
    _, entries = corpus
    paths = [str(e.path) for e in entries]
    result = run_cli("predict", "--model", "resnet18", "--json", *paths, timeout=600)
    assert result.returncode == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    done = {r["file"] for r in records if "topk" in r}
    assert done == {str(e.path) for e in entries if e.readable}
    errors = result.stderr.strip().splitlines()
    refused = [e for e in entries if not e.readable]
    assert len(errors) == len(refused)
    # Each refused file also has its JSON line, with the same message as on stderr.
    failed = {r["file"]: r["error"] for r in records if "topk" not in r}
    assert set(failed) == {str(e.path) for e in refused}
    assert sorted(f"resnet-lens: {m}" for m in failed.values()) == sorted(errors)
    for entry in refused:
        assert sum(str(entry.path) in line or entry.path.name in line for line in errors) >= 1
    assert "Traceback" not in result.stderr


# -- checkpoint fuzzing ----------------------------------------------------------------------


def _small_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=2)
    # Keep the file small so that mutations hit structure, not just weight bytes.
    return {k: v for k, v in model.state_dict().items() if k.startswith(("conv1", "fc", "bn1"))}


def _pth_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save(_small_state(), buffer)
    return buffer.getvalue()


SEEDS = {"pth": _pth_bytes(), "safetensors": save(_small_state())}
TRIED: dict[str, int] = {"pth": 0, "safetensors": 0}


@st.composite
def _mutations(draw, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "overwrite"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif data:
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[pos : pos + len(chunk)] = chunk
    return bytes(data)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_mutated_checkpoints_load_or_are_refused(fmt, tmp_path_factory, record_property) -> None:
    folder = tmp_path_factory.mktemp(f"fuzz-{fmt}")

    @settings(
        max_examples=300,
        deadline=5000,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=_mutations(SEEDS[fmt]))
    def check(data: bytes) -> None:
        TRIED[fmt] += 1
        path = folder / f"mutant.{fmt}"
        path.write_bytes(data)
        try:
            state = checkpoints.read_state_dict(path)
        except WeightsError as exc:
            assert "\n" not in str(exc)
            return
        assert all(isinstance(v, torch.Tensor) for v in state.values())

    check()
    record_property(f"fuzz_checkpoint_{fmt}_tried", TRIED[fmt])
    print(f"fuzz-summary checkpoint {fmt}: tried={TRIED[fmt]}")
    assert TRIED[fmt] >= 300


def test_zip_with_a_pickle_that_imports_is_refused(tmp_path) -> None:
    # A torch-format zip whose data.pkl references os.system: refused without running.
    marker = tmp_path / "ran"
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(1)}, buffer)
    src = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    evil = (
        b"\x80\x02cos\nsystem\nq\x00X"
        + len(f"touch {marker}").to_bytes(4, "little")
        + f"touch {marker}".encode()
        + b"q\x01\x85q\x02Rq\x03."
    )
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as out:
        for item in src.infolist():
            payload = evil if item.filename.endswith("data.pkl") else src.read(item.filename)
            out.writestr(item, payload)
    with pytest.raises(WeightsError, match="refused"):
        checkpoints.read_state_dict(path)
    assert not marker.exists()
