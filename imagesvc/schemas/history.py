"""History: a change, the page of changes, and the queries of an image's history and of the
audit of the whole catalog."""

from marshmallow import fields

from .base import ResponseSchema
from .fields import Itself, Text, UtcDateTime
from .paging import page_args_schema, page_schema
from .rules import image_id_asked


class ChangeImageSchema(ResponseSchema):
    """The image a change was made to, as it was named then."""

    id = fields.String(attribute="image_pk")
    image_id = fields.String(attribute="external_id")
    name = fields.String(attribute="image_name")


class ChangeSchema(ResponseSchema):
    id = fields.String()
    action = fields.String(metadata={"description": "create, update, status, delete, version_create, "
                                                    "version_delete or import"})
    image = Itself(ChangeImageSchema)
    version = fields.String(allow_none=True)
    before = fields.Dict(allow_none=True, metadata={"description": "The fields involved, before (null: created)."})
    after = fields.Dict(allow_none=True, metadata={"description": "The fields involved, after (null: deleted)."})
    token_name = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    time = UtcDateTime()


ChangePageSchema = page_schema("ChangePageSchema", ChangeSchema)
HistoryArgsSchema = page_args_schema("HistoryArgsSchema", page_size=20)


class AuditArgsSchema(HistoryArgsSchema):
    image_id = image_id_asked(attribute="external_id", metadata={"description": "The image's imageId."})
    token_name = Text(max_length=64)
    since = UtcDateTime(metadata={"description": "Changes at or after this time."})
