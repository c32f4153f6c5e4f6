"""Progress bars (tqdm), silent when disabled or when stderr is not a terminal and CI asks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def track(items: Iterable[T], desc: str, enabled: bool = True, total: int | None = None) -> Iterator[T]:
    return iter(tqdm(items, desc=desc, total=total, disable=not enabled, leave=False, dynamic_ncols=True))
