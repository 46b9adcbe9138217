"""Versions: the create body, the version, the list's query and page."""

from marshmallow import ValidationError, fields, post_load, pre_load

from ..models import ARCHITECTURES
from .base import ResponseSchema, WriteSchema
from .fields import Description, Enum, LabelList, OptionalText, UtcDateTime
from .paging import page_args_schema, page_schema
from .rules import dotted_version, image_reference, size_in_bytes, size_with_unit, version_name


class VersionCreateSchema(WriteSchema):
    READ_ONLY = ("sizeBytes",)

    version = version_name(required=True)
    image_address = image_reference("Defaults to the image's imageAddress.")
    size = size_with_unit()
    python_version = dotted_version(OptionalText)
    cuda_version = dotted_version(OptionalText)
    description = Description()
    architectures = LabelList(Enum("Architecture"), max_items=len(ARCHITECTURES), load_default=list,
                              metadata={"description": "Platforms the version is built for."})
    create_time = UtcDateTime(metadata={"description": "Defaults to now; without an offset it is UTC."})

    @pre_load
    def blank_create_time_is_not_given(self, data, **kwargs):
        if isinstance(data, dict) and isinstance(data.get("createTime"), str) and not data["createTime"].strip():
            return {key: value for key, value in data.items() if key != "createTime"}
        return data

    @post_load
    def add_size_in_bytes(self, data, **kwargs):
        data["size_bytes"] = size_in_bytes(data.get("size"))
        if data["size_bytes"] is not None and data["size_bytes"] > 2**63 - 1:
            raise ValidationError("Too large to count in bytes.", "size")
        return data


class VersionSchema(ResponseSchema):
    version = fields.String()
    image_address = fields.String()
    size = fields.String(allow_none=True)
    size_bytes = fields.Integer(allow_none=True, metadata={"description": "Parsed from size."})
    python_version = fields.String(allow_none=True)
    cuda_version = fields.String(allow_none=True)
    description = fields.String()
    architectures = fields.List(Enum("Architecture"))
    create_time = UtcDateTime()


# Every version (up to the 1000 newest) unless paging is asked for; then pageNo and pageSize
# come back too.
PageArgsSchema = page_args_schema("PageArgsSchema")
VersionPageSchema = page_schema("VersionPageSchema", VersionSchema, optional=("page_no", "page_size"))
