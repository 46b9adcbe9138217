"""Request and response schemas: every field rule of the contract lives here.

- ``base``: camelCase on the wire; the kinds of schema (body, query, answer); error paths.
- ``fields``: the kinds of field (checked text, UTC times, named enumerations, ...).
- ``rules``: the values with a grammar (imageId, version name, size, ...), each written once.
- ``paging``: pageNo and pageSize, and the page schema of every paged answer.
- ``images``, ``versions``, ``history``, ``feed``, ``catalog_files``, ``ops``: the schemas of
  those routes.
"""

from .base import AnswerSchema, QuerySchema, ResponseSchema, error_paths
from .catalog_files import (
    CatalogExportSchema,
    CatalogSchema,
    ExportArgsSchema,
    ImportArgsSchema,
    ImportResultSchema,
)
from .feed import FeedArgsSchema, FeedSchema, JupyterHubProfileSchema, KubeflowFeedSchema
from .fields import ENUMS, Enum
from .history import AuditArgsSchema, ChangePageSchema, HistoryArgsSchema
from .images import (
    ImageCreateSchema,
    ImagePageSchema,
    ImageQueryArgsSchema,
    ImageSchema,
    ImageSummarySchema,
    ImageUpdateSchema,
    StatusUpdatedSchema,
    StatusUpdateSchema,
)
from .ops import HealthSchema
from .paging import PAGE_SIZE_MAX
from .rules import size_in_bytes
from .versions import PageArgsSchema, VersionCreateSchema, VersionPageSchema, VersionSchema

__all__ = [
    "AnswerSchema", "AuditArgsSchema", "CatalogExportSchema", "CatalogSchema",
    "ChangePageSchema", "Enum", "ENUMS", "error_paths", "ExportArgsSchema", "FeedArgsSchema", "FeedSchema",
    "HealthSchema", "HistoryArgsSchema", "ImageCreateSchema", "ImagePageSchema", "ImageQueryArgsSchema",
    "ImageSchema", "ImageSummarySchema", "ImageUpdateSchema", "ImportArgsSchema", "ImportResultSchema",
    "JupyterHubProfileSchema", "KubeflowFeedSchema", "PAGE_SIZE_MAX", "PageArgsSchema", "QuerySchema",
    "ResponseSchema", "size_in_bytes", "StatusUpdatedSchema", "StatusUpdateSchema", "VersionCreateSchema",
    "VersionPageSchema", "VersionSchema",
]
