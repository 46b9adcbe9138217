"""Every configuration key with its default; the README table mirrors it.

Each key may be overridden by an ``IMAGESVC_<KEY>`` environment variable and then by
the mapping given to ``create_app``.
"""

import json
import textwrap

from . import errors

# None means "a SQLite file in the Flask instance folder" (resolved in db.init_app).
DATABASE_URL = None
# Flask's own key: larger request bodies are refused with 413 before they are read.
MAX_CONTENT_LENGTH = 1024 * 1024
# Comma-separated browser origins allowed to call the API; empty means no CORS headers.
CORS_ORIGINS = ""
LOG_LEVEL = "INFO"
# Prometheus metrics at /metrics (no token: bind to an internal address); 0 turns them off.
METRICS = True


def is_on(value):
    """A switch given as text (``IMAGESVC_METRICS=off``): 0, false, off, no and empty mean off."""
    return str(value).strip().lower() not in ("0", "false", "off", "no", "")


# Seconds a pooled connection may sit idle before it is replaced; shorter than
# MySQL's wait_timeout so the server never drops one we still hold.
DATABASE_STALE_TIMEOUT = 300
# Megabytes of list and version-list responses each worker keeps for the catalog's current
# generation (imagesvc/responses.py); 0 turns the cache off.
RESPONSE_CACHE_MB = 16
# SQLite busy timeout (seconds): concurrent writers wait this long for the lock.
SQLITE_BUSY_TIMEOUT = 10
# Each token's budget across the whole API, in Flask-Limiter's notation ("50/second;2000/minute"),
# so that one busy caller cannot starve the others; empty: no limit, and no cost on any request.
RATELIMIT_DEFAULT = ""
# Where the limits count: memory:// in each process (N gunicorn workers allow N times the limit);
# redis://host:6379/0 holds one count for every worker and instance.
RATELIMIT_STORAGE_URI = "memory://"
# Prefix of every key in that storage, so that services (or test runs) sharing one Redis never mix counts.
RATELIMIT_KEY_PREFIX = "imagesvc"

# flask-smorest: the OpenAPI document at /api/openapi.json
API_TITLE = "imagesvc"
API_VERSION = "1.0.0"
OPENAPI_VERSION = "3.0.3"
OPENAPI_URL_PREFIX = "/api"
OPENAPI_JSON_PATH = "openapi.json"
# Swagger UI at /api/docs, its files served by imagesvc itself (resources/docs.py): no internet
# needed. The URL is relative to the page, so it holds behind a proxy that adds a path prefix.
OPENAPI_SWAGGER_UI_PATH = "docs"
OPENAPI_SWAGGER_UI_URL = "docs/assets/"
OPENAPI_SWAGGER_UI_CONFIG = {
    "validatorUrl": None,  # never send the document to an online validator
    "persistAuthorization": True,
    "displayRequestDuration": True,
    "docExpansion": "list",
    "defaultModelsExpandDepth": 0,
}
# Every code of the error table (errors.py), wrapped at the width of the description's other
# lines; a no-break space keeps each status on the line of its code.
error_codes = textwrap.fill(
    "Codes: " + ", ".join(f"{status}\N{NO-BREAK SPACE}`{error.code}`" for status, error in errors.BY_STATUS.items())
    + "; each operation lists its own below.", width=105).replace("\N{NO-BREAK SPACE}", " ")
# An error as the envelope answers it, for the description.
error_example = json.dumps({"success": False, "code": errors.BY_STATUS[422].code,
                            "message": errors.BY_STATUS[422].message, "errors": {"name": ["…"]}}, ensure_ascii=False)
# The text atop the docs page (lowercase: not a setting).
api_description = """The catalog of container images of the AI compute platform.

**Authentication.** Every `/api/images…` call needs `Authorization: Bearer <token>` (click
*Authorize*). Roles: `reader` (every GET), `editor` (reader + every write), `admin`. A token whose
role is too low gets 403, not 401. `/healthz`, `/readyz`, `/metrics`, `/api/openapi.json` and
this page need no token.

**Envelope.** Success: `{"success": true, "data": …, "message": "创建镜像成功"}` (`message` on
writes; `data` is `null` after a delete). Every error, whatever raised it:
`""" + error_example + """`,
where `errors` maps each camelCase field to its messages and appears only for field-level problems.
""" + error_codes + """

**Rate limits.** The service may limit how many calls each token makes; a token over its limit gets
429 with `Retry-After`, the seconds to wait before calling again.

**Conventions.** JSON bodies (`application/json`, UTF-8), camelCase names, times in UTC as
`2025-01-15T10:30:00Z`. In a list query an empty value means "not given". A field's default
(in its description) applies on create only: an update changes just the fields it sends. Answers may
gain fields in later releases; clients should ignore fields they do not know.

**Headers.** `X-Request-ID` on every response (the caller's if sane, else a fresh one; it is on
every log line of the request). `ETag` on an image and on the feed: `If-None-Match` gives 304 while
it holds, `If-Match` on a write gives 412 once it is stale.
"""
API_SPEC_OPTIONS = {
    "info": {"description": api_description},
    "components": {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "A token from `imagesvc token create`."},
        },
    },
    "security": [{"bearerAuth": []}],
}
