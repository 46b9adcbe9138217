"""Slow and idle clients cannot take the service: gunicorn as shipped (gunicorn.conf.py) with
nothing in front of it, as behind a Kubernetes Service, which does not buffer.

With sync workers each connection held a whole worker while it dribbled in its request, so
four of them stalled ``make run`` for 40 s; gevent workers give each connection a greenlet.
"""

import os
import socket
import subprocess
import sys
import threading
import time

from bench.server import ROOT

from .conftest import live_server

SLOW_CLIENTS = 200
HEADER_EVERY = 2.0  # seconds between the header lines of a slow client
NORMAL_DELAY_LIMIT = 1.0  # seconds a normal request may take meanwhile


class SlowClients:
    """``count`` connections that send a request line and then one header line every ``HEADER_EVERY``
    seconds, never finishing the request."""

    def __init__(self, address, count):
        self.sockets = [socket.create_connection(address, timeout=5) for _ in range(count)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._dribble, daemon=True)

    def _dribble(self):
        for sock in self.sockets:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        line = 0
        while not self._stop.wait(HEADER_EVERY):
            line += 1
            for sock in self.sockets:
                try:
                    sock.sendall(b"X-Slow-%d: 1\r\n" % line)
                except OSError:
                    pass  # the server may drop a client that takes too long: that is its right

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        for sock in self.sockets:
            sock.close()


def normal_request_times(server, seconds):
    """How long each of a stream of normal requests took over ``seconds``."""
    took = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        status, _, _ = server.request("GET", "/healthz")
        took.append(time.monotonic() - started)
        assert status == 200
        time.sleep(0.05)
    return took


def test_two_hundred_slow_clients_do_not_delay_a_normal_request(tmp_path):
    with live_server(tmp_path, workers=2) as server:
        address = ("127.0.0.1", server.port)
        with SlowClients(address, SLOW_CLIENTS):
            # Long enough for every slow client to have sent several header lines.
            took = normal_request_times(server, seconds=3 * HEADER_EVERY)

    assert len(took) > 10
    assert max(took) < NORMAL_DELAY_LIMIT, f"slowest normal request: {max(took):.2f}s"


def test_idle_connections_that_never_finish_a_request_do_not_stop_the_service(tmp_path):
    with live_server(tmp_path, workers=2) as server:
        address = ("127.0.0.1", server.port)
        idle = [socket.create_connection(address, timeout=5) for _ in range(8)]
        try:
            for sock in idle:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            started = time.monotonic()
            status, _, _ = server.request("GET", "/healthz")
            took = time.monotonic() - started
        finally:
            for sock in idle:
                sock.close()

    assert (status, took < NORMAL_DELAY_LIMIT) == (200, True), f"took {took:.2f}s"


GREENLETS_OWN_CONNECTIONS = """
import logging.config, runpy, sys
# The master: it reads gunicorn.conf.py and configures logging with it.
settings = runpy.run_path("gunicorn.conf.py")
logging.config.dictConfig(settings["logconfig_dict"])
assert "peewee" not in sys.modules, "the master imported peewee before a worker could patch threading"
# A gevent worker: it patches the standard library, then imports the app.
from gevent import monkey
monkey.patch_all()
import gevent
from imagesvc import create_app
from imagesvc.db import db

app = create_app({"DATABASE_URL": sys.argv[1]})
seen = []

def hold_a_connection():
    with app.app_context():
        db.connect()  # raises "Connection already opened" if another greenlet's state were ours
        seen.append(id(db.connection()))
        gevent.sleep(0.05)
        db.close()

gevent.joinall([gevent.spawn(hold_a_connection) for _ in range(3)], raise_error=True)
print(len(set(seen)))
"""


def test_each_greenlet_of_a_gevent_worker_has_its_own_database_connection(tmp_path):
    """The master (gunicorn.conf.py, its logging) imports no peewee, so a gevent worker patches
    threading before peewee exists; otherwise peewee's connection state is per thread and every
    greenlet of a worker shares one connection."""
    done = subprocess.run([sys.executable, "-c", GREENLETS_OWN_CONNECTIONS, f"sqlite:///{tmp_path / 'g.db'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "IMAGESVC_WORKER_CLASS": "gevent", "IMAGESVC_METRICS": "0"})

    assert (done.returncode, done.stdout.strip()) == (0, "3"), done.stderr
