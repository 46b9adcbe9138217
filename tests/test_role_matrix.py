"""The role matrix, generated from the URL map: every route, every kind of caller.

Each (method, URL rule) of ``app.url_map`` (HEAD and OPTIONS aside) must have a row in
ROLE_NEEDED: the least role it needs, or PUBLIC. A route without a row fails the test, so a new
endpoint cannot ship without someone deciding who may call it.

Each route is then called by six callers: no token, an unknown token, a revoked token, and a
reader, an editor and an admin token. A caller below the route's role gets exactly 401 (the
first three, with the Bearer challenge) or 403 (a role too low), and the catalog is unchanged
afterwards; a caller at or above it gets exactly the route's success status (every request is
valid and aims at an image and version that exist).
"""

import pytest

from imagesvc import create_app, tokens
from imagesvc.db import db
from imagesvc.models import CatalogState, Image, Version

from .conftest import CHALLENGE, assert_error

PUBLIC = "public"
ROLES = ("reader", "editor", "admin")
# The least role each route needs; PUBLIC ones need no token (contract section 2 and 4).
ROLE_NEEDED = {
    ("GET", "/api/images"): "reader",
    ("POST", "/api/images"): "editor",
    ("GET", "/api/images/feed"): "reader",
    ("GET", "/api/images/<image:id>"): "reader",
    ("PUT", "/api/images/<image:id>"): "editor",
    ("DELETE", "/api/images/<image:id>"): "editor",
    ("PUT", "/api/images/<image:id>/status"): "editor",
    ("GET", "/api/images/<image:id>/versions"): "reader",
    ("POST", "/api/images/<image:id>/versions"): "editor",
    ("GET", "/api/images/<image:id>/versions/<version>"): "reader",
    ("DELETE", "/api/images/<image:id>/versions/<version>"): "editor",
    ("GET", "/api/images/<image:id>/history"): "reader",
    ("GET", "/api/catalog/export"): "reader",
    ("POST", "/api/catalog/import"): "admin",
    ("GET", "/api/audit"): "admin",
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/api/openapi.json"): PUBLIC,
    ("GET", "/api/docs"): PUBLIC,
    ("GET", "/api/docs/assets/<path:filename>"): PUBLIC,
}
# What an allowed, valid request answers.
SUCCESS = {("POST", "/api/images"): 201, ("POST", "/api/images/<image:id>/versions"): 201}
# A valid body for each route that takes one.
BODIES = {
    ("POST", "/api/images"): {"name": "role matrix image", "imageAddress": "registry.example.com/team/matrix:1"},
    ("PUT", "/api/images/<image:id>"): {"description": "changed by the role matrix"},
    ("PUT", "/api/images/<image:id>/status"): {"status": "online"},
    ("POST", "/api/images/<image:id>/versions"): {"version": "2.0"},
    ("POST", "/api/catalog/import"): {"format": "imagesvc-catalog", "version": 1, "images": []},
}
REFUSAL_CODES = {401: "UNAUTHORIZED", 403: "FORBIDDEN"}
CALLERS = ("no token", "unknown token", "revoked token", *ROLES)


def routes_of(app):
    """Every (method, URL rule) the app serves, HEAD and OPTIONS aside."""
    return sorted({(method, rule.rule) for rule in app.url_map.iter_rules()
                   for method in rule.methods - {"HEAD", "OPTIONS"}})


# Collected from an app built like the one each test gets (building it touches no database).
ROUTES = routes_of(create_app({"DATABASE_URL": "sqlite:///:memory:", "LOG_LEVEL": "ERROR"}))


def expected_status(route, caller):
    needed = ROLE_NEEDED[route]
    if needed == PUBLIC:
        return 200
    if caller not in ROLES:
        return 401
    if ROLES.index(caller) < ROLES.index(needed):
        return 403
    return SUCCESS.get(route, 200)


def test_every_route_has_a_role_rule():
    missing = [route for route in ROUTES if route not in ROLE_NEEDED]
    assert missing == [], f"new route without a role rule: {missing}; add it to ROLE_NEEDED"
    # /metrics is absent when IMAGESVC_METRICS=0; any other row without a route is stale.
    stale = [route for route in ROLE_NEEDED if route not in ROUTES and route != ("GET", "/metrics")]
    assert stale == [], f"ROLE_NEEDED rows for routes that no longer exist: {stale}"


@pytest.fixture
def callers(app):
    """The Authorization header of each caller."""
    with app.app_context():
        headers = {role: {"Authorization": f"Bearer {tokens.create(f'matrix-{role}', role)}"} for role in ROLES}
        revoked = tokens.create("matrix-revoked", "admin")
        tokens.revoke("matrix-revoked")
        db.close()
    headers["revoked token"] = {"Authorization": f"Bearer {revoked}"}
    headers["unknown token"] = {"Authorization": "Bearer isv_" + "x" * 43}
    headers["no token"] = {}
    return headers


def catalog_snapshot(app):
    """What a refused request must not change: the catalog generation, images and versions."""
    with app.app_context():
        snapshot = (CatalogState.get_by_id(CatalogState.ROW).generation,
                    [(i.id, i.name, i.description, i.status, i.revision) for i in Image.select().order_by(Image.id)],
                    [(v.id, v.version) for v in Version.select().order_by(Version.id)])
        db.close()
    return snapshot


@pytest.mark.parametrize("route", ROUTES, ids=[f"{method} {rule}" for method, rule in ROUTES])
def test_each_caller_gets_exactly_what_its_role_allows(app, client, callers, route):
    if route not in ROLE_NEEDED:
        pytest.fail(f"new route without a role rule: {route}; add it to ROLE_NEEDED")
    method, rule = route
    admin = callers["admin"]
    got, expected, refused_but_changed = {}, {}, []
    for n, caller in enumerate(CALLERS):
        expected[caller] = expected_status(route, caller)
        refused = expected[caller] in (401, 403)
        image_id = "0"
        if "<image:id>" in rule:
            # A fresh image with a version for each caller, so that one caller's delete leaves
            # the next caller something to aim at.
            image = client.post("/api/images", headers=admin,
                                json={"name": f"matrix {n}", "imageAddress": f"registry.example.com/m/{n}:1"})
            assert image.status_code == 201
            image_id = image.get_json()["data"]["id"]
            assert client.post(f"/api/images/{image_id}/versions", json={"version": "1.0"},
                               headers=admin).status_code == 201
        url = (rule.replace("<image:id>", image_id).replace("<version>", "1.0")
               .replace("<path:filename>", "swagger-ui.css"))
        body = BODIES.get(route)
        if route == ("POST", "/api/images"):
            body = {**body, "name": f"{body['name']} {n}"}

        before = catalog_snapshot(app) if refused else None
        response = client.open(url, method=method, json=body, headers=callers[caller])
        response.close()  # a docs asset is a file
        got[caller] = response.status_code
        if refused:
            # The refusal exactly as the contract has it, or what was off, in the table compared below.
            try:
                assert_error(response, expected[caller], REFUSAL_CODES[expected[caller]])
                if expected[caller] == 401:
                    assert response.headers.get("WWW-Authenticate") == CHALLENGE
            except AssertionError as off:
                got[caller] = (response.status_code, str(off))
            if catalog_snapshot(app) != before:
                refused_but_changed.append(caller)

    assert got == expected
    assert refused_but_changed == [], "a refused request changed the catalog"
