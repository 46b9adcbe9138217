"""Paged lists: the query's ``pageNo`` and ``pageSize``, and the page an answer's ``data`` is."""

import marshmallow as ma
from marshmallow import fields, validate

from .base import QuerySchema, ResponseSchema

# The largest page any list serves.
PAGE_SIZE_MAX = 100


def page_args_schema(name, page_size=None):
    """A query of ``pageNo`` (from 1) and ``pageSize`` (1 to ``PAGE_SIZE_MAX``). With a default
    ``page_size`` every answer is a page, the first unless asked; without, only when asked."""
    first, size = (ma.missing, ma.missing) if page_size is None else (1, page_size)
    return type(name, (QuerySchema,), {
        "page_no": fields.Integer(load_default=first, validate=validate.Range(min=1)),
        "page_size": fields.Integer(load_default=size, validate=validate.Range(min=1, max=PAGE_SIZE_MAX)),
    })


def page_schema(name, item_schema, optional=()):
    """The ``data`` of a page: ``list``, the true ``total``, ``pageNo`` and ``pageSize``."""
    return type(name, (ResponseSchema,), {
        "OPTIONAL": optional,
        "list": fields.List(fields.Nested(item_schema)),
        "total": fields.Integer(metadata={"description": "Every match, not only this page's."}),
        "page_no": fields.Integer(),
        "page_size": fields.Integer(),
    })
