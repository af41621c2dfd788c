from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import SelfHealingCase


@tagged("post_install", "-at_install")
class TestAccessRights(SelfHealingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.incident = cls.make_incident(name="Access test incident")
        cls.attempt = cls.Attempt.create({"incident_id": cls.incident.id, "autopatch_code": "sequence_resync"})
        cls.env["ir.config_parameter"].sudo().set_param("self_healing.llm_api_key", "sk-secret-value")

    def test_user_reads_but_cannot_write(self):
        incident = self.incident.with_user(self.sh_user)
        self.assertEqual(incident.name, "Access test incident")
        with self.assertRaises(AccessError):
            incident.write({"severity": "low"})
        with self.assertRaises(AccessError):
            self.Incident.with_user(self.sh_user).create({"name": "x", "fingerprint": "user-made"})

    def test_user_cannot_approve_or_reject(self):
        attempt = self.attempt.with_user(self.sh_user)
        with self.assertRaises(AccessError):
            attempt._approve("looks fine")
        with self.assertRaises(AccessError):
            attempt._reject("no")
        with self.assertRaises(AccessError):
            self.env["self_healing.fix.approval"].with_user(self.sh_user).create({"attempt_ids": [(6, 0, attempt.ids)]})
        self.assertEqual(self.attempt.state, "proposed")

    def test_user_cannot_read_backups(self):
        with self.assertRaises(AccessError):
            self.env["self_healing.backup"].with_user(self.sh_user).search([])

    def test_user_cannot_read_api_keys(self):
        with self.assertRaises(AccessError):
            self.env["ir.config_parameter"].with_user(self.sh_user).get_param("self_healing.llm_api_key")
        with self.assertRaises(AccessError):
            self.env["res.config.settings"].with_user(self.sh_user).create({})
        with self.assertRaises(AccessError):
            self.env["ir.config_parameter"].with_user(self.sh_manager).search(
                [("key", "=", "self_healing.llm_api_key")]
            ).read(["value"])

    def test_approver_approves_through_the_wizard(self):
        wizard = (
            self.env["self_healing.fix.approval"]
            .with_user(self.sh_approver)
            .create({"attempt_ids": [(6, 0, self.attempt.ids)], "note": "Checked the plan"})
        )
        wizard.action_approve()
        self.assertEqual(self.attempt.state, "approved")
        self.assertEqual(self.attempt.approver_id, self.sh_approver)
        self.assertEqual(self.attempt.approval_note, "Checked the plan")
        self.assertEqual(self.attempt.mode, "approved")

    def test_approver_cannot_edit_library(self):
        with self.assertRaises(AccessError):
            self.Guardrail.with_user(self.sh_approver).create({"code": "GR-X-1", "name": "x", "error_class": "OTHER"})

    def test_manager_edits_library(self):
        guardrail = self.Guardrail.with_user(self.sh_manager).create(
            {
                "code": "GR-TST-002",
                "name": "Test fault",
                "error_class": "LOCK_NOT_AVAILABLE",
                "signals": {"exception_types": ["LockNotAvailable"], "all_patterns": ["could not obtain lock"]},
                "root_cause": "A test cause.",
                "fix_steps": "Wait.",
                "odoo_versions": "18.0",
                "risk": "low",
            }
        )
        guardrail.action_activate()
        self.assertEqual(guardrail.state, "active")

    def test_multi_company_rule(self):
        other_company = self.env["res.company"].create({"name": "Other Co"})
        hidden = self.make_incident(name="Other company incident", company_id=other_company.id)
        shared = self.make_incident(name="Server-wide incident", company_id=False)
        visible = self.Incident.with_user(self.sh_user).search([("id", "in", (hidden | shared).ids)])
        self.assertEqual(visible, shared)
