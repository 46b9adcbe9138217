"""imagesvc served by a real gunicorn, as operators run it, for the race and crash tests.

``imagesvc db upgrade`` readies the database, ``imagesvc token create`` mints a token, and
``gunicorn -c gunicorn.conf.py wsgi:app`` serves it on a free loopback port, in a process group
of its own so that a test can kill the master and every worker at once. Requests go through
``http.client`` (one connection each, as separate clients would), with a timeout.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
START_TIMEOUT = 30
# Variables of the test's own environment that would change how the server runs.
DROPPED_ENV = ("PROMETHEUS_MULTIPROC_DIR", "IMAGESVC_METRICS_DIR_OWNER", "FLASK_DEBUG", "IMAGESVC_DEBUG",
               "IMAGESVC_CORS_ORIGINS", "IMAGESVC_LOG_LEVEL", "IMAGESVC_BIND", "IMAGESVC_WORKERS",
               "IMAGESVC_THREADS", "IMAGESVC_WORKER_CLASS", "IMAGESVC_WORKER_CONNECTIONS")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def command(name):
    """A console script of this environment (``imagesvc``, ``gunicorn``)."""
    return [shutil.which(name, path=str(BIN)) or name]


class Served:
    """gunicorn serving imagesvc on ``database_url`` with ``workers`` workers."""

    def __init__(self, database_url, workdir, workers=4):
        self.database_url = database_url
        self.workdir = Path(workdir)
        self.workers = workers
        self.process = None
        self.port = None
        metrics = self.workdir / "metrics"
        metrics.mkdir(parents=True, exist_ok=True)
        self.env = {key: value for key, value in os.environ.items() if key not in DROPPED_ENV}
        self.env.update({
            "IMAGESVC_DATABASE_URL": database_url,
            "IMAGESVC_WORKERS": str(workers),
            "IMAGESVC_LOG_LEVEL": "WARNING",
            # The metrics folder inside the test's own folder, so a killed master leaves nothing behind.
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        })

    def cli(self, *args):
        """Run ``imagesvc ARGS`` on this database; its stdout."""
        done = subprocess.run([*command("imagesvc"), *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def upgrade(self):
        self.cli("db", "upgrade")
        return self

    def token(self, name, role="editor"):
        return self.cli("token", "create", name, "--role", role).strip()

    def start(self):
        self.port = free_port()
        env = {**self.env, "IMAGESVC_BIND": f"127.0.0.1:{self.port}"}
        self.log = open(self.workdir / f"gunicorn-{self.port}.log", "ab")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [*command("gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                if self.request("GET", "/healthz", timeout=2)[0] == 200:
                    # Every worker up: one answered, the others are at most a moment behind.
                    return self
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"gunicorn did not answer in {START_TIMEOUT}s:\n{self.log_text()}")
            time.sleep(0.1)

    def log_text(self):
        return (self.workdir / f"gunicorn-{self.port}.log").read_text(errors="replace")

    def kill(self):
        """SIGKILL the master and every worker at once (the whole process group)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self._reap()

    def stop(self):
        """Stop as an operator would (SIGTERM), killing whatever is left after a while."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self._reap()

    def _reap(self):
        if self.process:
            self.process.wait()
            # Workers left in the group (a master killed first) are killed too.
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.log.close()

    def request(self, method, path, body=None, headers=None, timeout=20):
        """(status, headers, JSON body or None) of one request on its own connection."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            payload = None if body is None else json.dumps(body, ensure_ascii=False).encode()
            all_headers = dict(headers or {})
            if payload is not None:
                all_headers["Content-Type"] = "application/json"
            connection.request(method, path, body=payload, headers=all_headers)
            response = connection.getresponse()
            raw = response.read()
            try:
                data = json.loads(raw) if raw else None
            except ValueError:
                data = None
            return response.status, response.headers, data
        finally:
            connection.close()
