"""Notify: what the outside world is told, as plain data.

``payloads`` turns one event (new incident, spike, escalation, failed fix,
pending approval, open circuit breaker) into the body Slack, Microsoft Teams,
PagerDuty Events v2 or a generic JSON receiver expects; ``delivery`` says
whether a failed delivery is worth retrying and when.
"""
