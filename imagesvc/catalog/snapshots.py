"""What the change log keeps of an image or a version, and what changed between two of them."""

from ..schemas import CatalogImageSchema, VersionCreateSchema

# An image's and a version's content as the API names it: history snapshots.
IMAGE_CONTENT = CatalogImageSchema(exclude=("versions",))
VERSION_CONTENT = VersionCreateSchema()


def image_content(image):
    """The image's content, its versions aside: what a history entry holds of it."""
    return IMAGE_CONTENT.dump(image)


def version_content(version):
    """The version's content: what a history entry holds of it."""
    return VERSION_CONTENT.dump(version)


def changed(before, after):
    """The fields that differ, as (before, after) dicts holding only those fields."""
    keys = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}
