"""API tokens: issued once, stored only as a SHA-256 hash, revocable, optionally expiring.

Every time here comes from this module's ``utcnow`` (read afresh on each request, never
cached), so a test can move the clock by replacing it.
"""

import datetime
import hashlib
import secrets

from .db import db
from .models import CatalogState, Token, utcnow
from .statements import Statement, param

# last_used_at is a hint for operators; writing it at most once a minute per token keeps
# reads from taking the write lock on every request.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


class TokenError(Exception):
    """A token command that cannot be carried out (unknown name, name taken)."""


def hash_token(token):
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create(name, role, expires_in=None):
    """Issue a token named ``name``; returns the token, which is never stored.

    With ``expires_in`` (a timedelta) it is refused from that long after now on; without it,
    it never expires.
    """
    token = "isv_" + secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = None if expires_in is None else now + expires_in
    with db.atomic():
        if Token.select().where(Token.name == name).exists():
            raise TokenError(f"a token named {name!r} already exists")
        Token.create(name=name, role=role, token_hash=hash_token(token), created_at=now, expires_at=expires_at)
    return token


def is_expired(token, now):
    """Whether the Token ``token`` is past its expiry at ``now`` (naive UTC)."""
    return token.expires_at is not None and now >= token.expires_at


# A request's first query: what it needs of its token (every column read costs a MySQL answer
# its description) and, beside it, the catalog state its reads are answered as of
# (responses.by_generation, the feed): one round trip to MySQL where reading them apart took two.
TOKEN_BY_HASH = Statement(lambda: (
    Token.select(Token.name, Token.role, Token.last_used_at, Token.expires_at,
                 CatalogState.generation, CatalogState.image_count)
    .join(CatalogState, on=(CatalogState.id == CatalogState.ROW))
    .where(Token.token_hash == param(Token.token_hash), Token.revoked_at.is_null())))


def authenticate(token):
    """The active Token that ``token`` is (known, not revoked, not expired), or None; with it, as
    ``catalog_state``, the catalog state read in the same query."""
    # Looked up by its hash: how long the lookup takes tells nothing about the token.
    token_hash = hash_token(token)
    rows = TOKEN_BY_HASH.dicts(token_hash=token_hash)
    if not rows:
        return None
    row = rows[0]
    found = Token(name=row["name"], role=row["role"], last_used_at=row["last_used_at"], expires_at=row["expires_at"])
    found.catalog_state = CatalogState(generation=row["generation"], image_count=row["image_count"])
    # Compared with the clock on every request (the row was just read), so an expired token
    # is refused from the very next request; nothing is written for it.
    now = utcnow()
    if is_expired(found, now):
        return None
    if found.last_used_at is None or now - found.last_used_at >= LAST_USED_RESOLUTION:
        with db.atomic():  # a write: it queues with the others (pools.QueuedSqliteDatabase)
            Token.update(last_used_at=now).where(Token.token_hash == token_hash).execute()
    return found


def list_tokens():
    return list(Token.select().order_by(Token.name))


def revoke(name):
    """Revoke the token ``name``; it fails from the very next request on."""
    updated = (Token.update(revoked_at=utcnow())
               .where(Token.name == name, Token.revoked_at.is_null()).execute())
    if not updated and not Token.select().where(Token.name == name).exists():
        raise TokenError(f"no token named {name!r}")


def replace(name, role):
    """Drop any token ``name`` and issue a fresh one (the local admin token whose file was lost)."""
    with db.atomic():
        Token.delete().where(Token.name == name).execute()
        return create(name, role)
