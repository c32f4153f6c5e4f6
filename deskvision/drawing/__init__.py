"""Pictures of detections: annotated PNGs and animated GIFs."""

from deskvision.drawing.draw import draw_detections, save_gif

__all__ = ["draw_detections", "save_gif"]
