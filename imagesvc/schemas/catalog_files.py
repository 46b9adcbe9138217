"""Catalog files: the import body and its query, the export and its query, the import's result.

An entry of a catalog file is an image's create body plus a required imageId (imports match on
it) and its versions' create bodies; an export is the same shape, dumped.
"""

from marshmallow import ValidationError, fields, validate, validates_schema

from ..models import fold
from .base import QuerySchema, ResponseSchema, WriteSchema
from .fields import Enum
from .images import ImageCreateSchema
from .rules import image_slug
from .versions import VersionCreateSchema


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

    image_id = image_slug(required=True)
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
