"""Slack message formatting: content CX people need, safe against data that looks like markup."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from streams.delivery import fallback_text, format_slack_message, validate_customer_url_template
from streams.domain import Alert, AlertAction, AlertType, Priority, Reason
from streams.errors import ConfigError

ALERT = Alert(
    alert_id="a-churn-123",
    customer_id="cust 42/x",
    type=AlertType.CHURN_RISK,
    action=AlertAction.OPENED,
    priority=Priority.CRITICAL,
    score=82.4,
    reasons=(
        Reason("public_detractor", "Left a 1-star public review 2 hours ago", 1.0),
        Reason("escalations", "3 escalated tickets in 14 days", 3.0),
    ),
    playbook="Call within 24h; offer a senior engineer review",
    opened_at=1_700_000_000.0,
    occurred_at=1_700_000_600.0,
    cx_team="emea-enterprise",
)
TEMPLATE = "https://crm.example.com/customers/{customer_id}"


def all_text(message: dict[str, object]) -> str:
    return json.dumps(message, ensure_ascii=False)


def test_message_has_fallback_text_and_blocks() -> None:
    message = format_slack_message(ALERT, TEMPLATE)
    assert set(message) == {"text", "blocks"}
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Churn risk opened (critical, score 82)"},
    }
    assert {b["type"] for b in blocks} == {"header", "section", "context"}


def test_message_shows_everything_cx_needs() -> None:
    text = all_text(format_slack_message(ALERT, TEMPLATE))
    for expected in (
        "Churn risk opened",
        "Critical",
        "82/100",
        "Left a 1-star public review 2 hours ago",
        "3 escalated tickets in 14 days",
        "Call within 24h; offer a senior engineer review",
        "emea-enterprise",
        "a-churn-123",
        "opened 2023-11-14 22:13 UTC · opened 2023-11-14 22:23 UTC",
    ):
        assert expected in text, expected


def test_customer_link_quotes_the_id_in_the_url() -> None:
    text = all_text(format_slack_message(ALERT, TEMPLATE))
    assert "<https://crm.example.com/customers/cust%2042%2Fx|cust 42/x>" in text


def test_without_template_the_customer_id_is_shown_plain() -> None:
    text = all_text(format_slack_message(ALERT))
    assert "`cust 42/x`" in text
    assert "https://" not in text


def test_fallback_text_is_one_readable_line() -> None:
    assert fallback_text(ALERT) == (
        "Churn risk opened (critical, score 82) for customer cust 42/x [team: emea-enterprise]: "
        "Left a 1-star public review 2 hours ago; 3 escalated tickets in 14 days"
    )


def test_referral_without_team_or_reasons() -> None:
    alert = replace(
        ALERT,
        type=AlertType.REFERRAL_OPPORTUNITY,
        priority=Priority.LOW,
        score=71.0,
        reasons=(),
        cx_team=None,
        playbook="",
    )
    message = format_slack_message(alert)
    assert message["text"].startswith("Referral opportunity opened (low, score 71)")
    text = all_text(message)
    assert "unassigned" in text
    assert "no reason given" in text


def test_data_cannot_inject_mentions_or_links() -> None:
    evil = replace(
        ALERT,
        reasons=(Reason("x", "<!channel> see <http://evil|here> & more", 1.0),),
        cx_team="<@U123>",
    )
    text = all_text(format_slack_message(evil, TEMPLATE))
    assert "<!channel>" not in text
    assert "<http://evil" not in text
    assert "<@U123>" not in text
    assert "&lt;!channel&gt; see &lt;http://evil|here&gt; &amp; more" in text


def test_long_reasons_are_truncated_to_slack_limits() -> None:
    many = tuple(Reason(f"r{i}", "x" * 200, float(i)) for i in range(40))
    message = format_slack_message(replace(ALERT, reasons=many))
    assert len(message["text"]) <= 3000
    for block in message["blocks"]:
        text = block.get("text", {}).get("text", "")
        assert len(text) <= 3000


def test_formatting_is_deterministic() -> None:
    assert format_slack_message(ALERT, TEMPLATE) == format_slack_message(ALERT, TEMPLATE)


def test_customer_url_template_is_validated_up_front() -> None:
    validate_customer_url_template(TEMPLATE)
    validate_customer_url_template(None)
    for bad in ("https://crm/{id}", "https://crm/{0}", "crm/{customer_id}"):
        with pytest.raises(ConfigError):
            validate_customer_url_template(bad)


def test_churn_message_shows_the_loss_probability_value_at_risk_and_parameters() -> None:
    alert = replace(
        ALERT,
        reasons=(
            Reason(
                "loss",
                "usually buys every 3 weeks, silent for 11 weeks; P(no purchase in 90 days) 0.82",
                0.82,
            ),
        ),
        p_loss=0.8237,
        value_at_risk_minor=123_456,
        params_version="mbgnbd-0123456789ab",
    )
    message = format_slack_message(alert)
    assert message["blocks"][0]["text"]["text"] == (
        "Churn risk opened (critical, P(loss) 0.82, value at risk 1,234.56)"
    )
    text = all_text(message)
    for expected in ("*P(loss)*\\n0.82", "*Value at risk*\\n1,234.56", "mbgnbd-0123456789ab"):
        assert expected in text, expected
    assert "silent for 11 weeks; P(no purchase in 90 days) 0.82" in fallback_text(alert)
    assert "P(loss) 0.82, value at risk 1,234.56" in fallback_text(alert)
