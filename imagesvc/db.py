"""The database: one peewee proxy, bound from DATABASE_URL, released after every request.

Connections come from a pool (pools.py) and are opened lazily by the first query, so a request
that never touches the database (``/healthz``) never connects, and nothing is opened before
gunicorn forks its workers.

MySQL/MariaDB faults: a transaction that loses a deadlock or times out waiting for a lock is
run again from the start (``retry_when_busy``, on each catalog write); a connection the server
has dropped is replaced, and the request goes on, when the statement that found it dead
changed nothing (``pools.MySQLPool``).
"""

import functools
import logging
import os
import random
import time
from urllib.parse import urlsplit

from peewee import DatabaseProxy, InterfaceError, Model, MySQLDatabase, OperationalError
from playhouse.db_url import parse as parse_db_url
from playhouse.pool import MaxConnectionsExceeded
from pymysql.constants import ER

from .pools import MySQLPool, QueuedSqliteDatabase, error_code

db = DatabaseProxy()
log = logging.getLogger("imagesvc.db")

# What "the database cannot be reached" looks like to peewee and its drivers (503).
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, MaxConnectionsExceeded)

# MySQL rolled the transaction back (deadlock) or the statement (lock wait timeout): running
# the whole transaction again may well succeed.
BUSY_ERRORS = {ER.LOCK_DEADLOCK: "deadlock", ER.LOCK_WAIT_TIMEOUT: "lock wait timeout"}
# Runs of a transaction in all, and the random pause before the next run (seconds, times the
# number of runs so far).
BUSY_ATTEMPTS = 3
BUSY_BACKOFF = (0.01, 0.05)


class DatabaseBusy(OperationalError):
    """A transaction that kept losing deadlocks or lock waits, given up after BUSY_ATTEMPTS runs
    (a 503, as any OperationalError; logged here, at WARNING, not as "database unavailable")."""

    def __init__(self, code, attempts):
        super().__init__(f"database busy ({code} {BUSY_ERRORS[code]}): gave up after {attempts} attempts")
        self.code = code


def _busy_code(exc):
    """The deadlock or lock-wait code that made ``exc`` happen, or None.

    The context chain counts: after a deadlock InnoDB has rolled back the whole transaction, so
    peewee's ROLLBACK TO SAVEPOINT of an inner block then fails (1305) in its place.
    """
    while exc is not None:
        if isinstance(exc, OperationalError) and error_code(exc) in BUSY_ERRORS:
            return error_code(exc)
        exc = exc.__context__
    return None


def retry_when_busy(func):
    """Run ``func``, one whole transaction, again from the start when MySQL rolls it back for a
    deadlock (1213) or a lock wait timeout (1205): BUSY_ATTEMPTS runs in all, a short random
    pause between them, then the error (``DatabaseBusy``, a 503).

    ``func`` must do its writes in one ``db.atomic()`` and nothing outside it that may not be
    done twice: a run that fails leaves nothing behind. Called inside a transaction already,
    ``func`` runs once: only the outermost transaction can start again.
    """

    @functools.wraps(func)
    def run(*args, **kwargs):
        if db.in_transaction():
            return func(*args, **kwargs)
        for attempt in range(1, BUSY_ATTEMPTS + 1):
            try:
                return func(*args, **kwargs)
            except (OperationalError, InterfaceError) as exc:
                code = _busy_code(exc)
                if code is None:
                    raise
                if attempt == BUSY_ATTEMPTS:
                    log.warning("database busy (%s %s), gave up after %d attempts", code, BUSY_ERRORS[code],
                                attempt, extra={"db_error": code, "attempt": attempt})
                    raise DatabaseBusy(code, attempt) from exc
                log.warning("database busy (%s %s), retrying (attempt %d of %d)", code, BUSY_ERRORS[code],
                            attempt, BUSY_ATTEMPTS, extra={"db_error": code, "attempt": attempt})
            time.sleep(random.uniform(*BUSY_BACKOFF) * attempt)

    return run


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


def open_database(url, *, stale_timeout=300, busy_timeout=10):
    """Build the (unconnected) pooled database that ``url`` names."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return QueuedSqliteDatabase(
            url[len("sqlite:///"):],
            # WAL lets readers run beside the one writer; NORMAL sync is durable against a
            # crash of the process (a killed worker loses nothing it acknowledged).
            pragmas={"journal_mode": "wal", "foreign_keys": 1, "synchronous": 1, "cache_size": -8000,
                     # A pragma, because the pool takes the keyword ``timeout`` as its own.
                     "busy_timeout": int(busy_timeout * 1000),
                     # Copy the WAL back into the database every 4,000 pages (16 MB), not 1,000:
                     # the write that crosses the mark runs the checkpoint, and pages written
                     # again and again (indexes, the catalog state) are copied once per
                     # checkpoint. Measured (wrk, status changes): 1,000 -> 4,000 pages gave
                     # 10% more writes/s; 10,000 gave no more, and twice the p99.
                     "wal_autocheckpoint": 4000},
            # Take the write lock when a transaction begins, so two workers never deadlock
            # upgrading read locks; the loser waits up to busy_timeout instead of failing.
            lock_type="IMMEDIATE",
            stale_timeout=stale_timeout,
            max_connections=64,
            # A pooled connection serves one thread at a time, but not always the same one.
            check_same_thread=False,
        )
    if scheme == "mysql":
        params = parse_db_url(url, unquote_password=True, unquote_user=True)
        return MySQLPool(
            charset="utf8mb4",
            # Naive DATETIMEs are UTC; NOW() and friends must agree. The search index reads ids
            # joined by GROUP_CONCAT, a few MB for a large catalog (imagesvc/search/).
            init_command="SET time_zone = '+00:00', group_concat_max_len = 4294967295",
            connect_timeout=5,
            stale_timeout=stale_timeout,
            max_connections=64,
            **params,
        )
    raise ValueError(f"unsupported DATABASE_URL scheme {scheme!r}: use sqlite:/// or mysql://")


def is_mysql():
    """True when the bound database is MySQL or MariaDB."""
    return isinstance(db.obj, MySQLDatabase)


def init_app(app):
    """Bind ``db`` to the app's DATABASE_URL and release connections after each request."""
    if not app.config["DATABASE_URL"]:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "imagesvc.db")
    database = open_database(
        app.config["DATABASE_URL"],
        stale_timeout=app.config["DATABASE_STALE_TIMEOUT"],
        busy_timeout=app.config["SQLITE_BUSY_TIMEOUT"],
    )
    app.extensions["imagesvc.db"] = database
    db.initialize(database)

    @app.before_request
    def bind_database():
        # Several apps may live in one process (tests, embedding tools): use this one's.
        if db.obj is not database:
            db.initialize(database)

    @app.teardown_request
    def release_connection(exc):
        if not database.is_closed():
            database.close()
