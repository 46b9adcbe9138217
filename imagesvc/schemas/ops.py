"""The answers of the unauthenticated probes."""

from marshmallow import fields

from .base import ResponseSchema


class HealthSchema(ResponseSchema):
    status = fields.String()
