"""Webhook bodies for one self-healing event, per receiver format.

An event is a plain dict (see ``Event``); nothing here knows about Odoo. The
secret of a receiver (PagerDuty's routing key) is added by ``with_secret`` at
send time only, so that the body kept in the delivery log never holds it.
"""

import json
from dataclasses import asdict, dataclass, field

FORMATS = [
    ("generic", "Generic JSON"),
    ("slack", "Slack"),
    ("teams", "Microsoft Teams"),
    ("pagerduty", "PagerDuty Events v2"),
]
EVENTS = [
    ("new_incident", "New incident"),
    ("spike", "Spike"),
    ("escalation", "Escalation"),
    ("fix_failed", "Failed or rolled-back fix"),
    ("approval", "Pending approval"),
    ("breaker", "Circuit breaker open"),
]
EVENT_LABELS = dict(EVENTS)
# PagerDuty Events v2 severities; an event's own severity maps onto them.
PAGERDUTY_SEVERITY = {"low": "info", "medium": "warning", "high": "error", "critical": "critical"}
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
# Slack and Teams truncate long texts themselves, badly; ours say where they were cut.
MAX_TEXT = 2800
SCHEMA_VERSION = 1


@dataclass
class Event:
    kind: str
    title: str
    summary: str
    severity: str = "medium"
    incident_id: int = None
    incident_url: str = None
    attempt_id: int = None
    attempt_url: str = None
    error_class: str = None
    module: str = None
    state: str = None
    occurrences: int = None
    database: str = None
    occurred_at: str = None
    facts: dict = field(default_factory=dict)

    def as_dict(self):
        return asdict(self)


def _clip(text, limit=MAX_TEXT):
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _headline(event):
    return f"[{EVENT_LABELS.get(event.kind, event.kind)}] {event.title}"


def _facts(event):
    """Label/value pairs every human-facing format shows, in a stable order."""
    rows = [
        ("Severity", event.severity),
        ("State", event.state),
        ("Class", event.error_class),
        ("Module", event.module),
        ("Occurrences", event.occurrences),
        ("Database", event.database),
    ]
    rows += sorted(event.facts.items())
    return [(label, str(value)) for label, value in rows if value not in (None, "", False)]


def generic(event):
    return {"schema": SCHEMA_VERSION, "source": "self_healing", "event": event.kind, **event.as_dict()}


def slack(event):
    """Incoming-webhook body: ``text`` for notifications, blocks for the message itself."""
    links = [f"<{event.incident_url}|Open the incident>"] if event.incident_url else []
    if event.attempt_url:
        links.append(f"<{event.attempt_url}|Open the fix attempt>")
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(_headline(event), 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(event.summary) or "-"}},
    ]
    facts = _facts(event)
    if facts:
        blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in facts[:10]]})
    if links:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]})
    return {"text": _clip(f"{_headline(event)}: {event.summary}"), "blocks": blocks}


def teams(event):
    """A Teams Workflows (Power Automate) webhook message carrying an Adaptive Card."""
    body = [
        {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True, "text": _clip(_headline(event), 300)},
        {"type": "TextBlock", "wrap": True, "text": _clip(event.summary) or "-"},
    ]
    facts = _facts(event)
    if facts:
        body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts]})
    actions = []
    if event.incident_url:
        actions.append({"type": "Action.OpenUrl", "title": "Open the incident", "url": event.incident_url})
    if event.attempt_url:
        actions.append({"type": "Action.OpenUrl", "title": "Open the fix attempt", "url": event.attempt_url})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


def pagerduty(event):
    """An Events API v2 ``trigger``; the dedup key groups every event of one incident into one alert."""
    dedup = f"self_healing-{event.database or 'db'}-{event.incident_id or event.kind}"
    body = {
        "event_action": "trigger",
        "dedup_key": dedup,
        "payload": {
            "summary": _clip(f"{_headline(event)}: {event.summary}", 1024),
            "source": event.database or "odoo",
            "severity": PAGERDUTY_SEVERITY.get(event.severity, "warning"),
            "component": event.module or None,
            "group": event.error_class or None,
            "class": event.kind,
            "custom_details": dict(_facts(event)),
        },
    }
    if event.occurred_at:
        body["payload"]["timestamp"] = event.occurred_at
    links = []
    if event.incident_url:
        links.append({"href": event.incident_url, "text": "Incident"})
    if event.attempt_url:
        links.append({"href": event.attempt_url, "text": "Fix attempt"})
    if links:
        body["links"] = links
    body["payload"] = {k: v for k, v in body["payload"].items() if v is not None}
    return body


BUILDERS = {"generic": generic, "slack": slack, "teams": teams, "pagerduty": pagerduty}


def build(kind, event):
    """The body for receiver format ``kind``; ValueError for an unknown one."""
    try:
        builder = BUILDERS[kind]
    except KeyError:
        raise ValueError(f"unknown webhook format {kind!r}; known: {', '.join(sorted(BUILDERS))}") from None
    return builder(event)


def with_secret(kind, body, secret):
    """The body as sent: PagerDuty carries its routing key inside the body."""
    if kind == "pagerduty":
        return dict(body, routing_key=secret or "")
    return body


def encode(body):
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
