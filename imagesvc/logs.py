"""Logs: one JSON object per line on stderr, request ids in and out, one access line per request.

Every line has ``time``, ``level``, ``logger``, ``pid`` and ``message``; a line written while a
request is served adds ``request_id``, ``method``, ``path`` (the URL rule, never the raw path, so
no ids or query strings end up in logs), ``remote_addr`` and ``token_name`` (the name of the
caller's token, never the token). The access line (logger ``imagesvc.access``) adds ``status`` and
``duration_ms``; an unexpected error's line adds ``stack_trace``. gunicorn.conf.py gives
gunicorn's own lines the same formatter.

The request's clock starts here too, and ``request_seconds`` reads it for the access line and the
metrics alike.
"""

import datetime
import logging
import re
import secrets
import sys
import time

from flask import g, has_request_context, request
from pythonjsonlogger.orjson import OrjsonFormatter

# A caller's X-Request-ID is kept only if it is sane; anything else is replaced.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

access_log = logging.getLogger("imagesvc.access")


class JsonLogFormatter(OrjsonFormatter):
    """A log record as one line of JSON (encoded by orjson, as the answers are): UTC time in ISO
    8601, Chinese kept readable."""

    def __init__(self):
        super().__init__(
            "{asctime}{levelname}{name}{process}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "process": "pid",
                           "exc_info": "stack_trace"},
        )

    def formatTime(self, record, datefmt=None):
        moment = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RequestContextFilter(logging.Filter):
    """Adds the current request's id, method, URL rule and token name to every line it logs."""

    def filter(self, record):
        if has_request_context():
            # Each use of a context proxy looks the request up again: once is enough.
            current, request_globals = request._get_current_object(), g._get_current_object()
            record.request_id = request_globals.get("request_id")
            record.method = current.method
            record.path = current.url_rule.rule if current.url_rule else None
            record.remote_addr = current.remote_addr
            record.token_name = request_globals.get("token_name")
        return True


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (as logging's last-resort handler does),
    so a test capturing stderr sees the lines of an app built before it started capturing."""

    def __init__(self, level=logging.NOTSET):
        logging.Handler.__init__(self, level)

    @property
    def stream(self):
        return sys.stderr


def make_handler():
    handler = StderrHandler()
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonLogFormatter())
    return handler


def request_seconds(request_globals):
    """How long the current request has taken (``request_globals`` is its ``g``), reckoned once,
    when first asked: the metrics and the access line report the same figure."""
    seconds = request_globals.get("request_seconds")
    if seconds is None:
        seconds = request_globals.request_seconds = time.perf_counter() - request_globals.request_started
    return seconds


def write_access_line(method, rule, status, duration_ms):
    """The access line of one request. Its record is made and handled here, not by
    ``access_log.info``, which would first look up the calling frame's file and line: no line
    shows them, and this runs on every request."""
    if access_log.isEnabledFor(logging.INFO):
        access_log.handle(access_log.makeRecord(
            access_log.name, logging.INFO, "(unknown file)", 0, "%s %s %s", (method, rule, status), None,
            extra={"status": status, "duration_ms": duration_ms}))


def init_app(app):
    app.logger.handlers = [make_handler()]
    app.logger.setLevel(str(app.config["LOG_LEVEL"]).upper())
    app.logger.propagate = False

    # Registered first, so it runs first: the clock takes in every other hook.
    @app.before_request
    def start_request():
        g.request_started = time.perf_counter()
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if SANE_REQUEST_ID.fullmatch(given) else secrets.token_hex(16)

    # Registered first, so it runs last of the after_request functions: it sees the final status.
    @app.after_request
    def send_request_id(response):
        current, request_globals = request._get_current_object(), g._get_current_object()
        response.headers["X-Request-ID"] = request_globals.get("request_id") or secrets.token_hex(16)
        duration_ms = round(request_seconds(request_globals) * 1000, 2)
        rule = current.url_rule.rule if current.url_rule else "-"
        write_access_line(current.method, rule, response.status_code, duration_ms)
        return response
