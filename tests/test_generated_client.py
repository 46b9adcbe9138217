"""A Python client generated from /api/openapi.json with openapi-python-client works unchanged.

Tooling authors generate their client from the document and never read the README: the
console's flow goes through such a client here, in-process (httpx's WSGI transport), on both
backends. A document that declares a default, an optional answer field or a wrong shape breaks
these tests the way it would break that client.
"""

import importlib
import json
import os
import shutil
import subprocess
import sys

import httpx
import pytest

PACKAGE = "imagesvc_client"


@pytest.fixture(scope="session")
def generated(tmp_path_factory, openapi_document):
    """The client package generated from the app's own document, imported."""
    if not shutil.which("openapi-python-client", path=os.path.dirname(sys.executable)):
        pytest.fail("openapi-python-client is a test dependency (pip install -e '.[test]')")
    folder = tmp_path_factory.mktemp("generated-client")
    document = folder / "openapi.json"
    document.write_text(json.dumps(openapi_document), encoding="utf-8")
    # Its post-generation hooks run ruff, from this virtualenv.
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    result = subprocess.run(
        ["openapi-python-client", "generate", "--path", str(document), "--output-path", str(folder / PACKAGE),
         "--meta", "none"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0 and "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))


@pytest.fixture
def api(generated, app, editor):
    """The generated package and an editor's client of the test's app."""
    from imagesvc_client import AuthenticatedClient

    token = editor["Authorization"].removeprefix("Bearer ")
    client = AuthenticatedClient(base_url="http://imagesvc.test", token=token, raise_on_unexpected_status=True,
                                 httpx_args={"transport": httpx.WSGITransport(app=app)})
    with client:
        yield client


def test_console_flow_through_the_generated_client(api):
    from imagesvc_client.api.feed import get_feed
    from imagesvc_client.api.images import create_image, get_image, list_images, set_image_status, update_image
    from imagesvc_client.api.versions import create_version, list_versions
    from imagesvc_client.models import (
        ChipType,
        EmptyValue,
        FeedEnvelope,
        FeedFormat,
        ImageCreate,
        ImageStatus,
        ImageType,
        ImageUpdate,
        JupyterHubProfile,
        KubeflowFeed,
        StatusUpdate,
        VersionCreate,
    )

    # The console's list call: every filter sent, the empty ones as "".
    empty = list_images.sync(client=api, page_no=1, page_size=10, name="", framework="", chip_type=EmptyValue.VALUE_0,
                             applicable_scope="", type_=ImageType.PUBLIC)
    assert empty.success and empty.data.total == 0 and empty.data.list_ == []

    created = create_image.sync(client=api, body=ImageCreate(
        name="PaddlePaddle NPU", image_id="paddle-npu-cann8", image_address="registry.example.com/paddle/npu:cann8",
        frameworks=["PaddlePaddle"], applicable_scopes=["开发机"], chip_type=ChipType.NPU, preset_cuda=True,
        type_=ImageType.PUBLIC, description="飞桨"))
    image_id = created.data.id
    assert created.message == "创建镜像成功" and created.data.status is ImageStatus.PENDING

    # A one-field edit sends that field alone and changes nothing else.
    edit = ImageUpdate(description="只改描述")
    assert edit.to_dict() == {"description": "只改描述"}
    updated = update_image.sync(client=api, id=image_id, body=edit).data
    assert updated.description == "只改描述"
    assert (updated.chip_type, updated.type_, updated.preset_cuda, updated.frameworks) == (
        ChipType.NPU, ImageType.PUBLIC, True, ["PaddlePaddle"])

    status = set_image_status.sync(client=api, id=image_id, body=StatusUpdate(status=ImageStatus.ONLINE))
    assert status.data.status is ImageStatus.ONLINE

    create_version.sync(client=api, id=image_id, body=VersionCreate(
        version="cann80RC1-x86_64", image_address="registry.example.com/paddle/npu:cann8", size="12.5GB"))
    versions = list_versions.sync(client=api, id=image_id).data
    assert [(v.version, v.size_bytes) for v in versions.list_] == [("cann80RC1-x86_64", 12_500_000_000)]

    listed = list_images.sync(client=api, page_no=1, page_size=10, name="", framework="paddlepaddle",
                              chip_type=ChipType.NPU, applicable_scope="", type_=ImageType.PUBLIC).data
    assert [item.id for item in listed.list_] == [image_id]
    assert get_image.sync(client=api, id=image_id).data.version_count == 1

    as_json = get_feed.sync(client=api, applicable_scope="开发机", format_=FeedFormat.JSON)
    as_kubeflow = get_feed.sync(client=api, applicable_scope="开发机", format_=FeedFormat.KUBEFLOW,
                                default="paddle-npu-cann8")
    as_jupyterhub = get_feed.sync(client=api, applicable_scope="开发机", format_=FeedFormat.JUPYTERHUB)
    assert isinstance(as_json, FeedEnvelope) and as_json.data.list_[0].versions[0].version == "cann80RC1-x86_64"
    assert isinstance(as_kubeflow, KubeflowFeed)
    assert as_kubeflow.spawner_form_defaults.image.value == "registry.example.com/paddle/npu:cann8"
    assert [type(profile) for profile in as_jupyterhub] == [JupyterHubProfile]
    assert as_jupyterhub[0].slug == "paddle-npu-cann8"


def test_generated_client_reads_an_error_as_the_envelope(api):
    from imagesvc_client.api.images import get_image
    from imagesvc_client.models import Error

    missing = get_image.sync(client=api, id="999999")

    assert isinstance(missing, Error)
    assert (missing.success, missing.code, missing.message) == (False, "NOT_FOUND", "镜像不存在")
