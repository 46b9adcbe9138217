"""The kinds of field the schemas are made of: checked text, strict booleans, label lists, UTC
times, named enumerations, and nested objects taken from the object itself or dumped already."""

import datetime
import re

import marshmallow as ma
from marshmallow import fields, validate

from ..models import ARCHITECTURES, CHIP_TYPES, IMAGE_TYPES, STATUSES, fold

# Control characters never belong in text; single-line text also refuses line breaks and
# invisible format characters (zero-width spaces, bidi overrides).
_FORBIDDEN_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FORBIDDEN_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# A framework or an applicable scope, in characters.
LABEL_MAX_LENGTH = 64


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
        item = item or Text(min_length=1, max_length=LABEL_MAX_LENGTH)
        super().__init__(item, validate=validate.Length(max=max_items), **kwargs)

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


# Every enumeration, by the name of its schema in the OpenAPI document (docs.py registers them),
# so that generated clients get one type for each.
ENUMS = {
    "ChipType": CHIP_TYPES,
    "ImageStatus": STATUSES,
    "ImageType": IMAGE_TYPES,
    "Architecture": ARCHITECTURES,
    "SortBy": ("lastUpdateTime", "createTime", "name"),
    "SortOrder": ("desc", "asc"),
    "FeedFormat": ("json", "kubeflow", "jupyterhub"),
}


class Enum(fields.String):
    """One value of the enumeration ``ENUMS[name]``, exactly."""

    def __init__(self, name, **kwargs):
        super().__init__(validate=validate.OneOf(ENUMS[name]), **kwargs)
        self.enum_name = name


class Itself(fields.Nested):
    """A nested object made of fields of the dumped object itself."""

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return obj

