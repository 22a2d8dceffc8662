"""Results as JSON lines in a file, written so that an interrupted run loses nothing.

Each line is written whole and flushed as soon as its image is done (its map files were
written atomically before it), so a run killed at any moment leaves every finished image
on record. A re-run with ``resume=True`` reads the file back, skips what is done and
appends the rest; a line cut short by the kill is dropped first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class ResultLog:
    """``done(file, ...)`` for a resumed run; ``append(record)`` for each finished image.

    A record is done when it has results (a ``topk``; an error line is retried), was made
    with the same CAM methods and layer, and every map file it lists still exists.
    """

    def __init__(self, path: str | os.PathLike[str], *, resume: bool = False) -> None:
        self.path = Path(path)
        # file -> (CAM methods, layer, map paths): names only, a few hundred bytes per image.
        self._done: dict[str, tuple[tuple[str, ...], str | None, tuple[str, ...]]] = {}
        if resume and self.path.exists():
            self._read_back()
        # Open for the run's length; close() (or the with-block) ends it.
        self._stream = open(self.path, "a" if resume else "w", encoding="utf-8")  # noqa: SIM115

    def done(self, file: str, cam_methods: Sequence[str], cam_layer: str | None,
             map_suffix: str | None) -> bool:
        entry = self._done.get(file)
        if entry is None:
            return False
        methods, layer, maps = entry
        if tuple(cam_methods) != methods or (cam_methods and layer != cam_layer):
            return False
        if map_suffix is not None and not all(m.endswith(map_suffix) for m in maps):
            return False
        return all(os.path.exists(m) for m in maps)

    def append(self, record: dict[str, Any]) -> None:
        self._stream.write(json.dumps(record) + "\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> ResultLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_back(self) -> None:
        with open(self.path, "rb+") as stream:
            complete = 0  # bytes up to the end of the last whole line
            for line in stream:  # line by line: a log of 100,000 images is never held whole
                if not line.endswith(b"\n"):
                    stream.truncate(complete)  # the last line was cut short: drop it
                    break
                complete += len(line)
                self._remember(line)

    def _remember(self, line: bytes) -> None:
        try:
            record = json.loads(line)
        except ValueError:
            return
        if isinstance(record, dict) and "topk" in record and "file" in record:
            maps = tuple(str(m["path"]) for m in record.get("maps", []))
            self._done[str(record["file"])] = (
                tuple(record.get("cam_methods", [])), record.get("cam_layer"), maps)
