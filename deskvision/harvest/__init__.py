"""Harvest real Linux desktops (Xvfb, a window manager, pcmanfm and GTK programs) with exact
labels from the accessibility tree, the window manager and pixel differences."""
