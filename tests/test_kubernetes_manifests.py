"""The Kubernetes manifests (deploy/kubernetes) as the cluster would get them: rendered by
``kubectl kustomize`` (no cluster needed), then read object by object.

Skipped when kubectl is missing, unless IMAGESVC_TEST_REQUIRE_KUBECTL is set (CI sets it where
kubectl exists): then a missing kubectl fails.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "deploy" / "kubernetes"
SECRET_SETTINGS = {"IMAGESVC_DATABASE_URL": "database-url", "IMAGESVC_RATELIMIT_STORAGE_URI": "ratelimit-storage-uri"}
# Resident memory: the bench's ceiling for one worker (bench/run.py, WORKER_RSS_LIMIT_MB); a worker as
# the bench finds it (68 MB at most) with its response cache full (16 MB); the master (make image-check).
WORKER_RSS_CEILING = 120 * 2**20
WORKER_RSS_TYPICAL = (68 + 16) * 2**20
MASTER_RSS = 40 * 2**20


@pytest.fixture(scope="module")
def objects():
    """Every rendered object, by (kind, name)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if os.environ.get("IMAGESVC_TEST_REQUIRE_KUBECTL"):
            pytest.fail("kubectl is required (IMAGESVC_TEST_REQUIRE_KUBECTL) but not on PATH")
        pytest.skip("no kubectl on PATH: the Kubernetes manifests were not rendered")
    rendered = subprocess.run([kubectl, "kustomize", str(MANIFESTS)], capture_output=True, text=True, timeout=120)
    assert rendered.returncode == 0, f"kubectl kustomize failed:\n{rendered.stderr}"
    found = {}
    for document in yaml.safe_load_all(rendered.stdout):
        if document:
            key = (document["kind"], document["metadata"]["name"])
            assert key not in found, f"{key} rendered twice"
            found[key] = document
    return found


def of_kind(objects, kind):
    found = [document for (k, _), document in objects.items() if k == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def deployment(objects):
    return of_kind(objects, "Deployment")


@pytest.fixture(scope="module")
def job(objects):
    return of_kind(objects, "Job")


@pytest.fixture(scope="module")
def server(deployment):
    """The server container of the Deployment."""
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def pod_specs(objects):
    """(name, pod spec) of every workload."""
    return [(f"{kind}/{name}", document["spec"]["template"]["spec"])
            for (kind, name), document in objects.items() if kind in ("Deployment", "Job")]


def all_containers(objects):
    """(workload/container, container, pod spec) of every container, init containers included."""
    return [(f"{name}/{container['name']}", container, spec)
            for name, spec in pod_specs(objects)
            for container in spec.get("initContainers", []) + spec["containers"]]


def containerfile():
    return (ROOT / "Containerfile").read_text(encoding="utf-8")


def quantity(value):
    """A Kubernetes quantity as a number (bytes, or cores)."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9, "m": 10**-3, "": 1}
    match = re.fullmatch(r"([0-9.]+)(Ki|Mi|Gi|k|M|G|m|)", str(value))
    assert match, f"unreadable quantity {value!r}"
    return float(match[1]) * units[match[2]]


def env_value(container, name):
    return next(item for item in container.get("env", []) if item["name"] == name)


def configmap_value(objects, container, name):
    """``name`` as the container gets it from a ConfigMap it loads whole (envFrom), or None."""
    for source in container.get("envFrom", []):
        data = objects[("ConfigMap", source["configMapRef"]["name"])]["data"]
        if name in data:
            return data[name]
    return None


def test_the_base_renders_each_object_and_no_secret(objects):
    kinds = sorted(kind for kind, _ in objects)
    assert kinds == ["ConfigMap", "Deployment", "Job", "PodDisruptionBudget", "Service", "ServiceAccount"]
    # The Secret's values never go in git: it is made in the cluster (secret.example.yaml).
    assert not any(kind == "Secret" for kind, _ in objects)


def test_probes_hit_the_health_endpoints_on_the_served_port(server):
    ports = {port["name"]: port["containerPort"] for port in server["ports"]}
    assert ports == {"http": 8000}
    # gunicorn binds where the probes and the Service look.
    assert env_value(server, "IMAGESVC_BIND")["value"] == "0.0.0.0:8000"
    assert "IMAGESVC_BIND=0.0.0.0:8000" in containerfile()

    def target(probe):
        get = server[probe]["httpGet"]
        return get["path"], ports.get(get["port"], get["port"])

    assert target("livenessProbe") == ("/healthz", 8000)
    assert target("readinessProbe") == ("/readyz", 8000)
    assert target("startupProbe") == ("/healthz", 8000)


def test_every_container_runs_unprivileged_on_a_read_only_root(objects):
    image_user = re.search(r"^USER ([0-9]+)", containerfile(), re.MULTILINE)[1]
    for name, container, spec in all_containers(objects):
        pod, own = spec["securityContext"], container["securityContext"]
        assert own.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, name
        assert str(own.get("runAsUser", pod.get("runAsUser"))) == image_user, name
        assert own["readOnlyRootFilesystem"] is True, name
        assert own["allowPrivilegeEscalation"] is False, name
        assert own.get("privileged", False) is False, name
        assert own["capabilities"]["drop"] == ["ALL"], name
        assert "add" not in own["capabilities"], name
        seccomp = own.get("seccompProfile", pod.get("seccompProfile"))
        assert seccomp == {"type": "RuntimeDefault"}, name
    for name, spec in pod_specs(objects):
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["fsGroup"] == int(image_user), name
        # A Service's links (IMAGESVC_SERVICE_HOST, IMAGESVC_PORT, …) would be read as settings.
        assert spec["enableServiceLinks"] is False, name
        assert not spec.get("hostNetwork") and not spec.get("hostPID"), name


def test_tmp_is_writable_for_the_metrics_folder(deployment, server):
    """The root is read-only; gunicorn.conf.py makes the workers' metrics folder in /tmp."""
    volumes = {volume["name"]: volume for volume in deployment["spec"]["template"]["spec"]["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in server["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_secret_settings_come_from_the_secret(objects, server, job):
    assert {name: env_value(server, name)["valueFrom"]["secretKeyRef"] for name in SECRET_SETTINGS} == {
        name: {"name": "imagesvc", "key": key} for name, key in SECRET_SETTINGS.items()}
    # The migration and the wait for it read the same database.
    migrate = job["spec"]["template"]["spec"]["containers"][0]
    waiting = objects[("Deployment", "imagesvc")]["spec"]["template"]["spec"]["initContainers"][0]
    for container in (migrate, waiting):
        assert env_value(container, "IMAGESVC_DATABASE_URL")["valueFrom"]["secretKeyRef"] == {
            "name": "imagesvc", "key": "database-url"}
    # No secret setting in plain sight, and nothing in the ConfigMap that is not a setting.
    for (kind, name), document in objects.items():
        if kind == "ConfigMap":
            assert not set(document["data"]) & set(SECRET_SETTINGS), name
            assert all(key.startswith("IMAGESVC_") for key in document["data"]), name
    for name, container, _ in all_containers(objects):
        for item in container.get("env", []):
            assert item["name"] not in SECRET_SETTINGS or "value" not in item, name
        for source in container.get("envFrom", []):
            assert ("ConfigMap", source["configMapRef"]["name"]) in objects, name
    # The example Secret names the keys the workloads read.
    example = yaml.safe_load((MANIFESTS / "secret.example.yaml").read_text(encoding="utf-8"))
    assert example["metadata"]["name"] == "imagesvc"
    assert set(example["stringData"]) == set(SECRET_SETTINGS.values())


def test_the_migration_job_runs_db_upgrade_with_the_servers_image(deployment, server, job):
    containers = job["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    migrate = containers[0]
    assert migrate["image"] == server["image"]
    assert migrate["command"] + migrate.get("args", []) == ["imagesvc", "db", "upgrade"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")
    # peewee's runner takes no lock: one migration at a time.
    assert job["spec"].get("parallelism", 1) == 1
    # The image is a real release from the kustomization, not the bare placeholder.
    assert re.fullmatch(r"[^:]+/imagesvc:[0-9][^:]*", server["image"]), server["image"]
    # The server's pods wait for the migration, with the same image.
    waiting = deployment["spec"]["template"]["spec"]["initContainers"]
    assert [container["image"] for container in waiting] == [server["image"]]
    assert "imagesvc db status" in " ".join(waiting[0]["command"])


def test_the_service_and_the_pdb_select_the_server_pods_only(objects, deployment, job, server):
    server_labels = deployment["spec"]["template"]["metadata"]["labels"]
    job_labels = job["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= server_labels.items()

    service = of_kind(objects, "Service")
    pdb = of_kind(objects, "PodDisruptionBudget")
    for selector in (service["spec"]["selector"], pdb["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= server_labels.items()
        assert not selector.items() <= job_labels.items()

    ports = {port["name"]: port["containerPort"] for port in server["ports"]}
    for port in service["spec"]["ports"]:
        assert ports.get(port["targetPort"], port["targetPort"]) == 8000
    # Two replicas, of which a disruption takes one at most.
    assert deployment["spec"]["replicas"] >= 2
    assert pdb["spec"].get("maxUnavailable") == 1 or pdb["spec"].get("minAvailable") == 1


def test_every_container_has_requests_and_limits(objects, server):
    for name, container, _ in all_containers(objects):
        resources = container["resources"]
        for kind in ("cpu", "memory"):
            request, limit = resources["requests"][kind], resources["limits"][kind]
            assert quantity(request) <= quantity(limit), f"{name}: {kind} request above its limit"
    # Sized for the workers gunicorn will start (the bench's per-worker ceiling, plus the master).
    workers = int(configmap_value(objects, server, "IMAGESVC_WORKERS"))
    assert quantity(server["resources"]["limits"]["memory"]) >= workers * WORKER_RSS_CEILING + MASTER_RSS
    assert quantity(server["resources"]["requests"]["memory"]) >= workers * WORKER_RSS_TYPICAL + MASTER_RSS
    assert quantity(server["resources"]["limits"]["cpu"]) >= workers


def test_termination_outlasts_the_graceful_stop(objects, deployment, server):
    graceful = int(configmap_value(objects, server, "IMAGESVC_GRACEFUL_TIMEOUT"))
    pause = int(server["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > graceful + pause
