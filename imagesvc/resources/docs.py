"""The API docs page at /api/docs, and the OpenAPI document's shape for generated clients.

flask-smorest renders the page (``OPENAPI_SWAGGER_UI_PATH``); its scripts and styles come from the
``flask-swagger-ui`` package, which ships Swagger UI's release files, and are served here under
/api/docs/assets/, so the page works on a network with no internet.

The document is read by code generators (TypeScript types for the console, Python clients for
tooling), so ``init_api`` makes it say exactly what the service does: each enumeration is one named
schema, a default is prose (a generator would send it on a partial update), and a query parameter
may be empty. ``ErrorResponses`` adds the error responses the contract gives each operation.
"""

import json
import os

import flask_swagger_ui
from apispec import BasePlugin
from flask import Blueprint, send_from_directory

from ..api import RETRY_AFTER_UNAVAILABLE
from ..errors import BY_STATUS
from ..schemas import ENUMS, AnswerSchema, Enum, QuerySchema

# Swagger UI's dist folder as the package ships it (swagger-ui-bundle.js, swagger-ui.css, ...).
ASSETS = os.path.join(os.path.dirname(flask_swagger_ui.__file__), "dist")

blp = Blueprint("docs", __name__, url_prefix="/api/docs/assets")


@blp.route("/<path:filename>")
def asset(filename):
    """One of Swagger UI's files (revalidated by ETag on each load, so an upgrade shows at once)."""
    return send_from_directory(ASSETS, filename)


# Headers of error responses, besides X-Request-ID.
ERROR_HEADERS = {
    429: {"Retry-After": {"description": "Seconds to wait before the token's limit lets it call again.",
                          "schema": {"type": "integer", "minimum": 1}}},
    503: {"Retry-After": {"description": f"Seconds to wait before trying again ({RETRY_AFTER_UNAVAILABLE}).",
                          "schema": {"type": "integer"}}},
}
EMPTY_VALUE = {"type": "string", "enum": [""], "description": 'An empty query value: "not given".'}


def init_api(api):
    """Named enumerations, defaults in prose and empty query values, in ``api``'s document."""
    for name, values in ENUMS.items():
        api.spec.components.schema(name, {"type": "string", "enum": list(values)})
    api.spec.components.schema("EmptyValue", EMPTY_VALUE)
    converter = api.ma_plugin.converter
    converter.add_attribute_function(default_in_prose)
    converter.add_attribute_function(enum_reference)
    converter.add_parameter_attribute_function(empty_means_not_given)


def _reference(name):
    return {"$ref": f"#/components/schemas/{name}"}


def enum_reference(converter, field, ret, **kwargs):
    """An ``Enum`` field refers to its named schema; as a query parameter it may also be empty.

    (apispec attribute functions build ``ret`` in place: the inline type and values go.)
    """
    if not isinstance(field, Enum):
        return {}
    ret.pop("type", None)
    ret.pop("enum", None)
    if isinstance(field.parent, QuerySchema):
        return {"anyOf": [_reference(field.enum_name), _reference("EmptyValue")]}
    # Keywords beside a bare $ref are ignored in OpenAPI 3.0: with any, the reference goes in allOf.
    return {"allOf": [_reference(field.enum_name)]} if ret else _reference(field.enum_name)


def default_in_prose(converter, field, ret, **kwargs):
    """A default is said in the description, never as ``default``: generated clients send a
    declared default with every request, and an update that sent ``chipType: GPU`` for a field the
    caller never touched would change it. Answers and partial updates apply no default at all."""
    if "default" not in ret:
        return {}
    default = ret.pop("default")
    if isinstance(field.parent, AnswerSchema) or getattr(field.parent, "partial", False) is True:
        return {}
    said = f"Default: {json.dumps(default, ensure_ascii=False)}."
    return {"description": f"{ret['description']} {said}" if ret.get("description") else said}


def empty_means_not_given(converter, field, ret, **kwargs):
    return {"allowEmptyValue": True} if ret["in"] == "query" else {}


def documented_error(status):
    """The documented error envelope of ``status``, with its code and default message."""
    code, message, when = BY_STATUS[status]
    return {
        "description": f"`{code}`: {when}.",
        "content": {"application/json": {
            "schema": "Error",
            "example": {"success": False, "code": code, "message": message},
        }},
        **({"headers": dict(ERROR_HEADERS[status])} if status in ERROR_HEADERS else {}),
    }


def error_statuses(path, method, operation):
    """The error statuses the contract gives ``method`` on ``path``."""
    if not path.startswith("/api/"):
        return [503] if path == "/readyz" else []
    statuses = [401, 403, 429, 500, 503]  # every /api operation needs a token, so may meet its limit
    if "{id}" in path or path == "/api/images/feed":
        statuses.append(404)
    if "requestBody" in operation:
        statuses += [400, 413, 415, 422]
        if method in ("post", "put") and not path.endswith("/status"):
            statuses.append(409)
    if any(isinstance(p, dict) and p.get("name") == "If-Match" for p in operation.get("parameters", ())):
        statuses.append(412)
    return sorted(statuses)


class ErrorResponses(BasePlugin):
    """An apispec plugin: every operation lists the errors it may answer, and X-Request-ID.

    A response a view documents itself is left alone; flask-smorest's generic ones (a bare
    "Unprocessable Entity") are replaced by the contract's.
    """

    def init_spec(self, spec):
        spec.components.header("X_REQUEST_ID", {
            "description": "The caller's X-Request-ID if it was sane (1-128 of `[A-Za-z0-9._-]`), "
                           "else a fresh one; the same id is on every log line of the request.",
            "schema": {"type": "string"},
        })

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            documented = {int(code) for code in responses if str(code) in map(str, BY_STATUS)}
            for status in sorted(set(error_statuses(path, method, operation)) | documented):
                key = status if status in responses else str(status)
                if not isinstance(responses.get(key), dict):
                    responses.pop(key, None)
                    responses[str(status)] = documented_error(status)
            for response in responses.values():
                if isinstance(response, dict):
                    response.setdefault("headers", {})["X-Request-ID"] = "X_REQUEST_ID"
