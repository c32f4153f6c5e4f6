"""A "look" of a real desktop — GTK theme × icon theme × window-manager theme × wallpaper ×
font × screen size/scale — chosen at random (reproducibly) from what is installed, and written
as the configuration files that the real programs read from a private HOME."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
from PIL import Image

THEME_DIRS = (Path("/usr/share/themes"),)
SIZES = ((1280, 720), (1366, 768), (1440, 900), (1600, 900), (1920, 1080), (1920, 1200), (2560, 1440))
FONTS = ("DejaVu Sans", "Liberation Sans", "Noto Sans", "Cantarell", "Sans")
#: Families whose GTK and window-manager themes belong together (a real user's pairing).
_FAMILIES = ("Arc", "Greybird", "Numix", "Materia", "Breeze", "Clearlooks", "Adwaita")


@dataclass(frozen=True)
class Look:
    wm: str  # "xfwm4" or "openbox"
    wm_theme: str
    gtk_theme: str
    icon_theme: str
    font: str
    font_size: int
    wallpaper: str  # "color", "gradient" or "noise"
    background: str  # "#rrggbb"
    size: tuple[int, int]
    scale: int
    icon_size: int  # desktop and icon-view icon size, in logical pixels
    button_layout: str  # right-hand title-bar buttons, in order: some of "H", "M", "C"

    @property
    def name(self) -> str:
        """The look's identity for hold-out splits: themes only (not sizes or colours)."""
        return f"{self.gtk_theme}+{self.icon_theme}+{self.wm}:{self.wm_theme}"

    def attributes(self) -> dict[str, str]:
        """Stored as VIA file attributes of every screenshot of this look."""
        d = {k: str(v) for k, v in asdict(self).items()}
        d["size"] = f"{self.size[0]}x{self.size[1]}"
        d["look"] = self.name
        return d


def _theme_dirs(sub: str) -> list[str]:
    names = set()
    for base in THEME_DIRS:
        if base.is_dir():
            names.update(p.relative_to(base).parts[0] for p in base.glob(f"*/{sub}"))
    return sorted(names)


def gtk_themes() -> list[str]:
    """GTK 3 themes installed (Adwaita is built into GTK and always there)."""
    found = {n for n in _theme_dirs("gtk-3.0/gtk.css")} | {"Adwaita"}
    return sorted(n for n in found if "accessibility" not in n.lower())


def xfwm4_themes(scale: int = 1) -> list[str]:
    names = [n for n in _theme_dirs("xfwm4/themerc") if "accessibility" not in n.lower()]
    hidpi = [n for n in names if n.endswith(("-hdpi", "-xhdpi"))]
    return (
        hidpi + [n for n in names if n not in hidpi and "compact" not in n] if scale > 1 else [n for n in names if n not in hidpi]
    )


def openbox_themes() -> list[str]:
    return _theme_dirs("openbox-3/themerc")


def icon_themes() -> list[str]:
    from deskvision.synth.icons import installed_icon_themes

    return installed_icon_themes()


@dataclass(frozen=True)
class Inventory:
    """The themes a harvest draws its looks from. The draw depends on these lists, so two machines
    with the same inventory harvest the same looks: `deskvision harvest` saves it as themes.json
    and can be told to draw from a saved one (`--themes`) on a machine with more themes."""

    gtk: tuple[str, ...]
    icons: tuple[str, ...]
    xfwm4: tuple[str, ...]
    xfwm4_hidpi: tuple[str, ...]
    openbox: tuple[str, ...]

    @classmethod
    def installed(cls) -> Inventory:
        return cls(
            tuple(gtk_themes()), tuple(icon_themes()), tuple(xfwm4_themes(1)), tuple(xfwm4_themes(2)), tuple(openbox_themes())
        )

    def wm_themes(self, wm: str, scale: int) -> tuple[str, ...]:
        return (self.xfwm4_hidpi if scale > 1 else self.xfwm4) if wm == "xfwm4" else self.openbox

    def missing(self, installed: Inventory) -> list[str]:
        """Themes of this inventory that `installed` lacks, as "kind:name"."""
        return [f"{f.name}:{n}" for f in fields(self) for n in getattr(self, f.name) if n not in getattr(installed, f.name)]

    def to_json(self) -> str:
        return json.dumps({f.name: list(getattr(self, f.name)) for f in fields(self)}, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Inventory:
        """Raises ValueError on anything but an object of the five lists of theme names."""
        try:
            data = json.loads(text)
        except RecursionError as e:
            raise ValueError("nested too deeply") from e
        names = [f.name for f in fields(cls)]
        if not isinstance(data, dict) or sorted(data) != sorted(names):
            raise ValueError(f"a theme inventory is a JSON object with the keys {', '.join(names)}")
        for key in names:
            value = data[key]
            if not isinstance(value, list) or not all(isinstance(n, str) and n and "/" not in n for n in value):
                raise ValueError(f"{key!r} must be a list of theme names")
        return cls(**{k: tuple(data[k]) for k in names})


def _family(name: str) -> str | None:
    return next((f for f in _FAMILIES if name.lower().startswith(f.lower())), None)


def _dark(name: str) -> bool:
    return "dark" in name.lower()


def random_look(
    rng: random.Random,
    wms: tuple[str, ...] = ("xfwm4", "openbox"),
    scales: tuple[int, ...] = (1, 1, 1, 1, 2),
    sizes: tuple[tuple[int, int], ...] = SIZES,
    inventory: Inventory | None = None,
) -> Look:
    """A look from `inventory` (default: what is installed); the same `rng` state and inventory
    give the same look."""
    inventory = inventory or Inventory.installed()
    gtk, icons = inventory.gtk, inventory.icons
    if not icons:
        raise RuntimeError("no icon theme installed")
    scale = rng.choice(scales)
    wm_choices = [w for w in wms if inventory.wm_themes(w, scale)]
    if not wm_choices:
        raise RuntimeError("no window-manager theme installed for " + ", ".join(wms))
    wm = rng.choice(wm_choices)
    gtk_theme = rng.choice(gtk)
    wm_list = inventory.wm_themes(wm, scale)
    family = [t for t in wm_list if _family(t) and _family(t) == _family(gtk_theme) and _dark(t) == _dark(gtk_theme)]
    wm_theme = rng.choice(family) if family and rng.random() < 0.6 else rng.choice(wm_list)
    if scale > 1:
        size = rng.choice([s for s in sizes if s[0] >= 2400] or [sizes[-1]])
    else:
        size = rng.choice([s for s in sizes if s[0] < 2400] or list(sizes))
    dark = _dark(gtk_theme) or rng.random() < 0.3
    hue = rng.random()
    value = rng.uniform(0.12, 0.35) if dark else rng.uniform(0.35, 0.85)
    background = _hex(_hsv(hue, rng.uniform(0.2, 0.8), value))
    return Look(
        wm=wm,
        wm_theme=wm_theme,
        gtk_theme=gtk_theme,
        icon_theme=rng.choice(icons),
        font=rng.choice(FONTS),
        font_size=rng.choice((9, 10, 10, 11)),
        wallpaper=rng.choice(("color", "gradient", "gradient", "noise")),
        background=background,
        size=size,
        scale=scale,
        icon_size=rng.choice((48, 48, 64)),
        button_layout=rng.choice(("HMC", "HMC", "HMC", "MHC")),
    )


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    import colorsys

    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return round(r * 255), round(g * 255), round(b * 255)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], np.float32)


def wallpaper_image(look: Look, seed: int) -> Image.Image | None:
    """A procedural wallpaper (None for a plain colour)."""
    if look.wallpaper == "color":
        return None
    rng = np.random.default_rng(seed)
    w, h = look.size
    w, h = w // 4, h // 4  # drawn small, scaled up by pcmanfm: smooth like a photo's bokeh
    base = _rgb(look.background)
    other = np.clip(base + rng.uniform(-90, 90, 3), 0, 255)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    t = (np.cos(angle) * xx / w + np.sin(angle) * yy / h + 1) / 2
    img = base * (1 - t[..., None]) + other * t[..., None]
    if look.wallpaper == "noise":
        blobs = rng.normal(0, 1, (h // 16 + 2, w // 16 + 2, 3)).astype(np.float32)
        big = np.asarray(
            Image.fromarray(((blobs - blobs.min()) / np.ptp(blobs) * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC)
        )
        img = img * 0.7 + big.astype(np.float32) * 0.3
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def xfwm4_layout(look: Look, buttons: str | None = None) -> str:
    """xfwm4's button_layout: the window menu on the left, `buttons` on the right."""
    return "O|" + (look.button_layout if buttons is None else buttons)


def openbox_layout(look: Look, buttons: str | None = None) -> str:
    """openbox's titleLayout: icon and label, then `buttons` (openbox calls minimize "I")."""
    return "NL" + (look.button_layout if buttons is None else buttons).replace("H", "I")


def openbox_rc(look: Look, buttons: str | None = None) -> str:
    font = f"<name>{look.font}</name><size>{look.font_size}</size><weight>bold</weight><slant>normal</slant>"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<openbox_config xmlns="http://openbox.org/3.4/rc">
  <theme>
    <name>{look.wm_theme}</name>
    <titleLayout>{openbox_layout(look, buttons)}</titleLayout>
    <keepBorder>yes</keepBorder>
    <animateIconify>no</animateIconify>
    <font place="ActiveWindow">{font}</font>
    <font place="InactiveWindow">{font}</font>
  </theme>
  <focus><focusNew>yes</focusNew><followMouse>no</followMouse></focus>
  <placement><policy>Smart</policy></placement>
  <desktops><number>1</number></desktops>
  <margins><top>0</top><bottom>0</bottom><left>0</left><right>0</right></margins>
</openbox_config>
"""


def write_config(look: Look, home: Path, seed: int) -> None:
    """Write the files that make GTK, the window manager and pcmanfm show `look`."""
    cfg = home / ".config"
    font = f"{look.font} {look.font_size}"
    _write(
        cfg / "gtk-3.0/settings.ini",
        f"[Settings]\ngtk-theme-name={look.gtk_theme}\ngtk-icon-theme-name={look.icon_theme}\n"
        f"gtk-font-name={font}\ngtk-application-prefer-dark-theme={int(_dark(look.gtk_theme))}\n"
        "gtk-enable-animations=0\ngtk-cursor-blink=0\ngtk-overlay-scrolling=0\ngtk-menu-images=1\n"
        "gtk-button-images=1\ngtk-toolbar-style=GTK_TOOLBAR_ICONS\n",
    )
    # pcmanfm is a GTK 2 program: it reads ~/.gtkrc-2.0, and GDK_SCALE does not scale it, so a
    # HiDPI look gives it doubled icons (and the screen's doubled DPI doubles its fonts).
    _write(
        home / ".gtkrc-2.0",
        f'gtk-theme-name="{look.gtk_theme}"\ngtk-icon-theme-name="{look.icon_theme}"\ngtk-font-name="{font}"\n'
        "gtk-toolbar-style=GTK_TOOLBAR_ICONS\ngtk-menu-images=1\ngtk-button-images=1\n",
    )
    _write(
        cfg / "xfce4/xfconf/xfce-perchannel-xml/xfwm4.xml",
        '<?xml version="1.0" encoding="UTF-8"?>\n<channel name="xfwm4" version="1.0">\n'
        '  <property name="general" type="empty">\n'
        f'    <property name="theme" type="string" value={quoteattr(look.wm_theme)}/>\n'
        f'    <property name="button_layout" type="string" value={quoteattr(xfwm4_layout(look))}/>\n'
        f'    <property name="title_font" type="string" value={quoteattr(look.font + " Bold " + str(look.font_size))}/>\n'
        '    <property name="use_compositing" type="bool" value="false"/>\n'
        '    <property name="workspace_count" type="int" value="1"/>\n'
        '    <property name="show_dock_shadow" type="bool" value="false"/>\n'
        '    <property name="cycle_preview" type="bool" value="false"/>\n'
        "  </property>\n</channel>\n",
    )
    _write(cfg / "openbox/rc.xml", openbox_rc(look))
    wallpaper = wallpaper_image(look, seed)
    mode = "color"
    if wallpaper is not None:
        wallpaper.save(home / ".wallpaper.png")
        mode = "stretch"
    fg = "#ffffff" if _rgb(look.background).mean() < 150 else "#000000"
    _write(
        cfg / "pcmanfm/default/desktop-items-0.conf",
        f"[*]\nwallpaper_mode={mode}\nwallpaper_common=1\nwallpaper={home / '.wallpaper.png'}\n"
        f"desktop_bg={look.background}\ndesktop_fg={fg}\ndesktop_shadow={'#000000' if fg == '#ffffff' else '#ffffff'}\n"
        f"desktop_font={font}\nshow_wm_menu=0\nsort=name;ascending;\nshow_documents=0\nshow_trash=1\nshow_mounts=0\n",
    )
    _write(
        cfg / "pcmanfm/default/pcmanfm.conf",
        "[config]\nbm_open_method=0\n[volume]\nmount_on_startup=0\nmount_removable=0\nautorun=0\n"
        "[ui]\nalways_show_tabs=0\nmax_tab_chars=32\nwin_width=640\nwin_height=480\nsplitter_pos=150\n"
        "media_in_new_tab=0\ndesktop_folder_new_win=0\nfocus_previous=0\nside_pane_mode=places\nview_mode=icon\n"
        "show_hidden=0\nsort=name;ascending;\ntoolbar=newwin;newtab;navigation;home;\nshow_statusbar=1\npathbar_mode_buttons=0\n",
    )
    _write(
        cfg / "libfm/libfm.conf",
        "[config]\nsingle_click=0\nuse_trash=1\nconfirm_del=1\nshow_thumbnail=0\nthumbnail_local=0\nquick_exec=1\n"
        f"[ui]\nbig_icon_size={look.icon_size * look.scale}\nsmall_icon_size=16\npane_icon_size=16\n"
        "thumbnail_size=128\nshow_hidden=0\n"
        "[places]\nplaces_home=1\nplaces_desktop=1\nplaces_root=1\nplaces_computer=0\nplaces_trash=1\n"
        "places_applications=0\nplaces_network=0\nplaces_unmounted=0\n",
    )
