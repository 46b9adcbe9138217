"""Storage: query counts that do not grow with a page, races settled by unique indexes,
migrations that keep rows, and MySQL connections that survive the server."""

import json
import socket
import threading

import pytest
from playhouse.test_utils import count_queries

from bench.databases import connect_server
from imagesvc import migrations, tokens
from imagesvc.db import db
from imagesvc.encoding import encode
from imagesvc.models import Image
from imagesvc.schemas import ImageSchema, ImageSummarySchema

from .conftest import MYSQL_DATABASE, MYSQL_URL, assert_error


def queries_of(client, url, headers):
    with count_queries() as counted:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return counted.count


def test_image_list_costs_the_same_queries_for_pages_of_10_and_100(client, auth_headers, make_image):
    headers = auth_headers("reader")
    for n in range(100):
        make_image(frameworks=["PyTorch", f"fw{n}"], applicableScopes=["开发机"])
    small_page = "/api/images?pageSize=10&framework=pytorch&applicableScope=开发机"
    large_page = "/api/images?pageSize=100&framework=pytorch&applicableScope=开发机"
    # The first call also writes the token's last-used stamp and loads this process's search index.
    first = queries_of(client, small_page, headers)
    small_again = queries_of(client, small_page, headers)
    large = queries_of(client, large_page, headers)

    # the token with the catalog state (its generation keys the response cache; the index catches
    # up to it), the page
    assert large == 2
    assert first > large + 1  # and the last-used stamp (a transaction), and the index
    assert small_again == 1  # the token with the catalog state: the body sent for this generation


def test_a_list_after_writes_reads_the_changes_with_their_images_in_one_query(client, auth_headers, make_image,
                                                                              make_version):
    headers = auth_headers("editor")
    images = [make_image(frameworks=["PyTorch"]) for _ in range(3)]
    queries_of(client, "/api/images", headers)  # loads the search index, stamps the token
    client.put(f"/api/images/{images[0]['id']}/status", json={"status": "online"}, headers=headers)
    make_version(images[1]["id"], "v1")
    client.put(f"/api/images/{images[2]['id']}", json={"name": "renamed"}, headers=headers)

    # the token with the catalog state; the changes since the index's generation with their images
    # as they are now; those images' facets; the page
    assert queries_of(client, "/api/images", headers) == 4


def test_a_filtered_total_is_counted_again_after_every_write(client, auth_headers, make_image):
    headers = auth_headers("editor")
    make_image(frameworks=["PyTorch"])
    assert client.get("/api/images?framework=pytorch", headers=headers).get_json()["data"]["total"] == 1

    second = make_image(frameworks=["PyTorch"])
    assert client.get("/api/images?framework=pytorch", headers=headers).get_json()["data"]["total"] == 2

    client.put(f"/api/images/{second['id']}", json={"frameworks": ["JAX"]}, headers=headers)
    assert client.get("/api/images?framework=pytorch", headers=headers).get_json()["data"]["total"] == 1


def test_version_list_costs_the_same_queries_for_2_and_40_versions(client, auth_headers, make_image, make_version):
    headers = auth_headers("reader")
    few, many = make_image(), make_image()
    for n in range(2):
        make_version(few["id"], f"v{n}")
    for n in range(40):
        make_version(many["id"], f"v{n}")
    queries_of(client, "/api/images", headers)  # the token's last-used stamp is written once

    assert (queries_of(client, f"/api/images/{few['id']}/versions", headers)
            == queries_of(client, f"/api/images/{many['id']}/versions", headers) <= 4)


def race(requests):
    """Run the callables at the same moment, each on its own thread; returns their results."""
    barrier = threading.Barrier(len(requests))
    results = [None] * len(requests)

    def run(index, request):
        barrier.wait()
        results[index] = request()

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_concurrent_creates_of_one_name_give_one_201_and_one_409(app, auth_headers):
    headers = auth_headers("editor")

    def create(name):
        return lambda: app.test_client().post(
            "/api/images", json={"name": name, "imageAddress": "ubuntu:22.04"}, headers=headers).status_code

    assert sorted(race([create("Race Image"), create("race image")])) == [201, 409]
    listing = app.test_client().get("/api/images", headers=headers).get_json()["data"]
    assert listing["total"] == 1


def test_concurrent_creates_of_different_images_all_land(app, auth_headers):
    """No deadlock between creates (on InnoDB a DELETE of a new image's labels gap-locked them)."""
    headers = auth_headers("editor")

    def create(n):
        body = {"name": f"parallel {n}", "imageAddress": "ubuntu:22.04", "frameworks": ["PyTorch", f"fw{n}"],
                "applicableScopes": ["开发机"]}
        return lambda: app.test_client().post("/api/images", json=body, headers=headers).status_code

    for _ in range(3):
        assert race([create(f"{_}-{n}") for n in range(8)]) == [201] * 8


def test_concurrent_version_creates_on_one_image_all_land(app, auth_headers, make_image):
    headers = auth_headers("editor")
    image = make_image()

    def create(version):
        return lambda: app.test_client().post(
            f"/api/images/{image['id']}/versions", json={"version": version}, headers=headers).status_code

    assert race([create(f"v{n}") for n in range(8)]) == [201] * 8
    detail = app.test_client().get(f"/api/images/{image['id']}", headers=headers).get_json()["data"]
    assert detail["versionCount"] == 8


def test_upgrade_from_the_first_schema_keeps_existing_rows(app, client, auth_headers):
    first, *later = [name for name, _ in migrations.status(app.extensions["imagesvc.db"])]
    with app.app_context():
        runner = migrations.runner(db.obj)
        for name in reversed(later):
            runner.down(name)
        db.execute_sql(
            "INSERT INTO image (name, name_key, external_id, external_id_key, frameworks, applicable_scopes,"
            " chip_type, preset_cuda, description, image_address, status, type, version_count, revision,"
            " create_time, last_update_time) VALUES ('Old 镜像', 'old 镜像', 'old', 'old', '[\"PyTorch\"]', '[]',"
            " 'GPU', 0, '', 'ubuntu', 'online', 'public', 0, 1, '2025-01-15 10:30:00', '2025-01-15 10:30:00')")
        assert [n for n, applied in migrations.status(db.obj) if applied] == [first]
        migrations.upgrade(db.obj)
        assert all(applied for _, applied in migrations.status(db.obj))
        db.close()

    listing = client.get("/api/images", headers=auth_headers("reader")).get_json()["data"]
    assert [(i["name"], i["createTime"]) for i in listing["list"]] == [("Old 镜像", "2025-01-15T10:30:00Z")]


def test_upgrade_to_expiring_tokens_keeps_existing_tokens_which_never_expire(app, client, runner):
    old = "isv_" + "O" * 43
    with app.app_context():
        migrations.runner(db.obj).down("0004_token_expiry")
        db.execute_sql("INSERT INTO token (name, role, token_hash, created_at) VALUES"
                       f" ('old', 'editor', '{tokens.hash_token(old)}', '2025-01-15 10:30:00')")
        db.close()
    assert "0004_token_expiry" in runner.invoke(args=["db", "upgrade"]).output

    listing = runner.invoke(args=["token", "list"]).stdout.splitlines()
    assert client.get("/api/images", headers={"Authorization": f"Bearer {old}"}).status_code == 200
    assert listing[1].split() == ["old", "editor", "2025-01-15T10:30:00Z", "-", "-", "never"]


# ----- SQLite writers -----

@pytest.mark.sqlite_only
def test_a_sqlite_writer_waits_for_the_one_before_it_in_the_writer_queue(make_image, editor, another_app):
    """With no busy timeout at all, SQLite would refuse the second writer at once (503): it
    must wait its turn in imagesvc's writer queue instead, and succeed once the first is done."""
    image = make_image()
    impatient = another_app(SQLITE_BUSY_TIMEOUT=0)
    holding, release = threading.Event(), threading.Event()

    def hold_the_write_lock():
        with impatient.app_context(), db.atomic():
            db.execute_sql("UPDATE catalog_state SET image_count = image_count")
            holding.set()
            release.wait(10)
        db.close()

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    assert holding.wait(10)
    answers = []
    writer = threading.Thread(target=lambda: answers.append(impatient.test_client().put(
        f"/api/images/{image['id']}/status", json={"status": "offline"}, headers=editor)))
    writer.start()
    writer.join(0.3)  # the write is queued behind the holder meanwhile (if it has got that far)
    release.set()
    holder.join(10)
    writer.join(10)

    assert [answer.status_code for answer in answers] == [200]


# ----- MySQL connections: killed, and a server that goes away -----

def test_a_killed_connection_costs_no_failed_request(app, client, auth_headers, backend):
    if backend != "mysql":
        pytest.skip("MySQL only")
    headers = auth_headers("reader")
    assert client.get("/api/images", headers=headers).status_code == 200
    admin = connect_server(MYSQL_URL)
    with admin.cursor() as cursor:
        cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s", (MYSQL_DATABASE,))
        idle = [row[0] for row in cursor.fetchall()]
        assert idle, "the app should hold a pooled connection"
        for connection_id in idle:
            cursor.execute(f"KILL {connection_id}")
    admin.close()

    assert client.get("/api/images", headers=headers).status_code == 200


class Proxy:
    """A TCP proxy to MariaDB that can be stopped (the server is "down": open connections
    drop, new ones are refused) and started again on the same port."""

    def __init__(self):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.sockets = []

    def start(self):
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.running = False
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.listener.close()
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.sockets = []

    def _accept(self):
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.running:
                client.close()
                return
            upstream = socket.create_connection(("127.0.0.1", 3306))
            self.sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def proxied_app(app, backend):
    if backend != "mysql":
        pytest.skip("MySQL only")
    from imagesvc import create_app

    proxy = Proxy()
    proxy.start()
    proxied = create_app({"TESTING": True, "DATABASE_URL": f"mysql://root@127.0.0.1:{proxy.port}/{MYSQL_DATABASE}"})
    yield proxied, proxy
    proxied.extensions["imagesvc.db"].close_all()
    proxy.stop()


def test_a_database_that_goes_away_gives_503_and_recovers(proxied_app, auth_headers):
    proxied, proxy = proxied_app
    headers = auth_headers("reader")  # minted through the direct app, same database
    client = proxied.test_client()
    assert client.get("/api/images", headers=headers).status_code == 200

    proxy.stop()
    down = client.get("/api/images", headers=headers)
    assert_error(down, 503, "SERVICE_UNAVAILABLE")
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200

    proxy.start()
    assert client.get("/api/images", headers=headers).status_code == 200
    assert client.get("/readyz").status_code == 200


def assert_list_entries_current(app):
    """Every image's stored list entry is what its columns show now."""
    with app.app_context():
        images = list(Image.select())
        db.close()
    assert images
    for image in images:
        assert image.list_entry is not None, image.name
        assert json.loads(image.list_entry) == ImageSummarySchema().dump(image), image.name


def test_every_kind_of_write_leaves_each_image_list_entry_as_its_columns_show_it(
        app, client, auth_headers, make_image, make_version):
    editor, admin = auth_headers("editor"), auth_headers("admin")
    image = make_image(frameworks=["PyTorch"])
    assert_list_entries_current(app)
    client.put(f"/api/images/{image['id']}", json={"frameworks": ["JAX"], "description": "新的"}, headers=editor)
    assert_list_entries_current(app)
    client.put(f"/api/images/{image['id']}/status", json={"status": "online"}, headers=editor)
    assert_list_entries_current(app)
    make_version(image["id"], "1.0")
    assert_list_entries_current(app)
    client.delete(f"/api/images/{image['id']}/versions/1.0", headers=editor)
    assert_list_entries_current(app)
    exported = client.get("/api/catalog/export", headers=admin).get_json()["data"]
    entry = exported["images"][0]
    created = {**entry, "name": "Imported", "imageId": "imported", "versions": [{"version": "2.0"}]}
    updated = {**entry, "description": "导入的", "versions": [{"version": "3.0"}]}
    answer = client.post("/api/catalog/import", json={**exported, "images": [created, updated]}, headers=admin)
    assert answer.get_json()["data"]["created"] == 1 and answer.get_json()["data"]["updated"] == 1
    assert_list_entries_current(app)


def test_an_image_without_a_list_entry_is_listed_from_its_columns_until_upgrade_writes_it(
        app, client, runner, read_data, image):
    shown = {key: value for key, value in read_data(f"/api/images/{image['id']}").items() if key != "introduction"}
    with app.app_context():
        Image.update(list_entry=None).execute()  # as a row written by another program
        db.close()
    assert read_data("/api/images")["list"] == [shown]

    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0 and "wrote the list entries of 1 images" in result.output
    assert_list_entries_current(app)
    assert read_data("/api/images")["list"] == [shown]


@pytest.mark.parametrize("introduction", [None, '## 介绍\n"引号" \\ </script>'])
def test_an_image_is_answered_as_its_schema_dumps_it_with_or_without_its_list_entry(
        app, client, reader, make_image, introduction):
    image = make_image(introduction=introduction, frameworks=["PyTorch"], icon="图标")
    with app.app_context():
        expected = encode({"success": True, "data": ImageSchema().dump(Image.get_by_id(int(image["id"])))})
        db.close()
    assert client.get(f"/api/images/{image['id']}", headers=reader).data.decode() == expected + "\n"

    with app.app_context():
        Image.update(list_entry=None).execute()  # as a row written by another program
        db.close()
    assert client.get(f"/api/images/{image['id']}", headers=reader).data.decode() == expected + "\n"
