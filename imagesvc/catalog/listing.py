"""Reading the catalog a page at a time: the image list (through the search index), whether the
catalog is new, and the paging the version list and history share."""

from .. import search
from ..encoding import fragment
from ..models import Change, Image
from .entries import list_entries
from .writes import state


def list_images(catalog_state, page_no, page_size, sort_by, order, **filters):
    """One page of the images matching every given filter, and their total (the search index),
    as of ``catalog_state`` (read before, as auth reads it with the token) or later.

    Filters: name, framework, chip_type, applicable_scope, status, image_type, python_version,
    cuda_version, architecture; a missing or empty one is not applied. The page's images are
    their list entries (entries.py), read in one query, encoded; one deleted since the index was
    read is left out.
    """
    filters = {key: value for key, value in filters.items() if value}
    total, page = search.for_database().find(catalog_state, filters, sort_by, order == "desc",
                                             (page_no - 1) * page_size, page_size)
    entries = list_entries(page)
    images = [fragment(entries[image_id]) for image_id in page if image_id in entries]
    return {"list": images, "total": total, "page_no": page_no, "page_size": page_size}


def load_search_index(heartbeat=None):
    """Load this process's search index now rather than in its first list request."""
    search.for_database().load(state(), heartbeat)


def is_new():
    """True while the catalog has never held an image (no image, and no history of one)."""
    return not Image.select().exists() and not Change.select().exists()


def page(read, page_no, page_size, total):
    """One page of ``total`` rows, which ``read(offset, limit)`` reads; past the end, no query."""
    offset = (page_no - 1) * page_size
    items = read(offset, page_size) if offset < total else []
    return {"list": items, "total": total, "page_no": page_no, "page_size": page_size}


def reader(query):
    """``read`` for ``page``: the rows of ``query`` at an offset."""
    return lambda offset, limit: list(query.offset(offset).limit(limit))
