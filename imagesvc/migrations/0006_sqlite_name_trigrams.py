"""SQLite: a trigram index of the image names (FTS5, built in), kept by triggers, so a name
filter of three characters or more reads the names that hold it rather than every name
(imagesvc/search/). MariaDB has no built-in equivalent (its FULLTEXT has no ngram parser):
there a name term is read from the ``name_key`` index, once per term and worker."""

from peewee import SqliteDatabase

STATEMENTS = (
    # External content: the index keeps the trigrams only, the names stay in image.
    "CREATE VIRTUAL TABLE image_name USING fts5(name_key, content='image', content_rowid='id',"
    " tokenize='trigram')",
    "CREATE TRIGGER image_name_insert AFTER INSERT ON image BEGIN"
    " INSERT INTO image_name (rowid, name_key) VALUES (new.id, new.name_key); END",
    "CREATE TRIGGER image_name_delete AFTER DELETE ON image BEGIN"
    " INSERT INTO image_name (image_name, rowid, name_key) VALUES ('delete', old.id, old.name_key); END",
    "CREATE TRIGGER image_name_update AFTER UPDATE OF name_key ON image WHEN new.name_key IS NOT old.name_key BEGIN"
    " INSERT INTO image_name (image_name, rowid, name_key) VALUES ('delete', old.id, old.name_key);"
    " INSERT INTO image_name (rowid, name_key) VALUES (new.id, new.name_key); END",
    "INSERT INTO image_name (image_name) VALUES ('rebuild')",
)


def up(migrator, db):
    if isinstance(db, SqliteDatabase):
        for statement in STATEMENTS:
            db.execute_sql(statement)


def down(migrator, db):
    if isinstance(db, SqliteDatabase):
        for trigger in ("image_name_insert", "image_name_delete", "image_name_update"):
            db.execute_sql(f"DROP TRIGGER {trigger}")
        db.execute_sql("DROP TABLE image_name")
