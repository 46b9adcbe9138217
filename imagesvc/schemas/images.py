"""Images: the create, update and status bodies, the image and its list item, the list's query
and page."""

from marshmallow import ValidationError, fields, post_load, pre_load

from .base import ResponseSchema, WriteSchema
from .fields import Description, Enum, LabelList, OptionalText, StrictBoolean, Text, UtcDateTime
from .paging import page_args_schema, page_schema
from .rules import dotted_version, http_url, image_reference, image_slug


class ImageCreateSchema(WriteSchema):
    READ_ONLY = ("id", "versionCount", "createTime", "lastUpdateTime")

    name = Text(required=True, min_length=1, max_length=128)
    image_id = image_slug()
    frameworks = LabelList(load_default=list)
    applicable_scopes = LabelList(load_default=list)
    chip_type = Enum("ChipType", load_default="GPU")
    preset_cuda = StrictBoolean(load_default=False)
    description = Description()
    image_address = image_reference(required=True)
    status = Enum("ImageStatus", load_default="pending")
    type = Enum("ImageType", load_default="custom")
    icon = OptionalText(max_length=512)
    introduction = OptionalText(multiline=True, max_length=20000)
    paper_url = http_url()
    code_url = http_url()
    license = OptionalText(max_length=128)


class ImageUpdateSchema(ImageCreateSchema):
    """A partial update: any non-empty subset of the writable fields but ``status``."""

    STATUS_MOVED = "状态只能通过 PUT /api/images/{id}/status 修改"

    class Meta(ImageCreateSchema.Meta):
        exclude = ("status",)

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)

    @pre_load
    def refuse_status(self, data, **kwargs):
        if isinstance(data, dict) and "status" in data:
            raise ValidationError(self.STATUS_MOVED, "status")
        return data

    @post_load
    def require_a_change(self, data, **kwargs):
        if not data:
            raise ValidationError("至少需要提供一个可更新的字段", "_schema")
        return data


class StatusUpdateSchema(WriteSchema):
    # The envelope's message when this body is refused (read by api.py).
    error_message = "状态值无效，必须是 online、offline 或 pending"

    status = Enum("ImageStatus", required=True)


class ImageSummarySchema(ResponseSchema):
    """An image as a list item: everything but ``introduction``."""

    id = fields.String(metadata={"description": "Assigned by the server; the `id` in the image's URLs."})
    name = fields.String()
    image_id = fields.String(attribute="external_id", metadata={"description": "The caller's slug for the image."})
    frameworks = fields.List(fields.String())
    applicable_scopes = fields.List(fields.String())
    chip_type = Enum("ChipType")
    preset_cuda = fields.Boolean()
    description = fields.String()
    image_address = fields.String()
    status = Enum("ImageStatus")
    type = Enum("ImageType")
    icon = fields.String(allow_none=True)
    paper_url = fields.String(allow_none=True)
    code_url = fields.String(allow_none=True)
    license = fields.String(allow_none=True)
    version_count = fields.Integer(metadata={"description": "Number of versions."})
    create_time = UtcDateTime()
    last_update_time = UtcDateTime()


class ImageSchema(ImageSummarySchema):
    introduction = fields.String(allow_none=True)


class StatusUpdatedSchema(ResponseSchema):
    id = fields.String()
    status = Enum("ImageStatus")
    last_update_time = UtcDateTime()


class ImageQueryArgsSchema(page_args_schema("ImagePageArgsSchema", page_size=10)):
    # Filters have no length limit: a value longer than any stored one simply matches nothing.
    name = Text(metadata={"description": "Case-insensitive substring of the name."})
    framework = Text(metadata={"description": "A whole framework, ignoring case."})
    chip_type = Enum("ChipType")
    applicable_scope = Text(metadata={"description": "A whole applicable scope, ignoring case."})
    status = Enum("ImageStatus")
    type = Enum("ImageType", attribute="image_type")
    python_version = dotted_version(metadata={"description": "Images having a version with this Python version or a "
                                                             "more precise one (3.10 matches 3.10.4)."})
    cuda_version = dotted_version(metadata={"description": "Images having a version with this CUDA version or a more "
                                                           "precise one (12 matches 12.1)."})
    architecture = Enum("Architecture", metadata={"description": "Images having a version built for it."})
    sort_by = Enum("SortBy", load_default="lastUpdateTime")
    order = Enum("SortOrder", load_default="desc")


ImagePageSchema = page_schema("ImagePageSchema", ImageSummarySchema)
