"""The history of every change: GET /api/images/{id}/history and GET /api/audit (issue 5).

Tests where storage cannot change the outcome (validation, roles, output shapes) are marked
``sqlite_only``; every test that reads or writes what the database decides runs on both backends.
"""

import datetime
import json

import pytest

from imagesvc.db import db
from imagesvc.models import Change
from imagesvc.schemas import VersionCreateSchema
from imagesvc.schemas.catalog_files import CatalogImageSchema

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
CHANGE_FIELDS = {"id", "action", "image", "version", "before", "after", "tokenName", "requestId", "time"}


def data_keys(schema):
    """The names a schema's fields have in JSON, in its order."""
    return [field.data_key or name for name, field in schema.fields.items()]


@pytest.fixture
def history(read_data):
    """GET an image's history as a reader; returns ``data``."""

    def get(image_id, query=""):
        return read_data(f"/api/images/{image_id}/history{query}")

    return get


@pytest.fixture
def audit(read_data):
    """GET /api/audit with ``query`` as an admin; returns ``data``."""

    def get(**query):
        return read_data("/api/audit", "admin", **query)

    return get


def refusals(client, url, headers, queries):
    """The status and the fields named in ``errors`` of ``url?query``, for each query."""
    answers = {}
    for query in queries:
        response = client.get(f"{url}?{query}", headers=headers)
        answers[query] = (response.status_code, list(response.get_json()["errors"]))
    return answers


def actions(page):
    return [change["action"] for change in page["list"]]


def latest(page):
    return page["list"][0]


# ----- one entry for every kind of change -----

def test_creating_an_image_records_a_create_with_the_image_after(history, make_image):
    image = make_image(imageId="torch", name="PyTorch", frameworks=["PyTorch"])

    [change] = history(image["id"])["list"]

    assert change["action"] == "create"
    assert change["before"] is None
    assert change["after"]["name"] == "PyTorch"
    assert change["after"]["imageId"] == "torch"
    assert change["after"]["frameworks"] == ["PyTorch"]
    assert change["image"] == {"id": image["id"], "imageId": "torch", "name": "PyTorch"}
    assert change["version"] is None


@pytest.mark.sqlite_only
def test_a_create_keeps_every_field_a_catalog_file_entry_or_a_version_body_has(history, make_image, make_version):
    image = make_image()
    make_version(image["id"], "v1.0")

    image_create, version_create = history(image["id"], "?pageSize=2")["list"][::-1]

    # History is built apart from the schemas (catalog/snapshots.py): a field added to them must be added there.
    assert list(image_create["after"]) == data_keys(CatalogImageSchema(exclude=("versions",)))
    assert list(version_create["after"]) == data_keys(VersionCreateSchema())


def test_a_change_has_its_fields_and_a_utc_time(history, make_image):
    image = make_image()
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0, tzinfo=None)

    change = latest(history(image["id"]))

    assert set(change) == CHANGE_FIELDS
    assert isinstance(change["id"], str)
    assert abs(datetime.datetime.strptime(change["time"], TIME_FORMAT) - now) < datetime.timedelta(seconds=30)


def test_an_update_records_only_the_fields_that_changed(client, editor, history, make_image):
    image = make_image(name="Same", description="old", chipType="GPU")

    response = client.put(f"/api/images/{image['id']}", json={"name": "Same", "description": "new", "chipType": "GPU"},
                          headers=editor)

    assert response.status_code == 200
    change = latest(history(image["id"]))
    assert change["action"] == "update"
    assert change["before"] == {"description": "old"}
    assert change["after"] == {"description": "new"}


@pytest.mark.sqlite_only
def test_an_update_of_a_list_records_the_whole_old_and_new_list(client, editor, history, make_image):
    image = make_image(applicableScopes=["开发机"])

    client.put(f"/api/images/{image['id']}", json={"applicableScopes": ["开发机", "分布式训练"]}, headers=editor)

    change = latest(history(image["id"]))
    assert change["before"] == {"applicableScopes": ["开发机"]}
    assert change["after"] == {"applicableScopes": ["开发机", "分布式训练"]}


@pytest.mark.sqlite_only
def test_a_status_change_records_the_old_and_new_status(client, editor, history, make_image):
    image = make_image(status="pending")

    client.put(f"/api/images/{image['id']}/status", json={"status": "online"}, headers=editor)

    change = latest(history(image["id"]))
    assert change["action"] == "status"
    assert (change["before"], change["after"]) == ({"status": "pending"}, {"status": "online"})


def test_adding_a_version_records_a_version_create(history, make_image, make_version):
    image = make_image()
    make_version(image["id"], "v1.0", cudaVersion="12.1", architectures=["amd64"])

    change = latest(history(image["id"]))

    assert change["action"] == "version_create"
    assert change["version"] == "v1.0"
    assert change["before"] is None
    assert change["after"]["version"] == "v1.0"
    assert change["after"]["cudaVersion"] == "12.1"
    assert change["after"]["architectures"] == ["amd64"]


@pytest.mark.sqlite_only
def test_deleting_a_version_records_a_version_delete(client, editor, history, make_image, make_version):
    image = make_image()
    make_version(image["id"], "v1.0", size="2GB")

    response = client.delete(f"/api/images/{image['id']}/versions/V1.0", headers=editor)

    assert response.status_code == 200
    change = latest(history(image["id"]))
    assert change["action"] == "version_delete"
    assert change["version"] == "v1.0"
    assert change["before"]["size"] == "2GB"
    assert change["after"] is None


def test_deleting_an_image_records_a_delete_with_the_image_before(client, editor, history, make_image):
    image = make_image(name="Doomed", imageId="doomed")

    client.delete(f"/api/images/{image['id']}", headers=editor)

    change = latest(history(image["id"]))
    assert change["action"] == "delete"
    assert change["before"]["name"] == "Doomed"
    assert change["after"] is None
    assert change["image"] == {"id": image["id"], "imageId": "doomed", "name": "Doomed"}


def test_history_of_a_deleted_image_still_answers_with_every_change(client, auth_headers, editor, make_image,
                                                                    make_version):
    image = make_image()
    make_version(image["id"], "v1")
    client.delete(f"/api/images/{image['id']}", headers=editor)

    response = client.get(f"/api/images/{image['id']}/history", headers=auth_headers("reader"))

    assert response.status_code == 200
    assert actions(response.get_json()["data"]) == ["delete", "version_create", "create"]


def test_history_of_a_deleted_image_never_mixes_with_a_later_image(client, editor, history, make_image):
    first = make_image(name="first")
    client.delete(f"/api/images/{first['id']}", headers=editor)
    make_image(name="second")

    page = history(first["id"])

    assert [(c["action"], c["image"]["name"]) for c in page["list"]] == [("delete", "first"), ("create", "first")]


def test_an_image_at_every_length_limit_has_its_changes_recorded(client, editor, history):
    body = {"name": "长文本镜像", "imageAddress": "ubuntu", "introduction": "中" * 20000, "description": "文" * 2000}

    created = client.post("/api/images", json=body, headers=editor)
    assert created.status_code == 201
    deleted = client.delete(f"/api/images/{created.get_json()['data']['id']}", headers=editor)
    assert deleted.status_code == 200

    page = history(created.get_json()["data"]["id"])
    assert [c["action"] for c in page["list"]] == ["delete", "create"]
    assert page["list"][1]["after"]["introduction"] == "中" * 20000


def test_an_import_records_an_import_change_for_created_and_updated_images(client, auth_headers, history, make_image):
    existing = make_image(imageId="existing", name="Existing", imageAddress="ubuntu", description="old")
    file = {"format": "imagesvc-catalog", "version": 1, "images": [
        {"name": "Existing", "imageId": "existing", "imageAddress": "ubuntu", "description": "new",
         "versions": [{"version": "v2"}]},
        {"name": "Fresh", "imageId": "fresh", "imageAddress": "ubuntu"},
    ]}

    response = client.post("/api/catalog/import", json=file, headers=auth_headers("admin"))

    assert response.status_code == 200
    updated = latest(history(existing["id"]))
    assert updated["action"] == "import"
    assert updated["before"] == {"description": "old"}
    assert updated["after"] == {"description": "new", "versions": ["v2"]}
    fresh = client.get("/api/images?name=Fresh", headers=auth_headers("reader")).get_json()["data"]["list"][0]
    [created] = history(fresh["id"])["list"]
    assert created["action"] == "import"
    assert created["before"] is None
    assert created["after"]["imageId"] == "fresh"


@pytest.mark.sqlite_only
def test_an_import_pruning_an_image_records_its_deletion(client, auth_headers, history, make_image):
    doomed = make_image(name="Doomed")
    file = {"format": "imagesvc-catalog", "version": 1, "images": []}

    client.post("/api/catalog/import?prune=true", json=file, headers=auth_headers("admin"))

    change = latest(history(doomed["id"]))
    assert change["action"] == "import"
    assert change["before"]["name"] == "Doomed"
    assert change["after"] is None


@pytest.mark.sqlite_only
def test_an_identical_import_records_nothing(client, auth_headers, audit):
    file = {"format": "imagesvc-catalog", "version": 1,
            "images": [{"name": "Once", "imageId": "once", "imageAddress": "ubuntu"}]}
    client.post("/api/catalog/import", json=file, headers=auth_headers("admin"))
    total = audit()["total"]

    client.post("/api/catalog/import", json=file, headers=auth_headers("admin"))

    assert audit()["total"] == total


def test_history_lists_the_newest_change_first(client, editor, history, make_image, make_version):
    image = make_image()
    client.put(f"/api/images/{image['id']}", json={"description": "x"}, headers=editor)
    client.put(f"/api/images/{image['id']}/status", json={"status": "online"}, headers=editor)
    make_version(image["id"], "v1")
    client.delete(f"/api/images/{image['id']}/versions/v1", headers=editor)

    assert actions(history(image["id"])) == ["version_delete", "version_create", "status", "update", "create"]


@pytest.mark.sqlite_only
def test_history_holds_only_the_changes_of_its_image(history, make_image):
    first = make_image()
    make_image()

    assert [change["image"]["id"] for change in history(first["id"])["list"]] == [first["id"]]


# ----- a refused write records nothing -----

def test_a_refused_write_records_no_change(client, editor, audit, make_image):
    image = make_image(name="Taken")
    total = audit()["total"]

    refusals = [
        client.post("/api/images", json={"name": "taken", "imageAddress": "ubuntu"}, headers=editor),
        client.put(f"/api/images/{image['id']}", json={"description": "x"}, headers={**editor, "If-Match": '"0-0"'}),
        client.put(f"/api/images/{image['id']}/status", json={"status": "gone"}, headers=editor),
        client.delete(f"/api/images/{image['id']}/versions/nope", headers=editor),
    ]

    assert [response.status_code for response in refusals] == [409, 412, 422, 404]
    assert audit()["total"] == total


@pytest.mark.sqlite_only
def test_a_version_refused_as_duplicate_records_no_change(client, editor, history, make_image, make_version):
    image = make_image()
    make_version(image["id"], "v1")

    response = client.post(f"/api/images/{image['id']}/versions", json={"version": "V1"}, headers=editor)

    assert response.status_code == 409
    assert actions(history(image["id"])) == ["version_create", "create"]


# ----- who and which request -----

@pytest.mark.sqlite_only
def test_a_change_records_the_name_of_the_token_that_made_it(client, editor, history, make_image):
    image = make_image()

    client.put(f"/api/images/{image['id']}/status", json={"status": "online"}, headers=editor)

    assert latest(history(image["id"]))["tokenName"] == "test-editor"


def test_a_change_records_the_request_id_the_client_sent(client, editor, history, make_image):
    image = make_image()

    response = client.put(f"/api/images/{image['id']}", json={"description": "x"},
                          headers={**editor, "X-Request-ID": "console-abc.123_X"})

    assert response.headers["X-Request-ID"] == "console-abc.123_X"
    assert latest(history(image["id"]))["requestId"] == "console-abc.123_X"


@pytest.mark.sqlite_only
def test_an_insane_request_id_is_replaced_by_the_one_the_response_carries(client, editor, history, make_image):
    image = make_image()

    for sent in ("has spaces", "x" * 129, "semi;colon", ""):
        response = client.put(f"/api/images/{image['id']}", json={"description": sent},
                              headers={**editor, "X-Request-ID": sent})

        recorded = latest(history(image["id"]))["requestId"]
        assert recorded not in (sent, None, "")
        assert recorded == response.headers["X-Request-ID"]


@pytest.mark.sqlite_only
def test_a_change_without_a_request_id_records_the_generated_one(client, editor, history, make_image):
    image = make_image()

    response = client.delete(f"/api/images/{image['id']}", headers=editor)

    assert latest(history(image["id"]))["requestId"] == response.headers["X-Request-ID"]


@pytest.mark.sqlite_only
def test_an_import_over_http_records_the_admin_token_and_request_id(client, auth_headers, audit):
    file = {"format": "imagesvc-catalog", "version": 1,
            "images": [{"name": "Fresh", "imageId": "fresh", "imageAddress": "ubuntu"}]}

    client.post("/api/catalog/import", json=file, headers={**auth_headers("admin"), "X-Request-ID": "seed-42"})

    change = latest(audit())
    assert (change["action"], change["tokenName"], change["requestId"]) == ("import", "test-admin", "seed-42")


@pytest.mark.sqlite_only
def test_an_import_from_the_cli_records_a_cli_actor(runner, tmp_path, audit):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"format": "imagesvc-catalog", "version": 1,
                                "images": [{"name": "Fresh", "imageId": "fresh", "imageAddress": "ubuntu"}]}))

    result = runner.invoke(args=["catalog", "import", str(path)])

    assert result.exit_code == 0, result.output
    change = latest(audit())
    assert change["action"] == "import"
    assert change["tokenName"].startswith("cli:")
    assert change["requestId"]


# ----- paging -----

def test_history_pages_with_page_no_and_page_size(client, editor, history, make_image):
    image = make_image()
    for n in range(4):
        client.put(f"/api/images/{image['id']}", json={"description": f"d{n}"}, headers=editor)

    page = history(image["id"], "?pageNo=2&pageSize=2")

    assert (page["total"], page["pageNo"], page["pageSize"]) == (5, 2, 2)
    assert [change["after"] for change in page["list"]] == [{"description": "d1"}, {"description": "d0"}]


@pytest.mark.sqlite_only
def test_history_defaults_to_the_first_page_of_twenty(history, make_image):
    image = make_image()

    page = history(image["id"])

    assert (page["total"], page["pageNo"], page["pageSize"], len(page["list"])) == (1, 1, 20, 1)


@pytest.mark.sqlite_only
def test_history_page_past_the_end_is_empty_with_the_true_total(history, make_image):
    image = make_image()

    page = history(image["id"], "?pageNo=5")

    assert (page["list"], page["total"]) == ([], 1)


@pytest.mark.sqlite_only
def test_history_with_an_out_of_range_page_is_422(client, auth_headers, make_image):
    image = make_image()
    cases = {"pageNo=0": "pageNo", "pageSize=101": "pageSize", "pageSize=0": "pageSize", "pageNo=x": "pageNo"}

    answers = refusals(client, f"/api/images/{image['id']}/history", auth_headers("reader"), cases)

    assert answers == {query: (422, [field]) for query, field in cases.items()}


# ----- an image that never existed -----

@pytest.mark.sqlite_only
def test_history_of_an_image_that_never_existed_is_404(client, auth_headers):
    answers = {image_id: client.get(f"/api/images/{image_id}/history", headers=auth_headers("reader"))
               for image_id in ("999999", "not-a-number")}

    assert {image_id: (r.status_code, r.get_json()["code"]) for image_id, r in answers.items()} == {
        "999999": (404, "NOT_FOUND"), "not-a-number": (404, "NOT_FOUND")}


# ----- the audit -----

def test_audit_lists_every_change_of_the_catalog_newest_first(client, editor, audit, make_image):
    first = make_image(name="first")
    make_image(name="second")
    client.delete(f"/api/images/{first['id']}", headers=editor)

    page = audit()

    assert [(c["action"], c["image"]["name"]) for c in page["list"]] == [
        ("delete", "first"), ("create", "second"), ("create", "first")]
    assert page["total"] == 3


def test_audit_filters_by_image_id_ignoring_case_even_after_deletion(client, editor, audit, make_image):
    target = make_image(imageId="Target-Image")
    make_image(imageId="other")
    client.delete(f"/api/images/{target['id']}", headers=editor)

    page = audit(imageId="target-image")

    assert actions(page) == ["delete", "create"]
    assert {c["image"]["imageId"] for c in page["list"]} == {"Target-Image"}


@pytest.mark.sqlite_only
def test_audit_filters_by_token_name(client, auth_headers, audit, make_image):
    image = make_image()  # by test-editor
    client.put(f"/api/images/{image['id']}/status", json={"status": "online"}, headers=auth_headers("admin"))

    page = audit(tokenName="test-admin")

    assert actions(page) == ["status"]
    assert audit(tokenName="nobody")["total"] == 0


def test_audit_filters_by_since_inclusive(app, audit, make_image):
    old = make_image(name="old")
    make_image(name="new")
    with app.app_context():
        Change.update(time=datetime.datetime(2024, 1, 1, 12, 0, 0)).where(Change.image_pk == int(old["id"])).execute()
        db.close()

    assert [c["image"]["name"] for c in audit(since="2024-01-01T12:00:01Z")["list"]] == ["new"]
    assert [c["image"]["name"] for c in audit(since="2024-01-01T12:00:00Z")["list"]] == ["new", "old"]
    assert audit(since="2024-01-01T20:00:00+08:00")["total"] == 2
    assert audit(since="2024-01-01T20:00:01+08:00")["total"] == 1


@pytest.mark.sqlite_only
def test_combined_audit_filters_keep_only_changes_matching_all_of_them(client, auth_headers, audit, make_image):
    image = make_image(imageId="both")
    make_image(imageId="other")
    client.put(f"/api/images/{image['id']}/status", json={"status": "online"}, headers=auth_headers("admin"))

    page = audit(imageId="both", tokenName="test-editor", since="2000-01-01T00:00:00Z")

    assert actions(page) == ["create"]


@pytest.mark.sqlite_only
def test_audit_with_empty_filters_lists_everything(audit, make_image):
    make_image()
    make_image()

    assert audit(imageId="", tokenName="", since="")["total"] == 2


@pytest.mark.sqlite_only
def test_audit_pages_with_page_no_and_page_size(audit, make_image):
    for n in range(5):
        make_image(name=f"image {n}")

    page = audit(pageNo=2, pageSize=2)

    assert (page["total"], page["pageNo"], page["pageSize"]) == (5, 2, 2)
    assert [c["image"]["name"] for c in page["list"]] == ["image 2", "image 1"]


@pytest.mark.sqlite_only
def test_audit_with_an_invalid_parameter_is_422(client, auth_headers):
    cases = {"since=yesterday": "since", "since=2024-13-01T00:00:00Z": "since", "pageSize=101": "pageSize",
             "pageNo=0": "pageNo"}

    answers = refusals(client, "/api/audit", auth_headers("admin"), cases)

    assert answers == {query: (422, [field]) for query, field in cases.items()}


@pytest.mark.sqlite_only
def test_history_and_audit_are_in_the_openapi_document(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]

    audit_parameters = {p["name"] for p in paths["/api/audit"]["get"]["parameters"]}
    assert {"imageId", "tokenName", "since", "pageNo", "pageSize"} <= audit_parameters
    assert "get" in paths["/api/images/{id}/history"]
