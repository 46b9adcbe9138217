"""Tables of the catalog: images, their versions and labels, and API tokens.

Uniqueness that the contract calls case-insensitive lives in ``*_key`` columns holding the
folded value under a unique index, so SQLite and MySQL mean the same thing by "equal" and
a race can never store a duplicate. Times are naive UTC with second precision.
"""

import datetime
import json

from peewee import (
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from .db import BaseModel

CHIP_TYPES = ("GPU", "CPU", "NPU")
STATUSES = ("online", "offline", "pending")
IMAGE_TYPES = ("public", "custom")
ROLES = ("reader", "editor", "admin")
FRAMEWORK, SCOPE = "framework", "scope"
ARCHITECTURES = ("amd64", "arm64", "ppc64le", "s390x", "riscv64", "loong64", "386", "arm")


class JSONTextField(TextField):
    """A list or object kept as JSON text (MariaDB has no JSON type to CAST to)."""

    def db_value(self, value):
        return json.dumps(value, ensure_ascii=False)

    def python_value(self, value):
        return json.loads(value)


def fold(text):
    """The comparison key of a text: case-folded.

    Case folding grows a text at most threefold ("ﬃ" -> "ffi"), which the key columns allow
    for; compatibility normalization (NFKC) could grow it eighteenfold, so it is not applied.
    """
    return text.casefold()


def entity_tag(image_id, revision):
    """An image's ETag: it changes with every change to the image, its status or versions."""
    return f"{image_id}-{revision}"


def utcnow():
    """Now, as stored: naive UTC, whole seconds."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)


class Image(BaseModel):
    id = AutoField()
    name = CharField(max_length=128)
    name_key = CharField(max_length=400, unique=True)
    # The contract's `imageId`: a caller-chosen slug, unlike `id` which the server assigns.
    external_id = CharField(max_length=128)
    external_id_key = CharField(max_length=400, unique=True)
    # The lists as given, for output; ImageLabel holds them again, folded, for filtering.
    frameworks = JSONTextField(default=list)
    applicable_scopes = JSONTextField(default=list)
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
    # Bumped by every change to the image, its status or its versions: the ETag.
    revision = IntegerField(default=1)
    create_time = DateTimeField(default=utcnow)
    last_update_time = DateTimeField(default=utcnow)
    # The image as a list shows it, encoded: written with every change (catalog/entries.py). A
    # program that changes the row otherwise sets it to null: the image is then read from its columns.
    list_entry = TextField(null=True)

    class Meta:
        indexes = (
            (("last_update_time", "id"), False),
            (("create_time", "id"), False),
            (("chip_type", "last_update_time", "id"), False),
            (("status", "last_update_time", "id"), False),
        )

    @property
    def etag(self):
        return entity_tag(self.id, self.revision)

    def fold_keys(self):
        """Set the key columns from the name and imageId they fold (every save does)."""
        self.name_key = fold(self.name)
        self.external_id_key = fold(self.external_id)

    def save(self, *args, **kwargs):
        self.fold_keys()
        return super().save(*args, **kwargs)


class ImageLabel(BaseModel):
    """One framework or applicable scope of an image, folded, so filters use an index."""

    image = ForeignKeyField(Image, on_delete="CASCADE")
    kind = CharField(max_length=16)
    key = CharField(max_length=200)

    class Meta:
        indexes = ((("kind", "key", "image"), True),)


class Version(BaseModel):
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
    architectures = JSONTextField(default=list)  # a VARCHAR(400) in the schema
    create_time = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("image", "version_key"), True),
            (("image", "create_time", "id"), False),
            (("python_version", "image"), False),
            (("cuda_version", "image"), False),
        )

    def fold_keys(self):
        """Set the key column from the version name it folds (every save does)."""
        self.version_key = fold(self.version)

    def save(self, *args, **kwargs):
        self.fold_keys()
        return super().save(*args, **kwargs)


class VersionArchitecture(BaseModel):
    """One architecture a version is built for, so the image list can filter on it by index."""

    version = ForeignKeyField(Version, on_delete="CASCADE")
    image = ForeignKeyField(Image, on_delete="CASCADE")
    architecture = CharField(max_length=32)

    class Meta:
        indexes = ((("architecture", "image"), False), (("version", "architecture"), True))


class Change(BaseModel):
    """One change to the catalog, written in the transaction of the change itself.

    It names the image by value, not by foreign key, so it outlives the image.
    """

    id = AutoField()
    action = CharField(max_length=32)
    image_pk = IntegerField()
    external_id = CharField(max_length=128)
    external_id_key = CharField(max_length=400)
    image_name = CharField(max_length=128)
    version = CharField(max_length=64, null=True)
    # The fields involved, as the API names them: before is null for a creation, after for a deletion.
    before = JSONTextField(null=True)
    after = JSONTextField(null=True)
    token_name = CharField(max_length=64, null=True)
    request_id = CharField(max_length=128, null=True)
    time = DateTimeField(default=utcnow)
    # The catalog's generation this change moved it to: commits in this order (the search index).
    generation = BigIntegerField(null=True)

    class Meta:
        table_name = "change_log"  # CHANGE is a reserved word in MySQL
        indexes = (
            (("generation",), False),
            (("image_pk", "id"), False),
            (("external_id_key", "id"), False),
            (("token_name", "id"), False),
            (("time", "id"), False),
        )


class CatalogState(BaseModel):
    """The single row that moves with every write: a generation number (cheap ETags for whole
    listings) and the number of images (the unfiltered total without a scan)."""

    id = IntegerField(primary_key=True)
    generation = BigIntegerField(default=0)
    image_count = IntegerField(default=0)

    ROW = 1


class Token(BaseModel):
    """An API token; only the SHA-256 of the token is stored. It is refused once revoked, and
    from ``expires_at`` on when it has one (0004)."""

    name = CharField(max_length=64, unique=True)
    role = CharField(max_length=16)
    token_hash = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)
    expires_at = DateTimeField(null=True)  # null: never expires
