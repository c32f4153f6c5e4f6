"""An empty GTK window with an empty title, for calibrating the window manager's title-bar
buttons.  Runs under the system Python (``/usr/bin/python3``); argv: WIDTH HEIGHT X Y."""

import sys

import gi

gi.require_version("Gtk", "3.0")
from gi.repository import Gtk  # noqa: E402

width, height, x, y = (int(v) for v in sys.argv[1:5])
win = Gtk.Window(title="")
win.set_default_size(width, height)
win.move(x, y)
win.connect("destroy", Gtk.main_quit)
win.show_all()
Gtk.main()
