"""The image list's index: which images match any combination of filters, how many, and which
of them fill a page in any order, answered in memory, whatever the catalog's size.

Each worker process keeps one per database:

- a Roaring bitmap (pyroaring) of the image ids for every value of every filter but the name:
  chip type, status, type, each folded framework and scope, each Python and CUDA version, each
  architecture. A query's matches are the intersection of its filters' bitmaps, its total their
  cardinality; nothing is counted by scanning;
- name filters answered by the database once (a LIKE over the ``name_key`` index), then kept
  as bitmaps of their own, up to NAME_TERMS of them, the least recently used dropped first;
- the ids in each sort order (create time, last update time, name), the id breaking ties. A
  page walks that order in blocks, counting a block's matches with one bitmap intersection,
  and reads ids only in the block where the page begins; from the nearer end.

It follows the catalog through the change log: every write stamps its Change row with the
generation it moved the catalog to, under the catalog state's row lock, so generations commit
in order. A reader that sees generation G re-reads the rows of every image changed since the
index's generation (changes are re-read, not replayed, so doing one twice is harmless) and the
index is then at least as new as G. The image count it holds is checked against the catalog
state's: a catalog changed behind the app's back (rows deleted by hand) is loaded again whole.
"""

import bisect
import itertools
import logging
import threading
import time
import weakref
from array import array
from collections import OrderedDict, defaultdict

from peewee import SQL, Cast, Table, fn
from pyroaring import BitMap

from .db import db, is_mysql
from .models import FRAMEWORK, SCOPE, CatalogState, Change, Image, ImageLabel, Version, VersionArchitecture, fold

log = logging.getLogger("imagesvc.search")

# Filters kept as bitmaps, as ``list_images`` names them; the label kinds they come from.
LABEL_FILTERS = {FRAMEWORK: "framework", SCOPE: "applicable_scope"}
VERSION_FILTERS = ("python_version", "cuda_version")
# Name terms whose matches are kept, the least recently used dropped first. At 1M images a
# common term costs ~300 ms to read (make bench-scale): kept at once, and enough of them that
# terms asked once (image numbers, small bitmaps) do not push the common ones out.
NAME_TERMS = 128
# Ids walked at a time when a page is looked for; a block's matches are counted at once.
BLOCK = 4096
# Matches sorted by their time rather than found by a walk, at most.
SORT_AT_MOST = 4096
TIME_ORDERS = {"createTime": "created", "lastUpdateTime": "updated"}
# Changed images re-read at most per catch-up; more than that, and the index is loaded anew.
CATCH_UP_LIMIT = 5000
# Ids read at a time when loading; characters of a joined list of ids parsed at a time.
LOAD_CHUNK = 50_000
PARSE_PIECE = 1 << 16
# What a change of these leaves as it was: the image's name.
NAME_KEPT = ("status", "version_create", "version_delete")


def for_database():
    """The index of the bound database, up to date with the catalog state it reads."""
    database = db.obj
    index = _indexes.get(database)
    if index is None:
        index = _indexes.setdefault(database, SearchIndex())
    return index


_indexes = weakref.WeakKeyDictionary()
# Stamps are unique in the process, whatever the database.
_stamps = itertools.count(1)


def _epoch(column):
    """A DATETIME column as whole seconds since 1970, computed by the database (stored as UTC)."""
    if is_mysql():
        return fn.UNIX_TIMESTAMP(column).coerce(False)
    return Cast(fn.strftime("%s", column).coerce(False), "INTEGER")


class SearchIndex:
    def __init__(self):
        self._lock = threading.Lock()
        self._clear()

    def _clear(self):
        self.generation = None
        self.ids = BitMap()
        self.facets = defaultdict(BitMap)  # (filter, value) -> ids
        self.names = OrderedDict()  # folded term -> ids whose name_key holds it
        self.created, self.updated = array("q"), array("q")  # seconds, by id
        self.stamps = array("Q")  # by id: see find()
        self.by_created, self.by_updated = array("I"), array("I")  # ids, oldest first
        self.by_name = None  # ids by name_key; None until asked for after names changed

    def load(self, state, heartbeat=None):
        """Load the whole catalog now, at the catalog state ``state`` (read before) or later,
        calling ``heartbeat()`` now and then (a gunicorn worker's, which loads before it serves)."""
        with self._lock:
            self._load(state.generation, heartbeat)

    def find(self, state, filters, sort_by, descending, offset, limit):
        """How many images match every filter, and ``limit`` of them from ``offset`` on in the sort
        order as (id, stamp), as of the catalog state ``state`` (read before) or later.

        An image's stamp is new each time the index reads it, after each change: what was made
        of the image as it was at one stamp may be kept under it (responses.py)."""
        with self._lock:
            self._catch_up(state)
            matches = self._matching(filters)
            return len(matches), [(image_id, self.stamps[image_id])
                                  for image_id in self._page(matches, sort_by, descending, offset, limit)]

    # ----- reading -----

    def _matching(self, filters):
        """The ids of the images matching every filter (``list_images``'s names, none empty)."""
        sets = [self._matches(key, value) for key, value in filters.items()]
        if not sets:
            return self.ids
        sets.sort(key=len)
        result = sets[0]
        for other in sets[1:]:
            if not result:
                break
            result = result & other
        return result

    def _matches(self, key, value):
        if key == "name":
            return self._name_matches(fold(value))
        if key in VERSION_FILTERS:  # the version or a more precise one: 12 -> 12, 12.1, 12.1.1
            return BitMap.union(BitMap(), *(ids for (facet, version), ids in self.facets.items()
                                             if facet == key and (version == value or version.startswith(value + "."))))
        if key in LABEL_FILTERS.values():
            value = fold(value)
        return self.facets.get((key, value), BitMap())

    def _name_matches(self, term):
        found = self.names.get(term)
        if found is not None:
            self.names.move_to_end(term)
            return found
        # Images the index does not hold yet are left for the catch-up that brings them in.
        found = _parse_ids(_rows(_holding(term))[0][0] or "") & self.ids
        self.names[term] = found
        if len(self.names) > NAME_TERMS:
            self.names.popitem(last=False)
        return found

    def _page(self, matches, sort_by, descending, offset, limit):
        """The ids of ``matches`` from ``offset`` on, ``limit`` of them, in the sort order."""
        total = len(matches)
        limit = min(limit, total - offset)
        if limit <= 0:
            return []
        if total <= SORT_AT_MOST and sort_by in TIME_ORDERS:
            # Few matches: sorting them costs less than a walk through every block.
            keys = getattr(self, TIME_ORDERS[sort_by])
            ids = matches.to_array()
            ids = sorted(ids[::-1] if descending else ids, key=keys.__getitem__, reverse=descending)
            return ids[offset:offset + limit]
        order = self._order(sort_by)
        # From the nearer end: the last page costs what the first does.
        if offset > total // 2:
            return _walk(order, matches, descending, total - offset - limit, limit, self.ids)[::-1]
        return _walk(order, matches, not descending, offset, limit, self.ids)

    def _order(self, sort_by):
        if sort_by in TIME_ORDERS:
            return getattr(self, "by_" + TIME_ORDERS[sort_by])
        if self.by_name is None:
            # name_key is unique: its index alone gives the order, no tie to break.
            by_name = Image.select(Image.id).order_by(Image.name_key)
            self.by_name = array("I", (image_id for (image_id,) in _rows(by_name)))
        return self.by_name

    # ----- following the catalog -----

    def _catch_up(self, state):
        """Bring the index up to the catalog state ``state`` (its generation and image count)."""
        if self.generation is None:
            self._load(state.generation)
        elif state.generation > self.generation:
            changes = list(Change.select(Change.image_pk, Change.action).where(
                Change.generation > self.generation, Change.generation <= state.generation).tuples())
            image_ids = sorted({image_pk for image_pk, _ in changes})
            if len(image_ids) > CATCH_UP_LIMIT:
                self._load(state.generation)
            else:
                renamed = sorted({image_pk for image_pk, action in changes if action not in NAME_KEPT})
                self._update(image_ids, renamed, state.generation)
        else:
            return
        if len(self.ids) != state.image_count:
            # Rows read after ``state`` may be newer; with no write since, they must agree.
            now = CatalogState.get_by_id(CatalogState.ROW)
            if now.generation == self.generation and len(self.ids) != now.image_count:
                log.warning("search index: the catalog changed outside the change log; loading it again")
                self._load(now.generation)

    def _load(self, generation, heartbeat=None):
        """Read the whole catalog afresh, a range of ids at a time; ``generation`` was read
        before it (what changes meanwhile is caught up with next)."""
        self._clear()
        last_id = Image.select(fn.MAX(Image.id)).scalar() or 0
        for first in range(1, last_id + 1, LOAD_CHUNK):
            self._set_times(_read_times(range(first, first + LOAD_CHUNK)))
            if heartbeat:
                heartbeat()
            time.sleep(0)  # under gevent, let the worker's other requests run
        self.facets.update(_read_facets(None))
        # Sorting ids in ascending order by key alone puts ties in id order (the sort is stable).
        self.by_created.extend(sorted(self.ids, key=self.created.__getitem__))
        self.by_updated.extend(sorted(self.ids, key=self.updated.__getitem__))
        self.generation = generation

    def _update(self, image_ids, renamed, generation):
        """Read ``image_ids`` (``renamed``: those whose name may have changed) again."""
        times = _read_times(image_ids)
        facets = _read_facets(image_ids)
        names = dict(db.execute_sql(*Image.select(Image.id, Image.name_key).where(Image.id.in_(renamed)).sql())
                     .fetchall()) if renamed and self.names else {}
        # From here on, no query: no other request of this process sees the index half done.
        for image_id in image_ids:
            self._remove(image_id)
        self._set_times(times)
        for image_id, _, _ in times:
            for order, keys in self._time_orders():
                bisect.insort(order, image_id, key=_by_time(keys))
        for key, found in facets.items():
            self.facets[key] |= found
        if renamed:
            self.by_name = None  # read again when next asked for
        for term, ids in self.names.items():
            for image_id in renamed:
                if term in names.get(image_id, ""):
                    ids.add(image_id)
                else:
                    ids.discard(image_id)
        self.generation = generation

    def _set_times(self, rows):
        """Add the images of ``rows``: (id, created, last updated)."""
        for keys in (self.created, self.updated, self.stamps):
            if rows and len(keys) <= rows[-1][0]:
                keys.extend(bytes(keys.itemsize * (rows[-1][0] + 1 - len(keys))))
        for image_id, created, updated in rows:
            self.ids.add(image_id)
            self.created[image_id], self.updated[image_id] = created, updated
            self.stamps[image_id] = next(_stamps)

    def _remove(self, image_id):
        if image_id not in self.ids:
            return
        self.ids.discard(image_id)
        for ids in self.facets.values():
            ids.discard(image_id)
        for order, keys in self._time_orders():
            del order[bisect.bisect_left(order, (keys[image_id], image_id), key=_by_time(keys))]

    def _time_orders(self):
        """Each order by time with the times it is sorted by."""
        return (self.by_created, self.created), (self.by_updated, self.updated)


def _by_time(keys):
    """The sort key of an id in an order by time: its time in ``keys``, then the id."""
    return lambda image_id: (keys[image_id], image_id)


def _walk(order, matches, forward, skip, limit, every):
    """``limit`` ids of ``matches`` in ``order`` (or backwards), after the first ``skip``."""
    everything = len(matches) == len(every)
    found = []
    size = len(order)
    starts = range(0, size, BLOCK) if forward else range(size - (size % BLOCK or BLOCK), -1, -BLOCK)
    for start in starts:
        block = order[start:start + BLOCK]
        count = len(block) if everything else matches.intersection_cardinality(BitMap(block))
        if skip >= count:
            skip -= count
            continue
        for image_id in (block if forward else reversed(block)):
            if everything or image_id in matches:
                if skip:
                    skip -= 1
                    continue
                found.append(image_id)
                if len(found) == limit:
                    return found
    return found


# SQLite's trigram index of names (migration 0006).
IMAGE_NAME = Table("image_name").bind(db)


def _holding(term):
    """The query of the ids, joined, of the images whose folded name holds the folded ``term``.

    On SQLite a term of three characters or more, with no LIKE wildcard in it, is looked up in
    the trigram index; anything else reads every name from the name_key index (peewee escapes
    the wildcards)."""
    if not is_mysql() and len(term) >= 3 and not any(wildcard in term for wildcard in "%_\\"):
        names = IMAGE_NAME.c.name_key
        return IMAGE_NAME.select(fn.GROUP_CONCAT(IMAGE_NAME.c.rowid)).where(names ** f"%{term}%")
    return Image.select(fn.GROUP_CONCAT(Image.id).coerce(False)).where(Image.name_key.contains(term))


def _of(column, image_ids):
    """``column`` is one of ``image_ids``: a list, a range of ids, or None for all of them."""
    if image_ids is None:
        return SQL("1 = 1")
    if isinstance(image_ids, range):
        return column.between(image_ids.start, image_ids.stop - 1)
    return column.in_(image_ids)


def _rows(query):
    """The rows of ``query`` as the driver gives them: the values need no conversion, and
    peewee's model rows would cost more than the rest of a load."""
    return db.execute_sql(*query.sql()).fetchall()


def _read_times(image_ids):
    """(id, created, last updated) of the images ``image_ids``, in id order."""
    return _rows(Image.select(Image.id, _epoch(Image.create_time), _epoch(Image.last_update_time))
                 .where(_of(Image.id, image_ids)).order_by(Image.id))


def _read_facets(image_ids):
    """The bitmap of each filter value the images ``image_ids`` have, by (filter, value).

    For the whole catalog (None), one row per value, its ids joined into one text by the
    database: a few rows rather than millions (a million images make texts of a few MB: MySQL's
    limit is raised to fit, db.py). For a few images, a row per image and value.
    """
    whole = image_ids is None

    def by_value(model, facet, value, image, *where):
        """(facet, value, ids) rows of ``model``: ``facet`` names what ``value`` is."""
        ids = fn.GROUP_CONCAT(image.distinct()).coerce(False) if whole else image
        query = model.select(facet, value, ids).where(_of(image, image_ids), *where)
        return query.group_by(facet, value) if whole else query

    queries = [
        by_value(Image, SQL("'chip_type'"), Image.chip_type, Image.id),
        by_value(Image, SQL("'status'"), Image.status, Image.id),
        by_value(Image, SQL("'image_type'"), Image.type, Image.id),
        by_value(ImageLabel, ImageLabel.kind, ImageLabel.key, ImageLabel.image),
        *(by_value(Version, SQL(f"'{column.name}'"), column, Version.image, column.is_null(False))
          for column in (Version.python_version, Version.cuda_version)),
        by_value(VersionArchitecture, SQL("'architecture'"), VersionArchitecture.architecture,
                 VersionArchitecture.image),
    ]
    facets = defaultdict(BitMap)
    for query in queries:
        for facet, value, ids in _rows(query):
            key = LABEL_FILTERS.get(facet, facet), value
            if whole:
                facets[key] = _parse_ids(ids)
            else:
                facets[key].add(ids)
    return facets


def _parse_ids(joined):
    """The ids in a comma-joined text, parsed a piece at a time: a list of a million
    numbers' texts would cost more memory than the whole index."""
    found = BitMap()
    start = 0
    while start < len(joined):
        end = joined.find(",", start + PARSE_PIECE)
        end = len(joined) if end < 0 else end
        found.update(map(int, joined[start:end].split(",")))
        start = end + 1
    return found
