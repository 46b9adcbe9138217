"""Hostile input: every case gets its exact status and error code, and leaves the database as it was.

A table of requests that a careless or malicious client might send: wrong JSON types for every
field, arrays for scalars and scalars for arrays, nulls, 10 MB strings, absurd nesting, bodies
that are not JSON objects or not UTF-8, duplicate keys, control and invisible characters, SQL
and LIKE metacharacters in every filter, odd page numbers, odd Content-Types, odd ids in paths,
odd X-Request-IDs and odd Authorization headers. Each runs in-process on both backends against a
small seeded catalog; a dump of every table (every row, every column) is taken before and after,
and must be the same, except for the one case that creates a (homoglyph) image.
"""

import contextlib
import json

import pytest
from peewee import MySQLDatabase

from imagesvc import catalog, create_app, tokens
from imagesvc.db import db

from .conftest import assert_error, make_mysql_database

SEED_IMAGES = [
    {"name": "Ubuntu CPU", "external_id": "ubuntu-cpu", "image_address": "ubuntu:22.04", "chip_type": "CPU",
     "frameworks": ["PyTorch"], "applicable_scopes": ["开发机"]},
    {"name": "100% GPU", "external_id": "full-gpu", "image_address": "nvcr.io/nvidia/pytorch:24.01-py3",
     "frameworks": ["Tensor%Flow"], "applicable_scopes": ["a_b"]},
    {"name": "my_image", "external_id": "my-image", "image_address": "registry/image:tag"},
    {"name": "back\\slash", "external_id": "back-slash", "image_address": "registry/back:1"},
    {"name": "O'Brien's image", "external_id": "obrien", "image_address": "registry/obrien:1"},
]
VALID = {"name": "Hostile test image", "imageAddress": "registry.example.com/team/hostile:1.0"}
JSON = "application/json"
TEN_MB = 10 * 1024 * 1024


def body(**fields):
    """A create body: VALID with ``fields`` replacing (or, as ``...``, removing) its fields."""
    merged = {**VALID, **fields}
    return {key: value for key, value in merged.items() if value is not ...}


def case(id, method, path, *, json_body=None, data=None, content_type=JSON, headers=None, environ=None,
         status, code, field=None, check=None):
    return pytest.param(dict(method=method, path=path, json_body=json_body, data=data, content_type=content_type,
                             headers=headers or {}, environ=environ or {}, status=status, code=code, field=field,
                             check=check), id=id)


def listing(names):
    """A check: the list answer holds exactly the images with these names."""
    def check(response):
        data = response.get_json()["data"]
        assert sorted(item["name"] for item in data["list"]) == sorted(names)
        assert data["total"] == len(names)
    return check


def listed(id, query, names):
    """A case: GET /api/images?``query`` lists exactly the images with these names."""
    return case(id, "GET", f"/api/images?{query}", status=200, code=None, check=listing(names))


def empty_page(total):
    def check(response):
        data = response.get_json()["data"]
        assert (data["list"], data["total"]) == ([], total)
    return check


def fresh_request_id(response):
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) == 32 and request_id.isalnum(), request_id


POST = ("POST", "/api/images")
CASES = [
    # ----- wrong JSON types, field by field (422 naming the field) -----
    case("name-number", *POST, json_body=body(name=123), status=422, code="VALIDATION_ERROR", field="name"),
    case("name-array", *POST, json_body=body(name=["a"]), status=422, code="VALIDATION_ERROR", field="name"),
    case("name-object", *POST, json_body=body(name={"a": 1}), status=422, code="VALIDATION_ERROR", field="name"),
    case("name-null", *POST, json_body=body(name=None), status=422, code="VALIDATION_ERROR", field="name"),
    case("name-missing", *POST, json_body=body(name=...), status=422, code="VALIDATION_ERROR", field="name"),
    case("name-bool", *POST, json_body=body(name=True), status=422, code="VALIDATION_ERROR", field="name"),
    case("imageId-number", *POST, json_body=body(imageId=42), status=422, code="VALIDATION_ERROR", field="imageId"),
    case("imageId-null", *POST, json_body=body(imageId=None), status=422, code="VALIDATION_ERROR", field="imageId"),
    case("frameworks-scalar", *POST, json_body=body(frameworks="PyTorch"), status=422, code="VALIDATION_ERROR",
         field="frameworks"),
    case("frameworks-numbers", *POST, json_body=body(frameworks=[1, 2]), status=422, code="VALIDATION_ERROR",
         field="frameworks"),
    case("frameworks-null", *POST, json_body=body(frameworks=None), status=422, code="VALIDATION_ERROR",
         field="frameworks"),
    case("frameworks-nested", *POST, json_body=body(frameworks=[["PyTorch"]]), status=422, code="VALIDATION_ERROR",
         field="frameworks"),
    case("applicableScopes-object", *POST, json_body=body(applicableScopes={"开发机": True}), status=422,
         code="VALIDATION_ERROR", field="applicableScopes"),
    case("chipType-lowercase", *POST, json_body=body(chipType="gpu"), status=422, code="VALIDATION_ERROR",
         field="chipType"),
    case("chipType-empty", *POST, json_body=body(chipType=""), status=422, code="VALIDATION_ERROR", field="chipType"),
    case("chipType-array", *POST, json_body=body(chipType=["GPU"]), status=422, code="VALIDATION_ERROR",
         field="chipType"),
    case("presetCuda-string", *POST, json_body=body(presetCuda="true"), status=422, code="VALIDATION_ERROR",
         field="presetCuda"),
    case("presetCuda-number", *POST, json_body=body(presetCuda=1), status=422, code="VALIDATION_ERROR",
         field="presetCuda"),
    case("description-number", *POST, json_body=body(description=5), status=422, code="VALIDATION_ERROR",
         field="description"),
    case("imageAddress-null", *POST, json_body=body(imageAddress=None), status=422, code="VALIDATION_ERROR",
         field="imageAddress"),
    case("imageAddress-array", *POST, json_body=body(imageAddress=["ubuntu"]), status=422, code="VALIDATION_ERROR",
         field="imageAddress"),
    case("status-uppercase", *POST, json_body=body(status="ONLINE"), status=422, code="VALIDATION_ERROR",
         field="status"),
    case("type-null", *POST, json_body=body(type=None), status=422, code="VALIDATION_ERROR", field="type"),
    case("icon-number", *POST, json_body=body(icon=7), status=422, code="VALIDATION_ERROR", field="icon"),
    case("introduction-array", *POST, json_body=body(introduction=["x"]), status=422, code="VALIDATION_ERROR",
         field="introduction"),
    case("paperUrl-javascript", *POST, json_body=body(paperUrl="javascript:alert(1)"), status=422,
         code="VALIDATION_ERROR", field="paperUrl"),
    case("codeUrl-object", *POST, json_body=body(codeUrl={}), status=422, code="VALIDATION_ERROR", field="codeUrl"),
    case("license-bool", *POST, json_body=body(license=False), status=422, code="VALIDATION_ERROR", field="license"),
    case("unknown-field", *POST, json_body=body(isAdmin=True), status=422, code="VALIDATION_ERROR", field="isAdmin"),
    case("status-update-wrong-type", "PUT", "/api/images/{id}/status", json_body={"status": 1}, status=422,
         code="VALIDATION_ERROR", field="status"),
    case("version-number", "POST", "/api/images/{id}/versions", json_body={"version": 1.0}, status=422,
         code="VALIDATION_ERROR", field="version"),
    case("version-createTime-garbage", "POST", "/api/images/{id}/versions",
         json_body={"version": "v1", "createTime": "yesterday"}, status=422, code="VALIDATION_ERROR",
         field="createTime"),
    case("update-empty", "PUT", "/api/images/{id}", json_body={}, status=422, code="VALIDATION_ERROR"),

    # ----- sizes and shapes of the body -----
    case("name-10MB", *POST, json_body=body(name="x" * TEN_MB), status=413, code="PAYLOAD_TOO_LARGE"),
    case("description-10MB-update", "PUT", "/api/images/{id}", json_body={"description": "y" * TEN_MB}, status=413,
         code="PAYLOAD_TOO_LARGE"),
    case("nested-100000-arrays", *POST, data="[" * 100_000 + "]" * 100_000, status=400, code="BAD_REQUEST"),
    case("nested-100000-in-a-field", *POST, data='{"name": ' + "[" * 100_000, status=400, code="BAD_REQUEST"),
    case("body-array", *POST, data=json.dumps([VALID]), status=400, code="BAD_REQUEST"),
    case("body-string", *POST, data='"Hostile test image"', status=400, code="BAD_REQUEST"),
    case("body-null", *POST, data="null", status=400, code="BAD_REQUEST"),
    case("body-empty", *POST, data="", status=400, code="BAD_REQUEST"),
    case("body-invalid-utf8", *POST, data=b'{"name": "\xff\xfe\xfd", "imageAddress": "ubuntu"}', status=400,
         code="BAD_REQUEST"),
    case("body-utf16", *POST, data=json.dumps(VALID).encode("utf-16"), status=400, code="BAD_REQUEST"),
    case("body-duplicate-keys", *POST, data='{"name": "a", "name": "b", "imageAddress": "ubuntu"}', status=400,
         code="BAD_REQUEST"),
    case("body-NaN", *POST, data='{"name": "a", "imageAddress": "ubuntu", "icon": NaN}', status=400,
         code="BAD_REQUEST"),
    case("body-lone-surrogate-in-name", *POST, data='{"name": "a\\ud800b", "imageAddress": "ubuntu"}', status=400,
         code="BAD_REQUEST"),
    case("body-lone-surrogate-in-description-update", "PUT", "/api/images/{id}", data='{"description": "\\udfff"}',
         status=400, code="BAD_REQUEST"),
    case("body-lone-surrogate-in-version", "POST", "/api/images/{id}/versions",
         data='{"version": "9.9", "description": "\\ud83d"}', status=400, code="BAD_REQUEST"),
    case("body-trailing-garbage", *POST, data=json.dumps(VALID) + "garbage", status=400, code="BAD_REQUEST"),
    case("content-type-text", *POST, data=json.dumps(VALID), content_type="text/plain", status=415,
         code="UNSUPPORTED_MEDIA_TYPE"),
    case("content-type-missing", *POST, data=json.dumps(VALID), content_type=None, status=415,
         code="UNSUPPORTED_MEDIA_TYPE"),
    case("content-type-form", *POST, data="name=x&imageAddress=ubuntu",
         content_type="application/x-www-form-urlencoded", status=415, code="UNSUPPORTED_MEDIA_TYPE"),
    case("content-type-latin1", *POST, data=json.dumps(VALID), content_type="application/json; charset=latin-1",
         status=415, code="UNSUPPORTED_MEDIA_TYPE"),
    case("content-type-missing-on-status", "PUT", "/api/images/{id}/status", data='{"status": "online"}',
         content_type=None, status=415, code="UNSUPPORTED_MEDIA_TYPE"),

    # ----- characters in names -----
    case("name-NUL", *POST, json_body=body(name="a\x00b"), status=422, code="VALIDATION_ERROR", field="name"),
    case("name-bell", *POST, json_body=body(name="ring\x07"), status=422, code="VALIDATION_ERROR", field="name"),
    case("name-newline", *POST, json_body=body(name="two\nlines"), status=422, code="VALIDATION_ERROR", field="name"),
    case("name-escape-sequence", *POST, json_body=body(name="\x1b[31mred"), status=422, code="VALIDATION_ERROR",
         field="name"),
    case("name-zero-width-space", *POST, json_body=body(name="Ubuntu\u200bCPU"), status=422,
         code="VALIDATION_ERROR", field="name"),
    case("name-zero-width-joiner", *POST, json_body=body(name="Ubu\u200dntu CPU"), status=422,
         code="VALIDATION_ERROR", field="name"),
    case("name-bom", *POST, json_body=body(name="\ufeffUbuntu CPU"), status=422, code="VALIDATION_ERROR",
         field="name"),
    case("name-bidi-override", *POST, json_body=body(name="evil\u202eexe.txt"), status=422,
         code="VALIDATION_ERROR", field="name"),
    case("name-only-spaces", *POST, json_body=body(name="   "), status=422, code="VALIDATION_ERROR", field="name"),
    case("name-same-ignoring-case-and-spaces", *POST, json_body=body(name="  UBUNTU cpu "), status=409,
         code="CONFLICT", field="name"),
    case("framework-NUL", *POST, json_body=body(frameworks=["Py\x00Torch"]), status=422, code="VALIDATION_ERROR",
         field="frameworks"),
    case("imageId-slash", *POST, json_body=body(imageId="../../etc"), status=422, code="VALIDATION_ERROR",
         field="imageId"),
    case("version-slash", "POST", "/api/images/{id}/versions", json_body={"version": "1.0/../2"}, status=422,
         code="VALIDATION_ERROR", field="version"),

    # ----- SQL and LIKE metacharacters in every filter: 200 and literal matching -----
    listed("filter-name-percent", "name=%25", ["100% GPU"]),
    listed("filter-name-underscore", "name=_", ["my_image"]),
    listed("filter-name-backslash", "name=%5C", ["back\\slash"]),
    listed("filter-name-quote", "name='s", ["O'Brien's image"]),
    # Three characters or more go through SQLite's trigram index as an FTS5 phrase: still literal.
    listed("filter-name-percent-phrase", "name=100%25", ["100% GPU"]),
    listed("filter-name-underscore-phrase", "name=y_im", ["my_image"]),
    listed("filter-name-backslash-phrase", "name=k%5Csl", ["back\\slash"]),
    listed("filter-name-quote-phrase", "name='s%20image", ["O'Brien's image"]),
    listed("filter-name-double-quote-phrase", "name=%22image", []),
    listed("filter-name-fts-syntax", "name=image%20OR%20NEAR(gpu*)", []),
    listed("filter-name-fts-column", "name=name_key:gpu", []),
    listed("filter-name-sql-injection", "name=%27%20OR%201%3D1%20--", []),
    listed("filter-name-union", "name=x%22)%20UNION%20SELECT%20*%20FROM%20token%20--", []),
    listed("filter-framework-percent-literal", "framework=tensor%25flow", ["100% GPU"]),
    listed("filter-framework-like-wildcard", "framework=%25", []),
    listed("filter-framework-injection", "framework=%27%20OR%20%271%27%3D%271", []),
    listed("filter-scope-underscore-literal", "applicableScope=A_B", ["100% GPU"]),
    listed("filter-scope-like-wildcard", "applicableScope=a%25", []),
    case("filter-chipType-injection", "GET", "/api/images?chipType=GPU%27%20OR%20%271%27%3D%271", status=422,
         code="VALIDATION_ERROR", field="chipType"),
    case("filter-sortBy-injection", "GET", "/api/images?sortBy=name;DROP%20TABLE%20image", status=422,
         code="VALIDATION_ERROR", field="sortBy"),
    case("filter-status-injection", "GET", "/api/images?status=online%27--", status=422, code="VALIDATION_ERROR",
         field="status"),
    case("filter-empty-everything", "GET", "/api/images?pageNo=1&pageSize=10&name=&framework=&chipType="
         "&applicableScope=&type=", status=200, code=None, check=lambda r: r.get_json()["data"]["total"] == 5),

    # ----- page numbers -----
    case("page-zero", "GET", "/api/images?pageNo=0", status=422, code="VALIDATION_ERROR", field="pageNo"),
    case("page-negative", "GET", "/api/images?pageNo=-1", status=422, code="VALIDATION_ERROR", field="pageNo"),
    case("page-fraction", "GET", "/api/images?pageNo=1.5", status=422, code="VALIDATION_ERROR", field="pageNo"),
    case("page-text", "GET", "/api/images?pageNo=one", status=422, code="VALIDATION_ERROR", field="pageNo"),
    case("page-huge", "GET", f"/api/images?pageNo={10**12}", status=200, code=None, check=empty_page(5)),
    case("page-absurd", "GET", f"/api/images?pageNo={10**40}&pageSize=100", status=200, code=None,
         check=empty_page(5)),
    case("page-size-zero", "GET", "/api/images?pageSize=0", status=422, code="VALIDATION_ERROR", field="pageSize"),
    case("page-size-101", "GET", "/api/images?pageSize=101", status=422, code="VALIDATION_ERROR", field="pageSize"),
    case("versions-page-negative", "GET", "/api/images/{id}/versions?pageNo=-1", status=422, code="VALIDATION_ERROR",
         field="pageNo"),

    # ----- ids in paths -----
    case("path-id-encoded-slash", "GET", "/api/images/1%2F2", status=404, code="NOT_FOUND"),
    case("path-id-dot-dot", "GET", "/api/images/..", status=404, code="NOT_FOUND"),
    case("path-id-encoded-dots", "GET", "/api/images/%2e%2e", status=404, code="NOT_FOUND"),
    case("path-id-fraction", "GET", "/api/images/1.0", status=404, code="NOT_FOUND"),
    case("path-id-negative", "GET", "/api/images/-1", status=404, code="NOT_FOUND"),
    case("path-id-huge", "GET", "/api/images/99999999999999999999999", status=404, code="NOT_FOUND"),
    case("path-id-arabic-digit", "GET", "/api/images/%D9%A1", status=404, code="NOT_FOUND"),
    case("path-id-sql", "GET", "/api/images/1%20OR%201=1", status=404, code="NOT_FOUND"),
    case("path-id-delete-encoded-slash", "DELETE", "/api/images/{id}%2F", status=404, code="NOT_FOUND"),
    case("path-version-traversal", "DELETE", "/api/images/{id}/versions/..%2F..%2Fx", status=404, code="NOT_FOUND"),
    case("path-version-dot", "GET", "/api/images/{id}/versions/.", status=404, code="NOT_FOUND"),

    # ----- X-Request-ID: only a sane one is echoed -----
    case("request-id-crlf", "GET", "/api/images", environ={"HTTP_X_REQUEST_ID": "abc\r\nSet-Cookie: session=1"},
         status=200, code=None, check=fresh_request_id),
    case("request-id-500-chars", "GET", "/api/images", headers={"X-Request-ID": "a" * 500}, status=200, code=None,
         check=fresh_request_id),
    case("request-id-unicode", "GET", "/api/images", environ={"HTTP_X_REQUEST_ID": "ünïcode"}, status=200, code=None,
         check=fresh_request_id),
    case("request-id-sane", "GET", "/api/images", headers={"X-Request-ID": "trace-123.abc_DEF"}, status=200,
         code=None, check=lambda r: r.headers["X-Request-ID"] == "trace-123.abc_DEF"),

    # ----- the Authorization header ({token} is an editor token) -----
    case("bearer-two-spaces", "GET", "/api/images", headers={"Authorization": "Bearer  {token}"}, status=200,
         code=None),
    case("bearer-lowercase-scheme", "GET", "/api/images", headers={"Authorization": "bearer {token}"}, status=200,
         code=None),
    case("bearer-token-prefix", "GET", "/api/images", headers={"Authorization": "Bearer {token_prefix}"}, status=401,
         code="UNAUTHORIZED"),
    case("bearer-sql", "POST", "/api/images", json_body=VALID, headers={"Authorization": "Bearer ' OR '1'='1"},
         status=401, code="UNAUTHORIZED"),
    case("bearer-NUL", "GET", "/api/images", environ={"HTTP_AUTHORIZATION": "Bearer \x00"}, status=401,
         code="UNAUTHORIZED"),
]


class World:
    """An app on its own database holding the seeded catalog and an editor token. It is built
    once per backend for the whole table: no case may change it (each checks), so every case
    can share it."""

    def __init__(self, url):
        self.url = url
        # TESTING off: an unexpected error is answered (500) as in production, not raised.
        self.app = create_app({"TESTING": False, "DATABASE_URL": url, "LOG_LEVEL": "INFO"})
        self.database = self.app.extensions["imagesvc.db"]
        db.initialize(self.database)
        with db.atomic():
            self.token = tokens.create("hostile-editor", "editor")
            images = [catalog.create_image(dict(fields)) for fields in SEED_IMAGES]
            catalog.create_version(str(images[0].id), {"version": "1.0", "size_bytes": None})
        db.close()
        self.image_id = str(images[0].id)
        self.client = self.app.test_client()

    def close(self):
        self.database.close_all()


@pytest.fixture
def world(backend, once_per_module, tmp_path_factory, sqlite_database):
    """The World of the backend, built for the module on first use."""

    def build():
        if backend == "mysql":
            url = make_mysql_database("hostile")
        else:
            url = sqlite_database(tmp_path_factory.mktemp("hostile"))
        return contextlib.closing(World(url))

    return once_per_module(backend, build)


def dump(database):
    """Every row of every table, every column (but a token's last-used stamp, a hint that the
    first authenticated request of a minute may write)."""
    quote = "`" if isinstance(database, MySQLDatabase) else '"'
    tables = {}
    with database.connection_context():
        for table in sorted(database.get_tables()):
            cursor = database.execute_sql(f"SELECT * FROM {quote}{table}{quote}")
            columns = [column[0] for column in cursor.description]
            rows = [tuple(value for column, value in zip(columns, row, strict=True) if column != "last_used_at")
                    for row in cursor.fetchall()]
            tables[table] = sorted(rows, key=repr)
    return tables


def send(client, request, image_id, token):
    headers = {"Authorization": f"Bearer {token}"}
    headers.update({name: value.format(token=token, token_prefix=token[:-1]) for name, value in
                    request["headers"].items()})
    if request["content_type"]:
        headers["Content-Type"] = request["content_type"]
    data = request["data"]
    if request["json_body"] is not None:
        data = json.dumps(request["json_body"], ensure_ascii=False).encode()
    return client.open(request["path"].replace("{id}", image_id), method=request["method"], data=data,
                       headers=headers, environ_overrides=request["environ"])


@pytest.mark.parametrize("request_", CASES)
def test_hostile_request_gets_its_exact_answer_and_changes_nothing(world, request_):
    world.client.get("/api/images", headers={"Authorization": f"Bearer {world.token}"})  # last-used stamp
    before = dump(world.database)

    response = send(world.client, request_, world.image_id, world.token)

    if request_["code"] is None:
        assert (response.status_code, response.get_json()["success"]) == (request_["status"], True)
    else:
        body = assert_error(response, request_["status"], request_["code"], errors=bool(request_["field"]))
        if request_["field"]:
            assert request_["field"] in body["errors"], body
    if request_["check"]:
        assert request_["check"](response) is not False
    assert dump(world.database) == before


def test_a_cyrillic_homoglyph_is_another_name_and_adds_exactly_one_image(app, client, auth_headers):
    """"Ubuntu СPU" with a Cyrillic С is not "Ubuntu CPU": a new image, and nothing else changes."""
    headers = auth_headers("editor")
    for fields in SEED_IMAGES:
        seed = {"name": fields["name"], "imageId": fields["external_id"], "imageAddress": fields["image_address"]}
        assert client.post("/api/images", json=seed, headers=headers).status_code == 201
    client.get("/api/images", headers=headers)
    before = dump(app.extensions["imagesvc.db"])

    response = client.post("/api/images", json=body(name="Ubuntu \u0421PU"), headers=headers)

    assert response.status_code == 201, response.get_json()
    created = response.get_json()["data"]
    assert created["name"] == "Ubuntu \u0421PU"
    after = dump(app.extensions["imagesvc.db"])
    new_images = [row for row in after["image"] if row not in before["image"]]
    assert [row[0] for row in new_images] == [int(created["id"])]
    assert len(after["image"]) == len(before["image"]) + 1
    assert set(before["image"]) <= set(after["image"])  # no existing image changed
    for table in ("version", "version_architecture", "token"):
        assert after[table] == before[table]
    latin = client.get("/api/images?name=cpu", headers=headers).get_json()["data"]
    assert [item["name"] for item in latin["list"]] == ["Ubuntu CPU"]  # the Latin "CPU" only
