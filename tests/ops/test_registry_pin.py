"""The schema registry of docker-compose.yml is the version the local stack pins."""

from __future__ import annotations

import re
from pathlib import Path

from tests.ops.test_docker_compose import compose_config

ROOT = Path(__file__).resolve().parents[2]


def test_compose_registry_matches_the_pinned_local_registry() -> None:
    pom = (ROOT / "ops" / "registry" / "pom.xml").read_text()
    match = re.search(r"<apicurio.version>([^<]+)</apicurio.version>", pom)
    assert match
    services = compose_config()["services"]
    registry = services["schema-registry"]
    assert registry["image"] == f"apicurio/apicurio-registry:{match.group(1)}"
    # Confluent's default compatibility, not Apicurio's NONE, as ops/stack.sh sets it.
    assert registry["environment"]["APICURIO_RULES_GLOBAL_COMPATIBILITY"] == "BACKWARD"
    url = services["worker"]["environment"]["SCHEMA_REGISTRY_URL"]
    assert url == "http://schema-registry:8080/apis/ccompat/v7"
