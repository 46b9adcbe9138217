"""Images through the HTTP API: every field rule, the list and its filters, each endpoint's
answers, ETags, and a replay of the web console's calls (api-contract.md sections 1-4).

Every test takes ``app`` (through ``client``), so it runs on SQLite and on MariaDB.
"""

import datetime
import re

import pytest

from imagesvc.db import db
from imagesvc.models import Image, Version

from .conftest import OMIT, assert_error

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
IMAGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
OLD = datetime.datetime(2001, 2, 3, 4, 5, 6)
OLD_TIME = "2001-02-03T04:05:06Z"
DIGEST = "sha256:" + "0123456789abcdef" * 4
STATUS_MESSAGE = "状态值无效，必须是 online、offline 或 pending"

IMAGE_FIELDS = {
    "id", "name", "imageId", "frameworks", "applicableScopes", "chipType", "presetCuda", "description",
    "imageAddress", "status", "type", "icon", "introduction", "paperUrl", "codeUrl", "license",
    "versionCount", "createTime", "lastUpdateTime",
}
READ_ONLY = {"id": "99999999", "versionCount": 7, "createTime": OLD_TIME, "lastUpdateTime": OLD_TIME}
LIST_FIELDS = ("frameworks", "applicableScopes")
NULLABLE_TEXT_FIELDS = ("icon", "introduction", "paperUrl", "codeUrl", "license")
ENUMS = {
    "chipType": (("GPU", "CPU", "NPU"), "GPU"),
    "status": (("online", "offline", "pending"), "pending"),
    "type": (("public", "custom"), "custom"),
}
MAX_LENGTH_VALUES = {  # field -> (the longest accepted value, one char too long)
    "icon": ("i" * 512, "i" * 513),
    "introduction": ("x" * 20000, "x" * 20001),
    "license": ("l" * 128, "l" * 129),
    "paperUrl": ("https://example.com/" + "p" * 2028, "https://example.com/" + "p" * 2029),
    "codeUrl": ("https://example.com/" + "c" * 2028, "https://example.com/" + "c" * 2029),
}
# The contract's own examples, exactly.
ACCEPTED_REFERENCES = (
    "registry/image:tag",
    "ubuntu",
    "pytorch/pytorch:2.1.0-cuda12.1-cudnn8-runtime",
    "nvcr.io/nvidia/pytorch:24.01-py3",
    "localhost:5000/team/img:v1",
    "registry.example.com/a/b@" + DIGEST,
)
REJECTED_REFERENCES = ("", "http://registry/x:1", "Image:Tag", "img:tag with space", "img::tag", "img:",
                       "img:" + "t" * 129)
# What the console sends (seed/images-api.md), with the `type` it adds on create.
CONSOLE_CREATE = {
    "name": "镜像名称", "imageId": "image-id", "frameworks": ["PyTorch"], "applicableScopes": ["开发机"],
    "chipType": "GPU", "presetCuda": True, "description": "镜像描述", "imageAddress": "registry/image:tag",
    "type": "public",
}
CONSOLE_VERSION = {
    "version": "v1.1.0", "imageAddress": "registry/image:v1.1.0", "size": "2.6GB", "pythonVersion": "3.9.0",
    "cudaVersion": "11.8", "description": "新版本描述", "createTime": "2025-01-15T10:30:00Z",
}
CONSOLE_LIST = "/api/images?pageNo=1&pageSize=10&name=&framework=&chipType=&applicableScope=&type=custom"


def success(response, status=200):
    """The ``data`` of a success envelope, once its status is checked."""
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["success"] is True, body
    return body["data"]


def limited(value, length=40):
    """A short pytest id for a long parameter."""
    text = repr(value)
    return text if len(text) <= length else f"{text[:length]}...({len(text)})"


@pytest.fixture
def update(client, editor):
    """``update(image_id, body, **headers)``: PUT /api/images/<id> as an editor."""

    def put(image_id, body, **headers):
        return client.put(f"/api/images/{image_id}", json=body, headers={**editor, **headers})

    return put


@pytest.fixture
def get_image(client, reader):
    def get(image_id, **headers):
        return client.get(f"/api/images/{image_id}", headers={**reader, **headers})

    return get


@pytest.fixture
def list_images(client, reader):
    """``list_images(**query)``: the ``data`` of GET /api/images."""

    def get(**query):
        return success(client.get("/api/images", query_string=query, headers=reader))

    return get


@pytest.fixture
def list_names(list_images):
    """``list_names(**query)``: the names on the page, in order."""

    def names(**query):
        return [item["name"] for item in list_images(**query)["list"]]

    return names


@pytest.fixture
def set_times(app):
    """``set_times(image_id, created=..., updated=...)``: rewrite an image's stored times, so a
    bump is visible at second precision and sort orders are deterministic."""

    def rewrite(image_id, created=OLD, updated=OLD):
        with app.app_context():
            # As another program writes the row: its list entry, made of the old times, goes too.
            Image.update(create_time=created, last_update_time=updated, list_entry=None).where(
                Image.id == image_id).execute()
            db.close()

    return rewrite


def year(n):
    return datetime.datetime(n, 1, 1)


# ----- name -----

@pytest.mark.parametrize(("sent", "stored"), [
    ("a", "a"),
    ("  Trimmed name  ", "Trimmed name"),
    ("n" * 128, "n" * 128),
    (" " + "n" * 128 + " ", "n" * 128),
    ("深度学习镜像", "深度学习镜像"),
    ("\u3000全角空格\u3000", "全角空格"),
], ids=limited)
def test_name_is_trimmed_and_1_to_128_chars(post_image, sent, stored):
    assert success(post_image(name=sent), 201)["name"] == stored


@pytest.mark.parametrize("sent", ["", "   ", "n" * 129, None, 42, ["a"]], ids=limited)
def test_invalid_name_is_422_naming_name(post_image, sent):
    assert "name" in assert_error(post_image(name=sent), 422, "VALIDATION_ERROR", errors=True)["errors"]


def test_missing_name_is_422_naming_name(post_image):
    assert "name" in assert_error(post_image(name=OMIT), 422, "VALIDATION_ERROR", errors=True)["errors"]


def test_deleted_images_name_can_be_used_again(client, editor, make_image, post_image):
    image = make_image(name="Reused")
    success(client.delete(f"/api/images/{image['id']}", headers=editor))
    assert success(post_image(name="REUSED"), 201)["name"] == "REUSED"


# ----- imageId -----

@pytest.mark.parametrize("sent", ["a", "7", "my-image_1.0", "img-ABC.def_9", "A" + "b" * 127, "0.-_"], ids=limited)
def test_image_id_of_1_to_128_allowed_chars_is_accepted(post_image, sent):
    assert success(post_image(imageId=sent), 201)["imageId"] == sent


@pytest.mark.parametrize("sent", [
    "", "-dash-first", ".dot-first", "_underscore-first", "has space", "a/b", "a:b", "a@b", "镜像",
    "a" * 129, None, 12,
], ids=limited)
def test_invalid_image_id_is_422_naming_image_id(post_image, sent):
    assert "imageId" in assert_error(post_image(imageId=sent), 422, "VALIDATION_ERROR", errors=True)["errors"]


def test_image_id_is_generated_when_absent(post_image):
    first, second = (success(post_image(), 201)["imageId"] for _ in range(2))
    assert IMAGE_ID.match(first) and IMAGE_ID.match(second) and first != second


# ----- name and imageId: unique ignoring case -----

@pytest.mark.parametrize(("field", "first", "second"), [
    ("name", "Same Name", "Same Name"), ("name", "Same Name", "same name"), ("name", "Same Name", "SAME NAME"),
    ("name", "Same Name", "  sAME nAME  "),
    ("imageId", "My-Image", "My-Image"), ("imageId", "My-Image", "my-image"), ("imageId", "My-Image", "MY-IMAGE"),
])
def test_duplicate_name_or_image_id_is_409_ignoring_case(post_image, field, first, second):
    success(post_image(**{field: first}), 201)
    assert list(assert_error(post_image(**{field: second}), 409, "CONFLICT", errors=True)["errors"]) == [field]


@pytest.mark.parametrize(("field", "own", "respelled"), [("name", "Case Name", "CASE name"),
                                                         ("imageId", "own-id", "OWN-ID")])
def test_changing_name_or_image_id_to_its_own_in_another_case_is_allowed(make_image, update, field, own, respelled):
    image = make_image(**{field: own})
    assert success(update(image["id"], {field: respelled}))[field] == respelled


@pytest.mark.parametrize(("field", "taken", "respelled"), [("name", "Taken", "tAKEN"),
                                                           ("imageId", "taken-id", "Taken-Id")])
def test_changing_name_or_image_id_to_another_images_is_409_ignoring_case(make_image, update, field, taken,
                                                                          respelled):
    make_image(**{field: taken})
    image = make_image()
    refused = assert_error(update(image["id"], {field: respelled}), 409, "CONFLICT", errors=True)
    assert list(refused["errors"]) == [field]


# ----- frameworks, applicableScopes -----

TWENTY = [f"item{i}" for i in range(20)]


@pytest.mark.parametrize("field", LIST_FIELDS)
@pytest.mark.parametrize(("sent", "stored"), [
    pytest.param([], [], id="empty"),
    pytest.param([" PyTorch ", "TensorFlow"], ["PyTorch", "TensorFlow"], id="trimmed"),
    pytest.param(["PyTorch", "pytorch", "TensorFlow", "PYTORCH "], ["PyTorch", "TensorFlow"], id="dedupe-keeps-first"),
    pytest.param(["开发机", "分布式训练", "在线服务部署"], ["开发机", "分布式训练", "在线服务部署"], id="chinese"),
    pytest.param(["x" * 64], ["x" * 64], id="64-chars"),
    pytest.param(TWENTY, TWENTY, id="20-items"),
    pytest.param(TWENTY + ["ITEM0", "Item1 "], TWENTY, id="22-items-20-after-dedupe"),
])
def test_list_items_are_trimmed_and_deduplicated_ignoring_case(post_image, field, sent, stored):
    assert success(post_image(**{field: sent}), 201)[field] == stored


@pytest.mark.parametrize("field", LIST_FIELDS)
def test_lists_default_to_empty(post_image, field):
    assert success(post_image(), 201)[field] == []


@pytest.mark.parametrize("field", LIST_FIELDS)
@pytest.mark.parametrize("sent", [
    pytest.param(None, id="null"),
    pytest.param([""], id="empty-item"),
    pytest.param(["  "], id="blank-item"),
    pytest.param(["x" * 65], id="65-chars"),
    pytest.param([f"item{i}" for i in range(21)], id="21-items"),
    pytest.param("PyTorch", id="string"),
    pytest.param([None], id="null-item"),
    pytest.param([1], id="number-item"),
    pytest.param({"PyTorch": True}, id="object"),
])
def test_invalid_list_is_422_naming_the_field(post_image, field, sent):
    assert field in assert_error(post_image(**{field: sent}), 422, "VALIDATION_ERROR", errors=True)["errors"]


# ----- chipType, status, type -----

@pytest.mark.parametrize(("field", "value"), [(f, v) for f, (values, _) in ENUMS.items() for v in values])
def test_enum_value_is_accepted(post_image, field, value):
    assert success(post_image(**{field: value}), 201)[field] == value


@pytest.mark.parametrize(("field", "default"), [(f, default) for f, (_, default) in ENUMS.items()])
def test_omitted_enum_fields_take_their_documented_default(post_image, field, default):
    assert success(post_image(), 201)[field] == default


@pytest.mark.parametrize(("field", "value"), [
    ("chipType", ""), ("chipType", "gpu"), ("chipType", "Gpu"), ("chipType", "GPU "), ("chipType", "TPU"),
    ("chipType", None),
    ("status", ""), ("status", "ONLINE"), ("status", "Online"), ("status", "deleted"), ("status", None),
    ("type", ""), ("type", "Public"), ("type", "CUSTOM"), ("type", "private"), ("type", None),
])
def test_enum_value_not_exact_is_422_naming_the_field(post_image, field, value):
    assert field in assert_error(post_image(**{field: value}), 422, "VALIDATION_ERROR", errors=True)["errors"]


# ----- presetCuda -----

@pytest.mark.parametrize("value", [True, False])
def test_preset_cuda_takes_a_json_boolean(post_image, value):
    assert success(post_image(presetCuda=value), 201)["presetCuda"] is value


def test_preset_cuda_defaults_to_false(post_image):
    assert success(post_image(), 201)["presetCuda"] is False


@pytest.mark.parametrize("value", ["true", "false", 1, 0, None, "yes"])
def test_preset_cuda_not_a_boolean_is_422(post_image, value):
    assert "presetCuda" in assert_error(post_image(presetCuda=value), 422, "VALIDATION_ERROR", errors=True)["errors"]


# ----- description -----

@pytest.mark.parametrize(("sent", "stored"), [
    ("x" * 2000, "x" * 2000),
    ("第一行\n第二行", "第一行\n第二行"),
    (None, ""),
    (OMIT, ""),
], ids=limited)
def test_description_up_to_2000_chars_and_null_is_empty(post_image, sent, stored):
    assert success(post_image(description=sent), 201)["description"] == stored


@pytest.mark.parametrize("sent", ["x" * 2001, 5, ["a"]], ids=limited)
def test_invalid_description_is_422(post_image, sent):
    assert "description" in assert_error(post_image(description=sent), 422, "VALIDATION_ERROR", errors=True)["errors"]


# ----- imageAddress -----

@pytest.mark.parametrize("reference", ACCEPTED_REFERENCES + (
    "img:" + "t" * 128,  # the longest tag
    "a" * 512,  # the longest reference
), ids=limited)
def test_image_address_accepts_a_valid_reference(post_image, reference):
    assert success(post_image(imageAddress=reference), 201)["imageAddress"] == reference


@pytest.mark.parametrize("reference", REJECTED_REFERENCES + ("a" * 513, None, 7), ids=limited)
def test_image_address_rejects_an_invalid_reference(post_image, reference):
    refused = assert_error(post_image(imageAddress=reference), 422, "VALIDATION_ERROR", errors=True)
    assert "imageAddress" in refused["errors"]


def test_missing_image_address_is_422(post_image):
    assert "imageAddress" in assert_error(post_image(imageAddress=OMIT), 422, "VALIDATION_ERROR", errors=True)["errors"]


# ----- icon, introduction, paperUrl, codeUrl, license -----

@pytest.mark.parametrize("field", NULLABLE_TEXT_FIELDS)
def test_optional_text_is_accepted_at_its_max_length(post_image, field):
    longest = MAX_LENGTH_VALUES[field][0]
    assert success(post_image(**{field: longest}), 201)[field] == longest


@pytest.mark.parametrize("field", NULLABLE_TEXT_FIELDS)
def test_optional_text_over_its_max_length_is_422(post_image, field):
    too_long = MAX_LENGTH_VALUES[field][1]
    assert field in assert_error(post_image(**{field: too_long}), 422, "VALIDATION_ERROR", errors=True)["errors"]


@pytest.mark.parametrize("field", NULLABLE_TEXT_FIELDS)
@pytest.mark.parametrize("sent", ["", "   ", None, OMIT], ids=["empty", "blank", "null", "absent"])
def test_optional_text_blank_or_null_is_null(post_image, field, sent):
    assert success(post_image(**{field: sent}), 201)[field] is None


@pytest.mark.parametrize("field", ("paperUrl", "codeUrl"))
@pytest.mark.parametrize("url", ["https://github.com/pytorch/pytorch", "http://arxiv.org/abs/1706.03762",
                                 "https://example.com:8443/a/b?c=d#e"])
def test_url_absolute_http_or_https_is_accepted(post_image, field, url):
    assert success(post_image(**{field: url}), 201)[field] == url


@pytest.mark.parametrize("field", ("paperUrl", "codeUrl"))
@pytest.mark.parametrize("url", ["ftp://example.com/paper.pdf", "github.com/pytorch/pytorch", "/papers/1.pdf",
                                 "javascript:alert(1)", "https://", "not a url", 42])
def test_url_not_absolute_http_is_422(post_image, field, url):
    assert field in assert_error(post_image(**{field: url}), 422, "VALIDATION_ERROR", errors=True)["errors"]


# ----- body rules -----

def test_read_only_fields_sent_on_create_are_ignored(post_image):
    data = success(post_image(**READ_ONLY), 201)
    assert data["id"] != READ_ONLY["id"] and data["versionCount"] == 0 and data["createTime"] != OLD_TIME


def test_read_only_fields_are_ignored_whatever_their_values(post_image):
    data = success(post_image(id=None, versionCount="many", createTime="not a time", lastUpdateTime=[]), 201)
    assert data["versionCount"] == 0 and TIME.match(data["createTime"])


def test_read_only_fields_sent_on_update_are_ignored(make_image, update):
    image = make_image()
    data = success(update(image["id"], {"description": "new", **READ_ONLY}))
    assert (data["id"], data["versionCount"], data["createTime"]) == (image["id"], 0, image["createTime"])


@pytest.mark.parametrize("field", ["foo", "image_address", "ImageId", "sizeBytes", "version"])
def test_unknown_field_on_create_is_422_naming_it(post_image, field):
    assert field in assert_error(post_image(**{field: "x"}), 422, "VALIDATION_ERROR", errors=True)["errors"]


@pytest.mark.parametrize("field", ["foo", "preset_cuda", "sizeBytes"])
def test_unknown_field_on_update_is_422_naming_it(make_image, update, field):
    image = make_image()
    refused = assert_error(update(image["id"], {"name": "x", field: "x"}), 422, "VALIDATION_ERROR", errors=True)
    assert field in refused["errors"]


def test_update_with_only_read_only_fields_is_422_as_empty(make_image, update):
    image = make_image()
    assert_error(update(image["id"], dict(READ_ONLY)), 422, "VALIDATION_ERROR")


def test_create_with_only_read_only_fields_is_422_as_empty(client, editor):
    assert_error(client.post("/api/images", json=dict(READ_ONLY), headers=editor), 422, "VALIDATION_ERROR",
                 errors=True)


# ----- POST /api/images -----

def test_create_is_201_with_message(post_image):
    response = post_image()
    success(response, 201)
    assert response.get_json()["message"] == "创建镜像成功"


def test_create_sends_location_of_the_new_image(post_image):
    response = post_image()
    assert response.headers["Location"] == f"/api/images/{success(response, 201)['id']}"


def test_create_returns_the_full_image(post_image):
    data = success(post_image(), 201)
    assert IMAGE_FIELDS <= set(data) and isinstance(data["id"], str)


def test_create_returns_times_in_utc_seconds(post_image):
    data = success(post_image(), 201)
    assert TIME.match(data["createTime"]) and TIME.match(data["lastUpdateTime"])


def test_create_stores_every_field_as_sent(post_image, get_image):
    body = {**CONSOLE_CREATE, "status": "online", "icon": "🔥", "introduction": "# 介绍\n正文",
            "paperUrl": "https://arxiv.org/abs/1", "codeUrl": "https://github.com/a/b", "license": "Apache-2.0"}
    created = success(post_image(**body), 201)
    assert {key: success(get_image(created["id"]))[key] for key in body} == body


# ----- GET /api/images/{id} -----

def test_get_returns_the_full_image_as_created(make_image, get_image):
    image = make_image(introduction="长介绍")
    assert success(get_image(image["id"])) == image


@pytest.mark.parametrize("image_id", ["999999999", "abc", "-1", "1.0", "0x1", "9" * 40, "镜像", "１"])
def test_get_unknown_image_is_404(get_image, image_id):
    assert assert_error(get_image(image_id), 404, "NOT_FOUND")["message"] == "镜像不存在"


@pytest.mark.parametrize("method", ["put", "delete"])
def test_write_to_unknown_image_is_404(client, editor, method):
    response = getattr(client, method)("/api/images/999999999", json={"name": "x"}, headers=editor)
    assert assert_error(response, 404, "NOT_FOUND")["message"] == "镜像不存在"


def test_status_of_unknown_image_is_404(client, editor):
    response = client.put("/api/images/abc/status", json={"status": "online"}, headers=editor)
    assert assert_error(response, 404, "NOT_FOUND")["message"] == "镜像不存在"


# ----- PUT /api/images/{id} -----

def test_update_is_200_with_message(make_image, update):
    response = update(make_image()["id"], {"description": "新描述"})
    success(response)
    assert response.get_json()["message"] == "更新镜像成功"


def test_update_changes_only_the_fields_given(make_image, update, get_image):
    image = make_image(frameworks=["PyTorch"], icon="icon")
    success(update(image["id"], {"description": "新描述"}))
    after = success(get_image(image["id"]))
    assert after == {**image, "description": "新描述", "lastUpdateTime": after["lastUpdateTime"]}


def test_update_with_empty_body_is_422(make_image, update):
    assert_error(update(make_image()["id"], {}), 422, "VALIDATION_ERROR")


def test_a_refusal_of_the_whole_body_is_the_message_not_a_field_error(make_image, update):
    refused = assert_error(update(make_image()["id"], {}), 422, "VALIDATION_ERROR")
    assert refused["message"] == "至少需要提供一个可更新的字段"
    assert "errors" not in refused


@pytest.mark.parametrize("body", [{"status": "online"}, {"name": "x", "status": "offline"}])
def test_update_with_status_is_422_naming_status(make_image, update, body):
    assert "status" in assert_error(update(make_image()["id"], body), 422, "VALIDATION_ERROR", errors=True)["errors"]


@pytest.mark.parametrize("field", LIST_FIELDS)
def test_update_list_replaces_the_stored_list(make_image, update, field):
    image = make_image(**{field: ["PyTorch", "TensorFlow"]})
    assert success(update(image["id"], {field: ["JAX"]}))[field] == ["JAX"]


@pytest.mark.parametrize(("field", "param"), [("frameworks", "framework"), ("applicableScopes", "applicableScope")])
def test_update_list_replaces_what_the_filter_finds(make_image, update, list_images, field, param):
    image = make_image(**{field: ["PyTorch"]})
    success(update(image["id"], {field: ["JAX"]}))
    assert (list_images(**{param: "PyTorch"})["total"], list_images(**{param: "jax"})["total"]) == (0, 1)


@pytest.mark.parametrize("field", NULLABLE_TEXT_FIELDS)
def test_update_null_clears_optional_text(make_image, update, field):
    image = make_image(**{field: MAX_LENGTH_VALUES[field][0][:20]})
    assert success(update(image["id"], {field: None}))[field] is None


def test_update_null_description_is_empty(make_image, update):
    image = make_image(description="旧描述")
    assert success(update(image["id"], {"description": None}))["description"] == ""


@pytest.mark.parametrize(("field", "value"), [
    ("name", None), ("name", " "), ("imageId", None), ("imageId", "-x"), ("frameworks", None),
    ("applicableScopes", None), ("chipType", None), ("chipType", "cpu"), ("type", ""), ("presetCuda", None),
    ("presetCuda", "true"), ("imageAddress", None), ("imageAddress", "Image:Tag"), ("paperUrl", "ftp://x.org/a"),
])
def test_update_applies_the_field_rules(make_image, update, field, value):
    image = make_image()
    assert field in assert_error(update(image["id"], {field: value}), 422, "VALIDATION_ERROR", errors=True)["errors"]


def test_update_keeps_the_version_count(make_image, make_version, update):
    image = make_image()
    make_version(image["id"], "v1")
    assert success(update(image["id"], {"description": "d"}))["versionCount"] == 1


def test_refused_update_changes_nothing(make_image, update, get_image, set_times):
    make_image(name="Taken")
    image = make_image()
    set_times(image["id"])
    assert_error(update(image["id"], {"name": "taken", "description": "lost"}), 409, "CONFLICT", errors=True)
    assert success(get_image(image["id"])) == {**image, "createTime": OLD_TIME, "lastUpdateTime": OLD_TIME}


def test_update_bumps_last_update_time(make_image, update, set_times):
    image = make_image()
    set_times(image["id"])
    data = success(update(image["id"], {"description": "bump"}))
    assert data["createTime"] == OLD_TIME and data["lastUpdateTime"] > OLD_TIME


# ----- DELETE /api/images/{id} -----

def test_delete_answers_null_data_with_message(client, editor, make_image):
    response = client.delete(f"/api/images/{make_image()['id']}", headers=editor)
    assert success(response) is None and response.get_json()["message"] == "删除镜像成功"


def test_deleted_image_is_404_afterwards(client, editor, make_image, get_image):
    image = make_image()
    success(client.delete(f"/api/images/{image['id']}", headers=editor))
    assert_error(get_image(image["id"]), 404, "NOT_FOUND")


def test_deleting_twice_is_404(client, editor, make_image):
    image = make_image()
    success(client.delete(f"/api/images/{image['id']}", headers=editor))
    assert_error(client.delete(f"/api/images/{image['id']}", headers=editor), 404, "NOT_FOUND")


def test_delete_removes_the_versions(app, client, editor, reader, make_image, make_version):
    image = make_image()
    make_version(image["id"], "v1")
    make_version(image["id"], "v2")
    success(client.delete(f"/api/images/{image['id']}", headers=editor))
    assert_error(client.get(f"/api/images/{image['id']}/versions", headers=reader), 404, "NOT_FOUND")
    with app.app_context():
        assert Version.select().where(Version.image == image["id"]).count() == 0
        db.close()


# ----- PUT /api/images/{id}/status -----

@pytest.fixture
def set_status(client, editor):
    def put(image_id, body, **headers):
        return client.put(f"/api/images/{image_id}/status", json=body, headers={**editor, **headers})

    return put


@pytest.mark.parametrize("status", ["online", "offline", "pending"])
def test_status_answers_id_status_and_last_update_time(make_image, set_status, status):
    image = make_image()
    data = success(set_status(image["id"], {"status": status}))
    assert (data["id"], data["status"], set(data)) == (image["id"], status, {"id", "status", "lastUpdateTime"})


def test_status_change_answers_the_status_updated_message(make_image, set_status):
    response = set_status(make_image()["id"], {"status": "online"})
    success(response)
    assert response.get_json()["message"] == "状态更新成功"


def test_status_change_is_stored(make_image, set_status, get_image):
    image = make_image()
    success(set_status(image["id"], {"status": "offline"}))
    assert success(get_image(image["id"]))["status"] == "offline"


def test_status_bumps_last_update_time(make_image, set_status, set_times):
    image = make_image()
    set_times(image["id"])
    data = success(set_status(image["id"], {"status": "online"}))
    assert TIME.match(data["lastUpdateTime"]) and data["lastUpdateTime"] > OLD_TIME


@pytest.mark.parametrize("body", [
    {}, {"status": ""}, {"status": None}, {"status": "ONLINE"}, {"status": "deleted"}, {"status": 1},
    {"status": ["online"]}, {"state": "online"},
], ids=limited)
def test_missing_or_invalid_status_is_422_with_the_status_message(make_image, set_status, body):
    refused = assert_error(set_status(make_image()["id"], body), 422, "VALIDATION_ERROR", errors=True)
    assert refused["message"] == STATUS_MESSAGE


# ----- ETag, If-None-Match, If-Match -----

@pytest.fixture
def stale_etag(make_image, get_image, update):
    """An image id and an ETag it had before it was changed."""
    image = make_image()
    etag = get_image(image["id"]).headers["ETag"]
    success(update(image["id"], {"description": "changed"}))
    return image["id"], etag


def test_get_sends_an_etag(make_image, get_image):
    assert get_image(make_image()["id"]).headers.get("ETag")


def test_if_none_match_with_current_etag_is_304(make_image, get_image):
    image = make_image()
    etag = get_image(image["id"]).headers["ETag"]
    response = get_image(image["id"], **{"If-None-Match": etag})
    assert (response.status_code, response.data) == (304, b"")


def test_if_none_match_with_a_stale_etag_is_200(stale_etag, get_image):
    image_id, etag = stale_etag
    assert success(get_image(image_id, **{"If-None-Match": etag}))["description"] == "changed"


def test_if_none_match_with_another_etag_is_200(make_image, get_image):
    image = make_image()
    assert success(get_image(image["id"], **{"If-None-Match": '"not-the-tag"'}))["id"] == image["id"]


# Each write to an image: method, path, a valid body.
WRITES = {
    "put": ("put", "/api/images/{}", {"description": "d"}),
    "delete": ("delete", "/api/images/{}", None),
    "status": ("put", "/api/images/{}/status", {"status": "online"}),
}


def write(client, headers, kind, image_id, **extra):
    method, path, body = WRITES[kind]
    return getattr(client, method)(path.format(image_id), json=body, headers={**headers, **extra})


@pytest.mark.parametrize("kind", WRITES)
def test_stale_if_match_is_412(client, editor, stale_etag, kind):
    image_id, etag = stale_etag
    assert_error(write(client, editor, kind, image_id, **{"If-Match": etag}), 412, "PRECONDITION_FAILED")


@pytest.mark.parametrize("kind", WRITES)
def test_current_if_match_proceeds(client, editor, make_image, get_image, kind):
    image = make_image()
    etag = get_image(image["id"]).headers["ETag"]
    success(write(client, editor, kind, image["id"], **{"If-Match": etag}))


@pytest.mark.parametrize("kind", WRITES)
def test_write_without_if_match_proceeds(client, editor, stale_etag, kind):
    success(write(client, editor, kind, stale_etag[0]))


@pytest.mark.parametrize("change", ["version", "update", "status"])
def test_etag_changes_with_every_change(client, editor, make_image, make_version, get_image, change):
    image = make_image()
    before = get_image(image["id"]).headers["ETag"]
    if change == "version":
        make_version(image["id"], "v1")
    else:
        success(write(client, editor, "put" if change == "update" else "status", image["id"]))
    assert get_image(image["id"]).headers["ETag"] != before


def test_adding_a_version_bumps_last_update_time(make_image, make_version, get_image, set_times):
    image = make_image()
    set_times(image["id"])
    make_version(image["id"], "v1")
    assert success(get_image(image["id"]))["lastUpdateTime"] > OLD_TIME


# ----- GET /api/images -----

def test_list_defaults_to_page_1_of_10(make_image, list_images):
    for _ in range(11):
        make_image()
    data = list_images()
    assert (data["pageNo"], data["pageSize"], len(data["list"]), data["total"]) == (1, 10, 10, 11)


@pytest.mark.parametrize(("param", "value"), [("pageNo", "1"), ("pageNo", "2"), ("pageSize", "1"),
                                              ("pageSize", "100")])
def test_page_params_in_range_are_accepted(client, reader, param, value):
    assert success(client.get(f"/api/images?{param}={value}", headers=reader))[param] == int(value)


@pytest.mark.parametrize(("param", "value"), [
    ("pageNo", "0"), ("pageNo", "-1"), ("pageNo", "x"), ("pageNo", "1.5"),
    ("pageSize", "0"), ("pageSize", "101"), ("pageSize", "-5"), ("pageSize", "ten"),
])
def test_page_params_out_of_range_are_422_naming_the_param(client, reader, param, value):
    response = client.get(f"/api/images?{param}={value}", headers=reader)
    assert param in assert_error(response, 422, "VALIDATION_ERROR", errors=True)["errors"]


NAMES = ["My PyTorch Image", "100% GPU", "100 GPU", "a_b", "axb", "back\\slash", "backslash", "深度学习镜像"]


@pytest.mark.parametrize(("query", "expected"), [
    ("pytorch", ["My PyTorch Image"]),
    ("MY PYTORCH", ["My PyTorch Image"]),
    ("gpu", ["100 GPU", "100% GPU"]),
    ("%", ["100% GPU"]),
    ("0%", ["100% GPU"]),
    ("_", ["a_b"]),
    ("a_b", ["a_b"]),
    ("\\", ["back\\slash"]),
    ("学习", ["深度学习镜像"]),
    ("nothing", []),
])
def test_name_filter_is_a_literal_case_insensitive_substring(make_image, list_names, query, expected):
    for name in NAMES:
        make_image(name=name)
    assert sorted(list_names(name=query, pageSize=100)) == expected


@pytest.fixture
def labelled(make_image):
    """Three images with frameworks and scopes, by a short key."""
    return {
        "a": make_image(name="a", frameworks=["PyTorch", "TensorFlow"], applicableScopes=["开发机", "Notebook"]),
        "b": make_image(name="b", frameworks=["PyTorch Lightning"], applicableScopes=["分布式训练"]),
        "c": make_image(name="c", frameworks=["JAX"], applicableScopes=["在线服务部署"]),
    }


@pytest.mark.parametrize(("param", "value", "expected"), [
    ("framework", "PyTorch", ["a"]),
    ("framework", "pytorch", ["a"]),
    ("framework", "Torch", []),
    ("framework", "PyTorch Lightning", ["b"]),
    ("framework", "tensorflow", ["a"]),
    ("framework", "Py", []),
    ("applicableScope", "开发机", ["a"]),
    ("applicableScope", "开发", []),
    ("applicableScope", "NOTEBOOK", ["a"]),
    ("applicableScope", "在线服务部署", ["c"]),
])
def test_label_filter_matches_a_whole_item_ignoring_case(labelled, list_names, param, value, expected):
    assert sorted(list_names(**{param: value})) == expected


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, (values, _) in ENUMS.items() for v in values])
def test_enum_filter_is_an_exact_match(make_image, list_images, field, value):
    wanted = make_image(**{field: value})
    for other in ENUMS[field][0]:
        if other != value:
            make_image(**{field: other})
    assert [item["id"] for item in list_images(**{field: value})["list"]] == [wanted["id"]]


@pytest.mark.parametrize(("param", "value"), [
    ("chipType", "gpu"), ("chipType", "TPU"), ("status", "Online"), ("status", "deleted"), ("type", "Public"),
    ("type", "private"), ("sortBy", "id"), ("sortBy", "lastupdatetime"), ("sortBy", "create_time"),
    ("order", "DESC"), ("order", "up"),
])
def test_invalid_enum_param_is_422_naming_the_param(client, reader, param, value):
    response = client.get("/api/images", query_string={param: value}, headers=reader)
    assert param in assert_error(response, 422, "VALIDATION_ERROR", errors=True)["errors"]


def test_combined_filters_list_only_images_matching_all_of_them(make_image, list_images):
    wanted = make_image(name="both", frameworks=["PyTorch"], chipType="NPU")
    make_image(name="both but cpu", frameworks=["PyTorch"], chipType="CPU")
    make_image(name="npu without pytorch", chipType="NPU")
    data = list_images(name="both", framework="pytorch", chipType="NPU")
    assert [item["id"] for item in data["list"]] == [wanted["id"]]


@pytest.fixture
def three_dated(make_image, set_times):
    """alpha: created 2001 updated 2003; beta: created 2003 updated 2001; gamma: 2002 and 2002."""
    for name, created, updated in (("alpha", 2001, 2003), ("beta", 2003, 2001), ("gamma", 2002, 2002)):
        set_times(make_image(name=name)["id"], created=year(created), updated=year(updated))


@pytest.mark.parametrize(("query", "expected"), [
    ({}, ["alpha", "gamma", "beta"]),
    ({"order": "asc"}, ["beta", "gamma", "alpha"]),
    ({"sortBy": "lastUpdateTime", "order": "desc"}, ["alpha", "gamma", "beta"]),
    ({"sortBy": "createTime"}, ["beta", "gamma", "alpha"]),
    ({"sortBy": "createTime", "order": "asc"}, ["alpha", "gamma", "beta"]),
    ({"sortBy": "name"}, ["gamma", "beta", "alpha"]),
    ({"sortBy": "name", "order": "asc"}, ["alpha", "beta", "gamma"]),
], ids=limited)
def test_list_sorts_by_sort_by_and_order_latest_update_first_by_default(three_dated, list_names, query, expected):
    assert list_names(**query) == expected


@pytest.mark.parametrize("sort_by", ["lastUpdateTime", "createTime"])
@pytest.mark.parametrize("order", ["desc", "asc"])
def test_paging_through_ties_never_repeats_or_skips(make_image, set_times, list_images, sort_by, order):
    ids = [make_image()["id"] for _ in range(7)]
    for image_id in ids:
        set_times(image_id)  # every image has the same times
    seen = [item["id"] for page in range(1, 5)
            for item in list_images(pageNo=page, pageSize=2, sortBy=sort_by, order=order)["list"]]
    assert sorted(seen) == sorted(ids)


@pytest.mark.parametrize("page_no", [3, 5, 10**20])
def test_page_past_the_end_is_empty_with_the_true_total(make_image, list_images, page_no):
    for _ in range(3):
        make_image()
    data = list_images(pageNo=page_no, pageSize=2)
    assert (data["list"], data["total"], data["pageNo"]) == ([], 3, page_no)


def test_total_follows_creates_and_deletes(client, editor, make_image, list_images):
    images = [make_image() for _ in range(3)]
    success(client.delete(f"/api/images/{images[0]['id']}", headers=editor))
    assert (list_images()["total"], list_images(type="custom")["total"]) == (2, 2)


@pytest.mark.parametrize(("param", "value"), [("name", "n" * 129), ("framework", "f" * 65),
                                              ("applicableScope", "s" * 65)], ids=limited)
def test_filter_longer_than_any_value_matches_nothing(make_image, client, reader, param, value):
    make_image(frameworks=["PyTorch"], applicableScopes=["开发机"])
    assert success(client.get("/api/images", query_string={param: value}, headers=reader))["total"] == 0


def test_unknown_query_params_are_ignored(make_image, client, reader):
    make_image()
    assert success(client.get("/api/images?foo=bar&page=3&size=1&id=1", headers=reader))["total"] == 1


def test_empty_query_values_mean_not_given(make_image, client, reader):
    make_image()
    query = "pageNo=&pageSize=&name=&framework=&chipType=&applicableScope=&status=&type=&sortBy=&order="
    data = success(client.get(f"/api/images?{query}", headers=reader))
    assert (data["pageNo"], data["pageSize"], data["total"]) == (1, 10, 1)


def test_list_items_omit_introduction(make_image, list_images):
    make_image(introduction="长长的介绍")
    item = list_images()["list"][0]
    assert "introduction" not in item and IMAGE_FIELDS - {"introduction"} <= set(item)


def test_list_items_carry_times_in_utc_seconds(make_image, list_images):
    make_image()
    item = list_images()["list"][0]
    assert TIME.match(item["createTime"]) and TIME.match(item["lastUpdateTime"])


def test_version_count_counts_the_versions(make_image, make_version, list_images, get_image):
    image = make_image()
    make_image()
    make_version(image["id"], "v1")
    make_version(image["id"], "v2")
    counts = {item["id"]: item["versionCount"] for item in list_images()["list"]}
    assert (counts[image["id"]], success(get_image(image["id"]))["versionCount"]) == (2, 2)


# ----- the web console's calls, replayed -----

def test_console_list_with_empty_filters_and_type_custom(make_image, client, reader):
    custom = make_image(type="custom")
    make_image(type="public")
    data = success(client.get(CONSOLE_LIST, headers=reader))
    assert ([item["id"] for item in data["list"]], data["total"]) == ([custom["id"]], 1)


def test_consoles_create_form_is_stored_as_sent_type_included(client, editor):
    response = client.post("/api/images", json=CONSOLE_CREATE, headers=editor)
    data = success(response, 201)
    assert {key: data[key] for key in CONSOLE_CREATE} == CONSOLE_CREATE


def test_console_edit_with_the_whole_form_is_accepted(make_image, update, get_image):
    # The form holds every field as GET returned it, read-only fields and nulls included;
    # status is not a form field (the console changes it through the status endpoint).
    image = make_image(frameworks=["PyTorch"])
    form = {key: value for key, value in success(get_image(image["id"])).items() if key != "status"}
    data = success(update(image["id"], {**form, "name": "改名后的镜像", "frameworks": ["PyTorch", "JAX"]}))
    assert data == {**image, "name": "改名后的镜像", "frameworks": ["PyTorch", "JAX"],
                    "lastUpdateTime": data["lastUpdateTime"]}


def test_console_edit_with_status_in_the_form_is_422_pointing_to_the_status_endpoint(make_image, update, get_image):
    image = make_image()
    body = assert_error(update(image["id"], success(get_image(image["id"]))), 422, "VALIDATION_ERROR", errors=True)
    assert "/status" in " ".join(body["errors"]["status"])


def test_consoles_version_form_is_stored_as_sent_and_answers_version_created(make_image, client, editor):
    image = make_image()
    response = client.post(f"/api/images/{image['id']}/versions", json=CONSOLE_VERSION, headers=editor)
    data = success(response, 201)
    assert {key: data[key] for key in CONSOLE_VERSION} == CONSOLE_VERSION
    assert response.get_json()["message"] == "创建版本成功"


def test_edit_status_and_version_show_in_the_list_until_delete_makes_it_404(client, editor, reader, make_version):
    created = success(client.post("/api/images", json=CONSOLE_CREATE, headers=editor), 201)
    path = f"/api/images/{created['id']}"
    success(client.put(path, json={"description": "新描述"}, headers=editor))
    success(client.put(f"{path}/status", json={"status": "online"}, headers=editor))
    make_version(created["id"], "v1.0.0")
    listed = success(client.get("/api/images?status=online&framework=pytorch", headers=reader))["list"]
    assert [(i["id"], i["description"], i["versionCount"]) for i in listed] == [(created["id"], "新描述", 1)]
    success(client.delete(path, headers=editor))
    assert_error(client.get(path, headers=reader), 404, "NOT_FOUND")


# ----- encoding -----

def test_chinese_is_returned_unescaped(post_image):
    response = post_image(name="深度学习镜像")
    assert "深度学习镜像".encode() in response.data and b"\\u" not in response.data


def test_chinese_error_message_is_returned_unescaped(get_image):
    response = get_image("999999999")
    assert "镜像不存在".encode() in response.data and b"\\u" not in response.data


def test_chinese_in_the_list_is_returned_unescaped(make_image, client, reader):
    make_image(name="深度学习镜像", applicableScopes=["开发机"])
    response = client.get("/api/images", headers=reader)
    assert "开发机".encode() in response.data and b"\\u" not in response.data


# ----- the limits hold on both backends ("both backends behave the same") -----

# Every text at its longest, in Chinese: three bytes a character in UTF-8.
FULL_SIZE = {
    "name": "全" * 128, "frameworks": [f"{'框' * 62}{i:02d}" for i in range(20)],
    "applicableScopes": [f"{'范' * 62}{i:02d}" for i in range(20)], "description": "述" * 2000,
    "imageAddress": "registry.example.com/" + "a" * 491, "icon": "图" * 512, "introduction": "介" * 20000,
    "paperUrl": MAX_LENGTH_VALUES["paperUrl"][0], "codeUrl": MAX_LENGTH_VALUES["codeUrl"][0], "license": "许" * 128,
}


def test_image_with_every_field_at_its_longest_is_created(post_image):
    assert success(post_image(**FULL_SIZE), 201)["introduction"] == FULL_SIZE["introduction"]


def test_update_to_every_field_at_its_longest_is_stored(make_image, update):
    assert success(update(make_image()["id"], FULL_SIZE))["introduction"] == FULL_SIZE["introduction"]


def test_introduction_of_20000_four_byte_chars_is_stored(post_image):
    assert success(post_image(introduction="😀" * 20000), 201)["introduction"] == "😀" * 20000


# "㍿" is one character whose compatibility form is four ("株式会社"); "ΐ" case-folds to three.
@pytest.mark.parametrize("char", ["㍿", "ΐ"])
def test_name_of_128_chars_is_stored_whatever_the_chars(post_image, char):
    assert success(post_image(name=char * 128), 201)["name"] == char * 128


@pytest.mark.parametrize("char", ["㍿", "ΐ"])
def test_list_item_of_64_chars_is_stored_whatever_the_chars(post_image, char):
    assert success(post_image(frameworks=[char * 64]), 201)["frameworks"] == [char * 64]


@pytest.mark.parametrize("char", ["㍿", "ΐ"])
def test_names_of_128_chars_differing_in_case_conflict(post_image, char):
    success(post_image(name="A" + char * 127), 201)
    assert list(assert_error(post_image(name="a" + char * 127), 409, "CONFLICT", errors=True)["errors"]) == ["name"]


@pytest.mark.parametrize("query", [{}, {"order": "asc"}, {"sortBy": "name"}, {"sortBy": "createTime", "order": "asc"},
                                   {"framework": "pytorch"}])
def test_pages_from_either_half_of_the_list_make_up_the_whole_list(make_image, list_names, query):
    # Pages past the middle are read from the other end: they must fit together all the same.
    for n in range(23):
        make_image(name=f"image {n % 5} {n}", frameworks=["PyTorch"] if n % 3 else [])
    whole = list_names(pageSize=100, **query)

    pages = [list_names(pageNo=page_no, pageSize=4, **query) for page_no in range(1, 8)]

    assert [name for page in pages for name in page] == whole
    assert [len(page) for page in pages] == [len(whole[start:start + 4]) for start in range(0, 28, 4)]
