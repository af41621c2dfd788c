"""An LLM may only pick a registered auto-patch; its pick always waits for a human."""

import importlib.util
import json
from pathlib import Path

from odoo.tests import tagged

from ..autopatches import base as autopatch_base
from . import autopatch_faults as faults
from .test_healing_pipeline import PipelineCase, set_params


def load_fake_server():
    path = Path(__file__).parent / "engine" / "fake_llm_server.py"
    spec = importlib.util.spec_from_file_location("self_healing_fake_llm_server", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FakeLLMServer


UNKNOWN_TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/opt/custom/addons/stock_sync/models/sync.py", line 88, in _push\n'
    "    self._send_batch(batch)\n"
    "stock_sync.exceptions.SyncStalled: the table res_partner_category refuses new rows since the restore\n"
)


@tagged("post_install", "-at_install")
class TestHealingWithLLM(PipelineCase):
    def setUp(self):
        super().setUp()
        self.server = load_fake_server()().start()
        self.addCleanup(self.server.stop)
        set_params(
            self.env,
            autopilot="auto",
            llm_provider="anthropic",
            llm_api_key="test-key",
            llm_model="claude-test",
            llm_base_url=self.server.anthropic_base_url,
        )

    def ingest_unknown(self):
        return self.ingest(UNKNOWN_TRACEBACK, logger="odoo.addons.stock_sync")

    def script_sequence_pick(self):
        self.env["res.partner.category"].create([{"name": f"c{n}"} for n in range(3)])
        faults.drift_id_sequence(self.env, "res_partner_category")
        self.addCleanup(faults.heal_id_sequence, self.env, "res_partner_category")
        self.server.script(
            json.dumps(
                {
                    "error_class": "SEQ_PKEY_DRIFT",
                    "root_cause": "sequence behind max(id) after a restore",
                    "autopatch": "sequence_resync",
                    "params": {"table": "res_partner_category"},
                    "confidence": 0.99,
                    "explanation": "the message says new rows are refused since a restore",
                }
            )
        )

    def test_llm_pick_reaches_a_human_and_is_never_applied_alone(self):
        self.script_sequence_pick()
        incident = self.ingest_unknown()
        result = incident._heal()
        if autopatch_base.get("sequence_resync").replays:
            # Verified by a replay, the pick is worth a proposal; its capped match keeps it one.
            self.assertEqual(result, "awaiting_approval", incident.decision)
            self.assertEqual(incident.fix_attempt_ids.mode, "manual")
            self.assertIn("LLM", incident.fix_attempt_ids.decision_reasons)
        else:
            # Unverified and only an LLM's reading: a suggestion in the alert.
            self.assertEqual(result, "alert", incident.decision)
            self.assertFalse(incident.fix_attempt_ids)
            self.assertIn("The LLM suggests sequence_resync", " ".join(incident.message_ids.mapped("body")))

    def test_llm_pick_is_proposed_never_applied_alone(self):
        # Even with every threshold at zero, a fix only an LLM chose waits for a human.
        set_params(self.env, threshold_auto="0.0", threshold_notify="0.0", threshold_propose="0.0")
        self.script_sequence_pick()
        incident = self.ingest_unknown()
        self.assertEqual(incident._heal(), "awaiting_approval", incident.decision)
        attempt = incident.fix_attempt_ids
        self.assertEqual(
            (attempt.autopatch_code, attempt.params, attempt.mode),
            ("sequence_resync", {"table": "res_partner_category"}, "manual"),
        )
        self.assertIn("LLM", attempt.decision_reasons)
        self.assertEqual(attempt.confidence_terms["source"], "llm")
        sent = json.dumps(self.server.requests[-1].body)
        self.assertIn("SyncStalled", sent, "the incident went to the model as data")

    def test_unregistered_patch_or_code_is_refused(self):
        self.server.script(
            json.dumps(
                {
                    "error_class": "OTHER",
                    "root_cause": "x",
                    "autopatch": "run_python",
                    "params": {"code": "import os; os.system('rm -rf /')"},
                    "confidence": 1.0,
                    "explanation": "",
                }
            )
        )
        incident = self.ingest_unknown()
        self.assertEqual(incident._heal(), "alert")
        self.assertFalse(incident.fix_attempt_ids)
        self.assertIn("run_python", json.dumps(incident.match_evidence["llm"]["dropped"]))
