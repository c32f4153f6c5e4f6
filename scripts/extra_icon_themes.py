"""Icon themes for synthetic training screens beyond those installed, from Debian's packages.

    python scripts/extra_icon_themes.py data/extra_icons

downloads the packages below with `apt-get download` (no root needed) and unpacks them under
OUT/pkg, then links each icon theme folder into OUT, for `deskvision synth --icon-dirs OUT`.
They are not installed: the harvest's desktops (GTK reads the system's icon folders) keep their
looks. The themes that `deskvision synth` can draw with are listed at the end; leave out with
`--exclude-themes` those that inherit from a held-out theme (stage 14 of the default model:
Obsidian, from breeze-dark, and nuoveXT2, from Tango).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from deskvision.synth.icons import installed_icon_themes

PACKAGES = (
    "oxygen-icon-theme",
    "faenza-icon-theme",
    "numix-icon-theme",
    "numix-icon-theme-circle",
    "moka-icon-theme",
    "faba-icon-theme",
    "elementary-icon-theme",
    "lxde-icon-theme",
    "deepin-icon-theme",
    "obsidian-icon-theme",
    "suru-icon-theme",
)


def unpack(out: Path) -> Path:
    """Download and unpack the packages (once); returns the unpacked root."""
    root, debs = out / "pkg", out / "debs"
    if not (root / "done").exists():
        debs.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True)
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        (root / "done").touch()
    return root


def main(out: Path) -> None:
    root = unpack(out)
    for theme in sorted((root / "usr/share/icons").iterdir()):
        link = out / theme.name
        # hicolor and default: the system's own are used
        if theme.name not in ("hicolor", "default") and not link.exists():
            link.symlink_to(theme.resolve())
    mine = set(installed_icon_themes((os.fspath(out.resolve()),))) - set(installed_icon_themes())
    print(f"{out}: {len(mine)} icon themes to draw with: {', '.join(sorted(mine))}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
