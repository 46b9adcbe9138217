"""Images read, created, updated, moved between statuses and deleted, with their filter labels."""

import secrets

from ..db import retry_when_busy
from ..errors import ImageNotFound
from ..models import FRAMEWORK, SCOPE, Image, ImageLabel, Version, VersionArchitecture, fold, utcnow
from ..statements import insert, insert_rows, update
from .entries import list_entry, shown
from .snapshots import changed, image_content
from .writes import NOBODY, get_for_update, image_by_id, pk, record, touch, transaction

# Each kind of ImageLabel row, and the image's list it holds folded.
LABEL_FIELDS = {FRAMEWORK: "frameworks", SCOPE: "applicable_scopes"}


def store_labels(image, kinds, new=False):
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
    insert_rows((ImageLabel.image, ImageLabel.kind, ImageLabel.key), rows)


def remove(image, action, actor):
    """Delete the image with its versions and labels, and record it as ``action``."""
    VersionArchitecture.delete().where(VersionArchitecture.image == image.id).execute()
    Version.delete().where(Version.image == image.id).execute()
    ImageLabel.delete().where(ImageLabel.image == image.id).execute()
    image.delete_instance()
    record(action, image, actor, before=image_content(image), images_added=-1)


def get_image(image_id):
    image = image_by_id(image_id)
    if image is None:
        raise ImageNotFound()
    return image


def show_image(image_id):
    """The image as its own URL shows it: ``entries.Shown``, its ETag and its JSON."""
    found = shown(pk(image_id))
    if found is None:
        raise ImageNotFound()
    return found


@retry_when_busy
def create_image(fields, actor=NOBODY):
    now = utcnow()
    image = Image(create_time=now, last_update_time=now, **fields)
    if not image.external_id:
        image.external_id = "img-" + secrets.token_hex(6)
    image.fold_keys()
    with transaction():
        insert(image)
        image.list_entry = list_entry(image)  # it shows the id, known from here on
        update(image, Image.list_entry)
        store_labels(image, LABEL_FIELDS, new=True)
        record("create", image, actor, after=image_content(image), images_added=1)
    return image


@retry_when_busy
def update_image(image_id, changes, if_match=None, actor=NOBODY):
    """Apply a partial update; lists replace the stored lists."""
    with transaction():
        image = get_for_update(image_id, if_match)
        before = image_content(image)
        for field, value in changes.items():
            setattr(image, field, value)
        touch(image)
        image.save()
        store_labels(image, [kind for kind, field in LABEL_FIELDS.items() if field in changes])
        record("update", image, actor, *changed(before, image_content(image)))
    return image


@retry_when_busy
def set_status(image_id, status, if_match=None, actor=NOBODY):
    with transaction():
        image = get_for_update(image_id, if_match)
        before = image.status
        image.status = status
        touch(image)
        update(image, Image.status, Image.last_update_time, Image.revision, Image.list_entry)
        record("status", image, actor, before={"status": before}, after={"status": status})
    return image


@retry_when_busy
def delete_image(image_id, if_match=None, actor=NOBODY):
    """Delete the image with its versions and labels, all or nothing."""
    with transaction():
        remove(get_for_update(image_id, if_match), "delete", actor)
