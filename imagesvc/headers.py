"""Headers for browsers: CORS for the configured origins only, and the security headers.

The console runs on another origin, so ``IMAGESVC_CORS_ORIGINS`` lists the origins (exact,
comma-separated) that may call ``/api`` from a browser; with none, no CORS header is ever sent.
A preflight OPTIONS is answered by Flask before any view runs, so it needs no token.
"""

from flask import request
from flask_cors import CORS

# What the console sends and what it must be able to read.
ALLOW_HEADERS = ["Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-ID"]
EXPOSE_HEADERS = ["ETag", "Location", "Retry-After", "X-Request-ID"]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]
# Seconds a browser may reuse a preflight answer.
PREFLIGHT_MAX_AGE = 600
# Swagger UI's files may be cached (they are revalidated by ETag); every other /api answer is data.
CACHEABLE_ENDPOINTS = frozenset({"docs.asset"})


def cors_origins(value):
    """``IMAGESVC_CORS_ORIGINS`` (a comma-separated string, or a list) as a list of origins."""
    items = value.split(",") if isinstance(value, str) else (value or [])
    return [origin.strip().rstrip("/") for origin in items if origin.strip()]


def init_app(app):
    origins = cors_origins(app.config["CORS_ORIGINS"])
    if origins:
        CORS(app, resources={r"/api/*": {"origins": origins}}, allow_headers=ALLOW_HEADERS,
             expose_headers=EXPOSE_HEADERS, methods=METHODS, max_age=PREFLIGHT_MAX_AGE,
             supports_credentials=False)

    @app.after_request
    def security_headers(response):
        response.headers["X-Content-Type-Options"] = "nosniff"
        if (request.path == "/api" or request.path.startswith("/api/")) and \
                request.endpoint not in CACHEABLE_ENDPOINTS:
            response.headers["Cache-Control"] = "no-store"
        return response
