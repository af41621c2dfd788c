"""Turn raw Odoo error text into structure: traceback parts and message templates.

A message template keeps what tells one fault from another (exception wording,
field, model, table and constraint names) and masks what changes from one
occurrence of the same fault to the next (ids, values, paths, dates, hashes).
Everything here runs for every captured error, so patterns are compiled once
and most work happens inside the regex engine.
"""

import html
import re
from dataclasses import dataclass, field

TRACEBACK_HEADER = "Traceback (most recent call last):"

# Inputs are cut before masking: the distinguishing part of an error message
# sits at its start, and QWeb or ParseError messages can embed whole templates.
MAX_MESSAGE_CHARS = 2000
MAX_TEMPLATE_CHARS = 1000

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LOG_HEADER = re.compile(
    r"(?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) (?P<pid>\d+) "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL|\S+) (?P<dbname>\S+) (?P<logger>\S+): "
)
_CHAIN_SEPARATORS = (
    "\nThe above exception was the direct cause of the following exception:",
    "\nDuring handling of the above exception, another exception occurred:",
)
# Patterns start with a literal so the regex engine can skip ahead quickly;
# the indentation check is a lookbehind placed after that literal.
_FRAME = re.compile(r'File "(?<![^ \t]File ")([^"]*)", line (\d+)(?:, in (.*))?')
_UNINDENTED_LINE = re.compile(r"\n(?=\S)")
_EXCEPTION_HEAD = re.compile(r"(?P<type>[A-Za-z_][\w.]*)(?:: ?(?P<message>.*))?")
_BARE_EXCEPTION = re.compile(
    r"(?P<type>(?:[A-Za-z_]\w*\.)+[A-Z]\w*|[A-Za-z_]\w*(?:Error|Exception|Warning|Denied))(?:: ?(?P<message>.*))?",
    re.S,
)
_BAD_QUERY = re.compile(r"\Abad query:.*?\nERROR: ?(?P<error>.*)\Z", re.S)

# libpq adds the query text and a caret under it; they differ between queries
# that hit the same fault, so they are dropped while DETAIL and HINT stay.
_DB_NOISE_LINE = re.compile(r"^(?:LINE \d+:.*\n[ \t]*\^[ \t]*$|LINE \d+:.*$|(?:QUERY|CONTEXT|STATEMENT):.*$)\n?", re.M)

# The primary message of PostgreSQL errors that reach Odoo's logs, mapped to the
# psycopg2 exception class that raises them, for log lines without a traceback.
_DB_ERROR_CLASSES = (
    (re.compile(r"duplicate key value violates unique constraint"), "psycopg2.errors.UniqueViolation"),
    (
        re.compile(r"column \S+ does not exist|column \S+ of relation \S+ does not exist"),
        "psycopg2.errors.UndefinedColumn",
    ),
    (re.compile(r"relation \S+ does not exist"), "psycopg2.errors.UndefinedTable"),
    (re.compile(r"null value in column .* violates not-null constraint"), "psycopg2.errors.NotNullViolation"),
    (re.compile(r"violates foreign key constraint"), "psycopg2.errors.ForeignKeyViolation"),
    (re.compile(r"violates check constraint"), "psycopg2.errors.CheckViolation"),
    (re.compile(r"could not serialize access"), "psycopg2.errors.SerializationFailure"),
    (re.compile(r"could not obtain lock|lock timeout"), "psycopg2.errors.LockNotAvailable"),
    (re.compile(r"deadlock detected"), "psycopg2.errors.DeadlockDetected"),
    (re.compile(r"canceling statement due to (?:statement|user request)"), "psycopg2.errors.QueryCanceled"),
    (re.compile(r"value too long for type"), "psycopg2.errors.StringDataRightTruncation"),
    (re.compile(r"invalid input syntax for"), "psycopg2.errors.InvalidTextRepresentation"),
    (re.compile(r"function \S+ does not exist"), "psycopg2.errors.UndefinedFunction"),
    (re.compile(r"current transaction is aborted"), "psycopg2.errors.InFailedSqlTransaction"),
    (re.compile(r"syntax error at or near"), "psycopg2.errors.SyntaxError"),
)

# --- masking patterns, applied in this order --------------------------------
# Python's regex engine only skips ahead fast when a pattern starts with a
# literal or a character class, so "not preceded by" checks are written as
# lookbehinds after the first character instead of leading \b or lookbehinds.
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_UUID = re.compile(
    r"[0-9a-fA-F](?<!\w[0-9a-fA-F])[0-9a-fA-F]{7}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
_TIMESTAMP = re.compile(
    r"\d(?<!\w\d)(?:"
    r"\d{3}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d?:\d{2}:\d{2}(?:[.,]\d+)?"
    r"|\d?/[A-Z][a-z]{2}/\d{4}"
    r")\b"
)
# PostgreSQL DETAIL: the column list names the constraint's columns (kept),
# the value list is the offending row's data (masked).
_DB_KEY_VALUES = re.compile(
    r"Key \((?P<columns>.+?)\)=\((?P<values>.*)\)"
    r"(?P<tail> already exists| is not present| is still referenced| conflicts)"
)
_RECORD_IDS = r"(?:\d+|<NewId[^<>\n]*>|NewId_\w+)"
_RECORDSET_HINT = re.compile(r"\((?:\d|<NewId|NewId_)")
_RECORDSET = re.compile(
    r"\b(?P<model>[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+|x_[a-z0-9_]+)"
    rf"\({_RECORD_IDS}(?:,\s*{_RECORD_IDS})*,?\)"
)
# Known places where Odoo, Python or PostgreSQL print a value next to the
# identifier it belongs to: keep the identifier, mask the value. Each rule
# runs only when its literal needle is in the text.
_VALUE_SLOTS = (
    (
        "invalid input",
        re.compile(r"(invalid input (?:syntax|value) for [^:\n]*: )(?:\"[^\"\n]*\"|'[^'\n]*')"),
        r"\1<value>",
    ),
    ("invalid literal", re.compile(r"(invalid literal for \w+\(\) with base \d+: ).*"), r"\1<value>"),
    ("could not convert", re.compile(r"(could not convert string to \w+: ).*"), r"\1<value>"),
    ("Wrong value", re.compile(r"(Wrong value for [\w.]+: ).*"), r"\1<value>"),
    ("leaf (", re.compile(r"(leaf \((?:'[^'\n]*'|\"[^\"\n]*\"), (?:'[^'\n]*'|\"[^\"\n]*\"), ).*\)"), r"\1<value>)"),
    (
        "term (",
        re.compile(r"(domain term \((?:'[^'\n]*'|\"[^\"\n]*\"), (?:'[^'\n]*'|\"[^\"\n]*\"), ).*\)"),
        r"\1<value>)",
    ),
    ("Sorry, ", re.compile(r"(Sorry, ).+?( doesn't have)"), r"\1<user>\2"),
    ("\n- ", re.compile(r"^(- [^,\n]+, ).+( \([a-z][\w.]*: )", re.M), r"\1<record>\2"),
    ("company=", re.compile(r"(, company=)[^)\n]*\)"), r"\1<company>)"),
)
_QUOTED = re.compile(
    r"""'(?<![\w'"]')(?P<single>[^'\n]{0,300})'(?![\w'])"""
    r"""|"(?<![\w'"]")(?P<double>[^"\n]{0,300})"(?![\w"])"""
)
# Field, model, table, constraint, xml id and module names look like this;
# values rarely do (and the value slots above catch the common exceptions).
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,79}(?:\.[A-Za-z_][A-Za-z0-9_]{0,79}){0,6}")
# Domain operators are code, not data: ('x_foo', '=', 1) keeps its '='.
_DOMAIN_OPERATORS = frozenset(
    {
        "=",
        "!=",
        "<>",
        "<",
        ">",
        "<=",
        ">=",
        "=?",
        "=like",
        "=ilike",
        "like",
        "not like",
        "ilike",
        "not ilike",
        "in",
        "not in",
        "child_of",
        "parent_of",
        "any",
        "not any",
    }
)
# A quoted name right after these words is the name of a job, not data.
_NAMING_PREFIXES = ("Job ",)
_PATH = re.compile(r"/(?<![\w.~/<-]/)[\w.@+~-]+(?:/[\w.@+~-]+)+/?")
_ADDON_FILE = re.compile(r"/[\w.-]*addons/(?P<relative>\w+/.+)$")
_SOURCE_FILE = re.compile(r"\.(?:py|xml|csv|js|scss|css|json|po|pot|html|yml|yaml)$")
# Eight or more hex digits mixing digits and letters (a hash or address);
# a run of digits alone is a number, so ids of any length mask the same way.
_HEX = re.compile(r"0(?<!\w0)x[0-9a-fA-F]+\b|[0-9a-fA-F](?<!\w[0-9a-fA-F])[0-9a-fA-F]{7,}\b")
_NUMBER = re.compile(r"\d(?<!\w\d)\d*(?:\.\d+)*")
_SPACES = re.compile(r"[ \t\r\f\v]{2,}|[\t\r\f\v]")
_LINE_BREAKS = re.compile(r"[ \t]*\n\s*")


@dataclass
class ExceptionPart:
    """One exception of a traceback: its type as printed, message and frames.

    Frames are (file, line, function) tuples of strings, as printed.
    """

    type: str
    message: str
    frames: list = field(default_factory=list)


@dataclass
class ParsedError:
    """An error text split into the log message before the traceback and its exceptions.

    ``exceptions`` is in printed order: the root cause first, the exception
    that was finally raised last.
    """

    preamble: str
    exceptions: list

    @property
    def final(self):
        return self.exceptions[-1] if self.exceptions else None


def strip_ansi(text):
    return _ANSI.sub("", text) if "\x1b" in text else text


def split_log_header(line):
    """Split an Odoo log line into its header fields (or None) and its message."""
    match = _LOG_HEADER.match(line)
    if not match:
        return None, line
    return match.groupdict(), line[match.end() :]


def database_exception_type(message):
    """The psycopg2 class for a PostgreSQL error message, or '' when unknown."""
    for pattern, exception_type in _DB_ERROR_CLASSES:
        if pattern.search(message):
            return exception_type
    return ""


def _parse_section(section):
    """Frames and exception of the text following one traceback header."""
    # Frame, source and caret lines are all indented: the exception starts at
    # the first line that is not.
    head_match = _UNINDENTED_LINE.search(section)
    if head_match is None:
        return ExceptionPart("", "", _FRAME.findall(section))
    frames = _FRAME.findall(section, 0, head_match.start())
    exception_text = section[head_match.end() :].rstrip()
    first_line, _, rest = exception_text.partition("\n")
    head = _EXCEPTION_HEAD.fullmatch(first_line.rstrip())
    if head is None:
        return ExceptionPart("", exception_text, frames)
    message = head.group("message") or ""
    if rest:
        message = f"{message}\n{rest}" if message else rest
    return ExceptionPart(head.group("type"), message.strip(), frames)


def parse(text):
    """Parse an error text: optional Odoo log header and message, then any traceback chain.

    Without a traceback, a bare ``Type: message`` or an Odoo ``bad query``
    line still yields one exception (without frames) so such log lines group
    like their traceback counterparts.
    """
    text = strip_ansi(text or "")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    first = text.find(TRACEBACK_HEADER)
    if first < 0:
        _header, message = split_log_header(text)
        return ParsedError(message.strip(), _message_only_exceptions(message.strip()))
    _header, preamble = split_log_header(text[:first])
    exceptions = []
    start = first
    while start >= 0:
        body_start = start + len(TRACEBACK_HEADER)
        following = text.find(TRACEBACK_HEADER, body_start)
        section = text[body_start:] if following < 0 else text[body_start:following]
        if following >= 0:  # a chain separator only ever precedes another traceback
            for separator in _CHAIN_SEPARATORS:
                cut = section.find(separator)
                if cut >= 0:
                    section = section[:cut]
        exceptions.append(_parse_section(section))
        start = following
    return ParsedError(preamble.strip(), exceptions)


def _message_only_exceptions(message):
    bad_query = _BAD_QUERY.match(message)
    if bad_query:
        error = bad_query.group("error").strip()
        return [ExceptionPart(database_exception_type(error), error)]
    bare = _BARE_EXCEPTION.fullmatch(message)
    if bare:
        return [ExceptionPart(bare.group("type"), (bare.group("message") or "").strip())]
    return []


def _keep_identifier_or_mask(match):
    content = match.group("single")
    quote = "'"
    if content is None:
        content = match.group("double")
        quote = '"'
    if _IDENTIFIER.fullmatch(content) or content in _DOMAIN_OPERATORS:
        return match.group(0)
    start = match.start()
    if any(match.string.startswith(prefix, start - len(prefix), start) for prefix in _NAMING_PREFIXES):
        return match.group(0)
    if content.startswith("/"):
        return quote + _PATH.sub(_mask_path, content) + quote
    return quote + "<str>" + quote


def _mask_path(match):
    path = match.group(0)
    addon_file = _ADDON_FILE.search(path)
    if addon_file:
        # A module-relative path is the same on every installation and says
        # which module's file is involved.
        return addon_file.group("relative")
    if _SOURCE_FILE.search(path):
        return "<path>/" + path.rsplit("/", 1)[-1]
    return "<path>"


def _mask_db_key(match):
    return f"Key ({match.group('columns')})=(<value>){match.group('tail')}"


def _mask_recordset(match):
    return match.group("model") + "(<ids>)"


def _mask_hex(match):
    token = match.group(0)
    if token.isdigit():
        return "<n>"
    if token[1:2] in "xX" or not token.isalpha():
        return "<hex>"
    return token


def message_template(message):
    """The message with occurrence-specific parts masked; see the module docstring."""
    if not message:
        return ""
    text = message[:MAX_MESSAGE_CHARS]
    if "\nLINE " in text or "QUERY:" in text or "CONTEXT:" in text or "STATEMENT:" in text:
        text = _DB_NOISE_LINE.sub("", text)
    if "://" in text:
        text = _URL.sub("<url>", text)
    if "@" in text:
        text = _EMAIL.sub("<email>", text)
    if text.count("-") >= 4:
        text = _UUID.sub("<uuid>", text)
    text = _TIMESTAMP.sub("<ts>", text)
    if "Key (" in text:
        text = _DB_KEY_VALUES.sub(_mask_db_key, text)
    if _RECORDSET_HINT.search(text):
        text = _RECORDSET.sub(_mask_recordset, text)
    for needle, pattern, replacement in _VALUE_SLOTS:
        if needle in text:
            text = pattern.sub(replacement, text)
    if "'" in text or '"' in text:
        text = _QUOTED.sub(_keep_identifier_or_mask, text)
    if "/" in text:
        text = _PATH.sub(_mask_path, text)
    text = _HEX.sub(_mask_hex, text)
    text = _NUMBER.sub("<n>", text)
    text = _SPACES.sub(" ", text)
    if "\n" in text:
        text = _LINE_BREAKS.sub("\n", text)
    return text.strip()[:MAX_TEMPLATE_CHARS]


# --- reports as people paste them ---------------------------------------------
# Error texts that reach us from users and forums carry what their transport
# added (container and journal prefixes, HTML escaping, Markdown fences) and what
# older Odoo printed (``openerp`` names, Python 2 spellings). ``clean_report``
# rewrites those into what Odoo 18 logs, so one set of rules reads them all.
# Every pattern here is anchored or literal-led and has no nested quantifier:
# cost stays linear in the text.

MAX_REPORT_CHARS = 100_000

_HTML_ENTITY = re.compile(r"&(?:quot|amp|lt|gt|apos|nbsp|#\d{1,6}|#x[0-9a-fA-F]{1,6});")
_HTML_BREAK = re.compile(r"<br\s{0,3}/?>\n?", re.I)
# docker compose v1 and v2 ("web_1  | ", "odoo-web-1  | ": the replica number tells them from
# a table cell), docker logs -t, journald
# (classic and short-iso), kubectl --prefix.
_LINE_PREFIXES = re.compile(
    r"^(?:[A-Za-z][\w.-]{0,60}[-_]\d{1,3} +\| ?"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z "
    r"|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d [\w.-]{1,64} [\w./@-]{1,64}(?:\[\d{1,10}\])?: "
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} [\w.-]{1,64} [\w./@-]{1,64}(?:\[\d{1,10}\])?: "
    r"|\[pod/[\w.-]{1,253}/[\w.-]{1,253}\] )",
    re.M,
)
_FENCE_OR_BANNER = re.compile(
    r"^[ \t]*(?:```[\w+-]*|~~~[\w+-]*|Odoo Server Error|Odoo Client Error|Odoo Error \(client side\)"
    r"|Odoo Erreur \(côté (?:interface|serveur)\)|RPC_ERROR|Odoo (?:Server|Client) Error)[ \t]*$\n?",
    re.M,
)
# A log header or traceback header in mid-line: the paste lost its line breaks.
_FOLDED_LINE = re.compile(
    r" (?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ (?:DEBUG|INFO|WARNING|ERROR|CRITICAL) "
    r"|Traceback \(most recent call last\):)"
)
# Runs of spaces inside a line (not indentation, which tracebacks need: see _one_space).
_INNER_SPACES = re.compile(r"  +(?=\S)")
# Transport prefixes sit on every line: when none of the first lines has one, no line has.
_PREFIX_PROBE_LINES = 5
_OPENERP = re.compile(r"openerp(?=[./])")
# Odoo 8-10 kept base models under base/ir, base/res, base/module.
_OLD_BASE_PACKAGE = re.compile(r"addons([./])base[./](?:ir|res|module)[./]")
_PY2_UNICODE_LITERAL = re.compile(r"u(?<![\w'\"]u)(?=['\"])")
_PY2_NO_MODULE = re.compile(r"No module named (?=[A-Za-z_])([\w.]{1,200})")
# A log line's level, with or without the timestamp, pid and database Odoo puts before it.
_ENTRY_HEAD = re.compile(
    r"^(?:\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)? +(?:\d+ +)?)?"
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) +\S+ +(?P<logger>[\w.]+): ",
    re.M,
)
# ERROR lines Odoo writes after the real error, which say nothing of their own.
_GENERIC_ERRORS = (
    "Failed to load registry",
    "Failed to initialize database",
    "Exception during request handling",
    "Exception during JSON request handling",
)
# The module loader narrates a failed load ("Transient module states were reset", "loading
# 12 modules..."): around a real error its lines are context wherever they are.
_LOADER_LOGGERS = ("odoo.modules.", "openerp.modules.")
# Levels of the lines dropped around a real error (a line with a traceback always stays).
_CONTEXT_LEVELS = frozenset({"DEBUG", "INFO", "WARNING"})


def clean_report(text):
    """An error text as a person reported it, rewritten into what Odoo 18 logs.

    Transport prefixes, HTML escapes, fences and banners go; ``openerp`` and
    Python 2 spellings become their current form. When a real error remains
    (an ERROR line saying more than "Failed to load registry", or any line
    with a traceback), the INFO and WARNING lines before it go (module
    loading progress, a request log), and so do the module loader's lines
    after it ("Transient module states were reset"): the error is read, not
    its context. A text that needs none of this comes back unchanged.
    """
    text = strip_ansi(text if isinstance(text, str) else str(text or ""))[:MAX_REPORT_CHARS]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in text and _HTML_ENTITY.search(text):
        text = html.unescape(text)
    if "<br" in text or "<BR" in text:
        text = _HTML_BREAK.sub("\n", text)
    head = text.split("\n", _PREFIX_PROBE_LINES)[:_PREFIX_PROBE_LINES]
    if any(_LINE_PREFIXES.match(line) for line in head):
        text = _LINE_PREFIXES.sub("", text)
    if "```" in text or "~~~" in text or " Error" in text or "RPC_ERROR" in text or "Erreur" in text:
        text = _FENCE_OR_BANNER.sub("", text)
    text = _FOLDED_LINE.sub("\n", text)
    if "  " in text:
        text = _INNER_SPACES.sub(_one_space, text)
    if "openerp" in text:
        text = _OPENERP.sub("odoo", text)
    if "addons.base." in text or "addons/base/" in text:
        text = _OLD_BASE_PACKAGE.sub(r"addons\1base\1models\1", text)
    if "u'" in text or 'u"' in text:
        text = _PY2_UNICODE_LITERAL.sub("", text)
    if "No module named " in text:
        text = _PY2_NO_MODULE.sub(r"No module named '\1'", text)
    return _drop_context_entries(text)


def _one_space(match):
    start = match.start()
    if start == 0 or match.string[start - 1] in " \n":
        return match.group(0)  # indentation
    return " "


def _drop_context_entries(text):
    if "INFO " not in text and "WARNING " not in text and "DEBUG " not in text:
        return text  # no line of a context level
    heads = list(_ENTRY_HEAD.finditer(text))
    if len(heads) < 2:
        return text
    entries = []  # (level, start, end)
    for index, head in enumerate(heads):
        end = heads[index + 1].start() if index + 1 < len(heads) else len(text)
        entries.append((head.group("level"), head.start(), end))

    def substantive(level, start, end):
        body = text[start:end]
        if TRACEBACK_HEADER in body:
            return True  # Odoo logs some errors at INFO with their traceback (a missing attachment file)
        if level not in ("ERROR", "CRITICAL"):
            return False
        message = _ENTRY_HEAD.sub("", body, count=1).strip()
        return bool(message) and not message.startswith(_GENERIC_ERRORS)

    flags = [substantive(*entry) for entry in entries]
    if not any(flags):
        return text  # no real error to prefer: every line may be the evidence
    first = flags.index(True)
    kept = [text[: entries[0][1]]]
    for index, (level, start, end) in enumerate(entries):
        # After the error, lines still tell of the same failure (the request's access line,
        # the asset bundle regenerated), except the module loader's narration of the failed load.
        follows = index > first and not text.startswith(_LOADER_LOGGERS, heads[index].start("logger"))
        if flags[index] or level not in _CONTEXT_LEVELS or follows:
            kept.append(text[start:end])
    return "".join(kept)
