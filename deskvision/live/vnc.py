"""A VNC connection with timeouts on every operation, password authentication and
reconnection, over `vncdotool` (MIT; chosen over `asyncvnc` for its maintained synchronous API
and its framebuffer decoding in Pillow, see README "Live control").

Every failure is a `LiveError` with one clear line: unreachable server, wrong password,
timeout, lost connection (after `retries` reconnection attempts).
"""

from __future__ import annotations

import logging
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from PIL import Image

from deskvision.errors import DeskvisionError

log = logging.getLogger("deskvision")


class LiveError(DeskvisionError):
    """A VNC server that cannot be reached, refuses us, or stops answering."""


@dataclass(frozen=True)
class VncAddress:
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> VncAddress:
        """``vnc://host:port``, ``host:port``, ``host::port`` (vncviewer style) or ``host:N``
        (display N, port 5900 + N when N < 100)."""
        text = url.strip()
        if "://" in text:
            parsed = urlparse(text)
            if parsed.scheme != "vnc" or not parsed.hostname:
                raise LiveError(f"{url!r}: expected vnc://HOST:PORT")
            return cls(parsed.hostname, parsed.port or 5900)
        if "::" in text:
            host, _, port = text.partition("::")
        else:
            host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
        if not port:
            return cls(host or "localhost", 5900)
        if not port.isdigit():
            raise LiveError(f"{url!r}: the port must be a number")
        number = int(port)
        return cls(host or "localhost", 5900 + number if "::" not in text and number < 100 else number)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def read_password(path: str | Path | None) -> str | None:
    """The first line of a password file (None without a file)."""
    if path is None:
        return None
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise LiveError(f"{path}: cannot read the password file ({exc.strerror})") from None
    return text.splitlines()[0] if text else ""


class VncConnection:
    """A live VNC session. ``with VncConnection("vnc://host:5900", password="x") as vnc:``"""

    def __init__(self, url: str, password: str | None = None, timeout: float = 10.0, retries: int = 3):
        self.address = VncAddress.parse(url)
        self.password = password
        self.timeout = timeout
        self.retries = retries
        self._client = None
        self.size: tuple[int, int] = (0, 0)

    # -- life cycle ------------------------------------------------------------------------
    def __enter__(self) -> VncConnection:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        """Open the connection and read the screen once (so a wrong password fails here)."""
        self.close()
        try:
            with socket.create_connection((self.address.host, self.address.port), timeout=self.timeout):
                pass
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            raise LiveError(f"cannot reach the VNC server at {self.address}: {reason}") from None
        try:
            from vncdotool import api
        except ImportError:
            raise LiveError("live control needs vncdotool: pip install 'deskvision[live]'") from None

        server = f"{self.address.host}::{self.address.port}"
        # VNC authentication is DES by specification; vncdotool's use of it warns on every connect.
        warnings.filterwarnings("ignore", message="TripleDES has been moved")
        try:
            self._client = api.connect(server, password=self.password, timeout=self.timeout)
            self._refresh()
        except Exception as exc:  # noqa: BLE001 - vncdotool raises twisted failures of many kinds
            self._client = None
            message = str(exc) or exc.__class__.__name__
            if "password" in message.lower() or "auth" in exc.__class__.__name__.lower() or "auth" in message.lower():
                raise LiveError(f"VNC authentication failed at {self.address}: wrong or missing password ({message})") from None
            raise LiveError(f"VNC connection to {self.address} failed: {message}") from None

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                client.timeout = min(self.timeout, 2.0)
                client.disconnect()
            except Exception:  # noqa: BLE001 - the server may be gone already
                pass

    def _refresh(self) -> Image.Image:
        self._client.refreshScreen()
        screen = self._client.protocol.screen
        if screen is None:
            raise LiveError(f"the VNC server at {self.address} sent no framebuffer")
        self.size = screen.size
        return screen.convert("RGB")

    def _call(self, what: str, fn):
        """Run `fn(client)`; on a lost connection or a timeout, reconnect and try again."""
        last = ""
        for attempt in range(self.retries + 1):
            if self._client is None:
                try:
                    self.connect()
                except LiveError as exc:
                    last = str(exc)
                    if "authentication" in last:
                        raise
                    time.sleep(min(2.0, 0.5 * (attempt + 1)))
                    continue
            try:
                return fn(self._client)
            except LiveError:
                raise
            except Exception as exc:  # noqa: BLE001 - twisted failures, timeouts, closed sockets
                last = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
                log.warning(f"VNC {what} failed ({last}); reconnecting")
                self.close()
                time.sleep(min(2.0, 0.5 * (attempt + 1)))
        raise LiveError(f"VNC server at {self.address} lost: {what} failed after {self.retries} reconnection(s) ({last})")

    # -- the screen and the input devices -----------------------------------------------------
    def capture(self) -> Image.Image:
        """The whole screen now, as an RGB image."""
        return self._call("screen capture", lambda c: self._refresh())

    def move(self, x: int, y: int) -> None:
        self._call("pointer move", lambda c: c.mouseMove(int(x), int(y)))

    def button(self, button: int, down: bool) -> None:
        """Press (`down`) or release a mouse button: 1 left, 2 middle, 3 right, 4/5 wheel."""
        self._call("mouse button", lambda c: c.mouseDown(button) if down else c.mouseUp(button))

    def key(self, key: str, down: bool | None = None) -> None:
        """Press and release `key` (vncdotool names: ``a``, ``enter``, ``bsp``, ``ctrl-l``), or
        only press (`down` True) or release (False) it."""
        if down is None:
            self._call("key press", lambda c: c.keyPress(key))
        else:
            self._call("key", lambda c: c.keyDown(key) if down else c.keyUp(key))
