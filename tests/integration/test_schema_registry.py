"""The Confluent Schema Registry path against a real registry: Apicurio Registry 3.

confluent-kafka's own ``SchemaRegistryClient`` and ``AvroSerializer`` talk to it, as another
team's service would; a real ``cxstream worker`` folds what they produce. The registry starts
once per session (``ops/stack.sh start registry`` on free ports) and one worker serves the
module; the tests run in file order, the outage last. Nothing skips: if the registry cannot
start, every test here fails and says why.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from agents.cli.main import main
from agents.settings import KafkaSettings, registry_conf
from agents.worker.topic_admin import KEEP_FOREVER, ensure_topics
from schemas import SCHEMA_DIR, SCHEMA_FILES
from streams.contracts.mapping import event_to_record
from streams.topics import Topics
from tests.e2e.harness import Worker, metric
from tests.integration.registry_helpers import (
    folded,
    framed,
    healthz,
    no_dead_letters,
    orders,
    produce,
    purchase,
    schemas_dir,
    ticket,
    tickets,
    wait_for,
)
from tests.registry_stack import RunningRegistry, start_registry, stop_registry

pytestmark = pytest.mark.integration

COUPON = {"name": "coupon_code", "type": ["null", "string"], "default": None}
_registry_error: list[str] = []


@pytest.fixture(scope="session")
def registry() -> Iterator[RunningRegistry]:
    if _registry_error:
        pytest.fail(_registry_error[0])
    try:
        running = start_registry()
    except RuntimeError as exc:
        _registry_error.append(str(exc))
        pytest.fail(str(exc))
    try:
        yield running
    finally:
        stop_registry(running)


@pytest.fixture(scope="module")
def names(kafka_bootstrap: str) -> Topics:
    topics = Topics(f"sr{uuid.uuid4().hex[:8]}.")
    ensure_topics(
        KafkaSettings(bootstrap_servers=kafka_bootstrap), topics, retention_ms=KEEP_FOREVER
    )
    return topics


@pytest.fixture(scope="module")
def client(registry: RunningRegistry) -> SchemaRegistryClient:
    return SchemaRegistryClient(registry_conf(registry.url))  # with the worker's timeout


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str,
    names: Topics,
    registry: RunningRegistry,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    data = tmp_path_factory.mktemp("registry-worker") / "w1"
    started = Worker(kafka_bootstrap, names, f"{names.prefix}app", data)
    started.extra_args = ["--schema-registry-url", registry.url]
    try:
        yield started.start()
    finally:
        started.kill()


def register(
    capsys: pytest.CaptureFixture[str], url: str, topics: Topics, *extra: str
) -> tuple[int, str, str]:
    """``cxstream schemas register`` in process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    argv = ["schemas", "register", "--registry-url", url, "--topic-prefix", topics.prefix]
    status = main([*argv, *extra])
    out, err = capsys.readouterr()
    return status, out, err


def test_register_sets_backward_compatibility_and_registers_every_schema(
    registry: RunningRegistry,
    names: Topics,
    client: SchemaRegistryClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    host = registry.url.removeprefix("http://")
    status, out, _ = register(capsys, f"http://cx:s3cret-pw@{host}", names)
    assert status == 0, out
    assert "s3cret-pw" not in out and "cx:***@" in out  # credentials never printed
    subjects = [f"{getattr(names, kind)}-value" for kind in SCHEMA_FILES]
    assert set(subjects) <= set(client.get_subjects())
    for kind, subject in zip(SCHEMA_FILES, subjects, strict=True):
        assert client.get_compatibility(subject) == "BACKWARD"
        latest = client.get_latest_version(subject)
        want = json.loads((SCHEMA_DIR / SCHEMA_FILES[kind]).read_text())
        assert json.loads(latest.schema.schema_str) == want
        assert subject in out
    assert out.count("registered") == len(subjects)

    status, out, _ = register(capsys, registry.url, names, "--json")  # idempotent
    report = json.loads(out)
    assert status == 0 and {s["status"] for s in report["subjects"]} == {"unchanged"}
    assert all(client.get_versions(s) == [1] for s in subjects)


def test_worker_folds_registry_framed_events_and_a_compatible_evolution(
    registry: RunningRegistry,
    names: Topics,
    client: SchemaRegistryClient,
    worker: Worker,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    assert register(capsys, registry.url, names)[0] == 0
    topic = names.purchases
    current = (SCHEMA_DIR / "purchase.avsc").read_text()
    writer = AvroSerializer(client, current, conf={"auto.register.schemas": False})
    first = framed(writer, topic, [purchase("sr-alice", n) for n in (1, 2, 3)])
    produce(kafka_bootstrap, topic, first)
    wait_for("alice's three orders folded", lambda: orders(worker, "sr-alice") == 3)
    assert folded(worker, "sr-alice", ("purchases", "gross_minor"), 6000)

    # A new optional field with a default: BACKWARD accepts it as version 2 of the subject.
    evolved_dir = schemas_dir(tmp_path, lambda s: s["fields"].append(COUPON))
    status, out, err = register(capsys, registry.url, names, "--schemas-dir", str(evolved_dir))
    assert status == 0, err
    assert out.count("unchanged") == len(SCHEMA_FILES) - 1  # only purchases changed
    assert client.get_versions(f"{topic}-value") == [1, 2]
    evolved = (evolved_dir / "purchase.avsc").read_text()
    new_writer = AvroSerializer(client, evolved, conf={"auto.register.schemas": False})
    later = [purchase("sr-bob", n) for n in (4, 5)] + [purchase("sr-alice", 6)]
    second = framed(new_writer, topic, later, coupon_code="SPRING")
    assert second[0][2][1:5] != first[0][2][1:5]  # another schema id: the worker looks it up
    produce(kafka_bootstrap, topic, second)
    wait_for("bob's orders, written with v2, folded", lambda: orders(worker, "sr-bob") == 2)
    wait_for("alice's v2 order folded", lambda: orders(worker, "sr-alice") == 4)
    no_dead_letters(worker, kafka_bootstrap, names)


def test_an_incompatible_change_is_refused_with_the_registrys_message(
    registry: RunningRegistry,
    names: Topics,
    client: SchemaRegistryClient,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    assert register(capsys, registry.url, names)[0] == 0
    subject = f"{names.purchases}-value"
    before = client.get_versions(subject)

    def amount_as_text(schema: dict[str, Any]) -> None:
        field = next(f for f in schema["fields"] if f["name"] == "amount_minor")
        field["type"] = "string"  # readers of the new schema cannot read the old longs

    broken = schemas_dir(tmp_path, amount_as_text)
    status, out, err = register(capsys, registry.url, names, "--schemas-dir", str(broken))
    assert status == 1
    assert "refused" in out
    assert f"{subject}: the registry refused the schema" in err
    assert "Incompatible" in err and "(HTTP 409)" in err
    assert "STRING" in err and "LONG" in err  # the registry's own words, not a summary
    assert client.get_versions(subject) == before

    # A service producing with AvroSerializer (auto-registering) is refused the same way.
    text = (broken / "purchase.avsc").read_text()
    serializer = AvroSerializer(client, text)
    record = {**event_to_record(purchase("sr-carol", 1)), "amount_minor": "10.00"}
    with pytest.raises(SchemaRegistryError) as refused:
        serializer(record, SerializationContext(names.purchases, MessageField.VALUE))
    assert refused.value.http_status_code == 409
    assert client.get_versions(subject) == before
    assert client.test_compatibility(subject, Schema(text, "AVRO")) is False


def test_a_registry_outage_is_retried_and_dead_letters_nothing(
    registry: RunningRegistry,
    names: Topics,
    client: SchemaRegistryClient,
    worker: Worker,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert register(capsys, registry.url, names)[0] == 0
    topic = names.tickets
    # Framed while the registry is up, with an id this worker has never looked up.
    text = (SCHEMA_DIR / "ticket_event.avsc").read_text()
    writer = AvroSerializer(client, text, conf={"auto.register.schemas": False})
    values = framed(writer, topic, [ticket("sr-dave", n) for n in (1, 2, 3)])

    registry.command("stop", "registry")
    try:
        produce(kafka_bootstrap, topic, values)

        def outage_reported() -> bool:
            try:
                dead = metric(worker, "cxstream_dead_letters_total")
            except OSError:  # the worker's loop is busy asking the registry
                return False
            assert dead == 0, "good records were dead-lettered during the registry outage"
            status, body = healthz(worker)
            return status == 503 and "RegistryUnavailable" in body

        wait_for("the worker reports the registry outage on /healthz (503)", outage_reported, 120)
        assert tickets(worker, "sr-dave") == 0  # held back: neither folded nor dead-lettered
        no_dead_letters(worker, kafka_bootstrap, names)
    finally:
        registry.command("start", "registry")
    wait_for("dave's tickets folded after the outage", lambda: tickets(worker, "sr-dave") == 3, 120)
    wait_for("/healthz back to 200", lambda: healthz(worker)[0] == 200, 60)
    no_dead_letters(worker, kafka_bootstrap, names)
