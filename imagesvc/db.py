"""The database: one peewee proxy, bound from DATABASE_URL, released after every request.

Connections come from a pool and are opened lazily by the first query, so a request that
never touches the database (``/healthz``) never connects, and nothing is opened before
gunicorn forks its workers.
"""

import fcntl
import os
import threading
import weakref
from urllib.parse import urlsplit

from peewee import DatabaseProxy, InterfaceError, Model, OperationalError, Value
from playhouse.db_url import parse as parse_db_url
from playhouse.pool import MaxConnectionsExceeded, PooledMySQLDatabase, PooledSqliteDatabase

db = DatabaseProxy()

# What "the database cannot be reached" looks like to peewee and its drivers (503).
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, MaxConnectionsExceeded)


# ----- statements compiled once -----
# peewee compiles a statement's SQL each time it runs it, which for what a request runs (a
# lookup by key, an INSERT or UPDATE of one row) costs more than running it. These statements
# are compiled once per backend, with a slot where each value goes.

class _Slot:
    __slots__ = ("field", "name")

    def __init__(self, field, name):
        self.field, self.name = field, name


def slot(field, name=None):
    """Where a value of ``field`` goes in a statement compiled once (``execute``, ``get_first``),
    filled from the value called ``name`` (the field's name unless given)."""
    return Value(_Slot(field, name or field.name), converter=False)


_compiled = {}


def _compiled_query(name, build):
    """``build()``'s query, its SQL and its parameters (slots and constants), once per backend."""
    key = (name, type(db.obj))
    if key not in _compiled:
        query = build()
        _compiled[key] = (query, *query.sql())
    return _compiled[key]


def _run(name, build, values):
    """The compiled query and the cursor of running it, each slot filled from ``values`` as
    peewee would store it."""
    query, sql, params = _compiled_query(name, build)
    bound = [param.field.db_value(values[param.name]) if isinstance(param, _Slot) else param for param in params]
    return query, db.execute_sql(sql, bound)


def execute(name, build, /, **values):
    """Run the statement ``build()`` makes (with ``slot``s), compiled once; returns the cursor."""
    return _run(name, build, values)[1]


def get_first(name, build, /, **values):
    """The first row of a query ``build()`` makes (with ``slot``s), compiled once, or None.

    The row becomes a model instance as peewee makes one (each column through its field's
    ``python_value``), without resolving the cursor's columns anew each time.
    """
    query, cursor = _run(name, build, values)
    row = cursor.fetchone()
    return None if row is None else _instance(query, row)


def get_all(name, build, /, **values):
    """Every row of a query ``build()`` makes (with ``slot``s), compiled once, as model instances."""
    query, cursor = _run(name, build, values)
    return [_instance(query, row) for row in cursor.fetchall()]


def _instance(query, row):
    found = query.model(__no_default__=True)
    found.__data__ = {field.name: field.python_value(value)
                      for field, value in zip(query.selected_columns, row, strict=True)}
    return found


def insert_rows(model, fields, rows):
    """INSERT ``rows`` (tuples of values of ``fields``) in one statement, compiled once per model,
    fields and number of rows."""
    if not rows:
        return
    fields = tuple(fields)

    def build():
        named = [[slot(field, f"{field.name}.{n}") for field in fields] for n in range(len(rows))]
        return model.insert_many(named, fields=fields)

    values = {f"{field.name}.{n}": value
              for n, row in enumerate(rows) for field, value in zip(fields, row, strict=True)}
    execute(("rows", model, fields, len(rows)), build, **values)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False

    def save(self, force_insert=False, only=None):
        """peewee's ``save``, each INSERT or UPDATE compiled once per model and set of columns."""
        meta = self._meta
        if not meta.auto_increment or meta.only_save_dirty or self.__rel__:
            return super().save(force_insert=force_insert, only=only)
        model, pk = type(self), meta.primary_key
        names = [name for name in self.__data__ if name != pk.name]
        if only is not None:
            wanted = {getattr(field, "name", field) for field in only}
            names = [name for name in names if name in wanted]
        fields = tuple(meta.fields[name] for name in names)
        if self._pk is None or force_insert:
            if self._pk is not None:
                fields = (pk, *fields)
            cursor = execute(("insert", model, fields), lambda: model.insert({f: slot(f) for f in fields}),
                             **self.__data__)
            if self._pk is None:
                self._pk = db.last_insert_id(cursor)
                self._dirty.discard(pk.name)
            rows = 1
        else:
            if not fields:
                raise ValueError("no data to save!")
            cursor = execute(("update", model, fields), lambda: model.update({f: slot(f) for f in fields})
                             .where(pk == slot(pk)), **self.__data__)
            rows = db.rows_affected(cursor)
        self._dirty.difference_update(names)
        return rows


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
        return PooledMySQLDatabase(
            charset="utf8mb4",
            # Naive DATETIMEs are UTC; NOW() and friends must agree.
            init_command="SET time_zone = '+00:00'",
            connect_timeout=5,
            stale_timeout=stale_timeout,
            max_connections=64,
            **params,
        )
    raise ValueError(f"unsupported DATABASE_URL scheme {scheme!r}: use sqlite:/// or mysql://")


def is_mysql():
    """True when the bound database is MySQL or MariaDB."""
    return isinstance(db.obj, PooledMySQLDatabase)


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
