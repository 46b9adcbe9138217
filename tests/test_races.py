"""Races against a real gunicorn with four workers, on SQLite and on MySQL/MariaDB.

Many clients at once, each on its own connection: the database's unique indexes and row locks
(not luck) decide who wins. Fifty creates of one name (its letter case varied) give exactly one
201 and 49 409s and one row; 200 version creates over ten images all land and are all listed;
status flips, edits and version creates on one image all land, the last write wins, and the
image's ETag, versionCount and history account for every one of them.
"""

import concurrent.futures
import itertools
import sqlite3
import threading

import pytest

from bench.databases import connect_database

from .conftest import live_server, make_mysql_database


@pytest.fixture
def server(backend, once_per_module, tmp_path_factory):
    """One gunicorn per backend for the module, started on first use."""

    def serve():
        # The races' own database, so that they never see other rows.
        url = make_mysql_database("race", migrate=False) if backend == "mysql" else None
        return live_server(tmp_path_factory.mktemp(f"race-{backend}"), url, workers=4, editor="race-editor",
                           IMAGESVC_LOG_LEVEL="WARNING")

    return once_per_module(backend, serve)


def all_at_once(calls, threads=50):
    """Run the callables on ``threads`` threads, the first ``threads`` released together (the rest
    as threads come free); their results, in order."""
    barrier = threading.Barrier(min(threads, len(calls)))

    def run(numbered):
        index, call = numbered
        if index < barrier.parties:
            barrier.wait(timeout=30)
        return call()

    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(run, enumerate(calls)))


def letter_cases(text, count):
    """``count`` spellings of ``text`` in different letter cases (and the odd space around)."""
    spellings = []
    for n in range(count):
        word = "".join(c.upper() if (n >> (i % 12)) & 1 else c.lower() for i, c in enumerate(text))
        spellings.append(f" {word} " if n % 7 == 3 else word)
    return spellings


def database_rows(server, sql, *params):
    """Rows of a query straight on the database, beside the service."""
    url = server.env["IMAGESVC_DATABASE_URL"]
    if url.startswith("mysql"):
        with connect_database(url) as connection, connection.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall()
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def test_fifty_creates_of_one_name_give_one_201_and_49_409s(server):
    spellings = letter_cases("race for one name", 50)
    assert len({s.strip() for s in spellings}) > 40  # really different spellings

    answers = all_at_once([
        (lambda name=name: server.request("POST", "/api/images", headers=server.headers,
                                          body={"name": name, "imageAddress": "ubuntu:22.04"}))
        for name in spellings])

    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [201] + [409] * 49
    for status, _, data in answers:
        if status == 409:
            assert (data["code"], list(data["errors"])) == ("CONFLICT", ["name"])
    rows = database_rows(server, "SELECT COUNT(*) FROM image WHERE name_key = ?", "race for one name")
    assert rows[0][0] == 1
    status, _, listing = server.request("GET", "/api/images?name=race%20for%20one", headers=server.headers)
    assert (status, listing["data"]["total"]) == (200, 1)


def test_two_hundred_version_creates_over_ten_images_all_land(server):
    images = []
    for n in range(10):
        status, _, data = server.request("POST", "/api/images", headers=server.headers,
                                         body={"name": f"versions race {n}", "imageAddress": f"race/v{n}:1"})
        assert status == 201
        images.append(data["data"]["id"])
    wanted = [(images[n % 10], f"{n // 10}.{n % 10}.0") for n in range(200)]

    answers = all_at_once([
        (lambda image=image, version=version: server.request(
            "POST", f"/api/images/{image}/versions", headers=server.headers, body={"version": version}))
        for image, version in wanted])

    assert [status for status, _, _ in answers] == [201] * 200, [d for s, _, d in answers if s != 201][:3]
    for image in images:
        _, _, detail = server.request("GET", f"/api/images/{image}", headers=server.headers)
        _, _, versions = server.request("GET", f"/api/images/{image}/versions", headers=server.headers)
        expected = sorted(version for owner, version in wanted if owner == image)
        assert detail["data"]["versionCount"] == 20
        assert versions["data"]["total"] == 20
        assert sorted(v["version"] for v in versions["data"]["list"]) == expected


def revision(etag):
    """The revision an image's ETag carries (``"<id>-<revision>"``)."""
    return int(etag.strip('"').rsplit("-", 1)[1])


def test_parallel_flips_edits_and_versions_of_one_image_end_consistent(server):
    status, headers, created = server.request("POST", "/api/images", headers=server.headers,
                                              body={"name": "flip race", "imageAddress": "race/flip:1"})
    assert status == 201
    image = created["data"]["id"]
    first = revision(headers["ETag"])
    statuses = itertools.cycle(["online", "offline", "pending"])
    writes = ([("status", {"status": next(statuses)}) for _ in range(20)]
              + [("edit", {"description": f"edit {n}", "frameworks": [f"fw{n}"]}) for n in range(20)]
              + [("version", {"version": f"flip-{n}"}) for n in range(10)])
    paths = {"status": f"/api/images/{image}/status", "edit": f"/api/images/{image}",
             "version": f"/api/images/{image}/versions"}
    methods = {"status": "PUT", "edit": "PUT", "version": "POST"}

    answers = all_at_once([
        (lambda kind=kind, body=body: (kind, body, *server.request(methods[kind], paths[kind], body=body,
                                                                   headers=server.headers)))
        for kind, body in writes])

    assert [status for _, _, status, _, _ in answers] == [200] * 40 + [201] * 10
    tagged = {revision(headers["ETag"]): (kind, body, data["data"]) for kind, body, _, headers, data in answers
              if kind != "version"}
    # Each write moved the revision once: 40 distinct tags past the first, versions in the gaps.
    assert len(tagged) == 40 and min(tagged) > first and max(tagged) <= first + 50

    _, headers, detail = server.request("GET", f"/api/images/{image}", headers=server.headers)
    _, _, versions = server.request("GET", f"/api/images/{image}/versions", headers=server.headers)
    _, _, history = server.request("GET", f"/api/images/{image}/history?pageSize=100", headers=server.headers)
    final = detail["data"]
    assert revision(headers["ETag"]) == first + 50
    # The last write of each kind wins.
    last_status = tagged[max(r for r, (kind, _, _) in tagged.items() if kind == "status")][1]["status"]
    last_edit = tagged[max(r for r, (kind, _, _) in tagged.items() if kind == "edit")][1]
    assert final["status"] == last_status
    assert (final["description"], final["frameworks"]) == (last_edit["description"], last_edit["frameworks"])
    assert final["lastUpdateTime"] == max(data["lastUpdateTime"] for _, data in
                                          ((k, d) for k, _, d in tagged.values()))
    assert final["versionCount"] == versions["data"]["total"] == len(versions["data"]["list"]) == 10
    assert history["data"]["total"] == 1 + 50  # the creation and every write, none lost


def test_deletes_racing_writes_leave_no_orphans(server):
    images = []
    for n in range(6):
        status, _, data = server.request("POST", "/api/images", headers=server.headers,
                                         body={"name": f"delete race {n}", "imageAddress": f"race/d{n}:1",
                                               "frameworks": ["PyTorch"], "applicableScopes": ["开发机"]})
        assert status == 201
        images.append(data["data"]["id"])
    calls = []
    for image in images:
        calls += [("delete", "DELETE", f"/api/images/{image}", None)] * 2
        calls += [("version", "POST", f"/api/images/{image}/versions", {"version": f"d{n}"}) for n in range(5)]
        calls += [("write", "PUT", f"/api/images/{image}/status", {"status": "online"})] * 2
        calls += [("write", "PUT", f"/api/images/{image}", {"description": "racing a delete"})] * 2

    answers = all_at_once([(lambda kind=kind, method=method, path=path, body=body: (
        kind, path, *server.request(method, path, body=body, headers=server.headers)))
        for kind, method, path, body in calls])

    allowed = {"delete": {200, 404}, "version": {201, 404}, "write": {200, 404}}
    assert [(kind, status) for kind, _, status, _, _ in answers if status not in allowed[kind]] == []
    deleted = sorted(path for kind, path, status, _, _ in answers if kind == "delete" and status == 200)
    assert deleted == sorted(f"/api/images/{image}" for image in images)  # each image deleted exactly once
    for image in images:
        assert server.request("GET", f"/api/images/{image}", headers=server.headers)[0] == 404
    marks = ", ".join("?" * len(images))
    for table in ("version", "image_label", "version_architecture"):
        orphans = database_rows(server, f"SELECT COUNT(*) FROM {table} WHERE image_id IN ({marks})",
                                *map(int, images))
        assert orphans[0][0] == 0, f"{table} rows of deleted images"
    _, _, listing = server.request("GET", "/api/images", headers=server.headers)
    assert listing["data"]["total"] == database_rows(server, "SELECT COUNT(*) FROM image")[0][0]
