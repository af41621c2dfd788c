import queue
import threading
from datetime import timedelta

from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..autopatches import base, runner
from ..autopatches.base import AutoPatch
from ..autopatches.errors import AttemptBusy, NotApplicable, NotRunnable, RollbackRefused
from ..engine.library import guardrails as library
from ..models.guardrail import registered_specs
from . import autopatch_faults as faults
from .common import SelfHealingCase


class RenameCategory(AutoPatch):
    """Test patch: rename a partner category (validation can be told to fail)."""

    code = "test_rename_category"
    title = "Rename a category"
    params = {"category_id": {"pattern": r"\d+", "required": True, "description": "category"}}
    scope_models = ("res.partner.category",)
    fail_validation = False

    def _category(self, env, params):
        return env["res.partner.category"].browse(int(params["category_id"]))

    def applicable(self, env, params):
        return bool(self._category(env, params).exists()), "category exists"

    def plan(self, env, params):
        return f"rename {self._category(env, params).name!r}"

    def apply(self, ctx):
        category = self._category(ctx.env, ctx.params)
        ctx.write(category, {"name": category.name + " (healed)"})

    def validate(self, ctx):
        if self.fail_validation:
            return False, "the fault is still there"
        return self._category(ctx.env, ctx.params).name.endswith("(healed)"), "renamed"


class RogueWrite(RenameCategory):
    """Test patch that writes a partner although it declared categories only."""

    code = "test_rogue_write"

    def apply(self, ctx):
        ctx.write(ctx.env.ref("base.main_partner"), {"comment": "rogue"})


class RogueSQL(RenameCategory):
    code = "test_rogue_sql"

    def apply(self, ctx):
        ctx.execute(
            "UPDATE res_partner SET comment = 'rogue'", tables=("res_partner",), undo="SELECT 1", probe="SELECT 1"
        )


class SneakySQL(RenameCategory):
    """Claims a read (no undo) but writes."""

    code = "test_sneaky_sql"

    def apply(self, ctx):
        ctx.execute("UPDATE res_partner_category SET color = 3")


class RogueFile(RenameCategory):
    code = "test_rogue_file"

    def apply(self, ctx):
        ctx.write_file("/tmp/self_healing_rogue.txt", "rogue")


class SweepingViewWrite(RenameCategory):
    """An ORM write whose override deletes other rows (users' view customisations)."""

    code = "test_sweeping_view_write"
    scope_models = ("ir.ui.view",)

    def apply(self, ctx):
        ctx.write(ctx.env.ref("base.res_partner_industry_view_form"), {"priority": 17})


class CriticalRename(RenameCategory):
    code = "test_critical_rename"
    critical = True


class CrashingDiagnosis(RenameCategory):
    code = "test_crashing_diagnosis"

    def diagnose(self, env, params):
        raise RuntimeError("the probe broke")


class RefutingDiagnosis(RenameCategory):
    """Its text-level ``applicable`` would say yes; the live diagnosis says no."""

    code = "test_refuting_diagnosis"

    def diagnose(self, env, params):
        return base.Diagnosis(False, "the category is fine", {"category_id": int(params["category_id"])})


@tagged("post_install", "-at_install")
class TestAutopatchRegistry(SelfHealingCase):
    def test_the_shipped_library_fits_the_registered_patches(self):
        shipped = library.load_library()
        library.check_autopatches(shipped.guardrails, registered_specs())
        used = {guardrail.autopatch for guardrail in shipped.guardrails if guardrail.autopatch}
        self.assertEqual(used, {code for code in base.codes() if not code.startswith("test_")})
        broken = dict(shipped.by_code["GR-SEQ-001"].as_dict(), autopatch="mail_retry")
        with self.assertRaisesRegex(library.LibraryError, "does not apply to SEQ_PKEY_DRIFT"):
            library.check_autopatches([library.check_entry(broken)], registered_specs())

    def test_lookup_and_parameter_checks(self):
        self.assertEqual([patch.code for patch in base.for_error_class("SEQ_PKEY_DRIFT")], ["sequence_resync"])
        with self.assertRaises(NotApplicable):
            base.get("rm_rf")
        ok, reason = runner.check(self.env, "sequence_resync", {"table": "res_partner; DROP TABLE res_users"})
        self.assertFalse(ok)
        self.assertIn("does not match", reason)
        ok, reason = runner.check(self.env, "sequence_resync", {"table": "res_partner", "sql": "x"})
        self.assertIn("undeclared", reason)
        described = base.describe_all()["rule_deactivate"]
        self.assertTrue(described["critical"])
        self.assertEqual(described["params"]["model"]["required"], True)

    def test_every_shipped_patch_diagnoses_live_and_replays_or_says_why_not(self):
        for code in base.codes():
            if code.startswith("test_"):
                continue
            patch = base.get(code)
            with self.subTest(code=code):
                self.assertIsNot(patch.diagnose, AutoPatch.diagnose, "the text match alone would decide")
                self.assertIsInstance(patch.reversible, bool)
                if patch.replays:
                    self.assertIsNot(patch.replay, AutoPatch.replay, "declares a replay it does not run")
                else:
                    self.assertTrue(patch.watch_only, "only a watch may go without a replay")
        self.assertFalse(base.get("mail_retry").reversible, "a delivered mail cannot be called back")
        self.assertFalse(base.get("cron_reactivate").reversible, "the validating run of the job is kept")


@tagged("post_install", "-at_install")
class TestAutopatchRunner(SelfHealingCase):
    def setUp(self):
        super().setUp()
        self.category = self.env["res.partner.category"].create({"name": "Runner"})
        for patch in (RenameCategory, RogueWrite, RogueSQL, SneakySQL, RogueFile, SweepingViewWrite, CriticalRename):
            self.enterContext(base.registered(patch))

    def test_the_runner_keeps_the_diagnosis_and_obeys_a_refutation(self):
        with base.registered(RefutingDiagnosis):
            refuted = self.attempt("test_refuting_diagnosis")
            runner.run_attempt(refuted)
            self.assertEqual(refuted.state, "failed")
            self.assertIn("the live diagnosis refutes the fault: the category is fine", refuted.outcome)
            self.assertEqual(
                refuted.diagnosis,
                {
                    "holds": False,
                    "reason": "the category is fine",
                    "evidence": {"category_id": self.category.id},
                    "rows": 0,
                    "files": 0,
                },
            )
            self.assertEqual(
                runner.check(self.env, "test_refuting_diagnosis", {"category_id": self.category.id}),
                (False, "the category is fine"),
            )
            preview = self.attempt("test_refuting_diagnosis")
            runner.preview_attempt(preview)
            self.assertFalse(preview.diagnosis["holds"], "a preview keeps the diagnosis too")
        self.assertEqual(self.category.name, "Runner")

        healed = self.attempt()
        self.assertTrue(runner.run_attempt(healed).ok)
        self.assertEqual(
            healed.diagnosis, {"holds": True, "reason": "category exists", "evidence": {}, "rows": 0, "files": 0}
        )

        with base.registered(CrashingDiagnosis), mute_logger("odoo.addons.self_healing.autopatches.runner"):
            crashed = self.attempt("test_crashing_diagnosis")
            runner.run_attempt(crashed)
        self.assertEqual(crashed.state, "failed")
        self.assertIn("the probe broke", crashed.outcome)
        self.assertFalse(crashed.diagnosis["holds"])
        self.assertIn("the diagnosis failed: RuntimeError: the probe broke", crashed.diagnosis["reason"])

    def test_the_attempt_form_shows_the_diagnosis(self):
        arch = self.env["self_healing.fix.attempt"].get_view(
            self.env.ref("self_healing.self_healing_fix_attempt_view_form").id, "form"
        )["arch"]
        self.assertIn('name="diagnosis"', arch)

    def attempt(self, code="test_rename_category", **values):
        return faults.make_attempt(self.env, code, {"category_id": self.category.id}, **values)

    def test_success_keeps_backup_timings_and_rolls_back_in_one_click(self):
        attempt = self.attempt()
        result = runner.run_attempt(attempt)
        self.assertTrue(result.ok, result.detail)
        self.assertEqual(attempt.state, "validated")
        self.assertEqual(self.category.name, "Runner (healed)")
        self.assertTrue(attempt.applied_at and attempt.healed_at and attempt.duration > 0)
        self.assertEqual(attempt.plan_preview, "rename 'Runner'")
        backup = attempt.backup_ids
        self.assertEqual((backup.kind, backup.operation, backup.state), ("data", "write", "kept"))
        self.assertEqual(backup.payload["before"][str(self.category.id)]["name"], {"en_US": "Runner"})
        self.assertAlmostEqual(
            backup.expires_at, fields.Datetime.now() + timedelta(days=30), delta=timedelta(minutes=5)
        )

        attempt.with_user(self.sh_manager).action_rollback()
        self.assertEqual(attempt.state, "rolled_back")
        self.assertEqual(self.category.name, "Runner")
        self.assertEqual(backup.state, "restored")
        with self.assertRaisesRegex(UserError, "only an applied or validated fix"):
            attempt.with_user(self.sh_manager).action_rollback()

    def test_failed_validation_rolls_everything_back(self):
        attempt = self.attempt()
        self.patch(RenameCategory, "fail_validation", True)
        result = runner.run_attempt(attempt)
        self.assertFalse(result.ok)
        self.assertEqual(attempt.state, "failed")
        self.assertIn("the fault is still there", attempt.outcome)
        self.assertIn("ValidationFailed", attempt.error)
        self.assertEqual(self.category.name, "Runner")
        self.assertFalse(attempt.backup_ids, "the backups of a rolled-back run go with it")
        with self.assertRaises(RollbackRefused):
            runner.rollback_attempt(attempt)

    def test_scope_violations_are_refused_before_writing(self):
        partner = self.env.ref("base.main_partner")
        comment = partner.comment
        for code, expected in (
            ("test_rogue_write", "ScopeViolation"),
            ("test_rogue_sql", "ScopeViolation"),
            ("test_rogue_file", "ScopeViolation"),
            ("test_sneaky_sql", "ReadOnlySqlTransaction"),
        ):
            with self.subTest(code=code), mute_logger("odoo.sql_db", "odoo.addons.self_healing.autopatches.runner"):
                attempt = self.attempt(code)
                runner.run_attempt(attempt)
                self.assertEqual(attempt.state, "failed")
                self.assertIn(expected, attempt.error)
        self.assertEqual(partner.comment, comment)
        self.assertEqual(self.category.name, "Runner")

    def test_writes_with_irreversible_side_effects_are_refused(self):
        view = self.env.ref("base.res_partner_industry_view_form")
        custom = self.env["ir.ui.view.custom"].create(
            {
                "ref_id": view.id,
                "user_id": self.sh_manager.id,
                "arch": "<form/>",
            }
        )
        attempt = self.attempt("test_sweeping_view_write")
        with mute_logger("odoo.addons.self_healing.autopatches.runner"):
            runner.run_attempt(attempt)
        self.assertEqual(attempt.state, "failed")
        self.assertIn("IrreversibleWrite: writing ir.ui.view also deleted rows of ir_ui_view_custom", attempt.error)
        self.assertTrue(custom.exists())
        self.assertEqual(view.priority, 16)

    def test_dry_run_and_plan_write_nothing(self):
        before = faults.rows_written(self.env)
        text = runner.preview(self.env, "test_rename_category", {"category_id": self.category.id})
        self.assertEqual(faults.rows_written(self.env), before)
        self.assertEqual(text, "rename 'Runner'")
        attempt = self.attempt(dry_run=True)
        result = runner.run_attempt(attempt)
        self.assertTrue(result.dry_run)
        self.assertEqual(attempt.state, "proposed")
        self.assertEqual(attempt.plan_preview, "rename 'Runner'")
        self.assertIn("nothing written", attempt.outcome)
        self.assertEqual(self.category.name, "Runner")
        self.env["ir.config_parameter"].set_param(runner.DRY_RUN_PARAM, "True")
        second = self.attempt()
        self.assertTrue(runner.run_attempt(second).dry_run)
        self.assertTrue(second.dry_run)
        self.assertEqual(self.category.name, "Runner")

    def test_only_runnable_attempts_run(self):
        manual = self.attempt(mode="manual")
        with self.assertRaises(NotRunnable):
            runner.run_attempt(manual)
        with self.assertRaisesRegex(UserError, "only approved attempts"):
            manual.with_user(self.sh_manager).action_apply()
        manual.with_user(self.sh_approver)._approve("fine")
        self.assertTrue(manual.can_apply)
        manual.with_user(self.sh_manager).action_apply()
        self.assertEqual(manual.state, "validated")
        with self.assertRaises(NotRunnable):
            runner.run_attempt(manual)

    def test_critical_patch_needs_approval_even_in_auto_mode(self):
        attempt = self.attempt("test_critical_rename")
        runner.run_attempt(attempt)
        self.assertEqual(attempt.state, "failed")
        self.assertIn("critical", attempt.outcome)
        approved = self.attempt("test_critical_rename", mode="manual")
        approved.with_user(self.sh_approver)._approve("checked")
        self.assertTrue(runner.run_attempt(approved).ok)

    def test_buttons_are_for_managers(self):
        attempt = self.attempt()
        with self.assertRaises(AccessError):
            attempt.with_user(self.sh_approver).action_apply()
        action = attempt.with_user(self.sh_manager).action_apply()
        self.assertEqual(action["params"]["type"], "success")
        self.assertTrue(attempt.can_rollback)
        with self.assertRaises(AccessError):
            attempt.with_user(self.sh_approver).action_rollback()
        attempt.with_user(self.sh_approver).action_preview()

    def test_rollback_refused_when_data_moved_on(self):
        attempt = self.attempt()
        runner.run_attempt(attempt)
        self.category.name = "Renamed by a user since"
        with self.assertRaisesRegex(UserError, "moved on"):
            attempt.with_user(self.sh_manager).action_rollback()
        self.assertEqual(self.category.name, "Renamed by a user since")
        self.assertEqual(attempt.state, "validated")

    def test_rollback_refused_when_backup_expired(self):
        attempt = self.attempt()
        runner.run_attempt(attempt)
        self.env.flush_all()
        # 31 days later, the autovacuum drops the pre-image.
        self.env.cr.execute(
            "UPDATE self_healing_backup SET create_date = now() at time zone 'utc' - interval '31 days',"
            " expires_at = now() at time zone 'utc' - interval '1 day' WHERE attempt_id = %s",
            [attempt.id],
        )
        self.env.invalidate_all()
        self.assertEqual(self.env["self_healing.backup"]._gc_expired_backups(), 1)
        with self.assertRaisesRegex(UserError, "expired"):
            attempt.with_user(self.sh_manager).action_rollback()
        self.assertEqual(self.category.name, "Runner (healed)")


@tagged("post_install", "-at_install")
class TestAutopatchExactlyOnce(SelfHealingCase):
    """Two workers with their own transactions race for one attempt: exactly one applies it."""

    class SlowRename(RenameCategory):
        code = "test_slow_rename"
        applies = 0
        entered = threading.Event()
        release = threading.Event()

        def apply(self, ctx):
            type(self).applies += 1
            type(self).entered.set()
            type(self).release.wait(20)
            return super().apply(ctx)

    def test_two_workers_one_apply(self):
        registry = self.registry
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            category = env["res.partner.category"].create({"name": "Raced"})
            attempt = faults.make_attempt(env, self.SlowRename.code, {"category_id": category.id})
            ids = {"category": category.id, "attempt": attempt.id, "incident": attempt.incident_id.id}
        self.addCleanup(self._remove, ids)
        results = queue.Queue()

        def worker():
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
                try:
                    result = runner.run_attempt(env["self_healing.fix.attempt"].browse(ids["attempt"]))
                    results.put(("applied", result.state))
                except (AttemptBusy, NotRunnable) as exc:
                    results.put(("refused", type(exc).__name__))

        with base.registered(self.SlowRename):
            threads = [threading.Thread(target=worker) for _index in range(2)]
            for thread in threads:
                thread.start()
            # The worker that got the lock waits in apply(); the other one comes back refused.
            first = results.get(timeout=30)
            self.SlowRename.release.set()
            second = results.get(timeout=30)
            for thread in threads:
                thread.join(30)
        self.assertEqual(first, ("refused", "AttemptBusy"))
        self.assertEqual(second, ("applied", "validated"))
        self.assertEqual(self.SlowRename.applies, 1)
        with registry.cursor() as cr:
            cr.execute("SELECT name->>'en_US' FROM res_partner_category WHERE id = %s", [ids["category"]])
            self.assertEqual(cr.fetchone()[0], "Raced (healed)")
            cr.execute("SELECT state FROM self_healing_fix_attempt WHERE id = %s", [ids["attempt"]])
            self.assertEqual(cr.fetchone()[0], "validated")

    def _remove(self, ids):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["self_healing.fix.attempt"].browse(ids["attempt"]).unlink()
            env["self_healing.incident"].browse(ids["incident"]).unlink()
            env["res.partner.category"].browse(ids["category"]).unlink()
