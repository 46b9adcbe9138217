"""Request ids in and out, and on every log line of the request; logs go to stderr."""

import logging
import re
import sys
import uuid

from flask import g, has_request_context, request

# A caller's X-Request-ID is kept only if it is sane; anything else is replaced.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def init_app(app):
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    app.logger.handlers = [handler]
    app.logger.setLevel(str(app.config["LOG_LEVEL"]).upper())
    app.logger.propagate = False

    @app.before_request
    def assign_request_id():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

    @app.after_request
    def send_request_id(response):
        response.headers["X-Request-ID"] = g.get("request_id") or uuid.uuid4().hex
        return response
