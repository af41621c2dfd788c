"""Release tracking and per-database grouping rules, on signals from real tracebacks."""

import subprocess
import traceback
from datetime import timedelta
from pathlib import Path

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from ..engine.detect.signal import Signal
from .common import SelfHealingCase


def raised_in_base(env, name="self_healing.no_such_record"):
    """A real traceback through base's code (``ir.model.data`` refuses an unknown xml id)."""
    try:
        env["ir.model.data"]._xmlid_lookup(name)
    except ValueError:
        return traceback.format_exc()
    raise AssertionError("the lookup did not fail")


def raised_by_a_key(env):
    try:
        env["res.partner"].fields_get(["name"])["no_such_field"]  # noqa: B018 - the fault is the point
    except KeyError:
        return traceback.format_exc()
    raise AssertionError("the lookup did not fail")


@tagged("post_install", "-at_install")
class TestIncidentRelease(SelfHealingCase):
    def signal(self, text, minutes=0):
        return Signal(
            source="log",
            logger="odoo.http",
            message="Exception during request handling.",
            traceback=text,
            dbname=self.env.cr.dbname,
            uid=self.env.uid,
            occurred_at=fields.Datetime.now() + timedelta(minutes=minutes),
        ).to_dict()

    def ingest(self, text, minutes=0):
        result = self.Incident._ingest_signals([self.signal(text, minutes)])
        self.assertEqual(result.occurrences, 1, result.skipped)
        return result.incidents

    def installed_version(self, name):
        self.env.cr.execute("SELECT latest_version FROM ir_module_module WHERE name = %s", [name])
        return self.env.cr.fetchone()[0]

    # --- what an occurrence records -----------------------------------------------------

    def test_an_occurrence_records_the_release_of_each_module_in_its_traceback(self):
        text = raised_in_base(self.env)
        incident = self.ingest(text)
        occurrence = incident.occurrence_ids
        releases = occurrence.module_versions
        self.assertEqual(releases["base"]["version"], self.installed_version("base"))
        self.assertEqual(releases["self_healing"]["version"], self.installed_version("self_healing"))
        # This file's own frame: its folder is in a git checkout when the addon is one (a clean clone is).
        folder = Path(__file__).resolve().parent.parent
        probe = subprocess.run(  # noqa: S603, S607 - git itself, on our own folder
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
        )
        expected = probe.stdout.strip() if probe.returncode == 0 else ""
        self.assertEqual(releases["self_healing"]["commit"], expected)
        self.assertIn(f"base {self.installed_version('base')}", occurrence.release)
        found = self.env["self_healing.occurrence"].search([("release", "ilike", "self_healing ")])
        self.assertIn(occurrence, found, "occurrences are searchable by module release")

    def test_a_message_without_a_traceback_records_no_release(self):
        result = self.Incident._ingest_signals(
            [Signal(source="log", logger="odoo.sql_db", message="bad query: SELECT 1", dbname="x").to_dict()]
        )
        self.assertFalse(result.incidents.occurrence_ids.module_versions)
        self.assertFalse(result.incidents.occurrence_ids.release)

    # --- resolved in the next upgrade -----------------------------------------------------

    def resolve(self, incidents, module_name, user=None):
        module = self.env["ir.module.module"].search([("name", "=", module_name)])
        wizard = (
            self.env["self_healing.incident.resolve.release"]
            .with_user(user or self.sh_approver)
            .with_context(active_model="self_healing.incident", active_ids=incidents.ids)
            .create({"module_id": module.id})
        )
        wizard.action_apply()
        return module

    def test_resolved_in_the_next_upgrade_counts_old_releases_and_reopens_on_a_new_one(self):
        text = raised_in_base(self.env)
        incident = self.ingest(text)
        wizard = (
            self.env["self_healing.incident.resolve.release"]
            .with_user(self.sh_approver)
            .with_context(active_model="self_healing.incident", active_ids=incident.ids)
            .new({})
        )
        self.assertEqual(wizard.module_id.name, incident.module, "the traceback's module is proposed")
        self.resolve(incident, "base")
        self.assertEqual(incident.state, "healed")
        version = self.installed_version("base")
        self.assertEqual(incident.resolved_in_release["version"], version)
        self.assertIn(f"base after {version}", incident.resolved_in_summary)

        self.ingest(text, minutes=5)
        self.assertEqual(incident.state, "healed", "the old code still raises it: expected until the upgrade")
        self.assertEqual(incident.occurrence_count, 2)
        self.assertEqual(incident.regression_count, 0)

        # What an upgrade of base records (the loader writes the new version into this column).
        self.env.cr.execute("UPDATE ir_module_module SET latest_version = %s WHERE name = 'base'", [version + ".1"])
        self.ingest(text, minutes=10)
        self.assertEqual(incident.state, "new", "it came back on a later release: a regression")
        self.assertEqual(incident.regression_count, 1)
        self.assertFalse(incident.resolved_in_module_id)
        notes = incident.message_ids.mapped("body")
        self.assertTrue(any(f"{version}.1" in body and "It came back on base" in body for body in notes), notes)

    def test_a_plainly_healed_incident_still_reopens_on_recurrence(self):
        text = raised_in_base(self.env)
        incident = self.ingest(text)
        incident.with_user(self.sh_approver).action_mark_healed()
        self.ingest(text, minutes=5)
        self.assertEqual(incident.state, "new")
        self.assertEqual(incident.regression_count, 1)

    def test_only_approvers_resolve_and_only_against_an_installed_module(self):
        incident = self.ingest(raised_in_base(self.env))
        with self.assertRaises(AccessError):
            self.resolve(incident, "base", user=self.sh_user)
        absent = self.env["ir.module.module"].search([("state", "=", "uninstalled")], limit=1)
        self.assertTrue(absent, "the test database has an uninstalled module to refuse")
        with self.assertRaisesRegex(UserError, "not installed"):
            incident.with_user(self.sh_approver)._resolve_in_next_upgrade(absent)
        self.assertNotEqual(incident.state, "healed")

    # --- fingerprint rules --------------------------------------------------------------------

    def test_a_fingerprint_rule_groups_different_faults_as_one_incident(self):
        first, second = raised_in_base(self.env), raised_by_a_key(self.env)
        apart = self.ingest(first) | self.ingest(second)
        self.assertEqual(len(apart), 2, "by default two faults are two incidents")
        rule = (
            self.env["self_healing.fingerprint.rule"]
            .with_user(self.sh_manager)
            .create({"name": "All lookups of this test", "exception_type": "*Error", "group_as": "lookups"})
        )
        together = self.ingest(first, minutes=1) | self.ingest(second, minutes=2)
        self.assertEqual(len(together), 1)
        self.assertFalse(together & apart)
        self.assertEqual(together.occurrence_ids.mapped("extra")[0]["fingerprint_rule"], rule.name)
        rule.active = False
        self.assertEqual(self.ingest(first, minutes=3), apart[0], "without the rule, default grouping again")

    def test_fingerprint_rules_are_managed_by_managers_and_checked(self):
        Rule = self.env["self_healing.fingerprint.rule"]
        with self.assertRaises(AccessError):
            Rule.with_user(self.sh_approver).create({"name": "x", "module": "sale", "group_as": "g"})
        with self.assertRaisesRegex(ValidationError, "at least one pattern"):
            Rule.with_user(self.sh_manager).create({"name": "everything", "group_as": "g"})
        # A row edited by hand past the check (plain SQL) is skipped, never fatal to ingestion.
        self.env.cr.execute(
            "INSERT INTO self_healing_fingerprint_rule (name, group_as, sequence, active) VALUES ('raw', 'all', 1, true)"
        )
        self.assertEqual(len(self.ingest(raised_in_base(self.env))), 1)
        self.assertFalse(self.Incident.search([("fingerprint", "=", "all")]))
