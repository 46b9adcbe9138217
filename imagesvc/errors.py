"""Domain errors raised by the catalog; api.py turns each into the error envelope.

No Flask imports here: the catalog can be used (and fail) outside a request.
"""


class ServiceError(Exception):
    """An error with its HTTP status, a human message and optional field errors."""

    status = 500
    message = "服务器内部错误"

    def __init__(self, message=None, errors=None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.errors = errors


class NotFound(ServiceError):
    status = 404
    message = "资源不存在"


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
    message = "镜像已被修改，请刷新后重试"


class NothingToSpawn(NotFound):
    """A spawner form needs an image to offer first: an empty feed cannot be one."""

    message = "该范围内没有上线的镜像"
