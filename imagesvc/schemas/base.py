"""The kinds of schema: names camelCase on the wire, and request bodies, query strings and
answers each held to their own rules.

Field names are snake_case in Python and camelCase on the wire (``CamelSchema``), so
validation errors name fields as the client sent them.
"""

import marshmallow as ma
import orjson
from marshmallow import EXCLUDE, pre_load


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


class CamelSchema(ma.Schema):
    """Names every field on the wire in camelCase."""

    def on_bind_field(self, field_name, field_obj):
        super().on_bind_field(field_name, field_obj)
        field_obj.data_key = camelcase(field_obj.data_key or field_name)


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


class QuerySchema(CamelSchema):
    """Query parameters: an empty value means "not given" (api.RequestParser drops it)."""


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

    def dump(self, obj, *, many=None):
        # One encoded already, as this schema dumps it (catalog/entries.py), goes out as it is.
        if isinstance(obj, orjson.Fragment):
            return obj
        return super().dump(obj, many=many)
