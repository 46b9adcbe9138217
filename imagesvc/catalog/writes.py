"""What every write shares: its transaction, its conflicts, the image it locks, and the Change
row and catalog state it leaves behind (the rules are in the package's docstring)."""

import re
from collections import namedtuple
from contextlib import contextmanager

from peewee import IntegrityError

from ..db import db
from ..errors import Conflict, ImageNotFound, PreconditionFailed
from ..models import CatalogState, Change, Image, fold, utcnow
from ..statements import Statement, param
from .entries import list_entry

# Who made a change, for its history: the token's name and the request's id.
Actor = namedtuple("Actor", "token_name request_id", defaults=(None, None))
NOBODY = Actor()  # changes made in-process (tests, embedding tools) without a token

# The unique index behind each Conflict field, as named in the database's error.
CONFLICT_FIELDS = (("external_id_key", "imageId"), ("name_key", "name"), ("version_key", "version"))


@contextmanager
def transaction(conflict_path=""):
    """One write's transaction; a unique index it breaks is a Conflict on ``conflict_path`` + field."""
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


def pk(image_id):
    """The stored id for the id in a URL; anything that cannot be one is simply not found."""
    if not (image_id.isascii() and image_id.isdigit() and len(image_id) < 19):
        raise ImageNotFound()
    return int(image_id)


IMAGE_BY_ID = Statement(lambda: Image.select().where(Image.id == param(Image.id)))
# Locked for the transaction, where the backend can (MySQL); SQLite's write lock covers it.
IMAGE_BY_ID_LOCKED = Statement(lambda: IMAGE_BY_ID.build().for_update() if db.obj.for_update else IMAGE_BY_ID.build())


def image_by_id(image_id, lock=False):
    """The image with the id in a URL, or None; with ``lock``, locked for this transaction."""
    return (IMAGE_BY_ID_LOCKED if lock else IMAGE_BY_ID).first(id=pk(image_id))


def get_for_update(image_id, if_match=None):
    """The image, locked for this transaction; 404 if absent, 412 if ``if_match`` is stale."""
    image = image_by_id(image_id, lock=True)
    if image is None:
        raise ImageNotFound()
    if if_match and not if_match.contains(image.etag):
        raise PreconditionFailed()
    return image


def touch(image):
    """Mark a change to the image, its status or its versions, once the image is as it will be
    saved: its time, its revision and its list entry."""
    image.last_update_time = utcnow()
    image.revision += 1
    image.list_entry = list_entry(image)


CATALOG_STATE = Statement(lambda: CatalogState.select().where(CatalogState.id == CatalogState.ROW))


def state():
    """The catalog state row: its generation and image count."""
    return CATALOG_STATE.first()


# Every write's last statements, compiled once (statements.py): they are most of a status change.
ADVANCE = Statement(lambda: CatalogState.update(
    generation=CatalogState.generation + 1,
    image_count=CatalogState.image_count + param(CatalogState.image_count, "images_added"),
).where(CatalogState.id == CatalogState.ROW))
# The change, stamped with the generation ADVANCE moved the catalog to, read by the INSERT itself:
# the catalog state row, locked from ADVANCE to the commit, is held one round trip less.
CHANGE_FIELDS = [field for field in Change._meta.sorted_fields  # by identity: == makes a peewee expression
                 if field is not Change.id and field is not Change.generation]
NEW_CHANGE = Statement(lambda: Change.insert_from(
    CatalogState.select(*(param(field) for field in CHANGE_FIELDS), CatalogState.generation)
    .where(CatalogState.id == CatalogState.ROW), fields=[*CHANGE_FIELDS, Change.generation]))


def record(action, image, actor, before=None, after=None, version=None, images_added=0):
    """Move the catalog on (its generation, and its image count by ``images_added``), then log the
    change stamped with the generation it moved to: the last locks a write takes."""
    ADVANCE.execute(images_added=images_added)
    NEW_CHANGE.execute(
        action=action, image_pk=image.id, external_id=image.external_id, external_id_key=fold(image.external_id),
        image_name=image.name, version=version, before=before, after=after,
        token_name=actor.token_name, request_id=actor.request_id, time=utcnow(),
    )
