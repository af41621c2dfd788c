"""The chaos scenarios: one real fault each, injected, then provoked the way it shows up in production.

A scenario's ``inject(env, run)`` breaks the database (through the fault
injectors of chaos/faults.py) and returns plain facts; ``provocation(facts)``
describes, as data, what a user or the scheduler does next that makes the
fault fail and log. The chaos command carries that out for real over HTTP
(a JSON-RPC call, a page request, a scheduled action run, two transactions
writing one row); the tests carry out the same description in-process
(chaos/inprocess.py). Nothing here heals anything: that is the addon's job.

Provocation kinds:

``call``        JSON-RPC ``call_kw`` of ``model.method(*args, **kwargs)`` as the admin
``xmlrpc``      the same through XML-RPC ``execute_kw`` (an integration script, not the web client)
``get``         an HTTP GET of ``path`` in the admin's session
``cron``        run scheduled action ``cron_id`` now (through the scheduler, not inline);
                ``smtp_failures`` connections to the chaos SMTP server fail first
``concurrent``  another transaction updates row ``id`` of ``table`` while the admin
                writes ``values`` on the same ``model`` record
"""

import ast
import os
import textwrap
from dataclasses import dataclass, field
from datetime import timedelta

from odoo import fields

from . import faults
from .names import MAIL_SERVER_PARAM  # noqa: F401 - the wizard reads it from here

CHAOS_ALLOWED_PARAM = "self_healing.chaos_allowed"
ADDONS_PATH_PARAM = "self_healing.chaos_addons_path"
CAPTURE_LEVEL_PARAM = "self_healing.capture_level"
CRON_PREFIX = "Self-Healing chaos: "


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    error_class: str
    autopatch: str
    inject: object  # (env, RoundContext) -> facts dict
    provocation: object  # facts -> provocation dict
    critical: bool = False
    # Odoo 18 reports a few faults only as WARNING: the capture must look that low for them.
    capture_level: str = None
    cleanup: object = None  # (env, facts) -> None: undo what a human would, after a round that did not heal
    # System parameters the scenario needs for its run only (set before it, removed after).
    settings: dict = field(default_factory=dict)
    notes: str = ""
    tags: tuple = field(default_factory=tuple)
    # A fault the addon detects and matches but cannot fix yet: the run expects an alert with the
    # guardrail's steps (escalated, nothing applied) and prints why, so the gap stays in sight.
    known_gap: str = ""

    def describe(self):
        return {
            "name": self.name,
            "title": self.title,
            "error_class": self.error_class,
            "autopatch": self.autopatch,
            "critical": self.critical,
            "capture_level": self.capture_level,
            "settings": dict(self.settings),
            "notes": self.notes,
            "known_gap": self.known_gap,
        }


@dataclass(frozen=True)
class RoundContext:
    """What an injection may depend on besides the database: the round number and the run's resources."""

    round: int = 1
    addons_path: str = ""
    mail_server_id: int = 0


def _call(model, method, *args, **kwargs):
    return {"kind": "call", "model": model, "method": method, "args": list(args), "kwargs": kwargs}


def _xmlrpc(model, method, *args, **kwargs):
    return dict(_call(model, method, *args, **kwargs), kind="xmlrpc")


def _scheduled_action(env, name, model, code):
    """A code scheduled action of the chaos database, created once and re-armed each round."""
    crons = env["ir.cron"].with_context(active_test=False)
    cron = crons.search([("cron_name", "=", CRON_PREFIX + name)], limit=1)
    values = {
        "name": CRON_PREFIX + name,
        "model_id": env["ir.model"]._get_id(model),
        "state": "code",
        "code": code,
        "interval_number": 1,
        "interval_type": "days",
        "active": True,
        "nextcall": fields.Datetime.now() + timedelta(days=1),
    }
    if cron:
        cron.write(values)
        return cron
    return crons.create(values)


# -- SEQ_PKEY_DRIFT ---------------------------------------------------------------


def inject_pkey_drift(env, run):
    env["res.partner.category"].create([{"name": f"chaos tag {run.round}.{n}"} for n in range(3)])
    faults.drift_id_sequence(env, "res_partner_category", lag=2)
    return {"model": "res.partner.category"}


def provoke_pkey_drift(facts):
    return _call(facts["model"], "create", [{"name": "a tag created after the restore"}])


# -- SEQ_PKEY_DRIFT, by plain SQL: an import with explicit ids, met by an integration --------------

IMPORT_TABLE = "res_partner_industry"


def inject_pkey_import(env, run):
    ids = faults.import_rows_with_explicit_ids(
        env, IMPORT_TABLE, [f"Imported industry {run.round}.{n}" for n in range(3)]
    )
    return {"model": "res.partner.industry", "ids": ids}


def provoke_pkey_import(facts):
    return _xmlrpc(facts["model"], "create", [{"name": "an industry created by the shop's sync"}])


# -- ASSET_BUNDLE -----------------------------------------------------------------

BUNDLE = "web.assets_clickbot"


def inject_asset_bundle(env, run):
    attachment = faults.bundle_attachment(env, BUNDLE)
    faults.break_bundle_file(attachment, "missing")
    return {"url": attachment.url, "attachment_id": attachment.id}


def provoke_asset_bundle(facts):
    return {"kind": "get", "path": facts["url"]}


# -- VIEW_FIELD_MISSING -----------------------------------------------------------


def inject_view_field(env, run):
    view = faults.break_inheriting_view(env, "base.res_partner_industry_view_form", kind="field")
    return {"view_id": view.id, "arch": view.arch_db}


def provoke_view_field(facts):
    # Odoo 18 serves the broken form without a word (the browser fails on it); the server only
    # objects when a view of that tree is saved: here the administrator saves the customisation.
    return _call("ir.ui.view", "write", [facts["view_id"]], {"arch": facts["arch"]})


# -- XPATH_NOT_FOUND: the same kind of customisation, worded by Odoo as an anchor ----------------

ANCHOR_PARENT = "base.res_partner_industry_view_form"


def inject_view_anchor(env, run):
    view = faults.break_inheriting_view(env, ANCHOR_PARENT, kind="anchor")
    return {"view_id": view.id, "model": "res.partner.industry"}


def provoke_view_anchor(facts):
    # The user opens an industry: the web client asks for the form, which cannot be built.
    return _call(facts["model"], "get_views", [[False, "form"]])


# -- XPATH_NOT_FOUND met by an integration: the same fault, asked for over XML-RPC ------------------

XMLRPC_ANCHOR_PARENT = "base.view_country_state_form"


def inject_view_anchor_xmlrpc(env, run):
    view = faults.break_inheriting_view(
        env, XMLRPC_ANCHOR_PARENT, kind="anchor", name=f"self_healing chaos state customisation {run.round}"
    )
    return {"view_id": view.id, "model": "res.country.state"}


def provoke_view_anchor_xmlrpc(facts):
    # A mobile app or a sync asks for the form it renders; its path names no model.
    return _xmlrpc(facts["model"], "get_views", [[False, "form"]])


# -- XPATH_NOT_FOUND, Odoo's other wording: a moved node, quoted whole ------------------------------

MOVED_PARENT = "base.view_res_bank_form"


def inject_view_moved(env, run):
    view = faults.break_inheriting_view(
        env, MOVED_PARENT, kind="moved", name=f"self_healing chaos moved field {run.round}"
    )
    return {"view_id": view.id, "model": "res.bank"}


# -- XPATH_NOT_FOUND in a custom addon: a customisation deleted through the ORM left another orphaned ----

SLOT_MODEL = "self_healing_chaos.delivery_slot"
SLOT_FORM = "self_healing_chaos.delivery_slot_view_form"


def inject_view_orphaned(env, run):
    orphan = faults.orphan_customisation(env, SLOT_FORM, anchor_class=f"o_chaos_extra_{run.round}")
    return {"view_id": orphan.id, "model": SLOT_MODEL}


# -- SEQ_PKEY_DRIFT in a custom addon: rows imported by plain SQL, met by the customer's nightly job ----


def _open_slot_job(env):
    return _scheduled_action(
        env, "open tomorrow's delivery slot", SLOT_MODEL, "model.create({'name': 'Slot of tomorrow'})"
    )


def inject_slot_import(env, run):
    env[SLOT_MODEL].create([{"name": f"Slot {run.round}.{n}"} for n in range(2)])
    ids = faults.import_rows_with_explicit_ids(
        env, env[SLOT_MODEL]._table, [f"Imported slot {run.round}.{n}" for n in range(3)]
    )
    return {"cron_id": _open_slot_job(env).id, "ids": ids, "table": env[SLOT_MODEL]._table}


# -- UNDEFINED_COLUMN in a custom addon, met by its nightly job: Odoo's INSERT wording ----------------


def inject_slot_column(env, run):
    faults.drop_column(env, SLOT_MODEL, "capacity")
    return {"cron_id": _open_slot_job(env).id, "model": SLOT_MODEL, "column": "capacity"}


# -- INVALID_FIELD_DOMAIN: a saved filter ----------------------------------------


def inject_saved_filter(env, run):
    saved = faults.break_saved_filter(env, "res.partner", user=env.ref("base.user_admin"))
    return {"filter_id": saved.id, "model": "res.partner", "domain": ast.literal_eval(saved.domain)}


def provoke_saved_filter(facts):
    # The user picks the favourite: the web client searches with its domain.
    return _call(facts["model"], "web_search_read", facts["domain"], {"display_name": {}}, limit=80)


# -- INVALID_FIELD_DOMAIN: a record rule (critical) ------------------------------

RULE_MODEL = "res.partner.industry"


def inject_record_rule(env, run):
    rule = faults.break_record_rule(env, RULE_MODEL, "base.group_user")
    return {"rule_id": rule.id, "model": RULE_MODEL}


def provoke_record_rule(facts):
    return _call(facts["model"], "web_search_read", [], {"display_name": {}}, limit=80)


# -- UNDEFINED_COLUMN -------------------------------------------------------------


def inject_missing_column(env, run):
    faults.drop_column(env, "res.partner.industry", "full_name")
    return {"model": "res.partner.industry", "column": "full_name"}


def provoke_missing_column(facts):
    return _call(facts["model"], "web_search_read", [], {"display_name": {}, facts["column"]: {}}, limit=80)


# -- UNDEFINED_COLUMN, met by an integration over XML-RPC -------------------------

COLUMN_MODEL, COLUMN_NAME = "res.bank", "bic"


def inject_missing_column_xmlrpc(env, run):
    faults.drop_column(env, COLUMN_MODEL, COLUMN_NAME)
    return {"model": COLUMN_MODEL, "column": COLUMN_NAME}


def provoke_missing_column_xmlrpc(facts):
    return _xmlrpc(facts["model"], "search_read", [], [facts["column"], "name"], limit=80)


# -- CRON_FAILURE: deactivated after failures, cause gone since -------------------


def inject_cron_deactivated(env, run):
    """A nightly check of the outgoing mail server that failed all week during the provider's outage.

    Four failures are on record since eight days; the provider answers 421 one
    last time when the job runs now, and Odoo switches the job off. The outage
    is over after that connection: the cause is healed, the job stays off.
    """
    cron = _scheduled_action(
        env,
        "check the outgoing mail server",
        "ir.mail_server",
        f"env['ir.mail_server'].browse({run.mail_server_id}).test_smtp_connection()",
    )
    env.flush_all()
    env.cr.execute(
        "UPDATE ir_cron SET failure_count = 4, first_failure_date = %s WHERE id = %s",
        [fields.Datetime.now() - timedelta(days=8), cron.id],
    )
    env.invalidate_all()
    return {"cron_id": cron.id, "smtp_failures": 1}


def provoke_cron(facts):
    return {"kind": "cron", "cron_id": facts["cron_id"], "smtp_failures": facts.get("smtp_failures", 0)}


# -- MAIL_DELIVERY ----------------------------------------------------------------


def inject_mail_stuck(env, run):
    """A mail queued for the chaos SMTP server; the provider is briefly down when the queue runs."""
    mail = env["mail.mail"].create(
        {
            "subject": f"Your order confirmation (chaos round {run.round})",
            "body_html": "<p>Sent again by the mail_retry auto-patch once the server answers.</p>",
            "email_from": "shop@example.com",
            "email_to": f"customer{run.round}@example.com",
            "mail_server_id": run.mail_server_id,
            "auto_delete": False,
        }
    )
    return {"mail_id": mail.id, "cron_id": env.ref("mail.ir_cron_mail_scheduler_action").id, "smtp_failures": 1}


# -- CRON_FAILURE: modules stuck in a pending state -------------------------------


def inject_module_stuck(env, run):
    module = env["ir.module.module"].search(
        [("state", "=", "uninstalled"), ("name", "=like", "base\\_%")], order="name", limit=1
    )
    faults.stick_module(env, module.name, "to install", minutes_ago=120)
    return {"module": module.name, "cron_id": env.ref("self_healing.ir_cron_occurrence_retention").id}


def cleanup_module_stuck(env, facts):
    env["ir.module.module"].search([("name", "=", facts["module"]), ("state", "=", "to install")]).write(
        {"state": "uninstalled"}
    )


# -- MANIFEST_INVALID -------------------------------------------------------------

BROKEN_MANIFEST = textwrap.dedent("""\
    # Copied from the 17.0 branch of a customer's repository.
    {
        "name": "Chaos Delivery Slots",
        "version": "17.0.2.1.0",
        "depends": ["base"],
        "data": [],
    }
""")


def inject_manifest(env, run):
    """A custom addon deployed without a license and with a 17.0 version (a new folder each round:
    Odoo reads a manifest once per process)."""
    if not run.addons_path or not os.path.isdir(run.addons_path):
        raise ValueError(f"the chaos addons folder {run.addons_path!r} does not exist")
    name = f"self_healing_chaos_addon_{run.round}"
    folder = os.path.join(run.addons_path, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "__init__.py"), "w", encoding="utf-8"):
        pass
    with open(os.path.join(folder, "__manifest__.py"), "w", encoding="utf-8") as handle:
        handle.write(BROKEN_MANIFEST)
    return {"module": name, "folder": folder}


def provoke_manifest(facts):
    # Apps > Update Apps List.
    return _call("ir.module.module", "update_list")


# -- SERIALIZATION_FAILURE --------------------------------------------------------


def inject_serialization(env, run):
    contact = env["res.partner"].create({"name": f"Chaos shared contact {run.round}"})
    return {"model": "res.partner", "table": "res_partner", "id": contact.id}


def provoke_serialization(facts):
    return {
        "kind": "concurrent",
        "model": facts["model"],
        "table": facts["table"],
        "id": facts["id"],
        "values": {"name": "renamed by two people at once"},
    }


# -- ACCOUNT_SEQUENCE (critical) ------------------------------------------------

NUMBERING_CODE = "self_healing.chaos_numbering"


def number_registrations(env):
    """The customer's nightly job: give the day's registration the next number of its sequence."""
    # Written the way such jobs usually are, the number drawn inline: the traceback shows this
    # very line, sequence code included, so it stays one line whatever the formatter prefers.
    env["ir.config_parameter"].create({"key": env["ir.sequence"].next_by_code("self_healing.chaos_numbering"), "value": "new"})  # noqa: E501  # fmt: skip


def inject_numbering(env, run):
    """Numbers up to SHC/0005 were imported from the old system; the sequence still says 3."""
    env["ir.sequence"].search([("code", "=", NUMBERING_CODE)]).unlink()
    faults.lag_numbering(env, prefix="SHC/", used=5, next_number=3)
    cron = _scheduled_action(
        env, "number the day's registrations", "self_healing.chaos", "model._chaos_number_registrations()"
    )
    return {"cron_id": cron.id}


# -- EXPECTED_SINGLETON: no safe automatic fix, an alert with the guardrail's steps -----------


def inject_singleton_action(env, run):
    """An administrator's server action written for one contact, run from the list on two of them."""
    partners = env["res.partner"].create([{"name": f"Chaos singleton contact {run.round}.{index}"} for index in (1, 2)])
    action = env["ir.actions.server"].create(
        {
            "name": CRON_PREFIX + "copy the name into the notes",
            "model_id": env["ir.model"]._get_id("res.partner"),
            "state": "code",
            "code": "records.write({'comment': records.name})",
        }
    )
    return {"action_id": action.id, "partner_ids": partners.ids}


def provoke_singleton_action(facts):
    ids = facts["partner_ids"]
    context = {"active_model": "res.partner", "active_ids": ids, "active_id": ids[0]}
    return _call("ir.actions.server", "run", [facts["action_id"]], context=context)


SCENARIOS = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "pkey_sequence_drift",
            "Primary-key sequence behind max(id) after a restore",
            "SEQ_PKEY_DRIFT",
            "sequence_resync",
            inject_pkey_drift,
            provoke_pkey_drift,
        ),
        Scenario(
            "pkey_import_xmlrpc",
            "Rows imported by plain SQL with explicit ids; an integration creates one over XML-RPC",
            "SEQ_PKEY_DRIFT",
            "sequence_resync",
            inject_pkey_import,
            provoke_pkey_import,
        ),
        Scenario(
            "asset_bundle",
            "Generated asset bundle whose file vanished from the filestore",
            "ASSET_BUNDLE",
            "asset_bundle_purge",
            inject_asset_bundle,
            provoke_asset_bundle,
        ),
        Scenario(
            "view_missing_field",
            "Database-only view naming a field that no longer exists",
            "VIEW_FIELD_MISSING",
            "view_deactivate",
            inject_view_field,
            provoke_view_field,
            capture_level="WARNING",
            notes="Odoo 18 renders the form without the field server-side; saving a view of the tree fails with "
            "a ValidationError, which odoo.http logs at WARNING.",
        ),
        Scenario(
            "view_anchor_missing",
            "Database-only view whose xpath anchor is gone from its parent",
            "XPATH_NOT_FOUND",
            "view_deactivate",
            inject_view_anchor,
            provoke_view_anchor,
            notes="Odoo words this one differently from a missing field: the element cannot be located "
            "in parent view, and get_views itself fails, so the form does not open. The error names only "
            "the xpath: view_deactivate finds the customised view holding it (on the model of the failing "
            "request) and checks that the xpath matches nothing in the parent's combined arch.",
        ),
        Scenario(
            "view_anchor_xmlrpc",
            "Database-only view whose xpath anchor is gone, met by an integration over XML-RPC",
            "XPATH_NOT_FOUND",
            "view_deactivate",
            inject_view_anchor_xmlrpc,
            provoke_view_anchor_xmlrpc,
            notes="Odoo 18.0 answers the caller a Fault and logs nothing; the addon logs it as odoo.http "
            "would (19.0 does by itself). /xmlrpc/2/object names no model: view_deactivate looks for the "
            "customised view holding the anchor on every model.",
        ),
        Scenario(
            "view_anchor_moved",
            "Database-only view moving a field its parent no longer has",
            "XPATH_NOT_FOUND",
            "view_deactivate",
            inject_view_moved,
            provoke_view_anchor,
            notes="Odoo's third wording of a lost anchor: the moved node is quoted whole, between curly "
            "quotes, with its tail (the error's quote spans two lines).",
        ),
        Scenario(
            "view_anchor_orphaned",
            "Custom addon's form: a customisation deleted through the ORM orphaned another one",
            "XPATH_NOT_FOUND",
            "view_deactivate",
            inject_view_orphaned,
            provoke_view_anchor,
            notes="Both customisations are made and the first is deleted through the ORM, which checks "
            "nothing; the orphan anchors on hasclass() of a div that is gone, on the chaos addon's own form.",
        ),
        Scenario(
            "pkey_import_cron",
            "Custom addon's rows imported by plain SQL; its nightly job creates one",
            "SEQ_PKEY_DRIFT",
            "sequence_resync",
            inject_slot_import,
            provoke_cron,
        ),
        Scenario(
            "missing_column_cron",
            "Custom addon's stored field without its column, met by its nightly job",
            "UNDEFINED_COLUMN",
            "module_upgrade",
            inject_slot_column,
            provoke_cron,
            notes='An INSERT meets the missing column: PostgreSQL words it \'column "capacity" of relation '
            "... does not exist', not 'column table.capacity does not exist' as a SELECT does.",
        ),
        Scenario(
            "saved_filter",
            "Saved filter whose domain names an uninstalled field",
            "INVALID_FIELD_DOMAIN",
            "filter_deactivate",
            inject_saved_filter,
            provoke_saved_filter,
        ),
        Scenario(
            "missing_column",
            "Stored field without its column after a code update",
            "UNDEFINED_COLUMN",
            "module_upgrade",
            inject_missing_column,
            provoke_missing_column,
        ),
        Scenario(
            "missing_column_xmlrpc",
            "Stored field without its column, read by an integration over XML-RPC",
            "UNDEFINED_COLUMN",
            "module_upgrade",
            inject_missing_column_xmlrpc,
            provoke_missing_column_xmlrpc,
        ),
        Scenario(
            "cron_deactivated",
            "Scheduled action switched off after a week of failures, cause gone",
            "CRON_FAILURE",
            "cron_reactivate",
            inject_cron_deactivated,
            provoke_cron,
        ),
        Scenario(
            "mail_stuck",
            "Mail left in exception by a transient SMTP failure",
            "MAIL_DELIVERY",
            "mail_retry",
            inject_mail_stuck,
            provoke_cron,
        ),
        Scenario(
            "module_stuck",
            "Module left 'to install': the scheduler skips the database",
            "CRON_FAILURE",
            "module_state_reset",
            inject_module_stuck,
            provoke_cron,
            cleanup=cleanup_module_stuck,
            notes="Odoo 18 only warns ('Skipping database ... because of modules to install/upgrade/remove') "
            "and skips every scheduled action of the database, the addon's own included. The capture "
            "keeps that warning at any capture level, and the scheduler stand-in "
            "(detection/standin.py) runs the addon's processing and healing jobs meanwhile.",
        ),
        Scenario(
            "manifest_invalid",
            "Custom addon manifest without license and with a 17.0 version",
            "MANIFEST_INVALID",
            "manifest_fix",
            inject_manifest,
            provoke_manifest,
            capture_level="WARNING",
            notes=(
                "Odoo 18 only warns about a missing license (an invalid version is logged at DEBUG);"
                " Odoo 19 also warns that the version is of another series."
            ),
        ),
        Scenario(
            "serialization_failure",
            "Two transactions updating one row at once",
            "SERIALIZATION_FAILURE",
            "transient_watch",
            inject_serialization,
            provoke_serialization,
            # Provoked once: a 20-second quiet window (30 minutes by default) tells it stopped, and
            # keeps the run short. The only setting a scenario changes; the transient watch is the
            # one fix that heals by waiting, not on its first attempt.
            settings={"self_healing.transient_window_seconds": "20"},
        ),
        Scenario(
            "record_rule",
            "Record rule naming a field that no longer exists",
            "INVALID_FIELD_DOMAIN",
            "rule_deactivate",
            inject_record_rule,
            provoke_record_rule,
            critical=True,
        ),
        Scenario(
            "numbering_sequence",
            "Business numbering sequence behind the numbers already used",
            "ACCOUNT_SEQUENCE",
            "sequence_number_resync",
            inject_numbering,
            provoke_cron,
            critical=True,
        ),
        Scenario(
            "singleton_action",
            "A server action written for one record, run on several",
            "EXPECTED_SINGLETON",
            False,
            inject_singleton_action,
            provoke_singleton_action,
            known_gap="by design: an action's code is a person's to change; the alert carries the guardrail's steps",
        ),
    )
}


def get(name):
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown chaos scenario {name!r}; known: {', '.join(SCENARIOS)}") from None


def selection():
    return [(scenario.name, scenario.title) for scenario in SCENARIOS.values()]
