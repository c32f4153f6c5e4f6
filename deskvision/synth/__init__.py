"""Synthetic screenshots with exact labels. `toy` draws simple desktops with PIL shapes
(tests, the sample model); the icon-theme based engine builds on the same output format."""
