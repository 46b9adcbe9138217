"""The response cache (imagesvc/responses.py): a repeated list or version-list query is answered
from the bodies kept for the catalog's generation, and never once the catalog has changed."""

import pytest
from playhouse.test_utils import count_queries

from imagesvc.responses import ResponseCache


def names(client, headers, url="/api/images"):
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    return [item.get("name") or item.get("version") for item in response.get_json()["data"]["list"]]


def test_a_repeated_list_query_reads_only_the_token_with_the_generation(client, reader, make_image):
    for n in range(3):
        make_image(name=f"cached {n}", frameworks=["PyTorch"])
    url = "/api/images?framework=pytorch&pageSize=2"
    first = client.get(url, headers=reader)

    with count_queries() as counted:
        again = client.get(url, headers=reader)

    assert again.status_code == 200
    assert again.data == first.data
    assert again.content_type == first.content_type == "application/json"
    assert counted.count == 1


WRITES = {
    "create image": lambda client, roles, image: client.post(
        "/api/images", json={"name": "z new", "imageAddress": "r/new:1"}, headers=roles("editor")),
    "update image": lambda client, roles, image: client.put(
        f"/api/images/{image['id']}", json={"name": "z renamed"}, headers=roles("editor")),
    "change status": lambda client, roles, image: client.put(
        f"/api/images/{image['id']}/status", json={"status": "offline"}, headers=roles("editor")),
    "delete image": lambda client, roles, image: client.delete(f"/api/images/{image['id']}", headers=roles("editor")),
    "create version": lambda client, roles, image: client.post(
        f"/api/images/{image['id']}/versions", json={"version": "v9"}, headers=roles("editor")),
    "delete version": lambda client, roles, image: client.delete(
        f"/api/images/{image['id']}/versions/v1", headers=roles("editor")),
    "import": lambda client, roles, image: client.post("/api/catalog/import", json={
        "format": "imagesvc-catalog", "version": 1,
        "images": [{"imageId": "imported", "name": "z imported", "imageAddress": "r/imported:1", "versions": []}]},
        headers=roles("admin")),
}


@pytest.mark.parametrize("write", WRITES)
def test_every_kind_of_write_shows_in_the_next_identical_queries(client, reader, auth_headers, make_image,
                                                                make_version, another_app, write):
    image = make_image(name="a first")
    make_version(image["id"], "v1")
    queries = ["/api/images?sortBy=name&order=asc", f"/api/images/{image['id']}/versions",
               f"/api/images/{image['id']}/versions?pageNo=1&pageSize=5"]
    before = [client.get(url, headers=reader).data for url in queries]

    assert WRITES[write](client, auth_headers, image).status_code in (200, 201)

    after = [client.get(url, headers=reader) for url in queries]
    fresh = another_app(RESPONSE_CACHE_MB=0).test_client()
    truth = [fresh.get(url, headers=reader) for url in queries]
    assert [(response.status_code, response.data) for response in after] == \
        [(response.status_code, response.data) for response in truth]
    assert after[0].data != before[0]


def test_a_write_through_another_worker_shows_in_the_next_identical_query(client, reader, editor, make_image,
                                                                         another_app):
    make_image(name="one")
    assert names(client, reader) == ["one"]
    other_worker = another_app().test_client()

    assert other_worker.post("/api/images", json={"name": "two", "imageAddress": "r/two:1"},
                             headers=editor).status_code == 201

    assert names(client, reader) == ["two", "one"]


def test_different_queries_never_share_a_body(client, reader, make_image):
    for n in range(3):
        make_image(name=f"image {n}")

    assert names(client, reader, "/api/images?pageSize=1&pageNo=1") == ["image 2"]
    assert names(client, reader, "/api/images?pageSize=1&pageNo=2") == ["image 1"]
    assert names(client, reader, "/api/images?pageSize=1&pageNo=2&name=0") == []
    assert names(client, reader, "/api/images?pageSize=1&name=0") == ["image 0"]


def test_a_cached_query_still_needs_a_token_and_valid_arguments(client, reader, make_image):
    make_image()
    assert client.get("/api/images?pageSize=5", headers=reader).status_code == 200

    assert client.get("/api/images?pageSize=5").status_code == 401
    assert client.get("/api/images?pageSize=5", headers={"Authorization": "Bearer nope"}).status_code == 401
    for _ in range(2):  # a refused request is never kept, so it is refused again
        assert client.get("/api/images?pageSize=500", headers=reader).status_code == 422


@pytest.mark.config(RESPONSE_CACHE_MB=0)
def test_a_response_cache_of_zero_megabytes_reads_the_catalog_every_time(client, reader, make_image):
    make_image()
    client.get("/api/images", headers=reader)

    with count_queries() as counted:
        assert client.get("/api/images", headers=reader).status_code == 200

    # the token with the catalog state, the page's list entries: no body kept
    assert counted.count == 2


@pytest.mark.sqlite_only
def test_the_cache_holds_at_most_its_size_and_drops_the_least_recently_used_first(backend):
    cache = ResponseCache(max_bytes=100)
    for n in range(3):
        cache.put(("db", 1, "/api/images", f"n={n}".encode()), b"x" * 16, 30)
    cache.get(("db", 1, "/api/images", b"n=0"))  # now the most recently used

    cache.put(("db", 1, "/api/images", b"n=3"), b"x" * 16, 30)

    kept = [n for n in range(4) if cache.get(("db", 1, "/api/images", f"n={n}".encode())) is not None]
    assert kept == [0, 2, 3]
    cache.put(("db", 1, "/api/images", b"huge"), b"x" * 200, 200)  # larger than the whole cache: not kept
    assert cache.get(("db", 1, "/api/images", b"huge")) is None
