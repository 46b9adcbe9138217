"""``image.list_entry``: the image as a list shows it, encoded (imagesvc/catalog/entries.py).

Null until written: every write of an image writes it, ``imagesvc db upgrade`` writes it for
the images that have none, and a list reads an image without one from its columns. MEDIUMTEXT on
MySQL, as 0003 made the other texts that can outgrow TEXT's 64 KiB.
"""

from peewee import MySQLDatabase, TextField


def up(migrator, db):
    migrator.migrate(migrator.add_column("image", "list_entry", TextField(null=True)))
    if isinstance(db, MySQLDatabase):
        db.execute_sql("ALTER TABLE `image` MODIFY `list_entry` MEDIUMTEXT NULL")


def down(migrator, db):
    migrator.migrate(migrator.drop_column("image", "list_entry"))
