"""The healing loop for one incident: match -> diagnose -> decide -> fix or ask -> learn.

Thin orchestration: matching lives in self_healing.matcher (engine/match/), the
confidence, the policy and the autonomy ladder in engine/decide/, the fixes and
their live diagnosis in autopatches/. The patch's read-only diagnosis runs
before anything is scored: a refuted root cause never gets a fix, a verified
one is scored with its evidence (replay, reversibility, blast radius). Each
incident is handled under a row lock, so two cron workers never work on one
incident, and one fix at a time per incident.
"""

import logging
import threading
from datetime import timedelta

import psycopg2.errors
from markupsafe import Markup, escape

from odoo import _, api, fields, models, release

from .. import autopatches, compat
from ..autopatches import base as autopatch_base
from ..autopatches import runner, transient_watch
from ..autopatches.errors import AutoPatchError
from ..detection import cron_wake
from ..engine.decide import autonomy as autonomy_engine
from ..engine.decide import confidence as confidence_engine
from ..engine.decide import policy as policy_engine
from ..engine.detect.signal import HUMAN_SOURCES
from ..engine.llm import client as llm_engine

_logger = logging.getLogger(__name__)

HEAL_BATCH = 20
IN_FLIGHT_ATTEMPT_STATES = ("proposed", "approved", "applied")
LLM_MATCH_CEILING = 0.75  # an LLM's pick alone never reaches the automatic bands
# A watched concurrency fault is transient while it stays rare; this many occurrences inside its
# quiet window means it keeps coming, and a human is told.
TRANSIENT_ALERT_OCCURRENCES = 10
# The fix of an incident whose text a person wrote takes its parameters from what the server logged;
# this many of its latest server occurrences are read for them.
SERVER_OCCURRENCES_READ = 20
# ``source`` of a fix whose parameters were re-read from server signals because a person wrote the text.
HUMAN_EVIDENCE = "human_evidence"


def _verified_by_replay(patch_class):
    """Validation re-runs what failed for the user; a watch-only patch writes nothing and is
    proven by the fault staying away, which is its replay."""
    return bool(patch_class.replays) or bool(patch_class.watch_only)


class SelfHealingIncidentHealing(models.Model):
    _inherit = "self_healing.incident"

    to_process = fields.Boolean(
        index=True, copy=False, readonly=True, help="New signals arrived: the healing loop will look at this incident."
    )
    decision = fields.Json(readonly=True, copy=False, help="The last policy decision and its reasons.")

    # ------------------------------------------------------------------ entry points

    def _on_new_signals(self):
        result = super()._on_new_signals()
        # A fault back while its fix was settling labels that fix failed and moves its guardrail down.
        self.env["self_healing.fix.attempt"]._check_recurrence(self)
        self.write({"to_process": True})
        # Pushed, not polled: the cron runs as soon as this transaction commits.
        self.env.ref("self_healing.ir_cron_heal_incidents").sudo()._trigger()
        return result

    @api.model
    def _cron_heal(self, batch=HEAL_BATCH):
        incidents = self.search([("to_process", "=", True)], order="last_seen", limit=batch)
        remaining = self.search_count([("to_process", "=", True)]) - len(incidents)
        auto_commit = not getattr(threading.current_thread(), "testing", False)
        for incident in incidents:
            try:
                with self.env.cr.savepoint():
                    incident._heal()
            except Exception:  # noqa: BLE001 - one incident must not block the others
                _logger.exception("healing incident %s failed", incident.id)
                incident.to_process = False
            if auto_commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit  # one incident, one transaction
        self._watch_transient_incidents()
        self.env["self_healing.fix.attempt"]._settle_outcomes()
        compat.cron_progress(self.env, len(incidents), max(remaining, 0))
        if remaining > 0:
            self.env.ref("self_healing.ir_cron_heal_incidents").sudo()._trigger()

    @api.model
    def _watch_transient_incidents(self):
        """Heal watched concurrency faults that went quiet; escalate those that keep coming."""
        watching = self.env["self_healing.fix.attempt"]._resolve_transient_incidents()["watching"]
        window_ends = []
        for incident in watching.filtered(lambda record: record.state != "escalated"):
            window = transient_watch.watch_window(self.env, incident)
            recent = (
                self.env["self_healing.occurrence"]
                .sudo()
                .search_count(
                    [
                        ("incident_id", "=", incident.id),
                        ("occurred_at", ">=", fields.Datetime.now() - window),
                    ]
                )
            )
            if recent >= TRANSIENT_ALERT_OCCURRENCES:
                incident._set_state(
                    "escalated",
                    _(
                        "%(count)s occurrences in %(window)s: this concurrency fault keeps coming and "
                        "needs a look (long transactions, a cron overlapping with users?).",
                        count=recent,
                        window=transient_watch.describe(window),
                    ),
                )
            else:
                window_ends.append(incident.last_seen + window)
        if window_ends:
            self._schedule_quiet_check(min(window_ends))

    @api.model
    def _schedule_quiet_check(self, window_end):
        """Run the healing cron when a watched incident's window ends, not at the cron's next interval."""
        now = fields.Datetime.now()
        # A second after the window ends, so that the run finds it over.
        due = max(window_end, now) + timedelta(seconds=1)
        cron = self.env.ref("self_healing.ir_cron_heal_incidents").sudo()
        # One pending trigger is enough: this runs after every healing pass.
        self.env.cr.execute(
            "SELECT 1 FROM ir_cron_trigger WHERE cron_id = %s AND call_at > %s AND call_at <= %s LIMIT 1",
            [cron.id, now, due],
        )
        if not self.env.cr.fetchone():
            cron._trigger(at=due)
            # Odoo only notifies the workers for a trigger due now; this one would wait for their next poll.
            if not getattr(threading.current_thread(), "testing", False):
                dbname = self.env.cr.dbname
                self.env.cr.postcommit.add(lambda: cron_wake.notify_cron_workers_at(dbname, due))

    def _lock_for_healing(self):
        """Lock this incident row; False when another worker holds it."""
        self.env.flush_all()
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute("SELECT id FROM self_healing_incident WHERE id = %s FOR UPDATE NOWAIT", [self.id])
        except (psycopg2.errors.LockNotAvailable, psycopg2.errors.SerializationFailure):
            return False
        self.invalidate_recordset()
        return True

    # ------------------------------------------------------------------ the loop

    def _heal(self):
        """One pass of the loop. Returns a short word for what happened (tests and logs read it)."""
        self.ensure_one()
        # Approvers and managers are told by the mail queue: a healing pass never waits on a mail server.
        if self.env.context.get("mail_notify_force_send") is not False:
            return self.with_context(mail_notify_force_send=False)._heal()
        if not self._lock_for_healing():
            return "busy"
        self.to_process = False
        if self.state in ("ignored", "fixing", "awaiting_approval"):
            return "skipped"
        if self.fix_attempt_ids.filtered(lambda attempt: attempt.state in IN_FLIGHT_ATTEMPT_STATES):
            return "in_flight"
        if self.transient and autopatch_base.watches_only(self.guardrail_id.autopatch_code):
            return "watching"
        match = self.env["self_healing.matcher"].apply_match(self)[self.id]
        code, params, source = self._choose_fix(match)
        if source == HUMAN_EVIDENCE and not code:
            return self._alert(
                _(
                    "This incident was described by a person: it is shown with its match, but no signal from the "
                    "server gives the parameters of a fix, so nothing is run automatically."
                ),
                match,
                fix_steps=True,
            )
        if not match.guardrail and not code:
            return self._alert(_("No known fault matches this incident."), match)
        patch_class, plan, applicable_reason, diagnosis = self._prepare_fix(code, params)
        breakdown = self._confidence(match, patch_class, diagnosis, source=source)
        decision = self._decide(match, breakdown, patch_class, source, diagnosis)
        self.write({"confidence": breakdown.total, "decision": decision.as_dict()})
        if decision.action == policy_engine.ALERT or not patch_class:
            reason = applicable_reason or "; ".join(decision.reasons)
            if source == "llm" and patch_class:
                reason = _(
                    "%(reason)s\nThe LLM suggests %(code)s %(params)s:\n%(plan)s",
                    reason=reason,
                    code=code,
                    params=params,
                    plan=plan,
                )
            return self._alert(reason, match, fix_steps=True)
        attempt = self._create_attempt(match, breakdown, decision, code, params, plan, source, diagnosis)
        if decision.dry_run:
            result = runner.run_attempt(attempt, dry_run=True)
            self.message_post(body=_("Dry run: the fix was planned, nothing was written.\n%s", plan))
            if result.ok and decision.autonomy == policy_engine.OBSERVE and match.guardrail:
                match.guardrail._autonomy_outcome(autonomy_engine.PLANNED)
            return "dry_run"
        if decision.automatic:
            if not autopatch_base.watches_only(code):
                self._set_state("fixing", _("Fixing automatically: %s", "; ".join(decision.reasons)))
            return self._run_fix(attempt, notify=decision.notify)
        self._set_state("awaiting_approval")
        attempt._request_review("\n".join(decision.reasons))
        return "awaiting_approval"

    def _choose_fix(self, match):
        """``(autopatch code, params, source)``: the guardrail's patch, else an LLM's pick if configured."""
        guardrail = match.guardrail
        server_text = self._text_is_server_observed()
        if guardrail and guardrail.autopatch_code:
            if not server_text:
                params = self._server_fix_params(guardrail)
                if params is None:
                    return None, {}, HUMAN_EVIDENCE
                return guardrail.autopatch_code, params, HUMAN_EVIDENCE
            # One incident groups a fault met on several objects (two broken views, two tables) and its
            # sample is the first one's: the newest occurrence the server logged names today's object.
            latest = self._server_fix_params(guardrail)
            params = latest if latest is not None else dict(match.params)
            return guardrail.autopatch_code, params, "rules" if match.signal == "rules" else match.signal
        if not server_text:
            # An LLM reading a person's text would pick parameters from it.
            return None, {}, HUMAN_EVIDENCE
        diagnosis = self._diagnose_with_llm(match)
        if diagnosis and diagnosis.actionable:
            # The model's own confidence, capped: its pick alone never reaches the automatic bands.
            match.match_score = min(float(diagnosis.confidence or 0.0), LLM_MATCH_CEILING)
            return diagnosis.autopatch, dict(diagnosis.params), "llm"
        return None, {}, None

    def _server_occurrences(self):
        return (
            self.env["self_healing.occurrence"]
            .sudo()
            .search(
                [("incident_id", "=", self.id), ("signal_source", "not in", HUMAN_SOURCES)],
                order="occurred_at desc, id desc",
                limit=SERVER_OCCURRENCES_READ,
            )
        )

    def _text_is_server_observed(self):
        """True when the text this incident is matched by is what the server itself logged.

        A report or a hand-made incident is evidence for a human: its words never become
        the parameters of an auto-patch.
        """
        if self.source in HUMAN_SOURCES:
            return False
        text = self.env["self_healing.matcher"]._match_text(self)
        return any(text in (occurrence.traceback, occurrence.message) for occurrence in self._server_occurrences())

    def _server_fix_params(self, guardrail):
        """The parameters the guardrail's rules read off this incident's server signals; None when none say them."""
        for occurrence in self._server_occurrences():
            params = self._occurrence_fix_params(occurrence, guardrail)
            if params is not None:
                return params
        return None

    @api.model
    def _occurrence_fix_params(self, occurrence, guardrail):
        """The parameters the guardrail's rules read off one occurrence; None when it is not that guardrail's."""
        text = occurrence.traceback or occurrence.message or ""
        if occurrence.traceback and occurrence.message and occurrence.message not in occurrence.traceback:
            text = f"{occurrence.message}\n{occurrence.traceback}"
        classification = self.env["self_healing.guardrail"]._classifier().classify(text)
        return dict(classification.params) if classification.guardrail == guardrail.code else None

    def _diagnose_with_llm(self, match):
        get = self.env["ir.config_parameter"].sudo().get_param
        provider = get("self_healing.llm_provider") or "none"
        if provider == "none":
            return None
        menu = autopatches.base.describe_all()
        candidates = [
            {
                "guardrail": match.guardrail.code if match.guardrail else None,
                "error_class": match.error_class,
                "title": match.guardrail.name if match.guardrail else "",
                "root_cause": match.guardrail.root_cause if match.guardrail else "",
                "fix": match.guardrail.fix_steps if match.guardrail else "",
                "score": match.match_score,
                "autopatches": [menu[code] for code in sorted(menu)],
            }
        ]
        diagnosis = llm_engine.diagnose(
            provider,
            get("self_healing.llm_api_key"),
            get("self_healing.llm_model"),
            {
                "exception_type": self.exception_type,
                "message_template": self.message_template,
                "module": self.module,
                "odoo_version": release.version,
                "occurrences": self.occurrence_count,
                "traceback": self.sample_traceback or "",
            },
            candidates,
            base_url=get("self_healing.llm_base_url") or None,
        )
        self.message_post(
            body=_(
                "LLM diagnosis (%(provider)s): %(text)s",
                provider=provider,
                text=diagnosis.error or diagnosis.explanation or diagnosis.root_cause,
            )
        )
        evidence = dict(self.match_evidence or {}, llm=diagnosis.as_dict())
        self.match_evidence = evidence
        return diagnosis

    def _confidence(self, match, patch_class=None, diagnosis=None, source=None):
        """The estimated probability that the fix heals this incident (engine/decide/confidence.py).

        For an LLM's pick a holding diagnosis proves the patch's precondition, not that the model
        read this incident right: it does not raise the capped match (a refuted one still zeroes it).
        """
        holds = diagnosis.holds if diagnosis else None
        if source == "llm" and holds:
            holds = None
        guardrail = match.guardrail
        versions = [v.strip() for v in (guardrail.odoo_versions or "").split(",") if v.strip()] if guardrail else []
        modules = [m.strip() for m in (guardrail.scope_modules or "").split(",") if m.strip()] if guardrail else []
        return confidence_engine.compute_confidence(
            confidence_engine.ConfidenceInputs(
                match_score=match.match_score,
                kb_support_count=match.kb_support,
                outcomes=guardrail._outcomes() if guardrail else [],
                now=fields.Datetime.now(),
                version_match=(release.serie in versions) if versions else None,
                module_match=(self.module in modules) if modules and self.module else None,
                diagnosis_holds=holds,
                replay=_verified_by_replay(patch_class) if patch_class else None,
                reversible=bool(patch_class.reversible) if patch_class else None,
                rows=diagnosis.rows if diagnosis else 0,
                files=diagnosis.files if diagnosis else 0,
            )
        )

    def _prepare_fix(self, code, params):
        """``(patch class or None, plan text, reason it cannot run, Diagnosis or None)``; nothing is written.

        ``params`` is narrowed in place to what the patch declares. The patch's live diagnosis
        decides whether the fix applies at all, whatever the text match said."""
        if not code:
            return None, "", _("The matched guardrail has no auto-patch: follow its fix steps."), None
        try:
            patch_class = autopatches.base.get(code)
            # The rules capture more than a patch takes (ids, values): hand it only what it declares.
            for name in [name for name in params if name not in patch_class.params]:
                del params[name]
            patch, accepted = runner.prepare(self.env, code, params, self)
            # Read-only, but a failing query must not abort the healing pass's transaction.
            with self.env.cr.savepoint():
                diagnosis = patch.diagnose(runner.patch_env(self.env), accepted)
        except AutoPatchError as exc:
            return None, "", str(exc), None
        except Exception as exc:  # noqa: BLE001 - a diagnosis that crashes proves nothing: no fix
            _logger.warning("diagnosis of %s failed for incident %s", code, self.id, exc_info=exc)
            return None, "", _("The live diagnosis of %(code)s failed: %(error)s", code=code, error=exc), None
        if not diagnosis.holds:
            self.message_post(
                body=_(
                    "Live diagnosis by %(code)s: the claimed root cause is not there (%(reason)s). No fix is applied.",
                    code=code,
                    reason=diagnosis.reason or _("no reason given"),
                )
            )
            return None, "", diagnosis.reason or _("The live diagnosis refuted the root cause."), diagnosis
        try:
            return patch_class, runner.preview(self.env, code, params, self), "", diagnosis
        except AutoPatchError as exc:
            return None, "", str(exc), diagnosis

    def _decide(self, match, breakdown, patch_class, source, diagnosis=None):
        Policy = self.env["self_healing.policy"]
        settings = Policy._settings()
        now = fields.Datetime.now()
        guardrail = match.guardrail
        facts = None
        if patch_class:
            facts = policy_engine.FixFacts(
                replay=_verified_by_replay(patch_class),
                diagnosis_holds=diagnosis.holds if diagnosis else None,
                reversible=bool(patch_class.reversible),
                rows=diagnosis.rows if diagnosis else 0,
                files=diagnosis.files if diagnosis else 0,
                autonomy=guardrail.autonomy if guardrail else policy_engine.AUTO,
                guardrail_recent_auto_fix_times=tuple(Policy._recent_auto_fix_times(now, guardrail=guardrail))
                if guardrail
                else (),
            )
        scope_modules = [m for m in [self.module, *((match.guardrail.scope_modules or "").split(","))] if m]
        decision = policy_engine.decide(
            breakdown,
            guardrail_is_critical=bool(match.guardrail.critical) or bool(patch_class and patch_class.critical),
            touched_models=list(patch_class.scope_models) if patch_class else [],
            touched_modules=[m.strip() for m in scope_modules],
            settings=settings,
            recent_auto_fix_times=Policy._recent_auto_fix_times(now),
            consecutive_failures=Policy._consecutive_failures(),
            now=now,
            has_autopatch=bool(patch_class),
            fix=facts,
        )
        if source == "llm" and decision.action != policy_engine.ALERT:
            if decision.automatic:
                decision.action = policy_engine.PROPOSE
                decision.needs_approval = True
            decision.reasons.append(_("The fix was chosen by an LLM: a human approves it before it runs."))
        if source == HUMAN_EVIDENCE and decision.automatic:
            decision.action = policy_engine.PROPOSE
            decision.needs_approval = True
            decision.reasons.append(
                _(
                    "A person described this incident: a human approves the fix, whose parameters come "
                    "from the server's own signals."
                )
            )
        if decision.breaker_open:
            self._warn_managers_breaker()
        return decision

    def _create_attempt(self, match, breakdown, decision, code, params, plan, source, diagnosis=None):
        Attempt = self.env["self_healing.fix.attempt"].sudo()
        terms = dict(breakdown.as_dict(), source=source)
        extra = {}
        if diagnosis is not None:
            terms["diagnosis"] = diagnosis.as_dict()
            if "diagnosis" in Attempt._fields:
                extra["diagnosis"] = diagnosis.as_dict()
        return Attempt.create(
            dict(
                {
                    "incident_id": self.id,
                    "guardrail_id": match.guardrail.id or False,
                    "autopatch_code": code,
                    "params": params,
                    "mode": "auto" if decision.automatic else "manual",
                    "dry_run": decision.dry_run,
                    "confidence_before": breakdown.total,
                    "confidence_terms": terms,
                    "decision_reasons": "\n".join(decision.reasons),
                    "plan_preview": plan,
                    "detected_at": self.first_seen if not self.regression_count else self.last_seen,
                    "odoo_version": release.version,
                    "module": self.module,
                },
                **extra,
            )
        )

    def _run_fix(self, attempt, notify=False):
        """Run an attempt now and move the incident and its guardrail accordingly."""
        try:
            result = runner.run_attempt(attempt)
        except AutoPatchError as exc:
            if self.state == "fixing":
                self._set_state("failed", _("The fix could not run: %s", exc))
            else:
                self.message_post(body=_("The fix could not run: %s", exc))
            return "failed"
        return self._after_fix(attempt, result, notify)

    def _after_fix(self, attempt, result, notify=False):
        guardrail = attempt.guardrail_id
        if result.ok and autopatch_base.watches_only(attempt.autopatch_code):
            self.message_post(body=_("Transient fault, watched: %s", result.detail))
            self._schedule_quiet_check(transient_watch.quiet_since(self.env, self))
            return "watching"
        if result.ok:
            if guardrail:
                guardrail._learn(True, attempt.applied_at)
            attempt.confidence_after = (
                self._confidence(
                    self.env["self_healing.matcher"].match(self), autopatch_base.get(attempt.autopatch_code)
                ).total
                if guardrail
                else attempt.confidence_before
            )
            self._set_state(
                "healed",
                escape(_("Healed by %(patch)s: %(outcome)s", patch=attempt.autopatch_code, outcome=result.detail))
                + self._attempt_links(attempt),
            )
            self.message_post(
                body=_("Healed automatically by %s.", attempt.autopatch_code),
                subtype_xmlid="self_healing.mt_incident_healed",
                partner_ids=self._manager_partners().ids if notify else [],
            )
            return "healed"
        if guardrail:
            guardrail._learn(False, attempt.applied_at, reason=result.detail)
        self._set_state(
            "failed",
            escape(_("The fix failed and was rolled back: %s", result.detail)) + self._attempt_links(attempt),
        )
        return "failed"

    def _attempt_links(self, attempt):
        """ " (fix attempt, its plan; backups)" as chatter links, so every automatic step can be checked."""
        link = Markup('<a href="#" data-oe-model="%s" data-oe-id="%d">%s</a>')
        parts = [link % (attempt._name, attempt.id, attempt.display_name)]
        # The backups are the pre-images a rollback restores; only managers open them.
        backups = attempt.sudo().backup_ids
        if backups:
            parts.append(
                escape(_("backups: "))
                + Markup(", ").join(link % (backup._name, backup.id, backup.display_name) for backup in backups)
            )
        return Markup(" (") + escape(_("plan and outcome in ")) + Markup("; ").join(parts) + Markup(")")

    def _alert(self, reason, match, fix_steps=False):
        """Tell a human; no fix is proposed."""
        body = reason
        if fix_steps and match.guardrail and match.guardrail.fix_steps:
            body = _(
                "%(reason)s\nSuggested steps (%(code)s):\n%(steps)s",
                reason=reason,
                code=match.guardrail.code,
                steps=match.guardrail.fix_steps,
            )
        if self.state != "escalated":
            self._set_state("escalated", body)
        else:
            self.message_post(body=body)
        return "alert"

    def _manager_partners(self):
        return (
            compat.group_members(self.env.ref("self_healing.group_self_healing_manager")).filtered("active").partner_id
        )

    def _warn_managers_breaker(self):
        self.message_post(
            body=_(
                "The circuit breaker is open: the autopilot is paused after repeated failed fixes. "
                "An administrator resets it in Settings once the cause is understood."
            ),
            partner_ids=self._manager_partners().ids,
        )
