"""MySQL/MariaDB faults, provoked for real: deadlocks and lock waits, killed connections, a server
that stops and starts again, and the pool's round trips.

Every test runs on the ``mysql`` half of ``backend`` alone (skipped, with the reason, when no
MariaDB answers on loopback): SQLite has no deadlocks to lose and no connection to drop.
"""

import concurrent.futures
import logging
import os
import shutil
import subprocess
import time

import pymysql
import pytest
from peewee import OperationalError

from bench.databases import connect_database, connect_server, is_loopback
from imagesvc import catalog
from imagesvc.db import db
from imagesvc.models import Change

from .conftest import MYSQL_DATABASE, MYSQL_URL, SERVER_URL, assert_error


@pytest.fixture(autouse=True)
def mysql_only(backend):
    if backend != "mysql":
        pytest.skip("MySQL/MariaDB faults: nothing to provoke on SQLite")


@pytest.fixture
def db_log():
    """The records imagesvc.db logs during the test."""
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    logger, handler = logging.getLogger("imagesvc.db"), Keep()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def messages(records, start):
    return [record.getMessage() for record in records if record.getMessage().startswith(start)]


def on_pooled_connection(app, sql):
    """The first row of ``sql`` run on the app's pooled connection (the one its requests use)."""
    database = app.extensions["imagesvc.db"]
    with app.app_context():
        row = database.execute_sql(sql).fetchone()
        database.close()
    return row


def state_of(app, image):
    """The catalog's generation and the number of changes in the image's history."""
    with app.app_context():
        state = catalog.state().generation, Change.select().where(Change.image_pk == int(image["id"])).count()
        db.close()
    return state


def kill(connection_id):
    """KILL a connection from outside, and wait until the server has let it go."""
    with connect_server(MYSQL_URL) as admin, admin.cursor() as cursor:
        cursor.execute(f"KILL {int(connection_id)}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s", (connection_id,))
            if not cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError(f"connection {connection_id} outlived its KILL")


def waiting_for_a_lock(cursor):
    """The connection id of the app's transaction once it waits for a lock (the caller's
    connection, ``cursor``'s, holds it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        cursor.execute(
            "SELECT trx.trx_mysql_thread_id FROM information_schema.INNODB_TRX trx"
            " JOIN information_schema.PROCESSLIST process ON process.ID = trx.trx_mysql_thread_id"
            " WHERE trx.trx_state = 'LOCK WAIT' AND process.DB = %s AND process.ID != CONNECTION_ID()",
            (MYSQL_DATABASE,))
        row = cursor.fetchone()
        if row:
            return row[0]
        # InnoDB refreshes what INNODB_TRX shows only once it has gone unread for 0.1 s.
        time.sleep(0.15)
    raise AssertionError("the request never waited for the lock")


def in_background(call):
    """Run ``call`` on a thread of its own; its future."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(call)
    pool.shutdown(wait=False)
    return future


# ----- deadlocks and lock waits: the whole write again -----

def test_a_write_that_loses_a_deadlock_runs_again_and_lands_once(app, editor, make_image, db_log):
    image = make_image()
    generation, changes = state_of(app, image)
    with connect_database(MYSQL_URL) as raw, raw.cursor() as cursor:
        # InnoDB rolls back the transaction that changed fewer rows: make that the request's.
        cursor.execute("CREATE TEMPORARY TABLE ballast (id INT PRIMARY KEY, n INT) ENGINE=InnoDB")
        cursor.executemany("INSERT INTO ballast VALUES (%s, 0)", [(n,) for n in range(100)])
        cursor.execute("BEGIN")
        cursor.execute("UPDATE ballast SET n = n + 1")
        cursor.execute("SELECT generation FROM catalog_state FOR UPDATE")  # the lock a write takes last
        answer = in_background(lambda: app.test_client().put(
            f"/api/images/{image['id']}/status", json={"status": "offline"}, headers=editor))
        waiting_for_a_lock(cursor)  # the write holds the image row, and waits for catalog_state
        # The image row, which the write holds: a deadlock, and the write is rolled back.
        cursor.execute("SELECT id FROM image WHERE id = %s FOR UPDATE", (image["id"],))
        cursor.execute("ROLLBACK")  # the write's second run goes through
        response = answer.result(timeout=30)

    assert response.status_code == 200, response.get_json()
    assert state_of(app, image) == (generation + 1, changes + 1)  # one Change row, one generation
    assert messages(db_log, "database busy") == ["database busy (1213 deadlock), retrying (attempt 1 of 3)"]


def test_a_write_that_keeps_waiting_for_a_lock_is_503_after_three_attempts(app, client, editor, make_image,
                                                                           db_log):
    image = make_image()
    generation, changes = state_of(app, image)
    # The app's one pooled connection gives up on a lock at once (1205), not after 50 s.
    on_pooled_connection(app, "SET SESSION innodb_lock_wait_timeout = 0")
    with connect_database(MYSQL_URL) as raw, raw.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT id FROM image WHERE id = %s FOR UPDATE", (image["id"],))
        response = client.put(f"/api/images/{image['id']}/status", json={"status": "offline"}, headers=editor)
        cursor.execute("ROLLBACK")

    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert response.headers["Retry-After"]
    assert messages(db_log, "database busy") == [
        "database busy (1205 lock wait timeout), retrying (attempt 1 of 3)",
        "database busy (1205 lock wait timeout), retrying (attempt 2 of 3)",
        "database busy (1205 lock wait timeout), gave up after 3 attempts",
    ]
    assert all(record.levelno == logging.WARNING for record in db_log)
    assert state_of(app, image) == (generation, changes)
    assert on_pooled_connection(app, "SELECT @@session.innodb_lock_wait_timeout") == (0,)  # it was that one


# ----- connections that are gone -----

def test_a_killed_pooled_connection_is_replaced_and_the_request_goes_on(app, client, editor, make_image, db_log):
    image = make_image()
    generation, changes = state_of(app, image)

    kill(on_pooled_connection(app, "SELECT CONNECTION_ID()")[0])
    assert client.get(f"/api/images/{image['id']}", headers=editor).status_code == 200
    kill(on_pooled_connection(app, "SELECT CONNECTION_ID()")[0])
    response = client.put(f"/api/images/{image['id']}/status", json={"status": "offline"}, headers=editor)

    assert response.status_code == 200
    assert state_of(app, image) == (generation + 1, changes + 1)
    assert messages(db_log, "database connection lost") == ["database connection lost (2013), replacing it"] * 2


def test_a_write_whose_connection_died_before_it_began_goes_on(app, make_image):
    """The write's first statement is its BEGIN: a connection found dead there is replaced."""
    image = make_image()
    generation, changes = state_of(app, image)
    with app.app_context():
        kill(db.execute_sql("SELECT CONNECTION_ID()").fetchone()[0])
        catalog.set_status(image["id"], "offline")
        db.close()

    assert state_of(app, image) == (generation + 1, changes + 1)


def test_a_write_outside_a_transaction_that_finds_its_connection_dead_is_not_run_again(app, make_image):
    """Its answer was lost, not necessarily the write: it is an error (a 503), never run twice."""
    image = make_image()
    generation, changes = state_of(app, image)
    with app.app_context(), pytest.raises(OperationalError):
        kill(db.execute_sql("SELECT CONNECTION_ID()").fetchone()[0])
        try:
            db.execute_sql("UPDATE catalog_state SET generation = generation + 1")
        finally:
            db.close()

    assert state_of(app, image) == (generation, changes)


def test_a_connection_lost_inside_a_transaction_is_503_and_nothing_of_it_is_kept(app, client, editor, make_image,
                                                                                 db_log):
    image = make_image()
    generation, changes = state_of(app, image)
    with connect_database(MYSQL_URL) as raw, raw.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT generation FROM catalog_state FOR UPDATE")
        answer = in_background(lambda: app.test_client().put(
            f"/api/images/{image['id']}/status", json={"status": "offline"}, headers=editor))
        kill(waiting_for_a_lock(cursor))  # after the write changed the image and added its Change row
        response = answer.result(timeout=30)
        cursor.execute("ROLLBACK")

    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert response.headers["Retry-After"]
    assert state_of(app, image) == (generation, changes)  # the server rolled it all back
    # The dead connection was dropped, not pooled: the next request finds none to replace.
    assert client.get(f"/api/images/{image['id']}", headers=editor).status_code == 200
    assert messages(db_log, "database connection lost") == []


# ----- the server stopped and started again -----

@pytest.fixture
def restartable_server():
    """How to start the test server again once stopped (its pid file, program and arguments);
    skipped unless it runs on this machine, can be started again from here, and serves no other
    client that a restart would break."""
    if not is_loopback(SERVER_URL.hostname or ""):
        pytest.skip("the test server is not on loopback")
    if not shutil.which("start-stop-daemon"):
        pytest.skip("no start-stop-daemon to start the server again")
    with connect_server(MYSQL_URL) as admin, admin.cursor() as cursor:
        cursor.execute("SELECT @@pid_file")
        pid_file = cursor.fetchone()[0]
        # Clients but this run's (on databases named after its pid) and this connection.
        cursor.execute("SELECT COALESCE(DB, '') FROM information_schema.PROCESSLIST"
                       " WHERE USER != 'system user' AND ID != CONNECTION_ID()")
        others = sum(1 for (name,) in cursor.fetchall() if not name.endswith(f"_{os.getpid()}"))
        cursor.execute("SHOW DATABASES")
        runs = [name for (name,) in cursor.fetchall() if is_a_live_run(name)]
    if others or runs:
        pytest.skip(f"other clients of the test server ({others} connected; test runs {runs}):"
                    " restarting it would break them")
    try:
        with open(pid_file) as pid:
            server_pid = int(pid.read())
        program = os.readlink(f"/proc/{server_pid}/exe")
        with open(f"/proc/{server_pid}/cmdline", "rb") as cmdline:
            arguments = [arg.decode() for arg in cmdline.read().split(b"\0")[1:] if arg]
    except (OSError, ValueError) as exc:
        pytest.skip(f"the test server's process is not this machine's to restart ({exc})")
    if os.geteuid() not in (0, os.stat(f"/proc/{server_pid}").st_uid):
        pytest.skip("not allowed to start the test server again")
    return {"pid": server_pid, "pid_file": pid_file, "start": [
        "start-stop-daemon", "--start", "--oknodo", "--background", "--pidfile", pid_file, "--exec", program,
        "--", *arguments]}


def is_a_live_run(database):
    """Whether ``database`` is one a test run still going on here made for itself (named
    ``…_<pid>``, as this suite names its databases)."""
    pid = database.rsplit("_", 1)[-1]
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False  # left behind by a run that is over
    except PermissionError:
        pass
    return True


def server_answers():
    try:
        connect_server(MYSQL_URL).close()
    except pymysql.MySQLError:
        return False
    return True


def wait_until(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} after {seconds} s")
        time.sleep(0.1)


def test_a_restarted_server_gives_503_meanwhile_and_the_app_recovers(app, client, editor, make_image,
                                                                     restartable_server):
    image = make_image()
    assert client.get(f"/api/images/{image['id']}", headers=editor).status_code == 200  # a pooled connection
    try:
        with connect_server(MYSQL_URL) as admin, admin.cursor() as cursor:
            cursor.execute("SHUTDOWN")
        wait_until(lambda: not os.path.exists(f"/proc/{restartable_server['pid']}"), 60, "the server still runs")

        down = client.put(f"/api/images/{image['id']}/status", json={"status": "offline"}, headers=editor)
        assert_error(down, 503, "SERVICE_UNAVAILABLE")
        assert down.headers["Retry-After"]
        assert client.get("/readyz").status_code == 503
    finally:
        subprocess.run(restartable_server["start"], check=True, timeout=30)
        wait_until(server_answers, 60, "the server does not answer")

    response = client.put(f"/api/images/{image['id']}/status", json={"status": "offline"}, headers=editor)
    assert response.status_code == 200
    assert response.get_json()["data"]["status"] == "offline"
    assert client.get("/readyz").status_code == 200


# ----- round trips -----

def test_a_request_on_a_healthy_pooled_connection_sends_no_ping_and_no_rollback(app, client, auth_headers,
                                                                                make_image):
    """Counted by the server, on the pooled connection's own session: COM_PING is one of its
    Com_admin_commands, and a check-in ROLLBACK a Com_rollback."""
    headers = auth_headers("reader")
    make_image()
    assert client.get("/api/images", headers=headers).status_code == 200  # the token's last-used stamp
    counters = ("SELECT CONNECTION_ID(), (SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS"
                " WHERE VARIABLE_NAME = 'COM_ADMIN_COMMANDS'), (SELECT VARIABLE_VALUE FROM"
                " information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'COM_ROLLBACK')")
    before = on_pooled_connection(app, counters)
    for _ in range(3):
        assert client.get("/api/images?name=image", headers=headers).status_code == 200
        assert client.get("/readyz").status_code == 200
    after = on_pooled_connection(app, counters)

    assert after == before  # the same connection, no ping, no rollback
