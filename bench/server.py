"""gunicorn serving an app as operators run it, for bench/run.py and the tests that need a real server.

``Gunicorn`` runs ``gunicorn -c gunicorn.conf.py <app>`` in the repository root on a free loopback
port, in a process group of its own, waits until it answers, and stops it as an orchestrator
would (SIGTERM), or kills master and workers at once (SIGKILL). Its output goes to a log file.
The rest reads /proc, for the benchmark's report: the CPU time and memory the server uses.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# gunicorn and the ``imagesvc`` console script, run by this Python in the repository root, so
# that they import this checkout's imagesvc (the console scripts import the installed one).
GUNICORN = (sys.executable, "-m", "gunicorn")
IMAGESVC = (sys.executable, "-c", "from imagesvc.cli import cli; cli()")
# Workers load their search index before they serve: seconds for a million images.
STARTUP_SECONDS = 120
# Past gunicorn's graceful timeout (20 s): time for the workers to finish what they hold.
STOP_SECONDS = 30
# Variables that would change how the server runs besides IMAGESVC_*: an ``isolated`` server (the
# tests') leaves all of them out, so that it runs on the settings it is given and the defaults.
SERVER_SETTINGS = ("PROMETHEUS_MULTIPROC_DIR", "FLASK_DEBUG")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# /proc/net/tcp states of a connection the server still has to answer or close:
# SYN_RECV, ESTABLISHED, CLOSE_WAIT (the client has gone, the worker has not noticed yet).
BUSY_TCP_STATES = {"03", "01", "08"}


def json_lines(text):
    """Each non-blank line of a log, parsed: every line imagesvc and gunicorn write is a JSON object."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def free_loopback_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py <app>`` on a free loopback port (``url``), as a context manager.

    ``start()`` (entering) starts it and waits until ``ready_path`` answers 200; ``stop()``
    (leaving) stops it. ``env`` is added to this process's environment, less every ``IMAGESVC_*`` variable and
    SERVER_SETTINGS when ``isolated``. Its output goes to ``log_path``, whose tail is shown when it fails to start.
    """

    def __init__(self, log_path, env=None, app="wsgi:app", ready_path="/healthz", isolated=False,
                 companion_pids=()):
        self.app = app
        self.log_path = Path(log_path)
        self.ready_path = ready_path
        # Processes that serve with it (the database server), counted in its CPU time.
        self.companion_pids = tuple(companion_pids)
        inherited = {name: value for name, value in os.environ.items()
                     if not (isolated and (name.startswith("IMAGESVC_") or name in SERVER_SETTINGS))}
        self.env = {**inherited, **(env or {})}
        self.port = free_loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def cli(self, *args):
        """The output of ``imagesvc ARGS`` run with the server's environment (its database)."""
        done = subprocess.run([*IMAGESVC, *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=60)
        if done.returncode:
            raise RuntimeError(f"imagesvc {' '.join(args)} exited with {done.returncode}:\n{done.stderr}")
        return done.stdout

    def start(self):
        """Start it and wait until it answers; killed again if it does not."""
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [*GUNICORN, "-c", "gunicorn.conf.py", self.app], cwd=ROOT,
                env={**self.env, "IMAGESVC_BIND": f"127.0.0.1:{self.port}"},
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_until_ready()
        except BaseException:
            self.kill()
            raise
        return self

    __enter__ = start

    def __exit__(self, *exc_info):
        self.stop()

    def _wait_until_ready(self):
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn {self.app} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if self.request("GET", self.ready_path, timeout=2)[0] == 200:
                    return
            except (OSError, http.client.HTTPException):  # not listening yet, or a worker still loading
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn {self.app} did not answer {self.ready_path} in {STARTUP_SECONDS}s:\n"
                           f"{self.log_tail()}")

    def request(self, method, path, body=None, headers=None, timeout=20):
        """(status, headers, body) of one request on a connection of its own, as a separate client
        would send it; ``body`` goes as JSON, and a JSON answer comes back parsed (other bytes as
        they are)."""
        headers = dict(headers or {})
        payload = None
        if body is not None:
            payload = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        parsed = json.loads(raw) if raw and response.headers.get_content_type() == "application/json" else raw
        return response.status, response.headers, parsed

    def log_lines(self):
        """Every line written so far, each parsed as JSON (``json_lines``)."""
        return json_lines(self.log_path.read_text(encoding="utf-8"))

    def log_tail(self, lines=20):
        with open(self.log_path, errors="replace") as log:
            return "".join(log.readlines()[-lines:])

    def stop(self):
        """SIGTERM to the master, as an orchestrator would; SIGKILL to all if they are still
        there after STOP_SECONDS."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def kill(self):
        """SIGKILL to the master and every worker at once (the whole process group)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # all gone already
        self.process.wait()

    def wait_until_idle(self, timeout=300):
        """Wait until the server holds no connection: requests a finished wrk run left queued
        or in flight (gunicorn serves them all, though nobody reads the answers) must not count
        against the next scenario. Returns the seconds waited, or None if it is still busy."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if not self.open_connections():
                return time.monotonic() - started
            time.sleep(0.05)
        return None

    def open_connections(self):
        """Connections to the server's port that it has not finished with yet."""
        count = 0
        with open("/proc/net/tcp") as table:
            next(table)  # header
            for line in table:
                local, _, state = line.split()[1:4]
                if int(local.rsplit(":", 1)[1], 16) == self.port and state in BUSY_TCP_STATES:
                    count += 1
        return count

    def worker_pids(self):
        """The pids of the master's children: its workers."""
        children = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (_proc_stat(int(entry)) or {}).get("ppid") == self.process.pid:
                children.append(int(entry))
        return children

    def cpu_seconds(self):
        """CPU time used so far by the master, its current workers and the companions."""
        stats = [_proc_stat(pid) for pid in (self.process.pid, *self.worker_pids(), *self.companion_pids)]
        return sum(stat["cpu_seconds"] for stat in stats if stat)

    def worker_rss_mb(self):
        """The largest resident set of the workers, in MB (VmRSS of /proc/<pid>/status)."""
        sizes = []
        for pid in self.worker_pids():
            try:
                with open(f"/proc/{pid}/status") as status:
                    for line in status:
                        if line.startswith("VmRSS:"):
                            sizes.append(int(line.split()[1]) / 1024)  # kB
            except OSError:
                continue
        return max(sizes, default=0.0)


def _proc_stat(pid):
    """The parent and the CPU time of a process, from /proc/<pid>/stat; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # pid (comm) state ppid ... utime stime ...: comm may hold spaces, so split after ")".
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return {"ppid": int(fields[1]), "cpu_seconds": (int(fields[11]) + int(fields[12])) / CLOCK_TICKS}


def machine_busy_seconds():
    """CPU time all cores have spent on anything but idling, since boot (/proc/stat)."""
    with open("/proc/stat") as stat:
        user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in stat.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def listening_pid(port):
    """The pid of the process listening on TCP ``port`` (IPv4 or IPv6), or None."""
    sockets = set()
    for table_path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table_path) as table:
            next(table)  # header
            for line in table:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                    sockets.add(f"socket:[{fields[9]}]")
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{entry}/fd/{fd}") in sockets for fd in os.listdir(f"/proc/{entry}/fd")):
                return int(entry)
        except OSError:
            continue  # gone, or not ours to look at
    return None
