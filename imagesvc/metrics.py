"""Prometheus metrics: every request counted and timed by method, URL rule and status; GET /metrics.

Labels hold the URL rule (``/api/images/<image:id>``), never the raw path, so ids never become
label values. Under gunicorn each worker is a process of its own: gunicorn.conf.py points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before any worker starts, every worker writes its
values there, and /metrics adds up all of them (a dead worker's counts stay in the totals; its
in-progress gauge is dropped by ``mark_process_dead``). ``IMAGESVC_METRICS=0`` turns all of this
off, /metrics included (404).

/metrics needs no token, like the probes: Prometheus scrapers usually send none. Bind the
service to an internal address, or keep /metrics from the outside at the proxy.
"""

import functools
import os

import flask_smorest
from flask import Response, g, request
from flask.views import MethodView
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from . import config
from .logs import request_seconds

LABELS = ("method", "path", "status")
REQUESTS = Counter("imagesvc_http_requests", "HTTP requests answered, by method, URL rule and status.", LABELS)
DURATION = Histogram("imagesvc_http_request_duration_seconds",
                     "Time taken to answer an HTTP request, by method, URL rule and status.", LABELS)
# livesum: the sum over live workers; a dead worker's share goes with it (mark_process_dead).
IN_PROGRESS = Gauge("imagesvc_http_requests_in_progress", "HTTP requests being answered now.",
                    multiprocess_mode="livesum")

# Any other method (a client may send anything) is counted as "other": label values stay few.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
# The path label of a request that matched no route (a 404 or 405 from routing).
UNMATCHED = "<unmatched>"

blp = flask_smorest.Blueprint("metrics", __name__, description="Prometheus metrics.")


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.doc(security=[], operationId="getMetrics", responses={"200": {
        "description": "Prometheus text format (OpenMetrics when Accept asks for it).",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }})
    def get(self):
        """Request counts and latencies, in Prometheus text format (no token)"""
        # The format the scraper asks for in Accept (Prometheus text, or OpenMetrics).
        encode, content_type = choose_encoder(request.headers.get("Accept"))
        return Response(encode(registry()), content_type=content_type)


def registry():
    """The registry to expose: every worker's values under gunicorn, this process's otherwise."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        collected = CollectorRegistry()
        MultiProcessCollector(collected)
        return collected
    return REGISTRY


@functools.lru_cache(maxsize=1024)
def _series(method, path, status):
    """The request counter and duration histogram of one label set (prometheus_client checks and
    looks labels up on every call; the label sets are few: methods x URL rules x statuses)."""
    labels = (method, path, str(status))
    return REQUESTS.labels(*labels), DURATION.labels(*labels)


def init_app(app, api):
    """Count and time every request of ``app`` and serve /metrics, unless METRICS is off."""
    if not config.is_on(app.config["METRICS"]):
        return
    api.register_blueprint(blp)

    @app.before_request
    def count_in_progress():
        g.metrics_in_progress = True
        IN_PROGRESS.inc()

    @app.after_request
    def observe(response):
        request_globals = g._get_current_object()
        if request_globals.get("metrics_in_progress"):
            current = request._get_current_object()
            method = current.method if current.method in KNOWN_METHODS else "other"
            path = current.url_rule.rule if current.url_rule else UNMATCHED
            count, duration = _series(method, path, response.status_code)
            count.inc()
            duration.observe(request_seconds(request_globals))
        return response

    @app.teardown_request
    def count_done(exc):
        # Teardown runs even when the response could not be made, so the gauge never leaks.
        if g.pop("metrics_in_progress", None):
            IN_PROGRESS.dec()
