"""The contract's error table, and the domain errors the catalog raises; api.py turns each into
the error envelope.

No Flask imports here: the catalog can be used (and fail) outside a request.
"""

from typing import NamedTuple


class ErrorStatus(NamedTuple):
    """One row of the contract's error table."""

    code: str  # stable and machine-readable
    message: str  # the default, when whoever answers names none
    when: str  # when it is answered, as the OpenAPI document tells clients


# The error statuses the service answers with: the error envelope (api.py), the OpenAPI document
# (resources/docs.py) and the API description (config.py) all read them here.
BY_STATUS = {
    400: ErrorStatus("BAD_REQUEST", "请求格式错误", "the body is not valid JSON, or not a JSON object"),
    401: ErrorStatus("UNAUTHORIZED", "未认证或令牌无效",
                     "no token, a malformed header, or an unknown or revoked token "
                     "(with `WWW-Authenticate: Bearer realm=\"imagesvc\"`)"),
    403: ErrorStatus("FORBIDDEN", "权限不足", "the token's role may not do this"),
    404: ErrorStatus("NOT_FOUND", "资源不存在",
                     "no such image or version (from the feed: format=kubeflow and no online image in the scope)"),
    405: ErrorStatus("METHOD_NOT_ALLOWED", "不支持的请求方法",
                     "the path does not take this method; `Allow` names the ones it does"),
    409: ErrorStatus("CONFLICT", "资源冲突",
                     "a uniqueness rule would break (name, imageId or version, ignoring case); "
                     "`errors` names the field"),
    412: ErrorStatus("PRECONDITION_FAILED", "镜像已被修改，请刷新后重试",
                     "`If-Match` was given and the image has changed since"),
    413: ErrorStatus("PAYLOAD_TOO_LARGE", "请求体过大", "the body is over the limit (1 MiB by default)"),
    415: ErrorStatus("UNSUPPORTED_MEDIA_TYPE", "请求体必须是 JSON（application/json）",
                     "a body was sent with a Content-Type other than JSON"),
    422: ErrorStatus("VALIDATION_ERROR", "参数校验失败",
                     "a field or query parameter breaks its rule; `errors` says which and why, by camelCase name"),
    429: ErrorStatus("TOO_MANY_REQUESTS", "请求过于频繁，请稍后重试",
                     "the token went over its rate limit; `Retry-After` says when to call again"),
    500: ErrorStatus("INTERNAL_ERROR", "服务器内部错误",
                     "anything unexpected; the log has the details under the request id"),
    503: ErrorStatus("SERVICE_UNAVAILABLE", "服务暂不可用，请稍后重试", "the database cannot be reached"),
}


class ServiceError(Exception):
    """An error with its HTTP status, a human message (by default the table's for the status)
    and optional field errors."""

    status = 500
    message = None

    def __init__(self, message=None, errors=None):
        self.message = message or self.message or BY_STATUS[self.status].message
        super().__init__(self.message)
        self.errors = errors


class NotFound(ServiceError):
    status = 404


class ImageNotFound(NotFound):
    message = "镜像不存在"


class VersionNotFound(NotFound):
    message = "版本不存在"


class Conflict(ServiceError):
    """A uniqueness rule would break; ``field`` is the camelCase field that clashes, ``path``
    where it stands in the body when that is not the top level (``images[3].name``)."""

    status = 409
    messages = {"name": "镜像名称已存在", "imageId": "镜像ID已存在", "version": "版本号已存在"}

    def __init__(self, field, path=None):
        message = self.messages[field]
        super().__init__(message, errors={path or field: [message]})
        self.field = field


class PreconditionFailed(ServiceError):
    status = 412


class NothingToSpawn(NotFound):
    """A spawner form needs an image to offer first: an empty feed cannot be one."""

    message = "该范围内没有上线的镜像"
