"""Every list answer is exact through every kind of write: totals, members and order agree with
the tables themselves, read here with plain queries, on both backends, whether the writes were
made by the same app or by another one (another worker, with a search index of its own)."""

import datetime
import importlib
import itertools
import sqlite3

import pytest

from imagesvc import search
from imagesvc.db import db
from imagesvc.models import FRAMEWORK, SCOPE, Image, ImageLabel, Version, VersionArchitecture, fold
from imagesvc.search import names

# Query parameters -> what the oracle tests of each image.
FILTERS = {
    "framework": "PyTorch",
    "applicableScope": "开发机",
    "chipType": "NPU",
    "status": "online",
    "type": "public",
    "pythonVersion": "3",
    "cudaVersion": "12.1",
    "architecture": "arm64",
    "name": "Torch",
}
# Every filter alone, every pair, and all of them; each sort and order.
# Name terms read through SQLite's trigram index: of three characters or more (FTS5 syntax and
# LIKE wildcards literal), of two (in names of three or more, at their start, middle or end, and
# a name of two); and of one, without it.
NAME_TERMS = ("训练", "h 2.5", "TORCHV", "5%", "t_v", "mindspore npu", '"q" or', "torch*", "v (", "pl", "练", "x")
QUERIES = [{}, *({key: FILTERS[key]} for key in FILTERS),
           *(dict(pair) for pair in itertools.combinations(FILTERS.items(), 2)), dict(FILTERS),
           *({"name": term} for term in NAME_TERMS)]
SORTS = [("lastUpdateTime", "desc"), ("createTime", "asc"), ("name", "asc"), ("name", "desc")]


def same_or_finer(version, wanted):
    return version is not None and (version == wanted or version.startswith(wanted + "."))


class Oracle:
    """The ids each list must answer, from the tables read with plain queries."""

    def __init__(self):
        self.images = list(Image.select())
        self.labels = {(label.image_id, label.kind, label.key) for label in ImageLabel.select()}
        self.versions = list(Version.select())
        self.architectures = {(row.image_id, row.architecture) for row in VersionArchitecture.select()}

    def has_version(self, image, column, wanted):
        return any(version.image_id == image.id and same_or_finer(getattr(version, column), wanted)
                   for version in self.versions)

    def matches(self, image, key, value):
        return {
            "framework": lambda: (image.id, FRAMEWORK, fold(value)) in self.labels,
            "applicableScope": lambda: (image.id, SCOPE, fold(value)) in self.labels,
            "chipType": lambda: image.chip_type == value,
            "status": lambda: image.status == value,
            "type": lambda: image.type == value,
            "pythonVersion": lambda: self.has_version(image, "python_version", value),
            "cudaVersion": lambda: self.has_version(image, "cuda_version", value),
            "architecture": lambda: (image.id, value) in self.architectures,
            "name": lambda: fold(value) in image.name_key,
        }[key]()

    def ids(self, query, sort_by, order):
        column = {"lastUpdateTime": "last_update_time", "createTime": "create_time", "name": "name_key"}[sort_by]
        found = [image for image in self.images
                 if all(self.matches(image, key, value) for key, value in query.items())]
        found.sort(key=lambda image: (getattr(image, column), image.id), reverse=order == "desc")
        return [image.id for image in found]


def assert_lists_exact(app, client, headers):
    with app.app_context():
        oracle = Oracle()
        for query in QUERIES:
            for sort_by, order in SORTS:
                expected = oracle.ids(query, sort_by, order)
                params = {**query, "sortBy": sort_by, "order": order, "pageSize": 100}
                data = client.get("/api/images", query_string=params, headers=headers).get_json()["data"]
                assert (data["total"], [int(item["id"]) for item in data["list"]]) == (len(expected), expected), params
                if len(expected) > 3:  # a page from the far end is read backwards and turned round
                    params.update(pageSize=2, pageNo=(len(expected) + 1) // 2)
                    data = client.get("/api/images", query_string=params, headers=headers).get_json()["data"]
                    start = (params["pageNo"] - 1) * 2
                    assert [int(item["id"]) for item in data["list"]] == expected[start:start + 2], params
        db.close()


def assert_pages_exact(app, client, headers, query, sort_by, order, size=3):
    """Every page of the list, ``size`` images each, holds what the tables say, in order."""
    with app.app_context():
        expected = Oracle().ids(query, sort_by, order)
        db.close()
    listed = []
    for page_no in range(1, len(expected) // size + 2):
        params = {**query, "sortBy": sort_by, "order": order, "pageSize": size, "pageNo": page_no}
        data = client.get("/api/images", query_string=params, headers=headers).get_json()["data"]
        assert data["total"] == len(expected), params
        listed += [int(item["id"]) for item in data["list"]]
    assert listed == expected, (query, sort_by, order)


@pytest.fixture(params=["sorted", "walked"])
def readers(request, monkeypatch, app, client, another_app, auth_headers):
    """Check every list through this app and through another one on the same database; with the
    few matches a test has sorted by their time (as the index does with few), or found by a walk
    through blocks of two ids (as it does with many)."""
    if request.param == "walked":
        monkeypatch.setattr(search.pages, "SORT_AT_MOST", 0)
        monkeypatch.setattr(search.pages, "BLOCK", 2)
    other = another_app(RESPONSE_CACHE_MB=0)
    headers = auth_headers("reader")

    def check():
        assert_lists_exact(app, client, headers)
        assert_lists_exact(other, other.test_client(), headers)

    return check


@pytest.mark.config(RESPONSE_CACHE_MB=0)
def test_lists_stay_exact_through_every_kind_of_write(client, editor, auth_headers, make_image, make_version,
                                                      readers):
    torch = make_image(name="PyTorch 2.5 训练", frameworks=["PyTorch"], applicableScopes=["开发机"], status="online",
                       type="public")
    npu = make_image(name="MindSpore NPU", chipType="NPU", frameworks=["MindSpore"],
                     applicableScopes=["开发机", "推理"])
    plain = make_image(name="plain torchvision 5% t_v (\"Q\" OR torch*)", status="online")
    make_image(name="训练", frameworks=["PyTorch"])
    readers()

    make_version(torch["id"], "v1", pythonVersion="3.10", cudaVersion="12.1.1", architectures=["amd64", "arm64"])
    make_version(npu["id"], "v1", pythonVersion="3.9", architectures=["arm64"])
    readers()

    def put(path, body):
        response = client.put(path, json=body, headers=editor)
        assert response.status_code == 200, response.get_json()

    put(f"/api/images/{plain['id']}", {"frameworks": ["pytorch"], "applicableScopes": ["开发机"], "name": "Plain"})
    put(f"/api/images/{npu['id']}/status", {"status": "online"})
    put(f"/api/images/{torch['id']}/status", {"status": "offline"})
    readers()

    assert client.delete(f"/api/images/{torch['id']}/versions/v1", headers=editor).status_code == 200
    assert client.delete(f"/api/images/{plain['id']}", headers=editor).status_code == 200
    readers()

    catalog = {"format": "imagesvc-catalog", "version": 1, "images": [
        {"imageId": npu["imageId"], "name": "MindSpore NPU", "imageAddress": "r.example.com/ms:1", "chipType": "NPU",
         "frameworks": ["PyTorch"], "applicableScopes": ["开发机"], "status": "online", "type": "public",
         "versions": [{"version": "v2", "pythonVersion": "3.11", "cudaVersion": "12.1", "architectures": ["arm64"]}]},
        {"imageId": "imported", "name": "imported torch", "imageAddress": "r.example.com/it:1", "status": "online",
         "frameworks": ["PyTorch"], "versions": [{"version": "1", "pythonVersion": "3.12"}]},
    ]}
    response = client.post("/api/catalog/import?prune=true", json=catalog, headers=auth_headers("admin"))
    assert response.status_code == 200, response.get_json()
    readers()


@pytest.mark.config(RESPONSE_CACHE_MB=0)
@pytest.mark.parametrize("sort_cost", [0, 10**9], ids=["block-matches-sorted", "block-scanned"])
def test_pages_by_time_stay_exact_as_writes_move_images_between_blocks(app, client, editor, auth_headers, make_image,
                                                                      monkeypatch, sort_cost):
    """Orders in blocks of two ids: status changes take images out of their blocks (emptying
    some) and put them at the newest end of the order by update time (growing its last block
    until it splits), or back where they were by create time; each block's bitmap must follow.
    The page's ids in a block are found by sorting its matches by time, or by a scan."""
    monkeypatch.setattr(search.pages, "SORT_AT_MOST", 0)
    monkeypatch.setattr(search.pages, "BLOCK", 2)
    monkeypatch.setattr(search.pages, "SORT_COST", sort_cost)
    ids = [make_image(chipType="NPU" if n % 2 else "GPU")["id"] for n in range(12)]
    with app.app_context():
        for n, image_id in enumerate(ids):  # distinct times, in neither id order nor each other's
            created, updated = datetime.datetime(2000 + n * 7 % 12, 1, 1), datetime.datetime(2000 + n * 5 % 12, 1, 1)
            # As another program writes the row: its list entry goes too.
            Image.update(create_time=created, last_update_time=updated, list_entry=None).where(
                Image.id == image_id).execute()
        db.close()
    headers = auth_headers("reader")

    def check():
        for query in ({}, {"chipType": "NPU"}, {"status": "online"}):
            for sort_by, order in (("lastUpdateTime", "desc"), ("lastUpdateTime", "asc"), ("createTime", "desc")):
                assert_pages_exact(app, client, headers, query, sort_by, order)

    check()
    for image_id in ids[::3] + ids[1::3]:
        response = client.put(f"/api/images/{image_id}/status", json={"status": "online"}, headers=editor)
        assert response.status_code == 200, response.get_json()
        check()


def test_a_two_character_term_finds_names_given_after_the_index_was_loaded(client, auth_headers, editor, make_image):
    """On SQLite such a term is found through the trigrams that hold it, listed when the index
    loads: a name created or renamed since brings its own, each asked here for the first time."""
    headers = auth_headers("reader")
    first = make_image(name="first image")
    assert client.get("/api/images", headers=headers).get_json()["data"]["total"] == 1  # loads the index

    def named(term):
        return [item["name"] for item in client.get("/api/images", query_string={"name": term},
                                                    headers=headers).get_json()["data"]["list"]]

    make_image(name="模型微调 v1")
    assert named("微调") == ["模型微调 v1"]
    response = client.put(f"/api/images/{first['id']}", json={"name": "其他调优"}, headers=editor)
    assert response.status_code == 200, response.get_json()
    assert named("调优") == ["其他调优"]


def test_mysql_name_search_finds_what_a_substring_test_finds_through_renames_and_deletes(monkeypatch):
    monkeypatch.setattr(names, "BLOCK_IDS", 4)  # many blocks, so a change rewrites one of several
    held = {image_id: fold(name) for image_id, name in enumerate(
        ["PyTorch 2.5", "训练镜像 torch", "t_v 5%", "a\nb", "tensorflow", "pytorch（gpu）", "x"] * 3, start=1)}
    search = names.NameSearch(held)
    terms = ["torch", "训练", "t_v", "5%", "\n", "a\nb", "（gpu）", "x", "py", "nothing", "h 2"]

    def assert_agrees():
        for term in terms:
            assert set(search.find(term)) == {i for i, name in held.items() if term in name}, term

    assert_agrees()
    renamed = {2: "renamed", 7: "now torch", 30: "new torch"}
    search.update(renamed, {3, 4, 5, 6})
    held.update(renamed)
    for image_id in (3, 4, 5, 6):
        del held[image_id]
    assert_agrees()


def test_sqlite_trigram_index_holds_every_character_a_folded_name_can_hold_as_it_is():
    """SQLite's trigram index folds case once more, by its own tables. A name term is found from
    the trigrams it holds, as the index lists them, and with a phrase MATCH on them, which reads
    no name (search/reads.py): exact only while that folding changes no character that Python's
    folding leaves. Every character with a case lies below U+20000. U+FFFE and U+FFFF are left
    out: SQLite reads both as U+FFFD, in LIKE too."""
    name_index = importlib.import_module("imagesvc.migrations.0006_sqlite_name_trigrams")
    trigram_list = importlib.import_module("imagesvc.migrations.0008_sqlite_name_trigram_list")
    database = sqlite3.connect(":memory:")
    database.execute("CREATE TABLE image (id INTEGER PRIMARY KEY, name_key TEXT)")
    for statement in (*name_index.STATEMENTS, trigram_list.CREATE):
        database.execute(statement)
    folded = {chr(code).casefold() for code in range(0x20000)
              if not 0xD800 <= code < 0xE000 and code not in (0, 0xFFFE, 0xFFFF)}
    names = [f"a{character}b" for character in folded if len(character) == 1]
    database.executemany("INSERT INTO image (name_key) VALUES (?)", [(name,) for name in names])
    assert {term for (term,) in database.execute("SELECT term FROM image_name_trigrams")} == set(names)
