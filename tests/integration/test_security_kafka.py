"""A worker on a SASL_SSL (SCRAM-SHA-512) broker with ACLs: works with the right grants, and
fails within seconds, naming the fix, with a wrong password or a missing ACL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from confluent_kafka.admin import AclOperation

from agents.worker.preflight import PreflightError, check_access, check_connection
from tests.secure_stack import LIMITED, WORKER, SecureStack, start_secure_stack
from tests.secure_worker import (
    create_acls,
    deny,
    produce_purchase,
    run_worker,
    stop,
    tenant,
    wait_snapshot,
)

pytestmark = pytest.mark.integration
OUTAGE = 16.0  # seconds; ~63,000 aiokafka ERROR lines were measured in such an outage before


@pytest.fixture(scope="module")
def secure() -> Iterator[SecureStack]:
    try:
        stack = start_secure_stack()
    except RuntimeError as exc:
        pytest.fail(f"the SASL_SSL broker did not start (run ops/setup.sh): {exc}")
    yield stack
    stack.stop(remove=True)


def test_worker_with_its_grants_folds_an_event_on_sasl_ssl(
    secure: SecureStack, tmp_path: Path
) -> None:
    t = tenant(secure)
    proc, _, log = run_worker(secure, WORKER, t, tmp_path)
    try:
        produce_purchase(secure, t, "cust-sasl-1")
        snap = wait_snapshot(secure, t, "cust-sasl-1", limit=90)
        assert snap.customer_id == "cust-sasl-1"
        assert proc.poll() is None, log.read_text()
    finally:
        stop(proc)
    assert WORKER[1] not in log.read_text()


def test_wrong_password_fails_fast_naming_the_user(secure: SecureStack, tmp_path: Path) -> None:
    t = tenant(secure)
    started = time.monotonic()
    proc, _, log = run_worker(secure, (WORKER[0], "not-the-password"), t, tmp_path, wait=40)
    elapsed = time.monotonic() - started
    out = log.read_text()
    assert proc.returncode not in (None, 0), out
    assert (
        f"authentication failed for user {WORKER[0]} (SCRAM-SHA-512 on {secure.bootstrap})" in out
    )
    assert "KAFKA_SASL_PASSWORD" in out and "not-the-password" not in out
    assert elapsed < 20, f"took {elapsed:.1f}s to refuse a wrong password"


def test_an_untrusted_broker_certificate_names_the_ca_setting(secure: SecureStack) -> None:
    without_ca = replace(secure.kafka_settings(WORKER), ssl_cafile=None)  # system CAs only
    with pytest.raises(PreflightError) as refused:
        check_connection(without_ca, timeout=10)
    text = str(refused.value)
    assert f"TLS handshake with {secure.bootstrap} failed" in text
    assert "certificate verify failed" in text and "KAFKA_SSL_CAFILE" in text


def test_missing_acl_names_the_topic_and_operation(secure: SecureStack, tmp_path: Path) -> None:
    t = tenant(secure, user=LIMITED[0])
    create_acls(secure, [deny(LIMITED[0], t.topics.purchases, AclOperation.READ)])
    proc, _, log = run_worker(secure, LIMITED, t, tmp_path, wait=40)
    out = log.read_text()
    assert proc.returncode not in (None, 0), out
    assert f"not authorized to READ topic {t.topics.purchases}" in out
    assert "docs/security.md" in out
    assert f"topic {t.topics.alerts}" not in out  # only what is missing is named


def test_missing_topics_without_create_say_how_to_get_them(
    secure: SecureStack, tmp_path: Path
) -> None:
    t = tenant(secure, create_topics=False)
    proc, _, log = run_worker(secure, WORKER, t, tmp_path, wait=40)
    out = log.read_text()
    assert proc.returncode not in (None, 0), out
    assert f"topics missing and user {WORKER[0]}" in out and t.topics.purchases in out
    assert "cxstream topics create" in out
    assert f"CREATE on topics with prefix {t.topics.prefix}" in out


def test_preflight_without_any_grant_lists_what_to_grant(secure: SecureStack) -> None:
    t = tenant(secure, user="somebody-else")
    admin = check_connection(secure.kafka_settings(WORKER))
    with pytest.raises(PreflightError) as refused:
        check_access(admin, t.topics, t.app_id)
    text = str(refused.value)
    assert f"READ, DESCRIBE topic {t.topics.purchases}" in text
    assert f"READ, DESCRIBE group {t.app_id}" in text
    assert f"CREATE topic {t.app_id}-customers-changelog" in text or t.app_id in text


def test_a_broker_outage_logs_a_few_lines_not_thousands(
    secure: SecureStack, tmp_path: Path
) -> None:
    """Runs last in this module: it kills the shared broker and starts it again."""
    t = tenant(secure)
    proc, _, log = run_worker(secure, WORKER, t, tmp_path, log_level="info")
    try:
        produce_purchase(secure, t, "cust-outage-1")
        wait_snapshot(secure, t, "cust-outage-1", limit=90)
        before = len(log.read_text(errors="replace").splitlines())
        secure.kill_kafka()
        time.sleep(OUTAGE)
        during = log.read_text(errors="replace").splitlines()[before:]
        secure.restart_kafka()
        produce_purchase(secure, t, "cust-outage-2")
        wait_snapshot(secure, t, "cust-outage-2", limit=90)  # it recovers by itself
        assert proc.poll() is None, log.read_text()[-3000:]
    finally:
        stop(proc)
    errors = [line for line in during if "ERROR" in line or "%3|" in line]
    print(f"{len(during)} log lines, {len(errors)} errors in a {OUTAGE}s outage")
    assert len(during) < 100, "\n".join(during[:50])
    assert WORKER[1] not in log.read_text()  # not even at INFO level
