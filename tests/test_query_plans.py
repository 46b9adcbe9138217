"""The image list's queries use indexes, not full scans, on both backends (EXPLAIN), and every
read endpoint costs a small, fixed number of queries."""

import re

import pytest
from playhouse.test_utils import count_queries

from imagesvc.db import db, is_mysql

# Each list a console, a spawner or a tool asks for, and what it filters on.
LISTS = {
    "default": "/api/images?pageSize=10",
    "filtered": "/api/images?framework=pytorch&chipType=GPU&applicableScope=开发机",
    "deep": "/api/images?pageNo=3&pageSize=10",
    "by status and type": "/api/images?status=online&type=public",
    "by name, sorted": "/api/images?sortBy=name&order=asc",
    "by createTime": "/api/images?sortBy=createTime",
    "by cuda version": "/api/images?cudaVersion=12",
    "by python version": "/api/images?pythonVersion=3.10",
    "by architecture": "/api/images?architecture=arm64",
}


@pytest.fixture
def catalog_of_thirty(make_image, make_version):
    for _ in range(30):
        image = make_image(frameworks=["PyTorch"], applicableScopes=["开发机"], status="online", type="public")
        make_version(image["id"], "v1", cudaVersion="12.1", pythonVersion="3.10", architectures=["arm64"])


def selects_of(client, url, headers):
    with count_queries() as counted:
        assert client.get(url, headers=headers).status_code == 200
    return [record.msg for record in counted.get_queries() if record.msg[0].startswith("SELECT")]


def full_scans(sql, params):
    """The tables a query reads whole, by the database's own plan."""
    if is_mysql():
        cursor = db.execute_sql("EXPLAIN " + sql, params)
        columns = [column[0] for column in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return [row["table"] for row in rows if row["type"] == "ALL" and not row["table"].startswith("<")]
    plan = db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    # "SCAN page" reads the ten ids of the page's own subquery; any other bare SCAN is a table.
    return [detail for *_, detail in plan if re.fullmatch(r"SCAN \w+", detail) and detail != "SCAN page"]


# Every request reads the catalog, none is answered from the response cache.
@pytest.mark.config(RESPONSE_CACHE_MB=0)
@pytest.mark.parametrize("url", LISTS.values(), ids=LISTS.keys())
def test_list_queries_read_indexes_not_whole_tables(app, client, auth_headers, catalog_of_thirty, url):
    headers = auth_headers("reader")
    client.get(url, headers=headers)  # the token's last-used stamp and the count, once
    with app.app_context():
        selects = selects_of(client, url, headers) + selects_of(client, url + "&pageNo=2", headers)
        assert sum(" LIMIT " in sql for sql, _ in selects) == 2  # both pages were read
        for sql, params in selects:
            assert not full_scans(sql, params), sql


def test_a_new_filter_is_counted_with_indexes(app, client, auth_headers, catalog_of_thirty):
    headers = auth_headers("reader")
    url = LISTS["filtered"]
    with app.app_context():
        counts = [(sql, params) for sql, params in selects_of(client, url, headers) if "COUNT" in sql]
        assert counts and not any(full_scans(sql, params) for sql, params in counts)


# The most queries each may cost, and which (a spare query of slack on the smaller ones).
READS = {
    "detail": ("/api/images/{id}", 3),  # token, image
    "versions": ("/api/images/{id}/versions", 3),  # a repeat: token, generation (response cache)
    "one version": ("/api/images/{id}/versions/v1", 3),  # token, version
    "history": ("/api/images/{id}/history", 4),  # token, count, page
    "feed": ("/api/images/feed?applicableScope=开发机", 4),  # token, state, images, versions
}


@pytest.mark.parametrize(("url", "most"), READS.values(), ids=READS.keys())
def test_each_read_costs_a_fixed_number_of_queries(client, auth_headers, make_image, make_version, url, most):
    headers = auth_headers("reader")
    image = make_image(status="online", applicableScopes=["开发机"])
    make_version(image["id"], "v1")
    client.get(url.format(id=image["id"]), headers=headers)
    with count_queries() as counted:
        assert client.get(url.format(id=image["id"]), headers=headers).status_code == 200
    assert counted.count <= most, [q.msg[0] for q in counted.get_queries()]
