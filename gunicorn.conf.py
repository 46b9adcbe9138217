"""gunicorn settings, read by default when gunicorn starts in this folder (``make run``).

Every setting comes from an ``IMAGESVC_*`` environment variable, with a default that suits the
machine. Logs: one JSON object per line on stderr, gunicorn's own lines included; the access
line of each request is written by the app (imagesvc/logs.py), so gunicorn's access log stays off.
Metrics: the workers share a fresh folder for prometheus_client's multiprocess mode.
"""

import logging
import os
import shutil
import tempfile

from gunicorn.glogging import Logger

from imagesvc.config import is_on

# ----- metrics: set up before anything imports prometheus_client (it reads this at import) -----

METRICS = is_on(os.environ.get("IMAGESVC_METRICS", "1"))
# Marks the folder as set up by this master, so a config reload (SIGHUP) keeps it.
_METRICS_OWNER = "IMAGESVC_METRICS_DIR_OWNER"


def _fresh_metrics_dir():
    """Point PROMETHEUS_MULTIPROC_DIR at an empty folder: the one given, emptied, or a new one."""
    if os.environ.get(_METRICS_OWNER, "").startswith(f"{os.getpid()}:"):
        return
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        # Values from an earlier run would be added to this run's.
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):
            if name.endswith(".db"):
                os.remove(os.path.join(path, name))
        created = "given"
    else:
        path = tempfile.mkdtemp(prefix="imagesvc-metrics-")
        created = "made"
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    os.environ[_METRICS_OWNER] = f"{os.getpid()}:{created}"


if METRICS:
    _fresh_metrics_dir()

# ----- serving -----

bind = os.environ.get("IMAGESVC_BIND", "127.0.0.1:8000")
# One worker per core this process may use. gevent workers give each connection a greenlet, not
# a process: clients that dribble in their request (or never finish it) cannot take the workers,
# as they could sync workers with no buffering proxy in front (a Kubernetes Service does not
# buffer). IMAGESVC_WORKER_CLASS=sync suits a host behind nginx; gthread takes IMAGESVC_THREADS.
workers = int(os.environ.get("IMAGESVC_WORKERS", len(os.sched_getaffinity(0))))
# A gevent worker patches the standard library before it imports the app; the master must not
# have imported peewee before (logconfig_dict below imports imagesvc.logs, which does not), or
# peewee's connection state would be per thread: one connection for every greenlet of a worker.
worker_class = os.environ.get("IMAGESVC_WORKER_CLASS", "gevent")
# Open connections a gevent worker holds at once (idle and slow ones included).
worker_connections = int(os.environ.get("IMAGESVC_WORKER_CONNECTIONS", 1000))
threads = int(os.environ.get("IMAGESVC_THREADS", 1))
# A worker silent for this long is killed and replaced.
timeout = int(os.environ.get("IMAGESVC_TIMEOUT", 30))
# On SIGTERM, workers finish the requests they hold for up to this long.
graceful_timeout = int(os.environ.get("IMAGESVC_GRACEFUL_TIMEOUT", 20))
# Seconds an idle keep-alive connection stays open; gevent workers also drop a client that takes
# longer than this to send its request's headers.
keepalive = 5
# Only proxies listed here may set X-Forwarded-Proto and friends (comma-separated, or *).
forwarded_allow_ips = os.environ.get("IMAGESVC_FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 27 opens a per-user control socket; two instances on one machine would fight over it.
control_socket_disable = True
proc_name = "imagesvc"
# Worker heartbeats in memory, not on a disk that may stall.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# ----- logs -----

class AppAccessLogger(Logger):
    """gunicorn's logger, without gunicorn's access line: the app writes its own (imagesvc/logs.py),
    and with a logconfig_dict gunicorn would build its line's fields for every request only to
    drop them."""

    def access(self, resp, req, environ, request_time):
        pass


logger_class = AppAccessLogger

LOG_LEVEL = os.environ.get("IMAGESVC_LOG_LEVEL", "INFO").upper()
loglevel = LOG_LEVEL.lower()
# The app logs one JSON access line per request; gunicorn's own would be a second, plain one.
accesslog = None
errorlog = "-"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "imagesvc.logs.JsonLogFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    # Everything (gunicorn, libraries) goes out as JSON; the app's logger has its own handler.
    "root": {"level": LOG_LEVEL, "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": LOG_LEVEL, "handlers": [], "propagate": True},
        # AppAccessLogger writes nothing here; should anything else, keep it silent.
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    },
}
# A line holds no thread or process name, so logging need not look them up for every record
# (optimizations the logging HOWTO lists): a setting of the whole process, so it is made here.
logging.logThreads = False
logging.logMultiprocessing = False


# ----- hooks -----

def post_worker_init(worker):
    """Refuse to serve in debug mode (FLASK_DEBUG or IMAGESVC_DEBUG): it is for a desk, not a
    server. Then load the search index, before the worker takes its first request rather than
    during it; a database that cannot be read yet only postpones that to the first list."""
    if getattr(worker.wsgi, "debug", False):
        raise RuntimeError("imagesvc refuses to run in debug mode under gunicorn: unset FLASK_DEBUG and IMAGESVC_DEBUG")
    if "imagesvc.db" not in getattr(worker.wsgi, "extensions", {}):
        return  # not imagesvc (the benchmark's bare Flask baseline)
    from imagesvc import catalog
    from imagesvc.db import UNAVAILABLE_ERRORS, db

    with worker.wsgi.app_context():
        try:
            catalog.load_search_index(heartbeat=worker.notify)  # the arbiter's timeout counts meanwhile
        except UNAVAILABLE_ERRORS as exc:
            worker.log.warning("search index not loaded at start: %s", exc)
        finally:
            db.close()


def child_exit(server, worker):
    """A worker is gone: drop its live gauges (its counts stay in the totals)."""
    if METRICS:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics folder this master made."""
    owner = os.environ.get(_METRICS_OWNER, "")
    if METRICS and owner == f"{os.getpid()}:made":
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def post_request(worker, req, environ, resp):
    """gevent: let the worker's other connections in before this one's next request.

    A keep-alive client whose next request is already waiting would otherwise be served again
    and again without a switch (its read does not block), and the others wait: p99 in the
    hundreds of ms under load. ``gevent.idle()`` waits until every other ready greenlet and
    socket has had its turn; ``sleep(0)`` does not poll the sockets first. Measured (wrk, 16
    connections, varied lists): p99 0.19-1.13 s with sleep(0), 39-80 ms with idle().
    """
    if worker_class == "gevent":
        import gevent

        gevent.idle()
