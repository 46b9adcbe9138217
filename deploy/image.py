#!/usr/bin/env python3
"""Build imagesvc's container image (``make image``) and check it end to end (``make image-check``).

    python3 deploy/image.py build [--tag T] [--base IMAGE]
    python3 deploy/image.py check

``build`` runs podman (or docker, when there is no podman) on the Containerfile.

``check`` builds the image on a local Debian base (``localhost/debian:bookworm``, made once with
debootstrap, trimmed as Debian's -slim images are, and kept), then proves, printing each step:
- the image: non-root user, the server command and port, no pip, no test dependencies, no
  compiler, no apt lists or caches, its code not writable by its user;
- served from a SQLite volume: ``imagesvc db upgrade`` and ``imagesvc token create`` run from the
  image itself, then the server with a read-only root (only /tmp a tmpfs, all capabilities
  dropped) answers the probes, creates, lists, the feed, the docs page and /metrics through HTTP;
  its processes run as uid 10001; it wrote nothing outside its volume; its logs are JSON; it stops
  gracefully on SIGTERM;
- the same on MariaDB (``--network host``, a fresh ``test_image_<pid>`` database made and
  dropped), with the rate limits counted in Redis when it answers (429 past the limit, whichever
  worker answers).
Nothing but loopback is bound. Logs go to test-artifacts/image-check/. Python's standard library
only: it runs before any virtualenv exists.

Settings (environment): IMAGE_ENGINE (podman|docker), IMAGE_PODMAN_ARGS (podman's global
options; default ``--runtime runc`` when runc exists and ``--cgroup-manager=cgroupfs`` without
systemd), IMAGE_BUILD_ARGS (more ``build`` options), IMAGE_BUILD_CA (a CA bundle for pip behind a
TLS-intercepting proxy; default PIP_CERT or pip's configured cert; empty: none),
IMAGESVC_TEST_MYSQL_URL (mysql://root@127.0.0.1:3306/test), IMAGESVC_TEST_REQUIRE_MYSQL /
IMAGESVC_TEST_REQUIRE_REDIS (fail instead of skipping that half when it does not answer).
"""

import argparse
import concurrent.futures
import configparser
import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "image-check"
DEFAULT_TAG = "localhost/imagesvc:latest"
CHECK_TAG = "localhost/imagesvc:check"
LOCAL_BASE = "localhost/debian:bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
UID = 10001
# This machine's podman runs containers with runc, without default ulimits or a pids limit.
CONTAINERS_CONF = "[containers]\ndefault_ulimits = []\npids_limit = 0\n"
# What `pip install -e '.[test]'` brings and the image must not hold, nor an installer.
NOT_IN_IMAGE = ("pytest", "pytest-cov", "coverage", "ruff", "websocket-client", "schemathesis", "hypothesis",
                "openapi-python-client", "jupyterhub-kubespawner", "pip", "setuptools", "wheel")
TOOLCHAIN = ("gcc", "cc", "c++", "g++", "clang", "make", "as", "ld")
# What `diff` lists of a container that wrote nothing: the mount points the engine itself made
# (/etc/hosts, /etc/resolv.conf and /etc/hostname are bind-mounted files in /etc).
RUNTIME_MOUNTS = {"/etc", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run", "/run/.containerenv",
                  "/run/secrets", "/tmp", "/dev", "/dev/shm", "/proc", "/sys", "/var/lib/imagesvc"}
# As Debian's -slim images (and so debian:bookworm-slim, the Containerfile's default base): no
# documentation but the licences, no manual pages, no translations.
DPKG_SLIM = """path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
"""
SCOPE = "开发机"
RATE_LIMIT = 40


class CheckFailed(Exception):
    pass


def say(message=""):
    print(message, flush=True)


def ok(message):
    say(f"  ok  {message}")


def require(condition, message):
    if not condition:
        raise CheckFailed(message)


# ----- the container engine -----

class Engine:
    """podman or docker, with the options this machine needs."""

    def __init__(self, workdir):
        name = os.environ.get("IMAGE_ENGINE") or ("podman" if shutil.which("podman") else "docker")
        if not shutil.which(name):
            raise CheckFailed("neither podman nor docker is on PATH (apt-get install podman runc)")
        self.name = name
        self.env = dict(os.environ)
        self.global_args = []
        if name == "podman":
            if "CONTAINERS_CONF" not in self.env:
                conf = Path(workdir) / "containers.conf"
                conf.write_text(CONTAINERS_CONF)
                self.env["CONTAINERS_CONF"] = str(conf)
            if "IMAGE_PODMAN_ARGS" in os.environ:
                self.global_args = shlex.split(os.environ["IMAGE_PODMAN_ARGS"])
            else:
                if shutil.which("runc"):
                    self.global_args += ["--runtime", "runc"]
                if not Path("/run/systemd/system").is_dir():
                    self.global_args.append("--cgroup-manager=cgroupfs")
        else:
            self.env["DOCKER_BUILDKIT"] = "1"  # build secrets

    def command(self, *args):
        return [self.name, *self.global_args, *args]

    def run(self, *args, check=True, timeout=600, **kwargs):
        kwargs.setdefault("capture_output", "stdout" not in kwargs)
        result = subprocess.run(self.command(*args), env=self.env, text=True, timeout=timeout, check=False, **kwargs)
        if check and result.returncode != 0:
            detail = (result.stderr or "").strip()[-2000:] if kwargs.get("capture_output") else ""
            raise CheckFailed(f"`{shlex.join(self.command(*args))}` exited {result.returncode}\n{detail}")
        return result

    def out(self, *args, **kwargs):
        return self.run(*args, **kwargs).stdout.strip()

    def image_exists(self, tag):
        if self.name == "podman":
            return self.run("image", "exists", tag, check=False).returncode == 0
        return self.run("image", "inspect", tag, check=False).returncode == 0

    def container_run(self, tag, *command, env=None, volume=None, network_host=False, user=None, check=True):
        """A one-off command in a fresh container of ``tag``, removed afterwards."""
        args = ["run", "--rm"]
        if network_host:
            args += ["--network", "host"]
        if volume:
            args += ["-v", f"{volume}:/var/lib/imagesvc"]
        if user is not None:
            args += ["--user", str(user)]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        return self.run(*args, tag, *command, check=check, timeout=300)


def ca_bundle():
    """The CA bundle pip should trust while building, or None."""
    if "IMAGE_BUILD_CA" in os.environ:
        return os.environ["IMAGE_BUILD_CA"] or None
    candidates = [os.environ.get("PIP_CERT")]
    config = configparser.ConfigParser()
    config.read(["/etc/pip.conf", "/etc/xdg/pip/pip.conf", os.path.expanduser("~/.config/pip/pip.conf"),
                 os.path.expanduser("~/.pip/pip.conf")])
    candidates.append(config.get("global", "cert", fallback=None))
    return next((path for path in candidates if path and os.path.isfile(path)), None)


def build(engine, tag, base=None, log=None):
    """Build the Containerfile as ``tag``; returns the seconds it took."""
    args = ["build", "-f", str(ROOT / "Containerfile"), "-t", tag]
    if engine.name == "podman":
        args.append("--isolation=chroot")
    if base:
        args += ["--build-arg", f"BASE_IMAGE={base}"]
    ca = ca_bundle()
    if ca:
        args += ["--secret", f"id=pip_cert,src={ca}"]
    args += shlex.split(os.environ.get("IMAGE_BUILD_ARGS", ""))
    args.append(str(ROOT))
    say(f"$ {shlex.join(engine.command(*args))}")
    started = time.monotonic()
    if log is None:
        engine.run(*args, stdout=None, stderr=None, timeout=3600)
    else:
        with open(log, "w") as file:
            result = engine.run(*args, stdout=file, stderr=subprocess.STDOUT, timeout=3600, check=False)
        if result.returncode != 0:
            raise CheckFailed(f"the build failed (exit {result.returncode}); its last lines ({log}):\n"
                              + "\n".join(Path(log).read_text(errors="replace").splitlines()[-40:]))
    return time.monotonic() - started


def slim(rootfs):
    """Trim a debootstrapped tree as Debian trims its -slim images: no apt lists or downloaded
    packages, no documentation but the licences, no manual pages, no translations; and have dpkg
    leave them out of every package installed later."""
    (rootfs / "etc/dpkg/dpkg.cfg.d/slim").write_text(DPKG_SLIM)
    for folder in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (rootfs / folder).glob("*"):
            if entry.is_file():
                entry.unlink()
    for folder in ("usr/share/man", "usr/share/groff", "usr/share/info", "usr/share/lintian", "usr/share/linda"):
        shutil.rmtree(rootfs / folder, ignore_errors=True)
    for entry in (rootfs / "usr/share/locale").glob("*"):
        if entry.name != "locale.alias":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for package in (rootfs / "usr/share/doc").glob("*"):
        for entry in package.iterdir() if package.is_dir() and not package.is_symlink() else ():
            if entry.name != "copyright":
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()


def ensure_local_base(engine):
    """localhost/debian:bookworm: Debian's own packages, debootstrapped once and kept."""
    if engine.image_exists(LOCAL_BASE):
        say(f"base {LOCAL_BASE}: present (made by an earlier run; `{engine.name} rmi {LOCAL_BASE}` remakes it)")
        return
    require(shutil.which("debootstrap"), f"no {LOCAL_BASE} and no debootstrap to make it (apt-get install debootstrap)")
    require(os.geteuid() == 0, f"making {LOCAL_BASE} with debootstrap needs root")
    say(f"base {LOCAL_BASE}: making it with debootstrap (minbase, bookworm, {DEBIAN_MIRROR}), trimmed as -slim")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="imagesvc-debootstrap-", dir="/var/tmp") as rootfs:
        with open(ARTIFACTS / "debootstrap.log", "w") as log:
            result = subprocess.run(["debootstrap", "--variant=minbase", "bookworm", rootfs, DEBIAN_MIRROR],
                                    stdout=log, stderr=subprocess.STDOUT, timeout=1800, check=False)
        require(result.returncode == 0,
                f"debootstrap failed (exit {result.returncode}): {ARTIFACTS / 'debootstrap.log'}")
        slim(Path(rootfs))
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        engine.run("import", "-", LOCAL_BASE, stdin=tar.stdout, timeout=1800)
        tar.stdout.close()
        require(tar.wait() == 0, "tar of the debootstrap folder failed")
    say(f"base {LOCAL_BASE}: made in {time.monotonic() - started:.0f} s")


# ----- HTTP -----

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


class Client:
    def __init__(self, url):
        self.url = url

    def call(self, method, path, token=None, body=None, headers=None):
        """(status, headers, body bytes); HTTP errors are answers too."""
        headers = dict(headers or {})
        data = None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers, error.read()

    def expect(self, method, path, status, token=None, body=None, headers=None, show=None):
        """The call, which must answer ``status``; prints it. Returns (headers, parsed JSON or text)."""
        got, answer_headers, raw = self.call(method, path, token, body, headers)
        text = raw.decode("utf-8", errors="replace")
        content = json.loads(text) if "json" in (answer_headers.get("Content-Type") or "") and text else text
        require(got == status, f"{method} {path}: expected {status}, got {got}: {text[:500]}")
        require(answer_headers.get("X-Request-ID") or path == "/metrics" or path.startswith("/api/docs"),
                f"{method} {path}: no X-Request-ID")
        summary = show(content) if show else (text[:70] + ("…" if len(text) > 70 else "")).replace("\n", " ")
        shown = unquote(path)
        ok(f"{method:<6} {shown[:62]:<62} {got}  {summary}")
        return answer_headers, content


# ----- the checks -----

def check_image(engine, tag):
    say(f"\nthe image {tag}")
    config = json.loads(engine.out("image", "inspect", tag))[0]["Config"]
    require(config.get("User") == f"{UID}:{UID}", f"image user {config.get('User')!r}, not {UID}:{UID}")
    ok(f"runs as {config['User']} (not root)")
    require(config.get("Cmd") == ["gunicorn", "wsgi:app"] and not config.get("Entrypoint"),
            f"command {config.get('Entrypoint')} {config.get('Cmd')}")
    ok(f"command {config['Cmd']} in {config.get('WorkingDir')}, no entrypoint: `run IMAGE imagesvc …` runs the CLI")
    env = dict(item.split("=", 1) for item in config.get("Env", []))
    require(env.get("IMAGESVC_BIND") == "0.0.0.0:8000", f"IMAGESVC_BIND {env.get('IMAGESVC_BIND')}")
    require("8000/tcp" in (config.get("ExposedPorts") or {}), "port 8000 not exposed")
    require("/var/lib/imagesvc" in (config.get("Volumes") or {}), "no volume /var/lib/imagesvc")
    ok(f"serves on {env['IMAGESVC_BIND']} with {env.get('IMAGESVC_WORKERS')} workers; "
       f"volume /var/lib/imagesvc; database {env.get('IMAGESVC_DATABASE_URL')}")
    size = engine.out("image", "ls", "--format", "{{.Size}}", tag).splitlines()[0]
    ok(f"size {size}")

    ids = engine.out("run", "--rm", tag, "id")
    require(ids.startswith(f"uid={UID}(imagesvc) gid={UID}(imagesvc)"), f"id in the container: {ids}")
    ok(f"id: {ids}")

    listing = engine.out("run", "--rm", tag, "python", "-c",
                         "import importlib.metadata as m; print('\\n'.join(sorted("
                         "f\"{d.metadata['Name'].lower()}=={d.version}\" for d in m.distributions())))").split()
    names = {entry.split("==")[0].replace("_", "-") for entry in listing}
    present = sorted(names & set(NOT_IN_IMAGE))
    require(not present, f"the image holds {present}")
    require("imagesvc" in names and "gunicorn" in names and "gevent" in names, f"missing runtime packages: {listing}")
    own = ", ".join(entry for entry in listing if entry.startswith("imagesvc"))
    ok(f"{len(listing)} Python distributions, runtime only ({own}); none of {', '.join(NOT_IN_IMAGE)}")
    pip = engine.run("run", "--rm", tag, "pip", "show", "pytest", check=False)
    require(pip.returncode != 0, "`pip show pytest` succeeded in the image")
    pip_module = engine.run("run", "--rm", tag, "python", "-m", "pip", "--version", check=False)
    require(pip_module.returncode != 0, "pip is in the image")
    ok(f"`pip show pytest` fails (exit {pip.returncode}: no pip at all; `python -m pip` exits {pip_module.returncode})")
    script = "for tool in " + " ".join(TOOLCHAIN) + "; do command -v $tool; done; exit 0"
    tools = engine.out("run", "--rm", tag, "sh", "-c", script)
    require(not tools, f"toolchain in the image: {tools}")
    ok(f"no compiler or build tool (none of {', '.join(TOOLCHAIN)})")
    leftovers = engine.out("run", "--rm", "--user", "0", tag, "sh", "-c",
                           "ls -d /root/.cache /var/lib/apt/lists/*_Packages* /var/cache/apt/archives/*.deb "
                           "/src /tmp/* 2>/dev/null; exit 0")
    require(not leftovers, f"caches or build leftovers in the image: {leftovers}")
    ok("no pip or apt caches, no apt lists, no sources (/src), nothing in /tmp")
    writable = engine.out("run", "--rm", tag, "sh", "-c",
                          "find /opt/imagesvc /app /usr /etc /bin /sbin /lib /var/lib/dpkg -xdev -writable 2>/dev/null "
                          "| head -5; exit 0")
    require(not writable, f"writable by uid {UID}: {writable}")
    ok(f"its code and system files are not writable by uid {UID}")


def process_ids(engine, name):
    """(pid, uid, VmRSS MB) of the container's first process and its children, as the host sees them."""
    master = int(engine.out("inspect", "--format", "{{.State.Pid}}", name))
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line)
        except OSError:
            continue
        pid, ppid = int(entry.name), int(status["PPid"])
        if pid == master or ppid == master:
            rss = int(status.get("VmRSS", "0 kB").split()[0]) / 1024
            found.append((pid, int(status["Uid"].split()[1]), rss, pid == master))
    return sorted(found, key=lambda item: not item[3])


@contextlib.contextmanager
def serving(engine, tag, name, env, volume=None):
    """The image's server, as Kubernetes runs it (read-only root, /tmp a tmpfs, no capabilities, no new
    privileges), on a free loopback port of the host network; removed afterwards, its log saved."""
    port = free_port()
    args = ["run", "-d", "--name", name, "--network", "host", "--read-only", "--tmpfs", "/tmp:rw,nosuid,nodev,size=64m",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "-e", f"IMAGESVC_BIND=127.0.0.1:{port}"]
    if engine.name == "podman":
        args.append("--read-only-tmpfs=false")  # /tmp alone is writable, as under Kubernetes
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    if volume:
        args += ["-v", f"{volume}:/var/lib/imagesvc"]
    engine.run(*args, tag)
    log = ARTIFACTS / f"{name}.log"
    try:
        client = Client(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            state = engine.out("inspect", "--format", "{{.State.Status}}", name)
            if state != "running" or time.monotonic() > deadline:
                logs = engine.run("logs", name, check=False)
                raise CheckFailed(f"the server did not come up ({state}):\n{(logs.stdout + logs.stderr)[-3000:]}")
            time.sleep(0.25)
        ok(f"serving on 127.0.0.1:{port} (read-only root, /tmp a tmpfs, capabilities dropped)")
        yield client
    finally:
        logs = engine.run("logs", name, check=False)
        log.write_text(logs.stdout + logs.stderr)
        engine.run("rm", "--force", "--volumes", name, check=False)


def smoke(client, token, label):
    """Probes, a create, the list, the feed, the docs and /metrics, through HTTP."""
    image_id = f"image-check-{label}-{os.getpid()}"
    client.expect("GET", "/healthz", 200)
    client.expect("GET", "/readyz", 200)
    client.expect("GET", "/api/images", 401, show=lambda body: body["code"])
    _, created = client.expect("POST", "/api/images", 201, token, body={
        "name": f"Image check {label}", "imageId": image_id,
        "imageAddress": f"registry.example.com/check/{image_id}:1.0",
        "frameworks": ["PyTorch"], "applicableScopes": [SCOPE], "chipType": "GPU",
        "description": "made by deploy/image.py check"}, show=lambda body: f"id {body['data']['id']}")
    number = created["data"]["id"]
    client.expect("PUT", f"/api/images/{number}/status", 200, token, body={"status": "online"},
                  show=lambda body: body["data"]["status"])
    client.expect("POST", f"/api/images/{number}/versions", 201, token,
                  body={"version": "1.0", "pythonVersion": "3.11", "architectures": ["amd64"]},
                  show=lambda body: body["data"]["version"])
    _, listed = client.expect("GET", "/api/images?pageNo=1&pageSize=10", 200, token,
                              show=lambda body: f"total {body['data']['total']}")
    require([item["imageId"] for item in listed["data"]["list"]] == [image_id], f"list: {listed['data']}")
    headers, _ = client.expect("GET", f"/api/images/{number}", 200, token, show=lambda body: body["data"]["imageId"])
    client.expect("GET", f"/api/images/{number}", 304, token, headers={"If-None-Match": headers["ETag"]},
                  show=lambda body: "If-None-Match")
    feed = f"/api/images/feed?applicableScope={quote(SCOPE)}&format=json"
    headers, fed = client.expect("GET", feed, 200, token, show=lambda body: f"total {body['data']['total']}")
    require([item["imageId"] for item in fed["data"]["list"]] == [image_id], f"feed: {fed['data']}")
    client.expect("GET", feed, 304, token, headers={"If-None-Match": headers["ETag"]},
                  show=lambda body: "If-None-Match")
    client.expect("GET", f"/api/images/feed?applicableScope={quote(SCOPE)}&format=jupyterhub", 200, token,
                  show=lambda body: f"profiles {[profile['slug'] for profile in body]}")
    client.expect("GET", "/api/openapi.json", 200, show=lambda body: f"OpenAPI {body['openapi']}")
    _, page = client.expect("GET", "/api/docs", 200, show=lambda body: "Swagger UI")
    asset = re.search(r'(?:src|href)="([^"]*assets/[^"]+\.js)"', page)
    require(asset, "the docs page links no script of its own")
    client.expect("GET", "/api/docs/" + asset[1].split("docs/", 1)[-1].lstrip("./"), 200,
                  show=lambda body: f"{len(body):,} characters, served by imagesvc")
    _, metrics = client.expect("GET", "/metrics", 200, show=lambda body: "Prometheus text")
    created_line = re.search(r'imagesvc_http_requests_total\{[^}]*method="POST"[^}]*path="/api/images"[^}]*'
                             r'status="201"[^}]*\} ([0-9.]+)', metrics)
    require(created_line and float(created_line[1]) == 1.0, "/metrics does not count the create")
    total = sum(float(value) for value in re.findall(r"^imagesvc_http_requests_total\{[^}]*\} ([0-9.]+)$",
                                                     metrics, re.MULTILINE))
    require(total >= 14, f"/metrics counts {total} requests, fewer than were made")
    ok(f"/metrics counts {total:.0f} requests over all workers, the create among them")


def check_rate_limit(engine, tag, name, client, token, prefix):
    """RATE_LIMIT calls pass and the next is refused, the count kept in Redis whichever worker answers."""
    # Eight at a time, so that both workers answer some.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: client.call("GET", "/api/images", token)[0], range(RATE_LIMIT)))
    require(statuses == [200] * RATE_LIMIT, f"within the limit: {statuses}")
    status, headers, _ = client.call("GET", "/api/images", token)
    require(status == 429 and headers.get("Retry-After"), f"past the limit: {status}")
    counts = engine.container_run(tag, "python", "-c",
                                  "import sys, redis; c = redis.Redis.from_url('redis://127.0.0.1:6379/0'); "
                                  "print(*(f'{k.decode()} {c.get(k).decode()}' for k in "
                                  "c.scan_iter(match=f'*{sys.argv[1]}*')), sep='\\n')",
                                  prefix, network_host=True).stdout.split()
    # One key per token: the admin's smoke calls, and the reader's calls here.
    keys = dict(zip(counts[::2], map(int, counts[1::2]), strict=True))
    require(max(keys.values(), default=0) > RATE_LIMIT, f"the counts in Redis: {keys}")
    counts = max(keys.items(), key=lambda item: item[1])
    answered = {}
    logs = engine.run("logs", name)
    for line in (logs.stdout + logs.stderr).splitlines():
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("logger") == "imagesvc.access" and entry.get("token_name") == "image-check-reader":
            answered[entry["pid"]] = answered.get(entry["pid"], 0) + 1
    ok(f"rate limit {RATE_LIMIT}/minute: {RATE_LIMIT} × 200, then 429 (Retry-After {headers['Retry-After']}); "
       f"Redis counts {counts[1]} at {counts[0]}; the calls were answered by {len(answered)} worker(s) "
       f"({' and '.join(str(n) for n in answered.values())} calls)")


def check_processes(engine, name):
    ids = engine.out("exec", name, "id")
    require(ids.startswith(f"uid={UID}("), f"exec id: {ids}")
    processes = process_ids(engine, name)
    require(len(processes) == 3 and all(uid == UID for _, uid, _, _ in processes), f"processes: {processes}")
    master = processes[0]
    workers = processes[1:]
    ok(f"processes as uid {UID}: gunicorn master (pid {master[0]}) and {len(workers)} workers "
       f"(pids {', '.join(str(pid) for pid, *_ in workers)}); `id` inside: {ids.split()[0]}")
    ok(f"resident memory: master {master[2]:.0f} MB, workers {', '.join(f'{rss:.0f}' for _, _, rss, _ in workers)} MB")


def check_logs(engine, name):
    logs = engine.run("logs", name)
    lines = [line for line in (logs.stdout + logs.stderr).splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError as exc:
            raise CheckFailed(f"a log line that is not JSON: {line}") from exc
    access = sum(1 for entry in parsed if entry.get("logger") == "imagesvc.access")
    ok(f"{len(parsed)} log lines, every one JSON ({access} access lines)")


def check_stop(engine, name):
    changes = [line.split(None, 1)[-1] for line in engine.out("diff", name).splitlines()]
    written = [path for path in changes if path not in RUNTIME_MOUNTS]
    require(not written, f"the container wrote outside its volume and /tmp: {written}")
    ok(f"nothing written outside the volume and /tmp (diff: {', '.join(changes) or 'empty'}"
       f"{': the engine’s own mount points' if changes else ''})")
    started = time.monotonic()
    engine.run("stop", "--time", "30", name)
    code = engine.out("inspect", "--format", "{{.State.ExitCode}}", name)
    require(code == "0", f"exit code {code} after SIGTERM")
    ok(f"SIGTERM: stopped gracefully in {time.monotonic() - started:.1f} s, exit code 0")


def sqlite_half(engine, tag, label):
    say("\nSQLite in a volume")
    volume = f"{label}-data"
    engine.run("volume", "create", volume)
    try:
        upgrade = engine.container_run(tag, "imagesvc", "db", "upgrade", volume=volume)
        ok(f"imagesvc db upgrade: {upgrade.stdout.strip()}")
        again = engine.container_run(tag, "imagesvc", "db", "upgrade", volume=volume)
        require(again.stdout.strip() == "database is up to date", f"second upgrade: {again.stdout}")
        ok(f"imagesvc db upgrade again: {again.stdout.strip()}")
        token = engine.container_run(tag, "imagesvc", "token", "create", "image-check", "--role", "admin",
                                     "--expires-in", "1h", volume=volume).stdout.strip()
        require(re.fullmatch(r"\S{20,}", token), f"token create printed {token!r}")
        ok(f"imagesvc token create image-check --role admin: a token of {len(token)} characters")
        name = f"{label}-sqlite"
        with serving(engine, tag, name, {}, volume=volume) as client:
            smoke(client, token, "sqlite")
            check_processes(engine, name)
            check_logs(engine, name)
            check_stop(engine, name)
        files = engine.container_run(tag, "ls", "/var/lib/imagesvc", volume=volume).stdout.split()
        require("imagesvc.db" in files, f"volume holds {files}")
        ok(f"the volume holds {', '.join(files)}")
    finally:
        engine.run("volume", "rm", "--force", volume, check=False)


def mysql_half(engine, tag, label):
    say("\nMariaDB on the host")
    server = urlsplit(os.environ.get("IMAGESVC_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"))
    host, port = server.hostname or "127.0.0.1", server.port or 3306
    require(host in ("127.0.0.1", "localhost", "::1"), f"IMAGESVC_TEST_MYSQL_URL must point at loopback, not {host}")
    if not answers(host, port):
        reason = f"no MySQL/MariaDB at {host}:{port}"
        require(not os.environ.get("IMAGESVC_TEST_REQUIRE_MYSQL"), f"MySQL is required but unavailable: {reason}")
        say(f"  SKIPPED the MariaDB half: {reason}")
        return
    database = f"{server.path.lstrip('/') or 'test'}_image_{os.getpid()}"
    url = server._replace(path=f"/{database}").geturl()
    admin = ("import sys, pymysql; from urllib.parse import urlsplit; u = urlsplit(sys.argv[1]); "
             "c = pymysql.connect(host=u.hostname, port=u.port or 3306, user=u.username or 'root', "
             "password=u.password or '', autocommit=True); c.cursor().execute(sys.argv[2])")
    engine.container_run(tag, "python", "-c", admin, url, f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 "
                         "COLLATE utf8mb4_bin", network_host=True)
    ok(f"created the database {database} (with the image's own PyMySQL)")
    redis_prefix = f"imagesvc-image-check-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        env = {"IMAGESVC_DATABASE_URL": url}
        upgrade = engine.container_run(tag, "imagesvc", "db", "upgrade", env=env, network_host=True)
        ok(f"imagesvc db upgrade: {upgrade.stdout.strip()}")
        token = engine.container_run(tag, "imagesvc", "token", "create", "image-check", "--role", "admin",
                                     "--expires-in", "1h", env=env, network_host=True).stdout.strip()
        reader = engine.container_run(tag, "imagesvc", "token", "create", "image-check-reader", "--role", "reader",
                                      "--expires-in", "1h", env=env, network_host=True).stdout.strip()
        ok("imagesvc token create: an admin and a reader token")
        with_redis = answers("127.0.0.1", 6379)
        if with_redis:
            env.update({"IMAGESVC_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
                        "IMAGESVC_RATELIMIT_DEFAULT": f"{RATE_LIMIT}/minute",
                        "IMAGESVC_RATELIMIT_KEY_PREFIX": redis_prefix})
        else:
            require(not os.environ.get("IMAGESVC_TEST_REQUIRE_REDIS"), "Redis is required but 127.0.0.1:6379 is silent")
            say("  SKIPPED the rate limits in Redis: no Redis on 127.0.0.1:6379")
        name = f"{label}-mysql"
        with serving(engine, tag, name, env) as client:
            smoke(client, token, "mysql")
            if with_redis:
                check_rate_limit(engine, tag, name, client, reader, redis_prefix)
            check_processes(engine, name)
            check_logs(engine, name)
            check_stop(engine, name)
    finally:
        engine.container_run(tag, "python", "-c", admin, url, f"DROP DATABASE IF EXISTS `{database}`",
                             network_host=True, check=False)
        engine.container_run(tag, "python", "-c",
                             "import sys, redis; c = redis.Redis.from_url('redis://127.0.0.1:6379/0', "
                             "socket_connect_timeout=1); [c.delete(k) for k in c.scan_iter(match=f'*{sys.argv[1]}*')]",
                             redis_prefix, network_host=True, check=False)
        ok(f"dropped the database {database}")


def check(args):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="imagesvc-image-") as workdir:
        engine = Engine(workdir)
        say(f"engine: {engine.name} {engine.out('--version')} {shlex.join(engine.global_args)}")
        ensure_local_base(engine)
        seconds = build(engine, CHECK_TAG, LOCAL_BASE, log=ARTIFACTS / "build.log")
        ok(f"built {CHECK_TAG} on {LOCAL_BASE} in {seconds:.0f} s (log: {ARTIFACTS / 'build.log'})")
        check_image(engine, CHECK_TAG)
        label = f"imagesvc-check-{os.getpid()}"
        sqlite_half(engine, CHECK_TAG, label)
        mysql_half(engine, CHECK_TAG, label)
    say("\nimage-check: PASS")


def build_only(args):
    with tempfile.TemporaryDirectory(prefix="imagesvc-image-") as workdir:
        engine = Engine(workdir)
        seconds = build(engine, args.tag, args.base)
        say(f"built {args.tag} in {seconds:.0f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build the image")
    build_parser.add_argument("--tag", default=DEFAULT_TAG)
    build_parser.add_argument("--base", help="the base image (the Containerfile's BASE_IMAGE)")
    build_parser.set_defaults(run=build_only)
    commands.add_parser("check", help="build on the local Debian base and check it end to end").set_defaults(run=check)
    args = parser.parse_args()
    try:
        args.run(args)
    except CheckFailed as exc:
        say(f"\nimage-check: FAIL: {exc}" if args.command == "check" else f"\nimage: FAIL: {exc}")
        sys.exit(1)


if __name__ == "__main__":
    main()
