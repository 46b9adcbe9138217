"""An image's versions: listed, read, added and deleted; and the versions of many images at once."""

from collections import defaultdict

from peewee import chunked

from ..db import retry_when_busy
from ..errors import ImageNotFound, VersionNotFound
from ..models import Image, Version, VersionArchitecture, fold, utcnow
from ..statements import Statement, insert, insert_rows, param, update
from .images import get_image
from .listing import page
from .snapshots import version_content
from .writes import NOBODY, get_for_update, pk, record, touch, transaction

# Versions listed without paging: the newest ones, up to this many.
VERSIONS_UNPAGED_LIMIT = 1000

# What a version list needs of its image: that it exists, and how many versions it has.
VERSION_COUNT = Statement(lambda: Image.select(Image.id, Image.version_count).where(Image.id == param(Image.id)))
VERSION_PAGE = Statement(lambda: Version.select().where(Version.image == param(Version.image))
                         .order_by(Version.create_time.desc(), Version.id.desc())
                         .limit(param(Version.id, "limit")).offset(param(Version.id, "offset")))


def version_by_name(image_pk, version):
    """The image's version called ``version`` (ignoring case), or None."""
    return Version.select().where(Version.image == image_pk, Version.version_key == fold(version)).first()


def add_version(image, fields):
    """Insert a version of ``image`` (and its architecture rows); its address and time default
    to the image's address and now."""
    version = Version(image=image.id, **fields)
    version.image_address = version.image_address or image.image_address
    version.create_time = version.create_time or utcnow()
    version.fold_keys()
    insert(version)
    insert_rows((VersionArchitecture.version, VersionArchitecture.image, VersionArchitecture.architecture),
                [(version.id, image.id, arch) for arch in version.architectures or ()])
    return version


def versions_of(images, newest_first):
    """The versions of ``images`` by image id, in a query per 500 images (never one per image)."""
    by_image = defaultdict(list)
    order = (Version.create_time.desc(), Version.id.desc()) if newest_first else (Version.create_time, Version.id)
    for batch in chunked([image.id for image in images], 500):
        for version in Version.select().where(Version.image.in_(batch)).order_by(*order):
            by_image[version.image_id].append(version)
    return by_image


def list_versions(image_id, page_no=None, page_size=None):
    """The image's versions, newest first: all of them (up to the newest 1000), or one page."""
    found = VERSION_COUNT.dicts(id=pk(image_id))
    if not found:
        raise ImageNotFound()
    image = found[0]

    def read(offset, limit):
        return VERSION_PAGE.dicts(image=image["id"], limit=limit, offset=offset)  # only shown

    # version_count changes in the same transaction as the versions, so it is the true count.
    if page_no is None and page_size is None:
        return {"list": read(0, VERSIONS_UNPAGED_LIMIT), "total": image["version_count"]}
    return page(read, page_no or 1, page_size or 10, image["version_count"])


def get_version(image_id, version):
    found = version_by_name(pk(image_id), version)
    if found is None:
        get_image(image_id)  # which one is missing: the image, or only the version?
        raise VersionNotFound()
    return found


@retry_when_busy
def create_version(image_id, fields, actor=NOBODY):
    with transaction():
        image = get_for_update(image_id)
        version = add_version(image, fields)
        image.version_count += 1
        touch(image)
        update(image, Image.version_count, Image.last_update_time, Image.revision, Image.list_entry)
        record("version_create", image, actor, after=version_content(version), version=version.version)
    return version


@retry_when_busy
def delete_version(image_id, version, actor=NOBODY):
    with transaction():
        image = get_for_update(image_id)
        found = version_by_name(image.id, version)
        if found is None:
            raise VersionNotFound()
        VersionArchitecture.delete().where(VersionArchitecture.version == found.id).execute()
        found.delete_instance()
        image.version_count -= 1
        touch(image)
        update(image, Image.version_count, Image.last_update_time, Image.revision, Image.list_entry)
        record("version_delete", image, actor, before=version_content(found), version=found.version)
