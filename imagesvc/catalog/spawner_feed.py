"""The spawner feed: the online images, with their versions, for notebook spawners to offer."""

from .. import search
from ..models import Image
from .entries import SUMMARY_FIELDS
from .versions import versions_of


def feed(catalog_state, applicable_scope, limit):
    """The online images (of a scope), newest first, each with its versions, newest first, as of
    ``catalog_state`` (read before, as auth reads it with the token) or later."""
    filters = {"status": "online", "applicable_scope": applicable_scope}
    _, page = search.for_database().find(catalog_state, {key: value for key, value in filters.items() if value},
                                         "createTime", True, 0, limit)
    found = {image.id: image for image in Image.select(*SUMMARY_FIELDS).where(Image.id.in_(page))}
    images = [found[pk] for pk in page if pk in found]
    versions = versions_of(images, newest_first=True)
    for image in images:
        image.versions = versions[image.id]
    return images
