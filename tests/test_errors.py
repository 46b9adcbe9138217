"""One envelope for every error (contract section 1), X-Request-ID, and the success envelope."""

import io
import json
import re

import peewee
import pytest

from bench.server import json_lines
from imagesvc import catalog, create_app

from .conftest import assert_error

SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
CAMEL_CASE = re.compile(r"[a-z]+(?:[A-Z][a-z0-9]*)*")
IMAGE_BODY = {"name": "an image", "imageAddress": "registry.example.com/team/an-image:1"}
JSON_BODY = json.dumps(IMAGE_BODY).encode()
# Content types of a body: the JSON ones (any +json, UTF-8 only) are read, the others refused.
JSON_TYPES = ("application/json", "application/json; charset=utf-8", "application/json; charset=UTF-8",
              "application/json;charset=utf-8", "application/merge-patch+json", "application/vnd.imagesvc+json")
NOT_JSON = ("text/plain", "application/json; charset=latin-1", "application/json; charset=utf-16",
            "application/x-www-form-urlencoded", "application/xml")


def app_on(database_url, **config):
    """A production-like app (exceptions are not propagated) on ``database_url``."""
    return create_app({"TESTING": False, "DATABASE_URL": database_url, **config})


@pytest.fixture
def production_app(app, db_url):
    """An app with TESTING off, on the test database the ``app`` fixture prepared."""
    production = app_on(db_url)
    yield production
    production.extensions["imagesvc.db"].close_all()


# ----- 400 -----

NOT_A_JSON_OBJECT = {
    "invalid JSON": [b'{"name": ', b"{'name': 'single quotes'}", b'{"name": "x",}', b"",
                     b'{"name": NaN, "imageAddress": "ubuntu"}', b'{"name": Infinity, "imageAddress": "ubuntu"}'],
    "JSON that is not an object": [b"[]", b'[{"name": "x"}]', b'"a string"', b"1", b"true", b"null"],
    "invalid UTF-8": [b'{"name": "\xff\xfe", "imageAddress": "ubuntu"}',
                      b'{"name": "\xe4\xb8", "imageAddress": "ubuntu"}',
                      '{"name": "中文", "imageAddress": "ubuntu"}'.encode("gbk")],
    "duplicate keys": [b'{"name": "a", "name": "b", "imageAddress": "ubuntu"}',
                       b'{"name": "a", "imageAddress": "ubuntu", "frameworks": [{"k": 1, "k": 2}]}'],
}


@pytest.mark.sqlite_only
@pytest.mark.parametrize("data", [pytest.param(data, id=f"{kind} {n}")
                                  for kind, bodies in NOT_A_JSON_OBJECT.items() for n, data in enumerate(bodies)])
def test_a_body_that_is_not_a_json_object_in_utf8_is_400(client, editor, data):
    response = client.post("/api/images", data=data, content_type="application/json", headers=editor)
    assert_error(response, 400, "BAD_REQUEST")


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("method", "path"), [
    ("put", "/api/images/{id}"),
    ("put", "/api/images/{id}/status"),
    ("post", "/api/images/{id}/versions"),
])
def test_every_write_with_a_body_refuses_invalid_json_with_400(client, editor, image, method, path):
    response = getattr(client, method)(path.format(id=image["id"]), data=b"[1, 2", content_type="application/json",
                                       headers=editor)
    assert_error(response, 400, "BAD_REQUEST")


# ----- 401, 403 -----

@pytest.mark.sqlite_only
def test_role_too_low_is_403_in_the_envelope(client, reader):
    assert_error(client.post("/api/images", json=IMAGE_BODY, headers=reader), 403, "FORBIDDEN")


# ----- 404 -----

@pytest.mark.sqlite_only
@pytest.mark.parametrize("path", ["/api/nope", "/nope", "/api/images/1/labels", "/api/images/", "/api"])
def test_unknown_route_is_404(client, reader, path):
    assert_error(client.get(path, headers=reader), 404, "NOT_FOUND")


@pytest.mark.parametrize(("method", "image_id"), [
    ("get", "999999"), ("get", "abc"), ("get", "-1"), ("get", "99999999999999999999999"), ("get", "١٢"),
    ("delete", "999999"), ("delete", "abc"),
])
def test_unknown_image_id_is_404(client, editor, method, image_id):
    body = assert_error(getattr(client, method)(f"/api/images/{image_id}", headers=editor), 404, "NOT_FOUND")
    assert body["message"] == "镜像不存在"


def test_unknown_version_is_404(client, reader, image):
    response = client.get(f"/api/images/{image['id']}/versions/9.9", headers=reader)
    assert assert_error(response, 404, "NOT_FOUND")["message"] == "版本不存在"


# ----- 405 -----

@pytest.mark.sqlite_only
@pytest.mark.parametrize(("method", "path", "allowed", "refused"), [
    ("delete", "/api/images", {"GET", "POST"}, "DELETE"),
    ("put", "/api/images", {"GET", "POST"}, "PUT"),
    ("post", "/api/images/{id}", {"GET", "PUT", "DELETE"}, "POST"),
    ("get", "/api/images/{id}/status", {"PUT"}, "GET"),
    ("delete", "/api/images/{id}/versions", {"GET", "POST"}, "DELETE"),
    ("put", "/api/images/{id}/versions/1.0", {"GET", "DELETE"}, "PUT"),
    ("post", "/healthz", {"GET"}, "POST"),
])
def test_wrong_method_is_405_with_an_allow_header(client, editor, image, method, path, allowed, refused):
    response = getattr(client, method)(path.format(id=image["id"]), headers=editor)
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    methods = {item.strip() for item in response.headers["Allow"].split(",")}
    assert allowed <= methods
    assert refused not in methods


# ----- 409 -----

def test_duplicate_name_is_409_naming_the_field(client, editor, make_image):
    make_image(name="Same Name")
    response = client.post("/api/images", json={**IMAGE_BODY, "name": "same name"}, headers=editor)
    assert "name" in assert_error(response, 409, "CONFLICT", errors=True)["errors"]


# ----- 413 -----

@pytest.mark.sqlite_only
def test_body_over_one_mib_by_default_is_413(client, editor):
    data = json.dumps({**IMAGE_BODY, "description": "x" * (1024 * 1024)}).encode()
    response = client.post("/api/images", data=data, content_type="application/json", headers=editor)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


@pytest.fixture
def small_app(app, db_url):
    """An app whose body limit is 1000 bytes."""
    small = create_app({"TESTING": True, "DATABASE_URL": db_url, "MAX_CONTENT_LENGTH": 1000})
    yield small
    small.extensions["imagesvc.db"].close_all()


def body_of(size):
    """A valid image body of exactly ``size`` bytes."""
    padding = size - len(json.dumps({**IMAGE_BODY, "description": ""}))
    return json.dumps({**IMAGE_BODY, "description": "x" * padding}).encode()


@pytest.mark.sqlite_only
def test_body_over_max_content_length_is_413(small_app, editor):
    response = small_app.test_client().post("/api/images", data=body_of(1001), content_type="application/json",
                                            headers=editor)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.sqlite_only
def test_chunked_body_over_max_content_length_is_413(small_app, editor):
    # No Content-Length: the server reads the body as it comes, and werkzeug stops at the limit.
    response = small_app.test_client().post(
        "/api/images", input_stream=io.BytesIO(body_of(1001)), content_type="application/json",
        headers={**editor, "Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.sqlite_only
def test_body_of_exactly_max_content_length_is_accepted(small_app, editor):
    response = small_app.test_client().post("/api/images", data=body_of(1000), content_type="application/json",
                                            headers=editor)
    assert response.status_code == 201


# ----- 415 -----

@pytest.mark.sqlite_only
@pytest.mark.parametrize("content_type", NOT_JSON)
def test_body_with_a_content_type_other_than_json_is_415(client, editor, content_type):
    response = client.post("/api/images", data=JSON_BODY, content_type=content_type, headers=editor)
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.sqlite_only
def test_body_without_a_content_type_is_415(client, editor):
    response = client.post("/api/images", data=JSON_BODY, headers=editor)
    assert "Content-Type" not in response.request.headers
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.sqlite_only
def test_form_body_is_415(client, editor):
    response = client.post("/api/images", data=IMAGE_BODY, headers=editor)
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("method", "path", "body"), [
    ("put", "/api/images/{id}", {"description": "changed"}),
    ("put", "/api/images/{id}/status", {"status": "online"}),
    ("post", "/api/images/{id}/versions", {"version": "2.0"}),
])
def test_every_write_with_a_body_refuses_text_plain_with_415(client, editor, image, method, path, body):
    response = getattr(client, method)(path.format(id=image["id"]), data=json.dumps(body), content_type="text/plain",
                                       headers=editor)
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.sqlite_only
@pytest.mark.parametrize("content_type", JSON_TYPES)
def test_json_content_types_are_accepted(client, editor, content_type):
    response = client.post("/api/images", data=JSON_BODY, content_type=content_type, headers=editor)
    assert response.status_code == 201


@pytest.mark.sqlite_only
def test_merge_patch_json_is_accepted_on_update(client, editor, image):
    response = client.put(f"/api/images/{image['id']}", data=b'{"description": "patched"}',
                          content_type="application/merge-patch+json", headers=editor)
    assert response.status_code == 200
    assert response.get_json()["data"]["description"] == "patched"


# ----- 422 -----

@pytest.mark.sqlite_only
def test_validation_errors_name_image_fields_in_camel_case(client, editor):
    body = {"name": "ok", "imageAddress": "Bad:Tag", "chipType": "TPU", "presetCuda": "yes",
            "paperUrl": "ftp://example.com/x", "applicableScopes": "not a list", "frameworks": [""]}
    response = client.post("/api/images", json=body, headers=editor)
    errors = assert_error(response, 422, "VALIDATION_ERROR", errors=True)["errors"]
    assert set(errors) == {"imageAddress", "chipType", "presetCuda", "paperUrl", "applicableScopes", "frameworks"}


@pytest.mark.sqlite_only
def test_validation_errors_name_version_fields_in_camel_case(client, editor, image):
    body = {"version": "1.0", "pythonVersion": "x", "cudaVersion": "y", "createTime": "z", "size": "big",
            "imageAddress": "Bad:Tag"}
    response = client.post(f"/api/images/{image['id']}/versions", json=body, headers=editor)
    errors = assert_error(response, 422, "VALIDATION_ERROR", errors=True)["errors"]
    assert set(errors) == {"pythonVersion", "cudaVersion", "createTime", "size", "imageAddress"}


@pytest.mark.sqlite_only
def test_validation_errors_name_query_parameters_in_camel_case(client, reader):
    response = client.get("/api/images?pageNo=0&pageSize=101&chipType=TPU&sortBy=size&order=up", headers=reader)
    errors = assert_error(response, 422, "VALIDATION_ERROR", errors=True)["errors"]
    assert set(errors) == {"pageNo", "pageSize", "chipType", "sortBy", "order"}


@pytest.mark.sqlite_only
def test_validation_error_is_a_list_of_messages_per_field(client, editor):
    response = client.post("/api/images", json={"name": "", "imageAddress": "ubuntu"}, headers=editor)
    body = assert_error(response, 422, "VALIDATION_ERROR", errors=True)
    assert body["message"] == "参数校验失败"
    assert all(CAMEL_CASE.fullmatch(field) for field in body["errors"])
    assert all(isinstance(messages, list) and all(isinstance(m, str) for m in messages)
               for messages in body["errors"].values())


# ----- 500 -----

def test_unexpected_error_is_500_without_a_traceback(production_app):
    @production_app.route("/api/boom")
    def boom():
        raise RuntimeError("secret detail: password=hunter2")

    response = production_app.test_client().get("/api/boom", headers={"X-Request-ID": "boom-1"})
    assert_error(response, 500, "INTERNAL_ERROR")
    assert response.headers["X-Request-ID"] == "boom-1"
    for leak in ("Traceback", "RuntimeError", "hunter2"):
        assert leak not in response.get_data(as_text=True)


def test_unexpected_error_is_logged_with_its_traceback_under_the_request_id(production_app, capsys):
    @production_app.route("/api/boom")
    def boom():
        raise RuntimeError("secret detail")

    production_app.test_client().get("/api/boom", headers={"X-Request-ID": "boom-2"})
    traces = [line.get("stack_trace", "") for line in json_lines(capsys.readouterr().err)
              if line.get("request_id") == "boom-2"]
    assert any("Traceback" in trace and "RuntimeError: secret detail" in trace for trace in traces)


def test_bug_in_the_catalog_is_500_without_a_traceback(production_app, reader, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("SELECT * FROM image WHERE secret")

    monkeypatch.setattr(catalog, "list_images", broken)
    response = production_app.test_client().get("/api/images", headers=reader)
    assert_error(response, 500, "INTERNAL_ERROR")
    for leak in ("Traceback", "RuntimeError", "SELECT"):
        assert leak not in response.get_data(as_text=True)


# ----- 503 -----

@pytest.fixture
def database_gone(app, monkeypatch):
    """From now on every query of ``app``'s database fails as if the server went away."""

    def gone(*args, **kwargs):
        raise peewee.OperationalError("(2006, 'MySQL server has gone away')")

    def arm():
        monkeypatch.setattr(app.extensions["imagesvc.db"], "execute_sql", gone)

    return arm


@pytest.mark.parametrize(("method", "path", "body"), [
    ("get", "/api/images", None),
    ("post", "/api/images", IMAGE_BODY),
    ("get", "/api/images/1/versions", None),
    ("post", "/api/images/1/versions", {"version": "1.0"}),
])
def test_database_going_away_is_503(client, editor, database_gone, method, path, body):
    database_gone()
    response = getattr(client, method)(path, json=body, headers={"X-Request-ID": "db-down", **editor})
    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert "gone away" not in response.get_data(as_text=True)
    assert response.headers["X-Request-ID"] == "db-down"


def test_readyz_is_503_while_healthz_stays_200_when_the_database_goes_away(client, database_gone):
    database_gone()
    assert_error(client.get("/readyz"), 503, "SERVICE_UNAVAILABLE")
    assert client.get("/healthz").status_code == 200


@pytest.fixture(params=["mysql", "sqlite"])
def unreachable_app(request, tmp_path):
    """An app whose database cannot be reached at all: nothing listens, or the file cannot be created."""
    url = ("mysql://root@127.0.0.1:1/imagesvc" if request.param == "mysql"
           else f"sqlite:///{tmp_path / 'missing-dir' / 'imagesvc.db'}")
    unreachable = app_on(url)
    yield unreachable
    unreachable.extensions["imagesvc.db"].close_all()


def test_unreachable_database_is_503(unreachable_app):
    response = unreachable_app.test_client().get("/api/images", headers={"Authorization": "Bearer some-token"})
    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert "Traceback" not in response.get_data(as_text=True)


def test_readyz_is_503_while_healthz_stays_200_when_the_database_is_unreachable(unreachable_app):
    client = unreachable_app.test_client()
    assert_error(client.get("/readyz"), 503, "SERVICE_UNAVAILABLE")
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_is_200_when_the_database_answers(client):
    assert client.get("/readyz").status_code == 200


# ----- X-Request-ID -----

@pytest.mark.parametrize("request_id", ["abc", "A.b_c-1", "0", "x" * 128, "9f1c2e7a-4b5d-4e6f-8a9b-0c1d2e3f4a5b"])
def test_sane_request_id_is_echoed(bare_client, request_id):
    assert bare_client.get("/healthz", headers={"X-Request-ID": request_id}).headers["X-Request-ID"] == request_id


@pytest.mark.parametrize("request_id", ["x" * 129, "has space", " padded", "é", "请求", "a/b", "a:b", "id;drop", "a*",
                                        ""])
def test_insane_request_id_is_replaced_with_a_fresh_one(bare_client, request_id):
    sent = bare_client.get("/healthz", headers={"X-Request-ID": request_id}).headers["X-Request-ID"]
    assert sent != request_id
    assert SANE_ID.fullmatch(sent)


def test_fresh_request_ids_differ_per_request(bare_client):
    ids = {bare_client.get("/healthz").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3
    assert all(SANE_ID.fullmatch(request_id) for request_id in ids)


EVERY_KIND_OF_RESPONSE = [
    ("get", "/healthz", {}, None, 200),
    ("get", "/api/images", {}, "reader", 200),
    ("post", "/api/images", {"json": IMAGE_BODY}, "editor", 201),
    ("post", "/api/images", {"data": b"[", "content_type": "application/json"}, "editor", 400),
    ("get", "/api/images", {}, None, 401),
    ("post", "/api/images", {"json": IMAGE_BODY}, "reader", 403),
    ("get", "/api/nope", {}, None, 404),
    ("get", "/api/images/999999", {}, "reader", 404),
    ("delete", "/api/images", {}, None, 405),
    ("post", "/api/images", {"data": b"x" * (1024 * 1024 + 1), "content_type": "application/json"}, "editor", 413),
    ("post", "/api/images", {"data": JSON_BODY, "content_type": "text/plain"}, "editor", 415),
    ("get", "/api/images?pageSize=0", {}, "reader", 422),
]


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("method", "path", "kwargs", "role", "status"), EVERY_KIND_OF_RESPONSE,
                         ids=[f"{status}-{method}-{path}" for method, path, _, _, status in EVERY_KIND_OF_RESPONSE])
def test_request_id_is_on_every_response_including_errors(client, auth_headers, method, path, kwargs, role, status):
    headers = {"X-Request-ID": "trace-42", **(auth_headers(role) if role else {})}
    given = getattr(client, method)(path, headers=headers, **kwargs)
    fresh = getattr(client, method)(path, headers=auth_headers(role) if role else {}, **kwargs)
    assert given.status_code == status
    assert given.headers["X-Request-ID"] == "trace-42"
    assert SANE_ID.fullmatch(fresh.headers["X-Request-ID"])


def test_request_id_is_on_every_log_line_of_the_request(app, client, reader, capsys):
    @app.before_request
    def say_hello():
        app.logger.warning("inside the request")

    client.get("/api/images", headers={"X-Request-ID": "log-7", **reader})
    lines = [line for line in json_lines(capsys.readouterr().err) if line.get("request_id") or line.get("method")]
    assert any(line["message"] == "inside the request" for line in lines)
    assert len(lines) >= 2  # at least the line above and the access line
    assert all(line.get("request_id") == "log-7" for line in lines)


# ----- the success envelope -----

@pytest.mark.parametrize(("method", "path", "body", "status", "message"), [
    ("post", "/api/images", IMAGE_BODY, 201, "创建镜像成功"),
    ("put", "/api/images/{id}", {"description": "changed"}, 200, "更新镜像成功"),
    ("put", "/api/images/{id}/status", {"status": "online"}, 200, "状态更新成功"),
    ("post", "/api/images/{id}/versions", {"version": "2.0"}, 201, "创建版本成功"),
])
def test_write_answers_success_with_its_message_and_data(client, editor, image, method, path, body, status, message):
    response = getattr(client, method)(path.format(id=image["id"]), json=body, headers=editor)
    answer = response.get_json()
    assert response.status_code == status
    assert (answer["success"], answer["message"]) == (True, message)
    assert isinstance(answer["data"], dict)


@pytest.mark.parametrize(("path", "message"), [
    ("/api/images/{id}", "删除镜像成功"),
    ("/api/images/{id}/versions/1.0", "删除版本成功"),
])
def test_delete_answers_success_with_its_message_and_null_data(client, editor, image, path, message):
    response = client.delete(path.format(id=image["id"]), headers=editor)
    assert response.status_code == 200
    assert response.get_json() == {"success": True, "data": None, "message": message}


@pytest.mark.parametrize("path", ["/api/images", "/api/images/{id}", "/api/images/{id}/versions",
                                  "/api/images/{id}/versions/1.0"])
def test_read_answers_success_with_data(client, reader, image, path):
    response = client.get(path.format(id=image["id"]), headers=reader)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json()["success"] is True
    assert isinstance(response.get_json()["data"], dict)


def test_non_ascii_text_is_returned_as_is(client, editor):
    response = client.post("/api/images", json={**IMAGE_BODY, "name": "中文镜像", "description": "分布式训练"},
                           headers=editor)
    assert "中文镜像".encode() in response.data
    assert b"\\u" not in response.data
    assert "创建镜像成功".encode() in response.data
