import logging

from odoo import api, fields, models
from odoo.tools import SQL

from .. import compat
from ..detection import installer, staging
from ..detection import settings as detection_settings

_logger = logging.getLogger(__name__)

BATCH_SIZE = 500


class SelfHealingSignal(models.Model):
    """A captured fault waiting to be grouped into an incident (a queue, emptied by the processing cron).

    The live capture writes rows here with plain SQL from its own connection;
    detectors running inside a transaction use ``_stage``. The processing
    cron turns rows into incidents and occurrences, then deletes them.
    """

    _name = "self_healing.signal"
    _description = "Self-Healing Staged Signal"
    _table = staging.TABLE
    _order = "id"

    source = fields.Char(required=True)
    level = fields.Char()
    logger = fields.Char()
    message = fields.Text()
    traceback = fields.Text()
    dbname = fields.Char(string="Database")
    uid = fields.Integer(string="User ID")
    request_path = fields.Char()
    occurred_at = fields.Datetime()
    extra = fields.Json()

    def _register_hook(self):
        super()._register_hook()
        # Processes that imported the addon before Odoo could run post_load
        # (test runners, scripts) get the capture here; elsewhere it is a no-op.
        try:
            installer.install()
            # The addon may have just been installed here: stop remembering it as absent.
            installer.forget_database(self.env.cr.dbname)
            installer.apply_database_settings(self.env.cr.dbname, detection_settings.read(self.env.cr))
        except Exception:
            _logger.exception("Self-Healing could not set up its log capture for %s", self.env.cr.dbname)

    @api.model
    def _stage(self, signals):
        """Queue signal dicts (``engine.signal.Signal.to_dict`` shape) in the current transaction."""
        signals = [signal for signal in signals if signal]
        if not signals:
            return 0
        query, params = staging.insert_statement(signals)
        self.env.cr.execute(query, params)
        return len(signals)

    @api.model
    def _trigger_processing(self):
        """Wake the processing cron once the current transaction commits."""
        cron = self.env.ref("self_healing.ir_cron_process_signals", raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()

    @api.model
    def _take_batch(self, limit):
        self.env.cr.execute(
            SQL(
                """SELECT id, source, level, logger, message, traceback, dbname, uid, request_path,
                       COALESCE(occurred_at, create_date, now() at time zone 'UTC'), extra
                  FROM %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
                SQL.identifier(self._table),
                limit,
            )
        )
        rows = self.env.cr.fetchall()
        names = (
            "id",
            "source",
            "level",
            "logger",
            "message",
            "traceback",
            "dbname",
            "uid",
            "request_path",
            "occurred_at",
            "extra",
        )
        return [dict(zip(names, row)) for row in rows]

    @api.model
    def _process_batch(self, limit=BATCH_SIZE):
        """Ingest up to ``limit`` staged signals and delete them; returns how many were taken."""
        rows = self._take_batch(limit)
        if not rows:
            return 0
        ids = [row.pop("id") for row in rows]
        self.env["self_healing.incident"].sudo()._ingest_signals(rows)
        self.env.cr.execute(SQL("DELETE FROM %s WHERE id = ANY(%s)", SQL.identifier(self._table), ids))
        return len(ids)

    @api.model
    def _process_staged(self, batch_size=BATCH_SIZE):
        """Ingest every staged signal in this transaction (for callers outside the cron); returns the count."""
        total = 0
        while True:
            done = self._process_batch(batch_size)
            total += done
            if done < batch_size:
                return total

    @api.model
    def _pending_count(self):
        self.env.cr.execute(SQL("SELECT count(*) FROM %s", SQL.identifier(self._table)))
        return self.env.cr.fetchone()[0]

    @api.model
    def _cron_process(self, batch_size=BATCH_SIZE):
        """Processing cron: one batch per call; Odoo calls again (and commits between calls) while some remain."""
        installer.apply_database_settings(self.env.cr.dbname, detection_settings.read(self.env.cr))
        done = self._process_batch(batch_size)
        compat.cron_progress(self.env, done, self._pending_count())
