"""`deskvision synth`: many synthetic desktops, in parallel, resumable, written as PNG + VIA + COCO."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deskvision.data import records
from deskvision.data.annotations import AnnotationSet
from deskvision.errors import DeskvisionError
from deskvision.synth import icons, wm
from deskvision.synth.desktop import ForeignLaunchers
from deskvision.utils.progress import track


@dataclass(frozen=True)
class SynthJob:
    out: str
    seed: int
    size: tuple[int, int]
    icon_themes: tuple[str, ...]
    wm_themes: tuple[str, ...]
    button_layouts: tuple[str, ...]
    pictures: tuple[str, ...]
    picture_share: float
    hidpi: float
    plain_decorations: float
    icon_dirs: tuple[str, ...] = ()
    foreign_launchers: ForeignLaunchers | None = None


def select_themes(available: Sequence[str], include: Sequence[str] | None, exclude: Sequence[str] | None, kind: str) -> list[str]:
    """Filter theme names (case-insensitive); an unknown name is an error, not silence."""
    lower = {t.lower(): t for t in available}
    for name in [*(include or []), *(exclude or [])]:
        if name.lower() not in lower:
            raise DeskvisionError(f"{kind} theme {name!r} is not installed; installed: {', '.join(available) or 'none'}")
    chosen = [lower[n.lower()] for n in include] if include else list(available)
    chosen = [t for t in chosen if t.lower() not in {e.lower() for e in exclude or []}]
    if not chosen:
        raise DeskvisionError(
            f"no {kind} theme left to draw with (install some, e.g. apt-get install papirus-icon-theme greybird-gtk-theme)"
        )
    return chosen


def _one(args: tuple[SynthJob, int]) -> None:
    job, index = args
    from deskvision.synth.desktop import synth_screenshot

    img, boxes, labels, attrs, texts = synth_screenshot(
        job.seed * 1_000_003 + index,
        job.size,
        list(job.icon_themes),
        list(job.wm_themes),
        button_layouts=job.button_layouts,
        pictures=job.pictures,
        picture_share=job.picture_share,
        hidpi=job.hidpi,
        plain_decorations=job.plain_decorations,
        icon_dirs=job.icon_dirs,
        foreign_launchers=job.foreign_launchers,
    )
    records.write_record(Path(job.out), f"synth_{job.seed}_{index:06d}", img, boxes, labels, texts, attrs)


def generate_synth(
    out: str | Path,
    images: int,
    seed: int = 0,
    size: tuple[int, int] = (1920, 1080),
    themes: Sequence[str] | None = None,
    exclude_themes: Sequence[str] | None = None,
    wm_themes: Sequence[str] | None = None,
    exclude_wm_themes: Sequence[str] | None = None,
    button_layouts: Sequence[str] | None = None,
    wallpapers: Sequence[str | Path] = (),
    picture_share: float = 0.25,
    hidpi: float = 0.1,
    plain_decorations: float = 0.0,
    icon_dirs: Sequence[str | Path] = (),
    foreign_launchers: float = 0.0,
    launcher_icon_dirs: Sequence[str | Path] = (),
    workers: int = 0,
    progress: bool = True,
) -> AnnotationSet:
    """Generate `images` desktops under `out` (images/, labels/, annotations.json (VIA), coco.json).

    Image i depends only on (seed, i): a stopped run continues where it stopped and gives the
    same dataset as an uninterrupted one. `button_layouts`: title-bar button layouts to draw
    from (`desktop.BUTTON_LAYOUTS` by default); with the one layout "HMC", the screens are
    exactly those drawn before layouts varied. `wallpapers`: folders of pictures that a
    `picture_share` of the screens get as wallpaper (the system's wallpapers if none). A `hidpi`
    share of the looks are at scale 2, and a `plain_decorations` share of those keep their window
    decorations at scale 1, as most window-manager themes do on HiDPI screens. `icon_dirs`:
    folders of icon themes to draw from besides the system's (e.g. unpacked theme packages).
    `foreign_launchers`: share of launchers that show an application icon of another icon theme
    (any theme of the system's, `icon_dirs` or `launcher_icon_dirs` but the excluded ones);
    `launcher_icon_dirs`: folders of themes used for those icons only, never as a screen's look.
    """
    from deskvision.synth.desktop import BUTTON_LAYOUTS, check_button_layout, picture_files

    try:
        layouts = tuple(check_button_layout(x) for x in (button_layouts or BUTTON_LAYOUTS))
        pictures = tuple(picture_files(wallpapers)) if wallpapers else ()
    except ValueError as exc:
        raise DeskvisionError(str(exc)) from None
    out = Path(out)
    icon_dirs = tuple(str(Path(d).resolve()) for d in icon_dirs)
    launcher_dirs = tuple(str(Path(d).resolve()) for d in launcher_icon_dirs)
    for d in (*icon_dirs, *launcher_dirs):
        if not Path(d).is_dir():
            raise DeskvisionError(f"icon theme folder {d} does not exist")
    screen_themes = icons.installed_icon_themes(icon_dirs)
    all_dirs = (*icon_dirs, *(d for d in launcher_dirs if d not in icon_dirs))
    # excluded names may be themes of `launcher_icon_dirs` only (e.g. one that inherits from a
    # held-out theme): checked against all, applied to both lists
    known = icons.installed_icon_themes(all_dirs) if all_dirs != icon_dirs else screen_themes
    every_theme = select_themes(known, None, exclude_themes, "icon")
    excluded = {e.lower() for e in exclude_themes or []}
    icon_list = select_themes(screen_themes, themes, [t for t in screen_themes if t.lower() in excluded], "icon")
    foreign = ForeignLaunchers(tuple(every_theme), foreign_launchers, all_dirs) if foreign_launchers > 0 else None
    wm_list = select_themes(wm.installed_wm_themes(), wm_themes, exclude_wm_themes, "window-manager")
    records.prepare(out)
    job = SynthJob(
        str(out),
        seed,
        size,
        tuple(icon_list),
        tuple(wm_list),
        layouts,
        pictures,
        picture_share,
        hidpi,
        plain_decorations,
        icon_dirs,
        foreign,
    )
    todo = [i for i in range(images) if not records.is_done(out, f"synth_{seed}_{i:06d}")]
    workers = workers or min(len(todo), mp.cpu_count()) or 1
    tasks = [(job, i) for i in todo]
    if workers > 1 and len(tasks) > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            for _ in track(pool.imap_unordered(_one, tasks, chunksize=4), "synth screens", enabled=progress, total=len(tasks)):
                pass
    else:
        for task in track(tasks, "synth screens", enabled=progress):
            _one(task)
    return records.collect(out, [f"synth_{seed}_{i:06d}" for i in range(images)])
