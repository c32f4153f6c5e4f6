"""Safe image loading: every failure becomes a `DataError` with a one-line message."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from deskvision.errors import DataError

#: Largest image we accept (an 8K screen is 33 Mpx); guards against decompression bombs.
MAX_PIXELS = 64_000_000

ImageInput = str | Path | bytes | Image.Image | np.ndarray


def _check_pixels(width: int, height: int, name: str) -> None:
    if width <= 0 or height <= 0:
        raise DataError(f"{name}: image has an empty size {width}x{height}")
    if width * height > MAX_PIXELS:
        raise DataError(
            f"{name}: image too large ({width}x{height} = {width * height / 1e6:.0f} Mpx, "
            f"limit {MAX_PIXELS / 1e6:.0f} Mpx); downscale it first"
        )


def _open(source: str | Path | bytes, name: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            fp = io.BytesIO(source) if isinstance(source, bytes) else source
            return Image.open(fp)
    except FileNotFoundError:
        raise DataError(f"{name}: image not found") from None
    except IsADirectoryError:
        raise DataError(f"{name}: is a directory, not an image") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        kind = "too large" if "ecompression" in type(exc).__name__ else "not a readable image (corrupt or unsupported format)"
        raise DataError(f"{name}: {kind}") from None
    except OSError as exc:
        raise DataError(f"{name}: cannot read image ({exc})") from None


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the image header, without decoding the pixels."""
    with _open(path, str(path)) as img:
        _check_pixels(img.width, img.height, str(path))
        return img.width, img.height


def load_image(source: ImageInput, name: str | None = None) -> Image.Image:
    """Decode a path, encoded bytes, PIL image or HxWx3 uint8 array into an RGB PIL image."""
    image = _decode(source, name)
    return Image.fromarray(np.ascontiguousarray(image)) if isinstance(image, np.ndarray) else image


def load_pixels(source: ImageInput, name: str | None = None) -> np.ndarray:
    """Decode like `load_image`, into an (H, W, 3) uint8 array (possibly a strided view: the
    first three channels of an RGBA array). PNG screenshots never become a PIL image: at 1080p
    that saves two copies of the pixels (~7 ms on 2 cores, BENCHMARKS.md)."""
    image = _decode(source, name)
    return image if isinstance(image, np.ndarray) else np.asarray(image)


def _decode(source: ImageInput, name: str | None) -> Image.Image | np.ndarray:
    """The RGB pixels of `source`: an (H, W, 3) array view when they came as an array or as a PNG
    libspng decodes, else an RGB PIL image; DataError for anything unreadable or too large."""
    if isinstance(source, np.ndarray):
        if source.ndim != 3 or source.shape[2] not in (3, 4) or source.dtype != np.uint8:
            raise DataError(f"array image must be HxWx3 (or 4) uint8, got {source.shape} {source.dtype}")
        _check_pixels(source.shape[1], source.shape[0], name or "array")
        return source[:, :, :3]
    if isinstance(source, Image.Image):
        _check_pixels(source.width, source.height, name or "image")
        return source if source.mode == "RGB" else source.convert("RGB")
    name = name or (str(source) if not isinstance(source, bytes) else "image bytes")
    img = _open(source, name)
    try:
        _check_pixels(img.width, img.height, name)
    except DataError:
        img.close()
        raise
    fast = _decode_png(source, img)
    if fast is not None:
        img.close()  # only its header was read
        return fast
    try:
        img.load()
    except OSError as exc:  # truncated or corrupt data
        img.close()
        raise DataError(f"{name}: corrupt or truncated image ({exc})") from None
    except Image.DecompressionBombError:
        img.close()
        raise DataError(f"{name}: too large") from None
    return img if img.mode == "RGB" else img.convert("RGB")  # converting RGB would copy it (~15 ms at 1080p)


def _decode_png(source: str | Path | bytes, header: Image.Image) -> np.ndarray | None:
    """The (H, W, 3) pixels of an 8-bit RGB or RGBA PNG decoded with libspng (pyspng): the same
    as Pillow's, about twice as fast (23 against 38-55 ms for a 1080p screenshot, BENCHMARKS.md);
    None for any other image, without pyspng, or when libspng fails (Pillow then decodes it, or
    says what is wrong)."""
    if header.format != "PNG" or header.mode not in ("RGB", "RGBA") or header.info.get("interlace"):
        return None
    try:
        import pyspng
    except ImportError:
        return None
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        pixels = pyspng.load(data)
    except Exception:  # pyspng raises plain RuntimeErrors for corrupt or truncated data
        return None
    if pixels.dtype != np.uint8 or pixels.shape[:2] != (header.height, header.width) or pixels.shape[2:] not in ((3,), (4,)):
        return None
    return pixels[:, :, :3]
