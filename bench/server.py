"""gunicorn under the production configuration (gunicorn.conf.py) on a free loopback port."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUNICORN = os.path.join(os.path.dirname(sys.executable), "gunicorn")
# Workers load their search index before they serve: seconds for a million images.
STARTUP_SECONDS = 120
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# /proc/net/tcp states of a connection the server still has to answer or close:
# SYN_RECV, ESTABLISHED, CLOSE_WAIT (the client has gone, the worker has not noticed yet).
BUSY_TCP_STATES = {"03", "01", "08"}


def free_loopback_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py <app>`` in the repository root, as a context manager.

    Entering starts it and waits until ``ready_path`` answers 200; leaving stops it. Its
    output goes to ``log_path``, whose tail is shown when it fails to start.
    """

    def __init__(self, app, log_path, ready_path, env=None, companion_pids=()):
        self.app = app
        # Processes that serve with it (the database server), counted in its CPU time.
        self.companion_pids = tuple(companion_pids)
        self.log_path = log_path
        self.ready_path = ready_path
        self.port = free_loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {}), "IMAGESVC_BIND": f"127.0.0.1:{self.port}"}
        self.process = None

    def __enter__(self):
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen([GUNICORN, "-c", "gunicorn.conf.py", self.app], cwd=ROOT, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def _wait_until_ready(self):
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn {self.app} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:  # not listening yet, or a worker still loading its search index
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn {self.app} did not answer {self.ready_path} in {STARTUP_SECONDS}s:\n"
                           f"{self.log_tail()}")

    def log_tail(self, lines=20):
        with open(self.log_path, errors="replace") as log:
            return "".join(log.readlines()[-lines:])

    def stop(self):
        """SIGTERM, as an orchestrator would; SIGKILL if it is still there after the graceful timeout."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
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
