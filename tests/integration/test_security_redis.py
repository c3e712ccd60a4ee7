"""The Redis read model over TLS with an ACL user, and a worker that says when Redis refuses it:
``/healthz`` answers 503 naming ``redis_read_model`` (without the password) until a write works."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.secure_stack import REDIS_ADMIN, WORKER, SecureStack, start_secure_stack
from tests.secure_worker import produce_purchase, run_worker, stop, tenant

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def secure() -> Iterator[SecureStack]:
    try:
        stack = start_secure_stack()
    except RuntimeError as exc:
        pytest.fail(f"the TLS Redis / SASL_SSL broker did not start (run ops/setup.sh): {exc}")
    yield stack
    stack.stop(remove=True)


def healthz(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for(what: str, check: Any, limit: float, log: Path) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            found = check()
        except OSError:  # the worker's web server is not up yet
            found = None
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{what} not seen within {limit}s; worker log:\n{log.read_text()[-3000:]}")


def test_read_model_writes_through_rediss_as_an_acl_user(
    secure: SecureStack, tmp_path: Path
) -> None:
    t = tenant(secure)
    proc, port, log = run_worker(secure, WORKER, t, tmp_path, redis_url=secure.redis_url())
    client = redis.Redis.from_url(secure.redis_url())
    try:
        produce_purchase(secure, t, "cust-tls-1")
        key = f"{t.topics.prefix.replace('.', ':')}customer:cust-tls-1"
        raw = wait_for("the snapshot in Redis", lambda: client.get(key), 90, log)
        assert json.loads(raw)["customer_id"] == "cust-tls-1"
        wait_for("/healthz ok", lambda: healthz(port)[0] == 200, 60, log)
        assert healthz(port)[1]["problems"] == []
    finally:
        client.close()
        stop(proc)


def test_wrong_redis_password_turns_healthz_unhealthy_until_redis_accepts(
    secure: SecureStack, tmp_path: Path
) -> None:
    t = tenant(secure)
    user, password = f"late-{t.app_id}", "late-user-secret"
    url = secure.redis_url(user=user, password=password)  # no such user yet: Redis refuses it
    proc, port, log = run_worker(secure, WORKER, t, tmp_path, redis_url=url)
    admin = redis.Redis.from_url(secure.redis_url(*REDIS_ADMIN))
    try:

        def refused() -> dict[str, Any] | None:
            status, body = healthz(port)
            named = [p for p in body["problems"] if p["name"] == "redis_read_model"]
            return body if status == 503 and named else None

        body = wait_for("/healthz 503 naming redis_read_model", refused, 60, log)
        detail = body["problems"][0]["detail"]
        assert f"rejected the credentials of user {user}" in detail and "REDIS_URL" in detail
        assert password not in json.dumps(body)

        # The operator creates the user: the next check succeeds and the problem clears.
        admin.acl_setuser(
            user,
            enabled=True,
            passwords=[f"+{password}"],
            keys=["t*"],
            commands=["+@all", "-@dangerous"],
        )
        produce_purchase(secure, t, "cust-tls-2")
        wait_for("/healthz ok again", lambda: healthz(port)[0] == 200, 60, log)
    finally:
        admin.close()
        stop(proc)
    assert password not in log.read_text()


def test_an_untrusted_redis_certificate_turns_healthz_unhealthy_naming_the_ca(
    secure: SecureStack, tmp_path: Path
) -> None:
    t = tenant(secure)
    url = secure.redis_url().split("?")[0]  # rediss:// without ssl_ca_certs: system CAs only
    proc, port, log = run_worker(secure, WORKER, t, tmp_path, redis_url=url)
    try:

        def refused() -> dict[str, Any] | None:
            status, body = healthz(port)
            return body if status == 503 and body["problems"] else None

        body = wait_for("/healthz 503 naming the CA", refused, 60, log)
        [problem] = body["problems"]
        assert problem["name"] == "redis_read_model"
        assert "not trusted" in problem["detail"] and "ssl_ca_certs" in problem["detail"]
    finally:
        stop(proc)
