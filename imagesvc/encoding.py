"""JSON bodies: every answer's body is encoded by orjson, and a part encoded once may be kept.

orjson encodes in C what the standard library's encoder does in Python, to the same text for
what the service answers (strings, numbers, booleans, None, lists and dicts with text keys;
Chinese unescaped). It also takes a ``Fragment``: JSON encoded before, put in as it is, which is
how a list page's images, stored encoded (catalog/entries.py), go into the page's body. Other JSON Flask
writes (the OpenAPI document, the docs page's settings) keeps the standard encoder.
"""

import orjson
from flask import current_app
from flask.json.provider import DefaultJSONProvider

# Dates are left to Flask's ``default`` (an HTTP date), as the standard encoder leaves them; the
# service's own times are text by then (schemas.fields.UtcDateTime).
OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON provider, with orjson encoding the bodies of answers (``jsonify``)."""

    ensure_ascii = False  # Chinese stays readable
    sort_keys = False

    def response(self, *args, **kwargs):
        obj = args[0] if len(args) == 1 else list(args) or kwargs or None
        indent = orjson.OPT_INDENT_2 if self.compact is False or (self.compact is None and current_app.debug) else 0
        try:
            body = orjson.dumps(obj, default=self.default, option=OPTIONS | indent)
        except orjson.JSONEncodeError:
            # orjson holds integers to 64 bits: an absurd pageNo, echoed back, is bigger.
            return super().response(*args, **kwargs)
        return current_app.response_class(body + b"\n", mimetype=self.mimetype)


def encode(obj):
    """``obj`` as JSON text, as an answer's body holds it."""
    return orjson.dumps(obj, option=OPTIONS).decode()


def fragment(encoded):
    """JSON (``encode``'s, as text or UTF-8), to be put as it is into a body encoded later."""
    return orjson.Fragment(encoded)
