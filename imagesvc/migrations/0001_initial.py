"""The first schema: images, their labels and versions, and API tokens."""

from peewee import (
    AutoField,
    BigIntegerField,
    BooleanField,
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
    # SQLite reuses the rowid of the newest row once it is deleted unless told AUTOINCREMENT;
    # an image id (its URL, its ETag, its history) must never name two images.
    never_reused_id = AutoIncrementField if isinstance(db, SqliteDatabase) else AutoField

    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Image(Base):
        id = never_reused_id()
        name = CharField(max_length=128)
        name_key = CharField(max_length=400, unique=True)
        external_id = CharField(max_length=128)
        external_id_key = CharField(max_length=400, unique=True)
        frameworks = TextField()
        applicable_scopes = TextField()
        chip_type = CharField(max_length=8, default="GPU")
        preset_cuda = BooleanField(default=False)
        description = TextField(default="")
        image_address = CharField(max_length=512)
        status = CharField(max_length=16, default="pending")
        type = CharField(max_length=16, default="custom")
        icon = CharField(max_length=512, null=True)
        introduction = TextField(null=True)
        paper_url = TextField(null=True)
        code_url = TextField(null=True)
        license = CharField(max_length=128, null=True)
        version_count = IntegerField(default=0)
        revision = IntegerField(default=1)
        create_time = DateTimeField()
        last_update_time = DateTimeField()

        class Meta:
            indexes = (
                (("last_update_time", "id"), False),
                (("create_time", "id"), False),
                (("chip_type", "last_update_time", "id"), False),
                (("status", "last_update_time", "id"), False),
            )

    class ImageLabel(Base):
        image = ForeignKeyField(Image, on_delete="CASCADE")
        kind = CharField(max_length=16)
        key = CharField(max_length=200)

        class Meta:
            indexes = ((("kind", "key", "image"), True),)

    class Version(Base):
        id = AutoField()
        image = ForeignKeyField(Image, on_delete="CASCADE")
        version = CharField(max_length=64)
        version_key = CharField(max_length=200)
        image_address = CharField(max_length=512)
        size = CharField(max_length=64, null=True)
        size_bytes = BigIntegerField(null=True)
        python_version = CharField(max_length=32, null=True)
        cuda_version = CharField(max_length=32, null=True)
        description = TextField(default="")
        create_time = DateTimeField()

        class Meta:
            indexes = (
                (("image", "version_key"), True),
                (("image", "create_time", "id"), False),
            )

    class Token(Base):
        name = CharField(max_length=64, unique=True)
        role = CharField(max_length=16)
        token_hash = CharField(max_length=64, unique=True)
        created_at = DateTimeField()
        last_used_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)

    create_tables(db, [Image, ImageLabel, Version, Token])
