"""Slack-compatible messages for alerts (Block Kit ``blocks`` plus a plain ``text`` fallback).

Pure functions: the same alert always gives the same message, so retries and re-deliveries
post identical content. Slack, Mattermost and most chat webhooks accept this shape; the
``text`` field is what notifications and clients without Block Kit show.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from streams.domain import Alert, AlertType, Priority
from streams.errors import ConfigError

# Slack limits: header text 150 chars, section text 3000 chars.
_HEADER_MAX = 150
_SECTION_MAX = 3000
_UNASSIGNED = "unassigned"

_TYPE_TITLES = {
    AlertType.CHURN_RISK: "Churn risk",
    AlertType.REFERRAL_OPPORTUNITY: "Referral opportunity",
}
_PRIORITY_ICONS = {
    Priority.CRITICAL: ":red_circle:",
    Priority.HIGH: ":large_orange_circle:",
    Priority.MEDIUM: ":large_yellow_circle:",
    Priority.LOW: ":white_circle:",
}


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack treats as control syntax (``<``, ``>``, ``&``).

    Reasons, playbooks and ids come from data; unescaped, ``<!channel>`` in a comment would
    ping a whole channel and ``<url|x>`` would forge a link.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def customer_link(alert: Alert, customer_url_template: str | None) -> str:
    """The customer id as mrkdwn, linked when a template such as ``https://crm/c/{customer_id}``
    is configured; the id is URL-quoted so odd ids cannot break out of the URL."""
    label = escape_mrkdwn(alert.customer_id)
    if not customer_url_template:
        return f"`{label}`"
    url = customer_url_template.format(customer_id=quote(alert.customer_id, safe=""))
    return f"<{escape_mrkdwn(url)}|{label}>"


def validate_customer_url_template(template: str | None) -> None:
    """Fail at start-up on a template that would raise at the first alert."""
    if not template:
        return
    try:
        url = template.format(customer_id="x")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"customer URL template {template!r}: only {{customer_id}} allowed"
        ) from exc
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"customer URL template {template!r} must be an http(s) URL")


def headline(alert: Alert) -> str:
    """One line naming what happened, e.g. ``Churn risk opened (critical, P(loss) 0.82, value
    at risk 1,234.00)`` or ``Referral opportunity opened (medium, score 82)``."""
    title = _TYPE_TITLES.get(alert.type, str(alert.type))
    if alert.p_loss is not None:
        return (
            f"{title} {alert.action} ({alert.priority}, P(loss) {alert.p_loss:.2f}, "
            f"value at risk {_money(alert.value_at_risk_minor)})"
        )
    return f"{title} {alert.action} ({alert.priority}, score {alert.score:.0f})"


def _money(minor: int) -> str:
    """Minor units as a plain amount (the currency is the shop's own)."""
    return f"{minor / 100:,.2f}"


def fallback_text(alert: Alert) -> str:
    """Plain text for notifications: what, who, which team, and why in one line."""
    why = "; ".join(reason.message for reason in alert.reasons) or "no reason given"
    team = alert.cx_team or _UNASSIGNED
    text = f"{headline(alert)} for customer {alert.customer_id} [team: {team}]: {why}"
    return escape_mrkdwn(_truncate(text, _SECTION_MAX))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _reasons_block(alert: Alert) -> dict[str, Any]:
    lines = [f"• {escape_mrkdwn(reason.message)}" for reason in alert.reasons]
    body = "*Why*\n" + ("\n".join(lines) if lines else "_no reason given_")
    return {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(body, _SECTION_MAX)}}


def _context_text(alert: Alert) -> str:
    text = f"alert `{escape_mrkdwn(alert.alert_id)}` · opened {_iso(alert.opened_at)}"
    if alert.occurred_at != alert.opened_at:
        text += f" · {alert.action} {_iso(alert.occurred_at)}"
    if alert.params_version:
        text += f" · parameters `{escape_mrkdwn(alert.params_version)}`"
    return text


def format_slack_message(alert: Alert, customer_url_template: str | None = None) -> dict[str, Any]:
    """Build the webhook body: header, who and how urgent, reasons, playbook, id/time footer."""
    icon = _PRIORITY_ICONS.get(alert.priority, "")
    title = _TYPE_TITLES.get(alert.type, str(alert.type))
    fields = [
        ("Priority", str(alert.priority).capitalize()),
        ("Score", f"{alert.score:.0f}/100"),
        ("Action", str(alert.action)),
        ("CX team", escape_mrkdwn(alert.cx_team or _UNASSIGNED)),
    ]
    if alert.p_loss is not None:
        fields[1] = ("P(loss)", f"{alert.p_loss:.2f}")
        fields.insert(2, ("Value at risk", _money(alert.value_at_risk_minor)))
    who = f"{icon} {title} for customer {customer_link(alert, customer_url_template)}".strip()
    playbook = escape_mrkdwn(alert.playbook) if alert.playbook else "_none_"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _truncate(headline(alert), _HEADER_MAX)},
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": who},
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
        },
        _reasons_block(alert),
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _truncate(f"*Playbook*\n{playbook}", _SECTION_MAX)},
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _context_text(alert)}]},
    ]
    return {"text": fallback_text(alert), "blocks": blocks}
