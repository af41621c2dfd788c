"""The access matrix: every model and RPC-reachable method of the addon, for every kind of user.

``MODEL_RIGHTS`` and ``METHOD_GROUPS`` are the intended design, written once here. The tests
read the models and methods from the registry (a new model or public method fails them
until it is declared), check the access rules Odoo enforces against the table in both
directions (a CSV line granting more than the table says fails), then try each operation
and method as each user, through ``with_user`` (what RPC runs) and over real XML-RPC and
JSON-RPC.
"""

import json
import xmlrpc.client

from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..compat import PRIVATE_METHOD_RE, xmlrpc_access_error_code
from ..engine.library import knowledge_import
from . import autopatch_faults as faults
from .common import GROUP_APPROVER, GROUP_MANAGER, GROUP_USER, SelfHealingCase

ADDON_MODULE = "odoo.addons.self_healing"
OPERATIONS = {"c": "create", "r": "read", "w": "write", "u": "unlink"}
# Each kind of user, weakest first; the app's groups imply the ones before them.
PERSONAS = {
    "public": "base.group_public",
    "portal": "base.group_portal",
    "internal": "base.group_user",
    "user": f"base.group_user,{GROUP_USER}",
    "approver": f"base.group_user,{GROUP_APPROVER}",
    "manager": f"base.group_user,{GROUP_MANAGER}",
}
APP = ("user", "approver", "manager")
STAFF = ("approver", "manager")

# model -> {persona: rights among "crwu"}; a persona left out has no right at all.
MODEL_RIGHTS = {
    "self_healing.incident": {"user": "r", "approver": "rw", "manager": "crwu"},
    # Evidence the server observed: nobody writes it, the retention job and managers delete it.
    "self_healing.occurrence": {"user": "r", "approver": "r", "manager": "ru"},
    "self_healing.guardrail": {"user": "r", "approver": "r", "manager": "crwu"},
    "self_healing.guardrail.vector": {"user": "r", "approver": "r", "manager": "crwu"},
    "self_healing.knowledge.entry": {"user": "r", "approver": "r", "manager": "crwu"},
    # Written by the healing loop; the write right is for the chatter (the model guards its own fields).
    "self_healing.fix.attempt": {"user": "r", "approver": "rw", "manager": "rw"},
    # Written by the patch context only; a rollback runs what they say.
    "self_healing.backup": {"manager": "r"},
    "self_healing.review": {"user": "r", "approver": "r", "manager": "r"},
    "self_healing.signal": {"manager": "ru"},
    "self_healing.capture.stat": {"manager": "ru"},
    "self_healing.fix.approval": {"approver": "crwu", "manager": "crwu"},
    "self_healing.record.fix": {"approver": "crwu", "manager": "crwu"},
    "self_healing.knowledge.import": {"manager": "crwu"},
    "self_healing.incident.snooze": {"approver": "crwu", "manager": "crwu"},
    "self_healing.incident.resolve.release": {"approver": "crwu", "manager": "crwu"},
    # How this database groups its signals: managers decide, everyone with the app sees why.
    "self_healing.fingerprint.rule": {"user": "r", "approver": "r", "manager": "crwu"},
    # Webhook URLs and secrets reach outside: managers only; deliveries are a log (no hand edits).
    "self_healing.webhook": {"manager": "crwu"},
    "self_healing.webhook.delivery": {"manager": "rwu"},
    # "Report a problem" is for every internal user, with or without the app.
    "self_healing.report.problem": {"internal": "crw", "user": "crw", "approver": "crw", "manager": "crw"},
}

# (model, method) -> the weakest persona allowed to call it; None: not an RPC entry point at all
# (it takes recordsets, so a remote call fails before reading anything).
METHOD_GROUPS = {
    ("self_healing.incident", "action_ignore"): "approver",
    ("self_healing.incident", "action_escalate"): "approver",
    ("self_healing.incident", "action_reopen"): "approver",
    ("self_healing.incident", "action_mark_healed"): "approver",
    ("self_healing.incident", "action_view_fix_attempts"): "user",
    ("self_healing.incident", "action_assign_to_me"): "approver",
    ("self_healing.incident", "action_unassign"): "approver",
    ("self_healing.incident", "action_open_snooze"): "approver",
    ("self_healing.incident", "action_merge"): "approver",
    ("self_healing.incident", "action_unmerge"): "approver",
    ("self_healing.incident.snooze", "action_apply"): "approver",
    ("self_healing.incident", "action_open_resolve_release"): "approver",
    ("self_healing.incident.resolve.release", "action_apply"): "approver",
    ("self_healing.webhook", "action_send_test"): "manager",
    ("self_healing.webhook", "action_view_deliveries"): "manager",
    ("self_healing.webhook.delivery", "action_retry_now"): "manager",
    ("self_healing.webhook.delivery", "action_open"): "manager",
    ("self_healing.guardrail", "action_autonomy_pin"): "manager",
    ("self_healing.guardrail", "action_autonomy_unpin"): "manager",
    ("self_healing.fix.attempt", "action_open_approval"): "approver",
    ("self_healing.fix.attempt", "action_preview"): "approver",
    ("self_healing.fix.attempt", "action_apply"): "manager",
    ("self_healing.fix.attempt", "action_rollback"): "manager",
    ("self_healing.guardrail", "action_apply_library_update"): "manager",
    ("self_healing.guardrail", "action_activate"): "manager",
    ("self_healing.guardrail", "action_retire"): "manager",
    ("self_healing.guardrail", "action_draft"): "manager",
    ("self_healing.knowledge.entry", "action_reembed"): "manager",
    ("self_healing.knowledge.entry", "action_apply_shipped_update"): "manager",
    ("self_healing.capture.stat", "action_record_current_process"): "manager",
    ("self_healing.policy", "action_reset_breaker"): "manager",
    ("res.config.settings", "action_self_healing_reset_breaker"): "manager",
    ("self_healing.dashboard", "get_dashboard_data"): "user",
    ("self_healing.matcher", "match"): None,
    ("self_healing.matcher", "apply_match"): None,
    ("self_healing.fix.approval", "action_approve"): "approver",
    ("self_healing.fix.approval", "action_reject"): "approver",
    ("self_healing.record.fix", "action_record"): "approver",
    ("self_healing.knowledge.import", "action_import"): "manager",
    ("self_healing.knowledge.import", "action_open_entries"): "manager",
    ("self_healing.report.problem", "action_submit"): "internal",
}
ORDER = list(PERSONAS)


def allowed(persona, weakest):
    """Whether ``persona`` may call a method whose weakest allowed persona is ``weakest``."""
    if weakest is None:
        return False
    if weakest == "internal":
        return persona in ("internal", *APP)
    return persona in APP and APP.index(persona) >= APP.index(weakest)


def addon_public_methods(registry):
    """``{(model, method)}`` for every method the addon defines that RPC may call by name."""
    found = set()
    for name in registry:
        cls = registry[name]
        foreign = set()
        ours = set()
        for klass in cls.__mro__:
            module = getattr(klass, "__module__", "") or ""
            owned = module == ADDON_MODULE or module.startswith(ADDON_MODULE + ".")
            for attribute, value in vars(klass).items():
                if not callable(value) or PRIVATE_METHOD_RE.match(attribute):
                    continue
                (ours if owned else foreign).add(attribute)
        # Overrides of Odoo's own methods (create, write, default_get...) are covered by the rights.
        found |= {(name, method) for method in ours - foreign}
    return found


class MatrixCase(SelfHealingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = {
            persona: new_test_user(cls.env, login=f"matrix_{persona}", groups=groups)
            for persona, groups in PERSONAS.items()
        }
        cls.users["user"], cls.users["approver"], cls.users["manager"] = cls.sh_user, cls.sh_approver, cls.sh_manager
        cls.env["ir.config_parameter"].sudo().set_param("self_healing.autopilot", "suggest")


@tagged("post_install", "-at_install")
class TestAccessMatrix(MatrixCase):
    def addon_models(self):
        return sorted(
            name
            for name in self.registry
            if self.registry[name]._original_module == "self_healing" and not self.registry[name]._abstract
        )

    maxDiff = None

    def test_every_model_and_method_is_declared(self):
        self.assertEqual(self.addon_models(), sorted(MODEL_RIGHTS), "declare the rights of every model here")
        self.assertEqual(
            sorted(addon_public_methods(self.registry)),
            sorted(METHOD_GROUPS),
            "declare who may call every public method here",
        )

    def test_access_rights_match_the_design(self):
        """The ACLs Odoo enforces, in both directions: nothing granted beyond the table, nothing missing."""
        Access = self.env["ir.model.access"]
        mismatches = []
        for model, rights in MODEL_RIGHTS.items():
            for persona, user in self.users.items():
                for letter, operation in OPERATIONS.items():
                    expected = letter in rights.get(persona, "")
                    granted = Access.with_user(user).check(model, operation, raise_exception=False)
                    if granted != expected:
                        mismatches.append(f"{model} {operation} for {persona}: granted={granted}, intended={expected}")
        self.assertEqual(mismatches, [])

    def test_no_access_line_outside_the_addon_groups(self):
        """Every ACL line of the addon names a group: a line without one would grant every user."""
        lines = self.env["ir.model.access"].search([("model_id.model", "in", list(MODEL_RIGHTS))])
        self.assertFalse(lines.filtered(lambda line: not line.group_id).mapped("name"))

    def samples(self):
        """One record of each stored model, made by the server, for the operations to act on."""
        incident = self.make_incident(name="Matrix incident")
        attempt = faults.make_attempt(self.env, "sequence_resync", {"table": "res_partner_category"}, incident=incident)
        occurrence = self.env["self_healing.occurrence"].create({"incident_id": incident.id, "message": "x"})
        backup = self.env["self_healing.backup"].create(
            {"attempt_id": attempt.id, "operation": "guard", "target": "x", "payload": {"op": "guard"}}
        )
        review = self.env["self_healing.review"].create(
            {
                "res_model": attempt._name,
                "res_id": attempt.id,
                "reviewer_group_id": self.env.ref(GROUP_APPROVER).id,
            }
        )
        # Keyed like a shipped case: taking the shipped version writes it (an entry of no shipped case is skipped).
        shipped_key = knowledge_import.load_shipped()[0][0].row.key
        Entry = self.env["self_healing.knowledge.entry"].with_context(active_test=False)
        entry = Entry.search([("key", "=", shipped_key)], limit=1) or Entry.create(
            {"name": "Matrix entry", "problem": "p", "key": shipped_key}
        )
        guardrail = self.Guardrail.search([], limit=1)
        vector = self.env["self_healing.guardrail.vector"].search([], limit=1) or self.env[
            "self_healing.guardrail.vector"
        ].create({"guardrail_id": guardrail.id})
        signal = self.env["self_healing.signal"].create({"source": "log", "message": "x"})
        stat = self.env["self_healing.capture.stat"].create({"host": "matrix", "pid": 1})
        return {
            "self_healing.incident": incident,
            "self_healing.fix.attempt": attempt,
            "self_healing.occurrence": occurrence,
            "self_healing.backup": backup,
            "self_healing.review": review,
            "self_healing.knowledge.entry": entry,
            "self_healing.guardrail": guardrail,
            "self_healing.guardrail.vector": vector,
            "self_healing.signal": signal,
            "self_healing.capture.stat": stat,
        }

    def attempt_operation(self, user, model, operation, record):
        """``True`` when the operation got past the access checks (it may still fail on data)."""
        try:
            with self.env.cr.savepoint(), mute_logger("odoo.sql_db", "odoo.models", "odoo.addons.base.models.ir_rule"):
                Model = self.env[model].with_user(user)
                if operation == "create":
                    Model.create({})
                elif operation == "read":
                    Model.browse(record.ids).read(["display_name"]) if record else Model.search([], limit=1)
                elif operation == "write":
                    record.with_user(user).write({})
                else:
                    record.with_user(user).unlink()
                self.env.flush_all()
        except AccessError:
            return False
        except Exception:  # noqa: BLE001 - past the access checks; the empty values were refused
            return True
        finally:
            self.env.invalidate_all()
        return True

    def test_operations_as_each_user(self):
        """Create, read, write and delete as each user, the way an RPC call runs them."""
        records = self.samples()
        mismatches = []
        for model, rights in MODEL_RIGHTS.items():
            record = records.get(model)
            for persona, user in self.users.items():
                for letter, operation in OPERATIONS.items():
                    if record is None and operation in ("write", "unlink"):
                        continue  # wizards: covered by their own create/read and the ACL check above
                    expected = letter in rights.get(persona, "")
                    if self.attempt_operation(user, model, operation, record) != expected:
                        mismatches.append(f"{model} {operation} as {persona}: intended {expected}")
        self.assertEqual(mismatches, [])

    def call(self, user, model, method, records):
        """``True`` when the call got past every access check."""
        Model = self.env[model].with_user(user)
        try:
            with self.env.cr.savepoint(), mute_logger("odoo.sql_db", "odoo.models", "odoo.addons.self_healing"):
                if model == "self_healing.fix.approval":
                    target = Model.create({"attempt_ids": [(6, 0, records["self_healing.fix.attempt"].ids)]})
                elif model == "self_healing.record.fix":
                    target = Model.create(
                        {
                            "incident_id": records["self_healing.incident"].id,
                            "title": "t",
                            "problem": "p",
                            "solution": "s",
                        }
                    )
                elif model == "self_healing.knowledge.import":
                    target = Model.create({})
                elif model == "self_healing.report.problem":
                    target = Model.create({"description": "matrix report"})
                elif model == "res.config.settings":
                    target = self.env[model].create({}).with_user(user)
                elif model in records:
                    target = records[model].with_user(user)
                else:
                    target = Model
                if model == "self_healing.matcher":
                    getattr(target, method)(records["self_healing.incident"].id)
                else:
                    getattr(target, method)()
                self.env.flush_all()
        except AccessError:
            return False
        except Exception:  # noqa: BLE001 - past the access checks (a refused state, bad arguments...)
            return model != "self_healing.matcher"
        finally:
            self.env.invalidate_all()
        return True

    def test_public_methods_as_each_user(self):
        records = self.samples()
        mismatches = []
        for (model, method), weakest in sorted(METHOD_GROUPS.items(), key=lambda item: item[0]):
            for persona, user in self.users.items():
                expected = allowed(persona, weakest)
                if self.call(user, model, method, records) != expected:
                    mismatches.append(f"{model}.{method} as {persona}: intended {'allowed' if expected else 'denied'}")
        self.assertEqual(mismatches, [])


@tagged("post_install", "-at_install")
class TestAccessOverRpc(HttpCase):
    """The same refusals through Odoo's real RPC endpoints, with each user's password."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.users = {
            persona: new_test_user(cls.env, login=f"rpc_{persona}", password=f"rpc_{persona}_pw1", groups=groups)
            for persona, groups in PERSONAS.items()
            if persona != "public"
        }
        incident = cls.env["self_healing.incident"].create({"name": "RPC incident", "fingerprint": "rpc-matrix"})
        cls.attempt = faults.make_attempt(
            cls.env, "sequence_resync", {"table": "res_partner_category"}, incident=incident, mode="manual"
        )
        cls.incident = incident

    def xmlrpc(self, persona, model, method, *args, **kwargs):
        user = self.users[persona]
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname, user.id, f"rpc_{persona}_pw1", model, method, list(args), kwargs
        )

    def assert_xmlrpc_denied(self, persona, model, method, *args, **kwargs):
        with (
            self.assertRaises(xmlrpc.client.Fault) as caught,
            mute_logger("odoo.http", "odoo.addons.base.models.ir_model"),
        ):
            self.xmlrpc(persona, model, method, *args, **kwargs)
        self.assertEqual(caught.exception.faultCode, xmlrpc_access_error_code(), caught.exception.faultString)

    def jsonrpc(self, persona, model, method, args, kwargs=None):
        """The decoded JSON-RPC answer of /web/dataset/call_kw, as the web client gets it."""
        self.authenticate(f"rpc_{persona}", f"rpc_{persona}_pw1")
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        }
        response = self.url_open(
            "/web/dataset/call_kw", data=json.dumps(payload), headers={"Content-Type": "application/json"}
        )
        response.raise_for_status()
        return response.json()

    def assert_jsonrpc_denied(self, persona, model, method, args, kwargs=None):
        with mute_logger("odoo.http"):
            answer = self.jsonrpc(persona, model, method, args, kwargs)
        self.assertEqual(answer.get("error", {}).get("data", {}).get("name"), "odoo.exceptions.AccessError", answer)

    def test_xmlrpc_refusals(self):
        # Defect 8: the breaker and the capture counters.
        for persona in ("portal", "internal", "user", "approver"):
            self.assert_xmlrpc_denied(persona, "self_healing.policy", "action_reset_breaker")
            self.assert_xmlrpc_denied(persona, "self_healing.capture.stat", "action_record_current_process")
        # Defect 1: no backup and no attempt made by hand, even by a manager.
        self.assert_xmlrpc_denied(
            "manager",
            "self_healing.backup",
            "create",
            {"attempt_id": self.attempt.id, "target": "x", "payload": {"op": "sql", "undo": ["SELECT 1", []]}},
        )
        self.assert_xmlrpc_denied(
            "manager", "self_healing.fix.attempt", "create", {"incident_id": self.incident.id, "state": "validated"}
        )
        # Defect 7: the fix's own fields.
        for field, value in (("params", {"table": "res_users"}), ("state", "validated"), ("outcome", "ok")):
            self.assert_xmlrpc_denied(
                "approver", "self_healing.fix.attempt", "write", [self.attempt.id], {field: value}
            )
        # Without the app, nothing of it is readable.
        for persona in ("portal", "internal"):
            self.assert_xmlrpc_denied(persona, "self_healing.incident", "search_read", [], ["name"])
        self.assertEqual(
            self.xmlrpc("user", "self_healing.incident", "search_read", [("id", "=", self.incident.id)], ["name"]),
            [{"id": self.incident.id, "name": "RPC incident"}],
        )
        self.attempt.invalidate_recordset()
        self.assertEqual((self.attempt.state, self.attempt.params), ("proposed", {"table": "res_partner_category"}))

    def test_jsonrpc_refusals(self):
        for persona in ("portal", "internal", "user", "approver"):
            self.assert_jsonrpc_denied(persona, "self_healing.policy", "action_reset_breaker", [])
        self.assert_jsonrpc_denied(
            "approver", "self_healing.fix.attempt", "write", [[self.attempt.id], {"autopatch_code": "cron_reactivate"}]
        )
        self.assert_jsonrpc_denied("user", "self_healing.incident", "action_mark_healed", [[self.incident.id]])
        self.assert_jsonrpc_denied("portal", "self_healing.dashboard", "get_dashboard_data", [])
        backup = self.env["self_healing.backup"].create(
            {"attempt_id": self.attempt.id, "operation": "guard", "target": "x", "payload": {"op": "guard"}}
        )
        self.assert_jsonrpc_denied("manager", "self_healing.backup", "write", [[backup.id], {"payload": {}}])
        self.assertEqual(self.jsonrpc("manager", "self_healing.policy", "action_reset_breaker", [])["result"], True)
        self.assertIn("current", self.jsonrpc("user", "self_healing.dashboard", "get_dashboard_data", [])["result"])
