"""Draw the app icon and the sample images in ``resources/`` (procedural, seeded).

    python packaging/make_resources.py [--out resources]

Everything is drawn here with Pillow and numpy, so the files carry no third-party rights
(see resources/README.md). Shapes are drawn at 4x and reduced, for smooth edges.
The samples depict ImageNet classes (traffic light, honeycomb, goldfish) so that real
weights give a recognisable answer.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SCALE = 4
SAMPLE_SIZE = (512, 384)
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)
REPO = Path(__file__).resolve().parents[1]


def _reduce(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image.resize(size, Image.Resampling.LANCZOS)


def _vertical_gradient(size: tuple[int, int], top: tuple[int, ...], bottom: tuple[int, ...]):
    width, height = size
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    rows = (1 - t) * np.array(top, np.float32) + t * np.array(bottom, np.float32)
    return Image.fromarray(np.repeat(rows, width, axis=1).round().astype(np.uint8))


def _jet(values: np.ndarray) -> np.ndarray:
    """The classic jet colormap (as Grad-CAM overlays use), for values in [0, 1]."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    channels = np.concatenate(
        [np.clip(1.5 - np.abs(4 * v - c), 0, 1) for c in (3.0, 2.0, 1.0)], axis=-1
    )
    return (channels * 255).round().astype(np.uint8)


def draw_icon(size: int = 256) -> Image.Image:
    """A magnifying lens whose glass shows a Grad-CAM-like heat map."""
    big = size * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    cx, cy, radius = big * 0.42, big * 0.42, big * 0.33
    # Handle first, so the rim covers its end.
    hx, hy = cx + radius * 0.72, cy + radius * 0.72
    draw.line((hx, hy, big * 0.9, big * 0.9), fill=(52, 58, 70, 255), width=int(big * 0.11))
    ys, xs = np.mgrid[0:big, 0:big].astype(np.float32)
    # Heat centred off-axis, like a map over an object in the picture.
    heat = np.exp(-(((xs - cx * 1.08) ** 2 + (ys - cy * 0.92) ** 2) / (2 * (radius * 0.45) ** 2)))
    glass = Image.fromarray(_jet(0.15 + 0.85 * heat)).convert("RGBA")
    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=255)
    image.paste(glass, (0, 0), mask)
    rim = int(big * 0.045)
    draw.ellipse(
        (cx - radius, cy - radius, cx + radius, cy + radius), outline=(52, 58, 70, 255), width=rim
    )
    # A highlight arc on the glass.
    inner = radius * 0.78
    draw.arc(
        (cx - inner, cy - inner, cx + inner, cy + inner),
        200,
        250,
        fill=(255, 255, 255, 200),
        width=int(big * 0.025),
    )
    return _reduce(image, (size, size))


def draw_traffic_light() -> Image.Image:
    w, h = (s * SCALE for s in SAMPLE_SIZE)
    image = _vertical_gradient((w, h), (96, 150, 214), (196, 222, 240)).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.rectangle((w * 0.485, h * 0.62, w * 0.515, h), fill=(70, 74, 80))  # pole
    box = (w * 0.40, h * 0.08, w * 0.60, h * 0.66)
    draw.rounded_rectangle(
        box, radius=w * 0.03, fill=(28, 30, 34), outline=(10, 10, 12), width=SCALE * 3
    )
    lamps = ((232, 36, 28), (110, 84, 20), (20, 74, 36))  # red lit; amber and green dark
    lamp_r = w * 0.065
    for i, colour in enumerate(lamps):
        y = h * (0.19 + 0.18 * i)
        visor = (w * 0.5 - lamp_r * 1.25, y - lamp_r * 1.25, w * 0.5 + lamp_r * 1.25, y)
        draw.chord(visor, 180, 360, fill=(16, 16, 18))
        draw.ellipse((w * 0.5 - lamp_r, y - lamp_r, w * 0.5 + lamp_r, y + lamp_r), fill=colour)
    glow = Image.new("RGB", (w, h), (0, 0, 0))
    y0 = h * 0.19
    ImageDraw.Draw(glow).ellipse(
        (w * 0.5 - lamp_r * 0.55, y0 - lamp_r * 0.55, w * 0.5 + lamp_r * 0.55, y0 + lamp_r * 0.55),
        fill=(255, 200, 170),
    )
    glow = glow.filter(ImageFilter.GaussianBlur(lamp_r * 0.35))
    image = Image.fromarray(
        np.clip(np.asarray(image, np.int16) + np.asarray(glow, np.int16) // 2, 0, 255).astype(
            np.uint8
        )
    )
    return _reduce(image, SAMPLE_SIZE)


def draw_honeycomb() -> Image.Image:
    w, h = (s * SCALE for s in SAMPLE_SIZE)
    rng = np.random.default_rng(7)
    image = Image.new("RGB", (w, h), (120, 72, 10))
    draw = ImageDraw.Draw(image)
    side = 26 * SCALE
    dx, dy = math.sqrt(3) * side, 1.5 * side
    for row in range(int(h / dy) + 2):
        for col in range(int(w / dx) + 2):
            x = col * dx + (dx / 2 if row % 2 else 0)
            y = row * dy
            shade = rng.uniform(0.75, 1.1)
            fill = tuple(int(min(255, c * shade)) for c in (236, 160, 30))
            inner = side * 0.86
            corners = [
                (
                    x + inner * math.cos(math.radians(60 * k + 30)),
                    y + inner * math.sin(math.radians(60 * k + 30)),
                )
                for k in range(6)
            ]
            draw.polygon(corners, fill=fill)
            # Capped cells are paler wax.
            if rng.random() < 0.3:
                cap = [(x + (px - x) * 0.8, y + (py - y) * 0.8) for px, py in corners]
                draw.polygon(cap, fill=(246, 214, 120))
    return _reduce(image.filter(ImageFilter.GaussianBlur(SCALE * 0.6)), SAMPLE_SIZE)


def draw_goldfish() -> Image.Image:
    w, h = (s * SCALE for s in SAMPLE_SIZE)
    rng = np.random.default_rng(3)
    image = _vertical_gradient((w, h), (40, 130, 150), (14, 60, 80)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(900):  # gravel
        x, y = rng.uniform(0, w), rng.uniform(h * 0.86, h)
        r = rng.uniform(2, 6) * SCALE
        tone = int(rng.uniform(90, 200))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(tone, int(tone * 0.9), int(tone * 0.75)))
    cx, cy = w * 0.46, h * 0.47
    bw, bh = w * 0.22, h * 0.17
    body = (255, 128, 20)
    fin = (255, 170, 60)
    draw.polygon(  # tail
        [
            (cx + bw * 0.8, cy),
            (cx + bw * 1.55, cy - bh * 0.95),
            (cx + bw * 1.35, cy),
            (cx + bw * 1.55, cy + bh * 0.95),
        ],
        fill=fin,
    )
    draw.polygon(
        [
            (cx - bw * 0.1, cy - bh * 0.8),
            (cx + bw * 0.45, cy - bh * 1.45),
            (cx + bw * 0.55, cy - bh * 0.7),
        ],
        fill=fin,
    )  # dorsal fin
    draw.ellipse((cx - bw, cy - bh, cx + bw, cy + bh), fill=body)
    draw.polygon(
        [
            (cx - bw * 0.2, cy + bh * 0.6),
            (cx + bw * 0.05, cy + bh * 1.3),
            (cx + bw * 0.25, cy + bh * 0.6),
        ],
        fill=fin,
    )  # pelvic fin
    draw.arc(
        (cx - bw * 0.55, cy - bh * 0.9, cx - bw * 0.15, cy + bh * 0.9),
        300,
        60,
        fill=(220, 90, 10),
        width=SCALE * 3,
    )  # gill
    er = bh * 0.18
    ex, ey = cx - bw * 0.68, cy - bh * 0.25
    draw.ellipse((ex - er, ey - er, ex + er, ey + er), fill=(250, 250, 250))
    draw.ellipse(
        (ex - er * 0.55, ey - er * 0.55, ex + er * 0.55, ey + er * 0.55), fill=(10, 10, 10)
    )
    for _ in range(14):  # bubbles
        x, y = cx - bw * 1.25 + rng.uniform(-20, 20) * SCALE, rng.uniform(h * 0.05, cy - bh)
        r = rng.uniform(3, 8) * SCALE
        draw.ellipse((x - r, y - r, x + r, y + r), outline=(200, 235, 245), width=SCALE * 2)
    return _reduce(image, SAMPLE_SIZE)


SAMPLES: dict[str, Callable[[], Image.Image]] = {
    "goldfish.png": draw_goldfish,
    "honeycomb.png": draw_honeycomb,
    "traffic_light.png": draw_traffic_light,
}


def write_all(out: Path) -> list[Path]:
    """Write the icon (PNG, ICO, ICNS) and the samples under ``out``; returns the paths."""
    (out / "icons").mkdir(parents=True, exist_ok=True)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    icon = draw_icon(256)
    written = [
        out / "icons" / "resnet-lens.png",
        out / "icons" / "resnet-lens.ico",
        out / "icons" / "resnet-lens.icns",
    ]
    icon.save(written[0], optimize=True)
    icon.save(written[1], sizes=[(s, s) for s in ICON_SIZES])
    # ICNS holds up to 1024 px; Pillow scales the largest it is given.
    draw_icon(512).save(written[2])
    for name, draw in SAMPLES.items():
        path = out / "samples" / name
        draw().save(path, optimize=True)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "resources")
    for path in write_all(parser.parse_args().out):
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
