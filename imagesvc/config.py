"""Every configuration key with its default; the README table mirrors it.

Each key may be overridden by an ``IMAGESVC_<KEY>`` environment variable and then by
the mapping given to ``create_app``.
"""

# None means "a SQLite file in the Flask instance folder" (resolved in db.init_app).
DATABASE_URL = None
# Flask's own key: larger request bodies are refused with 413 before they are read.
MAX_CONTENT_LENGTH = 1024 * 1024
# Comma-separated browser origins allowed to call the API; empty means no CORS headers.
CORS_ORIGINS = ""
LOG_LEVEL = "INFO"
# Prometheus metrics at /metrics (no token: bind to an internal address); 0 turns them off.
METRICS = True
# Seconds a pooled connection may sit idle before it is replaced; shorter than
# MySQL's wait_timeout so the server never drops one we still hold.
DATABASE_STALE_TIMEOUT = 300
# SQLite busy timeout (seconds): concurrent writers wait this long for the lock.
SQLITE_BUSY_TIMEOUT = 10

# flask-smorest: the OpenAPI document at /api/openapi.json
API_TITLE = "imagesvc"
API_VERSION = "1.0.0"
OPENAPI_VERSION = "3.0.3"
OPENAPI_URL_PREFIX = "/api"
OPENAPI_JSON_PATH = "openapi.json"
API_SPEC_OPTIONS = {
    "info": {"description": "The catalog of container images of the AI compute platform."},
    "components": {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "A token from `imagesvc token create`."},
        },
    },
    "security": [{"bearerAuth": []}],
}
