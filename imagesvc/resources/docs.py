"""The API docs page at /api/docs: Swagger UI, served entirely by imagesvc.

flask-smorest renders the page (``OPENAPI_SWAGGER_UI_PATH``); its scripts and styles come from the
``flask-swagger-ui`` package, which ships Swagger UI's release files, and are served here under
/api/docs/assets/, so the page works on a network with no internet. ``ErrorResponses`` adds to
the OpenAPI document the error responses the contract gives each operation.
"""

import os

import flask_swagger_ui
from apispec import BasePlugin
from flask import Blueprint, send_from_directory

from ..api import ERROR_CODES

# Swagger UI's dist folder as the package ships it (swagger-ui-bundle.js, swagger-ui.css, ...).
ASSETS = os.path.join(os.path.dirname(flask_swagger_ui.__file__), "dist")

blp = Blueprint("docs", __name__, url_prefix="/api/docs/assets")


@blp.route("/<path:filename>")
def asset(filename):
    """One of Swagger UI's files (revalidated by ETag on each load, so an upgrade shows at once)."""
    return send_from_directory(ASSETS, filename)


# When each error answers, as the contract's table says.
ERROR_WHEN = {
    400: "the body is not valid JSON, or not a JSON object",
    401: "no token, a malformed header, or an unknown or revoked token "
         "(with `WWW-Authenticate: Bearer realm=\"imagesvc\"`)",
    403: "the token's role may not do this",
    404: "no such image or version",
    409: "a uniqueness rule would break (name, imageId or version, ignoring case); `errors` names the field",
    412: "`If-Match` was given and the image has changed since (beyond)",
    413: "the body is over the limit (1 MiB by default)",
    415: "a body was sent with a Content-Type other than JSON",
    422: "a field or query parameter breaks its rule; `errors` says which and why, by camelCase name",
    500: "anything unexpected; the log has the details under the request id",
    503: "the database cannot be reached",
}


def error_response(status):
    """The documented error envelope of ``status``, with its code and default message."""
    code, message = ERROR_CODES[status]
    return {
        "description": f"`{code}`: {ERROR_WHEN[status]}.",
        "content": {"application/json": {
            "schema": "Error",
            "example": {"success": False, "code": code, "message": message},
        }},
    }


def error_statuses(path, method, operation):
    """The error statuses the contract gives ``method`` on ``path``."""
    if not path.startswith("/api/"):
        return [503] if path == "/readyz" else []
    statuses = [401, 403, 500, 503]
    if "{image_id}" in path:
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
                           "else a fresh one; the same id is on every log line of the request (beyond).",
            "schema": {"type": "string"},
        })

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            documented = {int(code) for code in responses if str(code) in map(str, ERROR_WHEN)}
            for status in sorted(set(error_statuses(path, method, operation)) | documented):
                key = status if status in responses else str(status)
                if not isinstance(responses.get(key), dict):
                    responses.pop(key, None)
                    responses[str(status)] = error_response(status)
            for response in responses.values():
                if isinstance(response, dict):
                    response.setdefault("headers", {})["X-Request-ID"] = "X_REQUEST_ID"
