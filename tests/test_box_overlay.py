"""Box overlays: the image (local or over http), both sets of boxes in their colours with a
legend, and a placeholder canvas when the image is hidden or cannot be loaded."""

from __future__ import annotations

import http.server
import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image, ImageColor

from qualitylib.box_overlay import CANVAS, COLOURS, LEGEND_H, Layer, load_image, overlay_png

GREEN = (40, 160, 60)
MINE = pd.DataFrame(
    {
        "label": ["car", "dog"],
        "x_min": [100.0, 600.0],
        "y_min": [100.0, 400.0],
        "x_max": [500.0, 1000.0],
        "y_max": [300.0, 700.0],
        "iou": [0.81, float("nan")],
    }
)
THEIRS = pd.DataFrame(
    {"label": ["car"], "x_min": [120.0], "y_min": [110.0], "x_max": [520.0], "y_max": [320.0]}
)
LAYERS = [Layer("Ann", MINE, COLOURS[0]), Layer("Committee", THEIRS, COLOURS[1])]


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    """A plain green 1280 x 800 PNG."""
    path = tmp_path / "img.png"
    Image.new("RGB", (1280, 800), GREEN).save(path)
    return path


def _png(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def _at(image: Image.Image, x: float, y: float) -> tuple[int, int, int]:
    """The pixel at image coordinates (x, y) of a 1280-wide picture drawn at 640 wide."""
    return image.getpixel((round(x / 2), round(y / 2) + LEGEND_H))


def test_boxes_are_drawn_in_their_layer_colour_over_the_scaled_image(picture: Path) -> None:
    out = _png(overlay_png(str(picture), LAYERS))
    assert out.size == (640, 400 + LEGEND_H)  # longer side 640, legend strip on top
    assert _at(out, 300, 200) == GREEN  # inside the car box: the image
    assert _at(out, 300, 300) == ImageColor.getrgb(COLOURS[0])  # the person's bottom edge
    assert _at(out, 300, 320) == ImageColor.getrgb(COLOURS[1])  # the committee's bottom edge
    assert _at(out, 1000, 550) == ImageColor.getrgb(COLOURS[0])  # the dog's right edge
    # the legend names each layer with a square of its colour
    assert out.getpixel((7, 8)) == ImageColor.getrgb(COLOURS[0])


def test_file_urls_load_like_paths(picture: Path) -> None:
    image, reason = load_image(picture.as_uri())
    assert reason == "" and image is not None and image.size == (1280, 800)


def test_a_hidden_image_is_not_shown_but_its_boxes_are(picture: Path) -> None:
    out = _png(overlay_png(str(picture), LAYERS, hidden=True, size=(1280, 800)))
    assert out.size == (640, 400 + LEGEND_H)
    assert _at(out, 300, 200) == ImageColor.getrgb(CANVAS)
    assert _at(out, 300, 300) == ImageColor.getrgb(COLOURS[0])


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        (None, "no image for this item"),
        ("missing.png", "image file not found"),
        ("demo://img-1", "cannot read demo:// images"),
    ],
)
def test_an_image_that_cannot_be_loaded_says_why(uri: object, reason: str) -> None:
    assert load_image(uri) == (None, reason)
    out = _png(overlay_png(uri, LAYERS))  # no size known: a canvas holding every box
    assert out.width >= 1000 * 640 / 1050 - 1 and _at(out, 0, 0) != GREEN


def test_an_undecodable_file_is_a_placeholder(tmp_path: Path) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"not an image")
    image, reason = load_image(str(path))
    assert image is None and reason.startswith("image not available")


@pytest.fixture
def server(picture: Path) -> Iterator[str]:
    """A local http server serving ``picture`` at /img.png."""
    directory = str(picture.parent)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=directory, **kwargs)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_http_images_are_fetched(server: str) -> None:
    out = _png(overlay_png(f"{server}/img.png", LAYERS))
    assert _at(out, 300, 200) == GREEN
    image, reason = load_image(f"{server}/nothere.png")
    assert (image, reason) == (None, "image not available: HTTP 404")


def test_an_unreachable_url_is_a_placeholder_at_once() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    image, reason = load_image(f"http://127.0.0.1:{port}/img.png", timeout=1.0)
    assert image is None and reason.startswith("image not available: ")
    out = _png(overlay_png(f"http://127.0.0.1:{port}/img.png", LAYERS, size=(1280, 800)))
    assert _at(out, 300, 200) == ImageColor.getrgb(CANVAS)
