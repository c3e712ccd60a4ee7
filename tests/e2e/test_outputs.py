"""Redis read model and webhook delivery in a running worker: outages delay, never lose."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis

from streams.domain import AlertAction, Event
from streams.topics import Topics
from tests.e2e.harness import Worker, free_port, metric, produce, read_outputs

pytestmark = pytest.mark.e2e


class Recorder(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Recorder.received.append((self.headers.get("Idempotency-Key", ""), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def webhook() -> Iterator[str]:
    Recorder.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir = free_port(), workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)


def eventually(check: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def test_redis_outage_delays_the_read_model_and_webhooks_deliver_each_opening_once(
    kafka_bootstrap: str,
    topics: Topics,
    scenario: list[Event],
    make_worker: Callable[..., Worker],
    webhook: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    store = RedisServer(tmp_path)
    request.addfinalizer(store.stop)  # the restarted server too, pass or fail
    store.start()
    worker = make_worker(redis_url=store.url, webhook_url=webhook).start()
    store.stop()  # Redis goes away before the first event

    produce(kafka_bootstrap, topics, scenario)
    published = read_outputs(kafka_bootstrap, topics)  # the stream flows without Redis
    assert published.alerts and len(published.snapshots) == len({e.customer_id for e in scenario})
    eventually(
        lambda: metric(worker, "cxstream_redis_write_failures_total") > 0,
        "Redis failures were not counted",
    )

    store.start()  # back, empty: the read model catches up from the topics
    client = redis.Redis.from_url(store.url, decode_responses=True)
    prefix = topics.prefix.replace(".", ":")
    eventually(
        lambda: len(client.keys(f"{prefix}customer:*")) == len(published.snapshots),
        "Redis did not catch up with every customer's snapshot",
    )

    def redis_mirrors_the_topic() -> bool:  # timer ticks may still add a later snapshot
        latest = read_outputs(kafka_bootstrap, topics, quiet=1.0).snapshots
        stored = {c: json.loads(client.get(f"{prefix}customer:{c}") or "{}") for c in latest}
        return all(
            stored[c].get("as_of") == s.as_of and stored[c].get("health") == s.health
            for c, s in latest.items()
        )

    eventually(redis_mirrors_the_topic, "Redis snapshots differ from the health topic")

    openings = {a.alert_id for a in published.alerts if a.action is AlertAction.OPENED}
    eventually(lambda: len(Recorder.received) >= len(openings), "webhooks were not all sent")
    time.sleep(2)  # anything more would be a duplicate
    keys = [key for key, _ in Recorder.received]
    assert sorted(keys) == sorted(f"{alert_id}:opened" for alert_id in openings)
    assert all("blocks" in body and body["text"] for _, body in Recorder.received)
    assert metric(worker, "cxstream_alert_deliveries_total") >= len(openings)
