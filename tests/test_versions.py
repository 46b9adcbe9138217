"""Versions of an image: the field rules of contract section 3 and the endpoints of section 4."""

import datetime
from concurrent.futures import ThreadPoolExecutor

import pytest
from playhouse.test_utils import count_queries

from imagesvc.db import db
from imagesvc.models import Image, Version

from .conftest import assert_error

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
VERSION_FIELDS = {"version", "imageAddress", "size", "sizeBytes", "pythonVersion", "cudaVersion", "description",
                  "createTime"}


@pytest.fixture
def bare_image(make_image):
    """An image with no version yet (conftest's ``image`` has one)."""
    return make_image(imageAddress="registry.example.com/team/base:1.0")


@pytest.fixture
def post_version(client, auth_headers, bare_image):
    """POST a version body to ``bare_image`` (or to ``image_id``) as an editor; returns the response."""

    def post(body, image_id=None):
        return client.post(f"/api/images/{image_id or bare_image['id']}/versions", json=body,
                           headers=auth_headers("editor"))

    return post


@pytest.fixture
def list_versions(client, auth_headers, bare_image):
    def get(query="", image_id=None):
        return client.get(f"/api/images/{image_id or bare_image['id']}/versions{query}", headers=auth_headers("reader"))

    return get


@pytest.fixture
def get_image(read_data):
    return lambda image_id: read_data(f"/api/images/{image_id}")


@pytest.fixture
def backdate(app):
    """Move an image's lastUpdateTime to 2020, so a bump within the same second is visible."""

    def backdate(image_id):
        with app.app_context():
            # As another program writes the row: its list entry, made of the old time, goes too.
            Image.update(last_update_time=datetime.datetime(2020, 1, 1), list_entry=None).where(
                Image.id == int(image_id)).execute()
            db.close()

    return backdate


def utc_now():
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0, tzinfo=None)


def parse_time(text):
    return datetime.datetime.strptime(text, TIME_FORMAT)


def assert_refused(response, field):
    """A 422 that names ``field``."""
    assert field in assert_error(response, 422, "VALIDATION_ERROR", errors=True)["errors"]


# ----- POST: the version field -----

@pytest.mark.parametrize("version", ["1", "V2", "2.1.0-cuda12.1", "1.0+build_5", "a" * 64])
def test_version_matching_the_pattern_is_accepted(post_version, version):
    response = post_version({"version": version})
    assert response.status_code == 201
    assert response.get_json()["data"]["version"] == version


@pytest.mark.sqlite_only
@pytest.mark.parametrize("version", ["", "-1.0", ".1", "_1", "a" * 65, "1.0 beta", "1/0", "版本1", None, 1.0])
def test_version_breaking_the_pattern_is_422(post_version, version):
    assert_refused(post_version({"version": version}), "version")


@pytest.mark.sqlite_only
def test_version_is_required(post_version):
    assert_refused(post_version({"description": "no version"}), "version")


def test_created_version_answers_201_with_the_full_version_and_message(post_version):
    response = post_version({"version": "1.0"})
    body = response.get_json()
    assert response.status_code == 201
    assert body["success"] is True
    assert body["message"] == "创建版本成功"
    assert VERSION_FIELDS <= set(body["data"])


@pytest.mark.parametrize("duplicate", ["v1.0-RC", "V1.0-rc"])
def test_duplicate_version_in_an_image_is_409_ignoring_case(post_version, duplicate):
    assert post_version({"version": "v1.0-RC"}).status_code == 201
    body = assert_error(post_version({"version": duplicate}), 409, "CONFLICT", errors=True)
    assert body["message"] == "版本号已存在"
    assert "version" in body["errors"]


def test_racing_duplicate_versions_leave_one_winner_and_409s(app, auth_headers, bare_image):
    headers = auth_headers("editor")

    def post(version):
        return app.test_client().post(f"/api/images/{bare_image['id']}/versions", json={"version": version},
                                      headers=headers).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(post, ["race", "RACE", "Race", "race", "rAce", "racE"]))
    assert statuses == [201, 409, 409, 409, 409, 409]


def test_same_version_in_two_images_is_allowed(post_version, make_image):
    other = make_image()
    assert post_version({"version": "1.0"}).status_code == 201
    assert post_version({"version": "1.0"}, image_id=other["id"]).status_code == 201


def test_version_in_an_unknown_image_is_404(post_version):
    body = assert_error(post_version({"version": "1.0"}, image_id="999999"), 404, "NOT_FOUND")
    assert body["message"] == "镜像不存在"


# ----- POST: imageAddress -----

def test_image_address_defaults_to_the_images(post_version):
    data = post_version({"version": "1.0"}).get_json()["data"]
    assert data["imageAddress"] == "registry.example.com/team/base:1.0"


@pytest.mark.parametrize("address", ["ubuntu", "localhost:5000/team/img:v1",
                                     "registry.example.com/a/b@sha256:" + "a" * 64])
def test_image_address_given_is_kept(post_version, address):
    data = post_version({"version": "1.1", "imageAddress": address}).get_json()["data"]
    assert data["imageAddress"] == address


@pytest.mark.sqlite_only
@pytest.mark.parametrize("address", ["", "http://registry/x:1", "Image:Tag", "img::tag", None])
def test_invalid_image_address_is_422(post_version, address):
    assert_refused(post_version({"version": "1.0", "imageAddress": address}), "imageAddress")


# ----- POST: size and sizeBytes -----

@pytest.mark.parametrize(("size", "size_bytes"), [
    ("2.5GB", 2_500_000_000),
    ("800MB", 800_000_000),
    ("1.2 GiB", round(1.2 * 2**30)),
    ("1KB", 1000),
    ("1KiB", 1024),
    ("512B", 512),
    ("2TiB", 2 * 2**40),
    ("1.5 mib", round(1.5 * 2**20)),
])
def test_size_is_accepted_and_parsed_into_size_bytes(post_version, size, size_bytes):
    data = post_version({"version": "1.0", "size": size}).get_json()["data"]
    assert data["size"] == size
    assert data["sizeBytes"] == size_bytes


def test_size_is_returned_as_sent_trimmed(post_version):
    data = post_version({"version": "1.0", "size": "  2.5GB "}).get_json()["data"]
    assert data["size"] == "2.5GB"


@pytest.mark.sqlite_only
@pytest.mark.parametrize("size", ["2.5", "GB", "2.5 XB", "-1GB", "1,5GB", "2.5GBs", "1e3MB", 2.5])
def test_size_that_is_not_a_number_and_a_unit_is_422(post_version, size):
    assert_refused(post_version({"version": "1.0", "size": size}), "size")


@pytest.mark.parametrize("size", ["9000000000TB", "999999999999999TiB"])
def test_size_too_large_to_count_in_bytes_is_422(post_version, size):
    assert_refused(post_version({"version": "1.0", "size": size}), "size")


@pytest.mark.parametrize("size", ["", "   ", None])
def test_empty_or_null_size_means_null(post_version, size):
    data = post_version({"version": "1.0", "size": size}).get_json()["data"]
    assert data["size"] is None
    assert data["sizeBytes"] is None


@pytest.mark.parametrize(("body", "size_bytes"), [
    ({"size": "1KB", "sizeBytes": 5}, 1000),
    ({"sizeBytes": 5}, None),
])
def test_size_bytes_sent_by_the_client_is_ignored(post_version, body, size_bytes):
    response = post_version({"version": "1.0", **body})
    assert response.status_code == 201
    assert response.get_json()["data"]["sizeBytes"] == size_bytes


# ----- POST: pythonVersion, cudaVersion -----

@pytest.mark.parametrize(("field", "value"), [("pythonVersion", "3"), ("pythonVersion", "3.9"),
                                              ("pythonVersion", "3.9.0"), ("cudaVersion", "11.8"),
                                              ("cudaVersion", "12.1.105")])
def test_dotted_version_of_one_to_three_parts_is_accepted(post_version, field, value):
    data = post_version({"version": "1.0", field: value}).get_json()["data"]
    assert data[field] == value


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("field", "value"), [("pythonVersion", "3.9.0.1"), ("pythonVersion", "py3.9"),
                                              ("pythonVersion", "3."), ("pythonVersion", 3.9),
                                              ("cudaVersion", "v11.8"), ("cudaVersion", ".9"),
                                              ("cudaVersion", "11..8"), ("cudaVersion", "12.x")])
def test_dotted_version_breaking_the_rule_is_422(post_version, field, value):
    assert_refused(post_version({"version": "1.0", field: value}), field)


@pytest.mark.parametrize(("field", "value"), [("pythonVersion", ""), ("cudaVersion", " "), ("cudaVersion", None)])
def test_empty_dotted_version_means_null(post_version, field, value):
    data = post_version({"version": "1.0", field: value}).get_json()["data"]
    assert data[field] is None


# ----- POST: description -----

@pytest.mark.parametrize("description", ["", "x" * 2000, "中文描述，含标点", "line one\nline two"])
def test_description_of_at_most_2000_chars_is_kept(post_version, description):
    data = post_version({"version": "1.0", "description": description}).get_json()["data"]
    assert data["description"] == description


@pytest.mark.sqlite_only
def test_description_over_2000_chars_is_422(post_version):
    assert_refused(post_version({"version": "1.0", "description": "x" * 2001}), "description")


@pytest.mark.parametrize("body", [{"description": None}, {}])
def test_null_or_missing_description_is_the_empty_string(post_version, body):
    data = post_version({"version": "1.0", **body}).get_json()["data"]
    assert data["description"] == ""


# ----- POST: createTime -----

@pytest.mark.parametrize(("given", "stored"), [
    ("2025-01-15T10:30:00Z", "2025-01-15T10:30:00Z"),
    ("2025-01-15T18:30:00+08:00", "2025-01-15T10:30:00Z"),
    ("2025-01-15T05:30:00-05:00", "2025-01-15T10:30:00Z"),
    ("2025-01-15T00:30:00+14:00", "2025-01-14T10:30:00Z"),
    ("2025-01-15T10:30:00", "2025-01-15T10:30:00Z"),
])
def test_create_time_is_stored_and_returned_in_utc(post_version, list_versions, given, stored):
    assert post_version({"version": "1.0", "createTime": given}).get_json()["data"]["createTime"] == stored
    assert list_versions().get_json()["data"]["list"][0]["createTime"] == stored


@pytest.mark.parametrize("body", [{"createTime": ""}, {"createTime": "  "}, {}])
def test_empty_or_missing_create_time_means_now(post_version, body):
    before = utc_now()
    created = parse_time(post_version({"version": "1.0", **body}).get_json()["data"]["createTime"])
    assert before <= created <= utc_now()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("create_time", ["yesterday", "2025-13-01T00:00:00Z", "15/01/2025 10:30", 1736937000,
                                         None])
def test_invalid_create_time_is_422(post_version, create_time):
    assert_refused(post_version({"version": "1.0", "createTime": create_time}), "createTime")


# ----- POST: the body as a whole -----

@pytest.mark.sqlite_only
@pytest.mark.parametrize("field", ["foo", "image_address", "imageId"])
def test_unknown_field_is_422_naming_it(post_version, field):
    assert_refused(post_version({"version": "1.0", field: "x"}), field)


def test_creating_a_version_bumps_the_image_last_update_time_and_version_count(post_version, get_image, bare_image,
                                                                               backdate):
    backdate(bare_image["id"])
    before = utc_now()
    post_version({"version": "1.0"})
    after = get_image(bare_image["id"])
    assert parse_time(after["lastUpdateTime"]) >= before
    assert after["versionCount"] == 1


# ----- GET versions -----

def test_versions_are_listed_newest_create_time_first(post_version, list_versions):
    for version, day in [("a", "01"), ("b", "03"), ("c", "02")]:
        post_version({"version": version, "createTime": f"2025-01-{day}T00:00:00Z"})
    listed = [item["version"] for item in list_versions().get_json()["data"]["list"]]
    assert listed == ["b", "c", "a"]


def test_versions_are_ordered_by_the_utc_instant_of_their_create_time(post_version, list_versions):
    post_version({"version": "late-local", "createTime": "2025-01-01T10:00:00+08:00"})  # 02:00Z
    post_version({"version": "early-local", "createTime": "2025-01-01T00:00:00-05:00"})  # 05:00Z
    post_version({"version": "utc", "createTime": "2025-01-01T03:00:00Z"})
    listed = [item["version"] for item in list_versions().get_json()["data"]["list"]]
    assert listed == ["early-local", "utc", "late-local"]


def test_versions_with_the_same_create_time_list_newest_created_first(post_version, list_versions):
    for version in ["first", "second", "third"]:
        post_version({"version": version, "createTime": "2025-01-01T00:00:00Z"})
    listed = [item["version"] for item in list_versions().get_json()["data"]["list"]]
    assert listed == ["third", "second", "first"]


def test_versions_list_items_are_full_versions(post_version, list_versions):
    post_version({"version": "1.0", "size": "1KB"})
    body = list_versions().get_json()
    assert body["success"] is True
    assert VERSION_FIELDS <= set(body["data"]["list"][0])


@pytest.mark.parametrize("query", ["", "?pageNo=&pageSize=", "?other=1"])
def test_versions_without_paging_are_all_listed_with_the_true_total(post_version, list_versions, query):
    for n in range(12):
        post_version({"version": f"1.{n}"})
    data = list_versions(query).get_json()["data"]
    assert len(data["list"]) == 12
    assert data["total"] == 12
    assert "pageNo" not in data and "pageSize" not in data


@pytest.mark.parametrize("query", ["", "?pageSize=50"])
def test_listing_versions_costs_as_many_queries_for_one_version_as_for_many(post_version, list_versions, query):
    def queries():
        with count_queries() as counter:
            assert list_versions(query).status_code == 200
        return counter.count

    post_version({"version": "1.0"})
    list_versions(query)  # the token's first use is recorded once; later requests only read it
    post_version({"version": "1.1"})  # the catalog moves on: the list is read afresh, not from the response cache
    one = queries()
    for n in range(2, 15):
        post_version({"version": f"1.{n}"})
    assert queries() == one


def test_versions_without_paging_stop_at_the_1000_newest(app, bare_image, list_versions):
    with app.app_context():
        start = datetime.datetime(2020, 1, 1)
        rows = [{"image": int(bare_image["id"]), "version": f"1.{n}", "version_key": f"1.{n}",
                 "image_address": bare_image["imageAddress"], "description": "",
                 "create_time": start + datetime.timedelta(minutes=n)} for n in range(1001)]
        with db.atomic():
            Version.insert_many(rows).execute()
            Image.update(version_count=1001).where(Image.id == int(bare_image["id"])).execute()
        db.close()
    data = list_versions().get_json()["data"]
    assert len(data["list"]) == 1000
    assert data["total"] == 1001
    assert data["list"][0]["version"] == "1.1000"
    assert data["list"][-1]["version"] == "1.1"


@pytest.mark.parametrize(("query", "page_no", "page_size", "listed"), [
    ("?pageSize=5", 1, 5, ["1.11", "1.10", "1.9", "1.8", "1.7"]),
    ("?pageNo=2", 2, 10, ["1.1", "1.0"]),
    ("?pageNo=3&pageSize=5", 3, 5, ["1.1", "1.0"]),
    ("?pageNo=2&pageSize=", 2, 10, ["1.1", "1.0"]),
    ("?pageNo=4&pageSize=5", 4, 5, []),
    ("?pageNo=1&pageSize=100", 1, 100, [f"1.{n}" for n in range(11, -1, -1)]),
])
def test_versions_with_page_no_or_page_size_are_paged(post_version, list_versions, query, page_no, page_size,
                                                      listed):
    for n in range(12):
        post_version({"version": f"1.{n}", "createTime": f"2025-01-01T00:{n:02d}:00Z"})
    data = list_versions(query).get_json()["data"]
    assert [item["version"] for item in data["list"]] == listed
    assert (data["total"], data["pageNo"], data["pageSize"]) == (12, page_no, page_size)


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("query", "field"), [
    ("?pageNo=0", "pageNo"),
    ("?pageNo=-1", "pageNo"),
    ("?pageNo=abc", "pageNo"),
    ("?pageSize=0", "pageSize"),
    ("?pageSize=101", "pageSize"),
    ("?pageSize=1.5", "pageSize"),
])
def test_versions_page_out_of_bounds_is_422(list_versions, query, field):
    assert_refused(list_versions(query), field)


@pytest.mark.parametrize("image_id", ["999999", "abc", "0"])
def test_versions_of_an_unknown_image_are_404(list_versions, image_id):
    assert_error(list_versions(image_id=image_id), 404, "NOT_FOUND")


# ----- GET / DELETE one version (beyond) -----

@pytest.mark.parametrize("asked", ["V1.0-RC", "v1.0-rc"])
def test_one_version_is_found_ignoring_case(client, auth_headers, bare_image, post_version, asked):
    post_version({"version": "V1.0-RC"})
    response = client.get(f"/api/images/{bare_image['id']}/versions/{asked}", headers=auth_headers("reader"))
    assert response.status_code == 200
    assert response.get_json()["data"]["version"] == "V1.0-RC"


@pytest.mark.parametrize("method", ["get", "delete"])
@pytest.mark.parametrize(("path", "message"), [
    ("/api/images/999999/versions/1.0", "镜像不存在"),
    ("/api/images/abc/versions/1.0", "镜像不存在"),
    ("/api/images/{id}/versions/2.0", "版本不存在"),
])
def test_one_version_of_an_unknown_image_or_version_is_404(client, auth_headers, bare_image, post_version, method, path,
                                                          message):
    post_version({"version": "1.0"})
    response = getattr(client, method)(path.format(id=bare_image["id"]), headers=auth_headers("editor"))
    assert assert_error(response, 404, "NOT_FOUND")["message"] == message


def test_deleting_a_version_answers_null_data_and_message(client, auth_headers, bare_image, post_version):
    post_version({"version": "1.0"})
    response = client.delete(f"/api/images/{bare_image['id']}/versions/1.0", headers=auth_headers("editor"))
    assert response.status_code == 200
    assert response.get_json() == {"success": True, "data": None, "message": "删除版本成功"}


def test_deleted_version_is_gone_ignoring_case(client, auth_headers, bare_image, post_version, list_versions):
    post_version({"version": "V1.0"})
    post_version({"version": "2.0"})
    deleted = client.delete(f"/api/images/{bare_image['id']}/versions/v1.0", headers=auth_headers("editor"))
    assert deleted.status_code == 200
    response = client.get(f"/api/images/{bare_image['id']}/versions/V1.0", headers=auth_headers("reader"))
    assert response.status_code == 404
    assert [item["version"] for item in list_versions().get_json()["data"]["list"]] == ["2.0"]


def test_deleting_a_version_decrements_version_count_and_bumps_last_update_time(client, auth_headers, bare_image,
                                                                                post_version, get_image, backdate,
                                                                                list_versions):
    post_version({"version": "1.0"})
    post_version({"version": "2.0"})
    backdate(bare_image["id"])
    before = utc_now()
    client.delete(f"/api/images/{bare_image['id']}/versions/1.0", headers=auth_headers("editor"))
    after = get_image(bare_image["id"])
    assert after["versionCount"] == 1
    assert parse_time(after["lastUpdateTime"]) >= before
    assert list_versions().get_json()["data"]["total"] == 1


def test_deleted_version_may_be_created_again(client, auth_headers, bare_image, post_version):
    post_version({"version": "1.0"})
    client.delete(f"/api/images/{bare_image['id']}/versions/1.0", headers=auth_headers("editor"))
    assert post_version({"version": "1.0"}).status_code == 201


def test_deleting_an_image_deletes_its_versions(app, client, auth_headers, bare_image, post_version, list_versions):
    post_version({"version": "1.0"})
    post_version({"version": "2.0"})
    assert client.delete(f"/api/images/{bare_image['id']}", headers=auth_headers("editor")).status_code == 200
    assert list_versions().status_code == 404
    with app.app_context():
        assert Version.select().where(Version.image == int(bare_image["id"])).count() == 0
        db.close()
