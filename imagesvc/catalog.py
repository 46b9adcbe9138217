"""The catalog's queries: images and versions read and written, their history, the spawner
feed, and whole-catalog import and export.

Every write runs in one transaction that locks the image it changes (``BEGIN IMMEDIATE`` on
SQLite, ``SELECT … FOR UPDATE`` on MySQL), records a Change row and moves the CatalogState row
last (so locks are always taken in the same order). Unique indexes settle races: an
IntegrityError becomes ``errors.Conflict`` naming the field.

Each write function is the unit of work ``db.retry_when_busy`` runs again after a MySQL
deadlock or lock wait timeout: everything it changes (the rows, the Change row, the generation)
is inside its one transaction, and what it does before the transaction it may do twice.
"""

import re
import secrets
from collections import defaultdict, namedtuple
from contextlib import contextmanager

from peewee import IntegrityError, chunked

from . import search
from .db import db, retry_when_busy
from .errors import Conflict, ImageNotFound, PreconditionFailed, VersionNotFound
from .models import (
    FRAMEWORK,
    SCOPE,
    CatalogState,
    Change,
    Image,
    ImageLabel,
    Version,
    VersionArchitecture,
    fold,
    utcnow,
)
from .schemas import PAGE_SIZE_MAX, CatalogImageSchema, VersionCreateSchema
from .statements import Statement, param, update

# Who made a change, for its history: the token's name and the request's id.
Actor = namedtuple("Actor", "token_name request_id", defaults=(None, None))
NOBODY = Actor()  # changes made in-process (tests, embedding tools) without a token

# The unique index behind each Conflict field, as named in the database's error.
CONFLICT_FIELDS = (("external_id_key", "imageId"), ("name_key", "name"), ("version_key", "version"))
# Versions listed without paging: the newest ones, up to this many.
VERSIONS_UNPAGED_LIMIT = 1000
SUMMARY_FIELDS = [field for field in Image._meta.sorted_fields if field is not Image.introduction]
LABEL_FIELDS = {FRAMEWORK: "frameworks", SCOPE: "applicable_scopes"}
# An image's and a version's content as the API names it: history snapshots and catalog files.
IMAGE_CONTENT = CatalogImageSchema(exclude=("versions",))
VERSION_CONTENT = VersionCreateSchema()


@contextmanager
def _transaction(conflict_path=""):
    try:
        with db.atomic():
            yield
    except IntegrityError as exc:
        raise _conflict(exc, conflict_path) from exc


def _conflict(exc, path=""):
    message = str(exc)
    # MySQL names the index: "Duplicate entry 'x' for key 'image_name_key'"; SQLite the columns.
    index = re.search(r"for key '([^']+)'", message)
    where = index.group(1) if index else message
    for key_column, field in CONFLICT_FIELDS:
        if key_column in where:
            return Conflict(field, path + field)
    return exc


def _pk(image_id):
    """The stored id for the id in a URL; anything that cannot be one is simply not found."""
    if not (image_id.isascii() and image_id.isdigit() and len(image_id) < 19):
        raise ImageNotFound()
    return int(image_id)


IMAGE_BY_ID = Statement(lambda: Image.select().where(Image.id == param(Image.id)))
# Locked for the transaction, where the backend can (MySQL); SQLite's write lock covers it.
IMAGE_BY_ID_LOCKED = Statement(lambda: IMAGE_BY_ID.build().for_update() if db.obj.for_update else IMAGE_BY_ID.build())


def _image_by_id(image_id, lock=False):
    """The image with the id in a URL, or None; with ``lock``, locked for this transaction."""
    return (IMAGE_BY_ID_LOCKED if lock else IMAGE_BY_ID).first(id=_pk(image_id))


def _version_by_name(image_pk, version):
    """The image's version called ``version`` (ignoring case), or None."""
    return Version.select().where(Version.image == image_pk, Version.version_key == fold(version)).first()


def _get_for_update(image_id, if_match=None):
    """The image, locked for this transaction; 404 if absent, 412 if ``if_match`` is stale."""
    image = _image_by_id(image_id, lock=True)
    if image is None:
        raise ImageNotFound()
    if if_match and not if_match.contains(image.etag):
        raise PreconditionFailed()
    return image


def _touch(image):
    """Mark a change to the image, its status or its versions."""
    image.last_update_time = utcnow()
    image.revision += 1


# Every write's last statements, compiled once (statements.py): they are most of a status change.
ADVANCE = Statement(lambda: CatalogState.update(
    generation=CatalogState.generation + 1,
    image_count=CatalogState.image_count + param(CatalogState.image_count, "images_added"),
).where(CatalogState.id == CatalogState.ROW))
NEW_CHANGE = Statement(lambda: Change.insert({field: param(field) for field in Change._meta.sorted_fields
                                              if field is not Change.id}))


def _record(action, image, actor, before=None, after=None, version=None, images_added=0):
    """Move the catalog on (its generation, and its image count by ``images_added``), then log the
    change stamped with the generation it moved to: the last locks a write takes."""
    ADVANCE.execute(images_added=images_added)
    NEW_CHANGE.execute(
        action=action, image_pk=image.id, external_id=image.external_id, external_id_key=fold(image.external_id),
        image_name=image.name, version=version, before=before, after=after,
        token_name=actor.token_name, request_id=actor.request_id, time=utcnow(), generation=generation(),
    )


def _changed(before, after):
    """The fields that differ, as (before, after) dicts holding only those fields."""
    keys = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


def _store_labels(image, kinds, new=False):
    """Replace the filter rows of ``kinds`` with the image's current lists.

    A ``new`` image has none to delete, and must not try: on InnoDB that DELETE gap-locks the
    end of the index, and two concurrent creates then deadlock on their inserts.
    """
    kinds = list(kinds)
    if not kinds:
        return
    if not new:
        ImageLabel.delete().where(ImageLabel.image == image.id, ImageLabel.kind.in_(kinds)).execute()
    rows = [(image.id, kind, fold(value)) for kind in kinds for value in getattr(image, LABEL_FIELDS[kind])]
    if rows:
        ImageLabel.insert_many(rows, fields=[ImageLabel.image, ImageLabel.kind, ImageLabel.key]).execute()


CATALOG_STATE = Statement(lambda: CatalogState.select().where(CatalogState.id == CatalogState.ROW))


def _state():
    return CATALOG_STATE.first()


def _page(read, page_no, page_size, total):
    """One page of ``total`` rows, which ``read(offset, limit)`` reads; past the end, no query."""
    offset = (page_no - 1) * page_size
    items = read(offset, page_size) if offset < total else []
    return {"list": items, "total": total, "page_no": page_no, "page_size": page_size}


def _read(query):
    """``read`` for ``_page``: the rows of ``query`` at an offset."""
    return lambda offset, limit: list(query.offset(offset).limit(limit))


def _add_version(image, fields):
    version = Version(image=image.id, **fields)
    version.image_address = version.image_address or image.image_address
    version.create_time = version.create_time or utcnow()
    version.save(force_insert=True)
    if version.architectures:
        VersionArchitecture.insert_many(
            [(version.id, image.id, arch) for arch in version.architectures],
            fields=[VersionArchitecture.version, VersionArchitecture.image, VersionArchitecture.architecture],
        ).execute()
    return version


def _delete(image, action, actor):
    VersionArchitecture.delete().where(VersionArchitecture.image == image.id).execute()
    Version.delete().where(Version.image == image.id).execute()
    ImageLabel.delete().where(ImageLabel.image == image.id).execute()
    image.delete_instance()
    _record(action, image, actor, before=IMAGE_CONTENT.dump(image), images_added=-1)


def is_new():
    """True while the catalog has never held an image (no image, and no history of one)."""
    return not Image.select().exists() and not Change.select().exists()


def generation():
    """The catalog's generation: it moves with every write."""
    return _state().generation


# ----- images -----

def list_images(page_no=1, page_size=10, sort_by="lastUpdateTime", order="desc", **filters):
    """One page of the images matching every given filter, and their total (search.py).

    Filters: name, framework, chip_type, applicable_scope, status, image_type, python_version,
    cuda_version, architecture; a missing or empty one is not applied. The page's images come
    as (id, stamp) (search.py); ``image_summaries`` reads them.
    """
    filters = {key: value for key, value in filters.items() if value}
    total, page = search.for_database().find(_state(), filters, sort_by, order == "desc",
                                             (page_no - 1) * page_size, page_size)
    return {"list": page, "total": total, "page_no": page_no, "page_size": page_size}


# A page of images by id, without their introductions; the ids not needed are 0 (no image).
SUMMARIES = Statement(lambda: Image.select(*SUMMARY_FIELDS).where(
    Image.id.in_([param(Image.id, f"id{n}") for n in range(PAGE_SIZE_MAX)])))


def image_summaries(ids):
    """The images ``ids`` (a page at most) as dicts of their columns, by id; one gone meanwhile
    is left out. Dicts, not models: they are only shown, and building models cost a fifth of a
    list request."""
    padded = ids + [0] * (PAGE_SIZE_MAX - len(ids))
    return {image["id"]: image for image in SUMMARIES.dicts(**{f"id{n}": pk for n, pk in enumerate(padded)})}


def load_search_index(heartbeat=None):
    """Load this process's search index now rather than in its first list request."""
    search.for_database().load(_state(), heartbeat)


def get_image(image_id):
    image = _image_by_id(image_id)
    if image is None:
        raise ImageNotFound()
    return image


@retry_when_busy
def create_image(fields, actor=NOBODY):
    now = utcnow()
    image = Image(create_time=now, last_update_time=now, **fields)
    if not image.external_id:
        image.external_id = "img-" + secrets.token_hex(6)
    with _transaction():
        image.save(force_insert=True)
        _store_labels(image, LABEL_FIELDS, new=True)
        _record("create", image, actor, after=IMAGE_CONTENT.dump(image), images_added=1)
    return image


@retry_when_busy
def update_image(image_id, changes, if_match=None, actor=NOBODY):
    """Apply a partial update; lists replace the stored lists."""
    with _transaction():
        image = _get_for_update(image_id, if_match)
        before = IMAGE_CONTENT.dump(image)
        for field, value in changes.items():
            setattr(image, field, value)
        _touch(image)
        image.save()
        _store_labels(image, [kind for kind, field in LABEL_FIELDS.items() if field in changes])
        _record("update", image, actor, *_changed(before, IMAGE_CONTENT.dump(image)))
    return image


@retry_when_busy
def set_status(image_id, status, if_match=None, actor=NOBODY):
    with _transaction():
        image = _get_for_update(image_id, if_match)
        before = image.status
        image.status = status
        _touch(image)
        update(image, Image.status, Image.last_update_time, Image.revision)
        _record("status", image, actor, before={"status": before}, after={"status": status})
    return image


@retry_when_busy
def delete_image(image_id, if_match=None, actor=NOBODY):
    """Delete the image with its versions and labels, all or nothing."""
    with _transaction():
        _delete(_get_for_update(image_id, if_match), "delete", actor)


# ----- versions -----

VERSION_PAGE = Statement(lambda: Version.select().where(Version.image == param(Version.image))
                         .order_by(Version.create_time.desc(), Version.id.desc())
                         .limit(param(Version.id, "limit")).offset(param(Version.id, "offset")))


def list_versions(image_id, page_no=None, page_size=None):
    """The image's versions, newest first: all of them (up to the newest 1000), or one page."""
    image = get_image(image_id)

    def read(offset, limit):
        return VERSION_PAGE.dicts(image=image.id, limit=limit, offset=offset)  # only shown, as _summaries

    # version_count changes in the same transaction as the versions, so it is the true count.
    if page_no is None and page_size is None:
        return {"list": read(0, VERSIONS_UNPAGED_LIMIT), "total": image.version_count}
    return _page(read, page_no or 1, page_size or 10, image.version_count)


def get_version(image_id, version):
    found = _version_by_name(_pk(image_id), version)
    if found is None:
        get_image(image_id)  # which one is missing: the image, or only the version?
        raise VersionNotFound()
    return found


@retry_when_busy
def create_version(image_id, fields, actor=NOBODY):
    with _transaction():
        image = _get_for_update(image_id)
        version = _add_version(image, fields)
        image.version_count += 1
        _touch(image)
        update(image, Image.version_count, Image.last_update_time, Image.revision)
        _record("version_create", image, actor, after=VERSION_CONTENT.dump(version), version=version.version)
    return version


@retry_when_busy
def delete_version(image_id, version, actor=NOBODY):
    with _transaction():
        image = _get_for_update(image_id)
        found = _version_by_name(image.id, version)
        if found is None:
            raise VersionNotFound()
        VersionArchitecture.delete().where(VersionArchitecture.version == found.id).execute()
        found.delete_instance()
        image.version_count -= 1
        _touch(image)
        update(image, Image.version_count, Image.last_update_time, Image.revision)
        _record("version_delete", image, actor, before=VERSION_CONTENT.dump(found), version=found.version)


# ----- history -----

def image_history(image_id, page_no=1, page_size=20):
    """The changes of one image, newest first; they outlive the image."""
    pk = _pk(image_id)
    query = Change.select().where(Change.image_pk == pk)
    total = query.count()
    if not total:
        get_image(image_id)
    return _page(_read(query.order_by(Change.id.desc())), page_no, page_size, total)


def audit(external_id=None, token_name=None, since=None, page_no=1, page_size=20):
    """Every change, newest first, by image (its imageId), token name and time."""
    conditions = []
    if external_id:
        conditions.append(Change.external_id_key == fold(external_id))
    if token_name:
        conditions.append(Change.token_name == token_name)
    if since:
        conditions.append(Change.time >= since)
    query = Change.select().where(*conditions) if conditions else Change.select()
    return _page(_read(query.order_by(Change.id.desc())), page_no, page_size, query.count())


# ----- the spawner feed -----

def feed(applicable_scope=None, limit=1000):
    """The online images (of a scope), newest first, each with its versions, newest first."""
    filters = {"status": "online", "applicable_scope": applicable_scope}
    _, page = search.for_database().find(_state(), {key: value for key, value in filters.items() if value},
                                         "createTime", True, 0, limit)
    found = {image.id: image for image in Image.select(*SUMMARY_FIELDS).where(Image.id.in_([pk for pk, _ in page]))}
    images = [found[pk] for pk, _ in page if pk in found]
    versions = _versions_of(images, newest_first=True)
    for image in images:
        image.versions = versions[image.id]
    return images


def _versions_of(images, newest_first):
    """The versions of ``images`` by image id, in a query per 500 images (never one per image)."""
    by_image = defaultdict(list)
    order = (Version.create_time.desc(), Version.id.desc()) if newest_first else (Version.create_time, Version.id)
    for batch in chunked([image.id for image in images], 500):
        for version in Version.select().where(Version.image.in_(batch)).order_by(*order):
            by_image[version.image_id].append(version)
    return by_image


# ----- catalog files -----

def export_catalog(status=None, image_type=None):
    """Every matching image with its versions (oldest first), for a catalog file."""
    query = Image.select().order_by(Image.external_id_key)
    if status:
        query = query.where(Image.status == status)
    if image_type:
        query = query.where(Image.type == image_type)
    images = list(query)
    versions = _versions_of(images, newest_first=False)
    for image in images:
        image.versions = versions[image.id]
    return images


class _DryRun(Exception):
    """Raised to roll a dry-run import back after it has counted everything."""


def import_catalog(entries, prune=False, dry_run=False, actor=NOBODY, progress=None):
    """Upsert validated catalog entries by imageId in one transaction.

    New images are created, changed ones updated, new versions added, identical ones left
    alone; with ``prune`` images missing from the entries are deleted. A dry run does it all
    and rolls back. ``progress(n)`` is called as entries are done.
    """
    reported = 0  # entries passed to ``progress``: a run again after a deadlock repeats none

    def done(count):
        nonlocal reported
        if progress and count > reported:
            progress(count - reported)
            reported = count

    return _import(entries, prune, dry_run, actor, done)


@retry_when_busy
def _import(entries, prune, dry_run, actor, done):
    counts = {"created": 0, "updated": 0, "unchanged": 0, "deleted": 0}
    try:
        with db.atomic():
            for index, entry in enumerate(entries):
                with _transaction(conflict_path=f"images[{index}]."):
                    counts[_import_entry(entry, actor)] += 1
                done(index + 1)
            if prune:
                keep = {fold(entry["external_id"]) for entry in entries}
                for image in Image.select().order_by(Image.id):
                    if image.external_id_key not in keep:
                        _delete(image, "import", actor)
                        counts["deleted"] += 1
            if dry_run:
                raise _DryRun()
    except _DryRun:
        pass
    return {**counts, "dry_run": dry_run}


def _import_entry(entry, actor):
    """Create or update one image from its entry; returns which of the counts it adds to."""
    fields = {key: value for key, value in entry.items() if key != "versions"}
    image = Image.get_or_none(Image.external_id_key == fold(fields["external_id"]))
    if image is None:
        now = utcnow()
        image = Image(create_time=now, last_update_time=now, **fields)
        image.save(force_insert=True)
        _store_labels(image, LABEL_FIELDS, new=True)
        for version in entry["versions"]:
            _add_version(image, version)
        image.version_count = len(entry["versions"])
        image.save(only=[Image.version_count])
        _record("import", image, actor, after=IMAGE_CONTENT.dump(image), images_added=1)
        return "created"

    before = IMAGE_CONTENT.dump(image)
    for field, value in fields.items():
        setattr(image, field, value)
    changed_before, changed_after = _changed(before, IMAGE_CONTENT.dump(image))
    known = {key for (key,) in Version.select(Version.version_key).where(Version.image == image.id).tuples()}
    added = [_add_version(image, version) for version in entry["versions"] if fold(version["version"]) not in known]
    if not changed_after and not added:
        return "unchanged"
    if added:
        changed_after["versions"] = [version.version for version in added]
    image.version_count += len(added)
    _touch(image)
    image.save()
    _store_labels(image, LABEL_FIELDS)
    _record("import", image, actor, before=changed_before, after=changed_after)
    return "updated"
