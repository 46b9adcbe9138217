"""The generation each change moved the catalog to (``change_log.generation``), indexed: what
each worker's search index reads to catch up (imagesvc/search/). Changes made before it have
none; the index loads the catalog whole when it starts, so it never reads them."""

from peewee import BigIntegerField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("change_log", "generation", BigIntegerField(null=True)),
        migrator.add_index("change_log", ("generation",)),
    )


def down(migrator, db):
    migrator.migrate(migrator.drop_index("change_log", "change_log_generation"),
                     migrator.drop_column("change_log", "generation"))
