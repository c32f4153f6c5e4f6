"""A throw-away desktop to try `deskvision live` on: Xvfb + xfwm4 + a pcmanfm window on a
prepared home folder, served by x11vnc on localhost with a password. Ctrl-C stops it all.

    python scripts/vnc_demo_desktop.py --port 5900 --password-file /tmp/vncpass
    deskvision live vnc://127.0.0.1:5900 --password-file /tmp/vncpass --open Documents --close --record session.gif

Needs: apt-get install xvfb xfwm4 pcmanfm x11vnc dbus at-spi2-core
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deskvision.harvest.session import XSession


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=5900)
    p.add_argument("--password-file", type=Path, required=True, help="written with a password (first line)")
    p.add_argument("--password", default="deskvision")
    p.add_argument("--size", default="1280x800")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    if _listening(args.port):
        sys.exit(f"error: port {args.port} is taken (another VNC server?); choose another --port")
    # SIGTERM (kill, systemd, CI) stops the desktop as Ctrl-C does: the session closes on exit
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    home = Path(tempfile.mkdtemp(prefix="deskvision-vnc-")) / "home"
    for folder in ("Documents", "Music", "Pictures", "Projects/Reports", "Projects/Slides"):
        (home / folder).mkdir(parents=True, exist_ok=True)
    (home / "notes.txt").write_text("hello\n")
    (home / "Documents" / "report.txt").write_text("quarterly report\n")
    args.password_file.write_text(args.password + "\n")
    with XSession(home, (w, h)) as session:
        session.spawn(["xfwm4", "--compositor=off", "--replace"])
        time.sleep(1.0)
        session.spawn(["pcmanfm", str(home)])
        stored = home / ".vncpass"
        subprocess.run(["x11vnc", "-storepasswd", args.password, str(stored)], capture_output=True, check=True)
        vnc = session.spawn(
            ["x11vnc", "-display", session.display, "-rfbauth", str(stored), "-rfbport", str(args.port),
             "-localhost", "-forever", "-shared", "-noxdamage", "-threads", "-quiet"]
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _listening(args.port):
            if vnc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"error: x11vnc did not start on port {args.port}")
            time.sleep(0.1)
        print(f"desktop {session.display} served on vnc://127.0.0.1:{args.port} (password in {args.password_file}); Ctrl-C stops")
        try:
            while vnc.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


if __name__ == "__main__":
    main()
