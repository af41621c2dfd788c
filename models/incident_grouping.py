import hashlib
import logging
from collections import Counter, namedtuple
from datetime import timezone

import psycopg2.errors
from markupsafe import Markup, escape

from odoo import _, api, models
from odoo.tools import SQL

import odoo.addons

from .. import compat
from ..detection import settings as detection_settings
from ..detection import sources
from ..engine.detect import fingerprint as fingerprints
from ..engine.detect import fingerprint_rules, sql_companions
from ..engine.detect.signal import SOURCES, Signal

_logger = logging.getLogger(__name__)

OCCURRENCE_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Sources whose level says how bad the fault is; the others decide what they report themselves.
LEVELLED_SOURCES = ("log", "ir_logging")
MAX_SQL_CHARS = 4000

IngestResult = namedtuple("IngestResult", "incidents created reopened occurrences skipped")
IngestResult.__doc__ = """What one ingestion did: the incidents it touched (recordset), how many
it created and reopened, how many occurrences it wrote, and why signals were
skipped ({reason: count})."""

_Prepared = namedtuple("_Prepared", "signal grouping refinement key title extra")

_addons_roots = None


def addons_roots():
    """The folders whose subfolders are modules: the addons path, plus Odoo's own addons folder."""
    global _addons_roots
    if _addons_roots is None:
        roots = compat.config_list("addons_path")
        roots.extend(str(path) for path in odoo.addons.__path__)
        _addons_roots = tuple(dict.fromkeys(roots))
    return _addons_roots


def grouping_key(fingerprint, group_key):
    """The incident key: the engine's fingerprint, narrowed by a detector's own group key when it gives one.

    Signals without an exception (slow requests, scheduled actions) say which
    route or job they are about in a way the message template masks.
    """
    if not group_key:
        return fingerprint
    return hashlib.sha1(f"{fingerprint}\x1f{group_key}".encode("utf-8", "surrogatepass")).hexdigest()


def _naive_utc(moment):
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


class SelfHealingIncident(models.Model):
    _inherit = "self_healing.incident"

    # --- the hook for the rest of the pipeline --------------------------------

    def _on_new_signals(self):
        """Called by ingestion with the incidents it created or reopened (regressions), once per batch.

        Runs inside the ingestion transaction, after the occurrences are
        written and in a savepoint of its own: an override (match, diagnose,
        decide, fix) that raises is logged and rolled back without losing the
        signals. Overrides call super() and must not commit.
        """
        return True

    def _after_ingest(self):
        """Called by ingestion with every incident that got occurrences, once per batch.

        Rate-based conditions (spikes, snoozes until a rate or a count) are
        decided here. Same rules as ``_on_new_signals``: in a savepoint, no commit.
        """
        return True

    # --- ingestion --------------------------------------------------------------

    @api.model
    def _ingest_signals(self, signals):
        """Group signal dicts (``Signal.to_dict`` shape, datetimes or ISO strings) into incidents.

        One incident per grouping key: a new key creates an incident, a known
        one gets its count and last-seen bumped; every signal adds an
        occurrence. A healed incident that recurs is reopened as a
        regression; an ignored one stays ignored and only counts. Business
        errors (settings: self_healing.business_exceptions) and records
        another detector already reports are skipped and counted.
        Call it with sudo(); it never commits. Returns an ``IngestResult``.
        """
        settings = detection_settings.read(self.env.cr)
        rules = self.env["self_healing.fingerprint.rule"]._compiled_rules()
        skipped = Counter()
        prepared_items = []
        for raw in signals:
            try:
                prepared = self._prepare_signal(raw, settings, skipped, rules)
            except Exception:  # one unreadable signal must not hold the others back
                _logger.exception("Self-Healing could not read a signal")
                skipped["errors"] += 1
                continue
            if prepared is not None:
                prepared_items.append(prepared)
        companions = sql_companions.pair_with_tracebacks([(item.signal, item.grouping) for item in prepared_items])
        for line, traceback in companions.items():
            # The statement is the one thing the traceback lacks: it goes with the traceback's occurrence.
            prepared_items[traceback].extra["sql"] = prepared_items[line].signal.message[:MAX_SQL_CHARS]
            skipped["sql_line_of_traceback"] += 1
        groups = {}
        for index, prepared in enumerate(prepared_items):
            if index not in companions:
                groups.setdefault(prepared.key, []).append(prepared)
        if not groups:
            return IngestResult(self.browse(), 0, 0, 0, dict(skipped))

        uids = {item.signal.uid for items in groups.values() for item in items if item.signal.uid}
        # uid -> the user's company: a signal raised for a user belongs to that user's company.
        known_uids = {
            user.id: user.company_id.id
            for user in self.env["res.users"].sudo().with_context(active_test=False).browse(uids).exists()
        }

        touched, created, reopened = self.browse(), self.browse(), self.browse()
        occurrences = 0
        for key, items in groups.items():
            try:
                with self.env.cr.savepoint():
                    incident, is_new, was_reopened = self._record_group(key, items, known_uids)
            except Exception:
                _logger.exception("Self-Healing could not record %d signal(s) of %s", len(items), key)
                skipped["errors"] += len(items)
                continue
            touched |= incident
            occurrences += len(items)
            if is_new:
                created |= incident
            elif was_reopened:
                reopened |= incident
        if created or reopened:
            try:
                with self.env.cr.savepoint():
                    (created | reopened)._on_new_signals()
            except Exception:
                _logger.exception("Self-Healing: the pipeline hook failed on incidents %s", (created | reopened).ids)
        if touched:
            try:
                with self.env.cr.savepoint():
                    touched._after_ingest()
            except Exception:
                _logger.exception("Self-Healing: the rate checks failed on incidents %s", touched.ids)
        return IngestResult(touched, len(created), len(reopened), occurrences, dict(skipped))

    @api.model
    def _prepare_signal(self, raw, settings, skipped, rules=()):
        try:
            signal = Signal.from_dict(raw)
        except (TypeError, ValueError):
            skipped["invalid"] += 1
            return None
        refinement = sources.refine(signal.source, signal.logger, signal.message)
        if refinement.reported_by:
            skipped["reported_elsewhere"] += 1
            return None
        if (
            signal.source in LEVELLED_SOURCES
            and refinement.source in LEVELLED_SOURCES
            and detection_settings.level_number(signal.level) < settings.capture_level
        ):
            skipped["below_level"] += 1
            return None
        if refinement.source == "performance" and not sources.is_slow(refinement, settings):
            skipped["not_slow"] += 1
            return None
        grouping = fingerprints.fingerprint(signal, addons_roots=addons_roots())
        if refinement.source != "user_report" and fingerprints.is_business_error(
            grouping, settings.business_exceptions
        ):
            skipped["business_error"] += 1
            return None
        extra = dict(signal.extra or {})
        group_key = extra.pop("group_key", None) or refinement.group_key
        title = extra.pop("title", None) or refinement.title
        extra.update(refinement.facts)
        rule = fingerprint_rules.first_match(rules, grouping, signal.logger) if rules else None
        if rule is not None:
            # The administrator's grouping replaces the default one, detector group keys included.
            key = fingerprint_rules.rule_fingerprint(rule.group_as)
            extra["fingerprint_rule"] = rule.name
        else:
            key = grouping_key(grouping.fingerprint, group_key)
        return _Prepared(signal, grouping, refinement, key, title, extra)

    def _record_group(self, key, items, known_uids):
        """Create or bump the incident of ``key`` and write one occurrence per item."""
        first = min(_naive_utc(item.signal.occurred_at) for item in items)
        last = max(_naive_utc(item.signal.occurred_at) for item in items)
        sample = next((item.signal.traceback for item in items if item.signal.traceback), "")
        # A merged incident keeps its fingerprint: its signals go where it was merged.
        origin = self.with_context(active_test=False).search([("fingerprint", "=", key)], limit=1)
        incident = origin._merge_target() if origin else origin
        is_new = was_reopened = False
        if not incident:
            try:
                with self.env.cr.savepoint():
                    values = self._incident_values(key, items, first, last, sample)
                    values.setdefault("company_id", self._signal_company(items[0], known_uids))
                    incident = self.with_context(mail_create_nolog=True, mail_create_nosubscribe=True).create(values)
                is_new = True
            except psycopg2.errors.UniqueViolation:
                # Created meanwhile by another transaction that committed first.
                incident = origin = self.with_context(active_test=False).search([("fingerprint", "=", key)], limit=1)
                if not incident:
                    raise
                incident = incident._merge_target()
            origin = origin or incident
        origin, incident = origin.with_env(self.env), incident.with_env(self.env)
        if not is_new:
            incident._bump(len(items), first, last, sample)
            if incident._recurs_as_regression(last):
                incident._reopen_as_regression()
                was_reopened = True
        if origin != incident:
            origin._count_after_merge(len(items))
        values = [self._occurrence_values(incident, item, known_uids) for item in items]
        for row in values:
            row["origin_incident_id"] = origin.id
        self.env["self_healing.occurrence"].sudo().create(values)
        incident._note_affected({row["user_id"] for row in values if row["user_id"]})
        return incident, is_new, was_reopened

    @api.model
    def _incident_values(self, key, items, first, last, sample):
        head = items[0]
        grouping, signal = head.grouping, head.signal
        source = head.refinement.source if head.refinement.source in SOURCES else "manual"
        return {
            "name": (head.title or grouping.title)[: fingerprints.MAX_TITLE_CHARS],
            "fingerprint": key,
            "source": source,
            "exception_type": grouping.exception_type or False,
            "message_template": grouping.message_template or False,
            "module": grouping.module or False,
            "sample_traceback": sample or signal.message or False,
            "first_seen": first,
            "last_seen": last,
            "occurrence_count": len(items),
            "severity": self._severity_for(signal, source, head.extra),
        }

    @api.model
    def _signal_company(self, item, known_uids):
        """The company a signal belongs to: the one its source names (the reporter's current company),
        else its user's, else the company of the environment that ingests it."""
        named = item.extra.get("company_id")
        if (
            isinstance(named, int)
            and not isinstance(named, bool)
            and self.env["res.company"].sudo().browse(named).exists()
        ):
            return named
        return known_uids.get(item.signal.uid) or self.env.company.id

    @api.model
    def _severity_for(self, signal, source, extra):
        hinted = extra.get("severity")
        if hinted in dict(self._fields["severity"].selection):
            return hinted
        if signal.level == "CRITICAL":
            return "critical"
        if source == "performance":
            return "low"
        return "medium"

    @api.model
    def _occurrence_values(self, incident, item, known_uids):
        signal = item.signal
        level = (
            signal.level
            if signal.level in OCCURRENCE_LEVELS
            else detection_settings.logging_name(detection_settings.level_number(signal.level, logging.ERROR))
        )
        return {
            "incident_id": incident.id,
            "occurred_at": _naive_utc(signal.occurred_at),
            "signal_source": item.refinement.source,
            "level": level,
            "logger": signal.logger or False,
            "message": signal.message or False,
            "traceback": signal.traceback or False,
            "dbname": signal.dbname or self.env.cr.dbname,
            "user_id": signal.uid if signal.uid in known_uids else False,
            "request_path": signal.request_path or False,
            "extra": item.extra or False,
            "company_id": self._signal_company(item, known_uids),
        }

    def _bump(self, count, first, last, sample):
        """Add ``count`` occurrences seen between ``first`` and ``last``, atomically in SQL."""
        self.ensure_one()
        self.flush_recordset(["occurrence_count", "first_seen", "last_seen", "sample_traceback"])
        self.env.cr.execute(
            SQL(
                """UPDATE %s
                   SET occurrence_count = occurrence_count + %s,
                       first_seen = LEAST(first_seen, %s),
                       last_seen = GREATEST(last_seen, %s),
                       sample_traceback = COALESCE(NULLIF(sample_traceback, ''), %s)
                 WHERE id = %s""",
                SQL.identifier(self._table),
                count,
                first,
                last,
                sample or None,
                self.id,
            )
        )
        self.invalidate_recordset(["occurrence_count", "first_seen", "last_seen", "sample_traceback"])

    def _count_after_merge(self, count):
        """Signals of a merged fingerprint: counted here too, so that an unmerge gives them back."""
        self.ensure_one()
        self.flush_recordset(["merged_new_count"])
        self.env.cr.execute(
            SQL(
                "UPDATE %s SET merged_new_count = COALESCE(merged_new_count, 0) + %s WHERE id = %s",
                SQL.identifier(self._table),
                count,
                self.id,
            )
        )
        self.invalidate_recordset(["merged_new_count"])

    def _recurs_as_regression(self, last):
        """Whether signals seen up to ``last`` reopen this healed incident as a regression.

        A signal logged before the healing (the capture delivers within seconds, a
        scan later) is history, not a regression.
        """
        self.ensure_one()
        return self.state == "healed" and (not self.healed_at or last > self.healed_at)

    def _reopen_as_regression(self):
        """A healed incident came back: count the regression and reopen it, naming the healing in the chatter."""
        for incident in self:
            healing = incident.fix_attempt_ids.filtered(lambda attempt: attempt.state == "validated").sorted(
                lambda attempt: (attempt.healed_at or attempt.create_date, attempt.id), reverse=True
            )[:1]
            when = incident.healed_at or healing.healed_at
            note = escape(_("Regression: the fault came back after it was healed"))
            if when:
                note += escape(_(" on %s UTC", when.strftime("%Y-%m-%d %H:%M")))
            if healing:
                note += Markup(' by <a href="#" data-oe-model="%s" data-oe-id="%d">%s</a>') % (
                    healing._name,
                    healing.id,
                    healing.display_name,
                )
            note += escape(_(". Regression number %s.", incident.regression_count + 1))
            incident.write({"regression_count": incident.regression_count + 1})
            incident._set_state("new", Markup(note))
