"""What a drop or a paste carries: local files and folders, image data, or URLs we cannot
fetch (the app is offline by design)."""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QImage

_DATA_URL = re.compile(r"^data:(image/[\w.+-]+)?(;[^,]*)?,(.*)$", re.DOTALL | re.IGNORECASE)
_HTML_IMG_SRC = re.compile(r"""<img[^>]+src\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_REMOTE_SCHEMES = ("http", "https", "ftp")


@dataclass
class MimeContent:
    """``paths``: local files or folders; ``images``: (name, encoded bytes or QImage);
    ``messages``: one line per thing that cannot be opened."""

    paths: list[Path] = field(default_factory=list)
    images: list[tuple[str, bytes | QImage]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.paths or self.images or self.messages)


def can_accept(mime: QMimeData) -> bool:
    return (mime.hasUrls() or mime.hasImage() or mime.hasText() or mime.hasHtml()
            or bool(_image_format(mime)))


def read_mime(mime: QMimeData, what: str = "dropped") -> MimeContent:
    content = MimeContent()
    remote: list[str] = []
    urls = list(mime.urls()) if mime.hasUrls() else []
    if not urls and mime.hasText():
        urls = _urls_from_text(mime.text())
    for url in urls:
        _add_url(content, remote, url, what)

    fmt = _image_format(mime)
    if fmt:
        # Browsers put the encoded file itself on a drag; decode_image reads those bytes.
        content.images.append((f"{what} image ({fmt})", bytes(mime.data(fmt).data())))
    elif mime.hasImage() and not content.paths:
        image = mime.imageData()
        if isinstance(image, QImage) and not image.isNull():
            content.images.append((f"{what} image", image))
    if not content.images and mime.hasHtml():
        for src in _HTML_IMG_SRC.findall(mime.html()):
            _add_url(content, remote, QUrl(src), what)

    if remote and not content.images and not content.paths:
        for url in remote:
            content.messages.append(
                f"{_short(url)}: web addresses cannot be opened (ResNet Lens works offline); "
                "save the image, then open the file")
    elif not content:
        content.messages.append(f"Nothing {what} is an image, a file or a folder")
    return content


def _add_url(content: MimeContent, remote: list[str], url: QUrl, what: str) -> None:
    scheme = url.scheme().lower()
    if url.isLocalFile():
        content.paths.append(Path(url.toLocalFile()))
    elif scheme == "data":
        decoded = _decode_data_url(url.toString())
        if decoded is None:
            content.messages.append(f"A {what} data URL is not an image")
        else:
            content.images.append((f"{what} image (data URL)", decoded))
    elif scheme in _REMOTE_SCHEMES:
        remote.append(url.toString())
    elif scheme:
        content.messages.append(f"{_short(url.toString())}: unsupported kind of link ({scheme})")


def _urls_from_text(text: str) -> list[QUrl]:
    """File paths or URLs, one per line, as a file manager or a terminal copies them."""
    urls = []
    for line in text.splitlines():
        line = line.strip().strip('"').strip("'")
        if not line:
            continue
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", line) and not re.match(r"^[a-zA-Z]:[\\/]", line):
            urls.append(QUrl(line))
        elif Path(line).expanduser().exists():
            urls.append(QUrl.fromLocalFile(str(Path(line).expanduser())))
        else:
            return []  # ordinary text, not a list of files
    return urls


def _decode_data_url(text: str) -> bytes | None:
    match = _DATA_URL.match(text)
    if match is None or match.group(1) is None:
        return None
    payload = match.group(3)
    try:
        if match.group(2) and "base64" in match.group(2).lower():
            return base64.b64decode(payload, validate=False)
        return urllib.parse.unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        return None


def _image_format(mime: QMimeData) -> str | None:
    formats = [f for f in mime.formats() if f.lower().startswith("image/")]
    # PNG first: lossless, and what Qt itself offers when an image is copied.
    for preferred in ("image/png", "image/jpeg", "image/webp", "image/bmp"):
        if preferred in formats:
            return preferred
    return formats[0] if formats else None


def _short(url: str, limit: int = 80) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"
