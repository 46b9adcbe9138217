"""The database: one peewee proxy, bound from DATABASE_URL, released after every request.

Connections come from a pool and are opened lazily by the first query, so a request that
never touches the database (``/healthz``) never connects, and nothing is opened before
gunicorn forks its workers.

MySQL/MariaDB faults: a transaction that loses a deadlock or times out waiting for a lock is
run again from the start (``retry_when_busy``, on each catalog write); a connection the server
has dropped is replaced, and the request goes on, when the statement that found it dead
changed nothing (``MySQLPool``). A pooled connection is handed out without a ping.
"""

import contextlib
import fcntl
import functools
import logging
import os
import random
import threading
import time
import weakref
from urllib.parse import urlsplit

from peewee import DatabaseProxy, InterfaceError, Model, MySQLDatabase, OperationalError
from playhouse.db_url import parse as parse_db_url
from playhouse.pool import MaxConnectionsExceeded, PooledDatabase, PooledSqliteDatabase
from pymysql import MySQLError
from pymysql.constants import CR, ER, SERVER_STATUS

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
# The connection is gone: the server closed it (KILL, wait_timeout, a restart) or the network
# dropped it. 0 is PyMySQL's InterfaceError for a connection it had already found dead; 1927
# (ER_CONNECTION_KILLED) and 4031 (client interaction timeout) are MariaDB's and MySQL 8's.
CONNECTION_LOST_ERRORS = {0, CR.CR_SERVER_GONE_ERROR, CR.CR_SERVER_LOST, CR.CR_SERVER_LOST_EXTENDED,
                          ER.SERVER_SHUTDOWN, 1927, 4031}


class DatabaseBusy(OperationalError):
    """A transaction that kept losing deadlocks or lock waits, given up after BUSY_ATTEMPTS runs
    (a 503, as any OperationalError; logged here, at WARNING, not as "database unavailable")."""

    def __init__(self, code, attempts):
        super().__init__(f"database busy ({code} {BUSY_ERRORS[code]}): gave up after {attempts} attempts")
        self.code = code


def error_code(exc):
    """The MySQL error number of a driver error, peewee-wrapped or not (None if it has none).

    peewee raises its own class with the driver's exception first, then the driver's args.
    """
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
    code = cause.args[0] if cause.args else None
    return code if isinstance(code, int) else None


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


class WriterQueue:
    """Where writers to one SQLite file wait for each other: a file lock beside it.

    SQLite's busy handler waits for the write lock by sleeping (1, 2, 5, 10 … ms) and trying
    again, so under contention a writer sleeps on long after the lock is free. Writers that
    first take this lock (threads of a process one after another, processes through
    ``flock``) wake the moment the one before them is done. SQLite's own locking still
    guards the data; a writer that does not queue here (another program) only waits longer.
    """

    def __init__(self, path):
        self.path = path
        self._setup = threading.Lock()
        self._pid = None
        self._file = None

    def _open(self):
        # Opened in each process: a lock file shared across a fork would be one lock for all.
        with self._setup:
            if self._pid != os.getpid():
                if self._file is not None:
                    self._file.close()  # the parent's copy
                self._mutex = threading.Lock()
                self._owner = None
                self._file = open(self.path, "a")  # noqa: SIM115 (kept open while the queue lives)
                weakref.finalize(self, self._file.close)
                self._pid = os.getpid()

    def acquire(self):
        if self._pid != os.getpid():
            self._open()
        self._mutex.acquire()
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX)
        except BaseException:
            self._mutex.release()
            raise
        self._owner = threading.get_ident()

    def release(self):
        """Let the next writer in; only the thread that holds the lock can."""
        if self._pid == os.getpid() and self._owner == threading.get_ident():
            self._owner = None
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._mutex.release()


class QueuedSqliteDatabase(PooledSqliteDatabase):
    """A pooled SQLite database whose transactions begin only once it is their turn to write."""

    def __init__(self, database, **kwargs):
        super().__init__(database, **kwargs)
        in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
        self.writers = None if in_memory else WriterQueue(database + "-writers")

    def begin(self, lock_type=None):
        if self.writers is None:
            return super().begin(lock_type)
        self.writers.acquire()
        try:
            super().begin(lock_type)
        except BaseException:
            self.writers.release()
            raise

    def commit(self):
        try:
            super().commit()
        finally:
            # A failed COMMIT is rolled back next (peewee's atomic does), which finds it released.
            self._next_writer()

    def rollback(self):
        try:
            super().rollback()
        finally:
            self._next_writer()

    def _next_writer(self):
        if self.writers is not None:
            self.writers.release()


class MySQLPool(PooledDatabase, MySQLDatabase):
    """MySQL/MariaDB connections pooled by peewee's documented ``PooledDatabase`` mixin, which
    checks a connection out without a round trip: no ping (playhouse's PooledMySQLDatabase pings
    every checkout) and no ROLLBACK at check-in (it sends one every time with PyMySQL, which
    cannot tell it whether a transaction is open). Instead:

    - a connection found dead by a statement that changed nothing (a read, or the BEGIN of a
      transaction, outside any transaction) is dropped with every idle one (a server that
      restarted has ended them all), and the statement runs again on a new connection;
      anything else is raised (a 503): work of an open transaction would be lost, and a write
      whose answer was lost may or may not have been applied;
    - a connection left in a transaction is rolled back at check-in, known from the server's
      status flags on its last answer; one the driver has closed is dropped, not pooled;
    - ``stale_timeout`` retires connections long before the server's wait_timeout.
    """

    def __init__(self, database, **kwargs):
        super().__init__(database, **kwargs)
        self._dropping = threading.local()

    def execute_sql(self, sql, params=None):
        if self.in_transaction():
            return super().execute_sql(sql, params)
        try:
            return super().execute_sql(sql, params)
        except (OperationalError, InterfaceError) as exc:
            if not (_is_read(sql) and self._connection_lost(exc)):
                raise
        return super().execute_sql(sql, params)

    def begin(self, *args, **kwargs):
        # peewee begins a transaction before it counts as open (in_transaction() is False here).
        try:
            return super().begin(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            if self.in_transaction() or not self._connection_lost(exc):
                raise
        return super().begin(*args, **kwargs)

    def _connection_lost(self, exc):
        """If ``exc`` says the connection is gone, replace it (and drop the idle ones); whether it did."""
        code = error_code(exc)
        if code not in CONNECTION_LOST_ERRORS or (code == 0 and not isinstance(exc, InterfaceError)):
            return False
        log.warning("database connection lost (%s), replacing it", code, extra={"db_error": code})
        self._drop()
        self.close_idle()
        self.connect()  # the server may be down: then this fails (a 503)
        return True

    def _drop(self):
        """Close this thread's connection for good: it does not go back to the pool."""
        self._dropping.active = True
        try:
            self.manual_close()
        finally:
            self._dropping.active = False

    def close(self):
        if getattr(self._dropping, "active", False) or self.is_closed() or self.in_transaction():
            return super().close()
        conn = self.connection()
        if conn.open and conn.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS:
            with contextlib.suppress(MySQLError):  # a connection that fails here is dropped below
                conn.rollback()
        if not conn.open:
            self._drop()
            return True
        return super().close()


def _is_read(sql):
    """Whether running ``sql`` twice is harmless: a SELECT or SHOW (peewee's reads)."""
    words = sql.split(None, 1)
    return bool(words) and words[0].upper() in ("SELECT", "SHOW")


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
            # joined by GROUP_CONCAT, a few MB for a large catalog (imagesvc/search.py).
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
