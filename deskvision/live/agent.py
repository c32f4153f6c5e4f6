"""An agent that acts on a live desktop like a person: capture → detect (→ read) → act.

Everything it does goes through a `Screen` (a `VncConnection`, or `StillScreen` for a
screenshot file), moves along human-like trajectories (`deskvision.live.human`), is logged
(`Agent.log`), and can be recorded as annotated frames (`Agent.save_gif`). With
``dry_run=True`` no input is sent: the intended actions are drawn on the frames instead.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw

from deskvision.data.images import load_image
from deskvision.detections import Detections
from deskvision.drawing import draw_detections, save_gif
from deskvision.errors import DeskvisionError
from deskvision.live.human import HumanConfig, click_timing, keystrokes, mouse_path, think_time
from deskvision.ocr.find import closest, find
from deskvision.ocr.reader import ICONS, read_text

log = logging.getLogger("deskvision")


class Screen(Protocol):
    size: tuple[int, int]

    def capture(self) -> Image.Image: ...

    def move(self, x: int, y: int) -> None: ...

    def button(self, button: int, down: bool) -> None: ...

    def key(self, key: str, down: bool | None = None) -> None: ...


class StillScreen:
    """A screenshot file as a screen that ignores input (for dry runs offline)."""

    def __init__(self, image: str | Path | Image.Image):
        self.image = load_image(image)
        self.size = self.image.size

    def capture(self) -> Image.Image:
        return self.image.copy()

    def move(self, x: int, y: int) -> None:
        pass

    def button(self, button: int, down: bool) -> None:
        pass

    def key(self, key: str, down: bool | None = None) -> None:
        pass


class Stopped(DeskvisionError):
    """The agent was asked to stop (signal or `Agent.stop()`)."""


@dataclass
class Action:
    t: float  # seconds since the agent started
    action: str
    target: str = ""
    point: tuple[int, int] | None = None
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {"t": round(self.t, 3), "action": self.action}
        if self.target:
            out["target"] = self.target
        if self.point is not None:
            out["point"] = list(self.point)
        return out | self.detail


class Agent:
    """Drive a desktop. ``agent.open("Documents")``, ``agent.close_window()``, ``agent.browse(10)``."""

    def __init__(
        self,
        screen: Screen,
        detector,
        *,
        ocr=None,
        human: HumanConfig | None = None,
        seed: int = 0,
        dry_run: bool = False,
        record: bool = True,
        sleep=time.sleep,
    ):
        self.screen = screen
        self.detector = detector
        self.ocr = ocr
        self.human = human or HumanConfig()
        self.rng = random.Random(seed)
        self.dry_run = dry_run
        self.record = record
        self.sleep = sleep
        self.log: list[Action] = []
        self.frames: list[Image.Image] = []
        self.pointer: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self.last: tuple[Image.Image, Detections] | None = None

    # -- safety -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the agent to stop before its next step."""
        self._stop.set()

    def stop_on_signals(self) -> None:
        """Stop cleanly on Ctrl-C (SIGINT) or SIGTERM (main thread only)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop())

    @property
    def stopped(self) -> bool:
        """Whether `stop()` was called (or a stop signal came)."""
        return self._stop.is_set()

    def _check(self) -> None:
        if self._stop.is_set():
            raise Stopped("stopped on request")

    def _note(self, action: str, target: str = "", point=None, **detail) -> None:
        if self.dry_run:
            detail["dry_run"] = True  # intended, not sent
        a = Action(time.monotonic() - self._t0, action, target, point, detail)
        self.log.append(a)
        log.info("%s %s %s", action, target, point or "")

    def _inside(self, x: float, y: float) -> tuple[int, int]:
        w, h = self.screen.size
        return int(min(max(round(x), 0), w - 1)), int(min(max(round(y), 0), h - 1))

    # -- seeing ---------------------------------------------------------------------------------
    def look(self) -> tuple[Image.Image, Detections]:
        """Capture the screen and detect its elements (with their text when OCR is on)."""
        self._check()
        img = self.screen.capture()
        found = self.detector(img)
        if self.ocr is not None:
            found = read_text(img, found, self.ocr).elements
        self.last = (img, found)
        return img, found

    def snapshot(self) -> Detections:
        """Look at the screen and record the annotated frame."""
        img, found = self.look()
        self._frame(img, found)
        return found

    def _frame(self, img: Image.Image, found: Detections, point=None, label: str = "") -> None:
        if not self.record:
            return
        pic = draw_detections(img, found)
        if point is not None:
            d = ImageDraw.Draw(pic)
            x, y = point
            color = (255, 0, 0) if self.dry_run else (0, 160, 255)
            d.ellipse([x - 9, y - 9, x + 9, y + 9], outline=color, width=3)
            d.text((x + 12, y - 6), label, fill=color)
        self.frames.append(pic)

    # -- acting ---------------------------------------------------------------------------------
    def move_to(self, x: float, y: float, width: float = 16.0) -> tuple[int, int]:
        """Move the pointer to (x, y) along a human trajectory; return where it ends."""
        self._check()
        end = self._inside(x, y)
        start = self.pointer or (self.screen.size[0] // 2, self.screen.size[1] // 2)
        path = mouse_path(start, end, width, self.human, self.rng, self.screen.size)
        last_t = 0.0
        for t, px, py in path:
            if not self.dry_run:
                self.sleep(max(0.0, t - last_t))
                self.screen.move(px, py)
            last_t = t
        self.pointer = end
        return end

    def _press(self, button: int, hold: float) -> None:
        if self.dry_run:
            return
        self.screen.button(button, True)
        self.sleep(hold)
        self.screen.button(button, False)

    def click(self, x: float, y: float, *, button: int = 1, count: int = 1, width: float = 16.0, target: str = "") -> None:
        """Move to (x, y) and click `count` times with `button` (1 left, 2 middle, 3 right)."""
        point = self.move_to(x, y, width)
        for pause, hold in click_timing(count, self.human, self.rng):
            if pause and not self.dry_run:
                self.sleep(pause)
            self._press(button, hold)
        name = {1: "click", 2: "middle-click", 3: "right-click"}[button] if count == 1 else "double-click"
        self._note(name, target, point)

    def double_click(self, x: float, y: float, **kwargs) -> None:
        self.click(x, y, count=2, **kwargs)

    def right_click(self, x: float, y: float, **kwargs) -> None:
        self.click(x, y, button=3, **kwargs)

    def drag(self, start: tuple[float, float], end: tuple[float, float], width: float = 16.0) -> None:
        """Press at `start`, move to `end` like a person, release."""
        a = self.move_to(*start, width)
        if not self.dry_run:
            self.screen.button(1, True)
        b = self.move_to(*end, width)
        if not self.dry_run:
            self.screen.button(1, False)
        self._note("drag", "", a, to=list(b))

    def scroll(self, clicks: int) -> None:
        """Turn the wheel: positive down, negative up."""
        self._check()
        button = 5 if clicks > 0 else 4
        for _ in range(abs(clicks)):
            self._press(button, click_timing(1, self.human, self.rng)[0][1])
            if not self.dry_run:
                self.sleep(max(0.03, self.rng.gauss(0.08, 0.02)))
        self._note("scroll", "", self.pointer, clicks=clicks)

    def type_text(self, text: str) -> None:
        """Type like a person: log-normal key intervals, corrected typos."""
        self._check()
        strokes = keystrokes(text, self.human, self.rng)
        for delay, key in strokes:
            if not self.dry_run:
                self.sleep(delay)
                self.screen.key(key)
        self._note("type", text, None, strokes=len(strokes))

    def key(self, combo: str) -> None:
        """A key or a combination, e.g. ``enter``, ``esc``, ``ctrl-l``, ``alt-left``."""
        self._check()
        if not self.dry_run:
            self.screen.key(combo)
        self._note("key", combo)

    def pause(self, scale: float = 1.0) -> None:
        """Think a moment, as a person does between actions."""
        if not self.dry_run:
            self.sleep(think_time(self.human, self.rng, scale))

    def wait_change(
        self,
        before: Image.Image,
        timeout: float = 5.0,
        min_fraction: float = 0.002,
        region: tuple[float, float, float, float] | None = None,
        ignore: tuple[float, float, float, float] | None = None,
    ) -> bool:
        """Wait until more than `min_fraction` of the screen (or of `region`, x0 y0 x1 y1) differs
        from `before`, not counting the pixels in `ignore` (where hovering or selecting draws)."""
        if self.dry_run:
            return True
        ref = np.asarray(before, dtype=np.int16)
        h, w = ref.shape[:2]
        mask = np.zeros((h, w), bool)
        x0, y0, x1, y1 = (int(round(v)) for v in (region or (0, 0, w, h)))
        mask[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = True
        if ignore is not None:
            a0, b0, a1, b1 = (int(round(v)) for v in ignore)
            mask[max(0, b0) : max(0, b1), max(0, a0) : max(0, a1)] = False
        total = max(1, int(mask.sum()))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check()
            self.sleep(0.2)
            now = np.asarray(self.screen.capture(), dtype=np.int16)
            if now.shape != ref.shape:
                return True
            changed = (np.abs(now - ref).max(axis=2) > 24) & mask
            if changed.sum() / total > min_fraction:
                return True
        return False

    # -- goals ----------------------------------------------------------------------------------
    def locate(self, text: str, classes: tuple[str, ...] = ICONS, min_score: float = 70.0, tries: int = 3):
        """The best element of `classes` that reads like `text` on the current screen. The
        screen is looked at again (up to `tries` times, 0.7 s apart) when nothing matches: a
        VNC framebuffer may lag behind a window that has just opened."""
        if self.ocr is None:
            raise DeskvisionError("finding elements by their text needs OCR: Agent(..., ocr=create_engine())")
        for attempt in range(tries):
            img, found = self.look()
            candidates = _of(found, classes)
            matches = find(candidates, text, min_score=min_score)
            if matches:
                return img, candidates, matches[0]
            if attempt + 1 < tries and not self.dry_run:
                self.sleep(0.7)
        self._frame(img, found)  # what was seen, for the record
        near = closest(candidates, text)
        seen = f"; closest: {near.cls} {near.text!r} ({near.score:.0f})" if near else ""
        raise DeskvisionError(f"nothing on the screen reads like {text!r}{seen}")

    def open(self, text: str, classes: tuple[str, ...] = ICONS, timeout: float = 6.0, double_click: bool = True) -> bool:
        """Open the folder/file/launcher that reads like `text` — double-click it (or, with
        ``double_click=False``, click it and press Enter) — and wait for the screen to change.
        Returns whether it changed."""
        img, found, match = self.locate(text, classes)
        return self._open_at(img, found, match.box, f"{match.cls} {match.text!r}", timeout, double_click)

    def _open_at(self, img: Image.Image, found: Detections, box, name: str, timeout: float, double_click: bool = True) -> bool:
        """Open the icon in `box` (seen on `img`) and wait until the screen shows it opened."""
        x0, y0, x1, y1 = (float(v) for v in box)
        center, width = ((x0 + x1) / 2, (y0 + y1) / 2), min(x1 - x0, y1 - y0)
        self._frame(img, found, (int(center[0]), int(center[1])), f"open {name}")
        if double_click:
            self.double_click(*center, width=width, target=name)
        else:
            self.click(*center, width=width, target=name)
            self.pause(0.3)
            self.key("enter")
        # Selecting the icon (or its tooltip) is not opening it: changes around it do not count.
        # Elsewhere a little is enough: opening an empty folder in place changes only the title,
        # the location bar and the status bar.
        iw, ih = x1 - x0, y1 - y0
        around = (x0 - iw, y0 - 8, x1 + 3 * iw, y1 + 4 * ih)
        changed = self.wait_change(img, timeout, min_fraction=0.0005, ignore=around)
        self._note("opened" if changed else "no change", name)
        return changed

    def close_window(self, timeout: float = 6.0) -> bool:
        """Click the close button of the frontmost window and check that its title bar went
        away. Title-bar close buttons are told from look-alikes (a toolbar's "x", a tab's close)
        by their minimize/maximize neighbours on the same row; among those, the button of the
        window drawn whole over others wins, else the largest window's. Returns whether the
        title bar changed."""
        img, found = self.look()
        closes = _of(found, ("close",))
        if not len(closes):
            raise DeskvisionError("no window close button on the screen")
        siblings = _of(found, ("minimize", "maximize")).xyxy
        windows = _of(found, ("window",)).xyxy
        ranks = [(_in_title_bar(b, siblings), _frontness(b, windows), s) for b, s in zip(closes.xyxy, closes.scores, strict=True)]
        pick = max(range(len(ranks)), key=ranks.__getitem__)
        box, center = closes.xyxy[pick], closes.centers[pick]
        side = float(box[2] - box[0])
        self._frame(img, found, (int(center[0]), int(center[1])), "close")
        self.click(*center, width=side, target="close")
        # the title bar around the button: a quarter of it must change (hovering the button alone
        # or a tooltip below it does not)
        bar = (box[0] - 6 * side, box[1], box[2] + 6 * side, box[3])
        changed = self.wait_change(img, timeout, min_fraction=0.25, region=bar)
        self._note("closed" if changed else "no change", "window")
        return changed

    def browse(self, steps: int = 10, back_key: str = "alt-left") -> None:
        """The seed's file-explorer agent: open folders and files, go back, close windows,
        at a human pace, for `steps` actions."""
        for _ in range(steps):
            self._check()
            img, found = self.look()
            icons = _of(found, ("folder", "file"))
            closes = _of(found, ("close",))
            r = self.rng.random()
            if len(icons) and r < 0.6:
                i = self.rng.randrange(len(icons))
                name = f"{icons.labels[i]} {icons.text[i]!r}" if icons.text[i] else icons.labels[i]
                self._open_at(img, found, icons.xyxy[i], name, 4.0)
            elif r < 0.75:
                self._frame(img, found, None)
                self.key(back_key)
            elif len(closes):
                self.close_window()
            else:
                self._frame(img, found, None)
                self.scroll(self.rng.choice([-3, 3]))
            self.pause()

    # -- records ----------------------------------------------------------------------------------
    def save_log(self, path: str | Path) -> None:
        """One JSON object per action."""
        Path(path).write_text("".join(json.dumps(a.to_dict()) + "\n" for a in self.log))

    def save_gif(self, path: str | Path) -> None:
        if not self.frames:
            raise DeskvisionError("nothing recorded: the agent has not looked at the screen")
        save_gif(self.frames, path, duration_ms=900)


def _of(found: Detections, classes: tuple[str, ...]) -> Detections:
    """The detections of `classes` (those the model knows)."""
    return found.filter(classes=[c for c in classes if c in found.class_names])


def _in_title_bar(close_box: np.ndarray, buttons: np.ndarray) -> bool:
    """Whether a minimize or maximize button sits on the same row, within a few buttons."""
    side = max(float(close_box[2] - close_box[0]), float(close_box[3] - close_box[1]), 1.0)
    cx, cy = (close_box[0] + close_box[2]) / 2, (close_box[1] + close_box[3]) / 2
    for b in buttons:
        bx, by = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        if abs(by - cy) < 0.5 * side and 0.5 * side < abs(bx - cx) < 6 * side:
            return True
    return False


def _frontness(close_box: np.ndarray, windows: np.ndarray) -> float:
    """How likely the window of this close button is in front: a window drawn over others
    overlaps them (the ones under it were cut, ANNOTATION.md); then the larger, the likelier."""
    cx, cy = (close_box[0] + close_box[2]) / 2, (close_box[1] + close_box[3]) / 2
    mine = [i for i, w in enumerate(windows) if w[0] <= cx <= w[2] and w[1] <= cy <= w[1] + 0.25 * (w[3] - w[1])]
    if not mine:
        return 0.0
    i = min(mine, key=lambda k: (windows[k][2] - windows[k][0]) * (windows[k][3] - windows[k][1]))
    w = windows[i]
    overlaps = sum(
        1 for k, o in enumerate(windows) if k != i and min(o[2], w[2]) > max(o[0], w[0]) and min(o[3], w[3]) > max(o[1], w[1])
    )
    return float((w[2] - w[0]) * (w[3] - w[1])) * (1 + overlaps)
