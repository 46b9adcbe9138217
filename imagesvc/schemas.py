"""Request and response schemas: every field rule of the contract lives here.

Field names are snake_case in Python and camelCase on the wire (``CamelSchema``), so
validation errors name fields as the client sent them.
"""

import datetime
import re

import marshmallow as ma
from marshmallow import EXCLUDE, ValidationError, fields, post_load, pre_load, validate, validates_schema

from .models import ARCHITECTURES, CHIP_TYPES, IMAGE_TYPES, STATUSES, fold

# Control characters never belong in text; single-line text also refuses line breaks and
# invisible format characters (zero-width spaces, bidi overrides).
_FORBIDDEN_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FORBIDDEN_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")

# The distribution reference grammar: [host[:port]/]path[:tag][@digest]
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?"
)
# The largest page any list serves.
PAGE_SIZE_MAX = 100
IMAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
DOTTED_VERSION = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,6}){0,2}")
SIZE = re.compile(r"([0-9]{1,15}(?:\.[0-9]{1,6})?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)
SIZE_UNITS = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
DOTTED_VERSION_ERROR = "One to three dotted numbers, like 3.9 or 11.8.0."
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def camelcase(name):
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def error_paths(messages, prefix=""):
    """Flatten marshmallow's nested errors to ``{"path": [messages]}``.

    ``{"images": {3: {"name": [...]}}}`` -> ``{"images[3].name": [...]}``; errors of the items of
    a list of strings stay under the list, numbered: ``{"frameworks": ["[0] ..."]}``.
    """
    flat = {}
    for key, value in messages.items():
        path = f"{prefix}[{key}]" if isinstance(key, int) else f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and all(isinstance(k, int) and isinstance(v, list) for k, v in value.items()):
            flat[path] = [f"[{index}] {message}" for index, item in value.items() for message in item]
        elif isinstance(value, dict):
            flat.update(error_paths(value, path))
        else:
            flat[path] = value
    return flat


def size_in_bytes(size):
    """``"2.5GB"`` -> 2500000000 (KB=1000, KiB=1024); None stays None."""
    if size is None:
        return None
    number, unit = SIZE.fullmatch(size).groups()
    return round(float(number) * SIZE_UNITS[unit.lower()])


class CamelSchema(ma.Schema):
    """Names every field on the wire in camelCase."""

    def on_bind_field(self, field_name, field_obj):
        super().on_bind_field(field_name, field_obj)
        field_obj.data_key = camelcase(field_obj.data_key or field_name)


class Text(fields.String):
    """A string, trimmed unless multiline, with its length checked before any validator.

    Checking the length first keeps a 10 MB value away from the regular expressions.
    """

    default_error_messages = {
        "too_short": "Must not be empty.",
        "too_long": "Longer than maximum length {max}.",
        "forbidden": "Must not contain control or invisible characters.",
    }

    def __init__(self, *, min_length=0, max_length=None, multiline=False, pattern=None, pattern_error=None,
                 pattern_in_doc=True, **kwargs):
        super().__init__(**kwargs)
        self.min_length = min_length
        self.max_length = max_length
        self.multiline = multiline
        self.pattern = pattern
        self.error_messages["pattern"] = pattern_error or "Invalid format."
        # The same rules in the OpenAPI document (of the trimmed value).
        self.metadata = {
            **({"minLength": min_length} if min_length else {}),
            **({"maxLength": max_length} if max_length is not None else {}),
            # (a case-blind pattern has no JSON Schema spelling, and the image reference grammar is
            # beyond what generators of examples read: their descriptions say them instead)
            **({"pattern": f"^{pattern.pattern}$"} if pattern is not None and pattern_in_doc else {}),
            **self.metadata,
        }

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not self.multiline:
            text = text.strip()
        if len(text) < self.min_length:
            raise self.make_error("too_short")
        if self.max_length is not None and len(text) > self.max_length:
            raise self.make_error("too_long", max=self.max_length)
        if (_FORBIDDEN_IN_TEXT if self.multiline else _FORBIDDEN_IN_LINE).search(text):
            raise self.make_error("forbidden")
        if self.pattern is not None and not self.pattern.fullmatch(text):
            raise self.make_error("pattern")
        return text


class OptionalText(Text):
    """A nullable text where an empty or blank string means null."""

    def __init__(self, **kwargs):
        super().__init__(allow_none=True, **kwargs)

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if isinstance(value, str) and not value.strip():
            value = None
        return super().deserialize(value, attr, data, **kwargs)


class Description(Text):
    """Free text where null means the empty string."""

    def __init__(self, **kwargs):
        super().__init__(multiline=True, max_length=2000, load_default="", **kwargs)

    def deserialize(self, value, attr=None, data=None, **kwargs):
        return super().deserialize("" if value is None else value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """A real JSON boolean: ``"true"`` and ``1`` are refused."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class LabelList(fields.List):
    """Frameworks or scopes: trimmed items of 1-64 chars, duplicates (ignoring case) dropped
    keeping the first, at most 20 after dropping."""

    def __init__(self, item=None, max_items=20, **kwargs):
        super().__init__(item or Text(min_length=1, max_length=64), validate=validate.Length(max=max_items),
                         **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        unique = {}
        for item in super()._deserialize(value, attr, data, **kwargs):
            unique.setdefault(fold(item), item)
        return list(unique.values())


class UtcDateTime(fields.DateTime):
    """ISO 8601 in (no offset means UTC), naive UTC whole seconds inside, ``…Z`` out."""

    default_error_messages = {
        "range": "Must be between years 1000 and 9999.",
        "no_time": "Must be a date-time with a time of day, like 2025-01-15T10:30:00Z.",
    }

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and len(value.strip()) <= len("2025-01-15"):
            raise self.make_error("no_time")
        moment = super()._deserialize(value, attr, data, **kwargs)
        if moment.tzinfo is not None:
            try:
                moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
            except OverflowError as exc:
                raise self.make_error("range") from exc
        if not 1000 <= moment.year <= 9999:  # what MySQL's DATETIME can hold
            raise self.make_error("range")
        return moment.replace(microsecond=0)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.strftime(TIME_FORMAT)


FEED_FORMATS = ("json", "kubeflow", "jupyterhub")
# Every enumeration, by the name of its schema in the OpenAPI document (docs.py registers them),
# so that generated clients get one type for each.
ENUMS = {
    "ChipType": CHIP_TYPES,
    "ImageStatus": STATUSES,
    "ImageType": IMAGE_TYPES,
    "Architecture": ARCHITECTURES,
    "SortBy": ("lastUpdateTime", "createTime", "name"),
    "SortOrder": ("desc", "asc"),
    "FeedFormat": FEED_FORMATS,
}


class Enum(fields.String):
    """One value of the enumeration ``ENUMS[name]``, exactly."""

    def __init__(self, name, **kwargs):
        super().__init__(validate=validate.OneOf(ENUMS[name]), **kwargs)
        self.enum_name = name


def image_reference(description="", **kwargs):
    grammar = ("A container image reference, [host[:port]/]path[:tag][@digest]: lowercase path components, "
               "a tag of up to 128 of [A-Za-z0-9_.-], a digest algo:hex.")
    return Text(min_length=1, max_length=512, pattern=IMAGE_REFERENCE, pattern_in_doc=False,
                pattern_error="Not a valid image reference: [host[:port]/]path[:tag][@digest], lowercase path.",
                metadata={"description": f"{grammar} {description}".strip()}, **kwargs)


def http_url():
    return OptionalText(
        max_length=2048,
        validate=validate.URL(schemes={"http", "https"}, require_tld=False, error="Must be an absolute http(s) URL."),
    )


class WriteSchema(CamelSchema):
    """A request body: unknown fields are refused, read-only ones ignored."""

    READ_ONLY = ()

    class Meta:
        unknown = ma.RAISE

    @pre_load
    def ignore_read_only_fields(self, data, **kwargs):
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if key not in self.READ_ONLY}
        return data


class AnswerSchema(ma.Schema):
    """An answer: every field is always there (``required`` in the document, so generated types
    need no checks) but the ``OPTIONAL`` ones; fields added later must not break a client."""

    OPTIONAL = ()

    class Meta:
        unknown = EXCLUDE  # documented without additionalProperties: false

    def on_bind_field(self, field_name, field_obj):
        super().on_bind_field(field_name, field_obj)
        field_obj.required = field_name not in self.OPTIONAL


class ResponseSchema(AnswerSchema, CamelSchema):
    """An answer in camelCase."""


class Itself(fields.Nested):
    """A nested object made of fields of the dumped object itself."""

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return obj


class Dumped(fields.Nested):
    """A nested object that comes dumped already (responses.with_summaries): passed on as it
    is, and documented as its schema."""

    def _serialize(self, nested_obj, attr, obj, **kwargs):
        return nested_obj


def page_schema(name, item_schema, optional=(), dumped=False):
    """The ``data`` of a page: ``list``, the true ``total``, ``pageNo`` and ``pageSize``; with
    ``dumped``, the list's items come dumped already."""
    return type(name, (ResponseSchema,), {
        "OPTIONAL": optional,
        "list": fields.List((Dumped if dumped else fields.Nested)(item_schema)),
        "total": fields.Integer(metadata={"description": "Every match, not only this page's."}),
        "page_no": fields.Integer(),
        "page_size": fields.Integer(),
    })


# ----- images -----

class ImageCreateSchema(WriteSchema):
    READ_ONLY = ("id", "versionCount", "createTime", "lastUpdateTime")

    name = Text(required=True, min_length=1, max_length=128)
    image_id = Text(attribute="external_id", min_length=1, max_length=128, pattern=IMAGE_ID,
                    pattern_error="Only letters, digits, '.', '_' and '-', starting with a letter or digit.")
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


class QuerySchema(CamelSchema):
    """Query parameters: an empty value means "not given" (api.RequestParser drops it)."""


class PageArgsSchema(QuerySchema):
    page_no = fields.Integer(validate=validate.Range(min=1))
    page_size = fields.Integer(validate=validate.Range(min=1, max=PAGE_SIZE_MAX))


class ImageQueryArgsSchema(PageArgsSchema):
    page_no = fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = fields.Integer(load_default=10, validate=validate.Range(min=1, max=PAGE_SIZE_MAX))
    # Filters have no length limit: a value longer than any stored one simply matches nothing.
    name = Text(metadata={"description": "Case-insensitive substring of the name."})
    framework = Text(metadata={"description": "A whole framework, ignoring case."})
    chip_type = Enum("ChipType")
    applicable_scope = Text(metadata={"description": "A whole applicable scope, ignoring case."})
    status = Enum("ImageStatus")
    type = Enum("ImageType", attribute="image_type")
    python_version = Text(max_length=32, pattern=DOTTED_VERSION, pattern_error=DOTTED_VERSION_ERROR,
                          metadata={"description": "Images having a version with this Python version or a "
                                                   "more precise one (3.10 matches 3.10.4)."})
    cuda_version = Text(max_length=32, pattern=DOTTED_VERSION, pattern_error=DOTTED_VERSION_ERROR,
                        metadata={"description": "Images having a version with this CUDA version or a more "
                                                 "precise one (12 matches 12.1)."})
    architecture = Enum("Architecture", metadata={"description": "Images having a version built for it."})
    sort_by = Enum("SortBy", load_default="lastUpdateTime")
    order = Enum("SortOrder", load_default="desc")


ImagePageSchema = page_schema("ImagePageSchema", ImageSummarySchema, dumped=True)


# ----- versions -----

class VersionCreateSchema(WriteSchema):
    READ_ONLY = ("sizeBytes",)

    version = Text(required=True, min_length=1, max_length=64, pattern=VERSION,
                   pattern_error="Only letters, digits, '.', '_', '+' and '-', starting with a letter or digit.")
    image_address = image_reference("Defaults to the image's imageAddress.")
    size = OptionalText(max_length=64, pattern=SIZE, pattern_in_doc=False,
                        pattern_error="A number and a unit of B, KB, MB, GB, TB, KiB, MiB, GiB, TiB, like 2.5GB.")
    python_version = OptionalText(max_length=32, pattern=DOTTED_VERSION, pattern_error=DOTTED_VERSION_ERROR)
    cuda_version = OptionalText(max_length=32, pattern=DOTTED_VERSION, pattern_error=DOTTED_VERSION_ERROR)
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


# pageNo and pageSize only when paging was asked for.
VersionPageSchema = page_schema("VersionPageSchema", VersionSchema, optional=("page_no", "page_size"))


# ----- the catalog file, history, the spawner feed -----

def repeated(texts):
    """``(index, index of the first equal one)`` for each text equal, ignoring case, to an earlier one."""
    first_seen = {}
    for index, text in enumerate(texts):
        earlier = first_seen.setdefault(fold(text), index)
        if earlier != index:
            yield index, earlier


class CatalogImageSchema(ImageCreateSchema):
    """An image of a catalog file: its imageId is required (imports match on it) and it
    carries its versions."""

    image_id = Text(attribute="external_id", required=True, min_length=1, max_length=128, pattern=IMAGE_ID,
                    pattern_error="Only letters, digits, '.', '_' and '-', starting with a letter or digit.")
    versions = fields.List(fields.Nested(VersionCreateSchema), load_default=list)

    @validates_schema
    def unique_versions(self, data, **kwargs):
        """Two versions of one entry may not be equal ignoring case."""
        errors = {
            index: {"version": [f"Same as versions[{earlier}]."]}
            for index, earlier in repeated(version["version"] for version in data.get("versions", []))
        }
        if errors:
            raise ValidationError({"versions": errors})


class CatalogSchema(WriteSchema):
    """A catalog file: ``{"format": "imagesvc-catalog", "version": 1, "images": [...]}``."""

    FORMAT, VERSION = "imagesvc-catalog", 1

    format = fields.String(required=True, validate=validate.Equal(FORMAT))
    version = fields.Integer(required=True, strict=True, validate=validate.Equal(VERSION))
    images = fields.List(fields.Nested(CatalogImageSchema), required=True)

    @validates_schema
    def unique_entries(self, data, **kwargs):
        """Two entries may not share an imageId or a name (ignoring case)."""
        errors = {}
        for field, attribute in (("imageId", "external_id"), ("name", "name")):
            for index, earlier in repeated(entry[attribute] for entry in data.get("images", [])):
                errors.setdefault(index, {})[field] = [f"Same as images[{earlier}]."]
        if errors:
            raise ValidationError({"images": errors})

    @classmethod
    def document(cls, images):
        return {"format": cls.FORMAT, "version": cls.VERSION, "images": images}


class ExportedVersionSchema(ResponseSchema, VersionCreateSchema):
    """A version as a catalog file holds it."""


class ExportedImageSchema(ResponseSchema, CatalogImageSchema):
    """An image as a catalog file holds it, with its versions, oldest first."""

    versions = fields.List(fields.Nested(ExportedVersionSchema))


class CatalogExportSchema(ResponseSchema, CatalogSchema):
    """A catalog file, as exported: import takes it back as it is."""

    images = fields.List(fields.Nested(ExportedImageSchema))


class ImportArgsSchema(QuerySchema):
    dry_run = fields.Boolean(load_default=False, metadata={"description": "Validate and count; write nothing."})
    prune = fields.Boolean(load_default=False, metadata={"description": "Delete images missing from the file."})


class ExportArgsSchema(QuerySchema):
    status = Enum("ImageStatus")
    type = Enum("ImageType", attribute="image_type")


class ImportResultSchema(ResponseSchema):
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    deleted = fields.Integer()
    dry_run = fields.Boolean()


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


class HistoryArgsSchema(PageArgsSchema):
    page_no = fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=PAGE_SIZE_MAX))


class AuditArgsSchema(HistoryArgsSchema):
    image_id = Text(attribute="external_id", max_length=128, metadata={"description": "The image's imageId."})
    token_name = Text(max_length=64)
    since = UtcDateTime(metadata={"description": "Changes at or after this time."})


class FeedArgsSchema(QuerySchema):
    applicable_scope = Text(max_length=64, metadata={"description": "Only images for this scope."})
    format = Enum("FeedFormat", load_default="json", metadata={
        "description": "json: the envelope, as the list. jupyterhub: KubeSpawner's profile_list. kubeflow: the "
                       "spawnerFormDefaults.image block of Kubeflow's spawner_ui_config.yaml. Both unwrapped."})
    default = Text(attribute="default_image_id", max_length=128, metadata={
        "description": "The imageId of the image spawners offer first (jupyterhub: its profile has default "
                       "true; kubeflow: its address is the value). Absent or not in the feed: none is marked, "
                       "and kubeflow's value is the first option."})
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=1000))


class FeedImageSchema(ImageSummarySchema):
    versions = fields.List(fields.Nested(VersionSchema), metadata={"description": "Newest first."})


class FeedSchema(ResponseSchema):
    list = fields.List(fields.Nested(FeedImageSchema))
    total = fields.Integer()


# The feed's unwrapped shapes, in the spawners' own field names.

class KubeSpawnerOverrideSchema(ResponseSchema):
    image = fields.String()


class JupyterHubChoiceSchema(AnswerSchema):
    display_name = fields.String(metadata={"description": "The version's name, HTML-escaped."})
    default = fields.Boolean()
    kubespawner_override = fields.Nested(KubeSpawnerOverrideSchema)


class JupyterHubOptionSchema(AnswerSchema):
    display_name = fields.String()
    choices = fields.Dict(keys=fields.String(), values=fields.Nested(JupyterHubChoiceSchema),
                          metadata={"description": "By version name, exactly as in the catalog."})


class JupyterHubProfileSchema(AnswerSchema):
    """One image as a KubeSpawner profile. KubeSpawner renders display_name and description as
    HTML, so they come HTML-escaped."""

    OPTIONAL = ("profile_options",)

    display_name = fields.String()
    slug = fields.String(metadata={"description": "The imageId, lowercased."})
    description = fields.String()
    default = fields.Boolean()
    kubespawner_override = fields.Nested(KubeSpawnerOverrideSchema)
    profile_options = fields.Dict(keys=fields.String(), values=fields.Nested(JupyterHubOptionSchema),
                                  metadata={"description": "`version`, when the image has versions."})


class KubeflowImageSchema(ResponseSchema):
    value = fields.String(metadata={"description": "The address offered first."})
    options = fields.List(fields.String(), metadata={"description": "Each image's address, then its versions'."})
    read_only = fields.Boolean()


class KubeflowFormDefaultsSchema(ResponseSchema):
    image = fields.Nested(KubeflowImageSchema)


class KubeflowFeedSchema(ResponseSchema):
    """The block of Kubeflow's spawner_ui_config.yaml to merge into its spawnerFormDefaults."""

    spawner_form_defaults = fields.Nested(KubeflowFormDefaultsSchema)


class HealthSchema(ResponseSchema):
    status = fields.String()
