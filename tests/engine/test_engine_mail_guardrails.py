"""The mail guardrails on the messages the mail detector writes (models/mail_mail.py).

The detector reports a failed mail as ``Mail delivery failed (<failure type>):
<failure reason>``, the reason flattened onto one line. Transient failures must
reach a guardrail whose auto-patch is mail_retry, on a template (so that the
fix can become automatic); permanent refusals never may.
"""

import pytest

from engine.library.guardrails import load_library
from engine.match.classifier import Classifier


@pytest.fixture(scope="module")
def classifier():
    return Classifier()


@pytest.fixture(scope="module")
def autopatch_of():
    return {guardrail.code: guardrail.autopatch for guardrail in load_library().guardrails}


TRANSIENT = [
    # The greeting of a provider in an outage, as smtplib raises it on connect.
    (
        "Mail delivery failed (mail_smtp): 421 b'4.3.2 smtp.example.com ESMTP service not available, try again later'",
        "GR-MAIL-007",
    ),
    # A 4xx during the session, wrapped by ir.mail_server.send_email.
    (
        "Mail delivery failed (unknown): Mail delivery failed via SMTP server 'smtp.example.com'. "
        "SMTPDataError: (451, b'4.3.0 Temporary local problem, try again later')",
        "GR-MAIL-007",
    ),
    ("Mail delivery failed (mail_smtp): 111 Connection refused", "GR-MAIL-003"),
    ("Mail delivery failed (mail_smtp): timed out", "GR-MAIL-003"),
    ("Mail delivery failed (mail_smtp): -3 Temporary failure in name resolution", "GR-MAIL-003"),
]

PERMANENT = [
    "Mail delivery failed (mail_smtp): 535 b'5.7.8 Username and Password not accepted.'",
    "Mail delivery failed (mail_smtp): 554 b'5.7.1 Service unavailable; client host blocked, try again later'",
    "Mail delivery failed (unknown): Mail delivery failed via SMTP server 'smtp.example.com'. "
    "SMTPRecipientsRefused: {'customer0@example.com': (550, b'5.1.1 Recipient address rejected')}",
    "Mail delivery failed (mail_smtp): 550 b'5.7.0 Connection refused by policy'",
]


@pytest.mark.parametrize("message,code", TRANSIENT)
def test_transient_detector_messages_reach_mail_retry_on_a_template(classifier, autopatch_of, message, code):
    answer = classifier.classify(message)
    assert answer.guardrail == code, answer.evidence
    assert autopatch_of[code] == "mail_retry"
    assert any("on template" in line for line in answer.evidence), answer.evidence
    assert answer.confidence >= 0.95


@pytest.mark.parametrize("message", PERMANENT)
def test_permanent_refusals_never_reach_mail_retry(classifier, autopatch_of, message):
    answer = classifier.classify(message)
    assert answer.guardrail is None or autopatch_of[answer.guardrail] != "mail_retry", answer.evidence


def test_a_refused_login_is_still_recognised(classifier):
    answer = classifier.classify(PERMANENT[0])
    assert (answer.error_class, answer.guardrail) == ("MAIL_DELIVERY", "GR-MAIL-001")


def test_an_ip_address_is_not_an_enhanced_status_code(classifier):
    # 10.4.2.1 contains "4.2.1" but is no 4xx reply: without SMTP wording nothing transient is claimed.
    answer = classifier.classify("Mail delivery failed (mail_smtp): 113 No route to host 10.4.2.1")
    assert answer.guardrail != "GR-MAIL-007", answer.evidence
