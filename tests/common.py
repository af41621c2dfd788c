"""Shared set-up for the Odoo tests: users of each Self-Healing group."""

from odoo.tests.common import TransactionCase, new_test_user

GROUP_USER = "self_healing.group_self_healing_user"
GROUP_APPROVER = "self_healing.group_self_healing_approver"
GROUP_MANAGER = "self_healing.group_self_healing_manager"


class SelfHealingCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True, mail_notrack=True))
        cls.sh_user = new_test_user(cls.env, login="sh_user", groups=f"base.group_user,{GROUP_USER}")
        cls.sh_approver = new_test_user(cls.env, login="sh_approver", groups=f"base.group_user,{GROUP_APPROVER}")
        cls.sh_manager = new_test_user(cls.env, login="sh_manager", groups=f"base.group_user,{GROUP_MANAGER}")
        cls.Incident = cls.env["self_healing.incident"]
        cls.Attempt = cls.env["self_healing.fix.attempt"]
        cls.Guardrail = cls.env["self_healing.guardrail"]
        # The shipped solved cases would lend support to every match: tests start from an empty
        # knowledge base, those about the shipped cases bring them back (test_knowledge_shipped.py).
        cls.shipped_entries = cls.env["self_healing.knowledge.entry"].search([("shipped_file", "!=", False)])
        cls.shipped_entries.write({"active": False})

    @classmethod
    def make_incident(cls, **values):
        defaults = {"name": "Test incident", "fingerprint": "fp-%s" % cls.Incident.search_count([])}
        defaults.update(values)
        return cls.Incident.create(defaults)
