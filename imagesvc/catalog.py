"""The catalog's queries: images and versions, read and written.

Writes run in one transaction each, lock the image they change (``BEGIN IMMEDIATE`` on
SQLite, ``SELECT … FOR UPDATE`` on MySQL) and leave the unique indexes to settle races: an
IntegrityError becomes ``errors.Conflict`` naming the field.
"""

import re
import secrets
from contextlib import contextmanager

from peewee import IntegrityError

from .db import db
from .errors import Conflict, ImageNotFound, PreconditionFailed, VersionNotFound
from .models import FRAMEWORK, SCOPE, Image, ImageLabel, Version, fold, utcnow

SORT_COLUMNS = {
    "lastUpdateTime": Image.last_update_time,
    "createTime": Image.create_time,
    "name": Image.name_key,
}
# The unique index behind each Conflict field, as named in the database's error.
CONFLICT_FIELDS = (("external_id_key", "imageId"), ("name_key", "name"), ("version_key", "version"))
# Versions listed without paging: the newest ones, up to this many.
VERSIONS_UNPAGED_LIMIT = 1000
SUMMARY_FIELDS = [field for field in Image._meta.sorted_fields if field is not Image.introduction]
LABEL_FIELDS = {FRAMEWORK: "frameworks", SCOPE: "applicable_scopes"}


@contextmanager
def _transaction():
    try:
        with db.atomic():
            yield
    except IntegrityError as exc:
        raise _conflict(exc) from exc


def _conflict(exc):
    message = str(exc)
    # MySQL names the index: "Duplicate entry 'x' for key 'image_name_key'"; SQLite the columns.
    index = re.search(r"for key '([^']+)'", message)
    where = index.group(1) if index else message
    for key_column, field in CONFLICT_FIELDS:
        if key_column in where:
            return Conflict(field)
    return exc


def _pk(image_id):
    """The stored id for the id in a URL; anything that cannot be one is simply not found."""
    if not (image_id.isascii() and image_id.isdigit() and len(image_id) < 19):
        raise ImageNotFound()
    return int(image_id)


def _locked(query):
    return query.for_update() if db.obj.for_update else query


def _get_for_update(image_id, if_match=None):
    """The image, locked for this transaction; 404 if absent, 412 if ``if_match`` is stale."""
    image = _locked(Image.select().where(Image.id == _pk(image_id))).get_or_none()
    if image is None:
        raise ImageNotFound()
    if if_match and not if_match.contains(image.etag):
        raise PreconditionFailed()
    return image


def _touch(image):
    """Record a change to the image, its status or its versions."""
    image.last_update_time = utcnow()
    image.revision += 1


def _store_labels(image, kinds):
    """Replace the filter rows of ``kinds`` with the image's current lists."""
    kinds = list(kinds)
    if not kinds:
        return
    ImageLabel.delete().where(ImageLabel.image == image.id, ImageLabel.kind.in_(kinds)).execute()
    rows = [
        {"image": image.id, "kind": kind, "key": fold(value)}
        for kind in kinds
        for value in getattr(image, LABEL_FIELDS[kind])
    ]
    if rows:
        ImageLabel.insert_many(rows).execute()


def _label_filter(kind, value):
    return Image.id.in_(
        ImageLabel.select(ImageLabel.image).where(ImageLabel.kind == kind, ImageLabel.key == fold(value))
    )


# ----- images -----

def list_images(page_no=1, page_size=10, name=None, framework=None, chip_type=None,
                applicable_scope=None, status=None, image_type=None,
                sort_by="lastUpdateTime", order="desc"):
    """One page of the images matching every given filter, and their total."""
    query = Image.select(*SUMMARY_FIELDS)
    if name:
        query = query.where(Image.name_key.contains(fold(name)))
    if framework:
        query = query.where(_label_filter(FRAMEWORK, framework))
    if applicable_scope:
        query = query.where(_label_filter(SCOPE, applicable_scope))
    if chip_type:
        query = query.where(Image.chip_type == chip_type)
    if status:
        query = query.where(Image.status == status)
    if image_type:
        query = query.where(Image.type == image_type)
    total = query.count()
    items = []
    if (page_no - 1) * page_size < total:  # a page past the end costs no second query
        column = SORT_COLUMNS[sort_by]
        # The id breaks ties, so paging through a stable table never repeats or skips.
        ordering = (column.desc(), Image.id.desc()) if order == "desc" else (column.asc(), Image.id.asc())
        items = list(query.order_by(*ordering).paginate(page_no, page_size))
    return {"list": items, "total": total, "page_no": page_no, "page_size": page_size}


def get_image(image_id):
    image = Image.get_or_none(Image.id == _pk(image_id))
    if image is None:
        raise ImageNotFound()
    return image


def create_image(fields):
    now = utcnow()
    image = Image(create_time=now, last_update_time=now, **fields)
    if not image.external_id:
        image.external_id = "img-" + secrets.token_hex(6)
    with _transaction():
        image.save(force_insert=True)
        _store_labels(image, LABEL_FIELDS)
    return image


def update_image(image_id, changes, if_match=None):
    """Apply a partial update; lists replace the stored lists."""
    with _transaction():
        image = _get_for_update(image_id, if_match)
        for field, value in changes.items():
            setattr(image, field, value)
        _touch(image)
        image.save()
        _store_labels(image, [kind for kind, field in LABEL_FIELDS.items() if field in changes])
    return image


def set_status(image_id, status, if_match=None):
    with _transaction():
        image = _get_for_update(image_id, if_match)
        image.status = status
        _touch(image)
        image.save(only=[Image.status, Image.last_update_time, Image.revision])
    return image


def delete_image(image_id, if_match=None):
    """Delete the image with its versions and labels, all or nothing."""
    with _transaction():
        image = _get_for_update(image_id, if_match)
        Version.delete().where(Version.image == image.id).execute()
        ImageLabel.delete().where(ImageLabel.image == image.id).execute()
        image.delete_instance()


# ----- versions -----

def list_versions(image_id, page_no=None, page_size=None):
    """The image's versions, newest first: all of them (up to the newest 1000), or one page."""
    image = get_image(image_id)
    query = (Version.select().where(Version.image == image.id)
             .order_by(Version.create_time.desc(), Version.id.desc()))
    # version_count changes in the same transaction as the versions, so it is the true count.
    page = {"total": image.version_count}
    if page_no is None and page_size is None:
        page["list"] = list(query.limit(VERSIONS_UNPAGED_LIMIT))
        return page
    page_no, page_size = page_no or 1, page_size or 10
    page["list"] = list(query.paginate(page_no, page_size)) if (page_no - 1) * page_size < page["total"] else []
    return {**page, "page_no": page_no, "page_size": page_size}


def get_version(image_id, version):
    found = Version.get_or_none(Version.image == _pk(image_id), Version.version_key == fold(version))
    if found is None:
        get_image(image_id)  # which one is missing: the image, or only the version?
        raise VersionNotFound()
    return found


def create_version(image_id, fields):
    with _transaction():
        image = _get_for_update(image_id)
        version = Version(image=image.id, **fields)
        version.image_address = version.image_address or image.image_address
        version.create_time = version.create_time or utcnow()
        version.save(force_insert=True)
        image.version_count += 1
        _touch(image)
        image.save(only=[Image.version_count, Image.last_update_time, Image.revision])
    return version


def delete_version(image_id, version):
    with _transaction():
        image = _get_for_update(image_id)
        deleted = (Version.delete()
                   .where(Version.image == image.id, Version.version_key == fold(version)).execute())
        if not deleted:
            raise VersionNotFound()
        image.version_count -= 1
        _touch(image)
        image.save(only=[Image.version_count, Image.last_update_time, Image.revision])
