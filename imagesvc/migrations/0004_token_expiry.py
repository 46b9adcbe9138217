"""Tokens that expire: ``token.expires_at``, naive UTC; null (every existing token) never expires."""

from peewee import DateTimeField


def up(migrator, db):
    migrator.migrate(migrator.add_column("token", "expires_at", DateTimeField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("token", "expires_at"))
