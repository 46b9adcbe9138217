"""The change log read back: one image's history, and the audit of every change."""

from ..models import Change, fold
from .images import get_image
from .listing import page, reader
from .writes import pk


def image_history(image_id, page_no, page_size):
    """The changes of one image, newest first; they outlive the image."""
    query = Change.select().where(Change.image_pk == pk(image_id))
    total = query.count()
    if not total:
        get_image(image_id)
    return page(reader(query.order_by(Change.id.desc())), page_no, page_size, total)


def audit(page_no, page_size, external_id=None, token_name=None, since=None):
    """Every change, newest first, by image (its imageId), token name and time."""
    conditions = []
    if external_id:
        conditions.append(Change.external_id_key == fold(external_id))
    if token_name:
        conditions.append(Change.token_name == token_name)
    if since:
        conditions.append(Change.time >= since)
    query = Change.select().where(*conditions) if conditions else Change.select()
    return page(reader(query.order_by(Change.id.desc())), page_no, page_size, query.count())
