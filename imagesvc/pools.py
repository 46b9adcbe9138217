"""The connection pools ``open_database`` (db.py) builds, one per backend: SQLite's, whose
writers queue for the write lock (``QueuedSqliteDatabase``), and MySQL's, which hands out a
connection without a ping and replaces one the server has dropped (``MySQLPool``).
"""

import contextlib
import fcntl
import logging
import os
import threading
import weakref

from peewee import InterfaceError, MySQLDatabase, OperationalError
from playhouse.pool import PooledDatabase, PooledSqliteDatabase
from pymysql import MySQLError
from pymysql.constants import CR, ER, SERVER_STATUS

# The database's log, whichever module of it writes.
log = logging.getLogger("imagesvc.db")

# The connection is gone: the server closed it (KILL, wait_timeout, a restart) or the network
# dropped it. 0 is PyMySQL's InterfaceError for a connection it had already found dead; 1927
# (ER_CONNECTION_KILLED) and 4031 (client interaction timeout) are MariaDB's and MySQL 8's.
CONNECTION_LOST_ERRORS = {0, CR.CR_SERVER_GONE_ERROR, CR.CR_SERVER_LOST, CR.CR_SERVER_LOST_EXTENDED,
                          ER.SERVER_SHUTDOWN, 1927, 4031}


def error_code(exc):
    """The MySQL error number of a driver error, peewee-wrapped or not (None if it has none).

    peewee raises its own class with the driver's exception first, then the driver's args.
    """
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
    code = cause.args[0] if cause.args else None
    return code if isinstance(code, int) else None


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
                self._file = open(self.path, "a")  # kept open while the queue lives
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
