"""Authentication and roles (contract section 2) and the ``imagesvc`` token and db commands.

Which caller gets 401 or 403 on which route is proven by tests/test_role_matrix.py, for every
route; here are the rules of the Authorization header and of tokens, and what comes first.
"""

import datetime
import os
import re
import stat
from urllib.parse import urljoin

import pytest
from playhouse.shortcuts import model_to_dict

from imagesvc import create_app, tokens
from imagesvc.db import db
from imagesvc.models import Token

from .conftest import CHALLENGE, assert_error

COLUMNS = re.compile(r"\s{2,}")
TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


@pytest.fixture
def mint(app):
    """Issue a token through the real code; returns the token."""

    def mint(name, role):
        with app.app_context():
            token = tokens.create(name, role)
            db.close()
        return token

    return mint


@pytest.fixture
def token_row(app):
    def token_row(name):
        with app.app_context():
            row = Token.get(Token.name == name)
            db.close()
        return row

    return token_row


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def assert_unauthorized(response):
    assert_error(response, 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"] == CHALLENGE


# ----- 401 -----

@pytest.mark.sqlite_only
@pytest.mark.parametrize("header", [
    "Bearer",
    "Basic dXNlcjpwYXNz",
    "Basic {token}",
    "Token {token}",
    "{token}",
    "Bearer{token}",
    "Bearer {token} extra",
    "Bearer {token} {token}",
])
def test_malformed_authorization_header_is_401(client, auth_headers, header):
    token = auth_headers("admin")["Authorization"].removeprefix("Bearer ")
    assert_unauthorized(client.get("/api/images", headers={"Authorization": header.format(token=token)}))


@pytest.mark.sqlite_only
def test_token_that_is_not_ascii_is_401(client, auth_headers):
    auth_headers("admin")
    assert_unauthorized(client.get("/api/images", headers=bearer("令牌")))


@pytest.mark.sqlite_only
def test_token_differing_only_in_case_is_401(client, mint):
    token = mint("case", "reader")
    assert_unauthorized(client.get("/api/images", headers=bearer(token.swapcase())))


def test_revoked_token_is_refused_on_the_very_next_request(client, runner, mint):
    token = mint("soon-gone", "editor")
    assert client.get("/api/images", headers=bearer(token)).status_code == 200
    assert runner.invoke(args=["token", "revoke", "soon-gone"]).exit_code == 0
    assert_unauthorized(client.get("/api/images", headers=bearer(token)))


@pytest.mark.sqlite_only
@pytest.mark.parametrize("feed_format", ["kubeflow", "jupyterhub"])
def test_missing_token_is_401_in_the_envelope_even_for_unwrapped_feed_formats(client, feed_format):
    assert_unauthorized(client.get(f"/api/images/feed?format={feed_format}"))


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("path", "body"), [("/api/images", {"name": ""}), ("/api/catalog/import", {"format": "nope"})])
def test_missing_token_is_401_before_the_body_is_validated(client, path, body):
    assert_unauthorized(client.post(path, json=body))


@pytest.mark.sqlite_only
def test_missing_token_is_401_before_the_image_is_looked_up(client):
    assert_unauthorized(client.get("/api/images/999999"))


# ----- 403 -----

@pytest.mark.sqlite_only
def test_reader_with_an_invalid_body_is_403_not_422(client, auth_headers):
    assert_error(client.post("/api/images", json={"name": ""}, headers=auth_headers("reader")), 403, "FORBIDDEN")


# ----- unauthenticated endpoints and routing before auth -----

@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/api/openapi.json"])
def test_operations_and_the_openapi_document_need_no_token(bare_client, path):
    assert bare_client.get(path).status_code == 200


def test_docs_page_and_its_local_assets_need_no_token(bare_client):
    page = bare_client.get("/api/docs")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.get_data(as_text=True))
    assert page.status_code == 200
    assert assets and not any(re.match(r"(https?:)?//", asset) for asset in assets)
    for asset in assets:
        with bare_client.get(urljoin("/api/docs", asset)) as response:  # closes the served file
            assert response.status_code == 200, asset


@pytest.mark.parametrize("path", ["/api/nope", "/api/images/1/nope", "/api/images/1/versions/1.0/more", "/nope"])
def test_unknown_path_without_token_is_404(bare_client, path):
    assert_error(bare_client.get(path), 404, "NOT_FOUND")


@pytest.mark.parametrize(("method", "path"), [
    ("patch", "/api/images"),
    ("delete", "/api/images"),
    ("post", "/api/images/1"),
    ("post", "/api/images/1/status"),
    ("put", "/api/images/1/versions"),
])
def test_wrong_method_without_token_is_405(bare_client, method, path):
    assert_error(getattr(bare_client, method)(path), 405, "METHOD_NOT_ALLOWED")


# ----- imagesvc token create / list / revoke / local -----

def test_token_create_prints_only_the_token_on_stdout(runner):
    result = runner.invoke(args=["token", "create", "ci", "--role", "editor"])
    assert result.exit_code == 0
    assert re.fullmatch(r"[A-Za-z0-9_\-]{43,}\n", result.stdout)


@pytest.mark.parametrize(("role", "write_status"), [("reader", 403), ("editor", 201), ("admin", 201)])
def test_token_create_issues_a_working_token_of_that_role(client, runner, role, write_status):
    token = runner.invoke(args=["token", "create", "ci", "--role", role]).stdout.strip()
    body = {"name": "by cli", "imageAddress": "registry.example.com/team/cli:1"}
    assert client.get("/api/images", headers=bearer(token)).status_code == 200
    assert client.post("/api/images", json=body, headers=bearer(token)).status_code == write_status


def test_token_create_issues_a_different_token_each_time(runner):
    first = runner.invoke(args=["token", "create", "one", "--role", "reader"]).stdout
    second = runner.invoke(args=["token", "create", "two", "--role", "reader"]).stdout
    assert first != second


def test_token_create_with_a_taken_name_fails(runner):
    runner.invoke(args=["token", "create", "ci", "--role", "editor"])
    result = runner.invoke(args=["token", "create", "ci", "--role", "admin"])
    assert result.exit_code == 1
    assert result.stdout == ""


@pytest.mark.parametrize("args", [["--role", "root"], ["--role", "Admin"], []])
def test_token_create_without_a_valid_role_fails(runner, args):
    assert runner.invoke(args=["token", "create", "ci", *args]).exit_code == 2


def test_token_is_stored_only_as_a_hash(runner, token_row):
    token = runner.invoke(args=["token", "create", "ci", "--role", "editor"]).stdout.strip()
    row = token_row("ci")
    assert all(token not in str(value) for value in model_to_dict(row).values())
    assert row.role == "editor"


def test_token_list_shows_name_role_created_last_used_revoked(client, runner):
    used = runner.invoke(args=["token", "create", "used", "--role", "editor"]).stdout.strip()
    runner.invoke(args=["token", "create", "revoked", "--role", "admin"])
    client.get("/api/images", headers=bearer(used))
    runner.invoke(args=["token", "revoke", "revoked"])
    result = runner.invoke(args=["token", "list"])
    header, *lines = result.stdout.splitlines()
    rows = {cells[0]: cells for cells in (COLUMNS.split(line) for line in lines)}
    assert result.exit_code == 0
    assert COLUMNS.split(header) == ["NAME", "ROLE", "CREATED", "LAST USED", "REVOKED", "EXPIRES"]
    assert rows["used"][1] == "editor" and TIME.fullmatch(rows["used"][2]) and TIME.fullmatch(rows["used"][3])
    assert rows["used"][4] == "-" and rows["used"][5] == "never"
    assert rows["revoked"][1] == "admin" and rows["revoked"][3] == "-" and TIME.fullmatch(rows["revoked"][4])


def test_token_list_never_shows_a_token_or_its_hash(runner, token_row):
    token = runner.invoke(args=["token", "create", "ci", "--role", "editor"]).stdout.strip()
    output = runner.invoke(args=["token", "list"]).output
    assert token not in output
    assert token_row("ci").token_hash not in output


def test_token_revoke_of_an_unknown_name_fails(runner):
    result = runner.invoke(args=["token", "revoke", "nobody"])
    assert result.exit_code == 1


def test_token_revoke_marks_the_token_revoked(runner, token_row):
    runner.invoke(args=["token", "create", "ci", "--role", "editor"])
    assert runner.invoke(args=["token", "revoke", "ci"]).exit_code == 0
    assert token_row("ci").revoked_at is not None


def test_token_local_creates_an_owner_only_file_with_an_admin_token(app, client, runner):
    result = runner.invoke(args=["token", "local"])
    path = os.path.join(app.instance_path, "local-admin-token")
    body = {"name": "by local", "imageAddress": "registry.example.com/team/local:1"}
    assert result.exit_code == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as file:
        assert file.read().strip() == result.stdout.strip()
    assert client.post("/api/images", json=body, headers=bearer(result.stdout.strip())).status_code == 201


def test_token_local_prints_the_same_token_the_second_time(runner):
    first = runner.invoke(args=["token", "local"])
    second = runner.invoke(args=["token", "local"])
    assert second.exit_code == 0
    assert second.stdout == first.stdout


def test_token_local_issues_a_new_token_when_the_old_one_was_revoked(client, runner):
    first = runner.invoke(args=["token", "local"]).stdout.strip()
    runner.invoke(args=["token", "revoke", "local-admin"])
    second = runner.invoke(args=["token", "local"]).stdout.strip()
    assert second != first
    assert client.get("/api/images", headers=bearer(second)).status_code == 200


# ----- expiring tokens: imagesvc token create --expires-in -----

@pytest.fixture
def clock(monkeypatch):
    """``clock(moment)``: from then on, tokens take ``moment`` (naive UTC) for now."""

    def set_to(moment):
        monkeypatch.setattr(tokens, "utcnow", lambda: moment)

    return set_to


def token_list_rows(runner):
    """``imagesvc token list`` as {name: {column: cell}}."""
    result = runner.invoke(args=["token", "list"])
    assert result.exit_code == 0, result.output
    header, *lines = [COLUMNS.split(line) for line in result.stdout.splitlines()]
    return {cells[0]: dict(zip(header, cells, strict=True)) for cells in lines}


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def test_token_create_with_expires_in_shows_the_expiry_in_token_list(runner):
    assert runner.invoke(args=["token", "create", "ci", "--role", "reader", "--expires-in", "90d"]).exit_code == 0
    assert runner.invoke(args=["token", "create", "forever", "--role", "reader"]).exit_code == 0
    rows = token_list_rows(runner)
    assert parse_time(rows["ci"]["EXPIRES"]) - parse_time(rows["ci"]["CREATED"]) == datetime.timedelta(days=90)
    assert rows["forever"]["EXPIRES"] == "never"


@pytest.mark.parametrize(("expires_in", "duration"), [
    ("30s", datetime.timedelta(seconds=30)),
    ("15m", datetime.timedelta(minutes=15)),
    ("12h", datetime.timedelta(hours=12)),
    ("90d", datetime.timedelta(days=90)),
])
def test_expires_in_counts_seconds_minutes_hours_or_days_from_creation(runner, token_row, expires_in, duration):
    assert runner.invoke(args=["token", "create", "ci", "--role", "reader", "--expires-in", expires_in]).exit_code == 0
    row = token_row("ci")
    assert row.expires_at - row.created_at == duration
    assert row.expires_at.microsecond == 0 and row.expires_at.tzinfo is None  # naive UTC, whole seconds


def test_expiring_token_works_until_its_expiry_and_is_401_from_then_on(client, runner, token_row, clock):
    token = runner.invoke(args=["token", "create", "ci", "--role", "reader", "--expires-in", "15m"]).stdout.strip()
    expires_at = token_row("ci").expires_at
    assert client.get("/api/images", headers=bearer(token)).status_code == 200
    clock(expires_at - datetime.timedelta(seconds=1))
    assert client.get("/api/images", headers=bearer(token)).status_code == 200
    clock(expires_at)
    assert_unauthorized(client.get("/api/images", headers=bearer(token)))


def test_expired_token_is_401_even_for_a_write_and_its_last_use_stays(app, client, token_row, clock):
    with app.app_context():
        token = tokens.create("brief", "admin", expires_in=datetime.timedelta(minutes=1))
        db.close()
    clock(token_row("brief").expires_at + datetime.timedelta(days=1))
    body = {"name": "too late", "imageAddress": "registry.example.com/team/late:1"}
    assert_unauthorized(client.post("/api/images", json=body, headers=bearer(token)))
    assert token_row("brief").last_used_at is None


def test_token_without_expires_in_never_expires(client, runner, clock):
    token = runner.invoke(args=["token", "create", "ci", "--role", "reader"]).stdout.strip()
    clock(datetime.datetime(9999, 12, 31, 23, 59, 59))
    assert client.get("/api/images", headers=bearer(token)).status_code == 200


def test_token_list_marks_an_expired_token_expired(runner, token_row, clock):
    runner.invoke(args=["token", "create", "brief", "--role", "reader", "--expires-in", "30s"])
    runner.invoke(args=["token", "create", "long", "--role", "reader", "--expires-in", "90d"])
    expires_at = token_row("brief").expires_at
    clock(expires_at)
    rows = token_list_rows(runner)
    assert rows["brief"]["EXPIRES"] == f"{expires_at:%Y-%m-%dT%H:%M:%SZ} (expired)"
    assert TIME.fullmatch(rows["long"]["EXPIRES"])


@pytest.mark.sqlite_only
@pytest.mark.parametrize("value", [
    "", "90", "d", "0d", "00s", "-5m", "+5m", "1.5h", "90D", "90 d", " 90d", "90d ", "1w", "1h30m", "٩٠d",
    "99999999999d", "9" * 5000 + "s",
])
def test_token_create_with_a_bad_expires_in_is_a_usage_error_and_creates_nothing(runner, value):
    result = runner.invoke(args=["token", "create", "ci", "--role", "reader", "--expires-in", value])
    assert result.exit_code == 2
    assert "--expires-in" in result.output and result.stdout == ""
    assert "ci" not in token_list_rows(runner)


# ----- imagesvc db upgrade / status -----

def test_db_upgrade_is_safe_to_run_twice_and_says_up_to_date(client, runner, auth_headers, make_image):
    image = make_image()
    results = [runner.invoke(args=["db", "upgrade"]) for _ in range(2)]
    assert [result.exit_code for result in results] == [0, 0]
    assert all("up to date" in result.output for result in results)
    assert client.get(f"/api/images/{image['id']}", headers=auth_headers("reader")).status_code == 200


def test_db_upgrade_creates_the_schema_of_an_empty_database(tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    runner = app.test_cli_runner()
    try:
        pending = runner.invoke(args=["db", "status"])
        first = runner.invoke(args=["db", "upgrade"])
        second = runner.invoke(args=["db", "upgrade"])
        created = runner.invoke(args=["token", "create", "ci", "--role", "reader"])
    finally:
        app.extensions["imagesvc.db"].close_all()
    assert re.search(r"^0001_initial\s+pending$", pending.output, re.MULTILINE)
    assert first.exit_code == 0 and "up to date" not in first.output
    assert "up to date" in second.output
    assert created.exit_code == 0


def test_db_status_lists_each_migration_as_applied(runner):
    result = runner.invoke(args=["db", "status"])
    assert result.exit_code == 0
    assert re.search(r"^0001_initial\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", result.output, re.MULTILINE)
    assert "pending" not in result.output
