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
import logging
import threading
import time
import weakref
from array import array
from collections import OrderedDict, defaultdict

from peewee import Cast, fn
from pyroaring import BitMap

from .db import db, is_mysql
from .models import FRAMEWORK, SCOPE, CatalogState, Change, Image, ImageLabel, Version, VersionArchitecture, fold

log = logging.getLogger("imagesvc.search")

# Filters kept as bitmaps, as ``list_images`` names them; the label kinds they come from.
LABEL_FILTERS = {FRAMEWORK: "framework", SCOPE: "applicable_scope"}
VERSION_FILTERS = ("python_version", "cuda_version")
# Name terms whose matches are kept, the least recently used dropped first.
NAME_TERMS = 256
# Ids walked at a time when a page is looked for; a block's matches are counted at once.
BLOCK = 4096
# Changed images re-read at most per catch-up; more than that, and the index is loaded anew.
CATCH_UP_LIMIT = 5000
# Changed images read per query when catching up; ids read at a time when loading.
LOAD_BATCH = 500
LOAD_CHUNK = 20_000


def for_database():
    """The index of the bound database, up to date with the catalog state it reads."""
    database = db.obj
    index = _indexes.get(database)
    if index is None:
        index = _indexes.setdefault(database, SearchIndex())
    return index


_indexes = weakref.WeakKeyDictionary()


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
        self.name_hashes = array("q")  # hash of name_key, by id: tells when a name changed
        self.by_created, self.by_updated = array("I"), array("I")  # ids, oldest first
        self.by_name = None  # ids by name_key; None until asked for after names changed

    def follow(self, state):
        """Bring the index up to the catalog state ``state`` (read before), or later."""
        with self._lock:
            self._catch_up(state)

    def find(self, state, filters, sort_by, descending, offset, limit):
        """How many images match every filter, and the ids of ``limit`` of them from ``offset`` on in the
        sort order, as of the catalog state ``state`` (read before) or later."""
        with self._lock:
            self._catch_up(state)
            matches = self._matching(filters)
            return len(matches), self._page(matches, sort_by, descending, offset, limit)

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
        if found is None:
            # The folded name holds the folded term (peewee escapes its LIKE wildcards). Images
            # the index does not hold yet are left for the catch-up that brings them in.
            holding = Image.select(Image.id).where(Image.name_key.contains(term))
            found = BitMap(image_id for (image_id,) in holding.tuples()) & self.ids
            self.names[term] = found
            if len(self.names) > NAME_TERMS:
                self.names.popitem(last=False)
        else:
            self.names.move_to_end(term)
        return found

    def _page(self, matches, sort_by, descending, offset, limit):
        """The ids of ``matches`` from ``offset`` on, ``limit`` of them, in the sort order."""
        order = self._order(sort_by)
        total = len(matches)
        limit = min(limit, total - offset)
        if limit <= 0:
            return []
        # From the nearer end: the last page costs what the first does.
        forward = not descending
        if offset > total // 2:
            forward, offset = not forward, total - offset - limit
            return _walk(order, matches, forward, offset, limit, self.ids)[::-1]
        return _walk(order, matches, forward, offset, limit, self.ids)

    def _order(self, sort_by):
        if sort_by == "createTime":
            return self.by_created
        if sort_by == "lastUpdateTime":
            return self.by_updated
        if self.by_name is None:
            # name_key is unique: its index alone gives the order, no tie to break.
            by_name = Image.select(Image.id).order_by(Image.name_key).tuples()
            self.by_name = array("I", (image_id for (image_id,) in by_name))
        return self.by_name

    # ----- following the catalog -----

    def _catch_up(self, state):
        """Bring the index up to the catalog state ``state`` (its generation and image count)."""
        if self.generation is None:
            self._load(state.generation)
        elif state.generation > self.generation:
            changed = Change.select(Change.image_pk).where(Change.generation > self.generation,
                                                           Change.generation <= state.generation)
            image_ids = sorted({image_pk for (image_pk,) in changed.tuples()})
            if len(image_ids) > CATCH_UP_LIMIT:
                self._load(state.generation)
            else:
                rows = [_read_rows(image_ids[start:start + LOAD_BATCH])
                        for start in range(0, len(image_ids), LOAD_BATCH)]
                self._update(image_ids, rows, state.generation)
        else:
            return
        if len(self.ids) != state.image_count:
            # Rows read after ``state`` may be newer; with no write since, they must agree.
            now = CatalogState.get_by_id(CatalogState.ROW)
            if now.generation == self.generation and len(self.ids) != now.image_count:
                log.warning("search index: the catalog changed outside the change log; loading it again")
                self._load(now.generation)

    def _load(self, generation):
        """Read the whole catalog afresh, a range of ids at a time; ``generation`` was read
        before it (what changes meanwhile is caught up with next)."""
        self._clear()
        last_id = Image.select(fn.MAX(Image.id)).scalar() or 0
        for first in range(1, last_id + 1, LOAD_CHUNK):
            self._set(_read_rows(range(first, first + LOAD_CHUNK)))
            time.sleep(0)  # under gevent, let the worker's other requests run
        for order, keys in ((self.by_created, self.created), (self.by_updated, self.updated)):
            order.extend(sorted(self.ids, key=lambda i, k=keys: (k[i], i)))
        self.generation = generation

    def _update(self, image_ids, batches, generation):
        """Replace what the index holds of ``image_ids`` with the rows read of them.

        Runs without a query, so no other request of this process sees it half done.
        """
        before = {image_id: self.name_hashes[image_id] if image_id in self.ids else None for image_id in image_ids}
        for image_id in image_ids:
            self._remove(image_id)
        names = {}
        for rows in batches:
            names.update(self._set(rows))
        for image_id in names:
            for order, keys in ((self.by_created, self.created), (self.by_updated, self.updated)):
                bisect.insort(order, image_id, key=lambda i, k=keys: (k[i], i))
        if any(image_id not in names or hash(names[image_id]) != name_hash for image_id, name_hash in before.items()):
            self.by_name = None  # read again when next asked for
        for term, ids in self.names.items():
            for image_id in image_ids:
                if term in names.get(image_id, ""):
                    ids.add(image_id)
                else:
                    ids.discard(image_id)
        self.generation = generation

    def _set(self, rows):
        """Add the images of ``rows`` (from ``_read_rows``); returns their name keys by id."""
        images, labels, versions, architectures = rows
        names = {}
        for image_id, chip_type, status, image_type, created, updated, name_key in images:
            self.ids.add(image_id)
            for keys in (self.created, self.updated, self.name_hashes):
                if len(keys) <= image_id:
                    keys.extend(bytes(keys.itemsize * (image_id + 1 - len(keys))))
            self.created[image_id], self.updated[image_id] = created, updated
            self.name_hashes[image_id] = hash(name_key)
            names[image_id] = name_key
            self.facets["chip_type", chip_type].add(image_id)
            self.facets["status", status].add(image_id)
            self.facets["image_type", image_type].add(image_id)
        for image_id, kind, key in labels:
            self.facets[LABEL_FILTERS[kind], key].add(image_id)
        for image_id, python_version, cuda_version in versions:
            if python_version:
                self.facets["python_version", python_version].add(image_id)
            if cuda_version:
                self.facets["cuda_version", cuda_version].add(image_id)
        for image_id, architecture in architectures:
            self.facets["architecture", architecture].add(image_id)
        return names

    def _remove(self, image_id):
        if image_id not in self.ids:
            return
        self.ids.discard(image_id)
        for ids in self.facets.values():
            ids.discard(image_id)
        for order, keys in ((self.by_created, self.created), (self.by_updated, self.updated)):
            del order[bisect.bisect_left(order, (keys[image_id], image_id), key=lambda i, k=keys: (k[i], i))]


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


def _read_rows(image_ids):
    """What the index holds of the images ``image_ids`` (a list or a range), as four lists of
    tuples: images, labels, versions and architectures."""
    def of(column):
        if isinstance(image_ids, range):
            return column.between(image_ids.start, image_ids.stop - 1)
        return column.in_(image_ids)

    images = Image.select(Image.id, Image.chip_type, Image.status, Image.type, _epoch(Image.create_time),
                          _epoch(Image.last_update_time), Image.name_key).where(of(Image.id))
    labels = ImageLabel.select(ImageLabel.image, ImageLabel.kind, ImageLabel.key).where(of(ImageLabel.image))
    versions = Version.select(Version.image, Version.python_version, Version.cuda_version).where(of(Version.image))
    architectures = (VersionArchitecture.select(VersionArchitecture.image, VersionArchitecture.architecture)
                     .where(of(VersionArchitecture.image)))
    return [list(query.tuples()) for query in (images, labels, versions, architectures)]
