"""History of every change, version architectures, version filters, and the catalog state row."""

import time

from peewee import (
    AutoField,
    BigIntegerField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    SqliteDatabase,
    TextField,
)
from playhouse.sqlite_ext import AutoIncrementField

from imagesvc.migrations import create_tables


def up(migrator, db):
    never_reused_id = AutoIncrementField if isinstance(db, SqliteDatabase) else AutoField

    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Image(Base):
        class Meta:
            table_name = "image"

    class Version(Base):
        class Meta:
            table_name = "version"

    class VersionArchitecture(Base):
        version = ForeignKeyField(Version, on_delete="CASCADE")
        image = ForeignKeyField(Image, on_delete="CASCADE")
        architecture = CharField(max_length=32)

        class Meta:
            indexes = ((("architecture", "image"), False), (("version", "architecture"), True))

    class Change(Base):
        id = never_reused_id()
        action = CharField(max_length=32)
        image_pk = IntegerField()
        external_id = CharField(max_length=128)
        external_id_key = CharField(max_length=400)
        image_name = CharField(max_length=128)
        version = CharField(max_length=64, null=True)
        before = TextField(null=True)
        after = TextField(null=True)
        token_name = CharField(max_length=64, null=True)
        request_id = CharField(max_length=128, null=True)
        time = DateTimeField()

        class Meta:
            table_name = "change_log"
            indexes = (
                (("image_pk", "id"), False),
                (("external_id_key", "id"), False),
                (("token_name", "id"), False),
                (("time", "id"), False),
            )

    class CatalogState(Base):
        id = IntegerField(primary_key=True)
        generation = BigIntegerField(default=0)
        image_count = IntegerField(default=0)

    migrator.migrate(
        migrator.add_column("version", "architectures", CharField(max_length=400, default="[]")),
        migrator.add_index("version", ("python_version", "image_id"), False),
        migrator.add_index("version", ("cuda_version", "image_id"), False),
    )
    create_tables(db, [VersionArchitecture, Change, CatalogState])
    # The generation starts at the clock (in microseconds), so a database made anew never
    # repeats a generation an older one had: what is cached by generation stays true.
    db.execute_sql("INSERT INTO catalog_state (id, generation, image_count) SELECT 1, ?, COUNT(*) FROM image"
                   .replace("?", db.param), (time.time_ns() // 1000,))


def down(migrator, db):
    for table in ("version_architecture", "change_log", "catalog_state"):
        db.execute_sql(f"DROP TABLE {table}")
    migrator.migrate(
        migrator.drop_index("version", "version_python_version_image_id"),
        migrator.drop_index("version", "version_cuda_version_image_id"),
        migrator.drop_column("version", "architectures"),
    )
