"""Rate limits (Flask-Limiter): each token gets ``RATELIMIT_DEFAULT`` across the whole API.

Off unless ``RATELIMIT_DEFAULT`` is set; then nothing of this runs on a request at all.

The limit is one budget per token for every /api operation together (a shared limit, scope
``api``), not one per route. Flask-Limiter counts it in a ``before_request`` hook (one storage
operation); a refused request costs one more (its window, for ``Retry-After``: whole seconds until
the token may call again) and no database work, and answers 429 in the error envelope. Windows are
Flask-Limiter's default fixed windows, each starting at a key's first request; its other settings
pass through too (``IMAGESVC_RATELIMIT_STRATEGY=moving-window``, say).

That hook runs before authentication, so a request is known by the token it presents. The key is
the first 16 hex digits of the token's SHA-256 (``tokens.hash_token``, the value the token table
stores), never the token: an operator finds the token's name from a key with
``token_hash LIKE '<digits>%'``. A made-up token is counted under its own key like any other
(telling it from a real one would take the token lookup a second time on every request).

Never limited:
- a request that presents no bearer token (a CORS preflight never does). Its 401 costs no database
  work, so counting it (a storage round trip) would cost more than answering it; and behind a proxy
  every such request has the proxy's address, so one broken script would use up the budget of every
  other caller without a token. Flooding by address is for the proxy, which sees real addresses.
- the probes, /metrics, the OpenAPI document and the docs page with its files (by blueprint);
- routing's own 404 and 405 (they have no endpoint).

Storage (``RATELIMIT_STORAGE_URI``): ``memory://`` counts in each process, so N gunicorn workers
allow N times the limit; ``redis://host:6379/0`` holds one count for every worker and instance. A
storage that fails does not take the service down: Flask-Limiter goes on counting in the memory
of each process (``in_memory_fallback_enabled``) and tries the storage again after 1, 2, 4 … 32
seconds; whatever else goes wrong in the limiter is logged and the request is served
(``swallow_errors``): an outage of Redis makes the limit approximate, never the API unavailable.
Redis calls time out after ``STORAGE_TIMEOUT`` seconds, so a Redis that stops answering stalls a
request for at most that long (options in the URI, ``?socket_timeout=…``, take precedence).
"""

import functools
import logging
import math
import time

from flask import request
from flask_limiter import Limit, Limiter, RateLimitExceeded
from limits import parse_many

from . import tokens
from .api import error_response
from .auth import auth

# The scope of the one limit every /api operation shares.
SCOPE = "api"
# Hex digits of the token's hash in a key: 64 bits, so no two tokens meet by chance.
KEY_DIGITS = 16
# Never limited: /healthz and /readyz, /metrics, /api/openapi.json and /api/docs, Swagger UI's files.
UNLIMITED_BLUEPRINTS = ("ops", "metrics", "api-docs", "docs")
# Seconds a Redis call may take; a healthy Redis answers in well under a millisecond.
STORAGE_TIMEOUT = 0.5


def presented_token():
    """The bearer token of this request, as Flask-HTTPAuth will see it, or None."""
    presented = auth.get_auth()
    return presented.token if presented is not None and presented.token else None


def unlimited():
    """Flask-Limiter request filter: True for a request that is not counted.

    (A filter, rather than ``Limiter.exempt`` on the blueprints: it answers before Flask-Limiter
    resolves the route's limits, which is most of its cost per request.)
    """
    return request.blueprint in UNLIMITED_BLUEPRINTS or presented_token() is None


def token_key():
    """Flask-Limiter key function: the presented token's hash, shortened (never the token)."""
    return "token:" + tokens.hash_token(presented_token())[:KEY_DIGITS]


def storage_options(uri):
    """Options for the storage at ``uri``: timeouts for Redis, so that a silent one cannot hang us."""
    if uri.startswith(("redis", "valkey")):
        return {"socket_connect_timeout": STORAGE_TIMEOUT, "socket_timeout": STORAGE_TIMEOUT}
    return {}


def parse_default(value):
    """``RATELIMIT_DEFAULT`` as a string, empty for none; a value Flask-Limiter could not read
    stops the app at start, rather than leaving it unlimited with an error logged per request.

    :raise ValueError: the value is no rate limit.
    """
    value = str(value or "").strip()
    if value:
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"IMAGESVC_RATELIMIT_DEFAULT={value!r} is not a rate limit "
                             f"(e.g. 50/second;2000/minute): {exc}") from None
    return value


def retry_after(limiter, error):
    """Whole seconds, at least 1, until the breached limit lets this key in again."""
    try:
        wait = limiter.current_limit.window.reset_time - time.time()
    except Exception:  # the storage failed just now: a whole window is a safe answer
        wait = error.limit.limit.get_expiry()
    return max(1, math.ceil(wait))


def too_many_requests(limiter, error):
    return error_response(429, headers={"Retry-After": str(retry_after(limiter, error))})


def init_app(app):
    """Limit each token to ``RATELIMIT_DEFAULT`` across the API, unless that is empty."""
    default = parse_default(app.config["RATELIMIT_DEFAULT"])
    if not default:
        return
    uri = app.config["RATELIMIT_STORAGE_URI"]
    limiter = Limiter(
        token_key,
        default_limits=[Limit(default, shared=True, scope=SCOPE)],
        storage_uri=uri,
        storage_options=storage_options(uri),
        key_prefix=app.config["RATELIMIT_KEY_PREFIX"],
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )
    limiter.request_filter(unlimited)
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, functools.partial(too_many_requests, limiter))
    # Flask-Limiter's own lines (a breach with its key; the storage failing, recovering) in the
    # app's JSON format, with the request id.
    library_log = logging.getLogger("flask-limiter")
    library_log.handlers = list(app.logger.handlers)
    library_log.setLevel(app.logger.level)
    library_log.propagate = False
    app.extensions["imagesvc.rate_limits"] = limiter
