"""Defensive JSON reading and atomic writing."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from deskvision.errors import DataError

#: Annotation files larger than this are refused rather than read into memory.
MAX_JSON_BYTES = 1 << 30


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: annotation file not found")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise DataError(f"{path}: annotation file too large ({path.stat().st_size >> 20} MiB)")
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deeply") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def new_temp(path: Path) -> str:
    """A temporary file beside `path`, with the permissions a normal new file would get."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    return tmp


def write_atomic(path: str | Path, data: bytes | str) -> None:
    """Write via a temporary file and rename, so that a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    tmp = new_temp(path)
    try:
        with open(tmp, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=1, ensure_ascii=False))


def expect(cond: bool, where: str, what: str) -> None:
    """Raise a `DataError` naming the place in the file when a structural check fails."""
    if not cond:
        raise DataError(f"{where}: {what}")


def number(value: Any, where: str) -> float:
    expect(isinstance(value, int | float) and not isinstance(value, bool), where, f"expected a number, got {value!r:.40}")
    if value != value or value in (float("inf"), float("-inf")):
        raise DataError(f"{where}: not a finite number")
    return float(value)
