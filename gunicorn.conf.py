"""gunicorn settings, read by default when gunicorn starts in this folder (``make run``)."""

import multiprocessing
import os

bind = os.environ.get("IMAGESVC_BIND", "127.0.0.1:8000")
# Sync workers measured fastest here; two per core is plenty for a SQLite-backed service.
workers = int(os.environ.get("IMAGESVC_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("IMAGESVC_THREADS", 1))
timeout = int(os.environ.get("IMAGESVC_TIMEOUT", 30))
graceful_timeout = int(os.environ.get("IMAGESVC_GRACEFUL_TIMEOUT", 20))
keepalive = 5
# Only proxies listed here may set X-Forwarded-For / X-Forwarded-Proto.
forwarded_allow_ips = os.environ.get("IMAGESVC_FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 27 opens a per-user control socket; two instances on one machine would fight over it.
control_socket_disable = True


def post_fork(server, worker):
    """Drop any connection inherited from the master: each worker opens its own."""
    from imagesvc.db import db

    if db.obj is not None:
        db.obj.close_all()
