"""Catalog files: every image with its versions out, and a file's entries upserted back in."""

from ..db import db, retry_when_busy
from ..models import Image, Version, fold, utcnow
from .entries import list_entry
from .images import LABEL_FIELDS, remove, store_labels
from .snapshots import changed, image_content
from .versions import add_version, versions_of
from .writes import NOBODY, record, touch, transaction


def export_catalog(status=None, image_type=None):
    """Every matching image with its versions (oldest first), for a catalog file."""
    query = Image.select().order_by(Image.external_id_key)
    if status:
        query = query.where(Image.status == status)
    if image_type:
        query = query.where(Image.type == image_type)
    images = list(query)
    versions = versions_of(images, newest_first=False)
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
                with transaction(conflict_path=f"images[{index}]."):
                    counts[_import_entry(entry, actor)] += 1
                done(index + 1)
            if prune:
                keep = {fold(entry["external_id"]) for entry in entries}
                for image in Image.select().order_by(Image.id):
                    if image.external_id_key not in keep:
                        remove(image, "import", actor)
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
        store_labels(image, LABEL_FIELDS, new=True)
        for version in entry["versions"]:
            add_version(image, version)
        image.version_count = len(entry["versions"])
        image.list_entry = list_entry(image)
        image.save(only=[Image.version_count, Image.list_entry])
        record("import", image, actor, after=image_content(image), images_added=1)
        return "created"

    before = image_content(image)
    for field, value in fields.items():
        setattr(image, field, value)
    changed_before, changed_after = changed(before, image_content(image))
    known = {key for (key,) in Version.select(Version.version_key).where(Version.image == image.id).tuples()}
    added = [add_version(image, version) for version in entry["versions"] if fold(version["version"]) not in known]
    if not changed_after and not added:
        return "unchanged"
    if added:
        changed_after["versions"] = [version.version for version in added]
    image.version_count += len(added)
    touch(image)
    image.save()
    store_labels(image, LABEL_FIELDS)
    record("import", image, actor, before=changed_before, after=changed_after)
    return "updated"
