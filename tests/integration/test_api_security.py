"""The HTTP API of a real worker process against the real broker: token, open health and
metrics, strict JSON, generic 404s, the rate limit, HTTPS, and ``cxstream customer``."""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agents.cli.main import main
from agents.settings import KafkaSettings
from agents.worker.topic_admin import KEEP_FOREVER, ensure_topics
from streams.contracts import decode_event, encode_event
from streams.contracts.mapping import EVENT_KINDS
from streams.contracts.results import Decoded
from streams.domain import CustomerProfile, Event
from streams.simulator import simulate
from streams.topics import Topics
from tests.e2e.harness import Worker, produce

pytestmark = pytest.mark.integration

TOKEN = "integration-api-token-" + uuid.uuid4().hex
RATE, BURST = 5, 10  # the worker's --api-rate / --api-burst


def get(url: str, token: str | None = None, context: Any = None) -> tuple[int, dict[str, str], str]:
    """Status, headers and body of a GET, whatever the status."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def post_action(base: str, alert_id: str, body: dict[str, Any], context: Any) -> tuple[int, Any]:
    """POST /alerts/{alert_id}/actions with the token; status and JSON reply."""
    request = urllib.request.Request(
        f"{base}/alerts/{alert_id}/actions",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, strict(response.read().decode())
    except urllib.error.HTTPError as exc:
        return exc.code, strict(exc.read().decode())


def strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in the body: not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def module_topics(kafka_bootstrap: str) -> Topics:
    topics = Topics(f"t{uuid.uuid4().hex[:10]}.")
    ensure_topics(
        KafkaSettings(bootstrap_servers=kafka_bootstrap), topics, retention_ms=KEEP_FOREVER
    )
    return topics


@pytest.fixture(scope="module")
def history(kafka_bootstrap: str, module_topics: Topics) -> list[Event]:
    events = simulate(customers=12, days=120, seed=5).events
    produce(kafka_bootstrap, module_topics, events)
    return events


@pytest.fixture(scope="module")
def customers(history: list[Event]) -> list[str]:
    return sorted({e.customer_id for e in history})


def newest_event_times(events: list[Event]) -> dict[str, float]:
    """Each customer's newest counted event time as the wire carries it (milliseconds): its
    state's watermark once all is folded."""
    newest: dict[str, float] = {}
    for e in events:
        decoded = decode_event(EVENT_KINDS[type(e)], *encode_event(e), now=e.occurred_at)
        assert isinstance(decoded, Decoded), decoded
        t, cid = decoded.event.occurred_at, e.customer_id
        if not isinstance(e, CustomerProfile):
            newest[cid] = max(newest.get(cid, t), t)
    return newest


STARTUP: list[tuple[int, str | None, str]] = []  # the API's answers while /healthz said starting


def watch_startup(
    w: Worker, customer: str, limit: float = 90.0
) -> list[tuple[int, str | None, str]]:
    """GET /customers/{customer} until /healthz is ok: the answers given while it was not."""
    seen: list[tuple[int, str | None, str]] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            before = get(f"{w.url}/healthz")[0]
            status, headers, body = get(f"{w.url}/customers/{customer}", TOKEN)
            after = get(f"{w.url}/healthz")[0]
        except urllib.error.URLError:  # not listening yet
            time.sleep(0.2)
            continue
        if after == 200:
            return seen
        if before != 200:
            seen.append((status, headers.get("Retry-After"), strict(body).get("error", "")))
        time.sleep(0.5)  # within the --api-rate budget
    raise AssertionError(f"not healthy after {limit:g}s:\n{w.log_tail()}")


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str,
    module_topics: Topics,
    customers: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    w = Worker(
        kafka_bootstrap,
        module_topics,
        f"{module_topics.prefix}app",
        tmp_path_factory.mktemp("api") / "w1",
        api_token=TOKEN,
        extra_args=["--api-rate", str(RATE), "--api-burst", str(BURST)],
    )
    try:
        w.launch()
        STARTUP.extend(watch_startup(w, customers[0]))
        deadline = time.monotonic() + 90  # until the last customer's state is there
        while get(f"{w.url}/customers/{customers[-1]}", TOKEN)[0] != 200:
            assert time.monotonic() < deadline, w.log_tail()
            time.sleep(0.5)
        yield w
    finally:
        w.kill()


def test_a_starting_worker_says_retry_later_instead_of_a_false_not_found(worker: Worker) -> None:
    """Before its partitions are assigned and its table restored, the worker cannot know a
    customer: it answers 503 with Retry-After (like Kafka Streams' "store not ready"), never a
    404 that a client would take for "no such customer"."""
    assert STARTUP, "the API was never asked while the worker was starting"
    assert {(status, retry, error) for status, retry, error in STARTUP} == {(503, "1", "restoring")}


def refill() -> None:
    time.sleep(BURST / RATE + 0.2)


def test_customers_need_the_token(worker: Worker, customers: list[str]) -> None:
    url = f"{worker.url}/customers/{customers[0]}"
    status, headers, body = get(url)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer <token>" in strict(body)["detail"]
    status, headers, body = get(url, "wrong-" + TOKEN)
    assert status == 401 and "invalid_token" in headers["WWW-Authenticate"]
    assert "wrong-" not in body and TOKEN not in body


def test_right_token_gets_strictly_valid_json(worker: Worker, customers: list[str]) -> None:
    status, headers, body = get(f"{worker.url}/customers/{customers[0]}", TOKEN)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    view = strict(body)  # simulated states hold -inf "never" times: they must come out null
    assert view["customer_id"] == customers[0] and "Infinity" not in body
    assert None in view["state"].values()


def test_unknown_ids_get_a_generic_404(worker: Worker) -> None:
    status, _, body = get(f"{worker.url}/customers/no-such-customer-42", TOKEN)
    assert status == 404 and "no-such-customer-42" not in body
    assert strict(body)["error"] == "not_found"


def test_faust_table_views_do_not_serve_raw_state(worker: Worker, customers: list[str]) -> None:
    for path in (f"/table/customers/{customers[0]}/", "/router/customers/"):
        assert get(f"{worker.url}{path}")[0] == 401
        assert get(f"{worker.url}{path}", TOKEN)[0] == 404


def test_health_and_metrics_are_open(worker: Worker) -> None:
    status, _, body = get(f"{worker.url}/healthz")
    assert status == 200 and strict(body)["status"] == "ok"
    status, _, body = get(f"{worker.url}/metrics")
    assert status == 200 and "cxstream_api_denied_total" in body
    assert TOKEN not in body


def test_rate_limit_answers_429_for_known_and_unknown_ids(
    worker: Worker, customers: list[str]
) -> None:
    refill()
    statuses = [
        get(f"{worker.url}/customers/{cid}", TOKEN)[0]
        for cid in [*customers, *(f"unknown-{i}" for i in range(20))]
    ]
    assert statuses[:BURST].count(429) == 0 and statuses.count(429) >= len(statuses) - 2 * BURST
    status, headers, body = get(f"{worker.url}/customers/unknown-x", TOKEN)
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert strict(body)["error"] == "rate_limited"
    assert get(f"{worker.url}/healthz")[0] == 200  # health checks are never limited
    refill()


def test_cli_customer_sends_the_token(
    worker: Worker,
    customers: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("CX_API_TOKEN", raising=False)
    monkeypatch.delenv("CX_API_TOKEN_FILE", raising=False)
    argv = ["customer", customers[1], "--api", worker.url, "--source", "api"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "--api-token-file" in err
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    assert main([*argv, "--api-token-file", str(token_file), "--json"]) == 0
    assert strict(capsys.readouterr().out)["customer_id"] == customers[1]


@dataclass
class TlsWorker(Worker):
    cafile: str = ""

    @property
    def url(self) -> str:
        return f"https://localhost:{self.web_port}"

    def wait_healthy(self, timeout: float) -> None:
        context = ssl.create_default_context(cafile=self.cafile)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process and self.process.poll() is None, self.log_tail()
            try:
                if get(f"{self.url}/healthz", context=context)[0] == 200:
                    return
            except OSError:  # not listening yet
                pass
            time.sleep(0.3)
        raise AssertionError(f"TLS worker not healthy after {timeout}s\n{self.log_tail()}")


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    san = "subjectAltName=DNS:localhost,IP:127.0.0.1"
    argv = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    argv += ["-subj", "/CN=localhost", "-addext", san, "-keyout", str(key), "-out", str(cert)]
    subprocess.run(argv, check=True, capture_output=True)
    return cert, key


def test_tls_serves_https_and_a_worker_without_token_serves_no_customers(
    kafka_bootstrap: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topics = Topics(f"t{uuid.uuid4().hex[:10]}.")
    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), topics)
    cert, key = self_signed(tmp_path)
    tls = TlsWorker(
        kafka_bootstrap,
        topics,
        f"{topics.prefix}app",
        tmp_path / "tls",
        api_token="",  # no token configured at all, and no --insecure-api
        extra_args=["--web-tls-cert", str(cert), "--web-tls-key", str(key)],
        cafile=str(cert),
    )
    try:
        tls.start()
        context = ssl.create_default_context(cafile=str(cert))
        status, _, body = get(f"{tls.url}/metrics", context=context)
        assert status == 200 and "cxstream_" in body
        status, _, body = get(f"{tls.url}/customers/c0000001", context=context)
        assert status == 403 and "--api-token-file" in strict(body)["detail"]
        argv = ["customer", "c0000001", "--api", tls.url, "--api-cafile", str(cert)]
        assert main([*argv, "--source", "api"]) == 2  # the CLI verifies and explains the 403
        assert "serves no customer data" in capsys.readouterr().err
        with pytest.raises((OSError, http.client.HTTPException)):  # no plain HTTP there
            urllib.request.urlopen(f"http://localhost:{tls.web_port}/healthz", timeout=5)
    finally:
        tls.kill()


def folded(workers: list[TlsWorker], cid: str, newest: float, context: ssl.SSLContext) -> bool:
    """Both workers answer for ``cid`` with its state folded up to its ``newest`` event."""
    answers = [get(f"{w.url}/customers/{cid}", TOKEN, context) for w in workers]
    return all(a[0] == 200 and strict(a[2])["state"]["watermark"] == newest for a in answers)


def test_two_tls_workers_route_authenticated_requests_to_the_owner(
    kafka_bootstrap: str,
    module_topics: Topics,
    customers: list[str],
    history: list[Event],
    tmp_path: Path,
) -> None:
    """Either worker answers for any customer over HTTPS: the router forwards the token to the
    owner's advertised https:// URL and trusts the shared self-signed certificate."""
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(cafile=str(cert))
    workers = [
        TlsWorker(
            kafka_bootstrap,
            module_topics,
            f"{module_topics.prefix}tls-group",
            tmp_path / name,
            api_token=TOKEN,
            extra_args=["--web-tls-cert", str(cert), "--web-tls-key", str(key)],
            cafile=str(cert),
        )
        for name in ("a", "b")
    ]
    try:
        for w in workers:
            w.launch()
        for w in workers:
            w.wait_healthy(120)
        deadline = time.monotonic() + 90
        newest = newest_event_times(history)
        pending = set(customers)
        while True:  # both own partitions, and every customer is folded to its newest event on
            # its owner. A 200 alone is not enough: a catch-up batch can fold a customer's next
            # months between the two workers' answers (CI at c124457 saw exactly that).
            owned = [strict(get(f"{w.url}/healthz", context=context)[2]) for w in workers]
            split = all(o["assigned_partitions"] for o in owned)
            pending = {cid for cid in pending if not folded(workers, cid, newest[cid], context)}
            if split and not pending:
                break
            assert time.monotonic() < deadline, (owned, pending, workers[0].log_tail())
            time.sleep(0.5)
        partitions = set()
        for cid in customers:
            answers = [get(f"{w.url}/customers/{cid}", TOKEN, context) for w in workers]
            assert [a[0] for a in answers] == [200, 200], (cid, answers)
            bodies = [strict(a[2]) for a in answers]
            assert bodies[0] == bodies[1]
            partitions.add(bodies[0]["partition"])
            time.sleep(BURST / RATE / len(customers))  # stay under the default rate limit
        assert len(partitions) > 1  # so some requests were routed to the other worker
        assert get(f"{workers[0].url}/customers/{customers[0]}", None, context)[0] == 401
        for cid in customers[:3]:  # an alert action is routed with its method and body too
            body = {"customer_id": cid, "action": "acknowledged", "actor": "ana"}
            for w in workers:  # one of the two is not the owner: it forwards the POST
                status, reply = post_action(w.url, "alert-1", body, context)
                assert status == 202 and reply["action"]["customer_id"] == cid, reply
                time.sleep(BURST / RATE / len(customers))
    finally:
        for w in workers:
            w.kill()
