"""Corrupt, truncated, huge and non-image inputs give one clear `DataError`."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from deskvision.data.images import image_size, load_image, load_pixels
from deskvision.errors import DataError


def _png_bytes(size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _claim_size(png: bytes, width: int, height: int) -> bytes:
    """The same PNG with an IHDR claiming another size (valid CRC): a decompression bomb's header."""
    ihdr = bytearray(png[12:29])
    ihdr[4:12] = struct.pack(">II", width, height)
    return png[:12] + bytes(ihdr) + struct.pack(">I", zlib.crc32(bytes(ihdr))) + png[33:]


def test_reads_paths_bytes_arrays_and_pil(tmp_path):
    png = _png_bytes()
    (tmp_path / "a.png").write_bytes(png)
    for source in (
        tmp_path / "a.png",
        str(tmp_path / "a.png"),
        png,
        Image.open(io.BytesIO(png)),
        np.zeros((48, 64, 3), np.uint8),
    ):
        img = load_image(source)
        assert img.size == (64, 48) and img.mode == "RGB"
        if isinstance(source, Image.Image):
            source = Image.open(io.BytesIO(png))  # a fresh one: load_image read this one
        pixels = load_pixels(source)
        assert pixels.shape == (48, 64, 3) and pixels.dtype == np.uint8
        assert np.array_equal(pixels, np.asarray(img))
    rgba = np.random.default_rng(0).integers(0, 256, (4, 5, 4), dtype=np.uint8)
    view = load_pixels(rgba)  # the first three channels, not a copy
    assert view.shape == (4, 5, 3) and np.shares_memory(view, rgba) and np.array_equal(view, rgba[:, :, :3])


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "not a readable image"),
        (b"hello, this is text", "not a readable image"),
        (_png_bytes()[:60], "corrupt or truncated"),
        (_claim_size(_png_bytes(), 20000, 20000), "too large"),
        (_claim_size(_png_bytes(), 9000, 8000), "image too large \\(9000x8000"),
    ],
)
@pytest.mark.parametrize("loader", [load_image, load_pixels])
def test_bad_images(tmp_path, data, message, loader):
    path = tmp_path / "bad.png"
    path.write_bytes(data)
    with pytest.raises(DataError, match=message):
        loader(path)


def test_missing_and_directory(tmp_path):
    with pytest.raises(DataError, match="image not found"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(DataError, match="directory"):
        image_size(tmp_path)


def test_bad_arrays():
    for loader in (load_image, load_pixels):
        with pytest.raises(DataError, match="HxWx3"):
            loader(np.zeros((10, 10), np.uint8))


@pytest.mark.parametrize("libspng", [True, False])
def test_png_pixels_are_pillows_with_or_without_libspng(tmp_path, monkeypatch, libspng):
    if libspng:
        pytest.importorskip("pyspng")
    else:
        monkeypatch.setitem(__import__("sys").modules, "pyspng", None)  # import pyspng now fails
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    images = {
        "rgb": Image.fromarray(rgb),
        "rgba": Image.fromarray(np.dstack([rgb, rng.integers(0, 256, (37, 53), dtype=np.uint8)])),
        "palette": Image.fromarray(rgb).quantize(16),
        "gray16": Image.fromarray(rng.integers(0, 65535, (37, 53), dtype=np.uint16)),
    }
    for kind, image in images.items():
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        data = buffer.getvalue()
        (tmp_path / f"{kind}.png").write_bytes(data)
        want = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        for source in (data, tmp_path / f"{kind}.png"):
            got = load_image(source)
            assert got.mode == "RGB" and np.array_equal(np.asarray(got), want), kind
            pixels = load_pixels(source)
            assert pixels.shape == want.shape and np.array_equal(pixels, want), kind
        for loader in (load_image, load_pixels):
            with pytest.raises(DataError, match="corrupt or truncated"):
                loader(data[: len(data) // 2])
