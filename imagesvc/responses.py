"""Read responses kept per catalog generation: a repeated list query costs one small query.

A page of the image list, or an image's version list, is a function of the catalog and the
request's path and query alone: every caller allowed to ask (auth runs before) gets the same
body. The catalog's generation moves in the same transaction as every write
(``catalog.writes.record``), whichever process makes it, so a body stored under the generation it
was read at answers the same request for as long as that generation is the current one.

Each process keeps its own, the least recently used dropped first, bounded in bytes by
``RESPONSE_CACHE_MB`` (0 turns it off).
"""

import threading
from collections import OrderedDict
from functools import wraps

from flask import current_app, g, request

from .db import db


class ResponseCache:
    """Bodies by key, least recently used dropped first once they hold more than ``max_bytes``."""

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self._bodies = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            entry = self._bodies.get(key)
            if entry is None:
                return None
            self._bodies.move_to_end(key)
            return entry[0]

    def put(self, key, body, size):
        """Keep ``body`` under ``key``, counted as ``size`` bytes."""
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._bodies:
                self._bytes -= self._bodies.pop(key)[1]
            self._bodies[key] = (body, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._bytes -= self._bodies.popitem(last=False)[1][1]


def init_app(app):
    app.extensions["imagesvc.responses"] = ResponseCache(int(float(app.config["RESPONSE_CACHE_MB"]) * 2**20))


def by_generation(view):
    """Answer the view's request from the cache while the catalog's generation holds.

    Goes between auth and ``arguments``: a body is kept only for a request that passed
    validation and was answered 200, and validation depends on nothing but the request, so an
    identical request needs no second look before it gets the same body. The generation is the
    one auth read with the token (``g.catalog_state``), before the view reads the catalog, so a
    body is never older than the generation it is filed under.
    """

    @wraps(view)
    def cached(*args, **kwargs):
        responses = current_app.extensions["imagesvc.responses"]
        if not responses.max_bytes:
            return view(*args, **kwargs)
        key = (db.obj.database, g.catalog_state.generation, request.path, request.query_string)
        body = responses.get(key)
        if body is not None:
            return current_app.response_class(body, mimetype=current_app.json.mimetype)
        response = view(*args, **kwargs)
        if response.status_code == 200:
            body = response.get_data()
            # The request's path and query count too: a caller chooses how long they are.
            responses.put(key, body, len(body) + len(request.path) + len(request.query_string))
        return response

    return cached
