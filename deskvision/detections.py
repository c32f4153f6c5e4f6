"""`Detections`: the one result type shared by inference, evaluation, drawing, OCR and live control."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image

from deskvision.classes import TITLEBAR_CLASSES

#: Whether `Detector` (and `deskvision detect`) applies `Detections.one_per_titlebar` unless told
#: otherwise: decided by the rule in docs/default_training/stage7_plan.md (adopted on the first
#: data, made opt-in again when measured on the recipe's data: gains below the rule's 0.002).
ONE_PER_TITLEBAR: bool = False


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection areas of two (N, 4) and (M, 4) float64 xyxy arrays."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    return np.clip(rb - lt, 0, None).prod(axis=2)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of two (N, 4) and (M, 4) xyxy arrays."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    inter = _intersection(a, b)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


@dataclass
class Detections:
    """Boxes (xyxy, pixels), class ids (index into `class_names`), scores, and optional text.

    `class_names[0]` is the background, so a class id of 1 is the first real class.
    """

    xyxy: np.ndarray
    class_id: np.ndarray
    scores: np.ndarray
    class_names: Sequence[str]
    text: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        self.class_id = np.asarray(self.class_id, dtype=np.int64).reshape(-1)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.class_names = tuple(self.class_names)
        if not self.text:
            self.text = [None] * len(self.xyxy)
        n = len(self.xyxy)
        if not (len(self.class_id) == len(self.scores) == len(self.text) == n):
            raise ValueError("xyxy, class_id, scores and text must have the same length")

    # -- construction -------------------------------------------------------------------
    @classmethod
    def empty(cls, class_names: Sequence[str]) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0), class_names)

    @classmethod
    def from_torchvision(cls, output: dict, class_names: Sequence[str]) -> Detections:
        """From a torchvision detection model's output dict (boxes, labels, scores)."""
        return cls(
            output["boxes"].detach().cpu().float().numpy(),
            output["labels"].detach().cpu().numpy(),
            output["scores"].detach().cpu().float().numpy(),
            class_names,
        )

    # -- access -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: int | slice | np.ndarray | Sequence[int]) -> Detections:
        if isinstance(index, int | np.integer):
            index = [int(index)]
        idx = np.arange(len(self))[index]
        return Detections(
            self.xyxy[idx],
            self.class_id[idx],
            self.scores[idx],
            self.class_names,
            [self.text[i] for i in idx],
        )

    def __iter__(self) -> Iterator[dict]:
        return iter(self.to_list())

    @property
    def labels(self) -> list[str]:
        """Class name of each detection."""
        return [self.class_names[i] for i in self.class_id]

    @property
    def centers(self) -> np.ndarray:
        """(N, 2) points to click: the centre of each box."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, (self.xyxy[:, 1] + self.xyxy[:, 3]) / 2], axis=1)

    @property
    def area(self) -> np.ndarray:
        return (self.xyxy[:, 2] - self.xyxy[:, 0]) * (self.xyxy[:, 3] - self.xyxy[:, 1])

    # -- filtering ----------------------------------------------------------------------
    def filter(self, classes: Iterable[str] | None = None, min_score: float = 0.0) -> Detections:
        """Keep detections of the given class names with a score of at least `min_score`."""
        keep = self.scores >= min_score
        if classes is not None:
            wanted = set(classes)
            unknown = wanted - set(self.class_names[1:])
            if unknown:
                raise ValueError(f"unknown class(es): {', '.join(sorted(unknown))}; known: {', '.join(self.class_names[1:])}")
            keep &= np.array([name in wanted for name in self.labels], dtype=bool)
        return self[np.flatnonzero(keep)]

    def nms(self, iou_threshold: float = 0.5, class_agnostic: bool = False, vote_iou: float | None = None) -> Detections:
        """Greedy non-maximum suppression, per class unless `class_agnostic`.

        Per-class NMS keeps nested elements of different classes (a window and its close button).
        With `vote_iou`, each kept box becomes the score-weighted mean of the boxes of its class
        (itself included) that overlap it at IoU ≥ `vote_iou` (box voting); scores do not change.
        """
        keep = self.nms_indices(iou_threshold, class_agnostic)
        out = self[keep]
        if vote_iou is not None and len(keep):
            out.xyxy = self._voted(keep, vote_iou).astype(np.float32)
        return out

    def nms_indices(self, iou_threshold: float = 0.5, class_agnostic: bool = False) -> np.ndarray:
        """The indices `nms` keeps, best-scored first."""
        if class_agnostic:
            return _greedy_keep(self.scores, box_iou(self.xyxy, self.xyxy) > iou_threshold)
        keep = [
            m[_greedy_keep(self.scores[m], box_iou(self.xyxy[m], self.xyxy[m]) > iou_threshold)]
            for m in (np.flatnonzero(self.class_id == c) for c in np.unique(self.class_id))
        ]
        keep = np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)
        return keep[np.argsort(-self.scores[keep], kind="stable")]

    def _voted(self, keep: np.ndarray, vote_iou: float) -> np.ndarray:
        """Boxes `keep` replaced by the score-weighted mean of their class's boxes around them."""
        boxes = self.xyxy.astype(np.float64)
        out = boxes[keep].copy()
        for c in np.unique(self.class_id[keep]):
            k, m = np.flatnonzero(self.class_id[keep] == c), np.flatnonzero(self.class_id == c)
            weight = (box_iou(out[k], boxes[m]) >= vote_iou) * self.scores[m].astype(np.float64)[None, :]
            out[k] = weight @ boxes[m] / np.maximum(weight.sum(axis=1, keepdims=True), 1e-12)
        return out

    def remove_duplicates(self, iou_threshold: float = 0.85) -> Detections:
        """Cross-class duplicate filter: of boxes of *different* classes covering the same
        element (IoU above `iou_threshold`, e.g. one glyph called both `file` and `folder`),
        keep the best-scored one. Nested elements have a low IoU and all survive.
        """
        return self.nms(iou_threshold, class_agnostic=True)

    def drop_nested(self, classes: Iterable[str] | None = None, cover: float = 0.9) -> Detections:
        """Of two boxes of one class (among `classes`; default: all but `window`) where at least
        `cover` of the smaller lies inside the larger, keep the better-scored: a button is never
        inside a button, but the model can box one close button twice, tight and loose.
        Windows are left alone (a dialog can lie inside its parent window)."""
        names = [c for c in self.class_names[1:] if c != "window"] if classes is None else list(classes)
        wanted = np.isin(self.class_id, [self.class_names.index(c) for c in names if c in self.class_names])
        if wanted.sum() < 2:
            return self
        b = self.xyxy.astype(np.float64)
        smaller = np.minimum(self.area[:, None], self.area[None, :])
        nested = (_intersection(b, b) >= cover * np.maximum(smaller, 1e-12)) & (self.class_id[:, None] == self.class_id[None, :])
        nested &= wanted[:, None] & wanted[None, :]
        np.fill_diagonal(nested, False)
        return self[np.sort(_greedy_keep(self.scores, nested))]  # in the order they came

    def square_boxes(self, classes: Iterable[str] = TITLEBAR_CLASSES, min_side: float = 16.0, side: str = "mean") -> Detections:
        """Make the boxes of `classes` squares on their own centres, as ANNOTATION.md boxes
        title-bar buttons: side ``(w + h) / 2`` (`side="mean"`) or ``max(w, h)`` (`"max"`), at
        least `min_side` (16 px at screen scale 1). Coordinates stay ≥ 0."""
        if side not in ("mean", "max"):
            raise ValueError(f"side must be 'mean' or 'max', not {side!r}")
        ids = [self.class_names.index(c) for c in classes if c in self.class_names]
        wanted = np.isin(self.class_id, ids)
        if not wanted.any():
            return self
        b = self.xyxy[wanted].astype(np.float64)
        w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        half = np.maximum((w + h) / 2 if side == "mean" else np.maximum(w, h), min_side) / 2
        cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        xyxy = self.xyxy.copy()
        xyxy[wanted] = np.clip(np.stack([cx - half, cy - half, cx + half, cy + half], axis=1), 0, None)
        return Detections(xyxy, self.class_id, self.scores, self.class_names, list(self.text))

    def one_per_titlebar(
        self, classes: Sequence[str] = TITLEBAR_CLASSES, site_iou: float = 0.5, max_sites: int = 6
    ) -> Detections:
        """Rescore title-bar buttons so that each title bar holds at most one of each class.

        The model often calls a minimize button `maximize` with `minimize` as its runner-up. Boxes
        of `classes` are grouped into sites (greedy by score, any class: a box joins the first
        site whose best box it overlaps at IoU ≥ `site_iou`) and sites into title bars (centres
        within half the larger side vertically and three sides horizontally, chained). In a title
        bar of at most `max_sites` sites the one-to-one assignment of classes to sites with the
        highest sum of scores is found; at each site the assigned class's box takes the site's
        top score and the box that had it takes the assigned one's (a swap). Boxes, classes and
        the set of scores of each site are unchanged; only which class ranks first moves.
        """
        ids = [self.class_names.index(c) for c in classes if c in self.class_names]
        idx = np.flatnonzero(np.isin(self.class_id, ids))
        if len(idx) < 2:
            return self
        boxes, scores, cls = self.xyxy[idx].astype(np.float64), self.scores[idx].copy(), self.class_id[idx]
        iou = box_iou(boxes, boxes)
        heads: list[int] = []  # best box of each site
        site = np.zeros(len(idx), dtype=np.int64)
        for i in np.argsort(-scores, kind="stable"):
            for s, head in enumerate(heads):
                if iou[i, head] >= site_iou:
                    site[i] = s
                    break
            else:
                site[i] = len(heads)
                heads.append(i)
        hb = boxes[heads]
        centre = (hb[:, :2] + hb[:, 2:]) / 2
        size = np.maximum(hb[:, 2] - hb[:, 0], hb[:, 3] - hb[:, 1])
        larger = np.maximum(size[:, None], size[None, :])
        d = np.abs(centre[:, None, :] - centre[None, :, :])
        linked = (d[..., 1] <= 0.5 * larger) & (d[..., 0] <= 3 * larger)
        for bar in _components(linked):
            if len(bar) < 2 or len(bar) > max_sites:
                continue
            # best box of each (site, class) in this title bar
            best: dict[tuple[int, int], int] = {}
            for i in np.flatnonzero(np.isin(site, bar)):
                key = (int(site[i]), int(cls[i]))
                if key not in best or scores[i] > scores[best[key]]:
                    best[key] = i
            options = [[None, *(s for s in bar if (s, c) in best)] for c in ids]
            top, choice = -1.0, None
            for pick in itertools.product(*options):
                chosen = [s for s in pick if s is not None]
                if len(chosen) != len(set(chosen)):
                    continue
                total = sum(float(scores[best[(s, c)]]) for s, c in zip(pick, ids, strict=True) if s is not None)
                if total > top + 1e-9:
                    top, choice = total, pick
            for s, c in zip(choice or (), ids, strict=True):
                if s is None:
                    continue
                members = np.flatnonzero(site == s)
                leader = members[np.argmax(scores[members])]
                mine = best[(s, c)]
                if mine != leader:
                    scores[mine], scores[leader] = scores[leader], scores[mine]
        out = self.scores.copy()
        out[idx] = scores
        return Detections(self.xyxy, self.class_id, out, self.class_names, list(self.text))

    def drop_featureless(
        self, image: ArrayLike, classes: Iterable[str] = ("window",), min_edges: float = 0.002, step: int = 12
    ) -> Detections:
        """Drop boxes of `classes` that show almost nothing: fewer than `min_edges` of their
        pixels sit on an edge (a grey-level step above `step` to the next pixel).

        `image`: the screenshot, a PIL image or a uint8 array, (H, W) grey or (H, W, 3) RGB;
        it is read only when there is a box to check. A window always shows a
        title, a border or widgets: of 1601 labelled windows (real and synthetic test screens),
        none has fewer than 0.2 % of its pixels on an edge and one fewer than 1 %; a box over a
        plain or gradient wallpaper has none.
        """
        wanted = [self.class_names.index(c) for c in classes if c in self.class_names]
        candidates = np.flatnonzero(np.isin(self.class_id, wanted))
        if len(candidates) == 0:
            return self
        if isinstance(image, Image.Image):
            image = image.convert("L")  # Pillow's C conversion: cheaper than sampling the RGB array
        grey = np.asarray(image)
        # every k-th pixel only (k = 3 on 1080p): a window's title and widgets span several
        # pixels, and the full image costs ~40 ms where this costs a few
        k = max(1, round(min(grey.shape[:2]) / 400))
        grey = grey[::k, ::k]
        if grey.ndim == 3:  # RGB(A): Pillow's own grey ("L") formula, on the sampled pixels only
            rgb = grey[..., :3].astype(np.uint32)
            grey = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16
        grey = grey.astype(np.int16)
        edge = np.zeros(grey.shape, np.int32)
        edge[:, :-1] |= np.abs(np.diff(grey, axis=1)) > step
        edge[:-1] |= np.abs(np.diff(grey, axis=0)) > step
        integral = np.pad(edge.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        h, w = grey.shape
        keep = np.ones(len(self), dtype=bool)
        for i in candidates:
            x0, y0, x1, y1 = np.clip(np.round(self.xyxy[i] / k).astype(int), 0, [w, h, w, h])
            area = (x1 - x0) * (y1 - y0)
            n = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
            keep[i] = area > 0 and n >= min_edges * area
        return self[np.flatnonzero(keep)]

    # -- export -------------------------------------------------------------------------
    def to_list(self) -> list[dict]:
        out = []
        for box, cid, score, text, (cx, cy) in zip(self.xyxy, self.class_id, self.scores, self.text, self.centers, strict=True):
            item = {
                "class": self.class_names[cid],
                "score": round(float(score), 4),
                "box": [round(float(v), 1) for v in box],
                "center": [round(float(cx), 1), round(float(cy), 1)],
            }
            if text is not None:
                item["text"] = text
            out.append(item)
        return out

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_list(), **kwargs)

    def to_coco_results(self, image_id: int, category_ids: Sequence[int] | None = None) -> list[dict]:
        """COCO "results" entries (xywh boxes); category id = class id unless mapped."""
        out = []
        for box, cid, score, text in zip(self.xyxy, self.class_id, self.scores, self.text, strict=True):
            x0, y0, x1, y1 = (float(v) for v in box)
            item = {
                "image_id": image_id,
                "category_id": int(category_ids[cid] if category_ids else cid),
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "score": float(score),
            }
            if text is not None:
                item["text"] = text
            out.append(item)
        return out

    def to_via_regions(self, attribute: str = "Icon") -> list[dict]:
        """VIA `regions` (rectangles, integer pixels) holding the class under `attribute` and,
        when read, the element's text under `text`."""
        regions = []
        for box, name, text in zip(self.xyxy, self.labels, self.text, strict=True):
            x0, y0, x1, y1 = (int(round(float(v))) for v in box)
            attributes = {attribute: name} | ({"text": text} if text is not None else {})
            regions.append(
                {
                    "shape_attributes": {"name": "rect", "x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0},
                    "region_attributes": attributes,
                }
            )
        return regions


def _components(linked: np.ndarray) -> list[list[int]]:
    """Connected groups of a symmetric boolean adjacency matrix, each sorted."""
    seen = np.zeros(len(linked), dtype=bool)
    groups = []
    for start in range(len(linked)):
        if seen[start]:
            continue
        stack, group = [start], []
        seen[start] = True
        while stack:
            i = stack.pop()
            group.append(i)
            for j in np.flatnonzero(linked[i] & ~seen):
                seen[j] = True
                stack.append(int(j))
        groups.append(sorted(group))
    return groups


def _greedy_keep(scores: np.ndarray, clash: np.ndarray) -> np.ndarray:
    """Greedy suppression, best score first: each kept box removes the boxes it clashes with
    (`clash[i, j]`). The indices kept, best-scored first."""
    suppressed = np.zeros(len(scores), dtype=bool)
    keep = []
    for i in np.argsort(-scores, kind="stable"):
        if not suppressed[i]:
            keep.append(i)
            suppressed |= clash[i]
    return np.array(keep, dtype=np.int64)
