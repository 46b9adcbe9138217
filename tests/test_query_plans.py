"""The image list's queries read indexes, never a whole table, and never sort every match, on
both backends (EXPLAIN), for every combination of filters and every sort; every read endpoint
costs a small, fixed number of queries."""

import itertools
import re

import pytest
from playhouse.test_utils import count_queries

from imagesvc import catalog
from imagesvc.db import db, is_mysql
from imagesvc.models import CatalogState, Image

# Every filter of the list, with a value the catalog below holds.
FILTERS = {"framework": "pytorch", "chipType": "GPU", "applicableScope": "开发机", "status": "online",
           "type": "public", "name": "image", "pythonVersion": "3", "cudaVersion": "12", "architecture": "arm64"}
SORTS = [{}, *({"sortBy": sort_by, "order": order}
               for sort_by in ("lastUpdateTime", "createTime", "name") for order in ("asc", "desc"))]


@pytest.fixture
def catalog_of_thirty(app, make_image, make_version):
    """Thirty images made through the API, beside a thousand stored directly: with only a few
    rows, MySQL rightly reads a table whole rather than look ids up in an index."""
    for _ in range(30):
        image = make_image(frameworks=["PyTorch"], applicableScopes=["开发机"], status="online", type="public")
        make_version(image["id"], "v1", cudaVersion="12.1", pythonVersion="3.10", architectures=["arm64"])
    with app.app_context():
        Image.insert_many([{"name": f"bulk {n}", "name_key": f"bulk {n}", "external_id": f"bulk-{n}",
                            "external_id_key": f"bulk-{n}", "image_address": "r.example.com/bulk:1",
                            "status": ("offline", "pending")[n % 2]} for n in range(1000)]).execute()
        CatalogState.update(image_count=CatalogState.image_count + 1000,
                            generation=CatalogState.generation + 1).execute()
        catalog.write_missing()  # their list entries, as `imagesvc db upgrade` writes them
        db.close()


def selects_of(client, url, headers):
    with count_queries() as counted:
        assert client.get(url, headers=headers).status_code == 200
    return [record.msg for record in counted.get_queries() if record.msg[0].startswith("SELECT")]


def plan_faults(sql, params):
    """The tables a query reads whole, and the sorts it makes of what it read, by the database's own plan."""
    if is_mysql():
        cursor = db.execute_sql("EXPLAIN " + sql, params)
        columns = [column[0] for column in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return ([f"scan of {row['table']}" for row in rows if row["type"] == "ALL" and not row["table"].startswith("<")]
                + [f"sort in {row['table']}" for row in rows if "filesort" in (row["Extra"] or "")])
    plan = [detail for *_, detail in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
    return [detail for detail in plan if re.fullmatch(r"SCAN \w+", detail) or "TEMP B-TREE" in detail]


# Every request reads the catalog, none is answered from the response cache.
@pytest.mark.config(RESPONSE_CACHE_MB=0)
def test_every_filter_combination_and_sort_reads_indexes_only(app, client, auth_headers, catalog_of_thirty):
    headers = auth_headers("reader")
    editor = auth_headers("editor")
    combinations = [combination for size in range(len(FILTERS) + 1)
                    for combination in itertools.combinations(FILTERS, size)]
    with app.app_context():
        for number, (combination, sort) in enumerate(zip(combinations, itertools.cycle(SORTS))):
            if number % 50 == 0:  # now and then a write, so that the index catches up with it
                image_id = client.get("/api/images?pageSize=1", headers=headers).get_json()["data"]["list"][0]["id"]
                client.put(f"/api/images/{image_id}/status", json={"status": "online"}, headers=editor)
            query = "&".join(f"{key}={FILTERS[key]}" for key in combination)
            query += "".join(f"&{key}={value}" for key, value in sort.items())
            for page in (1, 3):
                for sql, params in selects_of(client, f"/api/images?pageSize=10&pageNo={page}&{query}", headers):
                    assert not plan_faults(sql, params), (query, sql)


# A name term of one character, of two (through the trigrams that hold it) and of more.
@pytest.mark.config(RESPONSE_CACHE_MB=0)
@pytest.mark.parametrize("term", ["i", "im", "image"])
def test_a_name_term_of_any_length_reads_indexes_only(app, client, auth_headers, catalog_of_thirty, term):
    headers = auth_headers("reader")
    client.get("/api/images", headers=headers)  # loads the search index, which reads every image
    with app.app_context():
        for sql, params in selects_of(client, f"/api/images?name={term}", headers):
            assert not plan_faults(sql, params), (term, sql)


@pytest.mark.config(RESPONSE_CACHE_MB=0)
def test_a_list_costs_a_fixed_number_of_queries_whatever_it_filters(client, auth_headers, catalog_of_thirty):
    headers = auth_headers("reader")
    for query in ("", "framework=pytorch&chipType=GPU&status=online", "name=image&sortBy=name",
                  "pythonVersion=3&architecture=arm64&pageNo=3&pageSize=10"):
        # The token's last-used stamp and a new name term.
        client.get(f"/api/images?{query}", headers=headers)
        with count_queries() as counted:
            assert client.get(f"/api/images?{query}", headers=headers).status_code == 200
        # the token with the catalog state, the page's list entries
        assert counted.count == 2, [q.msg[0][:90] for q in counted.get_queries()]


@pytest.mark.config(RESPONSE_CACHE_MB=0)
def test_a_page_reads_its_images_entries_in_one_query_and_shows_a_change_at_once(client, auth_headers,
                                                                                 catalog_of_thirty):
    headers = auth_headers("reader")
    page = client.get("/api/images?pageSize=5", headers=headers).get_json()["data"]["list"]
    response = client.put(f"/api/images/{page[2]['id']}", json={"description": "changed"},
                          headers=auth_headers("editor"))
    assert response.status_code == 200
    with count_queries() as counted:
        again = client.get("/api/images?pageSize=5", headers=headers).get_json()["data"]["list"]
    # the token with the catalog state, the change log and the changed image's rows (search
    # index), the entries
    reads = [q.msg for q in counted.get_queries() if q.msg[0].startswith("SELECT")]
    entries = [[image_id for image_id in params if image_id]  # a page's ids, padded with zeros
               for sql, params in reads if '"list_entry"' in sql.replace("`", '"')]
    assert entries == [[int(image["id"]) for image in again]]
    assert [image["description"] for image in again if image["id"] == page[2]["id"]] == ["changed"]


# The queries each costs, and which.
READS = {
    "detail": ("/api/images/{id}", 2),  # the token (with the catalog state), the image
    "versions": ("/api/images/{id}/versions", 1),  # a repeat: the token with the catalog state (response cache)
    "one version": ("/api/images/{id}/versions/v1", 2),  # the token, the version
    "history": ("/api/images/{id}/history", 3),  # the token, the count, the page
    "feed": ("/api/images/feed?applicableScope=开发机", 3),  # the token with the catalog state (ETag), images, versions
}


@pytest.mark.parametrize(("url", "queries"), READS.values(), ids=READS.keys())
def test_each_read_costs_a_fixed_number_of_queries(client, auth_headers, make_image, make_version, url, queries):
    headers = auth_headers("reader")
    image = make_image(status="online", applicableScopes=["开发机"])
    make_version(image["id"], "v1")
    client.get(url.format(id=image["id"]), headers=headers)
    with count_queries() as counted:
        assert client.get(url.format(id=image["id"]), headers=headers).status_code == 200
    assert counted.count == queries, [q.msg[0] for q in counted.get_queries()]
