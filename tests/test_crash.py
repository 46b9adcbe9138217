"""Crash safety on SQLite: kill -9 in the middle of a write load loses nothing acknowledged.

gunicorn (four workers) serves a load of image and version creates from eight clients; after a
couple of seconds the whole process group (master and workers) gets SIGKILL mid-request. The
database file then passes ``PRAGMA integrity_check`` and ``foreign_key_check``, the service
restarts on the same file, and every create that had been answered 201 is there, with counts
that agree with the rows.
"""

import http.client
import sqlite3
import threading
import time

import pytest

from .conftest import live_server

CLIENTS = 8
LOAD_SECONDS = 2.5
VERSIONS_PER_IMAGE = 3


@pytest.fixture
def server(tmp_path):
    server = live_server(tmp_path / "crashed", f"sqlite:///{tmp_path / 'crash.db'}", workers=4,
                         editor="crash-editor", IMAGESVC_LOG_LEVEL="WARNING")
    yield server.start()
    server.kill()


def write_load(server, client, stop, acknowledged):
    """Create images, each with a few versions, until ``stop``; record every 201."""
    n = 0
    while not stop.is_set():
        n += 1
        name = f"crash {client}-{n}"
        try:
            status, _, data = server.request("POST", "/api/images", headers=server.headers, timeout=5,
                                             body={"name": name, "imageAddress": f"crash/c{client}:{n}"})
            if status != 201:
                continue
            image = data["data"]["id"]
            acknowledged["images"][image] = name
            for v in range(VERSIONS_PER_IMAGE):
                status, _, data = server.request("POST", f"/api/images/{image}/versions", timeout=5,
                                                 headers=server.headers, body={"version": f"{v}.0"})
                if status == 201:
                    acknowledged["versions"].add((image, data["data"]["version"]))
        except (OSError, http.client.HTTPException):  # the server is gone (mid-answer, maybe): the load is over
            return


def test_a_killed_server_loses_no_acknowledged_write(server, tmp_path):
    acknowledged = {"images": {}, "versions": set()}
    stop = threading.Event()
    clients = [threading.Thread(target=write_load, args=(server, n, stop, acknowledged)) for n in range(CLIENTS)]
    for client in clients:
        client.start()
    time.sleep(LOAD_SECONDS)
    in_flight = sum(client.is_alive() for client in clients)
    server.kill()  # SIGKILL to master and workers, requests in flight
    stop.set()
    for client in clients:
        client.join(timeout=10)
    assert in_flight == CLIENTS and not any(client.is_alive() for client in clients)
    images, versions = acknowledged["images"], acknowledged["versions"]
    assert len(images) > 10 and len(versions) > 20, "the load should have written something"

    database = sqlite3.connect(tmp_path / "crash.db")
    try:
        assert database.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert database.execute("PRAGMA foreign_key_check").fetchall() == []
        image_rows = database.execute("SELECT COUNT(*) FROM image").fetchone()[0]
    finally:
        database.close()

    restarted = live_server(tmp_path / "restarted", server.env["IMAGESVC_DATABASE_URL"], workers=2,
                            IMAGESVC_LOG_LEVEL="WARNING").start()
    restarted.headers = server.headers
    try:
        found_images = found_versions = 0
        for image, name in images.items():
            status, _, detail = restarted.request("GET", f"/api/images/{image}", headers=restarted.headers)
            assert (status, detail["data"]["name"]) == (200, name)
            found_images += 1
            _, _, listed = restarted.request("GET", f"/api/images/{image}/versions", headers=restarted.headers)
            listed_versions = {v["version"] for v in listed["data"]["list"]}
            mine = {version for owner, version in versions if owner == image}
            assert mine <= listed_versions
            found_versions += len(mine)
            # The counts moved with the rows, in the same transactions.
            assert detail["data"]["versionCount"] == listed["data"]["total"] == len(listed_versions)
        _, _, everything = restarted.request("GET", "/api/images", headers=restarted.headers)
        assert everything["data"]["total"] == image_rows
    finally:
        restarted.stop()
    print(f"crash: {len(images)} image and {len(versions)} version creates acknowledged before SIGKILL; "
          f"{found_images} images and {found_versions} versions found after restart; {image_rows} image rows")
    assert (found_images, found_versions) == (len(images), len(versions))
