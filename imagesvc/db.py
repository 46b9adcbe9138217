"""The database: one peewee proxy, bound from DATABASE_URL, released after every request.

Connections come from a pool and are opened lazily by the first query, so a request that
never touches the database (``/healthz``) never connects, and nothing is opened before
gunicorn forks its workers.
"""

import os
from urllib.parse import urlsplit

from peewee import DatabaseProxy, InterfaceError, Model, OperationalError
from playhouse.db_url import parse as parse_db_url
from playhouse.pool import MaxConnectionsExceeded, PooledMySQLDatabase, PooledSqliteDatabase

db = DatabaseProxy()

# What "the database cannot be reached" looks like to peewee and its drivers (503).
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, MaxConnectionsExceeded)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


def open_database(url, *, stale_timeout=300, busy_timeout=10):
    """Build the (unconnected) pooled database that ``url`` names."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return PooledSqliteDatabase(
            url[len("sqlite:///"):],
            # WAL lets readers run beside the one writer; NORMAL sync is durable against a
            # crash of the process (a killed worker loses nothing it acknowledged).
            pragmas={"journal_mode": "wal", "foreign_keys": 1, "synchronous": 1, "cache_size": -8000},
            timeout=busy_timeout,
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


_compiled_lookups = {}


def get_first(name, build, *params):
    """The first row of a hot single-row lookup, its SQL compiled once per backend.

    peewee compiles a query's SQL on every execution and resolves its columns on every cursor,
    which for a lookup by key costs more than running it. ``build()`` makes the query with
    placeholder values, which ``params`` then fill in order; the row becomes a model instance
    the way peewee makes one (each column through its field's ``python_value``).
    """
    key = (name, type(db.obj))
    if key not in _compiled_lookups:
        query = build()
        columns = [(field.name, field.python_value) for field in query._returning]
        _compiled_lookups[key] = (query.model, query.sql()[0], columns)
    model, sql, columns = _compiled_lookups[key]
    row = db.execute_sql(sql, params).fetchone()
    if row is None:
        return None
    found = model(__no_default__=True)
    found.__data__ = {name: to_python(value) for (name, to_python), value in zip(columns, row)}
    return found


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
