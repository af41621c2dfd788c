"""Real Odoo faults, injected the way they happen in production.

Used by the chaos scenarios (scenarios.py) and by the auto-patch tests of
self_healing. Every injector writes through the environment it is given and
commits nothing, except ``provoke_serialization_failure`` which needs two
real transactions and cleans up after itself. Faults outside the
transaction (filestore files, PostgreSQL sequences, addons folders) come
with a way to undo them.
"""

import contextlib
import os
import shutil
import socket
import sys
import tempfile
from datetime import timedelta
from unittest import mock

import psycopg2.errors

from odoo import fields
from odoo.modules import module as odoo_module
from odoo.tools import SQL

from odoo.addons.base.models.ir_cron import CompletionStatus
from odoo.addons.self_healing import compat

GHOST_FIELD = "x_self_healing_ghost"


# -- SEQ_PKEY_DRIFT -----------------------------------------------------------


def drift_id_sequence(env, table, lag=2):
    """Set the id sequence of ``table`` back ``lag`` ids, as a restore with explicit ids leaves it."""
    env.flush_all()
    cr = env.cr
    cr.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    sequence = cr.fetchone()[0]
    cr.execute(SQL("SELECT max(id) FROM %s", SQL.identifier(table)))
    max_id = cr.fetchone()[0]
    cr.execute("SELECT setval(%s::regclass, %s, true)", [sequence, max(max_id - lag, 1)])
    return sequence


def heal_id_sequence(env, table):
    """Sequences ignore rollbacks: put one back past max(id) after a test."""
    cr = env.cr
    cr.execute(
        SQL(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), greatest((SELECT max(id) FROM %s), 1), true)",
            table,
            SQL.identifier(table),
        )
    )


# -- ASSET_BUNDLE -------------------------------------------------------------


def bundle_attachment(env, bundle="web.assets_clickbot"):
    """The minified JS attachment of a bundle, generated if needed (as the /web/assets route does)."""
    return env["ir.qweb"]._get_asset_bundle(bundle, css=False, js=True).js()


def break_bundle_file(attachment, how="missing"):
    """Remove ("missing") or overwrite ("garbage") the stored file of a bundle attachment.

    Returns a function that puts the original bytes back.
    """
    path = attachment._full_path(attachment.store_fname)
    with open(path, "rb") as handle:
        original = handle.read()
    if how == "missing":
        os.remove(path)
    else:
        with open(path, "wb") as handle:
            handle.write(b"\x00\x13garbage, not javascript\xff")

    def restore():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(original)

    return restore


# -- VIEW_FIELD_MISSING / XPATH_NOT_FOUND -------------------------------------


def break_inheriting_view(
    env, parent_xmlid="base.res_partner_industry_view_form", kind="field", name="self_healing chaos customisation"
):
    """A database-only customisation of ``parent_xmlid`` that no longer fits, as after an uninstall.

    ``kind``: "field" names a field the model lacks; "anchor" (or "xpath") anchors an xpath on it;
    "locator" anchors on it with a field locator, which Odoo words as ``<field name=...>``;
    "moved" moves it (position="move"), which Odoo quotes whole between curly quotes.
    """
    parent = env.ref(parent_xmlid) if isinstance(parent_xmlid, str) else parent_xmlid
    view = env["ir.ui.view"].create(
        {
            "name": name,
            "model": parent.model,
            "inherit_id": parent.id,
            "arch": '<xpath expr="/*" position="inside"><field name="display_name"/></xpath>',
        }
    )
    if kind == "field":
        arch = f'<xpath expr="/*" position="inside"><field name="{GHOST_FIELD}"/></xpath>'
    elif kind == "locator":
        arch = f'<field name="{GHOST_FIELD}" position="after"><field name="display_name"/></field>'
    elif kind == "moved":
        # Odoo quotes a moved node whole, tail included: the error's quote spans two lines.
        arch = f'<xpath expr="/*" position="inside">\n    <field name="{GHOST_FIELD}" position="move"/>\n</xpath>'
    else:
        arch = f'<xpath expr="//field[@name=\'{GHOST_FIELD}\']" position="after"><field name="display_name"/></xpath>'
    env.flush_all()
    env.cr.execute(
        "UPDATE ir_ui_view SET arch_db = jsonb_build_object('en_US', %s::text) WHERE id = %s", [arch, view.id]
    )
    env.invalidate_all()
    env.registry.clear_cache("templates")
    return view


def orphan_customisation(env, parent_xmlid, anchor_class="o_chaos_extra"):
    """Two customisations made in the ORM, one anchored on what the other adds; then the first is
    deleted through the ORM (Settings > Technical > Views), which checks nothing. Returns the orphan."""
    parent = env.ref(parent_xmlid)
    views = env["ir.ui.view"]
    base = views.create(
        {
            "name": "self_healing chaos extra box",
            "model": parent.model,
            "inherit_id": parent.id,
            "priority": 16,
            "arch": f'<xpath expr="/*" position="inside"><div class="{anchor_class}"/></xpath>',
        }
    )
    orphan = views.create(
        {
            "name": "self_healing chaos note in the extra box",
            "model": parent.model,
            "inherit_id": parent.id,
            "priority": 32,
            "arch": f'<xpath expr="//div[hasclass(\'{anchor_class}\')]" position="inside">'
            '<field name="display_name"/></xpath>',
        }
    )
    base.unlink()
    env.registry.clear_cache("templates")
    return orphan


def import_rows_with_explicit_ids(env, table, names):
    """Rows written by plain SQL with ids of their own, as a CSV import through psql leaves them:
    the id sequence is not told, so its next values are taken. Returns the ids written."""
    env.flush_all()
    cr = env.cr
    cr.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    sequence = cr.fetchone()[0]
    cr.execute(
        SQL(
            "SELECT greatest(coalesce((SELECT max(id) FROM %s), 0), coalesce(pg_sequence_last_value(%s::regclass), 0))",
            SQL.identifier(table),
            sequence,
        )
    )
    top = cr.fetchone()[0]
    ids = [top + offset for offset in range(1, len(names) + 1)]
    cr.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s"
        " AND column_name IN ('name', 'active')",
        [table],
    )
    columns = dict(cr.fetchall())
    # A translated name is stored as jsonb; a custom addon's plain Char as text.
    translated = columns["name"] == "jsonb"
    active = SQL(", active") if "active" in columns else SQL("")
    active_value = SQL(", true") if "active" in columns else SQL("")
    for row_id, name in zip(ids, names, strict=True):
        cr.execute(
            SQL(
                "INSERT INTO %s (id, name%s, create_uid, create_date, write_uid, write_date)"
                " VALUES (%s, %s%s, 1, now() at time zone 'UTC', 1, now() at time zone 'UTC')",
                SQL.identifier(table),
                active,
                row_id,
                SQL("jsonb_build_object('en_US', %s::text)", name) if translated else SQL("%s", name),
                active_value,
            )
        )
    env.invalidate_all()
    return ids


# -- INVALID_FIELD_DOMAIN -----------------------------------------------------


def _set_column(env, record, column, value):
    env.flush_all()
    env.cr.execute(
        SQL(
            "UPDATE %s SET %s = %s WHERE id = %s",
            SQL.identifier(record._table),
            SQL.identifier(column),
            value,
            record.id,
        )
    )
    env.invalidate_all()
    env.registry.clear_cache()


def break_saved_filter(env, model="res.partner", user=None):
    """A favourite whose domain uses a field that was uninstalled since."""
    saved = env["ir.filters"].create(
        {
            "name": "self_healing chaos favourite",
            "model_id": model,
            **compat.filter_owner_values(user or env["res.users"]),
            "domain": "[('name', '!=', False)]",
        }
    )
    _set_column(env, saved, "domain", f"[('{GHOST_FIELD}', '=', True), ('name', '!=', False)]")
    return saved


def break_action_domain(env, model="res.partner"):
    action = env["ir.actions.act_window"].create(
        {
            "name": "self_healing chaos action",
            "res_model": model,
            "domain": "[('name', '!=', False)]",
        }
    )
    _set_column(env, action, "domain", f"[('{GHOST_FIELD}', '=', True)]")
    return action


def break_record_rule(env, model="res.partner.category", group_xmlid="base.group_user"):
    """A record rule whose domain uses a missing field: every search of its users fails."""
    rule = env["ir.rule"].create(
        {
            "name": "self_healing chaos rule",
            "model_id": env["ir.model"]._get_id(model),
            "groups": [(4, env.ref(group_xmlid).id)],
            "domain_force": "[(1, '=', 1)]",
        }
    )
    _set_column(env, rule, "domain_force", f"[('{GHOST_FIELD}', '=', user.id)]")
    return rule


# -- UNDEFINED_COLUMN ---------------------------------------------------------


def drop_column(env, model="res.partner.industry", column="full_name"):
    """The column of a stored field disappears, as when code is updated without '-u'."""
    env.flush_all()
    table = env[model]._table
    env.cr.execute(SQL("ALTER TABLE %s DROP COLUMN %s", SQL.identifier(table), SQL.identifier(column)))
    env.invalidate_all()
    return table


# -- CRON_FAILURE -------------------------------------------------------------

CRON_DIVISOR_PARAM = "self_healing.chaos_cron_divisor"
FAILING_CRON_CODE = (
    f"divisor = int(env['ir.config_parameter'].sudo().get_param('{CRON_DIVISOR_PARAM}', '0'))\n"
    "result = 100 // divisor\n"
)


def make_failing_cron(env, name="self_healing chaos cron"):
    env["ir.config_parameter"].sudo().set_param(CRON_DIVISOR_PARAM, "0")
    return env["ir.cron"].create(
        {
            "name": name,
            "model_id": env["ir.model"]._get_id("res.partner"),
            "state": "code",
            "code": FAILING_CRON_CODE,
            "interval_number": 1,
            "interval_type": "days",
        }
    )


def run_cron_as_scheduler(env, cron):
    """One run as the scheduler does it: the job, then Odoo's own failure bookkeeping.

    Returns the exception the job raised, or None.
    """
    error = None
    try:
        with env.cr.savepoint():
            cron.with_user(cron.user_id).ir_actions_server_id.run()
    except Exception as exc:  # noqa: BLE001 - the job's failure is what is being injected
        error = exc
    env.flush_all()
    env.cr.execute(
        "SELECT id, cron_name, failure_count, first_failure_date, active FROM ir_cron WHERE id = %s", [cron.id]
    )
    job = env.cr.dictfetchone()
    env["ir.cron"]._update_failure_count(job, CompletionStatus.FAILED if error else CompletionStatus.FULLY_DONE)
    env.invalidate_all()
    return error


def fail_cron_until_deactivated(env, cron):
    """Four failures over the last week, then a fifth one: Odoo switches the job off."""
    env.flush_all()
    env.cr.execute(
        "UPDATE ir_cron SET failure_count = 4, first_failure_date = %s WHERE id = %s",
        [fields.Datetime.now() - timedelta(days=8), cron.id],
    )
    env.invalidate_all()
    return run_cron_as_scheduler(env, cron)


def heal_cron_cause(env):
    env["ir.config_parameter"].sudo().set_param(CRON_DIVISOR_PARAM, "4")


def stick_module(env, module, state, minutes_ago=120):
    """Leave a module in a transient state, as an interrupted install or upgrade does."""
    env.flush_all()
    env.cr.execute(
        "UPDATE ir_module_module SET state = %s, write_date = %s WHERE name = %s",
        [state, fields.Datetime.now() - timedelta(minutes=minutes_ago), module],
    )
    env.invalidate_all()
    return env["ir.module.module"].search([("name", "=", module)])


# -- MAIL_DELIVERY ------------------------------------------------------------


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def real_smtp():
    """Let Odoo really connect and send while a test runs.

    Odoo skips SMTP whenever ``odoo.modules.module.current_test`` is set;
    production never sets it, so the injectors and patches see real SMTP.
    19.0 asks for its switch ``_disable_send`` to be lifted instead (as its own
    SMTP tests do): clearing ``current_test`` would also forbid test cursors there.
    """
    if compat.ODOO_MAJOR >= 19:
        from odoo.addons.base.models.ir_mail_server import IrMail_Server  # noqa: PLC0415 - 19.0 name

        with mock.patch.object(IrMail_Server, "_disable_send", classmethod(lambda cls: bool(cls.pool._init))):
            yield
        return
    saved = odoo_module.current_test
    odoo_module.current_test = None
    try:
        yield
    finally:
        odoo_module.current_test = saved


def make_mail_server(env, port):
    return env["ir.mail_server"].create(
        {
            "name": "self_healing chaos SMTP",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_encryption": "none",
            "sequence": 1,
        }
    )


def make_stuck_mail(env, mail_server, count=1):
    """Mails sent while their SMTP server is down: they end in 'exception', like in production."""
    mails = env["mail.mail"].create(
        [
            {
                "subject": f"self_healing chaos mail {index}",
                "body_html": "<p>Sent again by the mail_retry auto-patch.</p>",
                "email_from": "odoo@example.com",
                "email_to": f"customer{index}@example.com",
                "mail_server_id": mail_server.id,
                "auto_delete": False,
            }
            for index in range(count)
        ]
    )
    with real_smtp():
        mails.send(raise_exception=False)
    return mails


# -- MANIFEST_INVALID ---------------------------------------------------------


@contextlib.contextmanager
def throwaway_addon(name, manifest_text):
    """A custom addons folder with one module, registered as a configured addons path."""
    root = tempfile.mkdtemp(prefix="self_healing_addons_")
    module_dir = os.path.join(root, name)
    os.mkdir(module_dir)
    with open(os.path.join(module_dir, "__init__.py"), "w", encoding="utf-8"):
        pass
    with open(os.path.join(module_dir, "__manifest__.py"), "w", encoding="utf-8") as handle:
        handle.write(manifest_text)
    compat.add_addons_path(root)
    try:
        yield module_dir
    finally:
        with contextlib.suppress(ValueError):
            compat.remove_addons_path(root)
        sys.modules.pop(f"odoo.addons.{name}", None)
        shutil.rmtree(root, ignore_errors=True)


# -- SERIALIZATION_FAILURE / LOCK_NOT_AVAILABLE -------------------------------


def provoke_serialization_failure(registry):
    """Two real transactions update one row; the later one gets PostgreSQL's SerializationFailure.

    Returns the exception. The scratch row is committed, then deleted again.
    """
    key = "self_healing.chaos_serialization"
    with registry.cursor() as setup:
        setup.execute(
            "INSERT INTO ir_config_parameter (key, value) VALUES (%s, '0') ON CONFLICT (key) DO NOTHING", [key]
        )
    first, second = registry.cursor(), registry.cursor()
    try:
        first.execute("SELECT value FROM ir_config_parameter WHERE key = %s", [key])  # takes the snapshot
        second.execute("UPDATE ir_config_parameter SET value = '1' WHERE key = %s", [key])
        second.commit()
        try:
            first.execute("UPDATE ir_config_parameter SET value = '2' WHERE key = %s", [key])
        except psycopg2.errors.SerializationFailure as exc:
            return exc
        return None
    finally:
        first.rollback()
        first.close()
        second.close()
        with registry.cursor() as cleanup:
            cleanup.execute("DELETE FROM ir_config_parameter WHERE key = %s", [key])


# -- ACCOUNT_SEQUENCE ---------------------------------------------------------


def lag_numbering(env, prefix="SHT/", used=5, next_number=3):
    """A numbering sequence behind the numbers already used (config parameter keys, which are unique)."""
    sequence = env["ir.sequence"].create(
        {
            "name": "self_healing chaos numbering",
            "code": "self_healing.chaos_numbering",
            "prefix": prefix,
            "padding": 4,
            "implementation": "standard",
        }
    )
    for number in range(1, used + 1):
        env["ir.config_parameter"].create({"key": f"{prefix}{number:04d}", "value": "used"})
    sequence.write({"number_next": next_number})
    return sequence
