"""The ``imagesvc`` command: Flask's CLI (run, routes, shell) plus tokens and the schema."""

import datetime
import getpass
import json
import os
import re
import sys
import uuid

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup
from marshmallow import ValidationError

from . import catalog, create_app, migrations, tokens
from .db import db
from .errors import Conflict
from .models import IMAGE_TYPES, ROLES, STATUSES
from .schemas import CatalogExportSchema, CatalogSchema, error_paths
from .schemas.fields import TIME_FORMAT

token_cli = AppGroup("token", help="Issue, list and revoke API tokens.")
db_cli = AppGroup("db", help="The database schema.")
catalog_cli = AppGroup("catalog", help="Export and import the catalog as a JSON file.")

LOCAL_ADMIN = "local-admin"


class Duration(click.ParamType):
    """A length of time: a whole number above 0 and a unit, ``30s``, ``15m``, ``12h``, ``90d``."""

    name = "duration"
    UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

    def convert(self, value, param, ctx):
        if isinstance(value, datetime.timedelta):
            return value
        match = re.fullmatch(r"([0-9]+)([smhd])", value)
        if match is None or not match[1].strip("0"):
            self.fail(f"{value!r} is not a duration: a whole number above 0 and a unit s, m, h or d "
                      "(30s, 15m, 12h, 90d)", param, ctx)
        try:
            duration = datetime.timedelta(**{self.UNITS[match[2]]: int(match[1])})
            tokens.utcnow() + duration  # an expiry past the year 9999 cannot be stored
        except (OverflowError, ValueError):  # ValueError: more digits than int() reads
            self.fail(f"{value!r} is too long: the expiry would be past the year 9999", param, ctx)
        return duration


@token_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--expires-in", type=Duration(),
              help="Refuse the token this long from now on: 30s, 15m, 12h, 90d (units s, m, h, d). "
                   "Without it, the token never expires.")
def create_token(name, role, expires_in):
    """Issue a token; it is printed once, alone on stdout, and never stored."""
    try:
        click.echo(tokens.create(name, role, expires_in=expires_in))
    except tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from exc


@token_cli.command("list")
def list_tokens():
    """Name, role, created, last used, revoked and expiry of every token (never the token)."""
    now = tokens.utcnow()

    def when(moment):
        return moment.strftime(TIME_FORMAT) if moment else "-"

    def expires(token):
        if token.expires_at is None:
            return "never"
        return when(token.expires_at) + (" (expired)" if tokens.is_expired(token, now) else "")

    # EXPIRES comes last so that the columns scripts already read keep their places.
    rows = [(t.name, t.role, when(t.created_at), when(t.last_used_at), when(t.revoked_at), expires(t))
            for t in tokens.list_tokens()]
    header = ("NAME", "ROLE", "CREATED", "LAST USED", "REVOKED", "EXPIRES")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@token_cli.command("revoke")
@click.argument("name")
def revoke_token(name):
    """Revoke a token: it is refused from the very next request."""
    try:
        tokens.revoke(name)
    except tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"revoked {name}", err=True)


@token_cli.command("local")
def local_token():
    """Print the local admin token, issuing it first if needed.

    It is kept in the instance folder (owner-only), since the database holds only its hash.
    """
    path = os.path.join(current_app.instance_path, "local-admin-token")
    if os.path.exists(path):
        with open(path) as file:
            token = file.read().strip()
        found = tokens.authenticate(token)
        if found is not None and found.role == "admin":
            click.echo(token)
            return
    token = tokens.replace(LOCAL_ADMIN, "admin")
    os.makedirs(current_app.instance_path, exist_ok=True)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        file.write(token + "\n")
    os.chmod(path, 0o600)
    click.echo(token)


@db_cli.command("upgrade")
def upgrade():
    """Create the schema or bring it up to date (safe to run again)."""
    applied = migrations.upgrade(db.obj)
    click.echo(f"applied {', '.join(applied)}" if applied else "database is up to date")
    written = catalog.write_missing()
    if written:
        click.echo(f"wrote the list entries of {written} images")


@db_cli.command("status")
def status():
    """Each schema migration and when it was applied."""
    for name, applied in migrations.status(db.obj):
        click.echo(f"{name}  {applied.strftime('%Y-%m-%d %H:%M:%S') if applied else 'pending'}")


@catalog_cli.command("export")
@click.option("--status", type=click.Choice(STATUSES), help="Only images with this status.")
@click.option("--type", "image_type", type=click.Choice(IMAGE_TYPES), help="Only images of this type.")
def export_catalog(status, image_type):
    """Write every matching image with its versions, as a catalog file, to stdout."""
    document = CatalogExportSchema().dump(
        CatalogSchema.document(catalog.export_catalog(status=status, image_type=image_type)))
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


@catalog_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="Validate and count; write nothing.")
@click.option("--prune", is_flag=True, help="Delete images missing from the file.")
@click.option("--if-new", is_flag=True, help="Only into a new catalog: one that never held an image.")
def import_catalog(file, dry_run, prune, if_new):
    """Upsert the images of FILE by imageId, all in one transaction.

    Every entry is validated first; if one is bad, the errors name it and nothing is written.
    """
    if if_new and not catalog.is_new():
        click.echo("the catalog is not new: nothing imported")
        return
    try:
        document = CatalogSchema().load(json.loads(file.read().decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{file.name} is not a JSON file: {exc}") from exc
    except ValidationError as exc:
        for path, messages in error_paths(exc.messages).items():
            click.echo(f"{path}: {' '.join(messages)}", err=True)
        raise click.ClickException(f"{file.name} was not imported: nothing was written") from exc
    entries = document["images"]
    actor = catalog.Actor(f"cli:{getpass.getuser()}", f"cli-{uuid.uuid4().hex}")
    try:
        with click.progressbar(length=len(entries), label="importing", file=sys.stderr,
                               hidden=not sys.stderr.isatty() or len(entries) < 100) as bar:
            counts = catalog.import_catalog(entries, prune=prune, dry_run=dry_run, actor=actor, progress=bar.update)
    except Conflict as exc:
        for path, messages in exc.errors.items():
            click.echo(f"{path}: {' '.join(messages)}", err=True)
        raise click.ClickException(f"{file.name} was not imported: nothing was written") from exc
    summary = ", ".join(f"{counts[key]} {key}" for key in ("created", "updated", "unchanged", "deleted"))
    click.echo(f"{summary}{' (dry run: nothing written)' if dry_run else ''}")


cli = FlaskGroup(create_app=create_app, help="imagesvc: the image catalog service.")
