"""Ready to operate: JSON logs, Prometheus metrics (one worker and several), CORS, security
headers, the docs page and its OpenAPI document, gunicorn.conf.py."""

import concurrent.futures
import importlib.util
import json
import os
import re
import signal
import time
from types import SimpleNamespace

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bench.server import ROOT, json_lines
from imagesvc import create_app, metrics

from .conftest import assert_error, live_server

ISO_UTC_MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
CONSOLE = "https://console.example.com"


@pytest.fixture
def make_app(tmp_path):
    """``make_app(**config)``: an app with settings of the test's own, on a SQLite file that no
    test here reads (none of them gets past authentication)."""
    made = []

    def make(**config):
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'ops.db'}", **config})
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["imagesvc.db"].close_all()


@pytest.fixture
def ops_client(make_app):
    return make_app().test_client()


def access_lines(lines):
    return [line for line in lines if line["logger"] == "imagesvc.access"]


def samples(metrics_text, name, **labels):
    """The values of ``name`` whose labels include ``labels``."""
    return [
        sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items())
    ]


def request_count(client, **labels):
    text = client.get("/metrics").get_data(as_text=True)
    return sum(samples(text, "imagesvc_http_requests_total", **labels))


# ----- logs -----

def test_every_log_line_is_json_with_the_callers_request_id(ops_client, capsys):
    capsys.readouterr()
    response = ops_client.get("/healthz", headers={"X-Request-ID": "trace-42.a_b"})
    lines = json_lines(capsys.readouterr().err)
    assert response.headers["X-Request-ID"] == "trace-42.a_b"
    [line] = access_lines(lines)
    assert line["request_id"] == "trace-42.a_b"
    assert ISO_UTC_MILLIS.fullmatch(line["time"])
    assert (line["level"], line["method"], line["path"], line["status"]) == ("INFO", "GET", "/healthz", 200)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0


def test_an_insane_request_id_is_replaced_in_the_answer_and_the_log(ops_client, capsys):
    capsys.readouterr()
    response = ops_client.get("/healthz", headers={"X-Request-ID": "no spaces/or slashes"})
    [line] = access_lines(json_lines(capsys.readouterr().err))
    assert response.headers["X-Request-ID"] != "no spaces/or slashes"
    assert line["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.sqlite_only
def test_access_line_has_the_url_rule_and_the_token_name_never_the_token(client, auth_headers, capsys):
    headers = auth_headers("reader")
    capsys.readouterr()
    response = client.get("/api/images/424242", headers=headers)
    output = capsys.readouterr().err
    [line] = access_lines(json_lines(output))
    assert response.status_code == 404
    assert (line["path"], line["status"], line["token_name"]) == ("/api/images/<image:id>", 404, "test-reader")
    assert "424242" not in output
    assert headers["Authorization"].split()[1] not in output


def test_one_access_line_per_request_even_for_unknown_routes(ops_client, capsys):
    capsys.readouterr()
    ops_client.get("/no/such/route")
    ops_client.get("/api/images")  # 401: no token
    lines = access_lines(json_lines(capsys.readouterr().err))
    assert [(line["path"], line["status"], line["token_name"]) for line in lines] == [
        (None, 404, None), ("/api/images", 401, None)]


def test_log_level_comes_from_the_config(make_app, capsys):
    client = make_app(LOG_LEVEL="WARNING").test_client()
    capsys.readouterr()
    client.get("/healthz")
    assert json_lines(capsys.readouterr().err) == []


def test_a_500_logs_its_stack_trace_and_answers_without_one(make_app, capsys):
    app = make_app()  # not TESTING: the error is handled as in production

    def explode():
        raise RuntimeError("boom: secret detail")

    app.add_url_rule("/explode", view_func=explode)
    capsys.readouterr()
    response = app.test_client().get("/explode", headers={"X-Request-ID": "req-500"})
    lines = json_lines(capsys.readouterr().err)
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert response.get_json() == {"success": False, "code": "INTERNAL_ERROR", "message": "服务器内部错误"}
    assert "Traceback" not in body and "secret detail" not in body
    [error] = [line for line in lines if line["level"] == "ERROR"]
    assert error["request_id"] == "req-500" and error["path"] == "/explode"
    assert "Traceback" in error["stack_trace"] and "RuntimeError: boom: secret detail" in error["stack_trace"]
    [access] = access_lines(lines)
    assert (access["request_id"], access["status"]) == ("req-500", 500)


# ----- metrics -----

@pytest.mark.sqlite_only
def test_metrics_count_a_request_under_its_url_rule(client, auth_headers):
    labels = {"method": "GET", "path": "/api/images/<image:id>", "status": "404"}
    before = request_count(client, **labels)
    client.get("/api/images/8675309", headers=auth_headers("reader"))
    response = client.get("/metrics")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert sum(samples(text, "imagesvc_http_requests_total", **labels)) == before + 1
    assert samples(text, "imagesvc_http_request_duration_seconds_count", **labels)
    assert "8675309" not in text


def test_unmatched_paths_and_odd_methods_do_not_become_labels(ops_client):
    ops_client.get("/images/123456/whatever")
    ops_client.open("/healthz", method="BREW")
    text = ops_client.get("/metrics").get_data(as_text=True)
    assert "123456" not in text and "BREW" not in text
    assert samples(text, "imagesvc_http_requests_total", path="<unmatched>", status="404")
    assert samples(text, "imagesvc_http_requests_total", method="other", path="<unmatched>", status="405")


def test_metrics_add_up_every_workers_files_in_multiprocess_mode(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    registry = metrics.registry()
    assert registry is not metrics.REGISTRY
    assert generate_latest(registry) == b""  # no worker has written anything yet


@pytest.mark.parametrize("off", ["0", "false", "off"])
def test_metrics_turned_off_is_404(make_app, off):
    assert_error(make_app(METRICS=off).test_client().get("/metrics"), 404, "NOT_FOUND")


def test_several_gunicorn_workers_add_up_and_survive_a_dead_worker(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"stale values of an earlier run")
    with live_server(tmp_path, workers=2, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)) as server:
        assert not (metrics_dir / "counter_1.db").exists()  # a fresh folder at start

        def healthz_lines():
            return [line for line in access_lines(server.log_lines()) if line["path"] == "/healthz"]

        sent = len(healthz_lines())  # the probes that saw the server up
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            # Enough requests that both workers serve some; bounded in count and time.
            deadline = time.monotonic() + 20
            while sent < 2000 and time.monotonic() < deadline:
                statuses = list(pool.map(lambda _: server.request("GET", "/healthz")[0], range(40)))
                assert set(statuses) == {200}
                sent += len(statuses)
                if len({line["pid"] for line in healthz_lines()}) >= 2:
                    break
        lines = server.log_lines()  # every line is JSON, gunicorn's own included
        healthz = healthz_lines()
        assert len(healthz) == sent  # exactly one access line per request
        assert len({line["pid"] for line in healthz}) == 2
        assert any(line["logger"] == "gunicorn.error" for line in lines)

        def healthz_total():
            status, _, body = server.request("GET", "/metrics")
            assert status == 200
            return sum(samples(body.decode(), "imagesvc_http_requests_total", path="/healthz"))

        assert healthz_total() == sent

        # A worker dies: its counts stay in the totals, its live gauge goes.
        victim = healthz[0]["pid"]
        assert (metrics_dir / f"gauge_livesum_{victim}.db").exists()
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while (metrics_dir / f"gauge_livesum_{victim}.db").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not (metrics_dir / f"gauge_livesum_{victim}.db").exists()
        assert healthz_total() == sent
        assert server.request("GET", "/healthz")[0] == 200
        assert healthz_total() == sent + 1


# ----- CORS -----

def preflight(client, origin, path="/api/images/1", method="PUT"):
    return client.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "Authorization, Content-Type, If-Match"})


def test_cors_preflight_from_an_allowed_origin_needs_no_token(make_app):
    client = make_app(CORS_ORIGINS=f"{CONSOLE}, https://other.example.com").test_client()
    response = preflight(client, CONSOLE)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == CONSOLE
    allowed = {item.strip().lower() for item in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "if-match"} <= allowed
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]


def test_cors_answers_expose_etag_location_and_request_id(make_app):
    client = make_app(CORS_ORIGINS=CONSOLE).test_client()
    response = client.get("/api/images", headers={"Origin": CONSOLE})  # a 401 the console must read
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == CONSOLE
    exposed = {item.strip().lower() for item in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"etag", "location", "x-request-id"} <= exposed


def test_cors_refuses_an_origin_not_listed(make_app):
    client = make_app(CORS_ORIGINS=CONSOLE).test_client()
    for origin in ("https://evil.example.com", "https://console.example.com.evil.example.com"):
        assert "Access-Control-Allow-Origin" not in preflight(client, origin).headers
        assert "Access-Control-Allow-Origin" not in client.get("/api/images", headers={"Origin": origin}).headers


def test_without_cors_origins_no_cors_header_at_all(ops_client):
    for response in (preflight(ops_client, CONSOLE), ops_client.get("/api/images", headers={"Origin": CONSOLE})):
        assert not [name for name in response.headers.keys() if name.lower().startswith("access-control-")]


# ----- security headers -----

@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/api/images", "/api/openapi.json", "/api/docs",
                                  "/no/such/route", "/api/docs/assets/swagger-ui.css"])
def test_every_answer_has_nosniff(ops_client, path):
    with ops_client.get(path) as response:
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/api/images", "/api/images/1", "/api/openapi.json", "/api/docs"])
def test_api_answers_are_not_stored(ops_client, path):
    assert ops_client.get(path).headers["Cache-Control"] == "no-store"


def test_docs_assets_may_be_cached_and_revalidated(ops_client):
    with ops_client.get("/api/docs/assets/swagger-ui-bundle.js") as response:
        assert response.status_code == 200 and "no-store" not in response.headers.get("Cache-Control", "")
        etag = response.headers["ETag"]
    with ops_client.get("/api/docs/assets/swagger-ui-bundle.js", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304


# ----- the docs page and its document -----

def test_docs_page_loads_only_assets_served_here_without_a_token(ops_client):
    response = ops_client.get("/api/docs")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "http://" not in page and "https://" not in page
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert {"docs/assets/swagger-ui-bundle.js", "docs/assets/swagger-ui.css"} <= set(assets)
    for asset in assets:  # relative to the page, /api/docs
        with ops_client.get(f"/api/{asset}") as served:
            assert served.status_code == 200, asset
    assert '"validatorUrl": null' in page


def test_docs_assets_stay_in_their_folder(ops_client):
    assert ops_client.get("/api/docs/assets/../../../setup.cfg").status_code == 404
    assert ops_client.get("/api/docs/assets/%2e%2e/__init__.py").status_code == 404


def test_openapi_document_lists_the_contract_errors_and_every_ref_resolves(ops_client):
    spec = ops_client.get("/api/openapi.json").get_json()
    refs = set(re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', json.dumps(spec)))
    assert refs and all(name in spec["components"][kind] for kind, name in refs)
    operations = spec["paths"]
    update = operations["/api/images/{id}"]["put"]
    assert {"401", "403", "404", "409", "412", "415", "422"} <= set(update["responses"])
    conflict = operations["/api/images"]["post"]["responses"]["409"]
    assert conflict["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert conflict["content"]["application/json"]["example"]["code"] == "CONFLICT"
    assert "beyond" not in json.dumps(spec, ensure_ascii=False).lower()
    assert "X-Request-ID" in operations["/api/images"]["get"]["responses"]["200"]["headers"]
    assert "401" not in operations["/healthz"]["get"]["responses"]
    assert operations["/metrics"]["get"]["security"] == []
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


# ----- gunicorn.conf.py -----

def load_gunicorn_conf(monkeypatch, **env):
    for key in ("PROMETHEUS_MULTIPROC_DIR", "IMAGESVC_METRICS_DIR_OWNER", "IMAGESVC_WORKERS"):
        monkeypatch.setenv(key, "")  # so that monkeypatch restores what the file sets
        monkeypatch.delenv(key)
    monkeypatch.setenv("IMAGESVC_METRICS", "0")  # no metrics folder unless a test asks for one
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gunicorn_refuses_debug_mode(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch)
    conf.post_worker_init(SimpleNamespace(wsgi=SimpleNamespace(debug=False)))
    with pytest.raises(RuntimeError, match="debug"):
        conf.post_worker_init(SimpleNamespace(wsgi=SimpleNamespace(debug=True)))


def test_gunicorn_settings_come_from_the_environment(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch, IMAGESVC_WORKERS="3", IMAGESVC_BIND="127.0.0.1:9999",
                              IMAGESVC_LOG_LEVEL="warning")
    assert (conf.workers, conf.bind, conf.loglevel, conf.accesslog) == (3, "127.0.0.1:9999", "warning", None)
    assert conf.logconfig_dict["loggers"]["gunicorn.access"]["handlers"] == []
    assert load_gunicorn_conf(monkeypatch).workers >= 1


def test_gunicorn_gives_metrics_a_fresh_folder(monkeypatch, tmp_path):
    (tmp_path / "histogram_99.db").write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("kept")
    load_gunicorn_conf(monkeypatch, IMAGESVC_METRICS="1", PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]
