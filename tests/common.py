"""Shared set-up for the Odoo tests: users of each Self-Healing group."""

from contextlib import contextmanager, nullcontext
from pathlib import Path

from odoo import release
from odoo.tests.common import TransactionCase, new_test_user

ODOO_MAJOR = release.version_info[0]
# The source tree holding odoo-bin: ``odoo`` is a namespace package on 19.0 (no ``__file__``).
ODOO_ROOT = Path(release.__file__).resolve().parent.parent


def domain_field_error(model, field):
    """How this Odoo words a domain naming a missing field (the values of the condition follow)."""
    wording = "in condition" if ODOO_MAJOR >= 19 else "in leaf"  # odoo/orm/domains.py vs odoo/osv/expression.py
    return f"Invalid field {model}.{field} {wording}"


def read_field_error(model, field):
    """How this Odoo words reading a missing field: 19.0 dropped "model" from the 18.0 sentence."""
    return f"Invalid field {field!r} on {'' if ODOO_MAJOR >= 19 else 'model '}{model!r}"


GROUP_USER = "self_healing.group_self_healing_user"
GROUP_APPROVER = "self_healing.group_self_healing_approver"
GROUP_MANAGER = "self_healing.group_self_healing_manager"


@contextmanager
def cron_batch_env(case):
    """The environment a scheduled action's batch runs in, for ``case`` (a TransactionCase).

    19.0's ``_commit_progress`` commits, which the test's own cursor refuses; a cursor
    opened in registry test mode shares the test's transaction and turns that commit
    into a savepoint, as when Odoo runs crons during tests. 18.0 never commits there.
    """
    if ODOO_MAJOR < 19:
        yield case.env
        return
    with jobs_see_the_test(case), case.registry.cursor() as cr:
        yield case.env(cr=cr)


def jobs_see_the_test(case):
    """Context in which a scheduled action started by ``case`` (a TransactionCase) sees its data.

    19.0's ``method_direct_trigger`` runs the job on a new registry cursor, a connection of
    its own unless the registry is in test mode; 18.0 runs it on the caller's cursor.
    """
    return case.enter_registry_test_mode() if ODOO_MAJOR >= 19 else nullcontext()


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
