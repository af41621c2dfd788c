from odoo import api, models

from .. import compat
from ..detection import installer
from ..detection import settings as detection_settings
from ..engine.detect.normalize import TRACEBACK_HEADER
from ..engine.detect.signal import Signal

WATERMARK_PARAM = "self_healing.ir_logging_last_id"
BATCH_SIZE = 1000
FIRST_SCAN_LOOKBACK = "1 day"
# Rows a server action wrote with log(): they never went through Python logging.
SERVER_ACTION_PATH = "action"


class IrLogging(models.Model):
    """ir.logging rows (filled by --log-db and by server actions' log()) as signals.

    One fault is never counted twice: a server row that Odoo's
    PostgreSQLHandler wrote from a log record is the same record the live
    capture already took, so while this process runs the live capture such
    rows are left to it; client rows and server-action rows are always
    scanned. Rows of other databases (a shared --log-db) are skipped.
    """

    _inherit = "ir.logging"

    @api.model
    def _self_healing_scan(self, batch_size=BATCH_SIZE):
        """Scan cron: one batch of rows above the watermark per call, with progress for Odoo's cron loop."""
        params = self.env["ir.config_parameter"].sudo()
        watermark = params.get_param(WATERMARK_PARAM)
        if watermark is None:
            # First run: look back one day rather than through years of history.
            self.env.cr.execute(
                "SELECT COALESCE(MAX(id), 0) FROM ir_logging"
                " WHERE create_date < (now() at time zone 'UTC') - %s::interval",
                [FIRST_SCAN_LOOKBACK],
            )
            watermark = self.env.cr.fetchone()[0]
        watermark = int(watermark)
        self.env.cr.execute(
            """SELECT id, create_date, create_uid, name, type, dbname, level, message, path, func, line
                 FROM ir_logging WHERE id > %s ORDER BY id LIMIT %s""",
            [watermark, batch_size],
        )
        rows = self.env.cr.dictfetchall()
        settings = detection_settings.read(self.env.cr)
        live_capture = installer.current() is not None
        signals = [
            signal
            for signal in (self._self_healing_signal(row, settings, live_capture) for row in rows)
            if signal is not None
        ]
        if rows:
            watermark = rows[-1]["id"]
        params.set_param(WATERMARK_PARAM, str(watermark))
        if signals:
            self.env["self_healing.signal"].sudo()._stage(signals)
            self.env["self_healing.signal"]._trigger_processing()
        self.env.cr.execute("SELECT count(*) FROM ir_logging WHERE id > %s", [watermark])
        compat.cron_progress(self.env, len(rows), self.env.cr.fetchone()[0])
        return len(signals)

    @api.model
    def _self_healing_signal(self, row, settings, live_capture):
        """A signal dict for one ir_logging row, or None when the row is not one to report."""
        if row["dbname"] and row["dbname"] != self.env.cr.dbname:
            return None
        if row["type"] == "server" and live_capture and row["path"] != SERVER_ACTION_PATH:
            return None
        if detection_settings.level_number(row["level"], 0) < settings.capture_level:
            return None
        text = row["message"] or ""
        cut = text.find(TRACEBACK_HEADER)
        message, traceback = (text, "") if cut < 0 else (text[:cut].rstrip(), text[cut:])
        level = detection_settings.level_number(row["level"])
        return Signal(
            source="ir_logging",
            level=detection_settings.logging_name(level),
            logger=row["name"] or "",
            message=message,
            traceback=traceback,
            dbname=self.env.cr.dbname,
            uid=row["create_uid"] or None,
            occurred_at=row["create_date"] or self.env.cr.now(),
            extra={
                "ir_logging_id": row["id"],
                "type": row["type"],
                "path": row["path"],
                "line": row["line"],
                "func": row["func"],
            },
        ).to_dict()
