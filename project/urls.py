from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path

from project.observability import health, metrics
from wallets.api.views import fallback as api_fallback

urlpatterns = [
    # Operations (docs/operations.md): no trailing slash, no session needed, no rate limit.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("wallets.api.urls")),
    # /api, /api/v1 and other versions: JSON 404 rather than APPEND_SLASH (which 500s on POST in DEBUG).
    re_path(r"^api(?:/.*)?$", api_fallback),
    path("", include("wallets.urls")),
]

handler500 = "project.errors.server_error"
