"""Remove secrets and personal data from log text before it leaves the server for an LLM.

A traceback carries whatever the failing code held: a URL with an API key in
its query, a DSN with a password, an Authorization header, a customer's
e-mail address or bank account. The LLM provider needs none of it to say what
went wrong, so each is replaced by a placeholder naming what was there
(``<secret>``, ``<email>``, ``<iban>``, ``<card>``), which keeps the text
readable as evidence.

Numbers are only replaced when they pass the check their kind carries (mod 97
for an IBAN, Luhn for a card), so record ids, line numbers and amounts stay.
Every pattern here has bounded repeats or pinned starts: the time is linear
in the text.
"""

import re

SECRET = "<secret>"
EMAIL = "<email>"
IBAN = "<iban>"
CARD = "<card>"

# Names under which code keeps credentials: in a query string, a keyword argument, a dict or JSON.
_SECRET_NAMES = (
    r"(?:api[_-]?key|apikey|access[_-]?key|secret[_-]?key|client[_-]?secret|secret|private[_-]?key"
    r"|access[_-]?token|refresh[_-]?token|auth[_-]?token|id[_-]?token|token|passwd|password|pwd|pass"
    r"|session[_-]?id|sessionid|signature|sig|auth|credentials?)"
)
# scheme://user:password@host -> scheme://user:<secret>@host
_URL_CREDENTIALS = re.compile(r"(?<![\w+.-])([a-zA-Z][a-zA-Z0-9+.-]{0,30}://[^\s:/@'\"<>]{0,256}:)[^\s@/'\"<>]{1,256}@")
# ?api_key=xyz, "password": "xyz", password='xyz', token=xyz
_KEY_VALUE = re.compile(
    r"(?i)(?<![a-z0-9])(" + _SECRET_NAMES + r")([\"']?\s{0,3}[:=]\s{0,3}[\"']?)([^\s\"'&,;)}\]<>]{1,512})",
)
# A bare "key" is a credential in a query string only (Google-style ?key=...); elsewhere it names anything.
_QUERY_KEY = re.compile(r"(?i)([?&;]key=)[^\s\"'&#<>]{1,512}")
_AUTHORIZATION = re.compile(r"(?i)\b((?:bearer|basic|token)\s{1,3})[A-Za-z0-9._~+/=-]{8,4096}")
# Credentials with a shape of their own, wherever they appear.
_TOKEN_SHAPES = re.compile(
    r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,256}"  # OpenAI, Anthropic
    r"|gh[pousr]_[A-Za-z0-9]{20,255}"  # GitHub
    r"|xox[abprs]-[A-Za-z0-9-]{10,255}"  # Slack
    r"|AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|eyJ[A-Za-z0-9_-]{8,2048}\.eyJ[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{0,2048})"  # JWT
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")


def scrub(text):
    """``text`` with credentials, e-mail addresses, IBANs and card numbers replaced by placeholders."""
    if not text:
        return text
    text = _URL_CREDENTIALS.sub(lambda m: m.group(1) + SECRET + "@", text)
    text = _AUTHORIZATION.sub(lambda m: m.group(1) + SECRET, text)
    text = _QUERY_KEY.sub(lambda m: m.group(1) + SECRET, text)
    text = _KEY_VALUE.sub(lambda m: m.group(1) + m.group(2) + SECRET, text)
    text = _TOKEN_SHAPES.sub(SECRET, text)
    text = _EMAIL.sub(EMAIL, text)
    text = _IBAN.sub(lambda m: IBAN if _iban_valid(m.group(0)) else m.group(0), text)
    return _CARD.sub(lambda m: CARD if _luhn_valid(m.group(0)) else m.group(0), text)


def _iban_valid(candidate):
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(char, 36)) for char in rearranged)
    return int(digits) % 97 == 1


def _luhn_valid(candidate):
    digits = [int(char) for char in candidate if char.isdigit()]
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0
