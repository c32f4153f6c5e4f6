"""A headless X desktop session: Xvfb, a D-Bus session bus, the accessibility bus, a window
manager, and the applications started in it, all with a private HOME so that the look
(themes, fonts, wallpaper) is exactly what the harvester wrote there."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from deskvision.errors import DeskvisionError
from deskvision.harvest.xwd import read_xwd

SYSTEM_PYTHON = "/usr/bin/python3"
ATSPI_DUMP = Path(__file__).with_name("atspi_dump.py")
CALIBRATION_WINDOW = Path(__file__).with_name("blank_window.py")
BUS_LAUNCHER = "/usr/libexec/at-spi-bus-launcher"
#: Debian packages the harvester needs, by the program that tells whether each is installed.
REQUIRED_PROGRAMS = {
    "Xvfb": "xvfb",
    "dbus-daemon": "dbus",
    "xfwm4": "xfwm4",
    "xfconf-query": "xfconf",
    "pcmanfm": "pcmanfm",
    "zenity": "zenity",
    "xdotool": "xdotool",
    "wmctrl": "wmctrl",
    "xprop": "x11-utils",
    "xwininfo": "x11-utils",
}
APT_PACKAGES = (
    "xvfb dbus dbus-x11 xfwm4 xfconf openbox pcmanfm zenity yad mousepad galculator at-spi2-core libatk-adaptor "
    "python3-gi gir1.2-atspi-2.0 gir1.2-gtk-3.0 xdotool wmctrl x11-utils"
)


def missing_programs() -> list[str]:
    """Debian packages (by name) whose programs are absent; empty when harvesting can run."""
    missing = sorted({pkg for prog, pkg in REQUIRED_PROGRAMS.items() if shutil.which(prog) is None})
    if not Path(BUS_LAUNCHER).exists():
        missing.append("at-spi2-core")
    if not Path(SYSTEM_PYTHON).exists() or not _system_python_has_gi():
        missing.append("python3-gi gir1.2-atspi-2.0 gir1.2-gtk-3.0")
    return missing


def _system_python_has_gi() -> bool:
    check = "import gi; gi.require_version('Atspi', '2.0'); gi.require_version('Gtk', '3.0')"
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", check], capture_output=True, timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def require_programs() -> None:
    missing = missing_programs()
    if missing:
        raise DeskvisionError(
            f"harvesting needs Debian packages that are not installed: {' '.join(missing)} "
            f"(install them with: apt-get install {APT_PACKAGES})"
        )


@dataclass
class XWindow:
    """A top-level client window, as the window manager manages it."""

    wid: int
    frame: tuple[int, int, int, int]  # x0, y0, x1, y1 of the frame (decorations included)
    name: str
    pid: int
    actions: frozenset[str]  # _NET_WM_ALLOWED_ACTIONS, without the prefix: CLOSE, MINIMIZE, ...
    types: tuple[str, ...]
    states: frozenset[str]
    mapped: bool
    title: int = 0  # height of the top decoration (title bar and border)


class XSession:
    """Start with ``with XSession(home, (w, h)) as s:``; everything it started ends on exit,
    including processes that D-Bus activated on its behalf."""

    def __init__(self, home: Path, size: tuple[int, int], scale: int = 1, env: dict[str, str] | None = None):
        self.home = Path(home)
        self.size = size
        self.scale = scale
        self.tag = uuid.uuid4().hex
        self.fbdir = self.home / ".fb"
        self.procs: list[subprocess.Popen] = []
        self.display = ""
        self.extra_env = env or {}
        self.env: dict[str, str] = {}

    # -- life cycle -------------------------------------------------------------------------
    def __enter__(self) -> XSession:
        require_programs()
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        self.fbdir.mkdir(parents=True, exist_ok=True)
        for sub in (".cache", ".local/share", ".run"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        (self.home / ".run").chmod(0o700)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "XDG_", "GTK_", "GDK_", "QT_"))}
        base.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            XDG_DATA_HOME=str(self.home / ".local/share"),
            XDG_RUNTIME_DIR=str(self.home / ".run"),
            XDG_CURRENT_DESKTOP="XFCE",
            NO_AT_BRIDGE="0",
            GTK_MODULES="gail:atk-bridge",
            GDK_SCALE=str(self.scale),
            GDK_BACKEND="x11",
            LANG="C.UTF-8",
            DESKVISION_HARVEST_SESSION=self.tag,
            **self.extra_env,
        )
        read_fd, write_fd = os.pipe()
        w, h = self.size
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{w}x{h}x24", "-fbdir", str(self.fbdir),
             "-nolisten", "tcp", "-dpi", str(96 * self.scale), "+extension", "RANDR"],
            pass_fds=[write_fd], env=base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.procs.append(xvfb)
        os.close(write_fd)
        try:
            number = _read_line(read_fd, 10.0)
        finally:
            os.close(read_fd)
        if not number.strip().isdigit():
            raise DeskvisionError("Xvfb did not start (is the xvfb package installed and working?)")
        self.display = ":" + number.strip()
        base["DISPLAY"] = self.display
        bus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
            env=base, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.procs.append(bus)
        address = _read_line(bus.stdout.fileno(), 10.0).strip() if bus.stdout else ""
        if not address:
            raise DeskvisionError("could not start a D-Bus session bus (dbus-daemon)")
        base["DBUS_SESSION_BUS_ADDRESS"] = address
        self.env = base
        self.spawn([BUS_LAUNCHER, "--launch-immediately"])
        time.sleep(0.3)

    def close(self) -> None:
        """Stop every process of this session (found by the tag in its environment)."""
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for pid in _tagged_pids(self.tag):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and (_tagged_pids(self.tag) or any(p.poll() is None for p in self.procs)):
            time.sleep(0.05)
        for pid in _tagged_pids(self.tag):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=2)
        self.procs.clear()

    # -- processes ---------------------------------------------------------------------------
    def spawn(self, cmd: list[str], env: dict[str, str] | None = None, stderr=subprocess.DEVNULL) -> subprocess.Popen:
        p = subprocess.Popen(
            cmd, env={**self.env, **(env or {})}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=stderr, cwd=self.home,
        )  # fmt: skip
        self.procs.append(p)
        return p

    def run(self, cmd: list[str], timeout: float = 10.0, check: bool = False) -> str:
        try:
            r = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout, cwd=self.home)
        except subprocess.TimeoutExpired as e:
            raise DeskvisionError(f"{cmd[0]} did not answer in {timeout:.0f} s") from e
        if check and r.returncode:
            raise DeskvisionError(f"{' '.join(cmd[:3])} failed: {r.stderr.strip()[:300]}")
        return r.stdout

    def kill(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=2)
        if proc in self.procs:
            self.procs.remove(proc)

    # -- looking at the screen ----------------------------------------------------------------
    def screenshot(self) -> Image.Image:
        return read_xwd(self.fbdir / "Xvfb_screen0")

    def wait_stable(self, timeout: float = 6.0, quiet: float = 0.25) -> Image.Image:
        """The screen once it has not changed for `quiet` seconds (or at `timeout`)."""
        path = self.fbdir / "Xvfb_screen0"
        last = path.read_bytes()
        since = time.monotonic()
        deadline = since + timeout
        while time.monotonic() < deadline:
            time.sleep(0.06)
            now = path.read_bytes()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
        return self.screenshot()

    def accessible(self) -> list[dict]:
        """Every visible accessible element of every application (see atspi_dump.py)."""
        out = self.run([SYSTEM_PYTHON, str(ATSPI_DUMP)], timeout=20)
        try:
            return json.loads(out)
        except json.JSONDecodeError as e:
            raise DeskvisionError("the accessibility dump returned no JSON") from e

    def windows(self) -> tuple[list[XWindow], int]:
        """Managed client windows, bottom to top, and the active window's id (0: none)."""
        root = _xprop(self, ["-root"], ["_NET_CLIENT_LIST_STACKING", "_NET_CLIENT_LIST", "_NET_ACTIVE_WINDOW"])
        # xfwm4 publishes the stacking list only once it has restacked something; until then
        # there is at most one client and the plain list says the same.
        ids = _ids(root.get("_NET_CLIENT_LIST_STACKING") or root.get("_NET_CLIENT_LIST", ""))
        active = _ids(root.get("_NET_ACTIVE_WINDOW", ""))
        out = []
        for wid in ids:
            props = _xprop(
                self,
                ["-id", str(wid)],
                ["_NET_FRAME_EXTENTS", "_NET_WM_ALLOWED_ACTIONS", "_NET_WM_PID", "_NET_WM_NAME",
                 "_NET_WM_WINDOW_TYPE", "_NET_WM_STATE", "WM_STATE"],
            )  # fmt: skip
            info = self.run(["xwininfo", "-id", str(wid)])
            geo = _xwininfo(info)
            if geo is None:
                continue
            x, y, w, h = geo
            ext = [int(v) for v in props.get("_NET_FRAME_EXTENTS", "0, 0, 0, 0").replace(",", " ").split()[:4]]
            left, right, top, bottom = (ext + [0, 0, 0, 0])[:4]
            name = props.get("_NET_WM_NAME", "")
            out.append(
                XWindow(
                    wid,
                    (x - left, y - top, x + w + right, y + h + bottom),
                    name[1:-1] if name.startswith('"') else name,
                    int(props.get("_NET_WM_PID", "-1").split()[0]) if props.get("_NET_WM_PID", "").strip().isdigit() else -1,
                    frozenset(_atoms(props, "_NET_WM_ALLOWED_ACTIONS", "_NET_WM_ACTION_")),
                    _atoms(props, "_NET_WM_WINDOW_TYPE", "_NET_WM_WINDOW_TYPE_"),
                    frozenset(_atoms(props, "_NET_WM_STATE", "_NET_WM_STATE_")),
                    "Map State: IsViewable" in info,
                    top,
                )
            )  # fmt: skip
        return out, (active[0] if active else 0)


def _read_line(fd: int, timeout: float) -> str:
    """A line from pipe `fd`, or what came of it in `timeout` seconds (a program that never
    answers must not block the harvest)."""
    import select

    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def _tagged_pids(tag: str) -> list[int]:
    needle = f"DESKVISION_HARVEST_SESSION={tag}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _xprop(session: XSession, target: list[str], names: list[str]) -> dict[str, str]:
    out = session.run(["xprop", *target, *names])
    props = {}
    for line in out.splitlines():
        if "=" not in line and ":" not in line:
            continue
        key = line.split("(", 1)[0].split(":", 1)[0].split("=", 1)[0].strip()
        if "not found" in line or "no such atom" in line:
            continue
        sep = " = " if " = " in line else ":"
        props[key] = line.split(sep, 1)[1].strip() if sep in line else ""
    return props


def _atoms(props: dict[str, str], key: str, prefix: str) -> tuple[str, ...]:
    return tuple(a.strip().removeprefix(prefix) for a in props.get(key, "").split(",") if a.strip())


def _ids(value: str) -> list[int]:
    out = []
    for tok in value.replace("window id #", "").replace(",", " ").split():
        try:
            v = int(tok, 16) if tok.startswith("0x") else int(tok)
        except ValueError:
            continue
        if v:
            out.append(v)
    return out


def _xwininfo(text: str) -> tuple[int, int, int, int] | None:
    vals = {}
    for line in text.splitlines():
        line = line.strip()
        for key in ("Absolute upper-left X", "Absolute upper-left Y", "Width", "Height"):
            if line.startswith(key + ":"):
                vals[key] = int(line.split(":", 1)[1])
    if len(vals) < 4:
        return None
    return vals["Absolute upper-left X"], vals["Absolute upper-left Y"], vals["Width"], vals["Height"]
