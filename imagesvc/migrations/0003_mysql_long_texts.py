"""MySQL: MEDIUMTEXT where a valid value outgrows TEXT's 64 KiB.

An introduction may hold 20000 characters of four bytes each, and a change's snapshot holds
a whole image; SQLite's TEXT has no such limit, so there is nothing to do there.
"""

from peewee import MySQLDatabase

LONG_COLUMNS = (("image", "introduction"), ("change_log", "before"), ("change_log", "after"))


def _retype(db, column_type):
    if isinstance(db, MySQLDatabase):
        for table, column in LONG_COLUMNS:
            db.execute_sql(f"ALTER TABLE `{table}` MODIFY `{column}` {column_type} NULL")


def up(migrator, db):
    _retype(db, "MEDIUMTEXT")


def down(migrator, db):
    _retype(db, "TEXT")
