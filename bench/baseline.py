"""The baseline: a bare Flask app that answers GET /api/images with one static JSON envelope.

No database, no validation, no auth: the most any Flask app can do on this machine under the
same gunicorn settings, so each scenario's requests/s divided by this one's says how much of it
imagesvc keeps. The body is padded to ``BENCH_BASELINE_BYTES`` bytes, the size of imagesvc's
default list page, which ``bench/run.py`` measures first.

    IMAGESVC_BIND=127.0.0.1:8100 BENCH_BASELINE_BYTES=6000 gunicorn -c gunicorn.conf.py bench.baseline:app
"""

import json
import os

from flask import Flask, Response


def padded_envelope(size):
    """A success envelope of an empty page, padded to exactly ``size`` bytes of JSON."""
    envelope = {"success": True, "data": {"list": [], "total": 0, "pageNo": 1, "pageSize": 10, "padding": ""}}
    unpadded = len(json.dumps(envelope).encode())
    if size < unpadded:
        raise ValueError(f"a body of {size} bytes cannot hold the envelope ({unpadded} bytes)")
    envelope["data"]["padding"] = "x" * (size - unpadded)
    return json.dumps(envelope).encode()


BODY = padded_envelope(int(os.environ.get("BENCH_BASELINE_BYTES", 4096)))

app = Flask(__name__)


@app.get("/api/images")
def images():
    return Response(BODY, content_type="application/json")
