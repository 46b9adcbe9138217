"""Images' list entries: an image as a list shows it (``ImageSummarySchema``), encoded as JSON
once, when it changes, and stored with it (``Image.list_entry``).

A list page then reads its images' entries and puts them into its body as they are
(listing.list_images), and an image's own URL answers its entry with its introduction
(``shown``): reading an image's columns and dumping them was most of a list request, and a
fifth of the image's. Every write that changes an image writes its entry in the same transaction
(``writes.touch``, and the creates); an image without one (a row from before the column, or
written by another program) is listed from its columns, and ``imagesvc db upgrade`` writes the
missing ones.
"""

from collections import namedtuple

from ..db import db
from ..encoding import encode, fragment
from ..models import Image, entity_tag
from ..schemas import PAGE_SIZE_MAX, ImageSummarySchema
from ..statements import Statement, param

SUMMARY = ImageSummarySchema()
SUMMARY_FIELDS = [field for field in Image._meta.sorted_fields
                  if field not in (Image.introduction, Image.list_entry)]
# Images given their entries at a time by ``write_missing``.
CHUNK = 1000


def list_entry(image):
    """The image's (a model, or a dict of its columns) list entry."""
    return encode(SUMMARY.dump(image))


class ByIds:
    """``fields`` of up to a page of images by id: a statement per size of page, the ids padded
    with 0 (no image) to the size (each id is a parameter PyMySQL quotes in Python)."""

    SIZES = (10, 20, 50, PAGE_SIZE_MAX)

    def __init__(self, *fields):
        self.statements = {size: Statement(lambda size=size: Image.select(*fields).where(
            Image.id.in_([param(Image.id, f"id{n}") for n in range(size)]))) for size in self.SIZES}

    def dicts(self, ids):
        size = next(size for size in self.SIZES if size >= len(ids))
        return self.statements[size].dicts(**{f"id{n}": pk for n, pk in enumerate(ids + [0] * (size - len(ids)))})


ENTRIES = ByIds(Image.id, Image.list_entry)
SUMMARIES = ByIds(*SUMMARY_FIELDS)


def list_entries(ids):
    """The list entries of the images ``ids`` (a page at most), by id; one gone meanwhile is left out."""
    entries = {row["id"]: row["list_entry"] for row in ENTRIES.dicts(ids)}
    missing = [image_id for image_id, entry in entries.items() if entry is None]
    if missing:
        entries.update((image["id"], list_entry(image)) for image in SUMMARIES.dicts(missing))
    return entries


# The image as its own URL shows it (``ImageSchema``): its ETag and its JSON (a ``Fragment``).
Shown = namedtuple("Shown", "etag body")
SHOWN = Statement(lambda: Image.select(Image.id, Image.revision, Image.list_entry, Image.introduction)
                  .where(Image.id == param(Image.id)))


def shown(image_pk):
    """The image ``image_pk`` as its own URL shows it, or None if there is no such image: its
    entry with its introduction, the one field ``ImageSchema`` adds, last."""
    found = SHOWN.dicts(id=image_pk)
    if not found:
        return None
    image = found[0]
    entry = image["list_entry"] or list_entries([image_pk])[image_pk]
    body = f'{entry[:-1]},"introduction":{encode(image["introduction"])}}}'
    return Shown(entity_tag(image["id"], image["revision"]), fragment(body))


def write_missing():
    """Write the list entry of every image that has none; how many were written."""
    written, after = 0, 0
    while True:
        images = list(Image.select(*SUMMARY_FIELDS).where(Image.id > after, Image.list_entry.is_null())
                      .order_by(Image.id).limit(CHUNK).dicts())
        if not images:
            return written
        with db.atomic():
            for image in images:
                Image.update(list_entry=list_entry(image)).where(Image.id == image["id"]).execute()
        written, after = written + len(images), images[-1]["id"]
