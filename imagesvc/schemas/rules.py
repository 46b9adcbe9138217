"""The contract's rules for values that have a grammar, each written once: an imageId, a version
name, a size, a dotted version number, an image reference, a link. The schemas use these
fields rather than spelling a rule again."""

import re

from marshmallow import validate

from .fields import OptionalText, Text

# The distribution reference grammar: [host[:port]/]path[:tag][@digest]
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?"
)
IMAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
IMAGE_ID_MAX_LENGTH = 128
VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
DOTTED_VERSION = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,6}){0,2}")
SIZE = re.compile(r"([0-9]{1,15}(?:\.[0-9]{1,6})?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)
SIZE_UNITS = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}


def size_in_bytes(size):
    """``"2.5GB"`` -> 2500000000 (KB=1000, KiB=1024); None stays None."""
    if size is None:
        return None
    number, unit = SIZE.fullmatch(size).groups()
    return round(float(number) * SIZE_UNITS[unit.lower()])


def image_slug(**kwargs):
    """An image's ``imageId``, the caller's slug for it (``external_id`` inside)."""
    return Text(attribute="external_id", min_length=1, max_length=IMAGE_ID_MAX_LENGTH, pattern=IMAGE_ID,
                pattern_error="Only letters, digits, '.', '_' and '-', starting with a letter or digit.", **kwargs)


def image_id_asked(**kwargs):
    """An imageId a query asks for: any text as long as an imageId may be (one no image has
    simply matches nothing, so it needs no pattern)."""
    return Text(max_length=IMAGE_ID_MAX_LENGTH, **kwargs)


def version_name(**kwargs):
    """A version's name, unique in its image ignoring case."""
    return Text(min_length=1, max_length=64, pattern=VERSION,
                pattern_error="Only letters, digits, '.', '_', '+' and '-', starting with a letter or digit.",
                **kwargs)


def size_with_unit():
    """A size as people write it (``2.5GB``; ``size_in_bytes`` reads it), or null."""
    return OptionalText(max_length=64, pattern=SIZE, pattern_in_doc=False,
                        pattern_error="A number and a unit of B, KB, MB, GB, TB, KiB, MiB, GiB, TiB, like 2.5GB.")


def dotted_version(kind=Text, **kwargs):
    """A Python or CUDA version: ``kind`` is ``Text`` in a filter, ``OptionalText`` in a body."""
    return kind(max_length=32, pattern=DOTTED_VERSION,
                pattern_error="One to three dotted numbers, like 3.9 or 11.8.0.", **kwargs)


def image_reference(description="", **kwargs):
    grammar = ("A container image reference, [host[:port]/]path[:tag][@digest]: lowercase path components, "
               "a tag of up to 128 of [A-Za-z0-9_.-], a digest algo:hex.")
    return Text(min_length=1, max_length=512, pattern=IMAGE_REFERENCE, pattern_in_doc=False,
                pattern_error="Not a valid image reference: [host[:port]/]path[:tag][@digest], lowercase path.",
                metadata={"description": f"{grammar} {description}".strip()}, **kwargs)


def http_url():
    return OptionalText(
        max_length=2048,
        validate=validate.URL(schemes={"http", "https"}, require_tld=False, error="Must be an absolute http(s) URL."),
    )
