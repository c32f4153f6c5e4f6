"""Data formats (VIA, COCO, YOLO), image loading, validation, and the torch dataset."""

from deskvision.data.annotations import AnnotationSet, ImageAnnotation
from deskvision.data.formats import load_annotations, save_annotations

__all__ = ["AnnotationSet", "ImageAnnotation", "load_annotations", "save_annotations"]
