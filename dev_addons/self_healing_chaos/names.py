"""The chaos scenarios' names, in run order, readable without Odoo.

The chaos command checks ``--only`` against them before it spends a minute
creating a database; tests keep them equal to chaos/scenarios.py. The demo command
reads the outgoing mail server the chaos set-up made from MAIL_SERVER_PARAM.
"""

MAIL_SERVER_PARAM = "self_healing.chaos_mail_server_id"

SCENARIO_NAMES = (
    "pkey_sequence_drift",
    "pkey_import_xmlrpc",
    "asset_bundle",
    "view_missing_field",
    "view_anchor_missing",
    "view_anchor_xmlrpc",
    "view_anchor_moved",
    "view_anchor_orphaned",
    "pkey_import_cron",
    "missing_column_cron",
    "saved_filter",
    "missing_column",
    "missing_column_xmlrpc",
    "cron_deactivated",
    "mail_stuck",
    "module_stuck",
    "manifest_invalid",
    "serialization_failure",
    "record_rule",
    "numbering_sequence",
    "singleton_action",
)
