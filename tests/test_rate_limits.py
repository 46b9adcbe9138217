"""Rate limits: each token has one budget across the API; over it, 429 with Retry-After.

Memory storage everywhere but the Redis tests, which share one Redis on loopback between two
apps (as between gunicorn workers or instances). They skip when no Redis answers on
127.0.0.1:6379, and fail instead when ``IMAGESVC_TEST_REQUIRE_REDIS`` is set (CI). Their keys
carry a prefix of this run's own and are deleted after each test.
"""

import os
import uuid

import pytest
import redis

from bench.server import free_loopback_port
from imagesvc import create_app

# No test here depends on the database backend.
pytestmark = pytest.mark.sqlite_only

REDIS_URL = "redis://127.0.0.1:6379/0"  # loopback only: tests never touch another machine's Redis
RUN_PREFIX = f"imagesvc-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
UNLIMITED_PATHS = ["/healthz", "/readyz", "/metrics", "/api/openapi.json", "/api/docs",
                   "/api/docs/assets/swagger-ui.css"]


def statuses(client, count, path="/api/images", **kwargs):
    return [client.get(path, **kwargs).status_code for _ in range(count)]


@pytest.mark.config(RATELIMIT_DEFAULT="3/minute")
def test_a_token_over_its_limit_gets_429_in_the_envelope_with_retry_after(client, reader):
    assert statuses(client, 3, headers=reader) == [200, 200, 200]
    response = client.get("/api/images", headers=reader)
    assert response.status_code == 429
    assert response.get_json() == {"success": False, "code": "TOO_MANY_REQUESTS", "message": "请求过于频繁，请稍后重试"}
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["X-Request-ID"]


@pytest.mark.config(RATELIMIT_DEFAULT="3/minute")
def test_the_budget_is_one_for_every_operation_together(client, editor, make_image):
    image = make_image()  # 1
    assert client.get(f"/api/images/{image['id']}", headers=editor).status_code == 200  # 2
    assert client.get(f"/api/images/{image['id']}/versions", headers=editor).status_code == 200  # 3
    assert client.delete(f"/api/images/{image['id']}", headers=editor).status_code == 429


@pytest.mark.config(RATELIMIT_DEFAULT="2/minute")
def test_another_token_keeps_its_own_budget(client, reader, editor):
    assert statuses(client, 3, headers=reader) == [200, 200, 429]
    assert statuses(client, 3, headers=editor) == [200, 200, 429]


@pytest.mark.config(RATELIMIT_DEFAULT="2/minute")
def test_requests_without_a_token_are_not_counted(client, reader):
    # Their 401 costs no database work, so counting them would cost more than answering them.
    assert statuses(client, 5) == [401] * 5
    assert statuses(client, 5, headers={"Authorization": "Basic dXNlcjpwYXNz"}) == [401] * 5
    assert client.options("/api/images").status_code == 200
    assert statuses(client, 3, headers=reader) == [200, 200, 429]


@pytest.mark.config(RATELIMIT_DEFAULT="2/minute")
def test_an_unknown_token_spends_only_its_own_budget(client, reader):
    made_up = {"Authorization": "Bearer isv_made-up-token"}
    assert statuses(client, 3, headers=made_up) == [401, 401, 429]
    assert statuses(client, 3, headers=reader) == [200, 200, 429]


@pytest.mark.config(RATELIMIT_DEFAULT="1/minute")
@pytest.mark.parametrize("path", UNLIMITED_PATHS)
def test_probes_metrics_and_docs_are_never_limited(client, reader, path):
    for _ in range(3):
        with client.get(path, headers=reader) as response:
            assert response.status_code == 200
    # ... nor do they spend the token's budget.
    assert statuses(client, 2, headers=reader) == [200, 429]


def test_without_a_limit_no_request_is_ever_429(client, reader):
    assert set(statuses(client, 30, headers=reader)) == {200}
    assert "limiter" not in client.application.extensions  # no Flask-Limiter hook on any request


@pytest.mark.config(RATELIMIT_DEFAULT="2/minute")
def test_routing_errors_are_never_limited(client, reader):
    assert statuses(client, 3, path="/no/such/route", headers=reader) == [404] * 3
    assert [client.patch("/api/images", headers=reader).status_code for _ in range(3)] == [405] * 3
    assert statuses(client, 3, headers=reader) == [200, 200, 429]


@pytest.mark.parametrize("value", ["lots", "3/fortnight", "-1/second"])
def test_a_limit_that_is_no_rate_limit_stops_the_app_at_start(tmp_path, value):
    with pytest.raises(ValueError, match="IMAGESVC_RATELIMIT_DEFAULT"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "RATELIMIT_DEFAULT": value})


def test_a_storage_that_fails_keeps_serving_and_counts_in_memory(another_app, auth_headers):
    app = another_app(RATELIMIT_DEFAULT="2/minute", RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_loopback_port()}/0")
    assert statuses(app.test_client(), 3, headers=auth_headers("reader")) == [200, 200, 429]


def test_openapi_document_says_every_token_operation_may_answer_429_with_retry_after(openapi_document):
    for path, operations in openapi_document["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "put", "post", "delete", "patch"):
                continue  # the path's own parameters
            responses = operation["responses"]
            if path.startswith("/api/"):
                assert responses["429"]["content"]["application/json"]["example"]["code"] == "TOO_MANY_REQUESTS"
                assert responses["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
            else:
                assert "429" not in responses, f"{method.upper()} {path}"


# ----- Redis: one count for every worker and instance -----

@pytest.fixture
def redis_url():
    """The loopback Redis, or a skip (a failure under IMAGESVC_TEST_REQUIRE_REDIS); this run's keys
    are deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"no Redis at {REDIS_URL} ({exc})"
        if os.environ.get("IMAGESVC_TEST_REQUIRE_REDIS"):
            pytest.fail(f"Redis is required (IMAGESVC_TEST_REQUIRE_REDIS) but unavailable: {reason}")
        pytest.skip(f"Redis tests skipped: {reason}")
    yield REDIS_URL
    for key in client.scan_iter(match=f"*{RUN_PREFIX}*"):
        client.delete(key)
    client.close()


def test_two_apps_sharing_redis_share_each_tokens_count(redis_url, another_app, auth_headers):
    settings = {"RATELIMIT_DEFAULT": "3/minute", "RATELIMIT_STORAGE_URI": redis_url,
                "RATELIMIT_KEY_PREFIX": RUN_PREFIX}
    first, second = another_app(**settings).test_client(), another_app(**settings).test_client()
    reader, editor = auth_headers("reader"), auth_headers("editor")
    assert statuses(first, 2, headers=reader) + statuses(second, 1, headers=reader) == [200, 200, 200]
    assert [second.get("/api/images", headers=reader).status_code,
            first.get("/api/images", headers=reader).status_code] == [429, 429]
    assert statuses(second, 1, headers=editor) == [200]


def test_redis_keys_name_a_hash_of_the_token_never_the_token(redis_url, another_app, auth_headers):
    app = another_app(RATELIMIT_DEFAULT="3/minute", RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_KEY_PREFIX=RUN_PREFIX)
    reader = auth_headers("reader")
    assert statuses(app.test_client(), 1, headers=reader) == [200]
    keys = [key.decode() for key in redis.Redis.from_url(redis_url).scan_iter(match=f"*{RUN_PREFIX}*")]
    token = reader["Authorization"].removeprefix("Bearer ")
    assert len(keys) == 1 and "/token:" in keys[0]
    assert token not in keys[0] and token[4:20] not in keys[0]
