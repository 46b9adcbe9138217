"""API tokens: issued once, stored only as a SHA-256 hash, revocable."""

import datetime
import hashlib
import hmac
import secrets

from .db import db, get_first, slot
from .models import Token, utcnow

# last_used_at is a hint for operators; writing it at most once a minute per token keeps
# reads from taking the write lock on every request.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


class TokenError(Exception):
    """A token command that cannot be carried out (unknown name, name taken)."""


def hash_token(token):
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create(name, role):
    """Issue a token named ``name``; returns the token, which is never stored."""
    token = "isv_" + secrets.token_urlsafe(32)
    with db.atomic():
        if Token.select().where(Token.name == name).exists():
            raise TokenError(f"a token named {name!r} already exists")
        Token.create(name=name, role=role, token_hash=hash_token(token))
    return token


def authenticate(token):
    """The active Token that ``token`` is, or None."""
    digest = hash_token(token)
    found = get_first("token by hash", lambda: Token.select().where(Token.token_hash == slot(Token.token_hash)),
                      token_hash=digest)
    # The lookup is by hash, so it leaks nothing about the token; the comparison stays
    # constant-time all the same.
    if found is None or not hmac.compare_digest(found.token_hash, digest) or found.revoked_at:
        return None
    now = utcnow()
    if found.last_used_at is None or now - found.last_used_at >= LAST_USED_RESOLUTION:
        with db.atomic():  # a write: it queues with the others (db.QueuedSqliteDatabase)
            Token.update(last_used_at=now).where(Token.id == found.id).execute()
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
