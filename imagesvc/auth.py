"""Bearer-token authentication and the reader < editor < admin roles."""

from flask import g
from flask_httpauth import HTTPTokenAuth

from . import tokens
from .api import error_response
from .catalog import Actor

auth = HTTPTokenAuth(scheme="Bearer", realm="imagesvc")

# Each role with every role it implies.
IMPLIED_ROLES = {
    "reader": ("reader",),
    "editor": ("reader", "editor"),
    "admin": ("reader", "editor", "admin"),
}


@auth.verify_token
def verify_token(token):
    if not token:
        return None
    found = tokens.authenticate(token)
    if found is not None:
        g.token_name = found.name
        g.catalog_state = found.catalog_state  # what the request's reads are answered as of
    return found


@auth.get_user_roles
def get_user_roles(token):
    return IMPLIED_ROLES[token.role]


def current_actor():
    """Who is making this request, for the history of what it changes."""
    return Actor(g.get("token_name"), g.get("request_id"))


@auth.error_handler
def auth_error(status):
    # Returned, not raised, so Flask-HTTPAuth adds WWW-Authenticate to the 401; a 403 names
    # its reason in the challenge as RFC 6750 describes.
    if status == 403:
        return error_response(403, headers={
            "WWW-Authenticate": f'{auth.authenticate_header()}, error="insufficient_scope"'})
    return error_response(status)
