"""The canonical desktop classes (see ANNOTATION.md): ids 1..N, 0 is the background."""

CLASSES: tuple[str, ...] = (
    "folder",
    "file",
    "launcher",
    "trash",
    "window",
    "close",
    "minimize",
    "maximize",
    "button",
    "text_field",
    "menu",
)

#: The window manager's title-bar buttons: ANNOTATION.md boxes each as a square, and a title bar
#: holds at most one of each.
TITLEBAR_CLASSES: tuple[str, ...] = ("close", "minimize", "maximize")

#: Title-bar button letters of xfwm4's `button_layout` (H hide = minimize), used by the harvest
#: (which sets the layout of real window managers) and by the synthetic title bars.
BUTTON_CLASS: dict[str, str] = {"H": "minimize", "M": "maximize", "C": "close"}

#: Names the seed's `desker` library and common VIA projects use, mapped to ours.
ALIASES: dict[str, str] = {
    "close button": "close",
    "minimize button": "minimize",
    "zoom button": "maximize",
    "maximise": "maximize",
    "restore": "maximize",
    "textfield": "text_field",
    "text field": "text_field",
    "entry": "text_field",
    "push button": "button",
    "icon_folder": "folder",
    "directory": "folder",
    "bin": "trash",
    "recycle bin": "trash",
    "application": "launcher",
    "app": "launcher",
}


def canonical_name(name: str) -> str:
    """Normalise a class name (case, spaces, known aliases)."""
    key = name.strip().lower()
    return ALIASES.get(key, key.replace(" ", "_").replace("-", "_"))
