"""`deskvision harvest`: real desktops, many looks, in parallel, resumable, as PNG + VIA + COCO.

Screenshot i belongs to look i // per_look; a look depends only on (seed, look index), so a
stopped harvest continues with the screenshots it had not written."""

from __future__ import annotations

import logging
import multiprocessing as mp
import random
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from deskvision.data import records
from deskvision.data.annotations import AnnotationSet
from deskvision.errors import DeskvisionError
from deskvision.harvest import looks
from deskvision.harvest.session import require_programs
from deskvision.utils.progress import track

log = logging.getLogger("deskvision")
RETRIES = 3  # a look whose desktop fails to start is replaced by another random look
# Every step of a look has its own timeout; this bounds a look as a whole all the same, so that a
# program that blocks somewhere unforeseen costs one look, never the harvest.
LOOK_SECONDS = 120.0
SCREEN_SECONDS = 30.0


class LookTimeout(Exception):
    pass


def _on_alarm(*_: object) -> None:
    raise LookTimeout(f"did not finish in time (over {LOOK_SECONDS:.0f} s + {SCREEN_SECONDS:.0f} s a screenshot)")


@dataclass(frozen=True)
class HarvestJob:
    out: str
    seed: int
    per_look: int
    wms: tuple[str, ...]
    scales: tuple[int, ...]
    plain_files: float = 0.0  # share of generated files named without an extension
    inventory: looks.Inventory | None = None  # the themes looks are drawn from (None: installed)


def image_name(seed: int, index: int) -> str:
    return f"real_{seed}_{index:06d}"


def look_for(job: HarvestJob, index: int, attempt: int = 0) -> looks.Look:
    return looks.random_look(random.Random(f"{job.seed}/{index}/{attempt}"), job.wms, job.scales, inventory=job.inventory)


THEMES_FILE = "themes.json"


def read_inventory(path: Path, hint: str = "") -> looks.Inventory:
    """A theme inventory saved as JSON (a harvest's themes.json); DeskvisionError (ending in
    `hint`) if it is not one."""
    try:
        return looks.Inventory.from_json(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise DeskvisionError(f"{path}: not a theme inventory ({e}){hint}") from e


def harvest_inventory(out: Path, themes: looks.Inventory | None = None) -> looks.Inventory:
    """The themes a harvest into `out` draws from: those saved in out/themes.json by its first run
    (so that a resumed harvest keeps its looks), else `themes`, else what is installed; saved
    there. Every theme of it must be installed."""
    saved_path = out / THEMES_FILE
    resumed = saved_path.is_file()
    installed = looks.Inventory.installed()
    if resumed:
        saved = read_inventory(saved_path, "; delete it to draw from installed themes")
        if themes is not None and themes != saved:
            raise DeskvisionError(f"{out} was harvested from the themes in {saved_path}, not those given: use another --out")
        inventory = saved
    else:
        inventory = themes or installed
    missing = inventory.missing(installed)
    if missing:
        raise DeskvisionError(
            f"{len(missing)} theme(s) of the inventory are not installed ({', '.join(missing[:5])}): "
            "install the Debian packages that provide them (README: the harvest and synthetic sections)"
        )
    if not resumed:
        saved_path.write_text(inventory.to_json())
    return inventory


def _harvest_look(args: tuple[HarvestJob, int, tuple[int, ...]]) -> tuple[int, int, str]:
    """Screenshots `indices` of look `index`: (look index, screenshots written, error or "")."""
    from deskvision.harvest.scene import LookSession

    job, index, indices = args
    if threading.current_thread() is threading.main_thread():
        # A terminated harvest unwinds, so that its desktop's processes are stopped too.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    alarm = mp.parent_process() is not None  # in a worker process, where nothing else uses SIGALRM
    if alarm:
        signal.signal(signal.SIGALRM, _on_alarm)
    out = Path(job.out)
    error = ""
    for attempt in range(RETRIES):
        look = look_for(job, index, attempt)
        written = 0
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, LOOK_SECONDS + SCREEN_SECONDS * len(indices))
        try:
            with (
                tempfile.TemporaryDirectory(prefix="deskvision-harvest-") as tmp,
                LookSession(look, Path(tmp) / "home", job.seed * 100_003 + index * 7 + attempt, job.plain_files) as session,
            ):
                for i in indices:
                    name = image_name(job.seed, i)
                    if records.is_done(out, name):
                        continue
                    img, lab = session.screen(random.Random(f"{job.seed}/{i}"))
                    records.write_record(out, name, img, lab.boxes, lab.labels, lab.texts, look.attributes())
                    written += 1
            return index, written, ""
        except Exception as e:  # noqa: BLE001 - a broken theme or program must not stop the harvest
            error = f"look {index} ({look.name}): {e}"
            log.warning("%s; trying another look", error)
        finally:
            if alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
    return index, 0, error


def _run_looks(
    tasks: list, workers: int, run: Callable[[tuple], tuple[int, int, str]] = _harvest_look
) -> Iterator[tuple[int, int, str]]:
    """(look index, screenshots written, error) of every task, in parallel when `workers` > 1.
    A worker that dies (killed for memory, say) breaks its pool: the looks it left are then
    harvested here, one at a time, instead of waiting forever for its answer."""
    left = {task[1]: task for task in tasks}
    if workers > 1 and len(tasks) > 1:
        try:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
                for future in as_completed([pool.submit(run, t) for t in tasks]):
                    result = future.result()
                    left.pop(result[0], None)
                    yield result
        except BrokenProcessPool:
            log.warning("a harvest worker died; its %d unfinished look(s) run one at a time", len(left))
    for task in list(left.values()):
        yield run(task)


def harvest(
    out: str | Path,
    images: int,
    seed: int = 0,
    per_look: int = 10,
    wms: Sequence[str] = ("xfwm4", "openbox"),
    scales: Sequence[int] = (1, 1, 1, 1, 2),
    workers: int = 0,
    progress: bool = True,
    on_look: Callable[[int, int, str], None] | None = None,
    plain_files: float = 0.0,
    themes: looks.Inventory | None = None,
) -> AnnotationSet:
    """Harvest `images` labelled screenshots of real desktops into `out` (images/, labels/,
    annotations.json (VIA), coco.json, themes.json); `per_look` screenshots share one look; a
    share `plain_files` of the generated files are named without an extension. Looks are drawn
    from `themes` (default: what is installed; see `harvest_inventory`)."""
    if not 0.0 <= plain_files <= 1.0:
        raise DeskvisionError(f"--plain-files must be between 0 and 1, not {plain_files}")
    require_programs()
    unknown = set(wms) - {"xfwm4", "openbox"}
    if unknown:
        raise DeskvisionError(f"unknown window manager(s) {', '.join(sorted(unknown))}: choose among xfwm4, openbox")
    if per_look < 1:
        raise DeskvisionError("--per-look must be at least 1")
    out = Path(out)
    records.prepare(out)
    inventory = harvest_inventory(out, themes)
    job = HarvestJob(str(out), seed, per_look, tuple(wms), tuple(scales), plain_files, inventory)
    tasks = []
    for k in range((images + per_look - 1) // per_look):
        idx = tuple(
            i for i in range(k * per_look, min(images, (k + 1) * per_look)) if not records.is_done(out, image_name(seed, i))
        )
        if idx:
            tasks.append((job, k, idx))
    workers = max(1, min(workers or mp.cpu_count(), len(tasks) or 1))
    errors = []
    t0 = time.monotonic()
    for k, n, err in track(_run_looks(tasks, workers), "harvest looks", enabled=progress, total=len(tasks)):
        errors.append(err)
        if on_look:
            on_look(k, n, err)
    log.info("harvested %d look(s) in %.0f s", len(tasks), time.monotonic() - t0)
    failed = [e for e in errors if e]
    names = [image_name(seed, i) for i in range(images)]
    missing = sum(not records.is_done(out, n) for n in names)
    if missing:
        raise DeskvisionError(
            f"{missing} of {images} screenshots could not be harvested ({'; '.join(failed[:3]) or 'see the log'}); "
            "run the same command again to retry them"
        )
    return records.collect(out, names)
