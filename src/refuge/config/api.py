"""The JSON API under /api/v1/ (Django Ninja). Routers live in each app's api.py."""

from __future__ import annotations

from ninja import NinjaAPI

api = NinjaAPI(
    title="Refuge API",
    version="1",
    urls_namespace="api",
    docs_url=None,
)
