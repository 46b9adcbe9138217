"""The catalog's queries: images and versions read and written, their history, the spawner
feed, and whole-catalog import and export. Callers use the names imported here.

Every write runs in one transaction (``writes.transaction``) that locks the image it changes
(``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE`` on MySQL), records a Change row and
moves the CatalogState row last (``writes.record``), so locks are always taken in the same
order. Unique indexes settle races: an IntegrityError becomes ``errors.Conflict`` naming the
field. What a Change row holds of an image or a version comes from ``snapshots``.

Each write function is the unit of work ``db.retry_when_busy`` runs again after a MySQL
deadlock or lock wait timeout: everything it changes (the rows, the Change row, the generation)
is inside its one transaction, and what it does before the transaction it may do twice.

  writes.py        the transaction, conflicts, the image locked for update, the Change row, the generation
  snapshots.py     an image's and a version's content as history keeps it, and what changed
  listing.py       the image list, whether the catalog is new, paging
  entries.py       images' list entries: encoded when they change, read a page at a time
  images.py        an image read, created, updated, given a status, deleted; its filter labels
  versions.py      an image's versions listed, read, added, deleted; many images' versions at once
  history.py       one image's history, and the audit of every change
  spawner_feed.py  the online images with their versions
  files.py         catalog files: export, and import by imageId
"""

from .entries import list_entries, write_missing
from .files import export_catalog, import_catalog
from .history import audit, image_history
from .images import create_image, delete_image, get_image, set_status, show_image, update_image
from .listing import is_new, list_images, load_search_index
from .spawner_feed import feed
from .versions import create_version, delete_version, get_version, list_versions
from .writes import Actor, state

__all__ = [
    "Actor",
    "audit",
    "create_image",
    "create_version",
    "delete_image",
    "delete_version",
    "export_catalog",
    "feed",
    "get_image",
    "get_version",
    "image_history",
    "import_catalog",
    "is_new",
    "list_entries",
    "list_images",
    "list_versions",
    "load_search_index",
    "set_status",
    "show_image",
    "state",
    "update_image",
    "write_missing",
]
