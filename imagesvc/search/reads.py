"""Every query the search index makes, its rows read as the driver gives them (index.py)."""

import functools
import operator
from array import array
from collections import defaultdict

from peewee import JOIN, SQL, Cast, Table, fn
from playhouse.sqlite_ext import match
from pyroaring import BitMap

from ..db import db, is_mysql
from ..models import FRAMEWORK, SCOPE, CatalogState, Change, Image, ImageLabel, Version, VersionArchitecture

# Filters kept as bitmaps, as ``list_images`` names them; the label kinds they come from.
LABEL_FILTERS = {FRAMEWORK: "framework", SCOPE: "applicable_scope"}
# Ids read at a time when loading; characters of a joined list of ids parsed at a time.
LOAD_CHUNK = 50_000
PARSE_PIECE = 1 << 16
# SQLite's trigram index of names (migration 0006), its trigrams (0008), and their length.
IMAGE_NAME = Table("image_name").bind(db)
IMAGE_NAME_TRIGRAMS = Table("image_name_trigrams").bind(db)
TRIGRAM = 3


def catalog_state():
    """The catalog state row as it is now (a check seldom made: plain peewee is enough)."""
    return CatalogState.get_by_id(CatalogState.ROW)


def changes(after, upto):
    """(image id, action, created, last updated, folded name) of every change after the
    generation ``after``, up to ``upto``: the image's columns as they are now (None once it is
    deleted), read in the same round trip, which the readers of a worker wait for after a write."""
    return _rows(Change.select(Change.image_pk, Change.action, _epoch(Image.create_time),
                               _epoch(Image.last_update_time), Image.name_key)
                 .join(Image, JOIN.LEFT_OUTER, on=Image.id == Change.image_pk)
                 .where(Change.generation > after, Change.generation <= upto))


def times_by_chunk():
    """The times of every image (as ``times`` reads them), LOAD_CHUNK ids at a time."""
    last_id = Image.select(fn.MAX(Image.id)).scalar() or 0
    for first in range(1, last_id + 1, LOAD_CHUNK):
        yield times(range(first, first + LOAD_CHUNK))


def times(image_ids):
    """(id, created, last updated) of the images ``image_ids``, in id order."""
    return _rows(Image.select(Image.id, _epoch(Image.create_time), _epoch(Image.last_update_time))
                 .where(_of(Image.id, image_ids)).order_by(Image.id))


def facets(image_ids):
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
    found = defaultdict(BitMap)
    if whole:  # a query at a time: the texts of all of them at once take tens of MB at 1M images
        for query in queries:
            for facet, value, ids in _rows(query):
                found[LABEL_FILTERS.get(facet, facet), value] = _parse_ids(ids)
    else:  # one statement: a round trip to MySQL costs more than the union (+ is UNION ALL)
        for facet, value, image_id in _rows(functools.reduce(operator.add, queries)):
            found[LABEL_FILTERS.get(facet, facet), value].add(image_id)
    return found


def name_keys():
    """The folded name of every image, by id."""
    return dict(_rows(Image.select(Image.id, Image.name_key)))


def ids_by_name():
    """Every image id, in name order."""
    # name_key is unique: its index alone gives the order, no tie to break.
    return array("I", (image_id for (image_id,) in _rows(Image.select(Image.id).order_by(Image.name_key))))


def trigrams():
    """Every trigram of a name in SQLite's trigram index, as the names hold it: the index folds
    no character of a folded name (tests/test_search_index.py). About 2,200 of them in the bench's
    catalog at 100k and at 1M images, read in 0.15 s and 1.2 s (FTS5 counts as it lists)."""
    return {term for (term,) in _rows(IMAGE_NAME_TRIGRAMS.select(IMAGE_NAME_TRIGRAMS.c.term))}


def trigrams_of(name):
    """The trigrams of a (folded) name."""
    return {name[start:start + TRIGRAM] for start in range(len(name) - TRIGRAM + 1)}


def ids_holding(term, trigrams):
    """The ids of the images whose folded name holds the folded ``term``, on SQLite (MySQL's are
    found in the process: names.py); ``trigrams``: every trigram of a name (``trigrams()``).

    The trigram index answers alone. A term of three characters or more is looked up as a phrase:
    ``LIKE`` would read each candidate's name from the image table (970 ms against 100 ms for
    "pytorch" at a million images). A term of two lies in one of the trigrams of a name of three
    characters or more, and is the whole of a shorter name holding it: the trigrams holding it
    are asked together, and that name looked up (39 ms for "推理" at a million images, where
    reading every name took 200 ms). Names and terms come folded, and the index folds none of
    their characters, so these find exactly the names holding the term. A term of one character
    reads every name from the name_key index (peewee escapes the LIKE wildcards)."""
    if len(term) >= TRIGRAM:
        return _ids_matching(_phrase(term))
    if len(term) == TRIGRAM - 1:
        holding = [trigram for trigram in trigrams if term in trigram]
        found = _ids_matching(" OR ".join(map(_phrase, holding))) if holding else BitMap()
        found.update(image_id for (image_id,) in _rows(Image.select(Image.id).where(Image.name_key == term)))
        return found
    return _joined_ids(Image.select(fn.GROUP_CONCAT(Image.id).coerce(False)).where(Image.name_key.contains(term)))


def _phrase(text):
    """``text`` as an FTS5 phrase: quoted, every character literal."""
    return '"' + text.replace('"', '""') + '"'


def _ids_matching(query):
    """The ids of the names the trigram index finds for the FTS5 ``query``."""
    names = IMAGE_NAME.c.name_key
    return _joined_ids(IMAGE_NAME.select(fn.GROUP_CONCAT(IMAGE_NAME.c.rowid)).where(match(names, query)))


def _joined_ids(query):
    """The ids a query of one ``GROUP_CONCAT`` joined (none: NULL)."""
    return _parse_ids(_rows(query)[0][0] or "")


def _epoch(column):
    """A DATETIME column as whole seconds since 1970, computed by the database (stored as UTC)."""
    if is_mysql():
        return fn.UNIX_TIMESTAMP(column).coerce(False)
    return Cast(fn.strftime("%s", column).coerce(False), "INTEGER")


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
