"""Fixtures: an app per test on each backend, a client, tokens by role, images made via the API;
and what the test modules share: ``assert_error`` (the error envelope), ``live_server`` (a real
gunicorn) and ``make_mysql_database`` (a MySQL database of the run's own).

Storage-touching tests take the ``backend`` fixture (through ``app``) and run twice: on a
fresh SQLite file, and on MySQL/MariaDB when one answers on loopback
(``IMAGESVC_TEST_MYSQL_URL``, default ``mysql://root@127.0.0.1:3306/test``). On MySQL the run
works in databases of its own (``<db>_<pid>``, dropped at the end) so that two test runs on one
machine never see each other's rows.
"""

import contextlib
import os
import shutil
import time
from collections import Counter
from urllib.parse import urlsplit

import pymysql
import pytest

from bench.databases import create_database, database_name, drop_database
from bench.server import Gunicorn
from imagesvc import create_app, migrations, tokens
from imagesvc.db import db, open_database

SERVER_URL = urlsplit(os.environ.get("IMAGESVC_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"))
# Rows are removed child tables first; schema_migration stays, catalog_state is reset.
TABLES = ("version_architecture", "version", "image_label", "image", "change_log", "token")

OMIT = object()  # a field post_image leaves out of the body
_mysql = {"checked": False, "reason": None, "made": []}
_passed = Counter()


def mysql_url(purpose=None):
    """The URL of a MySQL database of this run: ``<db>_<pid>``, or ``<db>_<purpose>_<pid>``."""
    name = "_".join(filter(None, (SERVER_URL.path.lstrip("/") or "test", purpose, str(os.getpid()))))
    return SERVER_URL._replace(path=f"/{name}").geturl()


MYSQL_URL = mysql_url()
MYSQL_DATABASE = database_name(MYSQL_URL)


def make_mysql_database(purpose=None, migrate=True):
    """Make the database ``mysql_url(purpose)`` anew, brought up to date unless ``migrate`` is
    false; it is dropped when the run ends. Its URL."""
    url = mysql_url(purpose)
    create_database(url)
    _mysql["made"].append(url)
    if migrate:
        migrated(url)
    return url


def mysql_unavailable_reason():
    """None when the test MySQL answers (this run's database then made anew), else why not."""
    if not _mysql["checked"]:
        _mysql["checked"] = True
        try:
            make_mysql_database()
        except ValueError as exc:
            _mysql["reason"] = f"IMAGESVC_TEST_MYSQL_URL: {exc}"
        except pymysql.MySQLError as exc:
            _mysql["reason"] = f"no MySQL/MariaDB at {SERVER_URL.hostname}:{SERVER_URL.port or 3306} ({exc.args[-1]})"
    return _mysql["reason"]


def migrated(url):
    """Bring the database at ``url`` up to the latest schema (once per run: tests reuse it)."""
    database = open_database(url)
    migrations.upgrade(database)
    database.close_all()


def pytest_sessionfinish(session):
    for url in _mysql["made"]:
        drop_database(url)


def live_server(workdir, database_url=None, workers=1, editor=None, **settings):
    """gunicorn serving imagesvc as operators run it (a bench.server.Gunicorn, not started yet).

    It serves ``database_url`` (by default a new SQLite file in ``workdir``), brought up to date
    by ``imagesvc db upgrade``, with ``workers`` workers and ``settings`` (IMAGESVC_* variables);
    the test's own environment does not change how it runs. It logs to ``workdir``/gunicorn.log.
    With ``editor``, an editor token of that name is issued and its header is ``server.headers``.
    """
    # The metrics in the test's own folder, so that a killed master leaves nothing behind.
    (workdir / "metrics").mkdir(parents=True, exist_ok=True)
    server = Gunicorn(workdir / "gunicorn.log", isolated=True, env={
        "IMAGESVC_DATABASE_URL": database_url or f"sqlite:///{workdir / 'live.db'}",
        "IMAGESVC_WORKERS": str(workers),
        "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
        **settings,
    })
    server.cli("db", "upgrade")
    if editor:
        token = server.cli("token", "create", editor, "--role", "editor").strip()
        server.headers = {"Authorization": f"Bearer {token}"}
    return server


# What a 401 asks for (WWW-Authenticate).
CHALLENGE = 'Bearer realm="imagesvc"'


def assert_error(response, status, code, errors=False):
    """The contract's error envelope; ``errors`` only where fields are at fault. Returns the body."""
    body = response.get_json()
    assert response.status_code == status, body
    assert response.mimetype == "application/json"
    assert (body["success"], body["code"]) == (False, code), body
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) == ({"success", "code", "message", "errors"} if errors else {"success", "code", "message"})
    return body


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        backends = ["sqlite"] if metafunc.definition.get_closest_marker("sqlite_only") else ["sqlite", "mysql"]
        metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture
def backend(request):
    if request.param == "mysql":
        reason = mysql_unavailable_reason()
        if reason and os.environ.get("IMAGESVC_TEST_REQUIRE_MYSQL"):
            pytest.fail(f"MySQL is required (IMAGESVC_TEST_REQUIRE_MYSQL) but unavailable: {reason}")
        if reason:
            pytest.skip(f"MySQL half skipped: {reason}")
    return request.param


@pytest.fixture(scope="module")
def once_per_module():
    """``once_per_module(key, make)``: what the context manager ``make()`` gives on entering, made
    on first use for ``key`` and kept for the module's tests; all left at the module's end."""
    made = {}
    with contextlib.ExitStack() as stack:

        def get(key, make):
            if key not in made:
                made[key] = stack.enter_context(make())
            return made[key]

        yield get


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory):
    """``sqlite_database(folder)``: a SQLite database up to date in ``folder``, its URL; a copy of
    one migrated once per run, rather than each test migrating its own."""
    template = tmp_path_factory.mktemp("template") / "imagesvc.db"
    migrated(f"sqlite:///{template}")

    def copy(folder):
        shutil.copyfile(template, folder / "imagesvc.db")
        return f"sqlite:///{folder / 'imagesvc.db'}"

    return copy


@pytest.fixture
def db_url(backend, tmp_path, sqlite_database):
    return MYSQL_URL if backend == "mysql" else sqlite_database(tmp_path)


@pytest.fixture
def app(request, db_url, tmp_path):
    settings = request.node.get_closest_marker("config")
    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "LOG_LEVEL": "DEBUG",
                      **(settings.kwargs if settings else {})})
    app.instance_path = str(tmp_path / "instance")
    with app.app_context():
        if db_url.startswith("mysql"):
            for table in TABLES:
                db.execute_sql(f"DELETE FROM `{table}`")
            # A generation this database never had, as a database made anew gets (0002).
            db.execute_sql(f"UPDATE catalog_state SET generation = {time.time_ns() // 1000}, image_count = 0")
        db.close()
    yield app
    app.extensions["imagesvc.db"].close_all()


@pytest.fixture
def another_app(db_url):
    """``another_app(**settings)``: one more app on the test's database (another worker, say),
    its connections closed after the test."""
    made = []

    def make(**settings):
        made.append(create_app({"TESTING": True, "DATABASE_URL": db_url, **settings}))
        return made[-1]

    yield make
    for other in made:
        other.extensions["imagesvc.db"].close_all()


def load_openapi_document():
    """The app's own OpenAPI document (building it touches no database)."""
    app = create_app({"DATABASE_URL": "sqlite:///:memory:", "LOG_LEVEL": "ERROR", "METRICS": False})
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture(scope="session")
def openapi_document():
    return load_openapi_document()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def auth_headers(app):
    """``auth_headers("editor")``: headers with a fresh token of that role, minted by the real code."""
    minted = {}

    def headers(role="reader"):
        if role not in minted:
            with app.app_context():
                minted[role] = tokens.create(f"test-{role}", role)
                db.close()
        return {"Authorization": f"Bearer {minted[role]}"}

    return headers


@pytest.fixture
def editor(auth_headers):
    return auth_headers("editor")


@pytest.fixture
def reader(auth_headers):
    return auth_headers("reader")


@pytest.fixture
def bare_client(tmp_path):
    """A client of an app whose storage plays no part (routing, probes, headers): runs once, not per backend."""
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'bare.db'}"})
    yield app.test_client()
    app.extensions["imagesvc.db"].close_all()


@pytest.fixture
def post_image(client, auth_headers):
    """``post_image(**fields)``: POST an image as an editor, with a fresh name and imageAddress
    unless given (OMIT leaves a field out); the response."""
    counter = iter(range(1, 10_000))

    def post(**fields):
        n = next(counter)
        body = {"name": f"image {n}", "imageAddress": f"registry.example.com/team/image-{n}:1.0", **fields}
        return client.post("/api/images", json={k: v for k, v in body.items() if v is not OMIT},
                           headers=auth_headers("editor"))

    return post


@pytest.fixture
def make_image(post_image):
    """Create an image through the API; returns its ``data``."""

    def make(**overrides):
        response = post_image(**overrides)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["data"]

    return make


@pytest.fixture
def make_version(client, auth_headers):
    def make(image_id, version, **overrides):
        response = client.post(f"/api/images/{image_id}/versions", json={"version": version, **overrides},
                               headers=auth_headers("editor"))
        assert response.status_code == 201, response.get_json()
        return response.get_json()["data"]

    return make


@pytest.fixture
def read_data(client, auth_headers):
    """``read_data(url, role="reader", **query)``: GET ``url`` as ``role``, which must answer 200; its ``data``."""

    def read(url, role="reader", **query):
        response = client.get(url, query_string=query or None, headers=auth_headers(role))
        assert response.status_code == 200, response.get_json()
        return response.get_json()["data"]

    return read


@pytest.fixture
def image(make_image, make_version):
    """An image with one version, 1.0."""
    image = make_image()
    make_version(image["id"], "1.0")
    return image


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    callspec = getattr(item, "callspec", None)
    report.backend = callspec.params.get("backend") if callspec else None
    return report


def pytest_runtest_logreport(report):
    if report.when == "call" and report.passed:
        _passed[report.backend or "no database"] += 1


def pytest_terminal_summary(terminalreporter):
    terminalreporter.section("backends")
    terminalreporter.write_line(
        "passed per backend: " + ", ".join(f"{name} {count}" for name, count in sorted(_passed.items())))
    if _mysql["reason"]:
        terminalreporter.write_line(f"MySQL half SKIPPED: {_mysql['reason']}", yellow=True, bold=True)
    elif not _passed["mysql"]:
        terminalreporter.write_line("MySQL half did not run", yellow=True, bold=True)
