from datetime import timedelta

from psycopg2 import IntegrityError

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import SelfHealingCase


@tagged("post_install", "-at_install")
class TestConstraints(SelfHealingCase):
    def assertRejected(self, model, values):
        with self.assertRaises(Exception) as caught, mute_logger("odoo.sql_db"), self.cr.savepoint():
            self.env[model].create(values)
            self.env.flush_all()
        self.assertIsInstance(caught.exception, (IntegrityError, ValidationError))

    def test_incident(self):
        self.make_incident(fingerprint="dup")
        self.assertRejected("self_healing.incident", {"name": "b", "fingerprint": "dup"})
        self.assertRejected("self_healing.incident", {"name": "c", "fingerprint": "c", "occurrence_count": 0})
        self.assertRejected("self_healing.incident", {"name": "d", "fingerprint": "d", "confidence": 1.5})
        now = fields.Datetime.now()
        self.assertRejected(
            "self_healing.incident",
            {"name": "e", "fingerprint": "e", "first_seen": now, "last_seen": now - timedelta(hours=1)},
        )

    def test_occurrence(self):
        incident = self.make_incident()
        self.assertRejected("self_healing.occurrence", {"incident_id": incident.id, "level": "LOUD"})
        self.assertRejected("self_healing.occurrence", {"level": "ERROR"})
        occurrence = self.env["self_healing.occurrence"].create({"incident_id": incident.id, "level": "ERROR"})
        incident.unlink()
        self.assertFalse(occurrence.exists(), "occurrences go with their incident")

    def test_guardrail(self):
        self.Guardrail.create({"code": "GR-T-001", "name": "t", "error_class": "OTHER"})
        self.assertRejected("self_healing.guardrail", {"code": "GR-T-001", "name": "t2", "error_class": "OTHER"})
        self.assertRejected("self_healing.guardrail", {"code": "GR T", "name": "t3", "error_class": "OTHER"})
        self.assertRejected(
            "self_healing.guardrail",
            {"code": "GR-T-002", "name": "t4", "error_class": "OTHER", "signals": {"all_patterns": ["(unclosed"]}},
        )
        self.assertRejected(
            "self_healing.guardrail", {"code": "GR-T-003", "name": "t5", "error_class": "OTHER", "confidence": -0.1}
        )
        guardrail = self.Guardrail.create({"code": "GR-T-004", "name": "t6", "error_class": "OTHER"})
        with self.assertRaises(ValidationError):
            guardrail.signals_text = "{not json"

    def test_knowledge_entry(self):
        entry = self.env["self_healing.knowledge.entry"].create(
            {"name": "k", "problem": "p", "url": "https://example.org/t/1"}
        )
        self.assertEqual(entry.key, "https://example.org/t/1", "the URL is the idempotency key by default")
        self.assertRejected(
            "self_healing.knowledge.entry", {"name": "k2", "problem": "p", "url": "https://example.org/t/1"}
        )
        self.assertRejected("self_healing.knowledge.entry", {"name": "k3", "problem": "p", "url": "ftp://x"})
        entry.embedding_state = "done"
        entry.write({"problem": "new text"})
        self.assertEqual(entry.embedding_state, "todo", "an edited entry is embedded again")

    def test_fix_attempt_and_backup(self):
        incident = self.make_incident()
        self.assertRejected("self_healing.fix.attempt", {"incident_id": incident.id, "confidence_before": 2})
        self.assertRejected("self_healing.fix.attempt", {"incident_id": incident.id, "duration": -1})
        attempt = self.Attempt.create({"incident_id": incident.id})
        backup = self.env["self_healing.backup"].create({"attempt_id": attempt.id, "target": "res_partner[1]"})
        self.assertAlmostEqual(
            (backup.expires_at - fields.Datetime.now()).days, 29, delta=1, msg="backups are kept 30 days"
        )
        self.assertRejected(
            "self_healing.backup",
            {"attempt_id": attempt.id, "target": "t", "expires_at": fields.Datetime.now() - timedelta(days=1)},
        )

    def test_expired_backups_lose_their_payload(self):
        attempt = self.Attempt.create({"incident_id": self.make_incident().id})
        Backup = self.env["self_healing.backup"]
        old = Backup.create({"attempt_id": attempt.id, "target": "old", "payload": {"rows": [1]}})
        fresh = Backup.create({"attempt_id": attempt.id, "target": "fresh", "payload": {"rows": [2]}})
        self.env.cr.execute(
            "UPDATE self_healing_backup SET create_date = now() - interval '40 days', "
            "expires_at = now() - interval '10 days' WHERE id = %s",
            (old.id,),
        )
        old.invalidate_recordset()
        Backup._gc_expired_backups()
        self.assertEqual((old.state, old.payload), ("expired", False))
        self.assertEqual((fresh.state, fresh.payload), ("kept", {"rows": [2]}))
