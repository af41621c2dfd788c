from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..compat import Constraint
from ..detection import installer


class SelfHealingCaptureStat(models.Model):
    """The live capture's counters of one server process, as that process last wrote them.

    Each process serving this database upserts its own row (host, pid) from
    its capture sink every half minute while it delivers signals, so what
    the capture dropped or lost shows here without asking the process.
    """

    _name = "self_healing.capture.stat"
    _description = "Self-Healing Capture Counters"
    _order = "updated_at desc, id desc"
    _rec_name = "host"

    host = fields.Char(required=True, readonly=True)
    pid = fields.Integer(string="Process ID", required=True, readonly=True)
    started_at = fields.Datetime(readonly=True)
    updated_at = fields.Datetime(readonly=True)
    captured = fields.Integer(readonly=True, help="Log records queued by the capture handler.")
    dropped = fields.Integer(readonly=True, help="Records dropped because the in-memory queue was full.")
    flushed = fields.Integer(readonly=True, help="Records handed to the sink.")
    staged = fields.Integer(readonly=True, help="Signals written to a database's staging table.")
    no_database = fields.Integer(
        string="Without database", readonly=True, help="Records logged outside any database, counted and skipped."
    )
    not_installed = fields.Integer(
        string="Addon not installed",
        readonly=True,
        help="Records of databases without this addon, counted and skipped.",
    )
    sink_errors = fields.Integer(readonly=True, help="Batches the sink failed to write.")
    sink_lost = fields.Integer(string="Lost", readonly=True, help="Records in the batches that failed.")
    ignored = fields.Integer(readonly=True, help="Records of the addon's own loggers, never captured.")
    emit_errors = fields.Integer(readonly=True)
    queue_size = fields.Integer(readonly=True)
    slow_forwarded = fields.Integer(string="Slow requests and jobs", readonly=True)

    _process_unique = Constraint("unique(host, pid)", "One row per server process.")

    @api.model
    def action_record_current_process(self):
        """Write this process's counters now (the button on the list), then show the list again."""
        # It writes through SQL, so no access right would stop a caller: the group is checked here.
        if not (self.env.su or self.env.user.has_group("self_healing.group_self_healing_manager")):
            raise AccessError(_("Only Self-Healing managers can record the capture counters."))
        installer.write_stats(self.env.cr)
        self.env.invalidate_all()
        return {"type": "ir.actions.client", "tag": "reload"}

    @api.model
    def _purge_stale(self, days):
        self.env.cr.execute(
            SQL(
                "DELETE FROM %s WHERE updated_at < (now() at time zone 'UTC') - make_interval(days => %s)",
                SQL.identifier(self._table),
                days,
            )
        )

    @api.model
    def _totals(self):
        """Sums over the processes that wrote in the last day: what the settings page shows."""
        self.env.cr.execute(
            SQL(
                """SELECT COALESCE(SUM(captured), 0), COALESCE(SUM(dropped), 0), COALESCE(SUM(staged), 0),
                       COALESCE(SUM(sink_lost), 0), COALESCE(SUM(no_database + not_installed), 0), count(*)
                  FROM %s WHERE updated_at >= (now() at time zone 'UTC') - interval '1 day'""",
                SQL.identifier(self._table),
            )
        )
        captured, dropped, staged, lost, skipped, processes = self.env.cr.fetchone()
        return {
            "captured": captured,
            "dropped": dropped,
            "staged": staged,
            "lost": lost,
            "skipped": skipped,
            "processes": processes,
        }
