"""Versioned schema migrations, applied in order by ``imagesvc db upgrade``.

Each numbered file defines ``up(migrator, db)`` and declares the tables it creates as frozen
copies of the models of its day, so later model changes never rewrite history. The runner is
peewee's own ``playhouse.migrations``; it records applied files in ``schema_migration``.
"""

import os

from peewee import MySQLDatabase
from playhouse.migrations import Runner

DIRECTORY = os.path.dirname(__file__)

# utf8mb4_bin makes MySQL compare text byte for byte, as SQLite does; the case-insensitive
# rules are carried by the folded *_key columns instead of the collation.
MYSQL_TABLE_SETTINGS = ["ENGINE=InnoDB", "DEFAULT CHARSET=utf8mb4", "COLLATE=utf8mb4_bin"]


def create_tables(database, models):
    """Create ``models`` (bound to ``database``) with the backend's table settings."""
    if isinstance(database, MySQLDatabase):
        for model in models:
            model._meta.table_settings = MYSQL_TABLE_SETTINGS
    database.create_tables(models)


def runner(database):
    return Runner(database, DIRECTORY)


def upgrade(database):
    """Apply every pending migration; returns the names applied (none when up to date)."""
    return runner(database).up()


def status(database):
    """Each migration with the time it was applied, or None while it is pending."""
    return [(m.name, m.applied) for m in runner(database).status()]
