"""GET /api/images filtered by its versions: pythonVersion, cudaVersion, architecture (issue 5).

Tests where storage cannot change the outcome (validation, roles, output shapes) are marked
``sqlite_only``; every test that reads or writes what the database decides runs on both backends.
"""

import pytest


@pytest.fixture
def images(client, auth_headers):
    """GET /api/images with ``query`` (a dict) as a reader; returns the response."""

    def get(**query):
        return client.get("/api/images", query_string={"pageSize": 100, **query}, headers=auth_headers("reader"))

    return get


@pytest.fixture
def with_versions(make_image, make_version):
    """An image named ``name`` with one version per dict of fields."""

    def make(name, *versions):
        image = make_image(name=name)
        for n, fields in enumerate(versions):
            make_version(image["id"], f"v{n}", **fields)
        return image

    return make


def names(response):
    assert response.status_code == 200, response.get_json()
    return sorted(image["name"] for image in response.get_json()["data"]["list"])


@pytest.fixture
def catalog(with_versions):
    """Images whose versions carry every case the filters must tell apart."""
    with_versions("cuda12.1", {"pythonVersion": "3.10.4", "cudaVersion": "12.1", "architectures": ["amd64"]})
    with_versions("cuda12", {"pythonVersion": "3.1", "cudaVersion": "12", "architectures": ["arm64"]})
    with_versions("cuda11.8", {"pythonVersion": "3.9", "cudaVersion": "11.8", "architectures": ["amd64", "arm64"]})
    with_versions("cuda120.1", {"pythonVersion": "3.10", "cudaVersion": "120.1"})
    with_versions("no versions")


# ----- cudaVersion and pythonVersion: that value or a more precise one -----

CUDA_CASES = {
    "12": ["cuda12", "cuda12.1"],
    "12.1": ["cuda12.1"],
    "11": ["cuda11.8"],
    "120": ["cuda120.1"],
    "1": [],
    "12.1.0": [],
}
PYTHON_CASES = {
    "3": ["cuda11.8", "cuda12", "cuda12.1", "cuda120.1"],
    "3.1": ["cuda12"],
    "3.10": ["cuda12.1", "cuda120.1"],
    "3.10.4": ["cuda12.1"],
}
ARCHITECTURE_CASES = {
    "amd64": ["cuda11.8", "cuda12.1"],
    "arm64": ["cuda11.8", "cuda12"],
    "riscv64": [],
}


def test_cuda_version_matches_that_version_or_a_more_precise_one(images, catalog):
    found = {cuda: names(images(cudaVersion=cuda)) for cuda in CUDA_CASES}

    assert found == CUDA_CASES


def test_python_version_matches_that_version_or_a_more_precise_one(images, catalog):
    found = {python: names(images(pythonVersion=python)) for python in PYTHON_CASES}

    assert found == PYTHON_CASES


def test_an_image_matches_when_any_of_its_versions_does(images, with_versions):
    with_versions("mixed", {"cudaVersion": "11.8"}, {"cudaVersion": "12.4"}, {})

    assert names(images(cudaVersion="12")) == ["mixed"]
    assert names(images(cudaVersion="11.8")) == ["mixed"]


def test_a_version_filter_lists_each_matching_image_once_with_the_true_total(images, with_versions):
    with_versions("many", {"cudaVersion": "12.1"}, {"cudaVersion": "12.2"}, {"cudaVersion": "12.4"})
    with_versions("one", {"cudaVersion": "12.0"})

    data = images(cudaVersion="12", pageSize=1).get_json()["data"]

    assert data["total"] == 2
    assert len(data["list"]) == 1


@pytest.mark.sqlite_only
def test_a_version_filter_combines_with_the_other_filters(images, make_image, make_version):
    online = make_image(name="online", status="online")
    pending = make_image(name="pending", status="pending")
    for image in (online, pending):
        make_version(image["id"], "v1", pythonVersion="3.11")

    assert names(images(pythonVersion="3.11", status="online")) == ["online"]


def test_a_deleted_version_no_longer_matches(client, auth_headers, images, with_versions):
    image = with_versions("gone", {"cudaVersion": "12.1", "pythonVersion": "3.11", "architectures": ["arm64"]})

    client.delete(f"/api/images/{image['id']}/versions/v0", headers=auth_headers("editor"))

    assert names(images(cudaVersion="12")) == []
    assert names(images(pythonVersion="3.11")) == []
    assert names(images(architecture="arm64")) == []


@pytest.mark.sqlite_only
def test_empty_version_filters_mean_not_given(images, catalog):
    assert len(names(images(pythonVersion="", cudaVersion="", architecture=""))) == 5


# ----- architecture -----

def test_architecture_matches_images_with_a_version_built_for_it(images, catalog):
    found = {architecture: names(images(architecture=architecture)) for architecture in ARCHITECTURE_CASES}

    assert found == ARCHITECTURE_CASES


@pytest.mark.sqlite_only
def test_architecture_and_cuda_filters_combine(images, catalog):
    assert names(images(architecture="arm64", cudaVersion="12")) == ["cuda12"]


def test_a_version_carries_its_architectures_without_duplicates(client, auth_headers, make_image, make_version):
    image = make_image()

    created = make_version(image["id"], "v1", architectures=["arm64", "amd64", "arm64"])

    fetched = client.get(f"/api/images/{image['id']}/versions/v1", headers=auth_headers("reader")).get_json()["data"]
    assert created["architectures"] == ["arm64", "amd64"]
    assert fetched["architectures"] == ["arm64", "amd64"]


@pytest.mark.sqlite_only
def test_a_version_without_architectures_has_an_empty_list(make_image, make_version):
    image = make_image()

    assert make_version(image["id"], "v1")["architectures"] == []


@pytest.mark.sqlite_only
def test_a_version_with_an_unknown_architecture_is_422(client, auth_headers, make_image):
    image = make_image()
    refused = {}

    for architectures in (["x86_64"], ["AMD64"], "amd64", [""], None):
        response = client.post(f"/api/images/{image['id']}/versions",
                               json={"version": "v1", "architectures": architectures}, headers=auth_headers("editor"))
        body = response.get_json()
        refused[repr(architectures)] = (response.status_code, body["code"], tuple(body["errors"]))

    assert set(refused.values()) == {(422, "VALIDATION_ERROR", ("architectures",))}


@pytest.mark.sqlite_only
def test_imported_versions_are_found_by_the_filters(client, auth_headers, images):
    file = {"format": "imagesvc-catalog", "version": 1, "images": [
        {"name": "imported", "imageId": "imported", "imageAddress": "ubuntu",
         "versions": [{"version": "1", "pythonVersion": "3.12", "cudaVersion": "12.6", "architectures": ["arm64"]}]}]}

    client.post("/api/catalog/import", json=file, headers=auth_headers("admin"))

    assert names(images(pythonVersion="3.12", cudaVersion="12", architecture="arm64")) == ["imported"]


# ----- invalid values -----

INVALID_FILTERS = [
    ("pythonVersion", "abc"),
    ("pythonVersion", "3.9.0.1"),
    ("pythonVersion", "3."),
    ("pythonVersion", "3..9"),
    ("pythonVersion", "%"),
    ("cudaVersion", "12.x"),
    ("cudaVersion", "v12"),
    ("cudaVersion", "1" * 40),
    ("architecture", "x86_64"),
    ("architecture", "AMD64"),
]


@pytest.mark.sqlite_only
def test_an_invalid_version_filter_is_422_naming_it(images):
    answers = {}

    for parameter, value in INVALID_FILTERS:
        response = images(**{parameter: value})
        body = response.get_json()
        answers[parameter, value] = (response.status_code, body["code"], list(body.get("errors", {})))

    assert answers == {(p, v): (422, "VALIDATION_ERROR", [p]) for p, v in INVALID_FILTERS}


@pytest.mark.sqlite_only
def test_version_filters_are_in_the_openapi_document(client):
    spec = client.get("/api/openapi.json").get_json()

    parameters = {p["name"]: p for p in spec["paths"]["/api/images"]["get"]["parameters"]}
    assert {"pythonVersion", "cudaVersion", "architecture"} <= set(parameters)
    assert {"$ref": "#/components/schemas/Architecture"} in parameters["architecture"]["schema"]["anyOf"]
    assert set(spec["components"]["schemas"]["Architecture"]["enum"]) >= {"amd64", "arm64"}


@pytest.mark.sqlite_only
def test_version_architectures_are_in_the_openapi_document(client):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]

    assert "architectures" in schemas["VersionCreate"]["properties"]
    assert "architectures" in schemas["Version"]["properties"]
