"""The ASGI application for uvicorn (``uvicorn --factory envlake.access.asgi:create``), configured from the
environment."""

from __future__ import annotations

from fastapi import FastAPI

from envlake.access.api import create_app
from envlake.access.config import build_service


def create() -> FastAPI:
    return create_app(build_service())
