"""Wallpaper pictures for synthetic training screens, from Debian's KDE and desktop-base packages.

    python scripts/training_wallpapers.py data/wallpapers

downloads plasma-workspace-wallpapers and desktop-base with `apt-get download` (no root needed),
unpacks them under OUT/pkg, and links one picture per wallpaper (the size nearest 1920 px wide,
light and dark variants apart; SVGs drawn as 1920 px PNGs) into OUT/train, or OUT/val for every
sixth wallpaper by name:
the val pictures never appear in training and measure false boxes on unseen pictures. The GNOME
and MATE wallpapers that scripts/robustness.py tests on are in neither.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from deskvision.synth.icons import svg_to_png

PACKAGES = ("plasma-workspace-wallpapers", "desktop-base")
PICTURE = re.compile(r"^(\d+)x(\d+)\.(png|jpe?g|svg)$", re.IGNORECASE)


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


def wallpapers(root: Path) -> dict[str, Path]:
    """name -> chosen picture, for every images*/ folder of every wallpaper (links followed once)."""
    chosen: dict[str, Path] = {}
    seen: set[Path] = set()
    for images in sorted(root.glob("usr/share/wallpapers/*/contents/images*")) + sorted(
        root.glob("usr/share/desktop-base/*-theme/wallpaper*/contents/images*")
    ):
        real = images.resolve()
        if real in seen or "lockscreen" in str(real).lower():
            continue
        seen.add(real)
        landscape = []
        for p in images.iterdir():
            m = PICTURE.match(p.name)
            if m and int(m[1]) > int(m[2]):
                landscape.append((abs(int(m[1]) - 1920), p.suffix.lower() == ".svg", p))
        if landscape:
            # desktop-base: <theme>-theme/wallpaper[-withlogo]/contents/images
            parts = (real.parents[2], real.parents[1]) if "desktop-base" in real.parts else (images.parents[1], images)
            name = "-".join(p.name for p in parts)
            chosen[name] = min(landscape)[2]
    return chosen


def main(out: Path) -> None:
    chosen = wallpapers(unpack(out))
    for split in ("train", "val"):
        (out / split).mkdir(parents=True, exist_ok=True)
        for old in (out / split).iterdir():
            old.unlink()
    for i, (name, picture) in enumerate(sorted(chosen.items())):
        split = "val" if i % 6 == 5 else "train"
        if picture.suffix.lower() == ".svg":
            (out / split / f"{name}.png").write_bytes(svg_to_png(picture, 1920))
        else:
            (out / split / f"{name}{picture.suffix.lower()}").symlink_to(picture.resolve())
    for split in ("train", "val"):
        print(f"{out / split}: {len(list((out / split).iterdir()))} pictures")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
