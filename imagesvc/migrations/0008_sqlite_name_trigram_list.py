"""SQLite: the trigrams that the name index (0006) holds, as a table (FTS5's fts5vocab, built in).

A worker reads them once, when it loads its search index, and finds a two-character name term,
which no trigram index can look up, through the trigrams that hold it (imagesvc/search/).
"""

from peewee import SqliteDatabase

CREATE = "CREATE VIRTUAL TABLE image_name_trigrams USING fts5vocab(image_name, 'row')"


def up(migrator, db):
    if isinstance(db, SqliteDatabase):
        db.execute_sql(CREATE)


def down(migrator, db):
    if isinstance(db, SqliteDatabase):
        db.execute_sql("DROP TABLE image_name_trigrams")
