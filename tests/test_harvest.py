"""Harvesting real desktops: pixel helpers offline, then real Xvfb sessions of two looks
(CI installs the Debian packages with apt-get; missing packages fail there, skip elsewhere)."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import struct

import numpy as np
import pytest
from PIL import Image

from deskvision.classes import CLASSES
from deskvision.errors import DataError, DeskvisionError
from deskvision.harvest import looks, pixels
from deskvision.harvest.engine import harvest
from deskvision.harvest.scene import FILE_EXTENSIONS, LookSession, file_name, fm_order, unique_names, write_file
from deskvision.harvest.session import APT_PACKAGES, missing_programs
from deskvision.harvest.xwd import read_xwd

# -- offline ---------------------------------------------------------------------------------


def test_glyph_box_stops_at_the_gap_above_the_label():
    mask = np.zeros((100, 100), bool)
    mask[10:40, 30:60] = True  # glyph
    mask[12:14, 31:33] = False
    mask[45:52, 10:90] = True  # label, wider than the glyph, 5 rows below
    assert pixels.glyph_box(mask, (0, 0, 100, 100), icon_px=48, gap=3) == (30, 10, 60, 40)
    # A glyph with a 2-row hole (a trash lid) stays whole; it is never taller than the icon.
    mask[20:22, :] = False
    assert pixels.glyph_box(mask, (0, 0, 100, 100), icon_px=48, gap=3) == (30, 10, 60, 40)
    assert pixels.glyph_box(mask, (0, 0, 100, 100), icon_px=8, gap=3) == (30, 10, 60, 18)
    assert pixels.glyph_box(np.zeros((10, 10), bool), (0, 0, 10, 10), 8) is None


def test_template_is_found_exactly_or_not_at_all():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (60, 200, 3), dtype=np.uint8)
    tpl = img[20:34, 150:164].copy()
    assert pixels.match_template(img, tpl, (0, 10, 200, 50)) == (150, 20, 164, 34)
    assert pixels.match_template(img, tpl, (0, 0, 140, 60)) is None  # not in the region searched
    assert pixels.match_template(img, 255 - tpl, (0, 0, 200, 60)) is None


def test_a_glyph_inside_another_is_not_taken_for_it():
    """Greybird's maximize is a plus, its minimize the plus's bar: with maximize first (MHC) the
    bar used to be found inside the plus, boxing minimize on the maximize button."""
    from deskvision.harvest.session import XWindow
    from deskvision.harvest.titlebar import ButtonTemplate, find_buttons

    img = np.full((30, 300, 3), 220, np.uint8)
    plus, bar, cross = (230, 10), (252, 10), (274, 10)  # left edges, top; 9×9 glyphs, MHC
    img[plus[1] + 4, plus[0] : plus[0] + 9] = 60
    img[plus[1] : plus[1] + 9, plus[0] + 4] = 60
    img[bar[1] + 4, bar[0] : bar[0] + 9] = 60
    for i in range(9):
        img[cross[1] + i, cross[0] + i] = img[cross[1] + i, cross[0] + 8 - i] = 60
    frame = (0, 0, 300, 30)

    def template(cls: str, left: int, rows: slice) -> ButtonTemplate:
        return ButtonTemplate(cls, True, img[rows, left : left + 9].copy(), rows.start, frame[2] - left)

    templates = [template("maximize", plus[0], slice(10, 19)), template("minimize", bar[0], slice(14, 15)),
                 template("close", cross[0], slice(10, 19))]  # fmt: skip
    # the bar alone is also an exact match inside the plus, and comes first left to right
    assert pixels.template_matches(img, templates[1].pixels, (200, 0, 300, 30))[:2] == [(230, 14, 239, 15), (252, 14, 261, 15)]
    actions = frozenset({"CLOSE", "MINIMIZE", "MAXIMIZE_HORZ"})
    win = XWindow(1, frame, "w", 1, actions, ("NORMAL",), frozenset(), True, title=30)
    found = dict(find_buttons(img, win, True, templates))
    assert found == {"close": (274, 10, 283, 19), "maximize": (230, 10, 239, 19), "minimize": (252, 14, 261, 15)}
    # a dialog without maximize: no plus drawn, the bar is found where it is
    img[10:19, 230:239] = 220
    dialog = XWindow(2, frame, "d", 1, frozenset({"CLOSE", "MINIMIZE"}), ("DIALOG",), frozenset(), True, title=30)
    assert dict(find_buttons(img, dialog, True, templates)) == {"close": (274, 10, 283, 19), "minimize": (252, 14, 261, 15)}


def test_button_square_and_occlusion_rules():
    assert pixels.square((10, 20, 18, 22), 16) == (6.0, 13.0, 22.0, 29.0)  # a minimize dash
    assert pixels.square((0, 0, 24, 24), 16) == (0.0, 0.0, 24.0, 24.0)
    above = [(50, 0, 100, 100)]
    assert pixels.covered((40, 10, 51, 20), above) and not pixels.covered((40, 10, 50, 20), above)
    assert pixels.visible_part((0, 0, 80, 100), above) == (0, 0, 50, 100)  # 5/8 visible: clipped
    assert pixels.visible_part((30, 0, 80, 100), above) is None  # 2/5 visible: not labelled
    assert pixels.visible_part((0, 0, 100, 100), [(40, 40, 60, 60)]) == (0, 0, 100, 100)


def test_title_bar_templates_that_overlap_are_refused():
    from types import SimpleNamespace

    from deskvision.errors import DeskvisionError
    from deskvision.harvest.titlebar import ButtonTemplate, _check

    look, win = SimpleNamespace(wm="xfwm4", wm_theme="Broken"), SimpleNamespace(title=24)

    def templates(min_right: int) -> list:
        # close at the right end, maximize left of it, minimize left of that (16-px drawings)
        return [
            ButtonTemplate(cls, active, np.zeros((16, 16, 3), np.uint8), 4, right)
            for active in (True, False)
            for cls, right in (("close", 20), ("maximize", 40), ("minimize", min_right))
        ]

    _check(templates(60), look, [win])  # apart: accepted
    with pytest.raises(DeskvisionError, match="minimize and maximize overlap|maximize and minimize overlap"):
        _check(templates(50), look, [win])  # minimize's drawing reaches into maximize's


def test_background_mask_ignores_a_flat_view_background():
    img = np.full((50, 50, 3), 240, np.uint8)
    img[10:30, 15:35] = (30, 120, 200)
    mask = pixels.background_mask(img, (5, 5, 45, 45))
    assert mask.sum() == 400 and mask[10:30, 15:35].all()


def _xwd(width: int, height: int, rgb: np.ndarray) -> bytes:
    header = [100 + 4, 7, 2, 24, width, height, 0, 0, 32, 0, 32, 32, width * 4, 4, 0xFF0000, 0xFF00, 0xFF, 8, 256, 0,
              width, height, 0, 0, 0]  # fmt: skip
    body = np.zeros((height, width, 4), np.uint8)
    body[:, :, 0], body[:, :, 1], body[:, :, 2] = rgb[:, :, 2], rgb[:, :, 1], rgb[:, :, 0]
    return struct.pack(">25I", *header) + b"dv\0\0" + body.tobytes()


def test_xwd_framebuffer_is_read_and_bad_ones_refused(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 255, (7, 5, 3), dtype=np.uint8)
    (tmp_path / "fb").write_bytes(_xwd(5, 7, rgb))
    assert np.array_equal(np.asarray(read_xwd(tmp_path / "fb")), rgb)
    (tmp_path / "short").write_bytes(_xwd(5, 7, rgb)[:-10])
    with pytest.raises(DataError, match="truncated"):
        read_xwd(tmp_path / "short")
    (tmp_path / "junk").write_bytes(b"not a framebuffer")
    with pytest.raises(DataError):
        read_xwd(tmp_path / "junk")


def test_generated_names_sort_alike_in_python_and_pcmanfm():
    rng = random.Random(3)
    names = unique_names(rng, 30, set())
    assert len(set(n.casefold() for n in names)) == 30
    firsts = [n.casefold().split(" ")[0] for n in names]
    assert not any(a != b and a.startswith(b) for a in firsts for b in firsts)  # decided before a space
    order = fm_order([(n, "file") for n in names[:10]] + [(n, "folder") for n in names[10:]])
    assert [c for _, c in order] == ["folder"] * 20 + ["file"] * 10


def test_plain_file_names_leave_other_harvests_unchanged(tmp_path):
    # without plain files, names and the random stream are those of harvests made before the option
    a, b = random.Random(7), random.Random(7)
    assert [file_name(a, "notes") for _ in range(20)] == [f"notes.{b.choice(FILE_EXTENSIONS)}" for _ in range(20)]
    assert a.random() == b.random()
    rng = random.Random(7)
    names = [file_name(rng, "notes", 0.5) for _ in range(200)]
    assert 60 < names.count("notes") < 140 and all(n == "notes" or n.startswith("notes.") for n in names)
    assert {file_name(rng, "Budget", 1.0) for _ in range(5)} == {"Budget"}
    write_file(tmp_path / "README")
    write_file(tmp_path / "a.pdf")
    assert (tmp_path / "README").read_bytes() and not (tmp_path / "a.pdf").read_bytes()  # text, to be typed as text


def test_plain_files_share_is_checked(tmp_path):
    from typer.testing import CliRunner

    from deskvision.cli.main import app

    r = CliRunner().invoke(app, ["harvest", "--out", str(tmp_path / "h"), "--images", "1", "--plain-files", "1.5"])
    assert r.exit_code == 2 and "--plain-files" in r.output and not (tmp_path / "h").exists()
    with pytest.raises(DeskvisionError, match="between 0 and 1"):
        harvest(tmp_path / "h", 1, plain_files=-0.1)


INVENTORY = looks.Inventory(
    gtk=("Adwaita", "Greybird"),
    icons=("Tango", "hicolor"),
    xfwm4=("Default", "Greybird"),
    xfwm4_hidpi=("Default-hdpi",),
    openbox=("Onyx",),
)


def test_looks_are_drawn_from_the_inventory_alone(monkeypatch):
    """A harvest told which themes to draw from harvests the same looks whatever else is
    installed; drawing from all installed themes changes with them."""
    drawn = [looks.random_look(random.Random(f"1/{k}/0"), inventory=INVENTORY) for k in range(40)]
    assert {lk.gtk_theme for lk in drawn} <= set(INVENTORY.gtk) and {lk.icon_theme for lk in drawn} == set(INVENTORY.icons)
    assert {lk.wm_theme for lk in drawn} <= set(INVENTORY.xfwm4 + INVENTORY.xfwm4_hidpi + INVENTORY.openbox)
    assert {lk.wm_theme for lk in drawn if lk.scale > 1 and lk.wm == "xfwm4"} <= set(INVENTORY.xfwm4_hidpi)
    monkeypatch.setattr(looks, "gtk_themes", lambda: ["A-New-Theme", *INVENTORY.gtk])
    monkeypatch.setattr(looks, "icon_themes", lambda: list(INVENTORY.icons))
    monkeypatch.setattr(looks, "xfwm4_themes", lambda scale=1: list(INVENTORY.wm_themes("xfwm4", scale)))
    monkeypatch.setattr(looks, "openbox_themes", lambda: list(INVENTORY.openbox))
    assert [looks.random_look(random.Random(f"1/{k}/0"), inventory=INVENTORY) for k in range(40)] == drawn
    assert [looks.random_look(random.Random(f"1/{k}/0")) for k in range(40)] != drawn


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        "{}",
        '{"gtk": [], "icons": [], "xfwm4": [], "xfwm4_hidpi": []}',
        '{"gtk": [1], "icons": [], "xfwm4": [], "xfwm4_hidpi": [], "openbox": []}',
        '{"gtk": ["../../etc"], "icons": [], "xfwm4": [], "xfwm4_hidpi": [], "openbox": []}',
        '{"gtk": "Adwaita", "icons": [], "xfwm4": [], "xfwm4_hidpi": [], "openbox": []}',
        "[" * 100_000,
        "not json",
    ],
)
def test_bad_theme_inventories_are_refused(text):
    with pytest.raises(ValueError):
        looks.Inventory.from_json(text)


def test_a_harvest_keeps_its_inventory_and_refuses_missing_themes(tmp_path, monkeypatch):
    from deskvision.harvest.engine import THEMES_FILE, harvest_inventory

    assert looks.Inventory.from_json(INVENTORY.to_json()) == INVENTORY
    monkeypatch.setattr(looks.Inventory, "installed", classmethod(lambda cls: INVENTORY))
    assert harvest_inventory(tmp_path) == INVENTORY and (tmp_path / THEMES_FILE).is_file()
    # a resumed harvest draws from its saved inventory, even after more themes were installed
    more = dataclasses.replace(INVENTORY, gtk=(*INVENTORY.gtk, "Arc"))
    monkeypatch.setattr(looks.Inventory, "installed", classmethod(lambda cls: more))
    assert harvest_inventory(tmp_path) == INVENTORY
    with pytest.raises(DeskvisionError, match="use another --out"):
        harvest_inventory(tmp_path, more)
    # an inventory whose themes are not all installed is refused, naming them
    fewer = dataclasses.replace(INVENTORY, openbox=())
    monkeypatch.setattr(looks.Inventory, "installed", classmethod(lambda cls: fewer))
    (tmp_path / "new").mkdir()
    with pytest.raises(DeskvisionError, match="openbox:Onyx"):
        harvest_inventory(tmp_path / "new", INVENTORY)
    assert not (tmp_path / "new" / THEMES_FILE).exists()
    (tmp_path / THEMES_FILE).write_text("{broken")
    with pytest.raises(DeskvisionError, match="not a theme inventory"):
        harvest_inventory(tmp_path)


def test_harvest_command_refuses_a_bad_themes_file(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "themes.json"
    bad.write_text('{"gtk": 3}')
    cmd = [sys.executable, "-m", "deskvision.cli.main", "harvest", "--out", str(tmp_path / "h"), "--themes", str(bad)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "not a theme inventory" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "h").exists()


def _dies_in_a_worker(task: tuple) -> tuple[int, int, str]:
    import multiprocessing as mp

    if mp.parent_process() is not None and task[1] == 1:
        os._exit(9)  # as a worker killed for memory
    return task[1], len(task[2]), ""


def test_a_dead_worker_costs_time_not_the_harvest(caplog):
    """multiprocessing.Pool waits forever for the answer of a worker that died; the harvest
    notices instead and does the looks left in its own process."""
    from deskvision.harvest.engine import _run_looks

    tasks = [(None, k, (2 * k, 2 * k + 1)) for k in range(3)]
    results = list(_run_looks(tasks, workers=2, run=_dies_in_a_worker))
    assert sorted(r[0] for r in results) == [0, 1, 2] and all(r[1] == 2 for r in results)
    assert "a harvest worker died" in caplog.text


def test_look_config_names_its_themes(tmp_path):
    look = looks.Look("xfwm4", "Default", "Adwaita", "hicolor", "Sans", 10, "gradient", "#336699", (640, 480), 1, 48, "HMC")
    looks.write_config(look, tmp_path, seed=1)
    assert 'gtk-theme-name="Adwaita"' in (tmp_path / ".gtkrc-2.0").read_text()
    assert "gtk-icon-theme-name=hicolor" in (tmp_path / ".config/gtk-3.0/settings.ini").read_text()
    assert 'value="O|HMC"' in (tmp_path / ".config/xfce4/xfconf/xfce-perchannel-xml/xfwm4.xml").read_text()
    assert "<titleLayout>NLIMC</titleLayout>" in (tmp_path / ".config/openbox/rc.xml").read_text()
    assert "wallpaper_mode=stretch" in (tmp_path / ".config/pcmanfm/default/desktop-items-0.conf").read_text()
    assert Image.open(tmp_path / ".wallpaper.png").size == (160, 120)
    assert look.attributes()["look"] == "Adwaita+hicolor+xfwm4:Default"


# -- live desktops -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live():
    missing = missing_programs()
    if missing:
        msg = f"harvest needs Debian packages: {' '.join(missing)} (apt-get install {APT_PACKAGES})"
        if os.environ.get("CI"):
            pytest.fail(msg)  # CI installs them: a missing package is a failure there, never a silent pass
        pytest.skip(msg)


def _first_look(wm: str, seed: int) -> looks.Look:
    look = looks.random_look(random.Random(seed), wms=(wm,), scales=(1,), sizes=((1280, 720),))
    return dataclasses.replace(look, size=(1280, 720))


@pytest.fixture(scope="module", params=["xfwm4", "openbox"])
def harvested(request, live, tmp_path_factory):
    """Three screens of one look per window manager, with what the labeller saw."""
    for seed in range(20):  # the first look whose window-manager theme can be learnt
        look = _first_look(request.param, seed)
        try:
            session = LookSession(look, tmp_path_factory.mktemp("home") / "home", seed).__enter__()
            break
        except Exception:  # noqa: BLE001 - an unlearnable theme: try the next look
            continue
    else:
        pytest.fail(f"no {request.param} look could be started")
    seen = []
    label = session.label

    def spy(img, wins, active, elements):
        out = label(img, wins, active, elements)
        seen.append((img, wins, active, elements, out))
        return out

    session.label = spy
    try:
        for i in range(3):
            session.screen(random.Random(i))
        yield session, seen
    finally:
        session.__exit__(None, None, None)


def test_boxes_lie_inside_and_every_class_is_seen(harvested):
    _, seen = harvested
    classes = set()
    for img, *_, out in seen:
        b = np.array(out.boxes).reshape(-1, 4)
        assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all()
        assert (b[:, 2] <= img.shape[1]).all() and (b[:, 3] <= img.shape[0]).all()
        assert ((b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])).all()
        classes.update(out.labels)
    assert {"window", "close", "button", "menu", "text_field", "folder", "file"} <= classes


def test_close_boxes_hold_the_theme_template_exactly(harvested):
    session, seen = harvested
    closes = [t for t in session.templates if t.cls == "close"]
    n = 0  # openbox draws parent-relative buttons over the title's gradient: a little slack (2/255)
    for img, *_, out in seen:
        for (x0, y0, x1, y1), cls in zip(out.boxes, out.labels, strict=True):
            if cls != "close":
                continue
            hits = [pixels.match_template(img, t.pixels, (int(x0) - 1, int(y0) - 1, int(x1) + 1, int(y1) + 1), 2) for t in closes]
            box = next(h for h in hits if h is not None)
            assert abs((box[0] + box[2]) / 2 - (x0 + x1) / 2) <= 0.5 and abs((box[1] + box[3]) / 2 - (y0 + y1) / 2) <= 0.5
            n += 1
    assert n >= 1


def test_no_two_title_bar_buttons_share_a_place(harvested):
    from deskvision.classes import TITLEBAR_CLASSES
    from deskvision.detections import _intersection

    _, seen = harvested
    n = 0
    for *_, out in seen:
        b = np.array([b for b, c in zip(out.boxes, out.labels, strict=True) if c in TITLEBAR_CLASSES], np.float64).reshape(-1, 4)
        area = (b[:, 2:] - b[:, :2]).prod(axis=1)
        overlap = _intersection(b, b)
        np.fill_diagonal(overlap, 0)
        assert (overlap < 0.3 * np.minimum.outer(area, area)).all()
        n += len(b)
    assert n >= 3


def test_text_fields_are_the_accessible_entries(harvested):
    _, seen = harvested
    n = 0
    for _img, _, _, elements, out in seen:
        entries = {tuple(e["box"]) for e in elements if e["role"] == "text" and e["single_line"]}
        for (x0, y0, x1, y1), cls in zip(out.boxes, out.labels, strict=True):
            if cls == "text_field":
                assert (int(x0), int(y0), int(x1 - x0), int(y1 - y0)) in entries
                n += 1
    assert n >= 1


def test_nothing_labelled_is_under_another_window(harvested):
    _, seen = harvested
    for _, wins, _, _, out in seen:
        frames = [w.frame for w in wins if "DESKTOP" not in w.types and w.mapped]
        for box, cls in zip(out.boxes, out.labels, strict=True):
            if cls == "window":
                continue
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            holders = [i for i, f in enumerate(frames) if f[0] <= cx < f[2] and f[1] <= cy < f[3]]
            if not holders:  # a desktop icon: no window over it at all
                assert not pixels.covered(box, frames), (cls, box)
                continue
            top = max(holders)
            f = frames[top]
            assert f[0] - 1 <= box[0] and f[1] - 1 <= box[1] and box[2] <= f[2] + 1 and box[3] <= f[3] + 1, (cls, box)
            assert not pixels.covered(box, frames[top + 1 :]), (cls, box)


def test_icon_identity_matches_the_drawn_glyphs(harvested):
    """All folders of a view share one folder glyph; no file shows it: a shifted mapping
    from the folder listing to the icon items would break both."""
    _, seen = harvested
    checked = 0
    for img, *_, out in seen:
        crops = {"folder": [], "file": []}
        for (x0, y0, x1, y1), cls in zip(out.boxes, out.labels, strict=True):
            if cls in crops:
                crops[cls].append(img[int(y0) : int(y1), int(x0) : int(x1)].astype(np.int16))
        folders = [c for c in crops["folder"] if c.shape == crops["folder"][0].shape] if crops["folder"] else []
        for c in folders[1:]:
            if np.abs(c - folders[0]).mean() < 40:  # same background (desktop icons sit on a wallpaper)
                checked += 1
        if folders:
            for c in crops["file"]:
                assert c.shape != folders[0].shape or np.abs(c - folders[0]).mean() > 2
    assert checked >= 1


def test_harvest_command_writes_via_coco_and_looks(live, tmp_path):
    from typer.testing import CliRunner

    from deskvision.cli.main import app

    out = tmp_path / "real"
    r = CliRunner().invoke(
        app, ["harvest", "--out", str(out), "--images", "4", "--per-look", "2", "--seed", "5", "--no-hidpi", "--check", "2"]
    )
    assert r.exit_code == 0, r.output
    via = json.loads((out / "annotations.json").read_text())
    meta = via["_via_img_metadata"]
    assert len(meta) == 4 and len(list((out / "images").glob("*.png"))) == 4
    looks_seen = {e["file_attributes"]["look"] for e in meta.values()}
    assert len(looks_seen) == 2
    coco = json.loads((out / "coco.json").read_text())
    assert {c["name"] for c in coco["categories"]} <= set(CLASSES) and coco["annotations"]
    assert len(list((out / "check").glob("*.png"))) == 2
    assert "per look" in r.output and "screenshots/h" in r.output
    # resumable: a second run has nothing left to do and keeps the same files
    before = sorted(p.stat().st_mtime_ns for p in (out / "images").glob("*.png"))
    r = CliRunner().invoke(app, ["harvest", "--out", str(out), "--images", "4", "--per-look", "2", "--seed", "5", "--no-hidpi"])
    assert r.exit_code == 0, r.output
    assert sorted(p.stat().st_mtime_ns for p in (out / "images").glob("*.png")) == before


def test_missing_packages_are_named(monkeypatch):
    import deskvision.harvest.session as session

    monkeypatch.setattr(session.shutil, "which", lambda prog: None)
    assert "xvfb" in session.missing_programs()
    from deskvision.errors import DeskvisionError

    with pytest.raises(DeskvisionError, match="apt-get install"):
        session.require_programs()


def test_a_crashed_desktop_is_started_again(harvested):
    """pcmanfm can crash when one of its windows closes; the desktop is restarted and the
    harvest goes on only because it draws exactly what its icons were learnt on."""
    import signal

    session, seen = harvested
    session.desktop_proc.send_signal(signal.SIGSEGV)
    session.desktop_proc.wait()
    session.screen(random.Random(7))
    assert session.desktop_proc.poll() is None and seen[-1][-1].labels


@pytest.mark.parametrize(("engine", "bound"), [("rapidocr", 0.15), ("tesseract", 0.3)])
def test_ocr_reads_the_labels_the_harvester_created(harvested, engine, bound):
    """The harvester knows every name it created: OCR of the labelled elements (ground-truth
    boxes) recovers them with a character error rate below `bound`."""
    from deskvision.data.annotations import ImageAnnotation
    from deskvision.errors import DeskvisionError
    from deskvision.evaluation.ocr_eval import OcrScore, read_labelled
    from deskvision.ocr import create_engine

    try:
        ocr = create_engine(engine)
    except DeskvisionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI installs the OCR engines: {exc}")
        pytest.skip(str(exc))
    _, seen = harvested
    read = []
    for img, *_, out in seen:
        im = ImageAnnotation("-", np.array(out.boxes), out.labels, img.shape[1], img.shape[0], {}, out.texts)
        read += read_labelled(Image.fromarray(img), im, ocr)
    score = OcrScore.of([(truth, text) for _, truth, text in read])
    assert score.elements >= 20 and {"menu", "folder"} <= {cls for cls, *_ in read}
    assert score.cer < bound, (score, [r for r in read if r[1] != r[2]])
