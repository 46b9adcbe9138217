"""The search index of one database: the filters' bitmaps and the ids in each sort order, kept
up to date with the catalog through its change log (search/__init__.py tells how)."""

import logging
import threading
import time
from array import array
from collections import OrderedDict, defaultdict

from pyroaring import BitMap

from ..db import is_mysql
from ..models import fold
from . import pages, reads
from .names import NameSearch
from .reads import LABEL_FILTERS

log = logging.getLogger("imagesvc.search")

# Filters of versions: each matches its version and the more precise ones.
VERSION_FILTERS = ("python_version", "cuda_version")
# Name terms whose matches are kept, the least recently used dropped first. At 1M images a
# common term costs up to ~100 ms to read, one of a single character ~120 ms: kept at once, and
# enough of them that terms asked once (image numbers, small bitmaps) do not push the common
# ones out.
NAME_TERMS = 128
TIME_ORDERS = {"createTime": "created", "lastUpdateTime": "updated"}
# Changed images re-read at most per catch-up; more than that, and the index is loaded anew.
CATCH_UP_LIMIT = 5000
# What a change of these leaves as it was: the image's name.
NAME_KEPT = ("status", "version_create", "version_delete")


class SearchIndex:
    def __init__(self):
        self._lock = threading.Lock()
        self._clear()

    def _clear(self):
        self.generation = None
        self.ids = BitMap()
        self.facets = defaultdict(BitMap)  # (filter, value) -> ids
        self.names = OrderedDict()  # folded term -> ids whose name_key holds it
        self.name_search = None  # MySQL's: every name_key (names.py)
        self.trigrams = None  # SQLite's: every trigram of a name (reads.trigrams)
        self.created, self.updated = array("q"), array("q")  # seconds, by id
        self.by_created, self.by_updated = _time_order((), self.created), _time_order((), self.updated)  # oldest first
        self.by_name = None  # ids by name_key; None until asked for after names changed

    def load(self, state, heartbeat=None):
        """Load the whole catalog now, at the catalog state ``state`` (read before) or later,
        calling ``heartbeat()`` now and then (a gunicorn worker's, which loads before it serves)."""
        with self._lock:
            self._load(state.generation, heartbeat)

    def find(self, state, filters, sort_by, descending, offset, limit):
        """How many images match every filter, and the ids of ``limit`` of them from ``offset`` on
        in the sort order, as of the catalog state ``state`` (read before) or later."""
        with self._lock:
            self._catch_up(state)
            matches = self._matching(filters)
            return len(matches), list(self._page(matches, sort_by, descending, offset, limit))

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
        found = (self.name_search.find(term) if self.name_search else reads.ids_holding(term, self.trigrams)) & self.ids
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
        if total <= pages.SORT_AT_MOST and sort_by in TIME_ORDERS:
            # Few matches: sorting them costs less than a walk through every block.
            return pages.sorted_by_time(matches, getattr(self, TIME_ORDERS[sort_by]), descending, offset, limit)
        return pages.walked(self._order(sort_by), matches, descending, offset, limit, self.ids)

    def _order(self, sort_by):
        if sort_by in TIME_ORDERS:
            return getattr(self, "by_" + TIME_ORDERS[sort_by])
        if self.by_name is None:
            self.by_name = pages.Order(reads.ids_by_name())
        return self.by_name

    # ----- following the catalog -----

    def _catch_up(self, state):
        """Bring the index up to the catalog state ``state`` (its generation and image count)."""
        if self.generation is None:
            self._load(state.generation)
        elif state.generation > self.generation:
            changes = reads.changes(self.generation, state.generation)
            image_ids = sorted({image_pk for image_pk, *_ in changes})
            if len(image_ids) > CATCH_UP_LIMIT:
                self._load(state.generation)
            else:
                self._update(image_ids, changes, state.generation)
        else:
            return
        if len(self.ids) != state.image_count:
            # Rows read after ``state`` may be newer; with no write since, they must agree.
            now = reads.catalog_state()
            if now.generation == self.generation and len(self.ids) != now.image_count:
                log.warning("search index: the catalog changed outside the change log; loading it again")
                self._load(now.generation)

    def _load(self, generation, heartbeat=None):
        """Read the whole catalog afresh, a range of ids at a time; ``generation`` was read
        before it (what changes meanwhile is caught up with next)."""
        self._clear()
        for rows in reads.times_by_chunk():
            self._set_times(rows)
            if heartbeat:
                heartbeat()
            time.sleep(0)  # under gevent, let the worker's other requests run
        self.facets.update(reads.facets(None))
        if is_mysql():
            self.name_search = NameSearch(reads.name_keys())
        else:
            self.trigrams = reads.trigrams()
        self.by_created, self.by_updated = _time_order(self.ids, self.created), _time_order(self.ids, self.updated)
        self.generation = generation

    def _update(self, image_ids, changes, generation):
        """Take in the images ``image_ids`` of ``changes`` (``reads.changes``) as they are now, and
        read their facets."""
        now = {image_pk: (created, updated, name)  # of the images not deleted
               for image_pk, _, created, updated, name in changes if created is not None}
        times = [(image_id, *now[image_id][:2]) for image_id in image_ids if image_id in now]
        renamed = sorted({image_pk for image_pk, action, *_ in changes if action not in NAME_KEPT})
        names = {image_id: now[image_id][2] for image_id in renamed if image_id in now}
        facets = reads.facets(image_ids)
        # From here on, no query: no other request of this process sees the index half done.
        for image_id in image_ids:
            self._remove(image_id)
        self._set_times(times)
        for image_id, _, _ in times:
            for order in self._time_orders():
                order.insert(image_id)
        for key, found in facets.items():
            self.facets[key] |= found
        if renamed:
            self.by_name = None  # read again when next asked for
        if self.name_search:
            self.name_search.update(names, set(image_ids).difference(now))
        if self.trigrams is not None:  # those of names gone stay: a trigram that no name holds finds none
            for name in names.values():
                self.trigrams |= reads.trigrams_of(name)
        for term, ids in self.names.items():
            for image_id in renamed:
                if term in names.get(image_id, ""):
                    ids.add(image_id)
                else:
                    ids.discard(image_id)
        self.generation = generation

    def _set_times(self, rows):
        """Add the images of ``rows``: (id, created, last updated)."""
        for keys in (self.created, self.updated):
            if rows and len(keys) <= rows[-1][0]:
                keys.extend(bytes(keys.itemsize * (rows[-1][0] + 1 - len(keys))))
        for image_id, created, updated in rows:
            self.ids.add(image_id)
            self.created[image_id], self.updated[image_id] = created, updated

    def _remove(self, image_id):
        if image_id not in self.ids:
            return
        self.ids.discard(image_id)
        for ids in self.facets.values():
            ids.discard(image_id)
        for order in self._time_orders():
            order.remove(image_id)

    def _time_orders(self):
        """Each order by time."""
        return self.by_created, self.by_updated


def _time_order(ids, times):
    """``ids`` in the order of their ``times``, then of id: oldest first."""
    # Sorting ids in ascending order by time alone puts ties in id order (the sort is stable).
    return pages.Order(sorted(ids, key=times.__getitem__), times)
