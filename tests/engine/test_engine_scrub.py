"""What is scrubbed from incident text before it goes to an LLM, and what is kept."""

import re

import pytest

from bench.bench_patterns import superlinear
from engine.llm import prompt as llm_prompt
from engine.llm import scrub as scrubbing
from engine.llm.scrub import CARD, EMAIL, IBAN, SECRET, scrub

SECRETS = [
    # (text, the secret that must disappear, the placeholder that replaces it)
    ("GET https://api.example.com/v1/rates?base=EUR&api_key=AbC123xyz987 failed", "AbC123xyz987", SECRET),
    ("requests.get('https://maps.example.org/geo?key=K3y-value_42&q=x')", "K3y-value_42", SECRET),
    ("could not connect to postgresql://odoo:S3cr3t!pw@db.internal:5432/prod", "S3cr3t!pw", SECRET),
    ("smtp login failed: {'user': 'bot', 'password': 'hunter22'}", "hunter22", SECRET),
    ('{"client_secret": "cs_9f8e7d6c5b4a", "grant_type": "x"}', "cs_9f8e7d6c5b4a", SECRET),
    ("connect(host='x', passwd=Tr0ub4dor, port=1)", "Tr0ub4dor", SECRET),
    ("headers={'Authorization': 'Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig0123456789'}", "eyJhbGciOiJIUzI1NiJ9", SECRET),
    ("openai.AuthenticationError: Incorrect API key provided: sk-proj-abcdefghijklmnopqrstuv", "sk-proj-abc", SECRET),
    ("remote: ghp_abcdefghijklmnopqrstuvwxyz0123456789 rejected", "ghp_abcdefghijklmnopqrst", SECRET),
    ("aws: AKIAIOSFODNN7EXAMPLE denied", "AKIAIOSFODNN7EXAMPLE", SECRET),
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N", "eyJzdWIiOiIxMjM0", SECRET),
    ("Mail delivery failed for jane.doe+odoo@customer-mail.example.com (550)", "jane.doe+odoo@", EMAIL),
    ("ValidationError: invalid account DE89 3704 0044 0532 0130 00 on partner 7", "DE89 3704 0044", IBAN),
    ("payment refused for GB82WEST12345698765432", "GB82WEST12345698765432", IBAN),
    ("card 4111 1111 1111 1111 declined", "4111 1111 1111 1111", CARD),
    ("card=5500-0000-0000-0004 expired", "5500-0000-0000-0004", CARD),
]

KEPT = [
    'File "/opt/odoo/odoo/models.py", line 4807, in _create',
    "psycopg2.errors.UniqueViolation: Key (id)=(11063) already exists.",
    "Record does not exist or has been deleted. (Record: res.partner(123456789012345,), User: 2)",
    "total 1234567.89 on invoice INV/2024/00042",
    "GET /web/assets/1a2b3c4/web.assets_backend.min.js 404",
    "Invalid field res.partner.password_hint in leaf ('password_hint', '=', 1)",
    "DE12 is not a valid country code",
]


@pytest.mark.parametrize(("text", "secret", "placeholder"), SECRETS)
def test_secret_is_replaced(text, secret, placeholder):
    cleaned = scrub(text)
    assert secret not in cleaned
    assert placeholder in cleaned


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_error_text_is_kept(text):
    assert scrub(text) == text


def test_numbers_that_fail_their_check_are_kept():
    assert scrub("card 4111 1111 1111 1112 declined") == "card 4111 1111 1111 1112 declined"
    assert scrub("ref DE89 3704 0044 0532 0130 01") == "ref DE89 3704 0044 0532 0130 01"


def test_scrub_keeps_the_evidence_around_a_secret():
    cleaned = scrub("ConnectionError: GET https://x.example/api?token=abc123def&page=2 timed out")
    assert cleaned == f"ConnectionError: GET https://x.example/api?token={SECRET}&page=2 timed out"


@pytest.mark.parametrize("name", [name for name in dir(scrubbing) if isinstance(getattr(scrubbing, name), re.Pattern)])
def test_scrub_patterns_are_linear(name):
    assert superlinear(getattr(scrubbing, name)) is None


def test_prompt_sends_no_secret():
    secrets_in = [text for text, _secret, _placeholder in SECRETS]
    incident = {
        "exception_type": "requests.exceptions.HTTPError",
        "message_template": secrets_in[0],
        "module": "sale",
        "traceback": "Traceback (most recent call last):\n" + "\n".join(secrets_in),
    }
    prompt = llm_prompt.build_prompt(incident, [])
    for _text, secret, _placeholder in SECRETS:
        assert secret not in prompt.user
    assert "requests.exceptions.HTTPError" in prompt.user
