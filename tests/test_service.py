"""The HTTP service: the same detections as the library, every bad request a 4xx with a reason,
and `deskvision serve` reachable over a real socket."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time

import pytest
from conftest import GLYPH_CLASSES, make_glyph_screens
from PIL import Image

from deskvision.inference import Detector
from deskvision.models import ModelConfig, create_model, save_model

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from deskvision.service import create_app  # noqa: E402


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    cfg = ModelConfig(classes=GLYPH_CLASSES)
    save_model(create_model(cfg), cfg, path)
    return path


@pytest.fixture(scope="module")
def screen(tmp_path_factory) -> bytes:
    root = tmp_path_factory.mktemp("screens")
    make_glyph_screens(root, 1)
    return (root / "images" / "screen_000.png").read_bytes()


@pytest.fixture(scope="module")
def detector(model_file):
    return Detector.load(model_file, threshold=0.0)  # untrained: low scores, but deterministic


@pytest.fixture(scope="module")
def client(detector):
    return TestClient(create_app(detector, max_upload_bytes=200_000))


def test_health_names_the_model(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["classes"] == list(GLYPH_CLASSES)
    assert body["arch"] == "fasterrcnn_tiny_fpn" and body["runtime"] in ("torch", "onnx")


def test_raw_and_multipart_uploads_give_the_library_s_detections(client, detector, screen):
    want = detector(screen).to_list()
    assert want, "the untrained model should still return boxes at threshold 0"
    raw = client.post("/detect", content=screen, headers={"content-type": "image/png"})
    form = client.post("/detect", files={"image": ("shot.png", screen, "image/png")})
    for r in (raw, form):
        assert r.status_code == 200, r.text
        assert r.json() == {"width": 160, "height": 128, "detections": want}


def test_threshold_and_classes_are_applied(client, detector, screen):
    best = max(d["score"] for d in detector(screen).to_list())
    r = client.post("/detect", params={"threshold": best, "classes": "folder,close"}, content=screen)
    assert r.status_code == 200
    assert r.json()["detections"] == detector(screen, threshold=best, classes=["folder", "close"]).to_list()
    assert all(d["class"] in ("folder", "close") and d["score"] >= best for d in r.json()["detections"])


@pytest.mark.parametrize(
    ("kwargs", "status", "reason"),
    [
        ({"content": b""}, 400, "empty body"),
        ({"content": b"\x89PNG\r\n\x1a\nnot really"}, 400, "upload: "),
        ({"content": b"x" * 300_000}, 413, "limit"),
        ({"files": {"picture": ("a.png", b"abc", "image/png")}}, 400, "field named 'image'"),
        ({"params": {"classes": "folder,spaceship"}, "content": b"abc"}, 400, "unknown class(es) spaceship"),
        ({"params": {"threshold": "2"}, "content": b"abc"}, 422, "threshold"),
    ],
)
def test_bad_requests_get_a_reason(client, kwargs, status, reason):
    r = client.post("/detect", **kwargs)
    assert r.status_code == status, r.text
    assert reason in r.text


def test_a_truncated_png_is_a_400_not_a_crash(client, screen):
    r = client.post("/detect", content=screen[: len(screen) // 2])
    assert r.status_code == 400 and "upload" in r.json()["detail"]
    assert client.get("/health").status_code == 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_over_http_and_refuses_a_taken_port(model_file, screen):
    port = _free_port()
    cmd = [sys.executable, "-m", "deskvision.cli.main", "serve", "-m", str(model_file), "--port", str(port), "-t", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "service did not start"
                time.sleep(0.3)
        assert health.json()["classes"] == list(GLYPH_CLASSES)
        r = httpx.post(f"http://127.0.0.1:{port}/detect", files={"image": ("s.png", screen, "image/png")}, timeout=30)
        assert r.status_code == 200 and r.json()["width"] == 160
        Image.open(io.BytesIO(screen))  # the upload was a real PNG
        taken = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert taken.returncode == 2 and "Traceback" not in taken.stderr
        assert f"cannot listen on 127.0.0.1:{port}" in taken.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)
