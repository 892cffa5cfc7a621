"""Draws the default icons: `python -m manifest.icons [#RRGGBB] [out dir]`.

Teams wants a 192x192 full-colour icon and a 32x32 outline icon, white on transparent.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent


def _bubble(draw: ImageDraw.ImageDraw, size: int, fill: str | None, outline: str | None,
            width: int) -> None:  # fmt: skip
    """A speech bubble with three dots: a message, in a channel."""
    s = size / 32
    body = [4 * s, 5 * s, 28 * s, 22 * s]
    draw.rounded_rectangle(body, radius=5 * s, fill=fill, outline=outline, width=width)
    tail = [(9 * s, 21 * s), (9 * s, 28 * s), (16 * s, 21 * s)]
    draw.polygon(tail, fill=fill or "white")
    if fill is None:  # an outline: hollow out the tail's inside
        draw.line([tail[0], tail[1], tail[2]], fill=outline, width=width)
    dot = "white" if fill is None else "#FFFFFF00"
    for x in (11, 16, 21):
        r = 1.6 * s
        draw.ellipse([x * s - r, 13.5 * s - r, x * s + r, 13.5 * s + r], fill=dot)


def draw_color(color: str, size: int = 192) -> Image.Image:
    scale = 4  # draw large, then shrink: smooth edges
    big = size * scale
    image = Image.new("RGBA", (big, big), color)
    layer = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    inset = big * 0.18
    inner = int(big - 2 * inset)
    bubble = Image.new("RGBA", (inner, inner), (0, 0, 0, 0))
    _bubble(ImageDraw.Draw(bubble), inner, "white", None, 0)
    dots = ImageDraw.Draw(bubble)
    s = inner / 32
    for x in (11, 16, 21):
        r = 1.6 * s
        dots.ellipse([x * s - r, 13.5 * s - r, x * s + r, 13.5 * s + r], fill=color)
    layer.paste(bubble, (int(inset), int(inset)), bubble)
    image.alpha_composite(layer)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def draw_outline(size: int = 32) -> Image.Image:
    scale = 8
    big = size * scale
    image = Image.new("RGBA", (big, big), (255, 255, 255, 0))
    _bubble(ImageDraw.Draw(image), big, None, "white", int(2.2 * scale))
    small = image.resize((size, size), Image.Resampling.LANCZOS)
    # Teams wants white on transparent: keep the shape as alpha, the colour pure white.
    alpha = small.getchannel("A")
    white = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    white.putalpha(alpha)
    return white


def main(argv: list[str]) -> int:
    color = argv[0] if argv else "#0F6CBD"
    out = Path(argv[1]) if len(argv) > 1 else HERE / "icons"
    out.mkdir(parents=True, exist_ok=True)
    draw_color(color).save(out / "color.png")
    draw_outline().save(out / "outline.png")
    print(f"wrote {out / 'color.png'} and {out / 'outline.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
