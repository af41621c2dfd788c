"""Test helpers around the real faults of the chaos addon (self_healing_chaos/faults.py).

The injectors live in the chaos addon, which the chaos command installs and
the test command puts on the addons path: one set of injectors for both. Its
modules import no Odoo test framework, so the chaos server can load them.
What only tests need, such as counting rows written or making fix attempts,
stays here.
"""

from datetime import timedelta

from odoo import fields

from odoo.addons.self_healing_chaos.faults import (  # noqa: F401 - re-exported for the auto-patch tests
    CRON_DIVISOR_PARAM,
    FAILING_CRON_CODE,
    GHOST_FIELD,
    break_action_domain,
    break_bundle_file,
    break_inheriting_view,
    break_record_rule,
    break_saved_filter,
    bundle_attachment,
    drift_id_sequence,
    drop_column,
    fail_cron_until_deactivated,
    free_port,
    heal_cron_cause,
    heal_id_sequence,
    lag_numbering,
    make_failing_cron,
    make_mail_server,
    make_stuck_mail,
    provoke_serialization_failure,
    real_smtp,
    run_cron_as_scheduler,
    stick_module,
    throwaway_addon,
)
from odoo.addons.self_healing_chaos.smtp import LocalSMTPServer  # noqa: F401

# -- observing -----------------------------------------------------------------


def rows_written(env):
    """Rows inserted, updated or deleted so far in this transaction (PostgreSQL's own counters)."""
    env.flush_all()
    env.cr.execute("SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_xact_user_tables")
    return env.cr.fetchone()[0]


def make_attempt(env, code, params=None, incident=None, mode="auto", **values):
    """A fix attempt for an auto-patch, on a fresh chaos incident unless one is given."""
    if incident is None:
        incident = env["self_healing.incident"].create(
            {
                "name": f"chaos: {code}",
                "fingerprint": f"chaos-{code}-{fields.Datetime.now().timestamp()}-{env['self_healing.incident'].search_count([])}",
                "source": "manual",
            }
        )
    return env["self_healing.fix.attempt"].create(
        dict(
            {"incident_id": incident.id, "autopatch_code": code, "params": params or {}, "mode": mode},
            **values,
        )
    )


def make_transient_incident(env, minutes_ago=0, error=None):
    text = str(error or "could not serialize access due to concurrent update")
    now = fields.Datetime.now()
    return env["self_healing.incident"].create(
        {
            "name": "could not serialize access due to concurrent update",
            "fingerprint": f"chaos-serialization-{now.timestamp()}-{minutes_ago}",
            "error_class": "SERIALIZATION_FAILURE",
            "exception_type": "psycopg2.errors.SerializationFailure",
            "message_template": text,
            "source": "manual",
            "first_seen": now - timedelta(minutes=minutes_ago + 5),
            "last_seen": now - timedelta(minutes=minutes_ago),
        }
    )
