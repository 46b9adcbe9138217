"""The catalog as a file: `imagesvc catalog export|import` and /api/catalog/export|import (issue 5).

Tests where storage cannot change the outcome (validation, roles, output shapes) are marked
``sqlite_only``; every test that reads or writes what the database decides runs on both backends.
"""

import json
import pathlib

import pytest

from imagesvc.schemas import CatalogSchema

from .conftest import assert_error

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "catalog.json"
WRITABLE_FIELDS = {"name", "imageId", "frameworks", "applicableScopes", "chipType", "presetCuda", "description",
                   "imageAddress", "status", "type", "icon", "introduction", "paperUrl", "codeUrl", "license"}
VERSION_FIELDS = {"version", "imageAddress", "size", "pythonVersion", "cudaVersion", "description",
                  "architectures", "createTime"}


def entry(image_id, **overrides):
    """A minimal catalog entry for ``image_id``."""
    return {"name": f"Image {image_id}", "imageId": image_id,
            "imageAddress": f"registry.example.com/team/{image_id.lower()}:1.0", **overrides}


def document(*entries):
    return {"format": "imagesvc-catalog", "version": 1, "images": list(entries)}


def file_text(doc):
    """A catalog file as the CLI prints it."""
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


@pytest.fixture
def catalog_file(tmp_path):
    """Write a catalog document (or raw text) to a file; returns its path."""
    counter = iter(range(1, 1000))

    def write(doc):
        path = tmp_path / f"catalog-{next(counter)}.json"
        path.write_text(doc if isinstance(doc, str) else file_text(doc), encoding="utf-8")
        return str(path)

    return write


@pytest.fixture
def cli_import(runner, catalog_file):
    """``imagesvc catalog import FILE [flags]`` on a document; returns click's result."""

    def run(doc, *flags):
        return runner.invoke(args=["catalog", "import", catalog_file(doc), *flags])

    return run


@pytest.fixture
def cli_export(runner):
    """``imagesvc catalog export [flags]``; returns its stdout."""

    def run(*flags):
        result = runner.invoke(args=["catalog", "export", *flags])
        assert result.exit_code == 0, result.output
        return result.stdout

    return run


@pytest.fixture
def http_import(client, auth_headers):
    def post(doc, query="", role="admin"):
        return client.post(f"/api/catalog/import{query}", json=doc, headers=auth_headers(role))

    return post


@pytest.fixture
def exported(read_data):
    """The catalog as GET /api/catalog/export returns it (``data``)."""

    def get(query=""):
        return read_data(f"/api/catalog/export{query}")

    return get


@pytest.fixture
def change_count(read_data):
    """How many Change rows the catalog's history holds (GET /api/audit)."""

    def count():
        return read_data("/api/audit", "admin")["total"]

    return count


def image_ids(catalog):
    return [image["imageId"] for image in catalog["images"]]


# ----- export -----

def test_export_prints_the_catalog_file_with_each_images_writable_fields_and_versions(
        cli_export, make_image, make_version):
    image = make_image(imageId="torch", name="PyTorch", status="online", frameworks=["PyTorch"])
    make_version(image["id"], "v1", pythonVersion="3.10", cudaVersion="12.1", architectures=["amd64"],
                 createTime="2024-01-01T00:00:00Z")

    catalog = json.loads(cli_export())

    assert catalog["format"] == "imagesvc-catalog"
    assert catalog["version"] == 1
    [item] = catalog["images"]
    assert set(item) == WRITABLE_FIELDS | {"versions"}
    assert (item["imageId"], item["status"], item["frameworks"]) == ("torch", "online", ["PyTorch"])
    [version] = item["versions"]
    assert set(version) == VERSION_FIELDS
    assert version["createTime"] == "2024-01-01T00:00:00Z"


@pytest.mark.sqlite_only
def test_export_output_is_indented_json_keeping_chinese_unescaped(cli_export, make_image):
    make_image(imageId="dev", name="开发机镜像", applicableScopes=["开发机"])

    text = cli_export()

    assert text == file_text(json.loads(text))
    assert "开发机镜像" in text


def test_export_lists_images_by_image_id_and_versions_oldest_first(cli_export, make_image, make_version):
    second = make_image(imageId="b-image")
    make_image(imageId="A-image")
    make_version(second["id"], "new", createTime="2024-06-01T00:00:00Z")
    make_version(second["id"], "old", createTime="2023-06-01T00:00:00Z")

    catalog = json.loads(cli_export())

    assert image_ids(catalog) == ["A-image", "b-image"]
    assert [v["version"] for v in catalog["images"][1]["versions"]] == ["old", "new"]


@pytest.mark.sqlite_only
def test_export_filters_by_status_and_type(cli_export, exported, make_image):
    make_image(imageId="on-public", status="online", type="public")
    make_image(imageId="on-custom", status="online", type="custom")
    make_image(imageId="off-public", status="offline", type="public")

    assert image_ids(json.loads(cli_export("--status", "online", "--type", "public"))) == ["on-public"]
    assert image_ids(exported("?status=online&type=public")) == ["on-public"]
    assert image_ids(exported("?status=online")) == ["on-custom", "on-public"]


@pytest.mark.sqlite_only
def test_export_over_http_is_the_file_the_cli_prints(cli_export, exported, make_image, make_version):
    image = make_image(imageId="torch", name="PyTorch 训练")
    make_version(image["id"], "v1", size="2.5GB")

    assert exported() == json.loads(cli_export())


@pytest.mark.sqlite_only
def test_export_with_an_invalid_filter_is_422(client, auth_headers):
    answers = {}

    for field, value in (("status", "live"), ("type", "private")):
        response = client.get(f"/api/catalog/export?{field}={value}", headers=auth_headers("reader"))
        answers[field] = list(assert_error(response, 422, "VALIDATION_ERROR", errors=True)["errors"])

    assert answers == {"status": ["status"], "type": ["type"]}


@pytest.mark.sqlite_only
def test_export_from_the_cli_with_an_invalid_filter_is_a_usage_error(runner):
    result = runner.invoke(args=["catalog", "export", "--status", "live"])

    assert result.exit_code == 2
    assert result.stdout == ""


@pytest.mark.sqlite_only
def test_export_of_an_empty_catalog_has_no_images(exported):
    assert exported() == {"format": "imagesvc-catalog", "version": 1, "images": []}


# ----- round trip and idempotence -----

def test_export_then_import_into_an_empty_catalog_then_export_is_identical(
        client, auth_headers, cli_export, cli_import, make_image, make_version, exported):
    torch = make_image(imageId="torch", name="PyTorch 2.1", frameworks=["PyTorch"], applicableScopes=["开发机"],
                       status="online", type="public", presetCuda=True, introduction="# 介绍\n多行",
                       codeUrl="https://github.com/pytorch/pytorch", license="BSD-3-Clause")
    make_version(torch["id"], "2.1.0", size="8GB", pythonVersion="3.10", cudaVersion="12.1",
                 architectures=["amd64", "arm64"], createTime="2024-01-01T00:00:00Z")
    make_version(torch["id"], "2.1.1", imageAddress="pytorch/pytorch:2.1.1", createTime="2024-02-01T00:00:00Z")
    ubuntu = make_image(imageId="ubuntu", name="Ubuntu CPU", chipType="CPU", status="offline")
    first = cli_export()
    for image in (torch, ubuntu):
        assert client.delete(f"/api/images/{image['id']}", headers=auth_headers("editor")).status_code == 200
    assert exported()["images"] == []

    result = cli_import(first)

    assert result.exit_code == 0, result.output
    assert cli_export() == first


def test_second_import_of_the_same_file_counts_everything_unchanged_and_writes_nothing(
        client, auth_headers, cli_import, cli_export, change_count, make_image):
    make_image(imageId="existing")
    doc = document(entry("alpha", versions=[{"version": "v1", "createTime": "2024-01-01T00:00:00Z"}]),
                   entry("beta", status="online"), entry("existing", name="Existing", description="desc"))
    assert cli_import(doc).exit_code == 0
    before, changes = cli_export(), change_count()
    etag = client.get("/api/images/feed", headers=auth_headers("reader")).headers["ETag"]

    result = cli_import(doc)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "0 created, 0 updated, 3 unchanged, 0 deleted"
    assert change_count() == changes
    assert cli_export() == before
    assert client.get("/api/images/feed", headers=auth_headers("reader")).headers["ETag"] == etag


@pytest.mark.sqlite_only
def test_second_import_over_http_counts_everything_unchanged(http_import, change_count):
    doc = document(entry("alpha"), entry("beta", versions=[{"version": "v1"}]))
    assert http_import(doc).status_code == 200
    changes = change_count()

    response = http_import(doc)

    assert response.status_code == 200
    assert response.get_json()["data"] == {"created": 0, "updated": 0, "unchanged": 2, "deleted": 0,
                                           "dryRun": False}
    assert change_count() == changes


# ----- upsert -----

def test_import_creates_new_updates_changed_and_leaves_identical_images(cli_import, exported):
    assert cli_import(document(entry("same"), entry("changed"))).exit_code == 0

    result = cli_import(document(entry("same"), entry("changed", description="新的描述"), entry("new")))

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "1 created, 1 updated, 1 unchanged, 0 deleted"
    by_id = {image["imageId"]: image for image in exported()["images"]}
    assert set(by_id) == {"same", "changed", "new"}
    assert by_id["changed"]["description"] == "新的描述"


@pytest.mark.sqlite_only
def test_import_over_http_answers_the_counts_with_a_message(http_import):
    response = http_import(document(entry("alpha"), entry("beta")))

    body = response.get_json()
    assert response.status_code == 200
    assert body["success"] is True
    assert body["message"] == "导入完成"
    assert body["data"] == {"created": 2, "updated": 0, "unchanged": 0, "deleted": 0, "dryRun": False}


def test_import_creates_images_with_their_versions(client, auth_headers, http_import):
    versions = [{"version": "v1", "cudaVersion": "12.1", "architectures": ["arm64"]}, {"version": "v2"}]
    http_import(document(entry("alpha", status="online", frameworks=["PyTorch"], versions=versions)))

    [image] = client.get("/api/images", headers=auth_headers("reader")).get_json()["data"]["list"]
    listed = client.get(f"/api/images/{image['id']}/versions", headers=auth_headers("reader")).get_json()["data"]
    assert (image["imageId"], image["status"], image["frameworks"]) == ("alpha", "online", ["PyTorch"])
    assert image["versionCount"] == 2
    assert {v["version"] for v in listed["list"]} == {"v1", "v2"}
    assert {v["version"]: v["imageAddress"] for v in listed["list"]}["v2"] == "registry.example.com/team/alpha:1.0"


def test_import_adds_new_versions_to_an_existing_image_and_keeps_the_old_ones(
        client, auth_headers, http_import, make_image, make_version):
    image = make_image(imageId="alpha", name="Image alpha", imageAddress="registry.example.com/team/alpha:1.0")
    make_version(image["id"], "v1", createTime="2024-01-01T00:00:00Z")

    response = http_import(document(entry("alpha", versions=[{"version": "V1"}, {"version": "v2"}])))

    assert response.get_json()["data"]["updated"] == 1
    versions = client.get(f"/api/images/{image['id']}/versions", headers=auth_headers("reader")).get_json()["data"]
    assert [v["version"] for v in versions["list"]] == ["v2", "v1"]
    assert versions["total"] == 2
    detail = client.get(f"/api/images/{image['id']}", headers=auth_headers("reader")).get_json()["data"]
    assert detail["versionCount"] == 2


def test_import_matches_existing_images_by_image_id_ignoring_case(http_import, exported, make_image):
    make_image(imageId="Alpha", name="Image alpha", imageAddress="registry.example.com/team/alpha:1.0")

    response = http_import(document(entry("alpha")))

    assert response.get_json()["data"] == {"created": 0, "updated": 1, "unchanged": 0, "deleted": 0,
                                           "dryRun": False}
    assert image_ids(exported()) == ["alpha"]


@pytest.mark.sqlite_only
def test_import_keeps_the_image_id_and_server_id_of_an_updated_image(client, auth_headers, http_import, make_image):
    image = make_image(imageId="alpha", name="Old name")

    http_import(document(entry("alpha", name="New name")))

    detail = client.get(f"/api/images/{image['id']}", headers=auth_headers("reader"))
    assert detail.status_code == 200
    assert detail.get_json()["data"]["name"] == "New name"


def test_import_keeps_the_list_filters_and_total_in_step(client, auth_headers, http_import, make_image):
    make_image(imageId="moved", name="Image moved", imageAddress="registry.example.com/team/moved:1.0",
               applicableScopes=["开发机"])
    make_image(imageId="pruned")

    http_import(document(entry("moved", applicableScopes=["分布式训练"]), entry("new", applicableScopes=["开发机"])),
                query="?prune=true")

    def listed(query=""):
        data = client.get(f"/api/images?pageSize=100{query}", headers=auth_headers("reader")).get_json()["data"]
        return data["total"], sorted(image["imageId"] for image in data["list"])

    assert listed() == (2, ["moved", "new"])
    assert listed("&applicableScope=开发机") == (1, ["new"])
    assert listed("&applicableScope=分布式训练") == (1, ["moved"])


# ----- a bad file writes nothing -----

@pytest.mark.sqlite_only
def test_a_bad_entry_rejects_the_whole_file_over_the_cli_naming_the_entry(cli_import, exported, change_count):
    result = cli_import(document(entry("good"), entry("also-good"), entry("bad", name="")))

    assert result.exit_code == 1
    assert "images[2].name" in result.stderr
    assert "nothing was written" in result.stderr
    assert exported()["images"] == []
    assert change_count() == 0


@pytest.mark.sqlite_only
def test_a_bad_entry_rejects_the_whole_file_over_http_naming_the_entry(http_import, exported, change_count):
    response = http_import(document(entry("good"), entry("bad", imageAddress="Image:Tag")))

    body = assert_error(response, 422, "VALIDATION_ERROR", errors=True)
    assert list(body["errors"]) == ["images[1].imageAddress"]
    assert exported()["images"] == []
    assert change_count() == 0


@pytest.mark.sqlite_only
def test_a_bad_entry_leaves_existing_images_untouched(http_import, exported, make_image):
    make_image(imageId="keep", name="Keep", description="before")
    before = exported()

    response = http_import(document(entry("keep", name="Keep", description="after"), entry("bad", chipType="TPU")),
                           query="?prune=true")

    assert response.status_code == 422
    assert "images[1].chipType" in response.get_json()["errors"]
    assert exported() == before


@pytest.mark.sqlite_only
def test_a_bad_version_is_named_by_its_path_in_the_file(http_import):
    versions = [{"version": "v1"}, {"version": "v2", "cudaVersion": "twelve"}]

    response = http_import(document(entry("alpha"), entry("beta", versions=versions)))

    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["images[1].versions[1].cudaVersion"]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("field", ["imageId", "name"])
def test_two_entries_with_the_same_image_id_or_name_ignoring_case_are_refused(http_import, exported, field):
    first, second = entry("alpha"), entry("beta")
    second[field] = first[field].upper()

    response = http_import(document(first, second))

    assert response.status_code == 422
    assert f"images[1].{field}" in response.get_json()["errors"]
    assert exported()["images"] == []


@pytest.mark.sqlite_only
def test_two_versions_of_one_entry_equal_ignoring_case_are_refused_naming_the_second(http_import, exported):
    response = http_import(document(entry("alpha", versions=[{"version": "v1"}, {"version": "V1"}])))

    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["images[0].versions[1].version"]
    assert exported()["images"] == []


@pytest.mark.sqlite_only
def test_an_entry_without_an_image_id_is_refused(http_import):
    doc = document({"name": "No id", "imageAddress": "ubuntu"})

    response = http_import(doc)

    assert response.status_code == 422
    assert "images[0].imageId" in response.get_json()["errors"]


@pytest.mark.sqlite_only
def test_an_unknown_field_in_an_entry_is_refused(http_import):
    response = http_import(document(entry("alpha", colour="blue")))

    assert response.status_code == 422
    assert "images[0].colour" in response.get_json()["errors"]


@pytest.mark.sqlite_only
def test_a_file_that_is_not_a_version_1_catalog_is_refused(http_import):
    files = {
        "format": {"format": "something-else", "version": 1, "images": []},
        "version": {"format": "imagesvc-catalog", "version": 2, "images": []},
        "images": {"format": "imagesvc-catalog", "version": 1},
    }
    answers = {}

    for field, doc in files.items():
        response = http_import(doc)
        answers[field] = (response.status_code, list(response.get_json()["errors"]))

    assert answers == {field: (422, [field]) for field in files}


@pytest.mark.sqlite_only
def test_a_file_that_is_not_json_is_refused_by_the_cli(cli_import, exported):
    result = cli_import("{not json")

    assert result.exit_code == 1
    assert "not a JSON file" in result.stderr
    assert exported()["images"] == []


def test_a_name_clashing_with_another_existing_image_is_409_naming_the_entry(http_import, exported, make_image):
    make_image(imageId="taken", name="Taken Name")
    before = exported()

    response = http_import(document(entry("fresh"), entry("other", name="taken name")))

    body = assert_error(response, 409, "CONFLICT", errors=True)
    assert list(body["errors"]) == ["images[1].name"]
    assert exported() == before


@pytest.mark.sqlite_only
def test_a_name_clash_over_the_cli_names_the_entry_and_writes_nothing(cli_import, exported, change_count, make_image):
    make_image(imageId="taken", name="Taken Name")
    before, changes = exported(), change_count()

    result = cli_import(document(entry("fresh"), entry("taken", name="Taken Name"), entry("other", name="TAKEN NAME")))

    assert result.exit_code == 1
    assert "images[2].name" in result.stderr
    assert exported() == before
    assert change_count() == changes


# ----- prune and dry run -----

@pytest.mark.sqlite_only
def test_prune_deletes_images_missing_from_the_file(cli_import, exported, make_image):
    make_image(imageId="keep", name="Image keep", imageAddress="registry.example.com/team/keep:1.0")
    make_image(imageId="drop")

    result = cli_import(document(entry("keep"), entry("new")), "--prune")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "1 created, 0 updated, 1 unchanged, 1 deleted"
    assert image_ids(exported()) == ["keep", "new"]


@pytest.mark.sqlite_only
def test_without_prune_images_missing_from_the_file_stay(cli_import, exported, make_image):
    make_image(imageId="stay")

    result = cli_import(document(entry("new")))

    assert result.stdout.strip() == "1 created, 0 updated, 0 unchanged, 0 deleted"
    assert image_ids(exported()) == ["new", "stay"]


def test_prune_over_http_deletes_the_image_with_its_versions(client, auth_headers, http_import, make_image,
                                                             make_version):
    doomed = make_image(imageId="drop")
    make_version(doomed["id"], "v1")

    response = http_import(document(), query="?prune=true")

    assert response.get_json()["data"]["deleted"] == 1
    assert client.get(f"/api/images/{doomed['id']}", headers=auth_headers("reader")).status_code == 404
    assert client.get(f"/api/images/{doomed['id']}/versions", headers=auth_headers("reader")).status_code == 404


def test_dry_run_counts_everything_but_writes_nothing(cli_import, exported, change_count, make_image):
    make_image(imageId="changed", name="Before")
    make_image(imageId="drop")
    before, changes = exported(), change_count()

    result = cli_import(document(entry("changed", name="After"), entry("new")), "--dry-run", "--prune")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1 created, 1 updated, 0 unchanged, 1 deleted")
    assert exported() == before
    assert change_count() == changes


@pytest.mark.sqlite_only
def test_dry_run_over_http_counts_everything_but_writes_nothing(http_import, exported, change_count, make_image):
    make_image(imageId="drop")
    before, changes = exported(), change_count()

    response = http_import(document(entry("new"), entry("other")), query="?dryRun=true&prune=true")

    assert response.status_code == 200
    assert response.get_json()["data"] == {"created": 2, "updated": 0, "unchanged": 0, "deleted": 1,
                                           "dryRun": True}
    assert exported() == before
    assert change_count() == changes


@pytest.mark.sqlite_only
def test_dry_run_still_refuses_a_bad_file(http_import):
    response = http_import(document(entry("bad", status="live")), query="?dryRun=true")

    assert response.status_code == 422
    assert "images[0].status" in response.get_json()["errors"]


@pytest.mark.sqlite_only
def test_dry_run_still_reports_a_name_clash(http_import, make_image):
    make_image(imageId="taken", name="Taken")

    response = http_import(document(entry("other", name="Taken")), query="?dryRun=true")

    assert response.status_code == 409
    assert list(response.get_json()["errors"]) == ["images[0].name"]


# ----- the example catalog -----

def test_example_catalog_is_a_valid_catalog_file_of_about_twenty_images():
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))

    loaded = CatalogSchema().load(doc)

    assert 15 <= len(loaded["images"]) <= 30


def test_example_catalog_is_written_as_the_cli_prints_files():
    text = EXAMPLE.read_text(encoding="utf-8")

    assert text == file_text(json.loads(text))


def test_example_catalog_imports_cleanly_and_exports_byte_for_byte(runner, cli_export):
    count = len(json.loads(EXAMPLE.read_text(encoding="utf-8"))["images"])

    result = runner.invoke(args=["catalog", "import", str(EXAMPLE)])

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{count} created, 0 updated, 0 unchanged, 0 deleted"
    assert cli_export().encode("utf-8") == EXAMPLE.read_bytes()


@pytest.mark.sqlite_only
def test_example_catalog_imports_over_http_and_exports_the_same(http_import, exported):
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))

    response = http_import(doc)

    assert response.status_code == 200
    assert response.get_json()["data"]["created"] == len(doc["images"])
    assert exported() == doc


@pytest.mark.sqlite_only
def test_example_catalog_imported_twice_is_unchanged_the_second_time(runner):
    runner.invoke(args=["catalog", "import", str(EXAMPLE)])

    result = runner.invoke(args=["catalog", "import", str(EXAMPLE)])

    count = len(json.loads(EXAMPLE.read_text(encoding="utf-8"))["images"])
    assert result.stdout.strip() == f"0 created, 0 updated, {count} unchanged, 0 deleted"


# ----- --if-new -----

@pytest.mark.sqlite_only
def test_if_new_imports_into_a_never_used_catalog(cli_import, exported):
    result = cli_import(document(entry("alpha")), "--if-new")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "1 created, 0 updated, 0 unchanged, 0 deleted"
    assert image_ids(exported()) == ["alpha"]


@pytest.mark.sqlite_only
def test_if_new_imports_nothing_into_a_catalog_holding_images(cli_import, exported, make_image):
    make_image(imageId="existing")

    result = cli_import(document(entry("alpha")), "--if-new")

    assert result.exit_code == 0, result.output
    assert "not new" in result.stdout
    assert image_ids(exported()) == ["existing"]


@pytest.mark.sqlite_only
def test_if_new_imports_nothing_into_a_catalog_that_once_held_an_image(client, auth_headers, cli_import, exported,
                                                                        make_image):
    image = make_image(imageId="gone")
    client.delete(f"/api/images/{image['id']}", headers=auth_headers("editor"))

    result = cli_import(document(entry("alpha")), "--if-new")

    assert result.exit_code == 0, result.output
    assert "not new" in result.stdout
    assert exported()["images"] == []


# ----- roles -----

@pytest.mark.sqlite_only
def test_import_below_admin_is_403(http_import, exported):
    answers = {role: http_import(document(entry("alpha")), role=role) for role in ("editor", "reader")}

    assert {role: (r.status_code, r.get_json()["code"]) for role, r in answers.items()} == {
        "editor": (403, "FORBIDDEN"), "reader": (403, "FORBIDDEN")}
    assert exported()["images"] == []


@pytest.mark.sqlite_only
def test_catalog_endpoints_are_in_the_openapi_document_with_their_parameters(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]

    assert {p["name"] for p in paths["/api/catalog/export"]["get"]["parameters"]} == {"status", "type"}
    assert {p["name"] for p in paths["/api/catalog/import"]["post"]["parameters"]} == {"dryRun", "prune"}
    assert "requestBody" in paths["/api/catalog/import"]["post"]
