"""Synthetic desktops from installed icon and xfwm4 themes (CI installs them with apt-get)."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from deskvision.classes import CLASSES
from deskvision.errors import DeskvisionError
from deskvision.synth import icons, wm
from deskvision.synth.desktop import ForeignLaunchers, Look, _Painter, random_look, synth_screenshot
from deskvision.synth.engine import generate_synth
from deskvision.synth.layout import Canvas, resolve_occlusion


@pytest.fixture(scope="module")
def themes() -> tuple[list[str], list[str]]:
    icon_themes, wm_themes = icons.installed_icon_themes(), wm.installed_wm_themes()
    if not icon_themes or not wm_themes:
        msg = (
            "no usable icon theme or xfwm4 theme installed: apt-get install papirus-icon-theme adwaita-icon-theme "
            f"greybird-gtk-theme arc-theme (found icons: {icon_themes}, xfwm4: {wm_themes})"
        )
        if os.environ.get("CI"):
            pytest.fail(msg)  # CI installs them: a missing theme is a failure there, never a silent pass
        pytest.skip(msg)
    return icon_themes, wm_themes


@pytest.fixture(scope="module")
def screens(themes):
    return [synth_screenshot(i, (1280, 720), *themes) for i in range(16)]


def test_every_class_is_produced_and_boxes_lie_inside(screens):
    seen = set()
    for img, boxes, labels, attrs, texts in screens:
        assert len(texts) == len(labels)
        seen.update(labels)
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
        assert (boxes[:, 2] <= img.width).all() and (boxes[:, 3] <= img.height).all()
        assert ((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])).all()
        assert attrs["look"].count("+") == 2 and attrs["generator"] == "synth"
    assert seen == set(CLASSES), set(CLASSES) - seen


def test_text_fields_come_short_and_long_and_some_wallpapers_are_plain(screens):
    """Real text fields are mostly 150-400 px (search fields, dialog entries), location bars
    longer; a plain single-colour desktop must be seen in training to not call it a window."""
    widths = [
        b[2] - b[0] for _, boxes, labels, _, _ in screens for b, label in zip(boxes, labels, strict=True) if label == "text_field"
    ]
    assert min(widths) < 300 and max(widths) > 500, widths
    plain = []
    for img, *_ in screens:
        _, counts = np.unique(np.asarray(img)[::4, ::4].reshape(-1, 3), axis=0, return_counts=True)
        plain.append(counts.max() > 0.3 * counts.sum())  # one colour covers a third of the screen
    assert any(plain) and not all(plain)


def test_elements_carry_the_text_they_show(screens):
    texts = {label: [] for label in CLASSES}
    for _, _, labels, _, shown in screens:
        for label, text in zip(labels, shown, strict=True):
            texts[label].append(text)
    assert all(isinstance(t, str) and t for t in texts["menu"])
    assert any(t == "Trash" for t in texts["trash"])
    assert all(t is None for t in texts["close"] + texts["minimize"] + texts["maximize"])
    assert any(t and ("." in t or "…" in t) for t in texts["file"])  # file names with extensions, or elided


def test_same_seed_same_screen(themes):
    a, b = synth_screenshot(5, (800, 600), *themes), synth_screenshot(5, (800, 600), *themes)
    assert np.array_equal(np.asarray(a[0]), np.asarray(b[0])) and a[2] == b[2] and np.array_equal(a[1], b[1]) and a[4] == b[4]
    assert not np.array_equal(np.asarray(a[0]), np.asarray(synth_screenshot(6, (800, 600), *themes)[0]))


def test_a_screen_does_not_depend_on_what_was_drawn_before(themes):
    icon_themes, wm_themes = themes
    poorest = min(icon_themes, key=lambda t: len(icons.find_theme(t).names("Applications")))  # uses hicolor's apps too
    look = Look(poorest, wm_themes[0], False, wm.DEFAULT_BASE, None)
    first = synth_screenshot(3, (800, 600), icon_themes, wm_themes, look)
    for seed in range(4, 8):
        synth_screenshot(seed, (800, 600), icon_themes, wm_themes, look)
    again = synth_screenshot(3, (800, 600), icon_themes, wm_themes, look)
    assert np.array_equal(np.asarray(first[0]), np.asarray(again[0])) and first[4] == again[4]


def test_icon_boxes_are_tight_glyph_boxes(themes):
    look = random_look(random.Random(0), *themes)
    canvas = Canvas((300, 200), random.Random(1))
    painter = _Painter(canvas, look)
    for kind, x in (("folder", 10), ("file", 80), ("trash", 150), ("launcher", 220)):
        painter.paste_icon(kind, x, 20, 48, (255, 255, 255), True)
    assert [label for _, label, _ in canvas.items] == ["folder", "file", "trash", "launcher"]
    for (x0, y0, x1, y1), _, _ in canvas.items:
        assert x0 >= 0 and x1 - x0 <= 48 and y1 - y0 <= 48
    # Re-render the same icon alone: its alpha touches every side of the recorded box (no margin).
    img = icons.render(icons.lookup(icons.find_theme(look.icon_theme), icons.FOLDER, 48), 48)
    x0, y0, x1, y1 = icons.visible_bbox(img)
    alpha = np.asarray(img.getchannel("A")) >= 16
    assert alpha[y0:y1, x0].any() and alpha[y0:y1, x1 - 1].any() and alpha[y0, x0:x1].any() and alpha[y1 - 1, x0:x1].any()
    assert not alpha[:y0].any() and not alpha[y1:].any() and not alpha[:, :x0].any() and not alpha[:, x1:].any()


def test_an_icon_that_crashes_resvg_is_skipped_not_fatal(themes, tmp_path, monkeypatch):
    """resvg panics on some SVGs (seen in deepin's icon themes); pyo3 raises that as a
    BaseException, which used to kill the synth worker and hang its pool."""
    import resvg_py

    class PanicException(BaseException):  # what pyo3 raises: not an Exception
        pass

    def panics(**kwargs):
        raise PanicException("index out of bounds")

    monkeypatch.setattr(resvg_py, "svg_to_bytes", panics)
    svg = tmp_path / "broken.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>')
    with pytest.raises(ValueError, match="cannot render"):
        icons.render(svg, 47)
    painter = _Painter(Canvas((200, 200), random.Random(1)), random_look(random.Random(0), *themes))
    monkeypatch.setattr(icons, "lookup", lambda *a, **k: svg)
    assert painter.paste_icon("folder", 10, 10, 47) == 0  # nothing drawn, nothing labelled
    assert painter.c.items == []


def test_title_bar_buttons_are_squares_centred_on_their_drawing(themes):
    _, wm_themes = themes
    for name in wm_themes:
        theme = wm.load_wm_theme(name)
        for cls, (gx0, gy0, gx1, gy1) in theme.glyph_boxes.items():
            button = theme.buttons[cls]
            assert 0 <= gx0 < gx1 <= button.width and 0 <= gy0 < gy1 <= button.height, (name, cls)
    for scale in (1, 2):  # HiDPI: decorations pixel-doubled, minimum side 16 px x scale
        look = Look(themes[0][0], wm_themes[0], False, wm.DEFAULT_BASE, None, scale)
        canvas = Canvas((1000, 600), random.Random(0))
        painter = _Painter(canvas, look)
        painter.frame(20, 20, 800, 400, "A window")
        theme = wm.load_wm_theme(wm_themes[0])
        assert {label for _, label, _ in canvas.items} == {"close", "minimize", "maximize"}
        for (x0, y0, x1, y1), cls, _ in canvas.items:
            gx0, gy0, gx1, gy1 = theme.glyph_boxes[cls]
            side = max(gx1 - gx0, gy1 - gy0, 16) * scale
            assert x1 - x0 == pytest.approx(side) and y1 - y0 == pytest.approx(side)


def test_covered_elements_are_not_labelled():
    c = Canvas((200, 200), random.Random(0))
    c.add([10, 10, 30, 30], "folder")  # under window 2: dropped
    c.add([150, 150, 170, 170], "file")  # visible
    c.layer = 1
    c.windows.append([0, 0, 100, 100])
    c.add([0, 0, 100, 100], "window")  # ends up 4 % visible: dropped
    c.add([60, 60, 80, 80], "close")  # covered by window 2: dropped
    c.layer = 2
    c.windows.append([0, 0, 60, 100])
    c.add([0, 0, 60, 100], "window")  # 10 % visible: dropped
    c.layer = 3
    c.windows.append([0, 0, 200, 90])
    c.add([0, 0, 200, 90], "window")
    boxes, labels, _ = resolve_occlusion(c, (200, 200))
    assert labels == ["file", "window"]  # window 1 and 2 are mostly hidden by window 3
    assert boxes[1].tolist() == [0, 0, 200, 90]
    c = Canvas((200, 200), random.Random(0))
    c.layer = 1
    c.windows.append([0, 0, 100, 100])
    c.add([0, 0, 100, 100], "window")
    c.layer = 2
    c.windows.append([0, 0, 40, 100])  # covers 40 %: the first window keeps its visible part
    boxes, labels, _ = resolve_occlusion(c, (200, 200))
    assert labels == ["window"] and boxes[0].tolist() == [40, 0, 100, 100]


def test_generate_writes_via_coco_resumes_and_holds_out_themes(themes, tmp_path):
    icon_themes, _ = themes
    held_out = icon_themes[:1]
    ann = generate_synth(tmp_path / "s", 4, seed=2, size=(640, 400), exclude_themes=held_out, workers=2, progress=False)
    assert len(ann) == 4 and (tmp_path / "s" / "annotations.json").is_file() and (tmp_path / "s" / "coco.json").is_file()
    assert all(im.attributes["icon_theme"] not in held_out for im in ann.images)
    first = (tmp_path / "s" / "images" / "synth_2_000000.png").read_bytes()
    (tmp_path / "s" / "labels" / "synth_2_000003.json").unlink()  # as if stopped before the last image
    again = generate_synth(tmp_path / "s", 4, seed=2, size=(640, 400), exclude_themes=held_out, workers=1, progress=False)
    assert [im.labels for im in again.images] == [im.labels for im in ann.images]
    assert (tmp_path / "s" / "images" / "synth_2_000000.png").read_bytes() == first
    with pytest.raises(DeskvisionError, match="not installed"):
        generate_synth(tmp_path / "x", 1, themes=["No-Such-Theme"], progress=False)


def test_icon_themes_from_extra_folders_are_drawn_and_the_system_list_is_unchanged(themes, tmp_path):
    icon_themes, _ = themes
    extra = tmp_path / "icons"
    extra.mkdir()
    # an unpacked theme package: here an installed theme under a new name
    (extra / "Unpacked-Theme").symlink_to(icons.find_theme(icon_themes[0]).root)
    assert "Unpacked-Theme" in icons.installed_icon_themes((str(extra),))
    assert "Unpacked-Theme" not in icons.installed_icon_themes()
    ann = generate_synth(tmp_path / "s", 3, seed=1, size=(800, 600), themes=["Unpacked-Theme"], icon_dirs=[extra], progress=False)
    assert {im.attributes["icon_theme"] for im in ann.images} == {"Unpacked-Theme"}
    assert {"folder", "file"} & {label for im in ann.images for label in im.labels}
    with pytest.raises(DeskvisionError, match="not installed"):
        generate_synth(tmp_path / "t", 1, themes=["Unpacked-Theme"], progress=False)
    with pytest.raises(DeskvisionError, match="does not exist"):
        generate_synth(tmp_path / "u", 1, icon_dirs=[tmp_path / "missing"], progress=False)


def test_foreign_launchers_change_only_launchers(themes):
    icon_themes, wm_themes = themes
    own, other = icon_themes[0], icon_themes[-1]
    look = Look(own, wm_themes[0], False, (60, 90, 160), None)
    foreign = ForeignLaunchers((other,), 1.0)
    changed = 0
    for seed in range(6):
        a = synth_screenshot(seed, (1280, 720), icon_themes, wm_themes, look)
        b = synth_screenshot(seed, (1280, 720), icon_themes, wm_themes, look, foreign_launchers=foreign)
        keep_a = [i for i, name in enumerate(a[2]) if name != "launcher"]
        keep_b = [i for i, name in enumerate(b[2]) if name != "launcher"]
        assert np.array_equal(a[1][keep_a], b[1][keep_b]) and [a[2][i] for i in keep_a] == [b[2][i] for i in keep_b]
        assert a[3] == b[3]  # the same look
        launchers_a = [t for t, name in zip(a[4], a[2], strict=True) if name == "launcher"]
        launchers_b = [t for t, name in zip(b[4], b[2], strict=True) if name == "launcher"]
        changed += launchers_a != launchers_b
    assert changed >= 1  # with share 1, launchers show the other theme's applications


def test_launcher_icon_dirs_give_launchers_only_and_honour_exclusions(themes, tmp_path):
    icon_themes, _ = themes
    extra = tmp_path / "icons"
    extra.mkdir()
    (extra / "Unpacked-Theme").symlink_to(icons.find_theme(icon_themes[0]).root)
    kwargs = dict(size=(800, 600), launcher_icon_dirs=[extra], progress=False, workers=1)
    ann = generate_synth(tmp_path / "s", 3, seed=1, foreign_launchers=0.5, **kwargs)
    assert "Unpacked-Theme" not in {im.attributes["icon_theme"] for im in ann.images}  # never a screen's look
    # a theme found only among the launcher folders may be held out, and unknown names still fail
    generate_synth(tmp_path / "t", 1, seed=1, foreign_launchers=0.5, exclude_themes=["Unpacked-Theme"], **kwargs)
    with pytest.raises(DeskvisionError, match="not installed"):
        generate_synth(tmp_path / "u", 1, foreign_launchers=0.5, exclude_themes=["No-Such-Theme"], **kwargs)
    with pytest.raises(DeskvisionError, match="does not exist"):
        generate_synth(tmp_path / "v", 1, launcher_icon_dirs=[tmp_path / "missing"], progress=False)


def test_cli_prints_throughput_and_check_pictures(themes, tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "deskvision.cli.main",
            "synth",
            "--out",
            str(tmp_path / "c"),
            "--images",
            "3",
            "--width",
            "800",
            "--height",
            "600",
            "--check",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "screenshots/s" in proc.stdout
    print(proc.stdout.strip().splitlines()[-2])
    assert len(list((tmp_path / "c" / "check").glob("*.png"))) == 2
    assert Image.open(tmp_path / "c" / "check" / "synth_0_000000.png").size == (800, 600)


def test_themerc_wildcards_most_specific_wins():
    from deskvision.synth.openbox import ThemeRc, texture

    rc = ThemeRc(
        "! comment\nwindow.*.button.*.image.color: #101010\nwindow.active.button.*.image.color: #202020\n"
        "window.active.button.max.unpressed.image.color: #303030\nBorder.Width: 2\n"
        "window.active.title.bg: raised gradient vertical\nwindow.active.title.bg.color: #000000\n"
        "window.active.title.bg.colorTo: #ffffff\nwindow.active.button.*.bg: parentrelative\n"
    )
    assert rc.color("window.active.button.max.unpressed.image.color", "#ffffff") == (0x30, 0x30, 0x30)
    assert rc.color("window.active.button.close.unpressed.image.color", "#ffffff") == (0x20, 0x20, 0x20)
    assert rc.color("window.inactive.button.close.unpressed.image.color", "#ffffff") == (0x10, 0x10, 0x10)
    assert rc.number("border.width", 1) == 2  # keys are case-insensitive
    bar = np.asarray(texture(rc, "window.active.title.bg", (8, 20), (0, 0, 0)))
    assert bar[10, 4, 0] > bar[2, 4, 0] and bar[0, 4, 0] > bar[1, 4, 0]  # a vertical ramp, raised top edge
    assert texture(rc, "window.active.button.close.unpressed.bg", (16, 16), (0, 0, 0)) is None  # parent-relative


def test_openbox_themes_give_tight_button_glyphs(themes):
    from deskvision.synth.openbox import installed_openbox_themes

    names = installed_openbox_themes()
    if not names:
        if os.environ.get("CI"):
            pytest.fail("CI installs openbox, which ships openbox themes")
        pytest.skip("no openbox theme installed (apt-get install openbox)")
    for name in names:
        theme = wm.load_wm_theme(name)
        for cls, (x0, y0, x1, y1) in theme.glyph_boxes.items():
            button = theme.buttons[cls]
            assert 0 <= x0 < x1 <= button.width and 0 <= y0 < y1 <= button.height, (name, cls)
            assert (x1 - x0) <= 2 * theme.title_height, (name, cls)
    icon_themes, _ = themes
    img, boxes, labels, attrs, _ = next(
        s for s in (synth_screenshot(i, (1280, 720), icon_themes, names[:3]) for i in range(30)) if "close" in s[2]
    )
    assert attrs["wm_theme"].startswith("openbox:")
    a = np.asarray(img).astype(np.int16)
    for box, label in zip(boxes, labels, strict=True):
        if label == "close":  # the square holds a drawing, not a flat piece of title bar
            x0, y0, x1, y1 = (int(round(v)) for v in box)
            crop = a[y0:y1, x0:x1]
            assert crop.std() > 10


def _title_rows(shot) -> list[tuple[list[str], list[float], np.ndarray]]:
    """For a screenshot with one window: (classes left to right, their centre x, the window box)."""
    _, boxes, labels, _, _ = shot
    if labels.count("window") != 1:  # windows over windows hide buttons
        return []
    w = boxes[labels.index("window")]
    row = sorted(
        (float(b[0] + b[2]) / 2, label)
        for b, label in zip(boxes, labels, strict=True)
        if label in ("close", "minimize", "maximize") and w[0] <= b[0] and b[2] <= w[2] and w[1] <= b[1] < w[1] + 40
    )
    return [([label for _, label in row], [x for x, _ in row], w)] if row else []


@pytest.mark.parametrize(
    ("layout", "order", "side"),
    [
        ("HMC", ["minimize", "maximize", "close"], "right"),
        ("MHC", ["maximize", "minimize", "close"], "right"),
        ("C", ["close"], "right"),
        ("C|M", ["close", "maximize"], "both"),
        ("CHM|", ["close", "minimize", "maximize"], "left"),
    ],
)
def test_button_layouts_order_and_place_the_title_bar_buttons(themes, layout, order, side):
    icon_themes, wm_themes = themes
    look = Look(icon_themes[0], wm_themes[0], False, wm.DEFAULT_BASE, None, button_layout=layout)
    full = [r for s in range(30) for r in _title_rows(synth_screenshot(s, (1280, 720), *themes, look))]
    assert len(full) >= 2, "fewer than 2 single-window screenshots in 30"
    for classes, xs, w in full:
        assert classes == order
        if side == "right":
            assert xs[0] > w[2] - 40 * len(order)
        elif side == "left":
            assert xs[-1] < w[0] + 40 * len(order)
        else:
            assert xs[0] < w[0] + 40 and xs[-1] > w[2] - 40
    assert synth_screenshot(0, (1280, 720), *themes, look)[3]["button_layout"] == layout


def test_one_button_layout_leaves_the_rest_of_the_screen_as_it_was_and_bad_layouts_are_refused(themes, tmp_path):
    # the layout has a random stream of its own: choosing among layouts never shifts the rest
    # of a screenshot, and "HMC" alone gives the screens drawn before layouts varied
    def others(shot):
        keep = [label not in ("close", "minimize", "maximize") for label in shot[2]]
        return shot[1][keep], [label for label, k in zip(shot[2], keep, strict=True) if k]

    for seed in (11, 12):
        a, b = others(synth_screenshot(seed, (800, 600), *themes, button_layouts=("HMC",)))
        c, d = others(synth_screenshot(seed, (800, 600), *themes, button_layouts=("MHC", "C", "CHM|")))
        assert np.array_equal(a, c) and b == d
    layouts = {synth_screenshot(s, (320, 240), *themes)[3]["button_layout"] for s in range(60)}
    assert {"HMC", "MHC", "C"} <= layouts
    for bad in ("HXC", "HHC", "C|M|H", ""):
        with pytest.raises(DeskvisionError, match="button layout"):
            generate_synth(tmp_path / "bad", 1, button_layouts=[bad], progress=False)
    proc = subprocess.run(
        [sys.executable, "-m", "deskvision.cli.main", "synth", "--out", str(tmp_path / "c"), "--button-layouts", "HMC,XY"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "bad button layout 'XY'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "c" / "labels").exists() or not any((tmp_path / "c" / "labels").iterdir())


def test_wallpaper_pictures_from_given_folders(themes, tmp_path):
    """`synth --wallpapers`: screens take their picture wallpapers from the given folders, zoomed
    and shifted at random; a missing folder or one without pictures is a clear error."""
    from deskvision.synth.desktop import picture_files

    pictures = tmp_path / "walls"
    pictures.mkdir()
    stripes = np.zeros((300, 400, 3), np.uint8)
    stripes[:, :, 0] = np.where((np.arange(400) // 20) % 2, 250, 10)[None, :]  # red and black stripes
    stripes[:, :, 2] = 90
    Image.fromarray(stripes).save(pictures / "stripes.png")
    (pictures / "notes.txt").write_text("not a picture")
    files = picture_files([pictures])
    assert files == [str(pictures / "stripes.png")]
    shots = [np.asarray(synth_screenshot(s, (640, 400), *themes, pictures=files, picture_share=1.0)[0]) for s in range(6)]
    assert all((shot[..., 2] == 90).mean() > 0.3 for shot in shots)  # the picture's blue shows on every screen
    assert len({shot[-1, :, 0].tobytes() for shot in shots}) == 6  # zoomed, shifted, flipped differently
    plain = [np.asarray(synth_screenshot(s, (640, 400), *themes, pictures=files, picture_share=0.0)[0]) for s in range(6)]
    assert all((shot[..., 2] == 90).mean() < 0.3 for shot in plain)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no wallpaper pictures"):
        picture_files([tmp_path / "empty"])
    cmd = [sys.executable, "-m", "deskvision.cli.main", "synth", "--out", str(tmp_path / "c"), "--wallpapers", "no/such/dir"]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_hidpi_looks_can_keep_window_decorations_at_scale_one(themes):
    """Most xfwm4/openbox themes stay at scale 1 on a HiDPI screen: `plain_decorations` draws
    such looks, title-bar buttons still boxed as 16 px x the screen scale (ANNOTATION.md)."""
    plain = [synth_screenshot(s, (1280, 720), *themes, hidpi=1.0, plain_decorations=1.0) for s in range(8)]
    scaled = [synth_screenshot(s, (1280, 720), *themes, hidpi=1.0) for s in range(8)]
    for (_, boxes, labels, attrs, _), (_, _, _, other, _) in zip(plain, scaled, strict=True):
        assert attrs["scale"] == "2" and attrs["decorations_scale"] == "1" and "decorations_scale" not in other
        # the same look, only its decorations drawn at another scale; the rest of the screen may
        # differ (a window's client area, and so the random draws of its content, depend on the
        # decorations' size: with xfwm4's Blackbird, seed 7 ends blurred in one draw only)
        look_keys = set(attrs) - {"decorations_scale", "blur"}
        assert look_keys == set(other) - {"blur"}
        assert {k: attrs[k] for k in look_keys} == {k: other[k] for k in look_keys}
        for box, label in zip(boxes, labels, strict=True):
            if label in ("close", "minimize", "maximize"):
                w, h = box[2] - box[0], box[3] - box[1]
                assert w == h and w >= 32, (label, box)
    bars = [b for s in plain for b, label in zip(s[1], s[2], strict=True) if label == "close"]
    assert bars, "no close button drawn in 8 screens"
    one = [synth_screenshot(s, (640, 400), *themes, hidpi=0.0, plain_decorations=1.0)[3] for s in range(8)]
    assert all(a["scale"] == "1" and "decorations_scale" not in a for a in one)
