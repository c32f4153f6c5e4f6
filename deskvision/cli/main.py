"""`deskvision` command line: detect, train, evaluate, convert, validate, info, models, toy."""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from deskvision.detections import ONE_PER_TITLEBAR
from deskvision.errors import DeskvisionError
from deskvision.ocr.labels import DEFAULT_ICON_RULE, ICON_RULES

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Find desktop elements on screenshots with Faster R-CNN.",
)
out_console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("deskvision")

_HALF_AS_SOURCE = "Store the weights as fp16, or not (default: as the input model file stores them)."

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug messages.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Warnings and errors only.")] = False,
) -> None:
    from deskvision.utils.logs import setup_logging
    from deskvision.utils.runtime import keep_freed_memory

    setup_logging(verbose, quiet)
    keep_freed_memory()  # no page faults per detection: ~14 % faster at 1080p on 2 cores (BENCHMARKS.md)


def _comma_list(value: str | None) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c']."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _sides(value: str | None) -> tuple[float, ...]:
    """'16,32' -> (16.0, 32.0); anything but positive numbers is refused."""
    try:
        sides = tuple(float(v) for v in _comma_list(value))
    except ValueError:
        raise DeskvisionError(f"--titlebar-sides must be a comma list of numbers, not {value!r}") from None
    if any(not 0 < s < 1000 for s in sides):
        raise DeskvisionError(f"--titlebar-sides must lie between 0 and 1000 px, not {value!r}")
    return sides


def _train_only_prefixes(spec: str | None, config) -> tuple[str, ...]:
    """`--train-only`: parameter-name prefixes, ``separable`` standing for the model's separable convs."""
    from deskvision.models.factory import separable_prefixes

    prefixes = []
    for item in _comma_list(spec):
        if item == "separable":
            if not config.separable:
                raise DeskvisionError("--train-only separable: this model has no separable convs")
            prefixes += separable_prefixes(config.separable)
        else:
            prefixes.append(item)
    return tuple(prefixes)


def _classes(spec: str | None, data=None) -> tuple[str, ...]:
    from deskvision.classes import CLASSES

    if spec in (None, "", "canonical"):
        return CLASSES
    if spec == "auto":
        if data is None:
            raise DeskvisionError("--classes auto needs a dataset")
        return tuple(data.class_names())
    names = tuple(_comma_list(spec))
    if len(set(names)) != len(names) or not names:
        raise DeskvisionError(f"--classes: give distinct names separated by commas, got {spec!r}")
    return names


def _expand_images(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
            if not found:
                raise DeskvisionError(f"{p}: no images in this folder")
            files.extend(found)
        else:
            files.append(p)
    return files


# ----------------------------------------------------------------------------------------- detect
#: `--runtime` of detect, evaluate, bench and serve (see deskvision.inference.onnxrt)
RuntimeOption = Annotated[
    str, typer.Option(help="What runs the convolutions: auto, torch, onnx or int8 (ONNX Runtime, CPU; int8: quantised copies).")
]


@app.command()
def detect(
    images: Annotated[list[Path], typer.Argument(help="Screenshots, or folders of screenshots.")],
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Model file (default: the shipped model).")] = None,
    threshold: Annotated[float, typer.Option("--threshold", "-t", min=0.0, max=1.0, help="Minimum score.")] = 0.5,
    classes: Annotated[str | None, typer.Option(help="Only these classes, comma-separated.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for annotated PNGs and detections.json.")] = None,
    json_path: Annotated[
        str | None,
        typer.Option("--json", help="JSON output file, '-' for stdout (default: OUT/detections.json, or stdout without --out)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="JSON layout: deskvision, coco (results) or via.")] = "deskvision",
    gif: Annotated[Path | None, typer.Option(help="Also write an animated GIF of the annotated screenshots.")] = None,
    nms_iou: Annotated[float, typer.Option(help="Same-class overlap (IoU) above which the weaker box is dropped.")] = 0.5,
    duplicate_iou: Annotated[
        float, typer.Option(help="Cross-class duplicate IoU (1 disables): nested elements always survive.")
    ] = 0.85,
    window_edges: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Drop window boxes with fewer edge pixels than this share (0 disables)."),
    ] = 0.002,
    drop_nested: Annotated[
        bool,
        typer.Option("--drop-nested", help="Of two boxes of one class (not windows), one inside the other, keep the better."),
    ] = False,
    one_per_titlebar: Annotated[
        bool,
        typer.Option(
            "--one-per-titlebar/--any-per-titlebar",
            help="Rescore title-bar buttons so that a title bar holds at most one close, minimize and maximize.",
        ),
    ] = ONE_PER_TITLEBAR,
    square_buttons: Annotated[
        bool, typer.Option("--square-buttons", help="Title-bar button boxes as squares on their centres (ANNOTATION.md).")
    ] = False,
    box_vote: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Box voting at the final NMS: IoU at which boxes join a kept one (0 disables)."),
    ] = 0.0,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
    runtime: RuntimeOption = "auto",
    ocr: Annotated[bool, typer.Option("--ocr", help="Read each element's text (labels, captions, titles).")] = False,
    free_text: Annotated[
        bool, typer.Option("--free-text", help="With --ocr, also return the screen's other text lines (slower).")
    ] = False,
    ocr_engine: Annotated[str, typer.Option(help="OCR engine: rapidocr or tesseract.")] = "rapidocr",
    icon_labels: Annotated[
        str,
        typer.Option(
            help="With --ocr, how icon labels decide file or launcher: extension (a label with an extension is a "
            "file), both (also: a file labelled without one is a launcher), off."
        ),
    ] = DEFAULT_ICON_RULE,
) -> None:
    """Detect desktop elements on screenshots; write annotated pictures and JSON."""
    from deskvision.drawing import draw_detections, save_gif
    from deskvision.ocr import create_engine, read_text
    from deskvision.utils.runtime import set_threads

    if fmt not in DETECT_FORMATS:
        raise DeskvisionError(f"--format must be {', '.join(DETECT_FORMATS)}, not {fmt!r}")
    if free_text and not ocr:
        raise DeskvisionError("--free-text needs --ocr")
    if icon_labels not in ICON_RULES:
        raise DeskvisionError(f"--icon-labels must be {', '.join(ICON_RULES)}, not {icon_labels!r}")
    set_threads()
    engine = create_engine(ocr_engine) if ocr else None
    detector = _detector(
        model, device, threshold, nms_iou, duplicate_iou, runtime, window_edges, drop_nested,
        one_per_titlebar=one_per_titlebar, square_buttons=square_buttons, box_vote=box_vote or None,
    )  # fmt: skip
    wanted = list(_classes(classes)) if classes else None
    if wanted:
        unknown = set(wanted) - set(detector.classes)
        if unknown:
            raise DeskvisionError(
                f"--classes: the model has no class {', '.join(sorted(unknown))}; it knows {', '.join(detector.classes)}"
            )
    files = _expand_images(images)
    results, frames, failures = [], [], 0
    from deskvision.data.images import load_image

    taken = {f.resolve() for f in files}  # never overwrite an input screenshot or an earlier output

    for path in files:
        try:
            img = load_image(path)
        except DeskvisionError as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False)
            failures += 1
            continue
        dets = detector(img, classes=wanted)
        lines = None
        if engine is not None:
            screen = read_text(img, dets, engine, free_text=free_text, icon_labels=icon_labels)
            dets, lines = screen.elements, (screen.lines if free_text else None)
        results.append((path, img.size, dets, lines))
        if out is not None or gif is not None:
            pic = draw_detections(img, dets)
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                target_png = out / f"{path.stem}.png"
                k = 1
                while target_png.resolve() in taken:
                    target_png, k = out / f"{path.stem}.detections{'' if k == 1 else k}.png", k + 1
                taken.add(target_png.resolve())
                pic.save(target_png)
            if gif is not None:
                frames.append(pic)
        log.info(f"{path}: {len(dets)} element(s) " + ", ".join(f"{n} {c}" for c, n in Counter(dets.labels).most_common()))
    payload = _format_results(results, fmt)
    text = json.dumps(payload, indent=1)
    target = json_path or (str(out / "detections.json") if out is not None else "-")
    if target == "-":
        sys.stdout.write(text + "\n")
    else:
        from deskvision.data.jsonio import write_atomic

        write_atomic(target, text)
    if gif is not None and frames:
        save_gif(frames, gif)
    if failures:
        raise DeskvisionError(f"{failures} of {len(files)} image(s) could not be read")


DETECT_FORMATS = ("deskvision", "coco", "via")


def _detector(
    model: Path | None,
    device: str,
    threshold: float,
    nms_iou: float,
    duplicate_iou: float,
    runtime: str = "auto",
    window_edges: float = 0.002,
    drop_nested: bool = False,
    **steps,
):
    """A `Detector` with the CLI's post-processing settings (`steps`: its other keyword arguments)."""
    from deskvision.inference import Detector

    return Detector.load(
        model,
        device=device,
        runtime=runtime,
        threshold=threshold,
        nms_iou=nms_iou,
        duplicate_iou=None if duplicate_iou >= 1 else duplicate_iou,
        min_window_edges=window_edges or None,
        drop_nested=drop_nested,
        **steps,
    )


def _format_results(results: list, fmt: str) -> object:
    """The detections in one of `DETECT_FORMATS` (checked by `detect` before any work)."""
    if fmt == "deskvision":
        out = []
        for p, size, d, lines in results:
            item = {"image": str(p), "width": size[0], "height": size[1], "detections": d.to_list()}
            if lines is not None:
                item["text_lines"] = [t.to_dict() for t in lines]
            out.append(item)
        return out
    if fmt == "coco":
        return [r for i, (_, _, d, _) in enumerate(results, start=1) for r in d.to_coco_results(i)]
    meta = {}
    for p, _, d, _ in results:
        size = p.stat().st_size
        meta[f"{p.name}{size}"] = {"filename": str(p), "size": size, "regions": d.to_via_regions(), "file_attributes": {}}
    return meta


# ------------------------------------------------------------------------------------------- find
@app.command()
def find(
    image: Annotated[Path, typer.Argument(help="Screenshot.")],
    text: Annotated[str, typer.Argument(help="The text to look for (a folder name, a button caption, a title).")],
    cls: Annotated[str | None, typer.Option("--class", "-c", help="Only elements of this class.")] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Model file (default: the shipped model).")] = None,
    threshold: Annotated[float, typer.Option("--threshold", "-t", min=0.0, max=1.0, help="Minimum detection score.")] = 0.5,
    min_score: Annotated[float, typer.Option(min=0.0, max=100.0, help="Minimum text similarity (0-100).")] = 70.0,
    all_matches: Annotated[bool, typer.Option("--all", help="Print every match, best first, not only the best.")] = False,
    ocr_engine: Annotated[str, typer.Option(help="OCR engine: rapidocr or tesseract.")] = "rapidocr",
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
) -> None:
    """Find the element that reads TEXT on a screenshot; print it (class, text, score, point to click) as JSON.

    Exit status 1 when nothing on the screen reads like TEXT.
    """
    from deskvision.data.images import load_image
    from deskvision.ocr import create_engine, read_text
    from deskvision.ocr.find import closest
    from deskvision.ocr.find import find as find_text
    from deskvision.utils.runtime import set_threads

    set_threads()
    engine = create_engine(ocr_engine)
    detector = _detector(model, device, threshold, 0.5, 0.85)
    if cls is not None and cls not in detector.classes:
        raise DeskvisionError(f"--class: the model has no class {cls!r}; it knows {', '.join(detector.classes)}")
    img = load_image(image)
    elements = read_text(img, detector(img), engine).elements
    matches = find_text(elements, text, cls, min_score)
    if not matches:
        near = closest(elements, text, cls)
        seen = f"; closest: {near.cls} {near.text!r} ({near.score:.0f})" if near else ""
        what = cls or "element"
        err_console.print(f"[red]no match:[/red] no {what} reads like {text!r}{seen}", highlight=False)
        raise typer.Exit(1)
    payload = [m.to_dict() for m in matches] if all_matches else matches[0].to_dict()
    sys.stdout.write(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------------------------------- live
@app.command()
def live(
    url: Annotated[str, typer.Argument(help="vnc://HOST:PORT (or HOST:DISPLAY, HOST::PORT).")],
    password_file: Annotated[Path | None, typer.Option(help="File whose first line is the VNC password.")] = None,
    open_: Annotated[
        list[str] | None, typer.Option("--open", help="Open the folder/file that reads like this (repeatable).")
    ] = None,
    close: Annotated[bool, typer.Option("--close", help="Then close the frontmost window.")] = False,
    browse: Annotated[int, typer.Option(min=0, help="Then browse like a person for N actions.")] = 0,
    dry_run: Annotated[bool, typer.Option(help="Send nothing: draw the intended actions on the recorded frames.")] = False,
    record: Annotated[Path | None, typer.Option(help="Write the session as an annotated GIF here.")] = None,
    log_path: Annotated[Path | None, typer.Option("--log", help="Write every action as JSON lines here.")] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Model file (default: the shipped model).")] = None,
    threshold: Annotated[float, typer.Option("--threshold", "-t", min=0.0, max=1.0)] = 0.5,
    ocr_engine: Annotated[str, typer.Option(help="OCR engine: rapidocr or tesseract.")] = "rapidocr",
    seed: int = 0,
    timeout: Annotated[float, typer.Option(help="Seconds before a VNC operation counts as failed.")] = 10.0,
) -> None:
    """Drive a desktop over VNC like a person: open folders by name, close windows, browse."""
    from deskvision.live import Agent, Stopped, VncConnection
    from deskvision.live.vnc import read_password
    from deskvision.ocr import create_engine
    from deskvision.utils.runtime import set_threads

    set_threads()
    engine = create_engine(ocr_engine)
    detector = _detector(model, "cpu", threshold, 0.5, 0.85)
    with VncConnection(url, password=read_password(password_file), timeout=timeout) as vnc:
        agent = Agent(vnc, detector, ocr=engine, seed=seed, dry_run=dry_run, record=record is not None)
        agent.stop_on_signals()
        try:
            for name in open_ or []:
                agent.open(name)
                agent.pause()
            if close:
                agent.close_window()
            if browse:
                agent.browse(browse)
            if not (open_ or close or browse):
                found = agent.snapshot()
                log.info(f"{vnc.address}: {len(found)} element(s) on a {vnc.size[0]}x{vnc.size[1]} screen")
        except Stopped:
            log.info("stopped on request")
        finally:
            if record is not None and agent.frames and not dry_run and not agent.stopped:
                try:
                    agent.snapshot()  # the screen as the session leaves it
                except DeskvisionError as exc:
                    log.warning(f"no last frame: {exc}")
            if record is not None and agent.frames:
                agent.save_gif(record)
            if log_path is not None:
                agent.save_log(log_path)
    for action in agent.log:
        sys.stdout.write(json.dumps(action.to_dict()) + "\n")


# ------------------------------------------------------------------------------------------ train
def _open_data(path: Path, images: Path | None, attribute: str | None):
    from deskvision.data import load_annotations

    ann = load_annotations(path, images=images, attribute=attribute)
    ann.validate()
    return ann


@app.command()
def train(
    data: Annotated[list[Path], typer.Argument(help="Training data: VIA or COCO JSON, or YOLO folders (several are merged).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: checkpoints, history, plots, models.")],
    val: Annotated[Path | None, typer.Option(help="Validation data (default: a split of DATA).")] = None,
    val_split: Annotated[float, typer.Option(help="Fraction held out for validation when --val is not given (0: none).")] = 0.1,
    split_by: Annotated[str | None, typer.Option(help="Split by this file attribute (e.g. look) instead of by image.")] = None,
    arch: Annotated[
        str | None,
        typer.Option(help="Architecture (see `deskvision models`; default: the --init model's, else fasterrcnn_tiny_fpn)."),
    ] = None,
    classes: Annotated[
        str | None, typer.Option(help="'canonical' (default), 'auto' (labels found in the data) or a comma list.")
    ] = None,
    drop_unknown: Annotated[bool, typer.Option(help="Drop boxes whose label is not a class instead of failing.")] = False,
    init: Annotated[
        str,
        typer.Option(
            help="none, torchvision (COCO/ImageNet weights, needs internet), default (the shipped model) or a "
            "deskvision model file, whose settings (anchors, inference settings, title-bar sides, label head) "
            "the new model keeps."
        ),
    ] = "none",
    epochs: Annotated[int, typer.Option(min=1)] = 10,
    epoch_size: Annotated[
        int, typer.Option(min=0, help="Images per epoch, drawn anew each epoch (0: the whole training set).")
    ] = 0,
    batch_size: Annotated[int, typer.Option(min=1)] = 2,
    accumulate: Annotated[int, typer.Option(min=1, help="Gradient accumulation: optimizer step every N batches.")] = 1,
    lr: Annotated[float, typer.Option(min=0.0)] = 0.005,
    momentum: float = 0.9,
    weight_decay: float = 0.0005,
    schedule: Annotated[str, typer.Option(help="cosine, step (× --lr-gamma each epoch) or constant.")] = "cosine",
    lr_gamma: float = 0.9,
    warmup: Annotated[int, typer.Option(help="Warm-up optimizer steps.")] = 100,
    trainable_layers: Annotated[
        int, typer.Option(help="Backbone stages to train when starting from torchvision weights (0-5).")
    ] = 3,
    max_size: Annotated[
        int | None,
        typer.Option(
            help="Screens with a longer side are downscaled to it; smaller ones are not resized "
            "(default: the --init model's, else 1920)."
        ),
    ] = None,
    titlebar_sides: Annotated[
        str | None,
        typer.Option(
            help="Comma list of sides (px) that predicted close/minimize/maximize squares snap to, e.g. 16,32 "
            "(ANNOTATION.md's 16 x screen scale; the default model's setting); default: the --init model's, else none."
        ),
    ] = None,
    augment: Annotated[str, typer.Option(help="default, light or none.")] = "default",
    crop: Annotated[
        int, typer.Option(min=0, help="Train on random crops of at most N x N pixels (0: whole screens); cheaper per step.")
    ] = 0,
    min_zoom: Annotated[
        float,
        typer.Option(
            min=0.1,
            max=1.0,
            help="With --crop: zoom out down to this scale so that elements larger than the crop (windows) are seen whole.",
        ),
    ] = 1.0,
    amp: Annotated[bool, typer.Option(help="Mixed precision on CUDA.")] = False,
    device: str = "auto",
    workers: Annotated[int, typer.Option(help="Data-loading worker processes.")] = 0,
    seed: int = 0,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out where it stopped.")] = False,
    checkpoint_minutes: float = 10.0,
    checkpoint_steps: Annotated[int, typer.Option(help="Also checkpoint every N batches (0: off).")] = 0,
    half: Annotated[bool, typer.Option(help="Store the saved models' weights in fp16.")] = False,
    train_only: Annotated[
        str | None,
        typer.Option(
            help="Train only these parameters (comma list of name prefixes, e.g. roi_heads.,rpn.head.; "
            "separable: the model's separable convs); the rest, batch-norm statistics included, stays as it is."
        ),
    ] = None,
    images: Annotated[Path | None, typer.Option(help="Image folder, when not beside the annotation file.")] = None,
    attribute: Annotated[str | None, typer.Option(help="VIA region attribute holding the class (default: detected).")] = None,
) -> None:
    """Train a Faster R-CNN on annotated screenshots (SGD, warm-up, LR decay, gradient accumulation)."""
    from deskvision.data.annotations import merge, split
    from deskvision.data.dataset import ScreenDataset
    from deskvision.data.transforms import train_augmentations
    from deskvision.models.factory import ARCHITECTURES, ModelConfig
    from deskvision.models.io import config_to_continue
    from deskvision.training import TrainConfig
    from deskvision.training import train as run_training
    from deskvision.utils.runtime import keep_freed_memory, set_threads

    set_threads()
    keep_freed_memory(every_block=True)  # a batch frees blocks of 40 MB and more: ~6 % faster (BENCHMARKS.md)
    if arch is not None and arch not in ARCHITECTURES:
        raise DeskvisionError(f"unknown architecture {arch!r}; choose one of: {', '.join(ARCHITECTURES)}")
    if augment not in ("default", "light", "none"):
        raise DeskvisionError("--augment must be default, light or none")
    if schedule not in ("cosine", "step", "constant"):
        raise DeskvisionError("--schedule must be cosine, step or constant")
    sides = _sides(titlebar_sides)  # before any work
    ann = merge([_open_data(p, images, attribute) for p in data])
    class_names = _classes(classes, ann)
    unknown = "drop" if drop_unknown else "error"
    ann.map_labels(class_names, unknown=unknown)
    if val is not None:
        val_ann = _open_data(val, None, attribute)
        val_ann.map_labels(class_names, unknown=unknown)
    elif val_split > 0 and len(ann) > 1:
        ann, val_ann = split(ann, val_split, split_by, seed)
    else:
        val_ann = None
    log.info(
        f"training on {len(ann)} image(s), validating on {len(val_ann) if val_ann else 0}; classes: {', '.join(class_names)}"
    )
    train_set = ScreenDataset(ann, class_names, train_augmentations(augment, crop, min_zoom))
    val_set = ScreenDataset(val_ann, class_names, uint8=True) if val_ann is not None and len(val_ann) else None
    if init == "default":
        from deskvision.inference.detector import DEFAULT_MODEL

        init = str(DEFAULT_MODEL)
    if init not in ("none", "torchvision") and not resume:
        # fine-tuning a model file: the new model is that model, settings and label head included
        changes = {"max_size": max_size} if max_size is not None else {}
        if titlebar_sides is not None:
            changes["titlebar_sides"] = sides
        model_config = config_to_continue(init, class_names, arch, **changes)
    else:
        model_config = ModelConfig(
            arch=arch or "fasterrcnn_tiny_fpn",
            classes=class_names,
            max_size=max_size or 1920,
            trainable_backbone_layers=trainable_layers,
            titlebar_sides=sides,
        )
    cfg = TrainConfig(
        epochs=epochs,
        epoch_size=epoch_size,
        batch_size=batch_size,
        accumulate=accumulate,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        schedule=schedule,
        lr_gamma=lr_gamma,
        warmup_steps=warmup,
        amp=amp,
        device=device,
        seed=seed,
        workers=workers,
        checkpoint_minutes=checkpoint_minutes,
        checkpoint_steps=checkpoint_steps,
        init=init,
        half=half,
        train_only=() if resume else _train_only_prefixes(train_only, model_config),  # resumed: the run's own
    )
    last = run_training(train_set, val_set, model_config, out, cfg, resume=resume, progress=sys.stderr.isatty())
    summary = ", ".join(f"{k}={v:.4f}" for k, v in last.items() if isinstance(v, float) and k != "seconds")
    out_console.print(f"done: {out / 'best.safetensors'} ({summary})", highlight=False)


# --------------------------------------------------------------------------------------- evaluate
@app.command()
def evaluate(
    model: Annotated[Path, typer.Argument(help="Model file.")],
    data: Annotated[Path, typer.Argument(help="Annotated screenshots (VIA, COCO or YOLO).")],
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the metrics as JSON here.")] = None,
    drop_unknown: Annotated[bool, typer.Option(help="Ignore boxes whose label the model does not know.")] = False,
    device: str = "cpu",
    images: Annotated[Path | None, typer.Option(help="Image folder, when not beside the annotation file.")] = None,
    attribute: Annotated[str | None, typer.Option(help="VIA region attribute holding the class.")] = None,
    runtime: RuntimeOption = "auto",
) -> None:
    """COCO mAP@[.5:.95], mAP@.5, per-class AP and recall of a model on annotated screenshots."""
    from deskvision.data.dataset import ScreenDataset
    from deskvision.data.jsonio import write_json
    from deskvision.evaluation import evaluate as run_eval
    from deskvision.inference.onnxrt import apply_runtime
    from deskvision.models.io import load_model
    from deskvision.utils.runtime import pick_device, set_threads

    set_threads()
    dev = pick_device(device)
    net, config, _ = load_model(model, dev)
    used = apply_runtime(net, model, runtime, dev)
    ann = _open_data(data, images, attribute)
    ann.map_labels(config.classes, unknown="drop" if drop_unknown else "error")
    metrics = run_eval(net, ScreenDataset(ann, config.classes, uint8=True), dev, progress=sys.stderr.isatty())
    table = Table(title=f"{model.name} on {data} ({metrics.images} images)")
    for col in ("class", "instances", "AP@[.5:.95]", "AP@.5", "recall@.5"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, n, ap, ap50, rec in metrics.table():
        table.add_row(name, str(n), f"{ap:.3f}", f"{ap50:.3f}", f"{rec:.3f}")
    out_console.print(table)
    out_console.print(
        f"mAP@[.5:.95] {metrics.map:.4f}   mAP@.5 {metrics.map50:.4f}   recall {metrics.recall:.4f}   runtime {used}",
        highlight=False,
    )
    if json_path is not None:
        write_json(json_path, metrics.to_dict())


@app.command("train-label-head")
def train_label_head_cmd(
    model: Annotated[Path, typer.Argument(help="Model file with the classes file and launcher.")],
    data: Annotated[list[Path], typer.Argument(help="Annotated screenshots to learn from (VIA, COCO or YOLO).")],
    out: Annotated[Path, typer.Option(help="Model file to write: the same detector with its label head.")],
    val: Annotated[list[Path] | None, typer.Option(help="Annotated screenshots to report the head's accuracy on.")] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 6,
    copies: Annotated[int, typer.Option(min=1, help="Crops per label: as annotated, then shifted and scaled.")] = 3,
    seed: int = 0,
    size: Annotated[str, typer.Option(help="The head's size: base (48×120 crops) or small (32×80, faster).")] = "base",
    half: Annotated[bool | None, typer.Option("--half/--no-half", help=_HALF_AS_SOURCE)] = None,
) -> None:
    """Teach a model to tell files from launchers by the label under each icon (no OCR needed)."""
    from deskvision.training.label_head import train_label_head
    from deskvision.utils.runtime import set_threads

    set_threads()
    report = train_label_head(model, data, out, val=val or (), epochs=epochs, copies=copies, seed=seed, size=size, half=half)
    out_console.print(
        f"wrote {out}: label head trained on {report.examples} labels "
        f"({report.launchers} of launchers), loss {report.final_loss}",
        highlight=False,
    )
    if report.validation:
        out_console.print(f"validation: {json.dumps(report.validation)}", highlight=False)


@app.command("distill-separable")
def distill_separable_cmd(
    model: Annotated[Path, typer.Argument(help="Trained model file (the teacher).")],
    data: Annotated[list[Path], typer.Argument(help="Annotated screenshots to crop from (VIA, COCO or YOLO; boxes unused).")],
    out: Annotated[Path, typer.Option(help="Model file to write: the faster model.")],
    steps: Annotated[int, typer.Option(min=1)] = 4000,
    batch: Annotated[int, typer.Option(min=1, help="Crops per step.")] = 2,
    crop: Annotated[int, typer.Option(min=64, help="Side of the square crops, in pixels.")] = 512,
    seed: int = 0,
    parts: Annotated[
        str, typer.Option(help="Which convs (comma list): fpn, the pyramid's at strides 4 and 8; rpn, the RPN head's.")
    ] = "fpn,rpn",
    half: Annotated[bool | None, typer.Option("--half/--no-half", help=_HALF_AS_SOURCE)] = None,
    resume: Annotated[bool, typer.Option(help="Go on from the run's last checkpoint (OUT.distill.pt).")] = False,
    device: str = "auto",
) -> None:
    """Make a model faster on CPU: its dense 3x3 convs at strides 4 and 8 become depthwise-separable, distilled from it."""
    from deskvision.training.distill import distill_separable
    from deskvision.utils.runtime import set_threads

    set_threads()
    report = distill_separable(
        model, data, out, steps=steps, batch=batch, crop=crop, seed=seed, parts=_comma_list(parts), half=half,
        resume=resume, device=device,
    )  # fmt: skip
    out_console.print(
        f"wrote {out}: {report.steps} steps on crops of {report.screenshots} screenshots in {report.seconds / 60:.1f} min, "
        f"feature loss {report.feature_loss:.4f}, RPN loss {report.rpn_loss:.4f} (squared error / the teacher's variance)",
        highlight=False,
    )


# ----------------------------------------------------------------------------------- evaluate-ocr
@app.command("evaluate-ocr")
def evaluate_ocr_cmd(
    data: Annotated[Path, typer.Argument(help="Screenshots whose elements record their text (harvest, synth).")],
    engine: Annotated[str, typer.Option(help="OCR engine: rapidocr or tesseract.")] = "rapidocr",
    limit: Annotated[int, typer.Option(min=0, help="Use only the first N screenshots (0: all).")] = 0,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON here.")] = None,
    images: Annotated[Path | None, typer.Option(help="Image folder, when not beside the annotation file.")] = None,
) -> None:
    """Character error rate of the text OCR reads from each labelled element, per class and per look."""
    from deskvision.data.jsonio import write_json
    from deskvision.evaluation.ocr_eval import evaluate_ocr
    from deskvision.ocr import create_engine
    from deskvision.utils.runtime import set_threads

    set_threads()
    ocr = create_engine(engine)
    ann = _open_data(data, images, None)
    if limit:
        ann = ann.subset(range(min(limit, len(ann))))
    report = evaluate_ocr(ann, ocr)
    if report.overall.elements == 0:
        raise DeskvisionError(f"{data}: no element records its text (VIA region attribute 'text'); nothing to score")
    table = Table(title=f"{engine}: {report.images} screenshots, {report.seconds_per_image:.2f} s each (median)")
    for col in ("class", "elements", "CER", "exact"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, sc in [*report.per_class.items(), ("all", report.overall)]:
        table.add_row(name, str(sc.elements), f"{sc.cer:.3f}", f"{sc.exact:.3f}")
    out_console.print(table)
    if json_path is not None:
        write_json(json_path, report.to_dict())


# ---------------------------------------------------------------------------------------- convert
@app.command()
def convert(
    src: Annotated[Path, typer.Argument(help="VIA or COCO JSON, or a YOLO folder.")],
    dst: Annotated[Path, typer.Argument(help="Output JSON file (via, coco) or folder (yolo).")],
    to: Annotated[str, typer.Option("--to", help="via, coco or yolo.")],
    from_fmt: Annotated[str | None, typer.Option("--from", help="Input format (default: detected).")] = None,
    images: Annotated[Path | None, typer.Option(help="Image folder, when not beside the annotation file.")] = None,
    attribute: Annotated[str | None, typer.Option(help="VIA region attribute holding the class (input).")] = None,
    out_attribute: Annotated[str, typer.Option(help="VIA region attribute to write the class under.")] = "Icon",
) -> None:
    """Convert annotations between VIA, COCO and YOLO."""
    from deskvision.data import load_annotations, save_annotations

    if to not in ("via", "coco", "yolo"):
        raise DeskvisionError(f"--to must be via, coco or yolo, not {to!r}")
    ann = load_annotations(src, fmt=from_fmt, images=images, attribute=attribute)
    ann.validate()
    save_annotations(ann, dst, to, attribute=out_attribute)
    out_console.print(f"wrote {dst} ({to}): {len(ann)} images, {sum(len(i.labels) for i in ann.images)} boxes", highlight=False)


# ------------------------------------------------------------------------------------------ split
@app.command("split")
def split_data(
    data: Annotated[Path, typer.Argument(help="VIA or COCO JSON, or a YOLO folder.")],
    train_out: Annotated[Path, typer.Option("--train", help="Output VIA file for the training part.")],
    val_out: Annotated[Path, typer.Option("--val", help="Output VIA file for the held-out part.")],
    val_fraction: Annotated[float, typer.Option(help="Fraction of images held out.")] = 0.2,
    by: Annotated[str | None, typer.Option(help="Hold out whole values of this file attribute (e.g. look).")] = None,
    values: Annotated[
        str | None, typer.Option(help="Hold out exactly these values of --by (comma list) instead of a random fraction.")
    ] = None,
    seed: int = 0,
    images: Annotated[Path | None, typer.Option(help="Image folder, when not beside the annotation file.")] = None,
    attribute: Annotated[str | None, typer.Option(help="VIA region attribute holding the class.")] = None,
) -> None:
    """Split a dataset in two VIA files, by image or by a file attribute (held-out looks)."""
    from deskvision.data import save_annotations
    from deskvision.data.annotations import hold_out, split

    if values and not by:
        raise DeskvisionError("--values needs --by (the file attribute they are values of)")
    for target in (train_out, val_out):
        if target.exists():
            raise DeskvisionError(f"{target} exists: remove it or choose another name")
    ann = _open_data(data, images, attribute)
    if values:
        train_ann, val_ann = hold_out(ann, by, _comma_list(values))
    else:
        train_ann, val_ann = split(ann, val_fraction, by, seed)
    for part, target in ((train_ann, train_out), (val_ann, val_out)):
        target.parent.mkdir(parents=True, exist_ok=True)
        save_annotations(part, target, "via")
        groups = f", {len({im.attributes.get(by) for im in part.images})} values of {by}" if by else ""
        out_console.print(f"wrote {target}: {len(part)} images{groups}", highlight=False)


# --------------------------------------------------------------------------------------- validate
@app.command()
def validate(
    data: Annotated[Path, typer.Argument(help="VIA or COCO JSON, or a YOLO folder.")],
    classes: Annotated[
        str | None, typer.Option(help="Check labels against 'canonical' classes or a comma list ('auto': skip).")
    ] = None,
    by: Annotated[str, typer.Option(help="File attribute to count images by.")] = "look",
    images: Annotated[Path | None, typer.Option(help="Image folder, when not beside the annotation file.")] = None,
    attribute: Annotated[str | None, typer.Option(help="VIA region attribute holding the class.")] = None,
) -> None:
    """Check an annotated dataset and print images and boxes per class and per look."""
    ann = _open_data(data, images, attribute)
    if classes != "auto":
        ann.map_labels(_classes(classes))
    table = Table(title=f"{data}: {len(ann)} images")
    table.add_column("class")
    table.add_column("boxes", justify="right")
    table.add_column("images", justify="right")
    per_image = Counter(lab for im in ann.images for lab in set(im.labels))
    for name, n in sorted(ann.label_counts().items(), key=lambda kv: -kv[1]):
        table.add_row(name, str(n), str(per_image[name]))
    out_console.print(table)
    looks = Counter(im.attributes.get(by, "-") for im in ann.images)
    if len(looks) > 1 or "-" not in looks:
        out_console.print(f"{by}: " + ", ".join(f"{k} ({v})" for k, v in looks.most_common()), highlight=False)


# ------------------------------------------------------------------------------------ info/models
@app.command()
def info(model: Annotated[Path | None, typer.Argument(help="Model file (default: the shipped model).")] = None) -> None:
    """Show a model file's architecture, classes, input size and training summary."""
    from deskvision.inference.detector import DEFAULT_MODEL
    from deskvision.models.io import read_metadata

    meta = read_metadata(model or Path(str(DEFAULT_MODEL)))
    out_console.print_json(json.dumps({k: meta[k] for k in ("format", "deskvision_version", "config", "training") if k in meta}))


@app.command()
def serve(
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Model file (default: the shipped model).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    threshold: Annotated[float, typer.Option("--threshold", "-t", min=0.0, max=1.0, help="Default minimum score.")] = 0.5,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
    runtime: RuntimeOption = "auto",
) -> None:
    """Serve the detector over HTTP: POST /detect (a screenshot) → JSON, GET /health, /docs."""
    import socket

    try:
        import uvicorn

        from deskvision.service import create_app
    except ImportError as exc:
        missing = f"the service needs FastAPI and uvicorn ({exc.name} missing)"
        raise DeskvisionError(f"{missing}: pip install 'deskvision[service]'") from None
    from deskvision.utils.runtime import set_threads

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise DeskvisionError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    set_threads()
    app_ = create_app(_detector(model, device, threshold, 0.5, 0.85, runtime))
    log.info(f"deskvision service on http://{host}:{port} (POST /detect, GET /health, docs at /docs)")
    uvicorn.run(app_, host=host, port=port, log_level="warning")


@app.command("export-onnx")
def export_onnx_cmd(
    model: Annotated[Path, typer.Argument(help="Model file to export.")],
    int8: Annotated[
        Path | None,
        typer.Option(help="Also write int8 copies, calibrated on screenshots: a folder of them or an annotations file."),
    ] = None,
    calibration_images: Annotated[int, typer.Option(min=1, help="How many of them calibrate (drawn at random).")] = 32,
    seed: Annotated[int, typer.Option(help="Seed of that draw.")] = 0,
    mixed: Annotated[
        bool,
        typer.Option("--mixed/--all-int8", help="Keep depthwise convs, the stem and resizes in float."),
    ] = False,
) -> None:
    """Export a model's convolutions to ONNX next to it, for the faster CPU runtimes (`--runtime onnx`, `int8`)."""
    from deskvision.inference.onnxrt import export_onnx, quantize_onnx

    if mixed and int8 is None:
        raise DeskvisionError("--mixed applies to the int8 copies: give --int8 SCREENSHOTS too")
    paths = list(export_onnx(model))
    if int8 is not None:
        if int8.is_dir():
            shots = _expand_images([int8])
        else:
            ann = _open_data(int8, None, None)
            shots = [ann.path(im) for im in ann.images]
        paths += quantize_onnx(model, shots, calibration_images, seed, mixed=mixed)
    out_console.print("wrote " + ", ".join(str(p) for p in paths), highlight=False)


@app.command()
def models() -> None:
    """List the architectures `train --arch` accepts."""
    from deskvision.models.factory import ARCHITECTURES, ModelConfig, count_parameters, create_model

    table = Table()
    table.add_column("architecture")
    table.add_column("parameters", justify="right")
    for name in ARCHITECTURES:
        table.add_row(name, f"{count_parameters(create_model(ModelConfig(arch=name))) / 1e6:.1f} M")
    out_console.print(table)


@app.command()
def bench(
    image: Annotated[Path | None, typer.Argument(help="Screenshot to time (default: a generated toy desktop).")] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Model file (default: the shipped model).")] = None,
    width: int = 1920,
    height: int = 1080,
    runs: Annotated[int, typer.Option(min=1)] = 10,
    device: str = "cpu",
    runtime: RuntimeOption = "auto",
) -> None:
    """Median end-to-end latency (decode, inference, filtering) and peak memory."""
    import io
    import resource
    import statistics
    import time

    import torch

    from deskvision.inference import Detector
    from deskvision.synth.toy import toy_screenshot
    from deskvision.utils.runtime import cpu_name, set_threads

    set_threads()
    if image is None:
        buf = io.BytesIO()
        toy_screenshot(12345, (width, height))[0].save(buf, format="PNG")
        data = buf.getvalue()
    else:
        data = image.read_bytes()
    detector = Detector.load(model, device=device, runtime=runtime)
    detector(data)  # warm-up
    times, found = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        found = len(detector(data))
        times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out_console.print(
        f"{detector.config.arch} ({detector.runtime}): median {statistics.median(times) * 1000:.0f} ms "
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}) over {runs} runs, {found} elements, peak RSS {rss:.0f} MiB, "
        f"{torch.get_num_threads()} threads on {cpu_name()}",
        highlight=False,
    )


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (images/, labels/, annotations.json, coco.json).")],
    images: Annotated[int, typer.Option(min=1)] = 100,
    seed: int = 0,
    width: Annotated[int, typer.Option(min=320, max=7680)] = 1920,
    height: Annotated[int, typer.Option(min=240, max=4320)] = 1080,
    themes: Annotated[str | None, typer.Option(help="Only these icon themes (comma list).")] = None,
    exclude_themes: Annotated[str | None, typer.Option(help="Never these icon themes (hold-out).")] = None,
    wm_themes: Annotated[str | None, typer.Option(help="Only these xfwm4 themes.")] = None,
    exclude_wm_themes: Annotated[str | None, typer.Option(help="Never these xfwm4 themes.")] = None,
    button_layouts: Annotated[
        str | None,
        typer.Option(
            help="Title-bar button layouts to draw from (comma list; H minimize, M maximize, C close, "
            'letters before "|" on the left; default: a mix of HMC, MHC, HC, MC, C, C|M, CHM|).'
        ),
    ] = None,
    wallpapers: Annotated[
        str | None, typer.Option(help="Folders of wallpaper pictures (comma list) to use instead of the system's.")
    ] = None,
    picture_share: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of screens with a picture wallpaper.")] = 0.25,
    hidpi: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of looks at HiDPI scale 2.")] = 0.1,
    hidpi_plain_decorations: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of HiDPI looks whose window decorations stay at scale 1.")
    ] = 0.0,
    icon_dirs: Annotated[
        str | None,
        typer.Option(help="Folders of icon themes (comma list) to draw from besides the system's, e.g. unpacked packages."),
    ] = None,
    foreign_launchers: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of launchers showing an application icon of another icon theme (not excluded)."
        ),
    ] = 0.0,
    launcher_icon_dirs: Annotated[
        str | None,
        typer.Option(help="Folders of icon themes (comma list) for those launcher icons only, never a screen's look."),
    ] = None,
    workers: Annotated[int, typer.Option(help="Processes (0: one per core).")] = 0,
    check: Annotated[int, typer.Option(help="Also draw the labels of the first N images into OUT/check/.")] = 0,
) -> None:
    """Synthetic desktops from installed icon themes, window-manager themes, fonts and wallpapers."""
    import time

    from deskvision.data.records import summary
    from deskvision.synth.engine import generate_synth

    def names(v: str | None) -> list[str] | None:
        return _comma_list(v) or None

    t0 = time.monotonic()
    ann = generate_synth(
        out,
        images,
        seed,
        (width, height),
        names(themes),
        names(exclude_themes),
        names(wm_themes),
        names(exclude_wm_themes),
        button_layouts=names(button_layouts),
        wallpapers=names(wallpapers) or (),
        picture_share=picture_share,
        hidpi=hidpi,
        plain_decorations=hidpi_plain_decorations,
        icon_dirs=names(icon_dirs) or (),
        foreign_launchers=foreign_launchers,
        launcher_icon_dirs=names(launcher_icon_dirs) or (),
        workers=workers,
        progress=sys.stderr.isatty(),
    )
    elapsed = time.monotonic() - t0
    boxes, looks = summary(ann)
    table = Table(title=f"{out}: {len(ann)} screenshots, {len(looks)} looks")
    table.add_column("class")
    table.add_column("boxes", justify="right")
    for name, n in boxes.most_common():
        table.add_row(name, str(n))
    out_console.print(table)
    made = len(list((out / "labels").glob("*.json")))
    out_console.print(
        f"throughput: {elapsed:.1f} s in this run, {len(ann) / max(elapsed, 1e-9):.1f} screenshots/s "
        f"({width}x{height}, {workers or 'all'} workers; {made} label files in {out / 'labels'})",
        highlight=False,
    )
    if check:
        _draw_check(ann, out / "check", check)


@app.command()
def harvest(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (images/, labels/, annotations.json, coco.json).")],
    images: Annotated[int, typer.Option(min=1)] = 100,
    seed: int = 0,
    per_look: Annotated[int, typer.Option(min=1, help="Screenshots per look (themes, fonts, wallpaper, size).")] = 10,
    wm: Annotated[str, typer.Option(help="Window managers to use (comma list): xfwm4, openbox.")] = "xfwm4,openbox",
    hidpi: Annotated[bool, typer.Option(help="Also harvest HiDPI looks (GDK_SCALE=2 at 2560x1440).")] = True,
    workers: Annotated[int, typer.Option(help="Desktops harvested at once (0: one per core).")] = 0,
    check: Annotated[int, typer.Option(help="Also draw the labels of N images, across looks, into OUT/check/.")] = 0,
    plain_files: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of the generated files named without an extension (README-like).")
    ] = 0.0,
    themes: Annotated[
        Path | None,
        typer.Option(help="Draw looks from the themes listed in this file (a harvest's themes.json), not from all installed."),
    ] = None,
) -> None:
    """Real desktops (Xvfb, xfwm4/openbox, pcmanfm, GTK dialogs) with exact labels from the
    accessibility tree, the window manager and pixel differences."""
    import time

    from deskvision.data.annotations import AnnotationSet
    from deskvision.data.records import summary
    from deskvision.harvest.engine import harvest as run_harvest
    from deskvision.harvest.engine import read_inventory

    inventory = read_inventory(themes) if themes is not None else None
    written = []
    t0 = time.monotonic()
    ann = run_harvest(
        out,
        images,
        seed,
        per_look,
        _comma_list(wm),
        (1, 1, 1, 1, 2) if hidpi else (1,),
        workers,
        progress=sys.stderr.isatty(),
        on_look=lambda k, n, err: written.append(n),
        plain_files=plain_files,
        themes=inventory,
    )
    elapsed = time.monotonic() - t0
    boxes, looks = summary(ann)
    table = Table(title=f"{out}: {len(ann)} screenshots, {len(looks)} looks")
    table.add_column("class")
    table.add_column("boxes", justify="right")
    table.add_column("images with it", justify="right")
    for name in ann.class_names():
        table.add_row(name, str(boxes[name]), str(sum(name in im.labels for im in ann.images)))
    out_console.print(table)
    per_look_table = Table(title="per look")
    per_look_table.add_column("look (GTK + icons + window manager)")
    per_look_table.add_column("images", justify="right")
    per_look_table.add_column("boxes", justify="right")
    for look, n in sorted(looks.items()):
        per_look_table.add_row(look, str(n), str(sum(len(im.labels) for im in ann.images if im.attributes.get("look") == look)))
    out_console.print(per_look_table)
    out_console.print(
        f"throughput: {sum(written)} screenshots harvested in {elapsed:.0f} s by this run, "
        f"{3600 * sum(written) / max(elapsed, 1e-9):.0f} screenshots/h ({workers or 'one per core'} workers)",
        highlight=False,
    )
    if check:
        spread = sorted({im.attributes.get("look", ""): im for im in ann.images}.values(), key=lambda im: im.filename)
        picked = (spread + [im for im in ann.images if im not in spread])[:check]
        _draw_check(AnnotationSet(picked, ann.root, ann.source), out / "check", check)


def _draw_check(ann, folder: Path, n: int) -> None:
    from deskvision.classes import CLASSES
    from deskvision.data.images import load_image
    from deskvision.detections import Detections
    from deskvision.drawing import draw_detections

    names = ("__background__", *CLASSES)
    folder.mkdir(parents=True, exist_ok=True)
    for im in ann.images[:n]:
        dets = Detections(im.boxes, [names.index(lab) for lab in im.labels], np.ones(len(im.labels)), names)
        draw_detections(load_image(ann.path(im)), dets, show_scores=False).save(folder / im.filename)
    out_console.print(f"check pictures: {folder}", highlight=False)


@app.command()
def toy(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (images/ and annotations.json).")],
    images: Annotated[int, typer.Option(min=1)] = 100,
    seed: int = 0,
    width: Annotated[int, typer.Option(min=200, max=7680)] = 1280,
    height: Annotated[int, typer.Option(min=150, max=4320)] = 720,
    check: Annotated[int, typer.Option(help="Also draw the labels of the first N images into OUT/check/.")] = 0,
) -> None:
    """Generate toy desktop screenshots with exact VIA labels (for trying the pipeline)."""
    from deskvision.synth.toy import generate_toy

    ann = generate_toy(out, images, seed, (width, height), progress=sys.stderr.isatty())
    out_console.print(f"wrote {len(ann)} screenshots and {out / 'annotations.json'}", highlight=False)
    if check:
        _draw_check(ann, out / "check", check)


def main() -> None:
    """Entry point: user errors become one red line and exit status 2."""
    try:
        app()
    except DeskvisionError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
