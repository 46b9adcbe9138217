"""The spawner feed read by the spawners' own code: KubeSpawner 7.1 renders and loads our profile_list
offline (its constructor's kube config and API client, ``kubespawner.spawner.load_config`` and
``shared_client``, are stubbed; the rest is its code: get_options_form -> _render_options_form with
templates/form.html, autoescape off; options_from_form; load_user_options -> _load_profile), and the
Kubeflow feed passes what Kubeflow's jupyter web app backend reads of spawner_ui_config.yaml."""

import asyncio
import re

import pytest
from markupsafe import escape

from .conftest import assert_error

kubespawner_spawner = pytest.importorskip(
    "kubespawner.spawner", reason="jupyterhub-kubespawner (test extra) is not installed")

DEV = "开发机"
ML = "registry.example.com/ml/"
HOSTILE_NAME = "RC <img src=x onerror=alert(document.domain)>"
HOSTILE_DESCRIPTION = "<svg onload=alert(1)>训练</p><script>alert(2)</script>"

# The keys of Kubeflow's stock spawner_ui_config.yaml that its backend needs (trimmed).
STOCK_SPAWNER_UI_CONFIG = {"spawnerFormDefaults": {
    "image": {"value": "ghcr.io/kubeflow/kubeflow/notebook-servers/jupyter-scipy:latest",
              "options": ["ghcr.io/kubeflow/kubeflow/notebook-servers/jupyter-scipy:latest"]},
    "imagePullPolicy": {"readOnly": False, "value": "IfNotPresent"},
    "cpu": {"readOnly": False, "value": "0.5", "limitFactor": "1.2"},
    "memory": {"readOnly": False, "value": "1.0Gi", "limitFactor": "1.2"},
    "gpus": {"readOnly": False, "value": {"vendor": "", "vendors": [], "num": "none"}},
}}
# Fields the backend's POST handler (apps/default/routes/post.py) reads through get_form_value.
FORM_FIELDS = ("image imagePullPolicy serverType name namespace cpu cpuLimit memory memoryLimit gpus tolerationGroup "
               "affinityConfig configurations shm dataVolumes workspaceVolume").split()


def kubeflow_notebook_image(config_file, body):
    """The image Kubeflow's backend puts in the Notebook for a form ``body``, reading the config as it does
    (kubeflow/kubeflow components/crud-web-apps/jupyter/backend/apps/, last at 6dbe516, since moved
    to kubeflow/notebooks). Raises where its code would raise."""
    defaults = config_file["spawnerFormDefaults"]  # common/utils.py load_spawner_ui_config
    for field in FORM_FIELDS:  # common/form.py get_form_value: .get("readOnly", False), ["value"]
        if field in defaults:
            assert isinstance(defaults[field].get("readOnly", False), bool), field
            defaults[field]["value"]  # noqa: B018 - a KeyError here is theirs
    for field in ("cpu", "memory"):  # form.py set_notebook_cpu / set_notebook_memory: config["cpu"]
        factor = config_file["spawnerFormDefaults"][field].get("limitFactor")
        assert factor == "none" or float(factor) > 0, field
    image = defaults["image"]
    # frontend types/config.ts image {value: string; options: string[]}; form-image imageDisplayName()
    # splits each option, and utils.ts initFormControls preselects value under Validators.required.
    assert isinstance(image["options"], list) and all(isinstance(o, str) and o for o in image["options"])
    assert isinstance(image["value"], str) and image["value"] in image["options"]
    # form.py set_notebook_image -> get_form_value: readOnly takes the config's value, else the body's
    chosen = image["value"] if image.get("readOnly", False) else body.get("image")
    return chosen.strip()  # set_notebook_image: container["image"] = image.strip()


def merged(stock, block):
    """``block`` merged into ``stock`` (dicts recursively, anything else replaced)."""
    out = dict(stock)
    for key, value in block.items():
        out[key] = merged(stock[key], value) if isinstance(value, dict) and isinstance(stock.get(key), dict) else value
    return out


@pytest.fixture
def feed(client, auth_headers):
    return lambda **query: client.get("/api/images/feed", query_string={"applicableScope": DEV, **query},
                                      headers=auth_headers("reader"))


@pytest.fixture
def online(make_image):
    return lambda **overrides: make_image(**{"status": "online", "applicableScopes": [DEV], **overrides})


@pytest.fixture
def online_with_versions(online, make_version):
    """``online_with_versions(image_id, address, *versions)``: an online image at ``address`` with
    ``versions``, each (version, its imageAddress, its createTime)."""

    def make(image_id, address, *versions):
        image = online(imageId=image_id, imageAddress=address)
        for version, version_address, created in versions:
            make_version(image["id"], version, imageAddress=version_address, createTime=created)
        return image

    return make


@pytest.fixture
def profiles(feed):
    def get(**query):
        response = feed(format="jupyterhub", **query)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return get


@pytest.fixture
def spawner(monkeypatch):
    """``spawner(profile_list, user_options)``: KubeSpawner 7.1 with our profile_list, no cluster."""
    monkeypatch.setattr(kubespawner_spawner, "load_config", lambda **kwargs: None)
    monkeypatch.setattr(kubespawner_spawner, "shared_client", lambda *args, **kwargs: None)

    def make(profile_list, user_options=None):
        return kubespawner_spawner.KubeSpawner(_mock=True, profile_list=profile_list, user_options=user_options or {})

    return make


def form_html(spawner_):
    return asyncio.run(spawner_.get_options_form())  # JupyterHub's call; the hub inserts it with |safe


def spawned_image(spawner_):
    asyncio.run(spawner_.load_user_options())  # what KubeSpawner.start() does first
    return spawner_.image


@pytest.mark.sqlite_only
def test_hostile_name_and_description_come_out_escaped_in_kubespawners_form(online, make_version, profiles,
                                                                            spawner):
    image = online(name=HOSTILE_NAME, imageId="rc-image", description=HOSTILE_DESCRIPTION)
    make_version(image["id"], "RC1+build.2")

    [profile] = profiles()
    html = form_html(spawner([profile]))

    assert profile["display_name"] == str(escape(HOSTILE_NAME))
    assert profile["description"] == str(escape(HOSTILE_DESCRIPTION))
    assert profile["profile_options"]["version"]["choices"]["RC1+build.2"]["display_name"] == "RC1+build.2"
    assert "<img" not in html and "<svg" not in html and "<script>alert" not in html
    assert f"<h3>{escape(HOSTILE_NAME)}</h3>" in html
    assert f"<p>{escape(HOSTILE_DESCRIPTION)}</p>" in html


@pytest.mark.sqlite_only
def test_a_hostile_version_name_is_refused_since_kubespawner_writes_choice_keys_raw(client, editor, online):
    """form.html puts the choice key raw in <option value="{{ k }}">, and a REST spawn names the
    choice by that exact key, so the key cannot be escaped: the catalog must refuse markup in it."""
    image = online()

    response = client.post(f"/api/images/{image['id']}/versions", headers=editor,
                           json={"version": 'v1"><img src=x onerror=alert(1)>'})

    assert_error(response, 422, "VALIDATION_ERROR", errors=True)


@pytest.mark.sqlite_only
def test_default_profile_follows_the_default_param_ignoring_case_not_creation_time(online, profiles, spawner):
    online(name="Base", imageId="Base-Image", imageAddress=f"{ML}base:1")
    online(name="Newer", imageId="newer-image", imageAddress=f"{ML}newer:1")

    listed = profiles(default="BASE-image")
    html = form_html(spawner(listed))

    assert [(p["slug"], p["default"]) for p in listed] == [("newer-image", False), ("base-image", True)]
    assert re.findall(r'value="([^"]+)"\s+checked', html) == ["base-image"]
    assert spawned_image(spawner(listed)) == f"{ML}base:1"


@pytest.mark.sqlite_only
def test_without_a_listed_default_no_profile_is_marked_and_both_spawners_take_the_newest(online, feed, spawner):
    online(imageId="older", imageAddress=f"{ML}older:1")
    online(imageId="newer", imageAddress=f"{ML}newer:1")
    for query in ({}, {"default": "not-in-the-feed"}):
        listed = feed(format="jupyterhub", **query).get_json()
        kubeflow = feed(format="kubeflow", **query).get_json()["spawnerFormDefaults"]["image"]
        assert [p["default"] for p in listed] == [False, False], query
        assert spawned_image(spawner(listed)) == f"{ML}newer:1"  # _get_initialized_profile_list: the first
        assert kubeflow["value"] == kubeflow["options"][0] == f"{ML}newer:1", query


def test_default_choice_is_the_version_at_the_images_own_address_even_when_a_newer_exists(
        online_with_versions, profiles, spawner):
    online_with_versions("torch", f"{ML}torch:2.1", ("v2.1", f"{ML}torch:2.1", "2024-01-01T00:00:00Z"),
                         ("v2.2", f"{ML}torch:2.2", "2024-06-01T00:00:00Z"))

    [profile] = profiles()
    html = form_html(spawner([profile]))

    choices = profile["profile_options"]["version"]["choices"]
    assert [(key, choice["default"]) for key, choice in choices.items()] == [("v2.2", False), ("v2.1", True)]
    assert '<option value="v2.1" selected>' in html
    assert spawned_image(spawner([profile], {"profile": "torch"})) == f"{ML}torch:2.1"


def test_default_choice_without_a_version_at_the_images_address_is_the_newest(online_with_versions, profiles,
                                                                             spawner):
    online_with_versions("paddle", f"{ML}paddle:base", ("old", f"{ML}paddle:old", "2023-01-01T00:00:00Z"),
                         ("new", f"{ML}paddle:new", "2024-01-01T00:00:00Z"))

    [profile] = profiles()

    assert {key: c["default"] for key, c in profile["profile_options"]["version"]["choices"].items()} == {
        "new": True, "old": False}
    assert spawned_image(spawner([profile], {"profile": "paddle"})) == f"{ML}paddle:new"


def test_a_rest_spawn_naming_a_capitalised_version_applies_that_versions_image(online_with_versions, profiles,
                                                                              spawner):
    online_with_versions("CANN-Toolkit", f"{ML}cann:latest",
                         ("cann80RC1-x86_64", f"{ML}cann:8.0.rc1", "2024-01-01T00:00:00Z"),
                         ("cann81-x86_64", f"{ML}cann:8.1", "2024-06-01T00:00:00Z"))
    [profile] = profiles()
    # KubeSpawner 7.1 keys a profile option by its name ("version") in user_options; the form's field
    # profile-option-<slug>--version becomes that key in options_from_form.
    rest_options = {"profile": "cann-toolkit", "version": "cann80RC1-x86_64"}
    from_form = spawner([profile]).options_from_form(
        {"profile": ["cann-toolkit"], "profile-option-cann-toolkit--version": ["cann80RC1-x86_64"]})

    assert "cann80RC1-x86_64" in profile["profile_options"]["version"]["choices"]
    assert from_form == rest_options
    assert spawned_image(spawner([profile], rest_options)) == f"{ML}cann:8.0.rc1"


@pytest.mark.sqlite_only
def test_kubeflow_feed_merged_into_a_stock_config_passes_kubeflows_backend_with_the_default_image(
        online, make_version, feed):
    base = online(imageId="Base", imageAddress=f"{ML}base:1")
    make_version(base["id"], "v2", imageAddress=f"{ML}base:2")
    online(imageId="newer", imageAddress=f"{ML}newer:1")

    response = feed(format="kubeflow", default="base")
    config = merged(STOCK_SPAWNER_UI_CONFIG, response.get_json())

    assert response.status_code == 200
    assert response.get_json()["spawnerFormDefaults"]["image"] == {
        "value": f"{ML}base:1", "readOnly": False,
        "options": [f"{ML}newer:1", f"{ML}base:1", f"{ML}base:2"]}
    image = config["spawnerFormDefaults"]["image"]
    assert kubeflow_notebook_image(config, {"image": image["value"]}) == f"{ML}base:1"
    assert kubeflow_notebook_image(config, {"image": image["options"][2]}) == f"{ML}base:2"


@pytest.mark.sqlite_only
def test_kubeflow_feed_is_a_block_to_merge_not_a_whole_spawner_config(online, feed):
    online(imageAddress=f"{ML}only:1")

    block = feed(format="kubeflow").get_json()

    with pytest.raises(KeyError, match="cpu"):  # as set_notebook_cpu would: config["cpu"]
        kubeflow_notebook_image(block, {"image": f"{ML}only:1"})


@pytest.mark.sqlite_only
def test_kubeflow_feed_of_an_empty_scope_is_404_in_the_envelope(online, feed):
    online(applicableScopes=["分布式训练"])

    response = feed(format="kubeflow")

    assert_error(response, 404, "NOT_FOUND")
