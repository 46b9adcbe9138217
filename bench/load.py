"""Load from wrk: each scenario is one wrk run, after a warm-up, from a separate process.

wrk runs bench/lua/<script>.lua, which requires report.lua: it prints one ``BENCH_RESULT
{json}`` line at the end. A scenario with a request stream (bench/workload.py) runs
stream.lua, which replays the stream's file for the phase (warm-up or measured) and the
thread, and reports how many requests each thread made of it.

The warm-up counts every response by status, so anything but a 2xx (a 3xx too) is caught by
its status; the measured run leaves responses alone (a Lua hook per response would slow wrk,
and so the baseline, by a third) and counts what wrk counts: statuses of 400 or more, and
socket errors (connect, read, write, timeout). Only the rest count as served.

wrk's latencies are those of the responses that arrived before the run ended (with wrk's own
correction for coordinated omission, which only adds to them). When most requests take longer
than the run, they are lower bounds: a Result checks them against Little's law (with
CONNECTIONS always busy, the mean latency is CONNECTIONS / throughput, which the measured mean
normally exceeds) and says when they fall short (``latencies_complete``).
"""

import json
import math
import os
import re
import resource
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field

from bench.server import machine_busy_seconds

LUA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lua")
CONNECTIONS = 16
THREADS = 2
# Beyond this wrk counts a request as a timeout and leaves it out of the latencies; gunicorn
# kills a worker silent for 30 s (IMAGESVC_TIMEOUT) anyway.
REQUEST_TIMEOUT = "30s"
WRK_DURATION = re.compile(r"[0-9]+[smh]?")
# A run's mean latency by Little's law may exceed the measured mean by this much (wrk's own time
# between a response and the next request) before the latencies count as incomplete.
LITTLE_TOLERANCE = 1.5
INSTALL_WRK = ("wrk is not installed: apt-get install wrk (Debian, Ubuntu), dnf install wrk (Fedora), "
               "brew install wrk (macOS)")


@dataclass(frozen=True)
class Scenario:
    name: str
    # The URL path and query of every request, unless the script makes its own.
    path: str
    script: str = "report"
    args: tuple = ()
    write: bool = False  # sends JSON with the editor token
    # The script's first argument is a token drawn afresh for every wrk run, which it builds
    # names from, so no two runs ever send the same name or version.
    unique: bool = False
    # A bench.workload.Streams: stream.lua replays it (its file prefix follows the token).
    stream: object = None
    # Uses the editor token, though not every request is a write (stream.lua sets the
    # Content-Type of those that are).
    editor: bool = False

    @property
    def role(self):
        return "editor" if self.write or self.editor else "reader"


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    # Whatever was not a 2xx: "503": 12, "4xx/5xx": 3, "timeout": 3, ...
    failures: dict = field(default_factory=dict)
    # Cores kept busy by anything but the server (with its companions) and wrk while it ran:
    # the noise in these numbers.
    other_cpu: float = 0.0
    # stream.lua runs: [{"sent": n, "wraps": n}] per thread; what the run sent, described.
    streams: list | None = None
    workload: dict | None = None
    # The mean latency of the responses that arrived, and the run's length.
    mean_ms: float = 0.0
    seconds: float = 0.0

    @property
    def implied_mean_ms(self):
        """The mean latency Little's law gives for CONNECTIONS connections always waiting."""
        return CONNECTIONS * self.seconds * 1000 / self.requests if self.requests else math.inf

    @property
    def latencies_complete(self):
        """False when the responses that arrived are too few for what the connections waited:
        requests still unanswered at the end make the latencies (p50, p99) lower bounds."""
        return self.implied_mean_ms <= LITTLE_TOLERANCE * self.mean_ms

    def as_json(self):
        return {"rps": round(self.rps, 1), "p50_ms": round(self.p50_ms, 2), "p99_ms": round(self.p99_ms, 2),
                "mean_ms": round(self.mean_ms, 2), "implied_mean_ms": round(self.implied_mean_ms, 2),
                "latencies_complete": self.latencies_complete, "other_cpu_cores": round(self.other_cpu, 2)}


class WrkError(RuntimeError):
    pass


def wrk_installed():
    return shutil.which("wrk") is not None


def check_duration(value, variable):
    """``value`` if it is a wrk duration (10s, 90s, 2m), None if it is zero."""
    if not WRK_DURATION.fullmatch(value):
        raise ValueError(f"{variable}={value!r}: a wrk duration like 10s, 90s or 2m")
    return value if int(value.rstrip("smh")) else None


def measure(server, scenario, token, duration, warmup=None):
    """Run ``scenario`` against ``server`` (a Gunicorn) for ``duration``, after ``warmup`` if any.

    The Result is the measured run's; what went wrong in the warm-up is added to its failures.
    """
    checked = run_wrk(server.url, scenario, token, warmup, "warmup", count_statuses=True) if warmup else None
    busy, served, wrk = machine_busy_seconds(), server.cpu_seconds(), _children_cpu_seconds()
    started = time.monotonic()
    result = run_wrk(server.url, scenario, token, duration, "measured")
    elapsed = time.monotonic() - started
    others = (machine_busy_seconds() - busy) - (server.cpu_seconds() - served) - (_children_cpu_seconds() - wrk)
    result.other_cpu = max(0.0, others / elapsed)
    if not result.requests:
        result.failures["no response within the run"] = 1  # and so no latencies either
    if checked:
        result.failures.update({f"{failure} (warm-up)": count for failure, count in checked.failures.items()})
    if scenario.stream and result.streams:
        result.workload = scenario.stream.describe("measured", [thread["sent"] for thread in result.streams])
        result.workload["wraps"] = sum(thread["wraps"] for thread in result.streams)
    return result


def _children_cpu_seconds():
    """CPU time of this process's finished children: the wrk runs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(base_url, scenario, token, duration, phase, count_statuses=False):
    """One wrk run of ``scenario``; ``phase`` ("warmup" or "measured") picks the stream file."""
    args = ((secrets.token_hex(4),) if scenario.unique else ()) + tuple(str(arg) for arg in scenario.args)
    if scenario.stream:
        args += (scenario.stream.prefix(phase),)
    headers = ["-H", f"Authorization: Bearer {token}"]
    if scenario.write:
        headers += ["-H", "Content-Type: application/json"]
    command = ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", duration, "--timeout", REQUEST_TIMEOUT,
               "-s", os.path.join(LUA_DIR, f"{scenario.script}.lua"), *headers, base_url + scenario.path, "--", *args]
    env = {**os.environ, "LUA_PATH": os.path.join(LUA_DIR, "?.lua") + ";;",
           "BENCH_COUNT_STATUSES": "1" if count_statuses else "0"}
    finished = subprocess.run(command, env=env, capture_output=True, text=True)
    if finished.returncode != 0:
        raise WrkError(f"wrk failed on {scenario.name} ({finished.returncode}):\n{finished.stderr}{finished.stdout}")
    for line in finished.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return parse_report(json.loads(line.removeprefix("BENCH_RESULT ")))
    raise WrkError(f"wrk printed no BENCH_RESULT line on {scenario.name}:\n{finished.stdout}{finished.stderr}")


def parse_report(report):
    """A Result from the JSON that report.lua prints."""
    if report["statuses"] is not None:
        statuses = {int(status): count for status, count in report["statuses"].items()}
        served = sum(count for status, count in statuses.items() if 200 <= status < 300)
        failures = {str(status): count for status, count in sorted(statuses.items()) if not 200 <= status < 300}
    else:
        served = report["requests"] - report["status_400_or_more"]
        failures = {"4xx/5xx": report["status_400_or_more"]} if report["status_400_or_more"] else {}
    failures.update({error: count for error, count in report["socket_errors"].items() if count})
    return Result(
        rps=served / (report["duration_us"] / 1e6),
        p50_ms=report["latency_us"]["p50"] / 1000,
        p99_ms=report["latency_us"]["p99"] / 1000,
        requests=report["requests"],
        failures=failures,
        streams=report.get("streams"),
        mean_ms=report["latency_us"]["mean"] / 1000,
        seconds=report["duration_us"] / 1e6,
    )
