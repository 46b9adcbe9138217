"""The spawner feed, GET /api/images/feed: online images of a scope in three shapes, with an ETag (issue 5).

Tests where storage cannot change the outcome (validation, roles, output shapes) are marked
``sqlite_only``; every test that reads or writes what the database decides runs on both backends.
"""

import pytest

DEV = "开发机"
TRAINING = "分布式训练"


@pytest.fixture
def feed(client, auth_headers):
    """GET the feed with ``query`` (a dict) as a reader; returns the response."""

    def get(headers=None, **query):
        return client.get("/api/images/feed", query_string=query, headers={**auth_headers("reader"), **(headers or {})})

    return get


@pytest.fixture
def online(make_image):
    """An online image (in 开发机 unless told otherwise)."""

    def make(**overrides):
        return make_image(**{"status": "online", "applicableScopes": [DEV], **overrides})

    return make


def names(response):
    return [image["name"] for image in response.get_json()["data"]["list"]]


# ----- format=json -----

@pytest.mark.sqlite_only
def test_json_feed_is_the_envelope_with_list_and_total(feed, online):
    online(name="PyTorch", description="训练镜像")

    response = feed()

    body = response.get_json()
    assert response.status_code == 200
    assert body["success"] is True
    assert set(body["data"]) == {"list", "total"}
    assert body["data"]["total"] == 1
    assert body["data"]["list"][0]["name"] == "PyTorch"


@pytest.mark.sqlite_only
def test_json_feed_is_the_default_format(feed, online):
    online(name="PyTorch")

    assert feed().get_json() == feed(format="json").get_json()


def test_json_feed_items_carry_their_versions_newest_first(feed, online, make_version):
    image = online(name="PyTorch")
    make_version(image["id"], "old", createTime="2023-01-01T00:00:00Z")
    make_version(image["id"], "new", createTime="2024-01-01T00:00:00Z", architectures=["arm64"])

    [item] = feed().get_json()["data"]["list"]

    assert [v["version"] for v in item["versions"]] == ["new", "old"]
    assert item["versions"][0]["architectures"] == ["arm64"]
    assert item["imageId"] == image["imageId"]
    assert "introduction" not in item


@pytest.mark.sqlite_only
def test_json_feed_item_without_versions_has_an_empty_list(feed, online):
    online(name="Bare")

    [item] = feed().get_json()["data"]["list"]

    assert item["versions"] == []


def test_feed_lists_only_online_images(feed, online, make_image):
    online(name="Online")
    make_image(name="Pending", status="pending", applicableScopes=[DEV])
    make_image(name="Offline", status="offline", applicableScopes=[DEV])

    assert names(feed()) == ["Online"]


@pytest.mark.sqlite_only
def test_an_image_taken_offline_leaves_the_feed(client, auth_headers, feed, online):
    image = online(name="Soon offline")
    client.put(f"/api/images/{image['id']}/status", json={"status": "offline"}, headers=auth_headers("editor"))

    assert names(feed()) == []


def test_feed_filters_by_applicable_scope(feed, online):
    online(name="Dev only", applicableScopes=[DEV])
    online(name="Training only", applicableScopes=[TRAINING])
    online(name="Both", applicableScopes=[TRAINING, DEV])

    assert sorted(names(feed(applicableScope=DEV))) == ["Both", "Dev only"]
    assert sorted(names(feed(applicableScope=TRAINING))) == ["Both", "Training only"]


@pytest.mark.sqlite_only
def test_feed_scope_matches_a_whole_scope_ignoring_case(feed, online):
    online(name="Notebook", applicableScopes=["Notebook"])

    assert names(feed(applicableScope="notebook")) == ["Notebook"]
    assert names(feed(applicableScope="Note")) == []


@pytest.mark.sqlite_only
def test_feed_with_an_empty_scope_lists_every_scope(feed, online):
    online(name="Dev", applicableScopes=[DEV])
    online(name="Training", applicableScopes=[TRAINING])

    assert sorted(names(feed(applicableScope=""))) == ["Dev", "Training"]


def test_feed_lists_the_newest_created_image_first(feed, online):
    for name in ("first", "second", "third"):
        online(name=name)

    assert names(feed()) == ["third", "second", "first"]


@pytest.mark.sqlite_only
def test_feed_order_ignores_later_updates(client, auth_headers, feed, online):
    first = online(name="first")
    online(name="second")
    client.put(f"/api/images/{first['id']}", json={"description": "touched"}, headers=auth_headers("editor"))

    assert names(feed()) == ["second", "first"]


@pytest.mark.sqlite_only
def test_feed_limit_keeps_the_newest_images(feed, online):
    for name in ("first", "second", "third"):
        online(name=name)

    assert names(feed(limit=2)) == ["third", "second"]


@pytest.mark.sqlite_only
def test_feed_with_an_invalid_parameter_is_422(feed):
    cases = [("format", "xml"), ("format", "JSON"), ("limit", 0), ("limit", 1001), ("limit", "many")]
    answers = {}

    for field, value in cases:
        response = feed(**{field: value})
        answers[field, value] = (response.status_code, response.get_json()["code"], list(response.get_json()["errors"]))

    assert answers == {(field, value): (422, "VALIDATION_ERROR", [field]) for field, value in cases}


# ----- format=kubeflow -----

@pytest.mark.sqlite_only
def test_kubeflow_feed_is_spawner_form_defaults_without_envelope(feed, online, make_version):
    older = online(name="older", imageAddress="registry.example.com/ml/older:1")
    online(name="newer", imageAddress="registry.example.com/ml/newer:1")
    make_version(older["id"], "v2", imageAddress="registry.example.com/ml/older:2")

    response = feed(format="kubeflow")

    assert response.status_code == 200
    assert response.get_json() == {"spawnerFormDefaults": {"image": {
        "value": "registry.example.com/ml/newer:1",
        "options": ["registry.example.com/ml/newer:1", "registry.example.com/ml/older:1",
                    "registry.example.com/ml/older:2"],
        "readOnly": False,
    }}}


@pytest.mark.sqlite_only
def test_kubeflow_value_is_the_default_image_chosen_by_imageid_not_the_newest(feed, online):
    online(imageId="Chosen", imageAddress="registry.example.com/ml/chosen:1")
    online(imageAddress="registry.example.com/ml/newer:1")

    image = feed(format="kubeflow", default="chosen").get_json()["spawnerFormDefaults"]["image"]

    assert image["value"] == "registry.example.com/ml/chosen:1"


@pytest.mark.sqlite_only
def test_kubeflow_feed_lists_each_image_address_once(feed, online, make_version):
    image = online(imageAddress="registry.example.com/ml/same:1")
    make_version(image["id"], "v1")  # defaults to the image's address

    options = feed(format="kubeflow").get_json()["spawnerFormDefaults"]["image"]["options"]

    assert options == ["registry.example.com/ml/same:1"]


@pytest.mark.sqlite_only
def test_kubeflow_feed_follows_the_scope_filter(feed, online):
    online(imageAddress="registry.example.com/ml/dev:1", applicableScopes=[DEV])
    online(imageAddress="registry.example.com/ml/train:1", applicableScopes=[TRAINING])

    image = feed(format="kubeflow", applicableScope=TRAINING).get_json()["spawnerFormDefaults"]["image"]

    assert image["options"] == ["registry.example.com/ml/train:1"]


@pytest.mark.sqlite_only
def test_kubeflow_feed_of_no_images_is_404_not_a_null_value(feed, online):
    online(applicableScopes=[DEV])

    response = feed(format="kubeflow", applicableScope=TRAINING)

    assert response.status_code == 404
    assert response.get_json() == {"success": False, "code": "NOT_FOUND", "message": "该范围内没有上线的镜像"}


# ----- format=jupyterhub -----

@pytest.mark.sqlite_only
def test_jupyterhub_feed_is_a_kubespawner_profile_list_without_envelope(feed, online):
    online(name="Older", imageId="Older-Image", imageAddress="registry.example.com/ml/older:1", description="旧")
    online(name="Newer", imageId="newer-image", imageAddress="registry.example.com/ml/newer:1", description="新")

    response = feed(format="jupyterhub", default="OLDER-image")

    assert response.status_code == 200
    assert response.get_json() == [
        {"display_name": "Newer", "slug": "newer-image", "description": "新", "default": False,
         "kubespawner_override": {"image": "registry.example.com/ml/newer:1"}},
        {"display_name": "Older", "slug": "older-image", "description": "旧", "default": True,
         "kubespawner_override": {"image": "registry.example.com/ml/older:1"}},
    ]


@pytest.mark.sqlite_only
def test_jupyterhub_feed_without_a_default_marks_no_profile(feed, online):
    online(name="One")
    online(name="Two")

    assert [profile["default"] for profile in feed(format="jupyterhub").get_json()] == [False, False]


@pytest.mark.sqlite_only
def test_jupyterhub_texts_are_html_escaped(feed, online, make_version):
    image = online(name="RC <img src=x onerror=alert(1)>", description='<script>"x" & y</script>')
    make_version(image["id"], "v1")

    [profile] = feed(format="jupyterhub").get_json()

    assert profile["display_name"] == "RC &lt;img src=x onerror=alert(1)&gt;"
    assert profile["description"] == "&lt;script&gt;&#34;x&#34; &amp; y&lt;/script&gt;"


@pytest.mark.sqlite_only
def test_jupyterhub_profile_offers_the_versions_by_name_newest_default(feed, online, make_version):
    image = online(imageAddress="registry.example.com/ml/torch:base")
    make_version(image["id"], "V1", imageAddress="registry.example.com/ml/torch:1", createTime="2024-01-01T00:00:00Z")
    make_version(image["id"], "v2", imageAddress="registry.example.com/ml/torch:2", createTime="2024-06-01T00:00:00Z")

    [profile] = feed(format="jupyterhub").get_json()

    assert profile["profile_options"] == {"version": {"display_name": "Version", "choices": {
        "v2": {"display_name": "v2", "default": True,
               "kubespawner_override": {"image": "registry.example.com/ml/torch:2"}},
        "V1": {"display_name": "V1", "default": False,
               "kubespawner_override": {"image": "registry.example.com/ml/torch:1"}},
    }}}


@pytest.mark.sqlite_only
def test_jupyterhub_default_choice_is_the_version_with_the_images_own_address(feed, online, make_version):
    image = online(imageAddress="registry.example.com/paddle/npu:cann8-x86_64")
    make_version(image["id"], "cann80RC1-x86_64", createTime="2024-01-01T00:00:00Z")
    make_version(image["id"], "cann80RC1-aarch64", imageAddress="registry.example.com/paddle/npu:cann8-aarch64",
                 createTime="2024-06-01T00:00:00Z")

    [profile] = feed(format="jupyterhub").get_json()

    choices = profile["profile_options"]["version"]["choices"]
    assert {key: choice["default"] for key, choice in choices.items()} == {
        "cann80RC1-aarch64": False, "cann80RC1-x86_64": True}


@pytest.mark.sqlite_only
def test_jupyterhub_feed_of_no_images_is_an_empty_list(feed):
    assert feed(format="jupyterhub").get_json() == []


# ----- ETag and 304 -----

def test_feed_sends_an_etag_and_answers_304_to_it_in_every_format(feed, online):
    online()

    for shape in ("json", "kubeflow", "jupyterhub"):
        etag = feed(format=shape).headers["ETag"]

        response = feed(format=shape, headers={"If-None-Match": etag})

        assert (shape, response.status_code, response.data) == (shape, 304, b"")
        assert response.headers["ETag"] == etag


@pytest.mark.sqlite_only
def test_a_stale_etag_gets_the_full_feed(feed, online):
    online(name="one")

    response = feed(headers={"If-None-Match": '"0-stale"'})

    assert response.status_code == 200
    assert names(response) == ["one"]


@pytest.mark.sqlite_only
def test_an_etag_of_one_format_or_scope_does_not_answer_another(feed, online):
    online()
    etag = feed(format="json").headers["ETag"]

    assert feed(format="kubeflow", headers={"If-None-Match": etag}).status_code == 200
    assert feed(format="json", applicableScope=DEV, headers={"If-None-Match": etag}).status_code == 200


def test_every_kind_of_write_changes_the_etag(client, auth_headers, feed, make_image):
    editor, admin = auth_headers("editor"), auth_headers("admin")
    seen = [feed().headers["ETag"]]
    image = make_image(imageId="watched")
    seen.append(feed().headers["ETag"])
    writes = [
        lambda: client.put(f"/api/images/{image['id']}", json={"description": "x"}, headers=editor),
        lambda: client.put(f"/api/images/{image['id']}/status", json={"status": "online"}, headers=editor),
        lambda: client.post(f"/api/images/{image['id']}/versions", json={"version": "v1"}, headers=editor),
        lambda: client.delete(f"/api/images/{image['id']}/versions/v1", headers=editor),
        lambda: client.post("/api/catalog/import", headers=admin, json={
            "format": "imagesvc-catalog", "version": 1,
            "images": [{"name": "Imported", "imageId": "imported", "imageAddress": "ubuntu"}]}),
        lambda: client.delete(f"/api/images/{image['id']}", headers=editor),
    ]
    for write in writes:
        response = write()
        assert response.status_code in (200, 201), response.get_json()
        etag = feed().headers["ETag"]
        assert etag not in seen
        seen.append(etag)


@pytest.mark.sqlite_only
def test_a_write_to_an_image_outside_the_feed_still_changes_the_etag(feed, online, make_image):
    online()
    etag = feed(applicableScope=DEV).headers["ETag"]
    make_image(status="pending", applicableScopes=[TRAINING])

    response = feed(applicableScope=DEV, headers={"If-None-Match": etag})

    assert response.status_code == 200
    assert response.headers["ETag"] != etag


@pytest.mark.sqlite_only
def test_after_a_write_the_old_etag_gets_the_new_feed(feed, online):
    online(name="before")
    etag = feed().headers["ETag"]
    online(name="after")

    response = feed(headers={"If-None-Match": etag})

    assert response.status_code == 200
    assert names(response) == ["after", "before"]


def test_reads_refused_writes_and_dry_runs_keep_the_etag(client, auth_headers, feed, online):
    image = online(name="taken")
    etag = feed().headers["ETag"]
    client.get("/api/images", headers=auth_headers("reader"))
    refused = client.post("/api/images", json={"name": "TAKEN", "imageAddress": "ubuntu"},
                          headers=auth_headers("editor"))
    assert refused.status_code == 409
    client.put(f"/api/images/{image['id']}", json={"chipType": "TPU"}, headers=auth_headers("editor"))
    new_image = {"name": "n", "imageId": "n", "imageAddress": "ubuntu"}
    dry_run = client.post("/api/catalog/import?dryRun=true", headers=auth_headers("admin"),
                          json={"format": "imagesvc-catalog", "version": 1, "images": [new_image]})
    assert dry_run.get_json()["data"]["created"] == 1

    assert feed(headers={"If-None-Match": etag}).status_code == 304


# ----- roles -----

@pytest.mark.sqlite_only
def test_feed_without_a_token_is_401_even_with_a_current_etag(client, feed):
    etag = feed().headers["ETag"]

    response = client.get("/api/images/feed", headers={"If-None-Match": etag})

    assert response.status_code == 401


@pytest.mark.sqlite_only
def test_feed_is_in_the_openapi_document_with_its_parameters(client):
    spec = client.get("/api/openapi.json").get_json()

    parameters = {p["name"] for p in spec["paths"]["/api/images/feed"]["get"]["parameters"]}
    assert {"applicableScope", "format", "limit"} <= parameters
