"""Live control: the human-behaviour model (offline), and a real VNC server on loopback
(Xvfb + x11vnc with a password, xfwm4, pcmanfm; CI installs them with apt-get)."""

from __future__ import annotations

import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import time

import numpy as np
import pytest

from deskvision.live.human import HumanConfig, click_timing, fitts_time, keystrokes, minimum_jerk, mouse_path, replay
from deskvision.live.vnc import LiveError, VncAddress, VncConnection

CFG = HumanConfig()


# -- the behaviour model ---------------------------------------------------------------------------


def test_paths_end_on_target_with_a_bell_shaped_speed():
    rng = random.Random(1)
    for _ in range(50):
        start = (rng.uniform(0, 1900), rng.uniform(0, 1000))
        end = (rng.uniform(0, 1900), rng.uniform(0, 1000))
        path = mouse_path(start, end, 20, CFG, rng, bounds=(1920, 1080))
        assert path[-1][1:] == (round(end[0]), round(end[1]))
        assert all(0 <= x < 1920 and 0 <= y < 1080 for _, x, y in path)
        assert all(b[0] > a[0] for a, b in zip(path, path[1:], strict=False))  # time goes forward
    # speed of the minimum-jerk profile: zero at both ends, highest in the middle
    speeds = [minimum_jerk((i + 1) / 100) - minimum_jerk(i / 100) for i in range(100)]
    assert speeds[0] < 0.01 * max(speeds) and speeds[-1] < 0.01 * max(speeds)
    assert 40 <= int(np.argmax(speeds)) <= 59


def test_paths_curve_overshoot_sometimes_and_are_seeded():
    rng = random.Random(2)
    deviations, overshoots = [], 0
    for _ in range(200):
        path = mouse_path((100, 500), (1100, 500), 16, CFG, rng)
        ys = [y for _, _, y in path]
        deviations.append(max(abs(y - 500) for y in ys))
        overshoots += max(x for _, x, _ in path) > 1103
    assert statistics.median(deviations) > 5  # not a straight line
    assert 0.15 < overshoots / 200 < 0.45  # about overshoot_p (0.3) of long movements
    a = mouse_path((0, 0), (500, 300), 16, CFG, random.Random(7))
    assert a == mouse_path((0, 0), (500, 300), 16, CFG, random.Random(7))


def test_fitts_law_far_and_small_targets_take_longer():
    rng = random.Random(3)

    def median(d, w):
        return statistics.median(fitts_time(d, w, CFG, rng) for _ in range(400))

    assert median(100, 40) < median(800, 40) < median(800, 10)
    index = math.log2(800 / 10 + 1)
    assert abs(median(800, 10) - (CFG.fitts_a + CFG.fitts_b * index)) < 0.05


def test_double_clicks_stay_within_the_toolkits_double_click_time():
    # GDK counts two presses as a double click only within 250 ms of each other (no settings
    # daemon); slower "double clicks" just select. Single clicks are held longer.
    rng = random.Random(5)
    intervals, holds = [], []
    for _ in range(500):
        (p0, h0), (p1, h1) = click_timing(2, CFG, rng)
        assert p0 == 0.0 and p1 > 0 and h0 > 0 and h1 > 0
        intervals.append(h0 + p1)
        holds.append(click_timing(1, CFG, rng)[0][1])
    assert max(intervals) <= CFG.double_click_within < 0.25
    assert 0.12 < statistics.median(intervals) < 0.2  # not all at the cap: spread like a person's
    assert sum(i > CFG.double_click_within - 1e-9 for i in intervals) < 0.1 * len(intervals)
    assert abs(statistics.mean(holds) - CFG.click_hold) < 0.01
    assert len(click_timing(3, CFG, rng)) == 3


def test_typing_cadence_and_corrected_typos():
    rng = random.Random(4)
    text = "the quick brown fox jumps over the lazy dog " * 10
    strokes = keystrokes(text, CFG, rng)
    assert replay(strokes) == text
    assert any(k == "bsp" for _, k in strokes)  # some typos, all corrected
    intervals = [d for d, _ in strokes]
    assert 0.12 < statistics.median(intervals) < 0.25
    assert min(intervals) > 0.02


# -- a real VNC server ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    """Xvfb + xfwm4 + a pcmanfm desktop with a prepared folder, served by x11vnc (password)."""
    from deskvision.harvest.session import XSession, missing_programs

    missing = missing_programs() + ([] if shutil.which("x11vnc") else ["x11vnc"])
    if missing:
        msg = f"live tests need Debian packages: {' '.join(missing)} (apt-get install x11vnc xvfb xfwm4 pcmanfm)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    home = tmp_path_factory.mktemp("live") / "home"
    (home / "Desktop").mkdir(parents=True)
    (home / "Projects" / "Reports").mkdir(parents=True)
    with XSession(home, (1024, 768)) as session:
        session.spawn(["xfwm4", "--compositor=off", "--replace"])
        time.sleep(1.0)
        passwd = home / ".vncpass"
        subprocess.run(["x11vnc", "-storepasswd", "sesame", str(passwd)], capture_output=True, check=True)
        port = _free_port()
        state = {"session": session, "home": home, "port": port, "passwd": passwd}

        def start_server():
            state["vnc"] = session.spawn(
                ["x11vnc", "-display", session.display, "-rfbauth", str(passwd), "-rfbport", str(port),
                 "-localhost", "-forever", "-shared", "-noxdamage", "-threads", "-quiet"]
            )  # fmt: skip
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        return
                time.sleep(0.1)
            raise RuntimeError("x11vnc did not start")

        state["start_server"] = start_server
        start_server()
        yield state


def _titles(session) -> list[str]:
    return [w.name for w in session.windows()[0]]


def _file_manager_at_home(desktop) -> subprocess.Popen:
    """pcmanfm showing the prepared home folder, drawn and still."""
    session = desktop["session"]
    fm = session.spawn(["pcmanfm", str(desktop["home"])])
    deadline = time.monotonic() + 15
    while "home" not in _titles(session) and time.monotonic() < deadline:
        time.sleep(0.2)
    session.wait_stable()
    return fm


def test_address_forms():
    assert VncAddress.parse("vnc://example.org:5901") == VncAddress("example.org", 5901)
    assert VncAddress.parse("example.org:1") == VncAddress("example.org", 5901)
    assert VncAddress.parse("example.org::6000") == VncAddress("example.org", 6000)
    with pytest.raises(LiveError, match="vnc://HOST:PORT"):
        VncAddress.parse("http://example.org")


def test_unreachable_server_is_a_clear_error():
    with pytest.raises(LiveError, match="cannot reach the VNC server at 127.0.0.1:.*refused"):
        VncConnection(f"vnc://127.0.0.1:{_free_port()}", timeout=3).connect()


def test_wrong_password_is_a_clear_error(desktop):
    with pytest.raises(LiveError, match="authentication failed"):
        VncConnection(f"vnc://127.0.0.1:{desktop['port']}", password="wrong", timeout=5).connect()


def test_capture_is_the_real_screen(desktop):
    with VncConnection(f"vnc://127.0.0.1:{desktop['port']}", password="sesame", timeout=5) as vnc:
        img = vnc.capture()
        assert img.size == (1024, 768) == vnc.size
        truth = desktop["session"].screenshot().convert("RGB")
        diff = np.abs(np.asarray(img, np.int16) - np.asarray(truth, np.int16)).max(axis=2)
        assert (diff > 8).mean() < 0.01


def test_a_killed_server_gives_a_clear_error_then_a_reconnect(desktop):
    vnc = VncConnection(f"vnc://127.0.0.1:{desktop['port']}", password="sesame", timeout=3, retries=1)
    vnc.connect()
    desktop["session"].kill(desktop["vnc"])
    with pytest.raises(LiveError, match="lost|cannot reach"):
        vnc.capture()
    desktop["start_server"]()
    assert vnc.capture().size == (1024, 768)  # reconnects on its own once the server is back
    vnc.close()


def test_dry_run_on_a_screenshot_draws_intentions_and_sends_nothing(tmp_path):
    from PIL import Image

    from deskvision.detections import Detections
    from deskvision.live import Agent, StillScreen

    names = ("__background__", "folder", "close", "window")

    def detector(img):
        return Detections([[100, 100, 148, 148], [580, 10, 596, 26], [300, 0, 600, 400]], [1, 2, 3], [0.9, 0.9, 0.9], names)

    Image.new("RGB", (640, 480), (40, 90, 140)).save(tmp_path / "shot.png")
    slept = []
    agent = Agent(StillScreen(tmp_path / "shot.png"), detector, dry_run=True, sleep=slept.append, seed=3)
    assert agent.close_window() is True
    agent.double_click(124, 124, target="folder")
    agent.type_text("hello")
    agent.click(5000, -20)  # outside the screen: clamped inside
    assert [a.action for a in agent.log] == ["click", "closed", "double-click", "type", "click"]
    assert agent.log[0].point == (588, 18)
    assert agent.log[-1].point == (639, 0)
    assert slept == []  # a dry run neither waits nor sends
    agent.save_gif(tmp_path / "run.gif")
    agent.save_log(tmp_path / "run.jsonl")
    assert Image.open(tmp_path / "run.gif").n_frames == 1
    assert len((tmp_path / "run.jsonl").read_text().splitlines()) == 5
    agent.stop()
    from deskvision.live import Stopped

    with pytest.raises(Stopped):
        agent.look()


def test_close_window_picks_a_title_bar_button_and_checks_the_bar_went_away():
    from PIL import Image

    from deskvision.detections import Detections
    from deskvision.live import Agent

    names = ("__background__", "close", "minimize", "maximize", "window")
    boxes = [
        [580, 60, 596, 76],  # a toolbar "x": a close look-alike without neighbours, high score
        [580, 4, 596, 20],  # the title bar's close button
        [540, 4, 556, 20],  # minimize
        [560, 4, 576, 20],  # maximize
        [0, 0, 600, 400],  # the window
    ]

    class Desktop:  # a window whose title bar disappears once its close button is clicked
        size = (640, 480)

        def __init__(self):
            self.img = Image.new("RGB", self.size, (20, 20, 20))
            self.img.paste((200, 200, 200), (0, 0, 600, 24))
            self.pointer = (0, 0)
            self.clicked = []

        def capture(self):
            return self.img.copy()

        def move(self, x, y):
            self.pointer = (x, y)

        def button(self, button, down):
            if not down:
                self.clicked.append(self.pointer)
                if self.pointer == (588, 12):
                    self.img = Image.new("RGB", self.size, (20, 20, 20))

        def key(self, key, down=None):
            pass

    screen = Desktop()
    detector = lambda img: Detections(boxes, [1, 1, 2, 3, 4], [0.99, 0.8, 0.8, 0.8, 0.9], names)  # noqa: E731
    agent = Agent(screen, detector, sleep=lambda s: None, seed=1, record=False)
    assert agent.close_window(timeout=1) is True
    assert screen.clicked == [(588, 12)]
    # nothing changes in the title bar (a tooltip elsewhere): not reported as closed
    screen.img = Image.new("RGB", screen.size, (20, 20, 20))
    screen.img.paste((200, 200, 200), (0, 0, 600, 24))
    screen.button = lambda button, down: screen.img.paste((255, 255, 200), (100, 300, 300, 340))
    assert agent.close_window(timeout=0.5) is False


def test_agent_opens_a_folder_by_name_and_closes_the_window(desktop, tmp_path):
    """Over the real VNC server: the shipped model detects the folder, OCR reads its label,
    the agent double-clicks it (pcmanfm shows the folder: the window title changes) and then
    clicks the detected close button (the window goes away)."""
    from deskvision.inference import Detector
    from deskvision.live import Agent
    from deskvision.ocr import create_engine

    try:
        ocr = create_engine("rapidocr")
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("CI"):
            pytest.fail(f"CI installs the OCR engines: {exc}")
        pytest.skip(str(exc))
    session = desktop["session"]
    fm = _file_manager_at_home(desktop)
    fast = HumanConfig(fitts_a=0.05, fitts_b=0.03, think_median=0.1)  # the same model, quicker
    try:
        with VncConnection(f"vnc://127.0.0.1:{desktop['port']}", password="sesame", timeout=5) as vnc:
            agent = Agent(vnc, Detector.load(threshold=0.4), ocr=ocr, human=fast, seed=5)
            assert agent.open("Projects", classes=("folder",)) is True
            deadline = time.monotonic() + 10
            while "Projects" not in _titles(session) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert "Projects" in _titles(session)
            session.wait_stable()
            assert agent.close_window() is True
            deadline = time.monotonic() + 10
            while "Projects" in _titles(session) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert "Projects" not in _titles(session)
            assert [a.action for a in agent.log if a.action in ("double-click", "click")] == ["double-click", "click"]
            agent.save_gif(tmp_path / "session.gif")
    finally:
        session.kill(fm)


def test_browse_acts_like_the_file_explorer_agent_and_records_everything(desktop, tmp_path):
    """`browse` over the real VNC server: every step looks, acts on what it saw (opening
    folders, going back, closing, scrolling) and is logged and recorded."""
    from PIL import Image

    from deskvision.inference import Detector
    from deskvision.live import Agent

    session = desktop["session"]
    fm = _file_manager_at_home(desktop)
    fast = HumanConfig(fitts_a=0.05, fitts_b=0.03, think_median=0.1)
    titles = []
    try:
        with VncConnection(f"vnc://127.0.0.1:{desktop['port']}", password="sesame", timeout=5) as vnc:
            agent = Agent(vnc, Detector.load(threshold=0.4), human=fast, seed=1)
            original = agent.look
            agent.look = lambda: (titles.append(tuple(_titles(session))), original())[1]
            agent.browse(steps=4)
            agent.save_gif(tmp_path / "browse.gif")
            agent.save_log(tmp_path / "browse.jsonl")
    finally:
        session.kill(fm)
    sent = [a for a in agent.log if a.action in ("double-click", "click", "key", "scroll")]
    assert len(sent) >= 4  # one action (at least) per step
    assert all(0 <= a.point[0] < 1024 and 0 <= a.point[1] < 768 for a in agent.log if a.point)
    assert [a.t for a in agent.log] == sorted(a.t for a in agent.log)
    assert any(a.action in ("opened", "closed") for a in agent.log)  # it did change the desktop
    assert len(set(titles)) > 1  # ... which the window manager confirms (titles while browsing)
    assert len(agent.frames) >= 4 and Image.open(tmp_path / "browse.gif").n_frames >= 2  # GIF merges repeats
    assert len((tmp_path / "browse.jsonl").read_text().splitlines()) == len(agent.log)
