from odoo.exceptions import ValidationError
from odoo.tests import tagged

from ..autopatches import base, runner
from . import autopatch_faults as faults
from .common import SelfHealingCase

PARENT = "base.res_partner_industry_view_form"


@tagged("post_install", "-at_install")
class TestViewDeactivate(SelfHealingCase):
    def assert_parent_broken(self, message):
        with self.assertRaisesRegex(ValidationError, message), self.env.cr.savepoint():
            self.env.ref(PARENT)._check_xml()

    def heal(self, view, params=None):
        params = params or {"view_id": view.id}
        attempt = faults.make_attempt(self.env, "view_deactivate", params)
        written = faults.rows_written(self.env)
        plan = runner.preview(self.env, "view_deactivate", params)
        self.assertEqual(faults.rows_written(self.env), written)
        self.assertIn(f"Deactivate view #{view.id}", plan)
        result = runner.run_attempt(attempt)
        self.assertTrue(result.ok, attempt.outcome)
        self.assertFalse(view.active)
        self.env.ref(PARENT)._check_xml()
        arch = self.env["res.partner.industry"].get_view(self.env.ref(PARENT).id, "form")["arch"]
        self.assertNotIn(faults.GHOST_FIELD, arch)
        return attempt

    def test_view_with_missing_field(self):
        view = faults.break_inheriting_view(self.env, PARENT, kind="field")
        self.assert_parent_broken(f'Field "{faults.GHOST_FIELD}" does not exist in model "res.partner.industry"')
        attempt = self.heal(view)
        arch_before = view.arch_db
        attempt.with_user(self.sh_manager).action_rollback()
        self.assertTrue(view.active)
        self.assertEqual(view.arch_db, arch_before)
        self.assert_parent_broken("does not exist")

    def test_view_with_lost_xpath(self):
        view = faults.break_inheriting_view(self.env, PARENT, kind="xpath")
        self.assert_parent_broken("cannot be located in parent view")
        self.heal(view)

    def test_module_views_are_refused(self):
        module_view = self.env.ref("base.view_partner_form")
        child = self.env["ir.ui.view"].search(
            [("inherit_id", "=", module_view.id), ("mode", "=", "extension")], limit=1
        )
        ok, reason = runner.check(self.env, "view_deactivate", {"view_id": child.id})
        self.assertFalse(ok)
        self.assertIn("belongs to module", reason)
        ok, reason = runner.check(self.env, "view_deactivate", {"view_id": module_view.id})
        self.assertFalse(ok)
        self.assertIn("primary view", reason)

    def test_by_name_and_healthy_views(self):
        view = faults.break_inheriting_view(self.env, PARENT, kind="field")
        self.assertTrue(runner.check(self.env, "view_deactivate", {"view_name": view.name})[0])
        self.env.cr.execute(
            "UPDATE ir_ui_view SET arch_db = jsonb_build_object('en_US', %s::text) WHERE id = %s",
            ['<xpath expr="/*" position="inside"><field name="display_name"/></xpath>', view.id],
        )
        self.env.invalidate_all()
        ok, reason = runner.check(self.env, "view_deactivate", {"view_id": view.id})
        self.assertFalse(ok)
        self.assertIn("validates fine", reason)

    # -- found from the missing field and its model, as Odoo 18's message names no view

    def by_field(self, field=faults.GHOST_FIELD, model="res.partner.industry"):
        return runner.check(self.env, "view_deactivate", {"model": model, "field": field})

    def test_found_by_model_and_field(self):
        # Siblings on the same form: one healthy, one only quoting the field in a separator's title.
        # Odoo's full validation fails for both (it checks the combined form); only the broken view may go.
        quote = f'<separator string="was {faults.GHOST_FIELD}"/>'
        healthy, quoting = self.env["ir.ui.view"].create(
            [
                {
                    "name": name,
                    "model": "res.partner.industry",
                    "inherit_id": self.env.ref(PARENT).id,
                    "arch": f'<xpath expr="/*" position="inside">{node}</xpath>',
                }
                for name, node in (
                    ("self_healing healthy customisation", '<field name="display_name"/>'),
                    ("self_healing quoting customisation", quote),
                )
            ]
        )
        view = faults.break_inheriting_view(self.env, PARENT, kind="field")
        params = {"model": "res.partner.industry", "field": faults.GHOST_FIELD}
        ok, reason = self.by_field()
        self.assertTrue(ok, reason)
        self.assertEqual(
            reason, f'view #{view.id}: Field "{faults.GHOST_FIELD}" does not exist in model "res.partner.industry"'
        )
        plan = runner.preview(self.env, "view_deactivate", params)
        self.assertIn(
            f"Skip: view #{quoting.id} 'self_healing quoting customisation' names"
            f" '{faults.GHOST_FIELD}', but the form validates with it alone",
            plan,
        )
        self.assertNotRegex(plan, rf"#{healthy.id}\b", "a view not naming the field is no suspect at all")
        attempt = faults.make_attempt(self.env, "view_deactivate", params)
        result = runner.run_attempt(attempt)
        self.assertTrue(result.ok, attempt.outcome)
        self.assertEqual((view.active, healthy.active, quoting.active), (False, True, True))
        self.env.ref(PARENT)._check_xml()
        ok, reason = self.by_field()
        self.assertFalse(ok, "a healed form offers nothing more to deactivate")
        self.assertIn("validates fine", reason)

    def test_by_field_refuses_a_module_view(self):
        quoting = self.env["ir.ui.view"].create(
            {
                "name": "self_healing quoting customisation",
                "model": "res.partner.industry",
                "inherit_id": self.env.ref(PARENT).id,
                "arch": f'<xpath expr="/*" position="inside"><separator string="was {faults.GHOST_FIELD}"/></xpath>',
            }
        )
        view = faults.break_inheriting_view(self.env, PARENT, kind="field")
        self.env["ir.model.data"].create(
            {"module": "self_healing", "name": "chaos_broken_industry_form", "model": "ir.ui.view", "res_id": view.id}
        )
        ok, reason = self.by_field()
        self.assertFalse(ok)
        self.assertIn(
            f"view #{view.id} 'self_healing chaos customisation': it belongs to module self_healing"
            " (self_healing.chaos_broken_industry_form)",
            reason,
        )
        # The customisation that only quotes the field is no culprit: the module's view keeps the form broken.
        self.assertIn(
            f"view #{quoting.id} 'self_healing quoting customisation': the form"
            f" #{self.env.ref(PARENT).id} still fails without any of #{quoting.id}",
            reason,
        )
        self.assertTrue(view.active)

    def test_by_field_refuses_when_nothing_matches(self):
        faults.break_inheriting_view(self.env, PARENT, kind="field")
        ok, reason = self.by_field(field="x_never_was")
        self.assertFalse(ok)
        self.assertEqual(
            reason,
            "no active customised view of res.partner.industry names the field 'x_never_was': nothing safe to deactivate",
        )
        ok, reason = self.by_field(model="res.partner")
        self.assertFalse(ok)
        self.assertIn("no active customised view of res.partner names the field", reason)
        # A name that is only the beginning of the missing field's name does not count.
        ok, _reason = self.by_field(field=faults.GHOST_FIELD[:-1])
        self.assertFalse(ok)

    def test_by_field_needs_both_model_and_field(self):
        ok, reason = runner.check(self.env, "view_deactivate", {"field": faults.GHOST_FIELD})
        self.assertFalse(ok)
        self.assertIn("one of these parameters is required: view_id, view_name, model", reason)
        ok, reason = runner.check(self.env, "view_deactivate", {"model": "res.partner.industry", "field": "x_a')]"})
        self.assertFalse(ok)
        self.assertIn("parameter 'field'", reason)

    # -- live diagnosis and replay, for each way Odoo words a view that no longer fits

    def set_arch(self, view, arch):
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE ir_ui_view SET arch_db = jsonb_build_object('en_US', %s::text) WHERE id = %s", [arch, view.id]
        )
        self.env.invalidate_all()
        self.env.registry.clear_cache("templates")

    def assert_diagnosed_replayed_and_healed(self, view, params, replay_error):
        diagnosis = runner.diagnose(self.env, "view_deactivate", params)
        self.assertTrue(diagnosis.holds, diagnosis.reason)
        self.assertEqual([entry["id"] for entry in diagnosis.evidence["views"]], [view.id])
        self.assertEqual(diagnosis.evidence["views"][0]["parent_id"], self.env.ref(PARENT).id)
        self.assertEqual(diagnosis.rows, 1)
        patch = base.get("view_deactivate")()
        ok, detail = patch.replay(self.env, params)
        self.assertFalse(ok)
        self.assertIn(replay_error, detail)
        self.assertTrue(view.active, "the replay writes nothing")
        if "view_id" in params:
            attempt = self.heal(view, params)
        else:
            # Found by field, planning counts the rolled-back trial switches: no written-rows check here.
            attempt = faults.make_attempt(self.env, "view_deactivate", params)
            self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
            self.assertFalse(view.active)
        self.assertEqual(attempt.diagnosis["evidence"]["views"][0]["id"], view.id)
        self.assertIn("get_views renders", attempt.outcome)
        self.assertTrue(patch.replay(self.env, params, [view.id])[0])
        return diagnosis

    def test_diagnose_missing_field(self):
        view = faults.break_inheriting_view(self.env, PARENT, kind="field")
        params = {"model": "res.partner.industry", "field": faults.GHOST_FIELD}
        diagnosis = self.assert_diagnosed_replayed_and_healed(
            view, params, f"the web client gets no description of {faults.GHOST_FIELD}"
        )
        self.assertIs(diagnosis.evidence["field_on_model"], False)
        self.assertIn("does not exist", diagnosis.evidence["views"][0]["error"])

    def test_diagnose_anchor_that_cannot_be_located(self):
        view = faults.break_inheriting_view(self.env, PARENT, kind="xpath")
        diagnosis = self.assert_diagnosed_replayed_and_healed(
            view, {"model": "res.partner.industry", "field": faults.GHOST_FIELD}, "cannot be located in parent view"
        )
        self.assertIn("cannot be located", diagnosis.evidence["views"][0]["error"])

    def test_diagnose_xpath_matching_nothing(self):
        # A group renamed by an upgrade: the expression names no field at all.
        view = faults.break_inheriting_view(self.env, PARENT, kind="field")
        self.set_arch(
            view, '<xpath expr="//group[@name=\'self_healing_gone\']" position="inside"><field name="name"/></xpath>'
        )
        self.assert_diagnosed_replayed_and_healed(view, {"view_id": view.id}, "cannot be located in parent view")

    def test_look_alike_view_whose_field_exists_is_not_touched(self):
        # The signal named a field, but this customisation's field is really on the model.
        view = faults.break_inheriting_view(self.env, PARENT, kind="field")
        self.set_arch(view, '<xpath expr="/*" position="inside"><field name="full_name"/></xpath>')
        for params in ({"view_id": view.id}, {"model": "res.partner.industry", "field": "full_name"}):
            diagnosis = runner.diagnose(self.env, "view_deactivate", params)
            self.assertFalse(diagnosis.holds, diagnosis.reason)
            self.assertEqual(diagnosis.evidence["views"], [])
        self.assertIs(diagnosis.evidence["field_on_model"], True)
        self.assertTrue(base.get("view_deactivate")().replay(self.env, {"view_id": view.id})[0])
        attempt = faults.make_attempt(self.env, "view_deactivate", {"view_id": view.id})
        runner.run_attempt(attempt)
        self.assertEqual(attempt.state, "failed")
        self.assertIn("live diagnosis refutes", attempt.outcome)
        self.assertFalse(attempt.diagnosis["holds"])
        self.assertTrue(view.active)

    # -- found from the anchor Odoo's "cannot be located in parent view" quotes, as get_views logs it

    XPATH_SPEC = f"<xpath expr=\"//field[@name='{faults.GHOST_FIELD}']\">"

    def by_anchor(self, spec=XPATH_SPEC, **params):
        return runner.diagnose(self.env, "view_deactivate", dict(params, spec=spec))

    def incident_seen_on(self, path):
        """An incident whose server-logged occurrence came from ``path``, as the live capture records it."""
        incident = self.env["self_healing.incident"].create({"name": "anchor", "fingerprint": f"anchor {path}"})
        self.env["self_healing.occurrence"].create(
            {
                "incident_id": incident.id,
                "signal_source": "log",
                "message": "Element cannot be located in parent view",
                "request_path": path,
            }
        )
        return incident

    def test_anchor_alone_finds_the_one_customised_view_and_heals_it(self):
        view = faults.break_inheriting_view(self.env, PARENT, kind="anchor")
        # Odoo escapes the quote it writes; the log reader unescapes it: both are the same anchor.
        for spec in (self.XPATH_SPEC, self.XPATH_SPEC.replace("'", "&#39;")):
            diagnosis = self.by_anchor(spec)
            self.assertTrue(diagnosis.holds, diagnosis.reason)
            self.assertEqual([entry["id"] for entry in diagnosis.evidence["views"]], [view.id])
            self.assertEqual(diagnosis.evidence["nodes_found_in_parent"], {view.id: 0})
            self.assertIn("cannot be located in parent view", diagnosis.evidence["views"][0]["error"])
            self.assertEqual(diagnosis.rows, 1)
        self.assert_diagnosed_replayed_and_healed(view, {"spec": self.XPATH_SPEC}, "cannot be located in parent view")

    def test_field_locator_anchor_other_wording(self):
        # Odoo quotes a field locator as <field name="...">, and a moved node whole with curly quotes.
        view = faults.break_inheriting_view(self.env, PARENT, kind="locator")
        self.assert_parent_broken(f"Element '<field name=\"{faults.GHOST_FIELD}\">' cannot be located")
        self.assert_diagnosed_replayed_and_healed(
            view, {"spec": f'<field name="{faults.GHOST_FIELD}">'}, "cannot be located in parent view"
        )

    def test_model_comes_from_the_failing_request(self):
        view = faults.break_inheriting_view(self.env, PARENT, kind="anchor")
        incident = self.incident_seen_on("/web/dataset/call_kw/res.partner.industry/get_views")
        diagnosis = runner.diagnose(self.env, "view_deactivate", {"spec": self.XPATH_SPEC}, incident=incident)
        self.assertTrue(diagnosis.holds, diagnosis.reason)
        self.assertEqual(diagnosis.evidence["model"], "res.partner.industry")
        # A request on another model narrows the search to that model: nothing there holds the anchor.
        other = self.incident_seen_on("/web/dataset/call_kw/res.partner/get_views")
        diagnosis = runner.diagnose(self.env, "view_deactivate", {"spec": self.XPATH_SPEC}, incident=other)
        self.assertFalse(diagnosis.holds)
        self.assertIn("no active customised view of res.partner holds", diagnosis.reason)
        self.assertTrue(view.active)

    def test_look_alike_anchor_that_does_match_its_parent(self):
        # The view is broken by another of its specs; the quoted anchor itself is found in the parent.
        view = faults.break_inheriting_view(self.env, PARENT, kind="anchor")
        self.set_arch(
            view,
            '<data><xpath expr="//field[@name=\'name\']" position="after"><field name="display_name"/></xpath>'
            f'<xpath expr="//field[@name=\'{faults.GHOST_FIELD}\']" position="after"><field name="name"/></xpath>'
            "</data>",
        )
        diagnosis = self.by_anchor("<xpath expr=\"//field[@name='name']\">")
        self.assertFalse(diagnosis.holds, diagnosis.reason)
        self.assertIn("finds 1 node(s) in the combined arch of its parent", diagnosis.reason)
        self.assertEqual(diagnosis.evidence["nodes_found_in_parent"], {view.id: 1})
        self.assertTrue(self.by_anchor().holds, "the anchor that is really missing is diagnosed")
        self.assertTrue(view.active)

    def test_look_alike_anchor_of_a_view_that_validates(self):
        # An old log line: the customisation was fixed by hand since, its anchor exists again.
        view = faults.break_inheriting_view(self.env, PARENT, kind="anchor")
        self.set_arch(
            view, '<xpath expr="//field[@name=\'name\']" position="after"><field name="display_name"/></xpath>'
        )
        diagnosis = self.by_anchor("<xpath expr=\"//field[@name='name']\">")
        self.assertFalse(diagnosis.holds)
        self.assertIn("Odoo does not fail to locate it: it validates fine", diagnosis.reason)
        attempt = faults.make_attempt(self.env, "view_deactivate", {"spec": "<xpath expr=\"//field[@name='name']\">"})
        runner.run_attempt(attempt)
        self.assertEqual(attempt.state, "failed")
        self.assertIn("live diagnosis refutes", attempt.outcome)
        self.assertTrue(view.active)

    def test_anchor_in_a_module_view_is_refused(self):
        view = faults.break_inheriting_view(self.env, PARENT, kind="anchor")
        self.env["ir.model.data"].create(
            {"module": "self_healing", "name": "chaos_anchor_view", "model": "ir.ui.view", "res_id": view.id}
        )
        diagnosis = self.by_anchor()
        self.assertFalse(diagnosis.holds)
        self.assertIn(f"view #{view.id} 'self_healing chaos customisation': it belongs to module", diagnosis.reason)
        self.assertTrue(view.active)

    def test_two_candidate_views_are_left_to_a_human(self):
        # Created while the form is still sound (Odoo validates the whole tree), then broken alike.
        second = self.env["ir.ui.view"].create(
            {
                "name": "self_healing second customisation",
                "model": "res.partner.industry",
                "inherit_id": self.env.ref(PARENT).id,
                "arch": '<xpath expr="/*" position="inside"><field name="display_name"/></xpath>',
            }
        )
        first = faults.break_inheriting_view(self.env, PARENT, kind="anchor")
        self.set_arch(second, first.arch_db)
        diagnosis = self.by_anchor()
        self.assertFalse(diagnosis.holds)
        self.assertIn(f"2 customised views of any model hold {self.XPATH_SPEC}", diagnosis.reason)
        self.assertIn(f"#{first.id}, #{second.id}", diagnosis.reason)
        self.assertEqual(diagnosis.evidence["views"], [])
        self.assertTrue(first.active and second.active)

    def test_anchors_outside_the_whitelist_are_never_evaluated(self):
        view = faults.break_inheriting_view(self.env, PARENT, kind="anchor")
        for spec, why in (
            ('<xpath expr="//field[@name=$ghost]">', "'$ghost]' is not allowed"),
            ("<xpath expr=\"document('/etc/passwd')\">", "the function 'document' is not allowed"),
            ("<xpath expr=\"//*[php:function('id')]\">", "is not allowed"),
            ("<field>", "without attributes would stand for any field"),
            ("<field name='a'>", "is not a single element with quoted attributes"),
        ):
            diagnosis = self.by_anchor(spec)
            self.assertFalse(diagnosis.holds, spec)
            self.assertIn("the anchor the error quotes is refused", diagnosis.reason)
            self.assertIn(why, diagnosis.reason)
        self.assertTrue(view.active)
