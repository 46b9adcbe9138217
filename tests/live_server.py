"""A real gunicorn serving imagesvc on a free loopback port, for the tests that need one.

It runs as operators run it: ``imagesvc db upgrade`` on a fresh SQLite file, then
``gunicorn wsgi:app`` in the project folder, so ./gunicorn.conf.py is read. Everything it
writes (gunicorn's lines and the app's) goes to a log file the test reads.
"""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30
# Variables of the test's own environment that would change how the server runs.
DROPPED_ENV = ("PROMETHEUS_MULTIPROC_DIR", "IMAGESVC_METRICS_DIR_OWNER", "FLASK_DEBUG", "IMAGESVC_DEBUG",
               "IMAGESVC_CORS_ORIGINS", "IMAGESVC_METRICS", "IMAGESVC_LOG_LEVEL", "IMAGESVC_WORKER_CLASS",
               "IMAGESVC_WORKER_CONNECTIONS")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def imagesvc_command():
    """The ``imagesvc`` console script of this environment."""
    script = shutil.which("imagesvc", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-c", "from imagesvc.cli import cli; cli()"]


@dataclass
class Server:
    url: str
    log_path: Path
    process: subprocess.Popen

    def request(self, path, headers=None, method="GET"):
        """(status, headers, body bytes) of one request; HTTP errors are answers too."""
        req = urllib.request.Request(self.url + path, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers, error.read()

    def log_lines(self):
        """Every line the server wrote so far, each parsed as JSON (fails on any other line)."""
        text = self.log_path.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]


@contextlib.contextmanager
def gunicorn(tmp_path, workers=1, env=None):
    """Serve imagesvc with ``workers`` gunicorn workers; yields a ``Server``."""
    environ = {key: value for key, value in os.environ.items() if key not in DROPPED_ENV}
    environ.update({
        "IMAGESVC_DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}",
        "IMAGESVC_WORKERS": str(workers),
        "IMAGESVC_THREADS": "1",
        **(env or {}),
    })
    subprocess.run([*imagesvc_command(), "db", "upgrade"], cwd=ROOT, env=environ, check=True,
                   capture_output=True, timeout=60)
    port = free_port()
    environ["IMAGESVC_BIND"] = f"127.0.0.1:{port}"
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "wsgi:app"], cwd=ROOT, env=environ,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", log_path, process)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                if server.request("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer in {START_TIMEOUT}s:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
