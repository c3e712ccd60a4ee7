"""The API's guard without a worker: token, secure default, rate limit, and the settings."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from agents.cli.commands.common import api_token_from_args
from agents.settings import ApiAccess, WorkerOptions
from agents.worker.api_security import ApiGuard, TokenBuckets, peer_proof, token_matches
from agents.worker.web_settings import advertised_url, server_ssl_context
from streams.errors import ConfigError

TOKEN = "s3cret-token-0123456789abcdef"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guard(**access: object) -> ApiGuard:
    return ApiGuard(ApiAccess(**access), Clock())  # type: ignore[arg-type]


def test_right_token_passes_wrong_or_missing_token_is_401_saying_how() -> None:
    g = guard(token=TOKEN)
    assert g.check("/customers/c1", "10.0.0.1", f"Bearer {TOKEN}") is None
    assert g.check("/customers/c1", "10.0.0.1", f"bearer  {TOKEN} ") is None
    for header in (None, "Bearer nope", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"):
        denial = g.check("/customers/c1", "10.0.0.1", header)
        assert denial is not None and denial.status == 401, header
        assert denial.headers["WWW-Authenticate"].startswith("Bearer ")
        assert "Authorization: Bearer <token>" in denial.body["detail"]
        assert "nope" not in str(denial.body) and TOKEN not in str(denial.body)


def test_health_and_metrics_stay_open() -> None:
    for access in ({"token": TOKEN}, {}):
        g = guard(**access)
        assert g.check("/healthz", "10.0.0.1", None) is None
        assert g.check("/metrics", "10.0.0.1", None) is None


def test_without_a_token_the_worker_refuses_customer_data_unless_insecure() -> None:
    denial = guard().check("/customers/c1", "10.0.0.1", None)
    assert denial is not None and denial.status == 403
    assert "--api-token-file" in denial.body["detail"] and "--insecure-api" in denial.body["detail"]
    assert guard(insecure=True).check("/customers/c1", "10.0.0.1", None) is None
    # any other path is closed too: secure by default, not by list
    assert guard().check("/table/customers/c1/", "10.0.0.1", None) is not None


def test_rate_limit_per_client_covers_known_unknown_and_failed_requests() -> None:
    clock = Clock()
    g = ApiGuard(ApiAccess(token=TOKEN, rate_per_second=2, burst=3), clock)
    auth = f"Bearer {TOKEN}"
    assert [g.check(f"/customers/c{i}", "a", auth) for i in range(3)] == [None] * 3
    denial = g.check("/customers/unknown", "a", "Bearer wrong")
    assert denial is not None and denial.status == 429 and denial.headers["Retry-After"] == "1"
    assert g.check("/customers/c1", "b", auth) is None  # other clients are not affected
    clock.now += 0.5  # one token back at 2/s
    assert g.check("/customers/c1", "a", auth) is None
    assert g.check("/customers/c1", "a", auth) is not None


def test_a_peer_forwarding_a_request_is_not_counted_twice() -> None:
    g = ApiGuard(ApiAccess(token=TOKEN, rate_per_second=1, burst=1), Clock())
    auth = f"Bearer {TOKEN}"
    for _ in range(5):
        assert g.check("/customers/c1", "peer", auth, peer_proof(TOKEN)) is None
    assert g.check("/customers/c1", "peer", auth, "forged") is None  # its one burst token
    assert g.check("/customers/c1", "peer", auth, "forged") is not None


def test_buckets_forget_the_least_recent_clients_beyond_the_cap() -> None:
    buckets = TokenBuckets(1.0, 1, Clock(), max_clients=2)
    for client in ("a", "b", "c"):
        assert buckets.take(client) == 0.0
    assert buckets.take("a") == 0.0  # evicted, so a fresh bucket
    assert buckets.take("c") > 0.0


def test_token_compare_handles_odd_headers() -> None:
    assert not token_matches(TOKEN, "Bearer \u00e9\u00e9")
    assert not token_matches(TOKEN, "")


def test_the_token_never_shows_in_repr() -> None:
    options = WorkerOptions(api_access=ApiAccess(token=TOKEN))
    assert TOKEN not in repr(options) and TOKEN not in repr(ApiGuard(options.api_access))


def args(path: Path | None = None) -> argparse.Namespace:
    return argparse.Namespace(api_token_file=path)


def test_token_sources_in_order(tmp_path: Path) -> None:
    file = tmp_path / "token"
    file.write_text(f"{TOKEN}\n")
    other = tmp_path / "other"
    other.write_text("from-env-file-0123456789")
    env = {"CX_API_TOKEN_FILE": str(other), "CX_API_TOKEN": "from-env-0123456789abcdef"}
    assert api_token_from_args(args(file), env) == TOKEN
    assert api_token_from_args(args(), env) == "from-env-file-0123456789"
    assert api_token_from_args(args(), {"CX_API_TOKEN": TOKEN}) == TOKEN
    assert api_token_from_args(args(), {}) is None


@pytest.mark.parametrize(
    ("content", "expected"),
    [("", "empty"), ("short", "guessable"), ("two words but long enough", "only letters")],
)
def test_bad_tokens_are_refused_without_echoing_them(
    tmp_path: Path, content: str, expected: str
) -> None:
    file = tmp_path / "token"
    file.write_text(content)
    with pytest.raises(ConfigError, match=expected) as info:
        api_token_from_args(args(file), {})
    assert str(file) in str(info.value)
    if content:
        assert content not in str(info.value)


def test_missing_token_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CX_API_TOKEN_FILE"):
        api_token_from_args(args(), {"CX_API_TOKEN_FILE": str(tmp_path / "absent")})


def test_advertised_url() -> None:
    assert advertised_url(None, "127.0.0.1", 6066, tls=False) == "http://127.0.0.1:6066"
    assert advertised_url(None, "10.1.2.3", 443, tls=True) == "https://10.1.2.3:443"
    wildcard = advertised_url(None, "0.0.0.0", 6066, tls=False)
    assert "0.0.0.0" not in wildcard and wildcard.endswith(":6066")
    assert advertised_url("http://worker-1:6066/", "0.0.0.0", 1, False) == "http://worker-1:6066"
    for bad in ("worker-1:6066", "ftp://w:1", "http://"):
        with pytest.raises(ConfigError, match="advertised-url"):
            advertised_url(bad, "0.0.0.0", 6066, tls=False)
    with pytest.raises(ConfigError, match="https"):
        advertised_url("http://w:6066", "0.0.0.0", 6066, tls=True)


def test_tls_needs_both_files_and_says_which_are_bad(tmp_path: Path) -> None:
    assert server_ssl_context(None, None) is None
    with pytest.raises(ConfigError, match="both"):
        server_ssl_context(tmp_path / "cert.pem", None)
    (tmp_path / "cert.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"cert\.pem"):
        server_ssl_context(tmp_path / "cert.pem", tmp_path / "key.pem")


def test_help_names_the_token_settings_but_never_shows_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from agents.cli.main import main

    monkeypatch.setenv("CX_API_TOKEN", TOKEN)
    for command in ("worker", "customer"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert "--api-token-file" in out and "CX_API_TOKEN" in out and TOKEN not in out
