"""``cxstream customer`` over HTTP: the body of the real API view, the token, 404s and
unreachable APIs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agents.cli.commands.customer import Refused, Unreachable, fetch_api
from agents.cli.main import main
from agents.demo.stack import free_port
from agents.worker.web import customer_view
from streams.envelope import encode_envelope, new_envelope
from streams.jsonable import dumps
from streams.model import load_config
from streams.processing import process_event
from streams.simulator import iter_events

CUSTOMER = "c0000003"
TOKEN = "cli-test-token-0123456789abcdef"


def api_body() -> bytes:
    """What a worker answers for one simulated customer, built by the worker's own view."""
    config = load_config()
    state = None
    for event in iter_events(20, 120, 3):
        if event.customer_id == CUSTOMER:
            state, _ = process_event(state, event, config)
    assert state is not None
    view = customer_view(encode_envelope(new_envelope(0, state)), config)
    return dumps(view).encode()


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    body = api_body()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self.send_response(401)
                self.send_header("WWW-Authenticate", "Bearer")
                self.end_headers()
                self.wfile.write(b'{"error": "missing_token", "detail": "send the token"}')
                return
            found = self.path == f"/customers/{CUSTOMER}"
            payload = body if found else b'{"error": "not_found"}'
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def token_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CX_API_TOKEN_FILE", raising=False)
    monkeypatch.setenv("CX_API_TOKEN", TOKEN)


def test_fetch_api_found_and_not_found(api: str) -> None:
    body = fetch_api(api, CUSTOMER, 5.0, TOKEN)
    assert body is not None and body["customer_id"] == CUSTOMER
    assert fetch_api(api, "nobody", 5.0, TOKEN) is None


def test_fetch_api_without_or_with_a_wrong_token_says_what_to_do(api: str) -> None:
    with pytest.raises(Refused, match=r"HTTP 401: the worker needs its API token.*CX_API_TOKEN"):
        fetch_api(api, CUSTOMER, 5.0)
    with pytest.raises(Refused, match="refused the API token") as info:
        fetch_api(api, CUSTOMER, 5.0, "wrong-token-0123456789")
    assert "wrong-token" not in str(info.value)


def test_cli_sends_the_token_from_a_file_and_exits_2_when_refused(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CX_API_TOKEN")
    assert main(["customer", CUSTOMER, "--api", api, "--source", "api"]) == 2
    assert "--api-token-file" in capsys.readouterr().err
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    argv = ["customer", CUSTOMER, "--api", api, "--api-token-file", str(token_file), "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["customer_id"] == CUSTOMER


def test_fetch_api_unreachable() -> None:
    with pytest.raises(Unreachable):
        fetch_api(f"http://127.0.0.1:{free_port()}", CUSTOMER, 2.0)


def test_renders_the_api_view(api: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["customer", CUSTOMER, "--api", api]) == 0
    out = capsys.readouterr().out
    for expected in (
        f"customer {CUSTOMER}",
        "from api",
        "health contributions",
        "stage history",
        "onboarding",
        "facts",
        "orders",
    ):
        assert expected in out


def test_json_is_valid_json_without_infinities(
    api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["customer", CUSTOMER, "--api", api, "--json"]) == 0
    raw = capsys.readouterr().out
    body = json.loads(raw, parse_constant=lambda name: pytest.fail(f"{name} in output"))
    assert body["source"] == "api" and body["state"]["stage_history"]


def test_unknown_customer_exits_1(api: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["customer", "nobody", "--api", api]) == 1
    assert "unknown customer" in capsys.readouterr().err


def test_api_only_and_unreachable_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    api = f"http://127.0.0.1:{free_port()}"
    assert main(["customer", CUSTOMER, "--api", api, "--source", "api"]) == 2
    assert "127.0.0.1" in capsys.readouterr().err
