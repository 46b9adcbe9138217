"""The image list's index: which images match any combination of filters, how many, and which
of them fill a page in any order, answered in memory, whatever the catalog's size.

Each worker process keeps one per database:

- a Roaring bitmap (pyroaring) of the image ids for every value of every filter but the name:
  chip type, status, type, each folded framework and scope, each Python and CUDA version, each
  architecture. A query's matches are the intersection of its filters' bitmaps, its total their
  cardinality; nothing is counted by scanning;
- name filters answered by the database once (a LIKE over the ``name_key`` index), then kept
  as bitmaps of their own, up to NAME_TERMS of them, the least recently used dropped first;
- the ids in each sort order (create time, last update time, name), the id breaking ties, in
  blocks kept each with the bitmap of its ids. A page walks that order from the nearer end,
  counting a block's matches with one bitmap intersection, and reads ids only in the blocks
  where the page lies (or sorts their few matches by time); a page of few matches is sorted.

It follows the catalog through the change log: every write stamps its Change row with the
generation it moved the catalog to, under the catalog state's row lock, so generations commit
in order. A reader that sees generation G re-reads the rows of every image changed since the
index's generation (changes are re-read, not replayed, so doing one twice is harmless) and the
index is then at least as new as G. The image count it holds is checked against the catalog
state's: a catalog changed behind the app's back (rows deleted by hand) is loaded again whole.

``index.py`` holds the index and follows the catalog, ``pages.py`` finds a page in a sort
order, and ``reads.py`` makes every query they need.
"""

import weakref

from ..db import db
from .index import SearchIndex


def for_database():
    """The index of the bound database, up to date with the catalog state it reads."""
    database = db.obj
    index = _indexes.get(database)
    if index is None:
        index = _indexes.setdefault(database, SearchIndex())
    return index


_indexes = weakref.WeakKeyDictionary()
