"""Fixes waiting for approval: they survive a restart, and an approval racing the cron workers runs once.

The incident is a real fault (the partner id sequence drifted behind its
rows, as after a restore), committed, handled by the healing loop in suggest
mode: the fix waits for an approver. What is asserted is committed state read
on connections of their own, as the next process would read it.
"""

import os
import subprocess
import sys
import textwrap
import threading

import odoo
from odoo import api
from odoo.exceptions import UserError
from odoo.service.model import retrying
from odoo.tests import tagged

from . import autopatch_faults as faults
from .common import ODOO_ROOT, SelfHealingCase

PARAMS = ("self_healing.autopilot", "self_healing.threshold_propose")

# A new process (a restarted server) approves with the digest of the form opened before the restart.
APPROVER = textwrap.dedent(
    """
    import sys
    import odoo
    from odoo.api import Environment
    from odoo.modules.registry import Registry
    odoo.tools.config.parse_config(["-c", sys.argv[1], "--log-level=warn"])
    registry = Registry(sys.argv[2])
    with registry.cursor() as cr:
        env = Environment(cr, odoo.SUPERUSER_ID, {})
        admin = env.ref("base.user_admin")
        attempt = env["self_healing.fix.attempt"].browse(int(sys.argv[3]))
        print("before", attempt.state, attempt.review_state, len(attempt.activity_ids), attempt.incident_id.state)
        wizard = env["self_healing.fix.approval"].with_user(admin).create(
            {"attempt_ids": [(6, 0, attempt.ids)], "note": "after restart", "plan_digest": sys.argv[4]}
        )
        wizard.action_approve()
        print("after", attempt.state, attempt.incident_id.state)
    """
)


@tagged("post_install", "-at_install")
class TestApprovalReliability(SelfHealingCase):
    def committed(self):
        return self.registry.cursor()

    def setUp(self):
        super().setUp()
        with self.committed() as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            get = env["ir.config_parameter"].get_param
            self.saved_params = {key: get(key) for key in PARAMS}
            env["ir.config_parameter"].set_param("self_healing.autopilot", "suggest")
            # No solved cases in this committed database: let the matched fix be proposed.
            env["ir.config_parameter"].set_param("self_healing.threshold_propose", "0.0")
            faults.drift_id_sequence(env, "res_partner")
            incident = env["self_healing.incident"].create(
                {
                    "name": "reliability approval",
                    "fingerprint": f"reliability-approval-{os.getpid()}-{id(self)}",
                    "to_process": True,
                    "message_template": 'duplicate key value violates unique constraint "res_partner_pkey"',
                    "exception_type": "psycopg2.errors.UniqueViolation",
                    "sample_traceback": "psycopg2.errors.UniqueViolation: duplicate key value violates unique "
                    'constraint "res_partner_pkey"\nDETAIL:  Key (id)=(3) already exists.',
                    "source": "log",
                }
            )
            env["self_healing.occurrence"].create(
                {"incident_id": incident.id, "signal_source": "log", "traceback": incident.sample_traceback}
            )
            self.assertEqual(incident._heal(), "awaiting_approval", incident.decision)
            self.incident_id = incident.id
            self.attempt_id = incident.fix_attempt_ids.id
            # What the approver's form holds from the moment it opened.
            self.digest = incident.fix_attempt_ids._plan_digest()
        self.addCleanup(self.restore)

    def restore(self):
        with self.committed() as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            faults.heal_id_sequence(env, "res_partner")
            env["self_healing.incident"].browse(self.incident_id).exists().unlink()
            for key, value in self.saved_params.items():
                env["ir.config_parameter"].set_param(key, value or False)

    def read_outcome(self):
        with self.committed() as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            incident = env["self_healing.incident"].browse(self.incident_id)
            attempt = env["self_healing.fix.attempt"].browse(self.attempt_id)
            approvals = [body for body in attempt.message_ids.mapped("body") if "Approved by" in str(body)]
            return {
                "attempts": len(incident.fix_attempt_ids),
                "state": attempt.state,
                "incident": incident.state,
                "approvals": len(approvals),
                "backups": len(attempt.backup_ids),
            }

    def test_a_fix_pending_approval_is_approved_and_runs_after_a_restart(self):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ODOO_ROOT), os.environ.get("PYTHONPATH")])))
        child = subprocess.run(  # noqa: S603 - our own Odoo
            [
                sys.executable,
                "-c",
                APPROVER,
                odoo.tools.config.rcfile,
                self.env.cr.dbname,
                str(self.attempt_id),
                self.digest,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            check=False,
        )
        self.assertEqual(child.returncode, 0, child.stderr[-3000:])
        lines = child.stdout.splitlines()
        self.assertIn("before proposed pending", "\n".join(lines), "the review and its to-dos survived the restart")
        outcome = self.read_outcome()
        self.assertEqual((outcome["state"], outcome["incident"]), ("validated", "healed"), child.stdout)
        self.assertEqual(outcome["approvals"], 1)

    def test_two_cron_workers_and_two_approvals_at_once_apply_the_fix_exactly_once(self):
        registry = self.registry
        with self.committed() as cr:
            # A new occurrence just came in: both cron workers are asked to heal the incident.
            cr.execute("UPDATE self_healing_incident SET to_process = true WHERE id = %s", [self.incident_id])
        barrier = threading.Barrier(4)
        results = {}

        def cron_worker(name):
            with registry.cursor() as cr:
                env = api.Environment(cr, api.SUPERUSER_ID, {})
                barrier.wait(timeout=60)
                env["self_healing.incident"]._cron_heal()
                results[name] = "done"

        def approver(name):
            # As the web client does it: the review form is saved in one request, its button is another,
            # which Odoo's RPC layer retries on a serialization failure.
            try:
                with registry.cursor() as cr:
                    env = api.Environment(cr, api.SUPERUSER_ID, {})
                    admin = env.ref("base.user_admin")
                    wizard = (
                        env["self_healing.fix.approval"]
                        .with_user(admin)
                        .create({"attempt_ids": [(6, 0, [self.attempt_id])], "plan_digest": self.digest})
                    )
                    wizard_id, admin_id = wizard.id, admin.id
                with registry.cursor() as cr:
                    env = api.Environment(cr, admin_id, {})
                    barrier.wait(timeout=60)
                    retrying(lambda: env["self_healing.fix.approval"].browse(wizard_id).action_approve(), env)
                results[name] = "approved"
            except UserError as exc:
                results[name] = f"refused: {exc}"
            except Exception as exc:  # noqa: BLE001 - anything else fails the test, with its reason
                results[name] = f"error: {type(exc).__name__}: {exc}"

        threads = [
            threading.Thread(target=cron_worker, args=("cron1",)),
            threading.Thread(target=cron_worker, args=("cron2",)),
            threading.Thread(target=approver, args=("human1",)),
            threading.Thread(target=approver, args=("human2",)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        self.assertEqual((results.get("cron1"), results.get("cron2")), ("done", "done"), results)
        humans = sorted(results[name][:8] for name in ("human1", "human2"))
        self.assertEqual(humans, ["approved", "refused:"], results)
        outcome = self.read_outcome()
        self.assertEqual(outcome["attempts"], 1, "no cron worker made a second attempt")
        self.assertEqual((outcome["state"], outcome["incident"]), ("validated", "healed"), results)
        self.assertEqual(outcome["approvals"], 1, "one approval recorded")
        self.assertEqual(outcome["backups"], 1, "one pre-image: the fix ran once")
