import json

import pytest

from engine.decide import rate
from engine.notify import delivery, payloads


def event(**values):
    base = {
        "kind": "spike",
        "title": "ValueError in stock",
        "summary": "12 occurrences in the last 60 minutes",
        "severity": "critical",
        "incident_id": 7,
        "incident_url": "https://odoo.example.com/odoo/self_healing.incident/7",
        "database": "prod",
        "facts": {"recent": 12},
    }
    base.update(values)
    return payloads.Event(**base)


def test_every_format_builds_json_that_round_trips():
    for kind, _label in payloads.FORMATS:
        body = payloads.build(kind, event())
        assert json.loads(payloads.encode(body)) == body


def test_unknown_format_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown webhook format 'irc'"):
        payloads.build("irc", event())


def test_pagerduty_severity_and_dedup_key():
    body = payloads.pagerduty(event())
    assert body["payload"]["severity"] == "critical"
    assert body["dedup_key"] == "self_healing-prod-7"
    assert "routing_key" not in body
    assert payloads.with_secret("pagerduty", body, "abc")["routing_key"] == "abc"
    assert payloads.with_secret("slack", {"text": "x"}, "abc") == {"text": "x"}


def test_long_summaries_are_clipped_visibly():
    body = payloads.slack(event(summary="x" * 10000))
    assert len(body["text"]) <= payloads.MAX_TEXT
    assert body["text"].endswith("\u2026")


def test_delivery_outcomes():
    assert delivery.outcome(200) == delivery.outcome(202) == "sent"
    assert delivery.outcome(503) == delivery.outcome(429) == delivery.outcome(None) == "retry"
    assert delivery.outcome(400) == delivery.outcome(404) == "refused"


def test_spike_rule():
    assert not rate.is_spike(9, 0)
    assert rate.is_spike(10, 0)
    # 240 in the day before is 10 an hour: 40 is four times that, not five.
    assert not rate.is_spike(40, 240)
    assert rate.is_spike(50, 240)
