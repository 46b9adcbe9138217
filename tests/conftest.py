"""Fixtures: an app per test on each backend, a client, tokens by role, images made via the API.

Storage-touching tests take the ``backend`` fixture (through ``app``) and run twice: on a
fresh SQLite file, and on MySQL/MariaDB when one answers on loopback
(``IMAGESVC_TEST_MYSQL_URL``, default ``mysql://root@127.0.0.1:3306/test``). On MySQL the run
works in a database of its own (``<db>_<pid>``, dropped at the end) so that two test runs on one
machine never see each other's rows.
"""

import ipaddress
import os
import shutil
import time
from collections import Counter
from urllib.parse import urlsplit

import pymysql
import pytest

from imagesvc import create_app, migrations, tokens
from imagesvc.db import db, open_database

SERVER_URL = urlsplit(os.environ.get("IMAGESVC_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"))
MYSQL_DATABASE = f"{SERVER_URL.path.lstrip('/') or 'test'}_{os.getpid()}"
MYSQL_URL = SERVER_URL._replace(path=f"/{MYSQL_DATABASE}").geturl()
# Rows are removed child tables first; schema_migration stays, catalog_state is reset.
TABLES = ("version_architecture", "version", "image_label", "image", "change_log", "token")

_mysql = {"checked": False, "reason": None}
_passed = Counter()


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mysql_server():
    """A connection to the test MySQL server (no database selected)."""
    return pymysql.connect(host=SERVER_URL.hostname, port=SERVER_URL.port or 3306,
                           user=SERVER_URL.username or "root", password=SERVER_URL.password or "",
                           connect_timeout=2, autocommit=True)


def mysql_unavailable_reason():
    """None when the test MySQL answers (this run's database then made anew), else why not."""
    if not _mysql["checked"]:
        _mysql["checked"] = True
        if not _is_loopback(SERVER_URL.hostname or ""):
            _mysql["reason"] = f"IMAGESVC_TEST_MYSQL_URL must point at loopback, not {SERVER_URL.hostname}"
            return _mysql["reason"]
        try:
            server = mysql_server()
        except pymysql.MySQLError as exc:
            _mysql["reason"] = f"no MySQL/MariaDB at {SERVER_URL.hostname}:{SERVER_URL.port or 3306} ({exc.args[-1]})"
            return _mysql["reason"]
        with server.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{MYSQL_DATABASE}`")
            cursor.execute(f"CREATE DATABASE `{MYSQL_DATABASE}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        server.close()
        _mysql["created"] = True
        migrated(MYSQL_URL)
    return _mysql["reason"]


def migrated(url):
    """Bring the database at ``url`` up to the latest schema (once per run: tests reuse it)."""
    database = open_database(url)
    migrations.upgrade(database)
    database.close_all()


def pytest_sessionfinish(session):
    if _mysql.get("created"):
        server = mysql_server()
        with server.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{MYSQL_DATABASE}`")
        server.close()


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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file that each test copies, rather than migrating its own."""
    path = tmp_path_factory.mktemp("template") / "imagesvc.db"
    migrated(f"sqlite:///{path}")
    return path


@pytest.fixture
def db_url(backend, tmp_path, sqlite_template):
    if backend == "mysql":
        return MYSQL_URL
    shutil.copyfile(sqlite_template, tmp_path / "imagesvc.db")
    return f"sqlite:///{tmp_path / 'imagesvc.db'}"


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
def make_image(client, auth_headers):
    """Create an image through the API; returns its ``data``."""
    counter = iter(range(1, 10_000))

    def make(**overrides):
        n = next(counter)
        body = {"name": f"image {n}", "imageAddress": f"registry.example.com/team/image-{n}:1.0", **overrides}
        response = client.post("/api/images", json=body, headers=auth_headers("editor"))
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
