"""Box overlays: an image with two sets of boxes drawn over it (Pillow's ImageDraw), as PNG.

A trainer debriefs from the picture: the person's boxes and the committee's (or another
annotator's) in distinct colours with a legend, the label on each box and the IoU on matched
pairs. The image comes from ``items.uri`` (a local path, ``file://`` or an http(s) URL, read
with a short timeout); when it is hidden (sensitive images, the dashboard's "Hide images"
switch) or cannot be loaded, the boxes are drawn on a grey canvas of the image's size that
says why, so the geometry can still be discussed.
"""

from __future__ import annotations

import io
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from qualitylib.metrics.box_items import ItemBoxes

# Pillow registers its standard formats (PNG among them) on the first save, 0.1-0.2 s: done at
# import instead, which the dashboard's warm-up run pays.
Image.preinit()

__all__ = ["COLOURS", "Layer", "item_overlay", "load_image", "overlay_png"]

# Okabe-Ito colours (distinguishable with the common colour-vision deficiencies): the first
# layer (the person) orange, the second (the committee or the other annotator) blue.
COLOURS = ("#E69F00", "#0072B2", "#009E73", "#CC79A7")
MAX_SIDE = 640  # pixels of the longer side of the drawn image
MAX_BYTES = 20_000_000  # larger files are not read
TIMEOUT_S = 3.0
CANVAS = "#eef1f4"
INK = "#3c4650"
LEGEND_H = 26


@dataclass(frozen=True)
class Layer:
    """One set of boxes: whose (``name``, shown in the legend), the boxes (``label, x_min,
    y_min, x_max, y_max`` in image pixels, optional ``iou`` drawn where not NaN) and a colour."""

    name: str
    boxes: pd.DataFrame
    colour: str


def load_image(uri: object, timeout: float = TIMEOUT_S) -> tuple[Image.Image | None, str]:
    """The image at ``uri`` (RGB) and ``""``, or ``None`` and why it could not be loaded."""
    if not isinstance(uri, str) or not uri:
        return None, "no image for this item"
    parsed = urlparse(uri)
    try:
        if parsed.scheme in ("http", "https"):
            with urllib.request.urlopen(uri, timeout=timeout) as response:  # noqa: S310
                raw = response.read(MAX_BYTES + 1)
        elif parsed.scheme in ("", "file"):
            path = Path(unquote(parsed.path) if parsed.scheme == "file" else uri)
            if not path.is_file():
                return None, "image file not found"
            if path.stat().st_size > MAX_BYTES:
                return None, "image file too large"
            raw = path.read_bytes()
        else:
            return None, f"cannot read {parsed.scheme}:// images"
        if len(raw) > MAX_BYTES:
            return None, "image file too large"
        image = Image.open(io.BytesIO(raw))
        image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced size
        return image.convert("RGB"), ""
    except urllib.error.HTTPError as error:
        return None, f"image not available: HTTP {error.code}"
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        # OSError covers URLError, timeouts and undecodable files
        detail = re.sub(r"\[Errno -?\d+\]\s*", "", str(getattr(error, "reason", "") or error))
        return None, f"image not available: {detail or type(error).__name__}"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` pixels (the same on every machine)."""
    return ImageFont.load_default(size=size)


def _extent(layers: Sequence[Layer]) -> tuple[int, int]:
    """A canvas size that holds every box, when the image's own size is unknown."""
    right = max([float(layer.boxes["x_max"].max()) for layer in layers if len(layer.boxes)] or [0])
    bottom = max([float(layer.boxes["y_max"].max()) for layer in layers if len(layer.boxes)] or [0])
    return max(int(right * 1.05) + 1, 320), max(int(bottom * 1.05) + 1, 240)


def _canvas(size: tuple[int, int], message: str) -> Image.Image:
    """A grey canvas of ``size`` saying ``message`` in its middle."""
    canvas = Image.new("RGB", size, CANVAS)
    draw = ImageDraw.Draw(canvas)
    draw.text(
        (size[0] / 2, size[1] / 2),
        message,
        fill=INK,
        font=_font(max(min(size[0] // 32, 18), 11)),
        anchor="mm",
    )
    return canvas


def _tag(
    draw: ImageDraw.ImageDraw,
    bounds: tuple[int, int],
    xy: tuple[float, float],
    text: str,
    colour: str,
    below: bool,
) -> None:
    """A filled label tag with white text, above a box's top-left corner (or below its
    bottom-left corner when ``below``), kept inside the image."""
    font = _font(12)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    width, height = right - left + 6, bottom - top + 4
    x = min(max(xy[0], 0), bounds[0] - width)
    y = xy[1] if below else xy[1] - height
    y = min(max(y, 0), bounds[1] - height)
    draw.rectangle((x, y, x + width, y + height), fill=colour)
    draw.text((x + 3 - left, y + 2 - top), text, fill="white", font=font)


def _legend(layers: Sequence[Layer], width: int, note: str) -> Image.Image:
    """A strip naming each layer in its colour (and ``note`` at the right)."""
    strip = Image.new("RGB", (width, LEGEND_H), "white")
    draw = ImageDraw.Draw(strip)
    font = _font(13)
    x = 6
    for layer in layers:
        draw.rectangle((x, 7, x + 12, 19), outline=layer.colour, width=3)
        draw.text((x + 18, LEGEND_H / 2), layer.name, fill=INK, font=font, anchor="lm")
        x += 18 + int(draw.textlength(layer.name, font=font)) + 16
    if note:
        draw.text((width - 6, LEGEND_H / 2), note, fill=INK, font=font, anchor="rm")
    return strip


def overlay_png(
    uri: object,
    layers: Sequence[Layer],
    *,
    hidden: bool = False,
    size: tuple[int, int] | None = None,
    max_side: int = MAX_SIDE,
    timeout: float = TIMEOUT_S,
) -> bytes:
    """PNG of the image at ``uri`` with every layer's boxes drawn over it and a legend.

    ``hidden``: do not read the image; draw on a grey canvas saying "image hidden". ``size``
    (width, height) is the image's size in pixels when known (the canvas of a hidden or
    missing image; box coordinates are in these pixels). Each box carries its label, and
    its IoU with its match when the layer's ``iou`` is given.
    """
    image, reason = (None, "image hidden") if hidden else load_image(uri, timeout)
    if image is None:
        image = _canvas(size or _extent(layers), reason)
    native = size or image.size
    scale = min(max_side / max(image.size), 1.0)
    if scale < 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    # box pixels -> drawn pixels (an image whose file size differs from the stored one is
    # stretched to it: the boxes were drawn on the stored size)
    sx, sy = image.width / native[0], image.height / native[1]
    draw = ImageDraw.Draw(image)
    line = max(2, round(max(image.size) / 240))
    for position, layer in enumerate(layers):
        for box in layer.boxes.itertuples(index=False):  # one image: a handful of boxes
            corners = (box.x_min * sx, box.y_min * sy, box.x_max * sx, box.y_max * sy)
            draw.rectangle(corners, outline=layer.colour, width=line)
            text = str(box.label)
            iou = getattr(box, "iou", float("nan"))
            if pd.notna(iou):
                text += f" · IoU {iou:.2f}"
            below = position % 2 == 1  # the second layer's tags under its boxes
            _tag(
                draw,
                image.size,
                (corners[0], corners[3] if below else corners[1]),
                text,
                layer.colour,
                below,
            )
    out = Image.new("RGB", (image.width, image.height + LEGEND_H), "white")
    out.paste(_legend(layers, image.width, reason), (0, 0))
    out.paste(image, (0, LEGEND_H))
    buffer = io.BytesIO()
    out.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def item_overlay(
    item: ItemBoxes, mine: str, theirs: str, *, hidden: bool = False, timeout: float = TIMEOUT_S
) -> bytes:
    """PNG of one image's two matched sets of boxes (:func:`~qualitylib.metrics.box_items.
    item_boxes`), named ``mine`` and ``theirs`` in the legend; the IoU is written on the first
    set's matched, wrongly classed and poorly localised boxes."""
    size = (item.width, item.height) if item.width and item.height else None
    layers = [
        Layer(mine, item.mine, COLOURS[0]),
        Layer(theirs, item.theirs.drop(columns="iou"), COLOURS[1]),
    ]
    return overlay_png(item.uri, layers, hidden=hidden, size=size, timeout=timeout)
