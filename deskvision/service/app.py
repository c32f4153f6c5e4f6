"""The HTTP service: one loaded `Detector` behind FastAPI.

    POST /detect   a screenshot (multipart field ``image``, or the raw PNG/JPEG bytes as the
                   body) → {"width", "height", "detections": [...]}; query ``threshold``,
                   ``classes`` (comma list)
    GET  /health   model, classes and runtime

The detector is created once, in `create_app`, and kept on the app (no module-level state);
requests run one at a time, since one inference already uses every core it is given.
"""

from __future__ import annotations

import threading

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.formparsers import MultiPartParser

from deskvision import __version__
from deskvision.data.images import load_image
from deskvision.errors import DeskvisionError
from deskvision.inference.detector import Detector

#: Larger request bodies are refused with 413 before they are read whole.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


async def _read_body(request: Request, limit: int) -> bytes:
    too_large = HTTPException(413, f"request body over the {limit // (1024 * 1024)} MiB limit")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _image_bytes(request: Request, limit: int) -> bytes:
    body = await _read_body(request, limit)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        # parse the bytes already read (and size-checked): the form parser never sees more
        async def stream():
            yield body

        try:
            form = await MultiPartParser(Headers(scope=request.scope), stream()).parse()
        except Exception as exc:  # python-multipart raises several types for broken forms
            raise HTTPException(400, f"malformed multipart body ({exc})") from None
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            raise HTTPException(400, "multipart body needs a file field named 'image'")
        return await upload.read()
    return body


def create_app(detector: Detector | None = None, *, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> FastAPI:
    """A FastAPI app serving `detector` (None: the shipped model)."""
    if detector is None:
        detector = Detector.load()
    app = FastAPI(title="deskvision", version=__version__, summary="Find the elements of a desktop on a screenshot.")
    lock = threading.Lock()

    @app.exception_handler(DeskvisionError)
    async def _user_error(request: Request, exc: DeskvisionError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.get("/health")
    def health() -> dict:
        return {
            "status": "ok",
            "version": __version__,
            "arch": detector.config.arch,
            "classes": list(detector.classes),
            "runtime": detector.runtime,
            "threshold": detector.threshold,
        }

    @app.post("/detect")
    async def detect(
        request: Request,
        threshold: float | None = Query(None, ge=0.0, le=1.0, description="Minimum score (default: the detector's)."),
        classes: str | None = Query(None, description="Only these classes, comma-separated."),
    ) -> dict:
        data = await _image_bytes(request, max_upload_bytes)
        if not data:
            raise HTTPException(400, "empty body: send a PNG or JPEG screenshot")
        wanted = [c.strip() for c in classes.split(",") if c.strip()] if classes else None
        unknown = sorted(set(wanted or ()) - set(detector.classes))
        if unknown:
            raise HTTPException(400, f"unknown class(es) {', '.join(unknown)}; the model knows {', '.join(detector.classes)}")

        def run() -> dict:
            image = load_image(data, "upload")  # DataError (corrupt, truncated, too large) → 400
            with lock:
                found = detector(image, threshold=threshold, classes=wanted)
            return {"width": image.width, "height": image.height, "detections": found.to_list()}

        return await run_in_threadpool(run)

    return app
