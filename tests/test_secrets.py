"""Token secrecy: no token text in the database, the logs, the answers or the CLI; only its hash is kept.

A run uses several tokens (every role, a revoked one, an expired one, one nobody issued, a
malformed header) across reads, writes, refusals and errors, with the log at DEBUG. Afterwards
every column of every table, every log line the app wrote, every answer (headers and body) and
``imagesvc token list`` are searched for the text of any of those tokens (whole, or the first 12
characters of its secret part): none may hold it. And a token is stored as its SHA-256 digest,
by which it is found.
"""

import datetime
import hashlib
import json

import pytest
from peewee import MySQLDatabase

from imagesvc import tokens
from imagesvc.db import db

FOREIGN = "isv_" + "Q" * 43  # a token nobody issued


def fragments(token):
    """The texts that would give a token away: the whole, its secret part, a prefix of that."""
    secret = token.removeprefix("isv_")
    return {token, secret, secret[:12]}


def database_text(app):
    """Every value of every column of every table, as text."""
    database = app.extensions["imagesvc.db"]
    quote = "`" if isinstance(database, MySQLDatabase) else '"'
    cells = []
    with database.connection_context():
        for table in database.get_tables():
            for row in database.execute_sql(f"SELECT * FROM {quote}{table}{quote}").fetchall():
                cells.extend(value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                             for value in row)
    return "\n".join(cells)


@pytest.fixture
def used_tokens(app):
    with app.app_context():
        issued = {role: tokens.create(f"secret-{role}", role) for role in ("reader", "editor", "admin")}
        issued["revoked"] = tokens.create("secret-revoked", "editor")
        tokens.revoke("secret-revoked")
        issued["expired"] = tokens.create("secret-expired", "editor", expires_in=datetime.timedelta(seconds=30))
        db.close()
    return issued


def test_no_token_text_in_database_logs_answers_or_cli(app, client, runner, used_tokens, capsys, monkeypatch):
    capsys.readouterr()  # only this run's lines from here on
    later = tokens.utcnow() + datetime.timedelta(minutes=1)
    monkeypatch.setattr(tokens, "utcnow", lambda: later)  # secret-expired has expired
    bearer = {name: {"Authorization": f"Bearer {token}"} for name, token in used_tokens.items()}
    answers = []

    def call(method, path, headers, body=None):
        response = client.open(path, method=method, json=body, headers=headers)
        answers.append(f"{response.status_code} {dict(response.headers)} {response.get_data(as_text=True)}")
        return response

    created = call("POST", "/api/images", bearer["editor"],
                   {"name": "secret test", "imageAddress": "registry/secret:1"}).get_json()["data"]
    image = created["id"]
    call("POST", f"/api/images/{image}/versions", bearer["admin"], {"version": "1.0"})
    call("PUT", f"/api/images/{image}", bearer["editor"], {"description": "changed"})
    call("PUT", f"/api/images/{image}/status", bearer["admin"], {"status": "online"})
    call("GET", "/api/images", bearer["reader"])
    call("GET", f"/api/images/{image}/history", bearer["reader"])
    call("GET", "/api/audit", bearer["admin"])
    call("POST", "/api/images", bearer["reader"], {"name": "refused", "imageAddress": "x"})  # 403
    call("GET", "/api/images", bearer["revoked"])  # 401
    assert call("GET", "/api/images", bearer["expired"]).status_code == 401
    call("GET", "/api/images", {"Authorization": f"Bearer {FOREIGN}"})  # 401
    call("GET", "/api/images", {"Authorization": f"Basic {used_tokens['admin']}"})  # 401
    call("GET", "/api/images", {"Authorization": f"Bearer {used_tokens['admin']} extra"})  # 401
    call("POST", "/api/images", bearer["editor"], {"name": used_tokens["reader"], "imageAddress": "BAD REF"})  # 422
    call("DELETE", f"/api/images/{image}", bearer["editor"])
    listing = runner.invoke(args=["token", "list"])
    assert listing.exit_code == 0

    log = capsys.readouterr().err
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert len(lines) >= 14, "the app should have logged every request"
    assert {line.get("token_name") for line in lines} >= {"secret-reader", "secret-editor", "secret-admin"}
    places = {"database": database_text(app), "log": log, "answers": "\n".join(answers),
              "token list": listing.output}
    # The 422 echoes back what the client sent as a name, which is the client's own doing:
    # answers are searched for every token but that one.
    leaks = [(place, name) for place, text in places.items()
             for name, token in [*used_tokens.items(), ("foreign", FOREIGN)]
             if not (place == "answers" and name == "reader")
             for fragment in fragments(token) if fragment in text]
    assert leaks == []


def test_a_token_is_stored_as_its_sha256_digest_and_found_by_it(app, client, used_tokens):
    token = used_tokens["reader"]
    digest = hashlib.sha256(token.encode()).hexdigest()

    assert client.get("/api/images", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    with app.app_context():
        stored = [row.token_hash for row in tokens.list_tokens()]
        db.close()
    assert digest in stored and token not in stored
