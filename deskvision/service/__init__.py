"""The HTTP service (FastAPI): `create_app(detector)`; `deskvision serve` runs it with uvicorn."""

from deskvision.service.app import create_app

__all__ = ["create_app"]
