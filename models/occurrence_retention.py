from odoo import api, models
from odoo.tools import SQL

from .. import compat
from ..detection import settings as detection_settings

BATCH_SIZE = 5000
STATS_KEEP_DAYS = 7


class SelfHealingOccurrence(models.Model):
    _inherit = "self_healing.occurrence"

    @api.model
    def _retention_candidates_sql(self, keep_count, keep_days):
        """Occurrences beyond the newest ``keep_count`` of their incident, or older than ``keep_days``.

        The newest occurrence of an incident always stays, however old, so
        every incident keeps one example.
        """
        conditions = []
        if keep_count:
            conditions.append(SQL("rank > %s", keep_count))
        if keep_days:
            conditions.append(
                SQL("(rank > 1 AND occurred_at < (now() at time zone 'UTC') - make_interval(days => %s))", keep_days)
            )
        if not conditions:
            return None
        return SQL(
            """
            SELECT id FROM (
                SELECT id, occurred_at,
                       row_number() OVER (PARTITION BY incident_id ORDER BY occurred_at DESC, id DESC) AS rank
                  FROM %s
            ) ranked
            WHERE %s""",
            SQL.identifier(self._table),
            SQL(" OR ").join(conditions),
        )

    @api.model
    def _enforce_retention(self, batch_size=BATCH_SIZE):
        """Delete one batch of occurrences past the retention settings; returns (deleted, remaining)."""
        settings = detection_settings.read(self.env.cr)
        query = self._retention_candidates_sql(settings.occurrence_keep_count, settings.occurrence_keep_days)
        if query is None:
            return 0, 0
        self.flush_model()
        self.env.cr.execute(SQL("SELECT count(*) FROM (%s) candidates", query))
        total = self.env.cr.fetchone()[0]
        if not total:
            return 0, 0
        self.env.cr.execute(
            SQL("DELETE FROM %s WHERE id IN (%s LIMIT %s)", SQL.identifier(self._table), query, batch_size)
        )
        deleted = self.env.cr.rowcount
        self.invalidate_model()
        return deleted, max(total - deleted, 0)

    @api.model
    def _cron_retention(self, batch_size=BATCH_SIZE):
        """Retention cron: occurrences by count and age (batched with progress), and stale capture counters."""
        deleted, remaining = self._enforce_retention(batch_size)
        if not remaining:
            self.env["self_healing.capture.stat"]._purge_stale(STATS_KEEP_DAYS)
        compat.cron_progress(self.env, deleted, remaining)
        return deleted
