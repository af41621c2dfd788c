"""Group fault observations: the same fault gets the same fingerprint, Sentry-style.

fingerprint = sha1(exception types and message templates of the whole chain
+ up to three innermost frames of addon code). Frames are named by module,
module-relative file and function, never by line number, so an edit elsewhere
in a file or a different installation path does not split an incident.
"""

import hashlib
import re
from dataclasses import asdict, dataclass

from ..detect import normalize
from ..detect.signal import Signal

IN_APP_FRAME_COUNT = 3
MAX_TITLE_CHARS = 200

DEFAULT_BUSINESS_EXCEPTIONS = frozenset({"UserError", "ValidationError", "AccessDenied", "RedirectWarning"})

# Any folder named like *addons (addons, odoo/addons, extra-addons,
# custom_addons) holds modules; the folder right below it is the module.
_ADDONS_FOLDER = re.compile(r"[/\\][\w.-]*addons[/\\](?P<module>\w+)[/\\](?P<relative>.+)$")
# safe_eval names server action and automation code after the record, e.g. ir.actions.server(12,).
_EVALUATED_RECORD = re.compile(r"[a-z][\w]*(?:\.[\w]+)+\(\d+,?\)")
_LOGGER_ADDON = re.compile(r"odoo\.addons\.(?P<module>\w+)")
_CACHE_LIMIT = 20000
_UNSEEN = object()


@dataclass(frozen=True)
class Grouping:
    """How one observation is grouped; ``chain`` lists (type, template) root cause first."""

    fingerprint: str
    exception_type: str
    message_template: str
    in_app_frames: tuple
    module: str
    title: str
    chain: tuple = ()

    def to_dict(self):
        data = asdict(self)
        data["in_app_frames"] = list(self.in_app_frames)
        data["chain"] = [list(item) for item in self.chain]
        return data


class FrameClassifier:
    """Tells addon frames from core, library and stdlib frames.

    ``addons_roots`` are extra folders whose direct subfolders are modules
    (e.g. Odoo's configured addons_path entries with unusual names). Results
    are cached per path because the same files appear in every traceback.
    """

    def __init__(self, addons_roots=()):
        self.addons_roots = tuple(root.rstrip("/\\") + "/" for root in addons_roots if root)
        self._cache = {}

    def classify(self, path):
        """(module, module-relative path) for an addon file, ('', path) for evaluated record code, else None."""
        if path in self._cache:
            return self._cache[path]
        result = self._classify(path)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[path] = result
        return result

    def _classify(self, path):
        normalized = path.replace("\\", "/")
        for root in self.addons_roots:
            if normalized.startswith(root):
                module, _, relative = normalized[len(root) :].partition("/")
                if module and relative:
                    return module, relative
        match = _ADDONS_FOLDER.search(normalized)
        if match:
            return match.group("module"), match.group("relative")
        if _EVALUATED_RECORD.fullmatch(path):
            return "", path
        return None


_default_classifier = FrameClassifier()
_classifiers = {}


def classifier_for(addons_roots):
    if not addons_roots:
        return _default_classifier
    key = tuple(addons_roots)
    classifier = _classifiers.get(key)
    if classifier is None:
        classifier = _classifiers[key] = FrameClassifier(key)
    return classifier


def innermost_in_app_frames(frames, classifier=_default_classifier, limit=IN_APP_FRAME_COUNT):
    """Up to ``limit`` addon frames, innermost first, as 'module/relative/path.py:function'."""
    picked = []
    modules = []
    known = classifier._cache
    for path, _line, function in reversed(frames):
        where = known.get(path, _UNSEEN)
        if where is _UNSEEN:
            where = classifier.classify(path)
        if where is None:
            continue
        module, relative = where
        picked.append(f"{module}/{relative}:{function}" if module else f"{relative}:{function}")
        modules.append(module)
        if len(picked) == limit:
            break
    return tuple(picked), next((module for module in modules if module), "")


def module_of_logger(logger_name):
    match = _LOGGER_ADDON.match(logger_name or "")
    return match.group("module") if match else ""


def _short_type(exception_type):
    return exception_type.rsplit(".", 1)[-1]


def _title(exception_type, template, chain):
    first_line = template.split("\n", 1)[0]
    title = f"{_short_type(exception_type)}: {first_line}" if exception_type else first_line
    causes = [_short_type(kind) for kind, _ in chain[:-1] if kind and kind != exception_type]
    if causes:
        title = f"{title} (from {causes[0]})"  # the root cause says most about what went wrong
    if len(title) > MAX_TITLE_CHARS:
        title = title[: MAX_TITLE_CHARS - 1] + "…"
    return title or "(empty error message)"


def _inputs(item, logger):
    """Error text and logger name from a Signal, a signal dict or plain text."""
    if isinstance(item, Signal):
        return (item.traceback or item.message), (logger or item.logger)
    if isinstance(item, dict):
        text = item.get("traceback") or item.get("message") or ""
        return text, (logger or item.get("logger") or "")
    return (item or ""), (logger or "")


def fingerprint(item, *, logger=None, addons_roots=()):
    """Group a Signal, a signal dict or an error text (message and/or traceback).

    When there is an exception, the log message printed before its traceback
    ("Exception during request handling.") is left out: the exception says
    what failed. Text without a recognisable exception is grouped by its
    logger and message template, so two loggers printing the same words stay
    apart.
    """
    text, logger = _inputs(item, logger)
    parsed = normalize.parse(text)
    classifier = classifier_for(addons_roots)

    chain = tuple((part.type, normalize.message_template(part.message)) for part in parsed.exceptions)
    if chain:
        exception_type, template = chain[-1]
        if not exception_type and not template and parsed.preamble:
            template = normalize.message_template(parsed.preamble)
            chain = chain[:-1] + ((exception_type, template),)
    else:
        exception_type, template = "", normalize.message_template(parsed.preamble)

    frames, module = (), ""
    # The raised exception's own frames say where it surfaced; when it has no
    # addon frame (e.g. re-raised by core code), its causes say where it started.
    for part in reversed(parsed.exceptions):
        frames, module = innermost_in_app_frames(part.frames, classifier)
        if frames:
            break
    if not module:
        module = module_of_logger(logger)

    key_parts = [f"{kind}\x1e{text_template}" for kind, text_template in chain] or [f"\x1e{template}"]
    key_parts.extend(frames)
    if not parsed.exceptions or not any(part.frames for part in parsed.exceptions):
        key_parts.append(f"logger\x1e{logger}")
    digest = hashlib.sha1("\x1f".join(key_parts).encode("utf-8", "surrogatepass")).hexdigest()

    return Grouping(
        fingerprint=digest,
        exception_type=exception_type,
        message_template=template,
        in_app_frames=frames,
        module=module,
        title=_title(exception_type, template, chain),
        chain=chain,
    )


def is_business_error(grouping, names=DEFAULT_BUSINESS_EXCEPTIONS):
    """True when the fault is a deliberate business refusal, not an incident.

    A name with dots must equal the qualified type; a bare name matches the
    type's last component. Odoo 18 turns every IntegrityError into a
    ValidationError (``raise ... from``), so a database error in the chain
    makes it a real fault even when the raised type is a business one.
    """
    exception_type = grouping.exception_type
    if not exception_type:
        return False
    short = _short_type(exception_type)
    if not any(name == exception_type or ("." not in name and name == short) for name in names):
        return False
    return not any(kind.startswith("psycopg2.") for kind, _ in grouping.chain)
