"""Which webhook an alert goes to: the alert's ``cx_team`` routing key, else a default."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from streams.domain import Alert
from streams.errors import ConfigError


def route(alert: Alert, routes: Mapping[str, str], default_url: str) -> str:
    """Return the webhook URL for ``alert``.

    Keys match ``cx_team`` exactly (team keys are identifiers, not display names); an alert
    without a team, or for a team with no route, goes to ``default_url`` so nothing is dropped.
    """
    if alert.cx_team is not None:
        url = routes.get(alert.cx_team)
        if url:
            return url
    return default_url


def validate_routes(routes: Mapping[str, str], default_url: str) -> None:
    """Fail at start-up, not at the first alert, on a URL that cannot be posted to.

    The message names the team key, never the URL: webhook URLs embed secret tokens.
    """
    for key, url in [*routes.items(), ("<default>", default_url)]:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ConfigError(f"delivery route {key!r}: webhook URL must be http(s)://host/...")
