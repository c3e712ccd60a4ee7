"""What a chat integration needs to post an action back: ids, the action URL and buttons.

Added to every webhook message: Slack's ``metadata`` (``event_type`` ``cxstream_alert``, the
alert and customer ids and the URL of ``POST /alerts/{alert_id}/actions``), a context line with
that URL, and Acknowledge / Dismiss buttons whose ``value`` holds both ids as JSON (a Slack
app's interaction handler turns a click into that POST). Webhooks that do not know these
fields ignore them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from streams.domain import Alert
from streams.errors import ConfigError

EVENT_TYPE = "cxstream_alert"


def actions_url(template: str, alert: Alert) -> str:
    return template.format(alert_id=quote(alert.alert_id, safe=""))


def validate_actions_url_template(template: str | None) -> None:
    """Fail at start-up on a template that would raise at the first alert."""
    if not template:
        return
    try:
        url = template.format(alert_id="x")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"actions URL template {template!r}: only {{alert_id}} allowed") from exc
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"actions URL template {template!r} must be an http(s) URL")


def with_action_links(body: dict[str, Any], alert: Alert, template: str) -> dict[str, Any]:
    """``body`` (a Slack message) plus the ids, the action URL and two buttons."""
    url = actions_url(template, alert)
    ids = {"alert_id": alert.alert_id, "customer_id": alert.customer_id}
    value = json.dumps(ids, separators=(",", ":"))
    buttons = [
        {
            "type": "button",
            "action_id": f"cxstream_{kind}",
            "text": {"type": "plain_text", "text": label},
            "value": value,
        }
        for kind, label in (("acknowledged", "Acknowledge"), ("dismissed", "Dismiss"))
    ]
    context = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"act on it: `POST {url}`"}],
    }
    blocks = [*body.get("blocks", []), {"type": "actions", "elements": buttons}, context]
    metadata = {"event_type": EVENT_TYPE, "event_payload": {**ids, "actions_url": url}}
    return {**body, "blocks": blocks, "metadata": metadata}
