"""The command line: detection outputs, conversions, evaluation, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch
from conftest import GLYPH_CLASSES, make_glyph_screens, run_cli
from PIL import Image

from deskvision.models import ModelConfig, create_model, load_model, save_model


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    cfg = ModelConfig(classes=GLYPH_CLASSES)
    save_model(create_model(cfg), cfg, path)
    return path


def _assert_one_line_error(proc: subprocess.CompletedProcess, message: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert message in proc.stderr, proc.stderr


def test_detect_writes_pictures_json_and_gif(tmp_path, model_file):
    make_glyph_screens(tmp_path / "d", 3)
    proc = run_cli(
        "detect",
        str(tmp_path / "d" / "images"),
        "-m",
        str(model_file),
        "-t",
        "0",
        "-o",
        str(tmp_path / "out"),
        "--gif",
        str(tmp_path / "out" / "all.gif"),
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "out" / "detections.json").read_text())
    assert [Path(r["image"]).name for r in results] == ["screen_000.png", "screen_001.png", "screen_002.png"]
    assert all({"class", "score", "box", "center"} <= set(d) for r in results for d in r["detections"])
    assert Image.open(tmp_path / "out" / "screen_000.png").size == (160, 128)
    gif = Image.open(tmp_path / "out" / "all.gif")
    assert gif.n_frames == 3


def test_detect_json_to_stdout_and_class_filter(tmp_path, model_file):
    make_glyph_screens(tmp_path / "d", 1)
    proc = run_cli(
        "detect", str(tmp_path / "d" / "images" / "screen_000.png"), "-m", str(model_file), "-t", "0", "--classes", "close"
    )
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)
    assert {d["class"] for d in result["detections"]} <= {"close"}
    _assert_one_line_error(
        run_cli("detect", str(tmp_path / "d" / "images"), "-m", str(model_file), "--classes", "cat"), "no class cat"
    )


def test_bad_inputs_give_one_clear_line(tmp_path, model_file):
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    _assert_one_line_error(run_cli("detect", str(tmp_path / "corrupt.png"), "-m", str(model_file)), "not a readable image")
    _assert_one_line_error(
        run_cli("detect", str(tmp_path / "corrupt.png"), "-m", str(tmp_path / "none.safetensors")), "model file not found"
    )
    (tmp_path / "bad.json").write_text("{oops")
    _assert_one_line_error(run_cli("train", str(tmp_path / "bad.json"), "--out", str(tmp_path / "r")), "not valid JSON")
    _assert_one_line_error(run_cli("validate", str(tmp_path / "nothing.json")), "not found")
    make_glyph_screens(tmp_path / "g", 2)
    proc = run_cli("validate", str(tmp_path / "g" / "annotations.json"), "--classes", "folder,file")
    _assert_one_line_error(proc, "unknown label(s) 'close'")
    _assert_one_line_error(
        run_cli("train", str(tmp_path / "g" / "annotations.json"), "--out", str(tmp_path / "r"), "--arch", "yolo"),
        "unknown architecture",
    )
    _assert_one_line_error(
        run_cli("convert", str(tmp_path / "g" / "annotations.json"), str(tmp_path / "x"), "--to", "xml"), "--to must be"
    )
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    live = ("live", f"vnc://127.0.0.1:{port}", "-m", str(model_file), "--ocr-engine", "tesseract")
    _assert_one_line_error(run_cli(*live), f"cannot reach the VNC server at 127.0.0.1:{port}")
    _assert_one_line_error(run_cli(*live, "--password-file", str(tmp_path / "no_pw.txt")), "cannot read the password file")


def test_validate_convert_evaluate(tmp_path, model_file):
    make_glyph_screens(tmp_path / "g", 4)
    proc = run_cli("validate", str(tmp_path / "g" / "annotations.json"), "--classes", "auto")
    assert proc.returncode == 0 and "look: " in proc.stdout
    proc = run_cli("convert", str(tmp_path / "g" / "annotations.json"), str(tmp_path / "g" / "coco.json"), "--to", "coco")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("evaluate", str(model_file), str(tmp_path / "g" / "coco.json"), "--json", str(tmp_path / "m.json"))
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert {"map", "map50", "per_class", "recall"} <= set(metrics) and metrics["images"] == 4
    assert "AP@.5" in proc.stdout
    info = run_cli("info", str(model_file))
    assert json.loads(info.stdout)["config"]["classes"] == list(GLYPH_CLASSES)


def test_detect_formats_and_python_api(tmp_path, model_file):
    make_glyph_screens(tmp_path / "d", 1)
    image = tmp_path / "d" / "images" / "screen_000.png"
    coco = run_cli("detect", str(image), "-m", str(model_file), "-t", "0", "--format", "coco")
    assert coco.returncode == 0, coco.stderr
    assert all({"image_id", "category_id", "bbox", "score"} <= set(r) for r in json.loads(coco.stdout))
    via = run_cli("detect", str(image), "-m", str(model_file), "-t", "0", "--format", "via")
    (entry,) = json.loads(via.stdout).values()
    assert entry["filename"].endswith("screen_000.png")
    assert all(r["shape_attributes"]["name"] == "rect" and "Icon" in r["region_attributes"] for r in entry["regions"])

    from deskvision import Detector

    detector = Detector.load(model_file, threshold=0.0)
    found = detector(Image.open(image))
    assert detector.classes == GLYPH_CLASSES and set(found.labels) <= set(GLYPH_CLASSES)
    assert len(detector(image.read_bytes(), threshold=1.01)) == 0


def test_train_with_init_from_a_model_with_other_classes(tmp_path, model_file):
    make_glyph_screens(tmp_path / "g", 3)
    proc = run_cli(
        "train",
        str(tmp_path / "g" / "annotations.json"),
        "--out",
        str(tmp_path / "r"),
        "--classes",
        "folder,file",
        "--drop-unknown",
        "--init",
        str(model_file),
        "--epochs",
        "1",
        "--val-split",
        "0",
        "--device",
        "cpu",
        "--titlebar-sides",
        "16, 32",
    )
    assert proc.returncode == 0, proc.stderr
    info = json.loads(run_cli("info", str(tmp_path / "r" / "best.safetensors")).stdout)
    assert info["config"]["classes"] == ["folder", "file"] and info["training"]["config"]["init"] == str(model_file)
    assert info["config"]["titlebar_sides"] == [16.0, 32.0]
    for bad in ("16,big", "-16"):
        proc = run_cli("train", str(tmp_path / "g" / "annotations.json"), "--out", str(tmp_path / "r2"), "--titlebar-sides", bad)
        _assert_one_line_error(proc, "--titlebar-sides must")
        assert not (tmp_path / "r2").exists()


def test_fine_tuning_a_model_file_keeps_its_settings_and_label_head(tmp_path):
    make_glyph_screens(tmp_path / "g", 3)
    data = str(tmp_path / "g" / "annotations.json")
    classes = ("folder", "file", "launcher", "close")
    cfg = ModelConfig(
        classes=classes, max_size=1600, titlebar_sides=(16.0, 32.0), label_head=True, label_head_size="small",
        rpn_pre_nms_top_n_test=500, rpn_post_nms_top_n_test=1000,
    )  # fmt: skip
    model = create_model(cfg)
    for w in model.label_head.parameters():
        torch.nn.init.normal_(w)  # weights no new head starts with
    base = tmp_path / "base.safetensors"
    save_model(model, cfg, base)
    common = ("--epochs", "1", "--val-split", "0", "--device", "cpu", "--init", str(base))

    proc = run_cli("train", data, "--out", str(tmp_path / "same"), "--classes", ",".join(classes), *common)
    assert proc.returncode == 0, proc.stderr
    tuned, tuned_cfg, _ = load_model(tmp_path / "same" / "last.safetensors")
    assert tuned_cfg == cfg  # every setting of the model it started from
    head = {k: v for k, v in tuned.state_dict().items() if k.startswith("label_head.")}
    assert head and all(torch.equal(v, model.state_dict()[k]) for k, v in head.items())  # the head as trained
    assert not torch.equal(tuned.roi_heads.box_predictor.cls_score.weight, model.roi_heads.box_predictor.cls_score.weight)

    # an architecture that extends it, and settings given on the command line
    wider = ("--arch", "fasterrcnn_tiny_context_fpn", "--max-size", "1280", "--titlebar-sides", "20")
    proc = run_cli("train", data, "--out", str(tmp_path / "wider"), "--classes", ",".join(classes), *wider, *common)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(run_cli("info", str(tmp_path / "wider" / "last.safetensors")).stdout)["config"]
    assert (info["arch"], info["max_size"], info["titlebar_sides"], info["label_head"]) == (
        "fasterrcnn_tiny_context_fpn", 1280, [20.0], True,
    )  # fmt: skip
    # classes without launcher: no label head, said so
    proc = run_cli("train", data, "--out", str(tmp_path / "few"), "--classes", "folder,file,close", *common)
    assert proc.returncode == 0 and "label head is left out" in proc.stderr, proc.stderr
    assert json.loads(run_cli("info", str(tmp_path / "few" / "last.safetensors")).stdout)["config"]["label_head"] is False
    # an architecture it cannot start
    proc = run_cli("train", data, "--out", str(tmp_path / "bad"), "--arch", "fasterrcnn_mobilenet_v3_large_fpn", *common)
    _assert_one_line_error(proc, "cannot initialise a fasterrcnn_mobilenet_v3_large_fpn")


def test_fine_tuning_the_shipped_model_with_init_default(tmp_path):
    from deskvision.inference.detector import DEFAULT_MODEL

    make_glyph_screens(tmp_path / "g", 2)
    out = tmp_path / "mine"
    args = ("--out", str(out), "--init", "default", "--epochs", "1", "--val-split", "0", "--device", "cpu")
    proc = run_cli("train", str(tmp_path / "g" / "annotations.json"), *args)
    assert proc.returncode == 0, proc.stderr
    shipped = load_model(Path(str(DEFAULT_MODEL)))[1]
    assert load_model(out / "last.safetensors")[1] == shipped  # label head, title-bar sides, 1600 px...


def test_detect_never_overwrites_its_inputs(tmp_path, model_file):
    make_glyph_screens(tmp_path / "d", 2)
    folder = tmp_path / "d" / "images"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    proc = run_cli("detect", str(folder), "-m", str(model_file), "-o", str(folder))
    assert proc.returncode == 0, proc.stderr
    assert all((folder / name).read_bytes() == data for name, data in before.items())
    assert (folder / "screen_000.detections.png").is_file()
    bad = run_cli("detect", str(folder), "-m", str(model_file), "--format", "xml")
    assert bad.returncode == 2 and "--format must be" in bad.stderr


def test_split_holds_out_whole_looks_and_files_still_open(tmp_path):
    make_glyph_screens(tmp_path / "d", 6)
    src = tmp_path / "d" / "annotations.json"
    train, held = tmp_path / "splits" / "train.json", tmp_path / "splits" / "held.json"
    proc = run_cli("split", str(src), "--train", str(train), "--val", str(held), "--by", "look", "--values", "dark")
    assert proc.returncode == 0, proc.stderr
    from deskvision.data import load_annotations

    t, h = load_annotations(train), load_annotations(held)
    assert {im.attributes["look"] for im in t.images} == {"light"} and {im.attributes["look"] for im in h.images} == {"dark"}
    assert len(t) == len(h) == 3
    assert all(t.path(im).exists() for im in t.images)  # image paths rebased on the new folder
    _assert_one_line_error(run_cli("split", str(src), "--train", str(train), "--val", str(held)), "exists")
    other = tmp_path / "o"
    proc = run_cli(
        "split", str(src), "--train", str(other / "a.json"), "--val", str(other / "b.json"), "--by", "look", "--values", "sepia"
    )
    _assert_one_line_error(proc, "no image has look = sepia")
    proc = run_cli(
        "split",
        str(src),
        "--train",
        str(other / "a.json"),
        "--val",
        str(other / "b.json"),
        "--val-fraction",
        "0.5",
        "--by",
        "look",
    )
    assert proc.returncode == 0, proc.stderr
    assert len(load_annotations(other / "a.json")) == 3


def test_detector_drops_featureless_window_boxes_unless_told_not_to(tmp_path):
    import torch

    from deskvision import Detector
    from deskvision.classes import CLASSES

    path = tmp_path / "canonical.safetensors"
    cfg = ModelConfig(classes=CLASSES)
    save_model(create_model(cfg), cfg, path)
    wall = Image.new("RGB", (640, 360), (58, 110, 165))
    output = {  # what the model might say: a window over the bare wallpaper, and a folder on it
        "boxes": torch.tensor([[10.0, 10.0, 600.0, 340.0], [20.0, 20.0, 68.0, 68.0]]),
        "labels": torch.tensor([CLASSES.index("window") + 1, CLASSES.index("folder") + 1]),
        "scores": torch.tensor([0.9, 0.8]),
    }
    assert Detector.load(path)._postprocess(output, wall, None, None).labels == ["folder"]
    assert Detector.load(path, min_window_edges=None)._postprocess(output, wall, None, None).labels == ["window", "folder"]
    proc = run_cli("detect", str(tmp_path / "x.png"), "-m", str(path), "--window-edges", "2")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and "window-edges" in proc.stderr
