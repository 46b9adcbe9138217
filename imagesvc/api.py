"""The HTTP shape of the service: request parsing, the success envelope, the error envelope.

Every response body leaves through here: views return data and flask-smorest dumps it into
``{"success": true, "data": ...}``; every error (validation, auth, routing, domain, database,
a bug) becomes ``{"success": false, "code": ..., "message": ...}``.
"""

import functools
import json
import re
from functools import wraps

import flask_smorest
import marshmallow as ma
from flask import current_app, g
from webargs import core
from webargs.flaskparser import FlaskParser, abort
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import BaseConverter

from .db import UNAVAILABLE_ERRORS, DatabaseBusy
from .errors import BY_STATUS, ServiceError
from .schemas import AnswerSchema, ResponseSchema, error_paths

# Seconds a caller is asked to wait before trying again after a 503.
RETRY_AFTER_UNAVAILABLE = 5


def error_response(status, message=None, errors=None, headers=None):
    """The error envelope as a Flask response tuple."""
    known = BY_STATUS.get(status)
    # A status outside the table (a 408, say) is named after its HTTP phrase.
    code, default_message = (known.code, known.message) if known else (
        HTTP_STATUS_CODES.get(status, "error").upper().replace(" ", "_"), HTTP_STATUS_CODES.get(status))
    body = {"success": False, "code": code, "message": message or default_message}
    if errors:
        body["errors"] = errors
    return body, status, headers or {}


SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _reject_duplicate_keys(pairs):
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key in JSON object")
    return dict(pairs)


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


class RequestParser(FlaskParser):
    """webargs' parser, held to the contract's body and query rules."""

    def load_querystring(self, req, schema):
        # The console sends every filter on every call, empty ones as "": they mean "not given".
        args = MultiDict((key, value) for key, value in req.args.items(multi=True) if value != "")
        return self._makeproxy(args, schema)

    def load_json(self, req, schema):
        if not core.is_json(req.mimetype) or req.mimetype_params.get("charset", "utf-8").lower() not in (
            "utf-8", "utf8"):
            abort(415)
        body = req.get_data(cache=True)
        if req.content_length is None and req.max_content_length is not None and len(body) >= req.max_content_length:
            # A body without Content-Length (chunked) is read as it comes, and werkzeug stops at the
            # limit without a word: one that reaches the limit is taken to go past it.
            abort(413)
        try:
            text = body.decode("utf-8")
            data = json.loads(text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant)
            # JSON may escape a lone UTF-16 surrogate ("\ud800"), which is not Unicode text; only a
            # body that escapes a surrogate at all needs the (whole-body) check.
            if SURROGATE_ESCAPE.search(text):
                json.dumps(data, ensure_ascii=False).encode("utf-8")
        except (ValueError, RecursionError):  # bad JSON or UTF-8, duplicate keys, absurd nesting
            abort(400, message="请求体不是合法的 JSON")
        if not isinstance(data, dict):
            abort(400, message="请求体必须是 JSON 对象")
        return data


def envelope_schema(schema_cls, many=False):
    """The documented success envelope around ``schema_cls`` (one class per schema, so
    apispec names each once)."""
    return _envelope_schema(schema_cls, bool(many))


@functools.cache
def _envelope_schema(schema_cls, many):
    if schema_cls is None:
        name, data = "EmptyEnvelope", ma.fields.Raw(allow_none=True, metadata={"type": "object", "nullable": True})
    else:
        base = schema_cls.__name__.removesuffix("Schema")
        name, data = f"{base}{'List' if many else ''}Envelope", ma.fields.Nested(schema_cls, many=many)
    return type(name, (ResponseSchema,), {
        "OPTIONAL": ("message",),
        "success": ma.fields.Boolean(metadata={"example": True}),
        "message": ma.fields.String(metadata={"description": "Present on writes."}),
        "data": data,
    })


def not_modified():
    """The documented 304: no body, so not through the envelope (a fresh dict: flask-smorest
    consumes it)."""
    return {"description": "Not modified: If-None-Match holds the current ETag.", "content_type": None}


class ImageIdConverter(BaseConverter):
    """An image's ``id`` in a URL (``<image:id>``): any path segment but ``feed``, so that
    /api/images/feed is the feed's path alone, and OPTIONS and 405 there name the feed's methods."""

    regex = r"(?!feed$)[^/]+"


# The path parameter, as every route under /api/images/<image:id> documents it.
IMAGE_ID_PARAMETER = {
    "in": "path", "name": "id", "required": True, "schema": {"type": "string"},
    "description": "The image's `id`, as the server assigned it (not its `imageId`).",
}


# The header of a conditional read (the image, the feed).
IF_NONE_MATCH_PARAMETER = {
    "in": "header", "name": "If-None-Match", "required": False, "schema": {"type": "string"},
    "description": "An ETag the caller holds: the answer is 304, with no body, while it is current.",
}


class Blueprint(flask_smorest.Blueprint):
    """A blueprint whose responses are wrapped in the success envelope."""

    ARGUMENTS_PARSER = RequestParser()

    def arguments(self, schema, *args, **kwargs):
        """flask-smorest's ``arguments``, with one schema instance for every request (webargs
        would build a schema given as a class anew for each one)."""
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)

    def response(self, status_code, schema=None, *, message=None, **kwargs):
        """flask-smorest's ``response``, plus the envelope's ``message`` for this route."""
        decorate = super().response(status_code, schema, **kwargs)

        def decorator(func):
            @wraps(func)
            def view(*args, **view_kwargs):
                g.success_message = message
                return func(*args, **view_kwargs)

            return decorate(view)

        return decorator

    @staticmethod
    def _prepare_response_content(data):
        body = {"success": True, "data": data}
        if g.get("success_message"):
            body["message"] = g.success_message
        return body

    @staticmethod
    def _make_doc_response_schema(schema):
        if schema is None:
            return envelope_schema(None)
        return envelope_schema(type(schema), getattr(schema, "many", False))


class ErrorSchema(AnswerSchema):
    """The error envelope (documentation only; error_response builds it)."""

    OPTIONAL = ("errors",)

    success = ma.fields.Boolean(metadata={"example": False})
    code = ma.fields.String(metadata={"description": "Stable machine-readable code", "example": BY_STATUS[422].code})
    message = ma.fields.String(metadata={"example": BY_STATUS[422].message})
    errors = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Field-level problems, by camelCase field name."},
    )


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def init_app(self, app, *args, **kwargs):
        app.url_map.converters["image"] = ImageIdConverter
        super().init_app(app, *args, **kwargs)
        self.register_converter(ImageIdConverter, lambda converter: {"type": "string"})

    def _register_error_handlers(self):
        super()._register_error_handlers()
        self._app.register_error_handler(ServiceError, self.handle_service_error)
        for error_class in UNAVAILABLE_ERRORS:
            self._app.register_error_handler(error_class, self.handle_database_unavailable)

    def handle_http_exception(self, error):
        data = getattr(error, "data", None) or {}
        headers = dict(data.get("headers") or {})
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers["Allow"] = ", ".join(sorted(error.valid_methods))
        # A schema may name the message its refusal shows the user (the status endpoint does).
        message = data.get("message") or getattr(data.get("schema"), "error_message", None)
        # webargs files errors by location ({"json": {...}}); the client knows only fields. A
        # refusal of the body as a whole (marshmallow's "_schema") is no field: it is the message.
        field_errors = {}
        for location_errors in (data.get("messages") or {}).values():
            if isinstance(location_errors, dict):
                location_errors = dict(location_errors)
                whole = location_errors.pop(ma.exceptions.SCHEMA, None)
                message = message or ("；".join(whole) if whole else None)
                field_errors.update(error_paths(location_errors))
        return error_response(error.code, message, field_errors, headers)

    @staticmethod
    def handle_service_error(error):
        return error_response(error.status, error.message, error.errors)

    @staticmethod
    def handle_database_unavailable(error):
        if not isinstance(error, DatabaseBusy):  # db.retry_when_busy has logged that one
            current_app.logger.error("database unavailable: %s", error, exc_info=error)
        return error_response(503, headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)})
