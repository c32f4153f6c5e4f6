"""Read the screen of an Xvfb server started with ``-fbdir``: its framebuffer is an XWD file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from deskvision.errors import DataError

_HEADER_FIELDS = 25


def read_xwd(path: str | Path) -> Image.Image:
    """The framebuffer at `path` (XWD, 24/32 bits per pixel, as Xvfb writes it) as an RGB image."""
    raw = Path(path).read_bytes()
    if len(raw) < _HEADER_FIELDS * 4:
        raise DataError(f"{path}: not an XWD framebuffer (too short)")
    head = np.frombuffer(raw[: _HEADER_FIELDS * 4], dtype=">u4")
    header_size, version = int(head[0]), int(head[1])
    width, height = int(head[4]), int(head[5])
    byte_order, bpp, bytes_per_line, ncolors = int(head[7]), int(head[11]), int(head[12]), int(head[19])
    if version != 7 or bpp != 32:
        raise DataError(f"{path}: unsupported XWD framebuffer (version {version}, {bpp} bits per pixel)")
    start = header_size + ncolors * 12
    end = start + bytes_per_line * height
    if len(raw) < end:
        raise DataError(f"{path}: truncated XWD framebuffer")
    rows = np.frombuffer(raw[start:end], dtype=np.uint8).reshape(height, bytes_per_line)
    px = rows[:, : width * 4].reshape(height, width, 4)
    # LSBFirst (0): bytes are B, G, R, X in memory.
    rgb = px[:, :, [2, 1, 0]] if byte_order == 0 else px[:, :, [1, 2, 3]]
    return Image.fromarray(np.ascontiguousarray(rgb), "RGB")
