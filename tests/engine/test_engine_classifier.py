"""The rules-first classifier on hand-written Odoo error texts.

The examples below are development examples written for these tests (the
evaluation corpus lives elsewhere and is not used here). Each mimics what the
Odoo 18 server logs: a log header, a traceback, chained causes.
"""

import re

import pytest

from engine.library.guardrails import load_library
from engine.match import classifier as classifier_module
from engine.match.classifier import (
    UNKNOWN,
    Classifier,
    classify,
    parse_log,
    required_literal,
)

CAUSE = "\n\nThe above exception was the direct cause of the following exception:\n\n"
DURING = "\n\nDuring handling of the above exception, another exception occurred:\n\n"


def header(level, logger, message, db="prod"):
    return f"2025-03-14 09:12:33,481 4242 {level} {db} {logger}: {message}"


def traceback(frames, exception):
    lines = ["Traceback (most recent call last):"]
    for path, number, function, code in frames:
        lines.append(f'  File "{path}", line {number}, in {function}')
        lines.append(f"    {code}")
    lines.append(exception)
    return "\n".join(lines)


HTTP = [
    ("/opt/odoo/odoo/http.py", 2373, "__call__", "response = request._serve_db()"),
    ("/opt/odoo/odoo/http.py", 1958, "_serve_db", "return service_model.retrying(self._serve_ir_http, self.env)"),
    ("/opt/odoo/odoo/service/model.py", 137, "retrying", "result = func()"),
    ("/opt/odoo/odoo/http.py", 1986, "_serve_ir_http", "response = self.dispatcher.dispatch(rule.endpoint, args)"),
    (
        "/opt/odoo/addons/web/controllers/dataset.py",
        28,
        "call_kw",
        "return call_kw(request.env[model], method, args, kwargs)",
    ),
]
SQL = [
    ("/opt/odoo/odoo/models.py", 4859, "_create", "cr.execute(SQL("),
    ("/opt/odoo/odoo/sql_db.py", 354, "execute", "res = self._obj.execute(query, params)"),
]
CRON = [
    (
        "/opt/odoo/odoo/addons/base/models/ir_cron.py",
        566,
        "_callback",
        "self.env['ir.actions.server'].browse(server_action_id).run()",
    ),
    (
        "/opt/odoo/odoo/addons/base/models/ir_actions.py",
        1011,
        "run",
        "res = runner(run_self, eval_context=eval_context)",
    ),
]
REQUEST_ERROR = header("ERROR", "odoo.http", "Exception during request handling.")


def with_cause(root, wrapper):
    return root + CAUSE + wrapper


EXAMPLES = [
    # --- primary key drift vs other unique violations -------------------------------------
    (
        "pkey drift wrapped in ValidationError",
        "SEQ_PKEY_DRIFT",
        REQUEST_ERROR
        + "\n"
        + with_cause(
            traceback(
                HTTP + SQL,
                "psycopg2.errors.UniqueViolation: duplicate key value violates unique "
                'constraint "stock_picking_pkey"\nDETAIL:  Key (id)=(11063) already exists.',
            ),
            traceback(
                HTTP[:3],
                "odoo.exceptions.ValidationError: The operation cannot be completed: "
                'duplicate key value violates unique constraint "stock_picking_pkey"\n'
                "DETAIL:  Key (id)=(11063) already exists.",
            ),
        ),
    ),
    (
        "pkey drift from the bad query log",
        "SEQ_PKEY_DRIFT",
        header(
            "ERROR",
            "odoo.sql_db",
            'bad query: INSERT INTO "mail_message" ("author_id", "body") VALUES (3, \'hi\') RETURNING "id"\n'
            'ERROR: duplicate key value violates unique constraint "mail_message_pkey"\n'
            "DETAIL:  Key (id)=(88412) already exists.",
        ),
    ),
    (
        "business unique constraint",
        "UNIQUE_VIOLATION_OTHER",
        REQUEST_ERROR
        + "\n"
        + with_cause(
            traceback(
                HTTP + SQL,
                "psycopg2.errors.UniqueViolation: duplicate key value violates unique "
                'constraint "fleet_vehicle_x_plate_uniq"\nDETAIL:  Key (x_plate)=(AB-123-CD) already exists.',
            ),
            traceback(
                HTTP[:3],
                "odoo.exceptions.ValidationError: The operation cannot be completed: The plate must be unique!",
            ),
        ),
    ),
    (
        "many2many composite key looks like a pkey",
        "UNIQUE_VIOLATION_OTHER",
        header(
            "ERROR",
            "odoo.sql_db",
            "bad query: INSERT INTO res_groups_users_rel (gid, uid) VALUES (14, 7)\n"
            'ERROR: duplicate key value violates unique constraint "res_groups_users_rel_pkey"\n'
            "DETAIL:  Key (gid, uid)=(14, 7) already exists.",
        ),
    ),
    (
        "unique constraint cannot be added during upgrade",
        "UNIQUE_VIOLATION_OTHER",
        header(
            "WARNING",
            "odoo.schema",
            "Table 'product_template': unable to add constraint 'product_template_x_sku_uniq' as unique(x_sku)",
        ),
    ),
    (
        "duplicate posted entry name is an accounting sequence problem",
        "ACCOUNT_SEQUENCE",
        REQUEST_ERROR
        + "\n"
        + with_cause(
            traceback(
                HTTP + SQL,
                "psycopg2.errors.UniqueViolation: duplicate key value violates unique "
                'constraint "account_move_unique_name"\nDETAIL:  Key (name, journal_id)=(INV/2025/00042, 1) already exists.',
            ),
            traceback(
                HTTP[:3],
                "odoo.exceptions.ValidationError: The operation cannot be completed: "
                "Another entry with the same name already exists.",
            ),
        ),
    ),
    # --- undefined column vs undefined table --------------------------------------------
    (
        "column of a field whose module was not upgraded",
        "UNDEFINED_COLUMN",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/odoo/models.py",
                    4046,
                    "_fetch_query",
                    "rows = self.env.execute_query(query.select(*sql_terms))",
                )
            ]
            + SQL[1:],
            "psycopg2.errors.UndefinedColumn: column res_partner.x_loyalty_tier does not exist\n"
            'LINE 1: ...partner"."id", "res_partner"."name", "res_partner"."x_loyalty...\n'
            "                                                             ^",
        ),
    ),
    (
        "insert into a column that is missing",
        "UNDEFINED_COLUMN",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP + SQL,
            'psycopg2.errors.UndefinedColumn: column "x_margin_pct" of relation "sale_order_line" does not exist\n'
            'LINE 1: INSERT INTO "sale_order_line" ("x_margin_pct", "create_uid"...',
        ),
    ),
    (
        "relation of a module that is not installed",
        "UNDEFINED_TABLE",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP + SQL,
            'psycopg2.errors.UndefinedTable: relation "sale_subscription_plan" does not exist\n'
            'LINE 1: SELECT "sale_subscription_plan"."id" FROM "sale_subscription_plan"',
        ),
    ),
    (
        "postgres sequence of an ir.sequence is gone",
        "UNDEFINED_TABLE",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/odoo/addons/base/models/ir_sequence.py",
                    22,
                    "_select_nextval",
                    "cr.execute(\"SELECT nextval('%s')\" % seq_name)",
                )
            ]
            + SQL[1:],
            'psycopg2.errors.UndefinedTable: relation "ir_sequence_017" does not exist\n'
            "LINE 1: SELECT nextval('ir_sequence_017')",
        ),
    ),
    # --- assets and filestore -------------------------------------------------------------
    (
        "scss compile error",
        "ASSET_BUNDLE",
        header(
            "WARNING",
            "odoo.addons.base.models.assetsbundle",
            'Error: Undefined variable: "$o-brand-lightsecondary".\n        on line 14 of stdin\n'
            ">>     background: $o-brand-lightsecondary;\n"
            "This error occurred while compiling the bundle 'web.assets_backend' containing:\n"
            "    - /theme_acme/static/src/scss/backend.scss",
        ),
    ),
    (
        "stale bundle attachments after a restore",
        "ASSET_BUNDLE",
        header(
            "INFO",
            "odoo.addons.base.models.ir_attachment",
            "_read_file reading /var/lib/odoo/filestore/prod/d7/d7648c1e0b0c4f1b7b3e2a9f6ad3d1c5a8b9e0f1",
        )
        + "\n"
        + traceback(
            [
                (
                    "/opt/odoo/odoo/addons/base/models/ir_attachment.py",
                    122,
                    "_file_read",
                    "with open(full_path, 'rb') as f:",
                )
            ],
            "FileNotFoundError: [Errno 2] No such file or directory: "
            "'/var/lib/odoo/filestore/prod/d7/d7648c1e0b0c4f1b7b3e2a9f6ad3d1c5a8b9e0f1'",
        )
        + "\n"
        + header(
            "INFO",
            "odoo.addons.base.models.assetsbundle",
            "Generating a new asset bundle attachment /web/assets/5699cba/web.assets_web.min.js (id:321)",
        ),
    ),
    (
        "attachment file missing from the filestore",
        "FILESTORE_MISSING",
        header(
            "INFO",
            "odoo.addons.base.models.ir_attachment",
            "_read_file reading /var/lib/odoo/filestore/prod/3f/3f2a9c0de4b5a6f7e8d9c0b1a2f3e4d5c6b7a8f9",
        )
        + "\n"
        + traceback(
            [
                (
                    "/opt/odoo/odoo/addons/base/models/ir_attachment.py",
                    122,
                    "_file_read",
                    "with open(full_path, 'rb') as f:",
                )
            ],
            "FileNotFoundError: [Errno 2] No such file or directory: "
            "'/var/lib/odoo/filestore/prod/3f/3f2a9c0de4b5a6f7e8d9c0b1a2f3e4d5c6b7a8f9'",
        ),
    ),
    (
        "filestore permission problem is not a missing file",
        UNKNOWN,
        header(
            "INFO",
            "odoo.addons.base.models.ir_attachment",
            "_read_file reading /var/lib/odoo/filestore/prod/3f/3f2a9c0de4b5a6f7e8d9",
        )
        + "\n"
        + traceback(
            [
                (
                    "/opt/odoo/odoo/addons/base/models/ir_attachment.py",
                    122,
                    "_file_read",
                    "with open(full_path, 'rb') as f:",
                )
            ],
            "PermissionError: [Errno 13] Permission denied: '/var/lib/odoo/filestore/prod/3f/3f2a9c0de4b5a6f7e8d9'",
        ),
    ),
    # --- views vs stored domains ------------------------------------------------------------
    (
        "custom view uses a removed field",
        "VIEW_FIELD_MISSING",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/odoo/addons/base/models/ir_ui_view.py",
                    419,
                    "_check_xml",
                    "raise err.with_traceback(e.__traceback__) from None",
                )
            ],
            "odoo.exceptions.ValidationError: Error while validating view near:\n\n"
            '<form string="Contact">\n    <field name="x_loyalty_tier"/>\n</form>\n'
            'Field "x_loyalty_tier" does not exist in model "res.partner"\n\n'
            "View error context:\n"
            "{'file': '/opt/odoo/custom/acme_crm/views/res_partner.xml',\n"
            " 'line': 7,\n 'name': 'res.partner.form.acme',\n 'view': ir.ui.view(2345,),\n"
            " 'view.model': 'res.partner',\n 'view.parent': ir.ui.view(128,),\n"
            " 'xmlid': 'acme_crm.view_partner_form_acme'}",
        ),
    ),
    (
        "filter domain inside a view names an unknown field",
        "VIEW_FIELD_MISSING",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP,
            "odoo.exceptions.ValidationError: Error while validating view near:\n\n"
            "<filter name=\"gold\" domain=\"[('x_tier', '=', 'gold')]\"/>\n"
            "Unknown field \"res.partner.x_tier\" in domain of <filter name=\"gold\"> ([('x_tier', '=', 'gold')]))\n\n"
            "View error context:\n{'name': 'res.partner.search.acme',\n 'view': ir.ui.view(2399,),\n"
            " 'view.model': 'res.partner'}",
        ),
    ),
    (
        "xpath anchor gone from the parent view",
        "XPATH_NOT_FOUND",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP,
            "odoo.exceptions.ValidationError: Error while parsing or validating view:\n\n"
            "Element '<xpath expr=\"//field[@name='payment_term_id']\">' cannot be located in parent view\n\n"
            "View error context:\n{'file': '/opt/odoo/custom/acme_sale/views/sale_order.xml',\n"
            " 'line': 1,\n 'name': 'sale.order.form.acme',\n 'view': ir.ui.view(3101,),\n"
            " 'view.model': 'sale.order',\n 'view.parent': ir.ui.view(905,),\n"
            " 'xmlid': 'acme_sale.view_order_form_acme'}",
        ),
    ),
    (
        "xpath anchor missing while installing a module",
        "XPATH_NOT_FOUND",
        header("CRITICAL", "odoo.service.server", "Failed to initialize database `prod`.")
        + "\n"
        + traceback(
            [("/opt/odoo/odoo/tools/convert.py", 548, "parse", "raise ParseError(msg) from None")],
            "odoo.tools.convert.ParseError: while parsing /opt/odoo/custom/acme_sale/views/sale_order.xml:4\n"
            "Error while parsing or validating view:\n\n"
            "Element '<field name=\"x_old_anchor\">' cannot be located in parent view",
        ),
    ),
    (
        "saved filter uses a field that no longer exists",
        "INVALID_FIELD_DOMAIN",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [
                ("/opt/odoo/odoo/models.py", 5738, "_search", "query = self._where_calc(domain)"),
                (
                    "/opt/odoo/odoo/osv/expression.py",
                    374,
                    "_anyfy_leaves",
                    'raise ValueError(f"Invalid field {model._name}.{path[0]} in leaf {item}")',
                ),
            ],
            "ValueError: Invalid field res.partner.x_old_segment in leaf ('x_old_segment', '=', 'gold')",
        ),
    ),
    (
        "record rule uses a field that no longer exists",
        "INVALID_FIELD_DOMAIN",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/odoo/addons/base/models/ir_rule.py",
                    176,
                    "_compute_domain",
                    "dom = safe_eval(rule.domain_force, eval_context) if rule.domain_force else []",
                ),
                (
                    "/opt/odoo/odoo/osv/expression.py",
                    374,
                    "_anyfy_leaves",
                    'raise ValueError(f"Invalid field {model._name}.{path[0]} in leaf {item}")',
                ),
            ],
            "ValueError: Invalid field account.analytic.account.project_ids in leaf ('project_ids', '!=', False)",
        ),
    ),
    (
        # Odoo 19.0 (odoo/orm/domains.py): "in condition", raised while handling the KeyError of the lookup.
        "19.0 saved filter on a field that no longer exists",
        "INVALID_FIELD_DOMAIN",
        REQUEST_ERROR
        + "\n"
        + traceback(
            [("/opt/odoo/odoo/orm/domains.py", 914, "__get_field", "field = model._fields[field_name]")],
            "KeyError: 'x_old_segment'",
        )
        + DURING
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/odoo/orm/domains.py",
                    916,
                    "__get_field",
                    'self._raise("Invalid field %s.%s", model._name, field_name)',
                ),
                (
                    "/opt/odoo/odoo/orm/domains.py",
                    901,
                    "_raise",
                    "raise error(message % (*args, self.field_expr, self.operator, self.value))",
                ),
            ],
            "ValueError: Invalid field res.partner.x_old_segment in condition ('x_old_segment', '=', 'gold')",
        ),
    ),
    (
        "19.0 record rule uses a field that no longer exists",
        "INVALID_FIELD_DOMAIN",
        REQUEST_ERROR
        + "\n"
        + traceback(
            [("/opt/odoo/odoo/orm/domains.py", 914, "__get_field", "field = model._fields[field_name]")],
            "KeyError: 'project_ids'",
        )
        + DURING
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/odoo/addons/base/models/ir_rule.py",
                    190,
                    "_compute_domain",
                    "dom = safe_eval(rule.domain_force, eval_context) if rule.domain_force else []",
                ),
                (
                    "/opt/odoo/odoo/orm/domains.py",
                    901,
                    "_raise",
                    "raise error(message % (*args, self.field_expr, self.operator, self.value))",
                ),
            ],
            "ValueError: Invalid field account.analytic.account.project_ids in condition ('project_ids', '!=', False)",
        ),
    ),
    (
        "xml id of an uninstalled module",
        "EXTERNAL_ID_NOT_FOUND",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/custom/acme_sale/models/sale_order.py",
                    88,
                    "action_remind",
                    "template = self.env.ref('acme_mail.mail_template_reminder')",
                ),
                (
                    "/opt/odoo/odoo/addons/base/models/ir_model.py",
                    2236,
                    "_xmlid_lookup",
                    "raise ValueError('External ID not found in the system: %s' % xmlid)",
                ),
            ],
            "ValueError: External ID not found in the system: acme_mail.mail_template_reminder",
        ),
    ),
    # --- singleton vs missing record ----------------------------------------------------------
    (
        "several records where one was expected",
        "EXPECTED_SINGLETON",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/custom/acme_sale/models/sale_order.py",
                    51,
                    "_compute_x_carrier_label",
                    "order.x_carrier_label = order.picking_ids.carrier_id.name",
                ),
                ("/opt/odoo/odoo/models.py", 6194, "ensure_one", 'raise ValueError("Expected singleton: %s" % self)'),
            ],
            "ValueError: Expected singleton: stock.picking(512, 513)",
        ),
    ),
    (
        "empty recordset where one was expected",
        "EXPECTED_SINGLETON",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [("/opt/odoo/odoo/fields.py", 5306, "__get__", 'raise ValueError("Expected singleton: %s" % record)')],
            "ValueError: Expected singleton: res.partner()",
        ),
    ),
    (
        "record deleted meanwhile",
        "MISSING_RECORD",
        header(
            "WARNING", "odoo.http", "Record does not exist or has been deleted.\n(Record: sale.order(4417,), User: 12)"
        ),
    ),
    (
        "record deleted meanwhile with traceback",
        "MISSING_RECORD",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP + [("/opt/odoo/odoo/fields.py", 1272, "__get__", 'raise MissingError("\\n".join([')],
            "odoo.exceptions.MissingError: Record does not exist or has been deleted.\n"
            "(Record: crm.lead(901,), User: 6)",
        ),
    ),
    # --- access ---------------------------------------------------------------------------------
    (
        "acl missing",
        "ACCESS_ERROR",
        header(
            "WARNING",
            "odoo.http",
            "You are not allowed to access 'Vehicle' (fleet.vehicle) records.\n\n"
            "This operation is allowed for the following groups:\n\t- Fleet/Officer: Manage all vehicles\n\n"
            "Contact your administrator to request access if necessary.",
        ),
    ),
    (
        "record rule denies",
        "ACCESS_ERROR",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP,
            "odoo.exceptions.AccessError: Uh-oh! Looks like you have stumbled upon some top-secret records.\n\n"
            "Sorry, Marc Demo (id=6) doesn't have 'read' access to:\n"
            "- Sales Order, S00042 (sale.order: 42, company=Acme Belgium)\n\n"
            "Blame the following rules:\n- Sales Order multi-company",
        ),
    ),
    (
        "wrong password is not an access rights problem",
        UNKNOWN,
        header("INFO", "odoo.addons.base.models.res_users", "Login failed for db:prod login:admin from 10.0.0.7")
        + "\n"
        + traceback(
            [("/opt/odoo/odoo/addons/base/models/res_users.py", 857, "_check_credentials", "raise AccessDenied()")],
            "odoo.exceptions.AccessDenied: Access Denied",
        ),
    ),
    # --- transient database conflicts -----------------------------------------------------------
    (
        "concurrent update",
        "SERIALIZATION_FAILURE",
        header("INFO", "odoo.service.model", "SERIALIZATION_FAILURE, 4 tries left, try again in 0.8120 sec...")
        + "\n"
        + header(
            "ERROR",
            "odoo.sql_db",
            'bad query: UPDATE "stock_quant" SET "quantity" = 3.0 WHERE id IN (77)\n'
            "ERROR: could not serialize access due to concurrent update",
        ),
    ),
    (
        "cron row locked",
        "LOCK_NOT_AVAILABLE",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP + SQL[1:], 'psycopg2.errors.LockNotAvailable: could not obtain lock on row in relation "ir_cron"'
        ),
    ),
    (
        "cron being executed shown as a UserError",
        "LOCK_NOT_AVAILABLE",
        header(
            "WARNING",
            "odoo.http",
            "Record cannot be modified right now: This cron task is currently being executed "
            "and may not be modified Please try again in a few minutes",
        ),
    ),
    # --- python dependencies and manifests ------------------------------------------------------
    (
        "missing python package",
        "PY_DEPENDENCY_MISSING",
        header("CRITICAL", "odoo.modules.module", "Couldn't load module acme_sftp")
        + "\n"
        + traceback(
            [("/opt/odoo/custom/acme_sftp/models/backup.py", 5, "<module>", "import paramiko")],
            "ModuleNotFoundError: No module named 'paramiko'",
        ),
    ),
    (
        "missing addon is a dependency problem, not a python package",
        "MANIFEST_INVALID",
        header("CRITICAL", "odoo.modules.module", "Couldn't load module acme_sale")
        + "\n"
        + traceback(
            [
                (
                    "/opt/odoo/custom/acme_sale/models/sale.py",
                    3,
                    "<module>",
                    "from odoo.addons.acme_base.models import mixin",
                )
            ],
            "ModuleNotFoundError: No module named 'odoo.addons.acme_base'",
        ),
    ),
    (
        "manifest without license",
        "MANIFEST_INVALID",
        header(
            "WARNING", "odoo.modules.module", "Missing `license` key in manifest for 'acme_sale', defaulting to LGPL-3"
        ),
    ),
    (
        "manifest with a bad version",
        "MANIFEST_INVALID",
        header("ERROR", "odoo.modules.loading", "Some modules are not loaded")
        + "\n"
        + with_cause(
            traceback(
                [
                    (
                        "/opt/odoo/odoo/modules/module.py",
                        343,
                        "load_manifest",
                        "manifest['version'] = adapt_version(manifest['version'])",
                    )
                ],
                "ValueError: Invalid version '1.0-beta'. Modules should have a version in format `x.y`, `x.y.z`, `18.0.x.y` or `18.0.x.y.z`.",
            ),
            traceback(
                [
                    (
                        "/opt/odoo/odoo/modules/module.py",
                        346,
                        "load_manifest",
                        'raise ValueError(f"Module {module}: invalid manifest") from e',
                    )
                ],
                "ValueError: Module acme_stock: invalid manifest",
            ),
        ),
    ),
    (
        # Odoo 19.0 skips a well-formed version of another series with a warning instead of raising.
        "19.0 manifest of another series",
        "MANIFEST_INVALID",
        header(
            "WARNING",
            "odoo.modules.module",
            "The module acme_stock has an incompatible version, setting installable=False",
        ),
    ),
    # --- crons ------------------------------------------------------------------------------------
    (
        "cron deactivated",
        "CRON_FAILURE",
        header(
            "WARNING",
            "odoo.addons.base.models.ir_cron",
            "Cron job 'Acme: sync carrier tracking' (57) has been deactivated after failing 5 times. "
            "More information can be found in the server logs around 2025-03-14 03:00:12.",
        ),
    ),
    (
        "modules stuck in to upgrade",
        "CRON_FAILURE",
        header(
            "WARNING",
            "odoo.addons.base.models.ir_cron",
            "Skipping database prod because of modules to install/upgrade/remove.",
        ),
    ),
    (
        "cron action raising a plain python error",
        "CRON_FAILURE",
        header(
            "ERROR", "odoo.addons.base.models.ir_cron", "Job 'Acme: compute commissions' (61) server action #402 failed"
        )
        + "\n"
        + traceback(
            CRON
            + [("/opt/odoo/custom/acme_commission/models/commission.py", 77, "_cron_compute", "rate = total / count")],
            "ZeroDivisionError: division by zero",
        ),
    ),
    (
        "cron failing on a missing column is a column problem",
        "UNDEFINED_COLUMN",
        header(
            "ERROR", "odoo.addons.base.models.ir_cron", "Job 'Acme: compute commissions' (61) server action #402 failed"
        )
        + "\n"
        + traceback(
            CRON + SQL[1:],
            "psycopg2.errors.UndefinedColumn: column sale_order.x_commission_rate does not exist\n"
            'LINE 1: SELECT "sale_order"."x_commission_rate" FROM "sale_order"',
        ),
    ),
    # --- mail ---------------------------------------------------------------------------------------
    (
        "smtp login refused",
        "MAIL_DELIVERY",
        header(
            "ERROR", "odoo.addons.mail.models.mail_mail", "failed sending mail (id: 2536) due to Mail Delivery Failed"
        )
        + "\n"
        + traceback(
            [
                (
                    "/opt/odoo/odoo/addons/base/models/ir_mail_server.py",
                    468,
                    "connect",
                    "connection.login(smtp_user, smtp_password)",
                )
            ],
            "smtplib.SMTPAuthenticationError: (535, b'5.7.8 Username and Password not accepted.')",
        ),
    ),
    (
        "smtp server down",
        "MAIL_DELIVERY",
        header("ERROR", "odoo.addons.mail.models.mail_mail", "Failed processing mail queue")
        + "\n"
        + with_cause(
            traceback(
                [
                    (
                        "/opt/odoo/odoo/addons/base/models/ir_mail_server.py",
                        461,
                        "connect",
                        "connection = SMTPConnection(smtp_server, smtp_port, smtp_encryption, context=ssl_context)",
                    ),
                    (
                        "/usr/lib/python3.11/smtplib.py",
                        312,
                        "_get_socket",
                        "return socket.create_connection((host, port), timeout,",
                    ),
                ],
                "ConnectionRefusedError: [Errno 111] Connection refused",
            ),
            traceback(
                [
                    (
                        "/opt/odoo/addons/mail/models/mail_mail.py",
                        634,
                        "send",
                        "raise MailDeliveryException(_('Unable to connect to SMTP Server'), exc)",
                    )
                ],
                "odoo.addons.base.models.ir_mail_server.MailDeliveryException: ('Unable to connect to SMTP Server', "
                "ConnectionRefusedError(111, 'Connection refused'))",
            ),
        ),
    ),
    # --- reports ----------------------------------------------------------------------------------
    (
        "wkhtmltopdf segfault",
        "REPORT_WKHTMLTOPDF",
        header(
            "WARNING",
            "odoo.addons.base.models.ir_actions_report",
            "Wkhtmltopdf failed (error code: -11). Memory limit too low or maximum file number of subprocess reached. "
            "Message : Loading pages (1/6)",
        ),
    ),
    (
        "wkhtmltopdf cannot reach the server",
        "REPORT_WKHTMLTOPDF",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/odoo/addons/base/models/ir_actions_report.py",
                    611,
                    "_run_wkhtmltopdf",
                    "raise UserError(message)",
                )
            ],
            "odoo.exceptions.UserError: Wkhtmltopdf failed (error code: 1). Message: Exit with code 1 due to network error: "
            "ConnectionRefusedError",
        ),
    ),
    # --- point of sale vs generic key errors ------------------------------------------------------
    (
        "pos order payload lacks a custom field",
        "POS_FIELD_SYNC",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/addons/point_of_sale/models/pos_order.py",
                    1036,
                    "sync_from_ui",
                    "order_ids.append(self._process_order(order, existing_order))",
                ),
                (
                    "/opt/odoo/addons/point_of_sale/models/pos_order.py",
                    88,
                    "_process_order",
                    "order = self.create(self._order_fields(order))",
                ),
                (
                    "/opt/odoo/custom/acme_pos/models/pos_order.py",
                    21,
                    "_order_fields",
                    "fields['x_loyalty_card'] = ui_order['x_loyalty_card']",
                ),
            ],
            "KeyError: 'x_loyalty_card'",
        ),
    ),
    (
        "pos loader lists a field the model lacks",
        "POS_FIELD_SYNC",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/addons/point_of_sale/models/pos_session.py",
                    174,
                    "load_data",
                    "response[model] = self.env[model]._load_pos_data(response)",
                ),
                (
                    "/opt/odoo/addons/point_of_sale/models/pos_load_mixin.py",
                    22,
                    "_load_pos_data",
                    "return {'data': self.search_read(domain, fields, load=False), 'fields': fields}",
                ),
                (
                    "/opt/odoo/odoo/models.py",
                    4111,
                    "_determine_fields_to_fetch",
                    'raise ValueError(f"Invalid field {field_name!r} on model {self._name!r}")',
                ),
            ],
            "ValueError: Invalid field 'x_allergens' on model 'product.product'",
        ),
    ),
    (
        "model missing from the registry",
        "FIELD_KEYERROR",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/custom/acme_sale/models/sale_order.py",
                    40,
                    "_compute_plan",
                    "plans = self.env['sale.subscription.plan'].search([])",
                ),
                ("/opt/odoo/odoo/api.py", 596, "__getitem__", "return self.registry[model_name](self, (), ())"),
                ("/opt/odoo/odoo/modules/registry.py", 244, "__getitem__", "return self.models[model_name]"),
            ],
            "KeyError: 'sale.subscription.plan'",
        ),
    ),
    (
        "field missing on the model",
        "FIELD_KEYERROR",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/custom/acme_sale/models/sale_order.py",
                    63,
                    "_prepare_invoice",
                    "vals['x_margin_pct'] = self['x_margin_pct']",
                ),
                ("/opt/odoo/odoo/models.py", 6981, "__getitem__", "return self._fields[key].__get__(self)"),
            ],
            "KeyError: 'x_margin_pct'",
        ),
    ),
    (
        "a dict key error in custom code is not a field problem",
        UNKNOWN,
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP + [("/opt/odoo/custom/acme_api/controllers/main.py", 33, "webhook", "ref = payload['reference']")],
            "KeyError: 'reference'",
        ),
    ),
    # --- qweb ----------------------------------------------------------------------------------------
    (
        "template reads an attribute that does not exist",
        "QWEB_RENDER",
        REQUEST_ERROR
        + "\n"
        + with_cause(
            traceback(
                [("<2104>", 45, "template_2104_content", "")],
                "AttributeError: 'res.partner' object has no attribute 'x_vat_label'",
            ),
            traceback(
                HTTP
                + [
                    (
                        "/opt/odoo/odoo/addons/base/models/ir_qweb.py",
                        770,
                        "_render",
                        'raise QWebException("Error while render the template",',
                    )
                ],
                "odoo.addons.base.models.ir_qweb.QWebException: Error while render the template\n"
                "AttributeError: 'res.partner' object has no attribute 'x_vat_label'\n"
                "Template: acme_sale.report_saleorder_document_acme\n"
                'Path: /t/t/div/div[2]/span\nNode: <span t-field="doc.partner_id.x_vat_label"/>',
            ),
        ),
    ),
    (
        # Odoo 19.0 renamed QWebException to QWebError and reworded its sentence.
        "19.0 template reads an attribute that does not exist",
        "QWEB_RENDER",
        REQUEST_ERROR
        + "\n"
        + with_cause(
            traceback(
                [("<2104>", 45, "template_2104_content", "")],
                "AttributeError: 'res.partner' object has no attribute 'x_vat_label'",
            ),
            traceback(
                HTTP
                + [
                    (
                        "/opt/odoo/odoo/addons/base/models/ir_qweb.py",
                        850,
                        "_render",
                        "raise QWebError(qweb_error_info) from error",
                    )
                ],
                "odoo.addons.base.models.ir_qweb.QWebError: Error while rendering the template:\n"
                "    AttributeError: 'res.partner' object has no attribute 'x_vat_label'\n"
                "Template: acme_sale.report_saleorder_document_acme\n"
                'Path: /t/t/div/div[2]/span\nElement: <span t-field="doc.partner_id.x_vat_label"/>',
            ),
        ),
    ),
    # --- user-facing refusals vs real faults ------------------------------------------------------
    (
        "business constraint",
        "VALIDATION_ERROR",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/addons/hr_holidays/models/hr_leave.py",
                    702,
                    "_check_date",
                    "raise ValidationError(_('You can not set two time off that overlap on the same day for the same employee.'))",
                )
            ],
            "odoo.exceptions.ValidationError: You can not set two time off that overlap on the same day for the same employee.",
        ),
    ),
    (
        "business refusal",
        "VALIDATION_ERROR",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/addons/sale/models/sale_order.py",
                    1013,
                    "action_cancel",
                    "raise UserError(_('You cannot cancel a locked order. Please unlock it first.'))",
                )
            ],
            "odoo.exceptions.UserError: You cannot cancel a locked order. Please unlock it first.",
        ),
    ),
    (
        "recursive categories refused",
        "VALIDATION_ERROR",
        REQUEST_ERROR
        + "\n"
        + traceback(HTTP, "odoo.exceptions.ValidationError: You cannot create recursive categories."),
    ),
    (
        "sequence date misaligned is an accounting sequence problem",
        "ACCOUNT_SEQUENCE",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/addons/account/models/sequence_mixin.py",
                    120,
                    "_constrains_date_sequence",
                    "raise ValidationError(_(",
                )
            ],
            "odoo.exceptions.ValidationError: The Date (03/01/2025) you've entered isn't aligned with the existing sequence "
            "number (INV/2024/00412). Clear the sequence number to proceed.\nTo maintain date-based sequences, select entries "
            "and use the resequence option from the actions menu, available in developer mode.",
        ),
    ),
    (
        "wkhtmltopdf failure raised as UserError is a report problem",
        "REPORT_WKHTMLTOPDF",
        header("WARNING", "odoo.http", "Unable to find Wkhtmltopdf on this system. The PDF can not be created."),
    ),
    # --- recursion, memory, timeouts --------------------------------------------------------------
    (
        "infinite recursion",
        "RECURSION_OR_MEMORY",
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP + [("/opt/odoo/custom/acme_sale/models/sale_order.py", 90, "write", "return self.write(vals)")] * 3,
            "RecursionError: maximum recursion depth exceeded while calling a Python object",
        ),
    ),
    (
        "memory error sending mails",
        "RECURSION_OR_MEMORY",
        header(
            "ERROR",
            "odoo.addons.mail.models.mail_mail",
            "MemoryError while processing mail with ID 991 and Msg-Id '<abc@acme>'. Consider raising the --limit-memory-hard startup option",
        )
        + "\n"
        + traceback(
            [
                (
                    "/opt/odoo/addons/mail/models/mail_mail.py",
                    740,
                    "_send",
                    "res = IrMailServer.send_email(msg, mail_server_id=mail.mail_server_id.id)",
                )
            ],
            "MemoryError",
        ),
    ),
    (
        "http worker killed",
        "TIMEOUT_OR_WORKER",
        header("ERROR", "odoo.service.server", "WorkerHTTP (28145) timeout after 120s"),
    ),
    (
        "statement timeout",
        "TIMEOUT_OR_WORKER",
        REQUEST_ERROR
        + "\n"
        + traceback(HTTP + SQL[1:], "psycopg2.errors.QueryCanceled: canceling statement due to statement timeout"),
    ),
    (
        "worker recycled after the soft memory limit",
        "TIMEOUT_OR_WORKER",
        header("INFO", "odoo.service.server", "Worker (28150) virtual memory limit (2684354560) reached."),
    ),
    # --- messages Odoo logs without their exception type ----------------------------------------------
    (
        "action opened by an external id that is gone",
        "EXTERNAL_ID_NOT_FOUND",
        header("WARNING", "odoo.http", "The action “acme_fleet.action_vehicle_costs” does not exist."),
    ),
    (
        "action opened by a numeric id that is gone",
        "MISSING_RECORD",
        header("WARNING", "odoo.http", "The action “977” does not exist"),
    ),
    (
        "attachment id that is gone",
        "MISSING_RECORD",
        header("WARNING", "odoo.http", "The attachment 5531 does not exist."),
    ),
    (
        "external id kept but its record deleted",
        "MISSING_RECORD",
        traceback(HTTP, "ValueError: No record found for unique ID acme_fleet.tag_electric. It may have been deleted."),
    ),
    (
        "action limited to other groups",
        "ACCESS_ERROR",
        header("WARNING", "odoo.http", "You don't have enough access rights to run this action."),
    ),
    (
        "record rules info line",
        "ACCESS_ERROR",
        header(
            "INFO",
            "odoo.addons.base.models.ir_rule",
            "Access Denied by record rules for operation: write on record ids: [31], uid: 14, model: project.task",
        ),
    ),
    (
        "module button while a cron runs",
        "LOCK_NOT_AVAILABLE",
        header(
            "WARNING",
            "odoo.http",
            "Odoo is currently processing a scheduled action.\nModule operations are not "
            "possible at this time, please try again later or contact your system administrator.",
        ),
    ),
    (
        "hash check finds a numbering gap",
        "ACCOUNT_SEQUENCE",
        header(
            "WARNING",
            "odoo.http",
            "An error occurred when computing the inalterability. A gap has been detected in the sequence.",
        ),
    ),
    (
        "translated unique constraint message",
        "UNIQUE_VIOLATION_OTHER",
        header("WARNING", "odoo.http", "The operation cannot be completed: A vehicle with this plate already exists."),
    ),
    (
        "deletion refused because other records use it",
        "VALIDATION_ERROR",
        header(
            "WARNING",
            "odoo.http",
            "The operation cannot be completed: another model requires the record being "
            "deleted. If possible, archive it instead.\n\nModel: Vehicle (fleet.vehicle)\n"
            "Constraint: fleet_vehicle_log_services_vehicle_id_fkey",
        ),
    ),
    (
        "user error inside a cron job is a cron failure",
        "CRON_FAILURE",
        header(
            "ERROR",
            "odoo.addons.base.models.ir_cron",
            "Job 'Acme: pull bank statements' (88) server action #510 failed",
        )
        + "\n"
        + traceback(CRON, "odoo.exceptions.UserError: The bank connection has expired, please reconnect it."),
    ),
    (
        "transient module states reset by the cron runner",
        "CRON_FAILURE",
        header("WARNING", "odoo.modules.loading", "Transient module states were reset"),
    ),
    (
        "smtp 535 written by hand",
        "MAIL_DELIVERY",
        "mails stay in exception, reason: (535, b'5.7.3 Authentication unsuccessful [BN9PR03CA0123]')",
    ),
    (
        "rtlcss missing",
        "ASSET_BUNDLE",
        header(
            "WARNING",
            "odoo.addons.base.models.assetsbundle",
            "You need https://rtlcss.com/ to convert css file to right "
            "to left compatiblity. Use: npm install -g rtlcss",
        ),
    ),
    (
        "browser gets 404 for the bundle",
        "ASSET_BUNDLE",
        "console: GET https://erp.example.org/web/assets/1/0c1d2e3/web.assets_web.min.js 404 (NOT FOUND)",
    ),
    (
        "asset content missing, logged with the file",
        "ASSET_BUNDLE",
        header(
            "ERROR",
            "odoo.addons.base.models.assetsbundle",
            "'Could not get content for /acme_theme/static/src/x.scss.' in file '/acme_theme/static/src/x.scss'",
        ),
    ),
    (
        "field used in a modifier is missing while installing",
        "VIEW_FIELD_MISSING",
        traceback(
            [("/opt/odoo/odoo/tools/convert.py", 548, "_tag_root", "raise ParseError(msg) from None")],
            "odoo.tools.convert.ParseError: while parsing /opt/odoo/custom/acme_fleet/views/vehicle.xml:12\n"
            'Error while validating view near:\n\n<field name="x_tag" invisible="not x_electric"/>\n\n'
            "Field `x_electric` does not exist\n\nView error context:\n{'name': 'fleet.vehicle.form.acme',\n"
            " 'view': ir.ui.view(812,)}",
        ),
    ),
    (
        "automation domain evaluated in python names a missing field",
        "INVALID_FIELD_DOMAIN",
        traceback(
            HTTP
            + [
                (
                    "/opt/odoo/addons/base_automation/models/base_automation.py",
                    608,
                    "_filter_post_export_domain",
                    "return records.sudo().filtered_domain(domain).with_env(records.env), domain",
                ),
                ("/opt/odoo/odoo/models.py", 6528, "filtered_domain", "field = self._fields[key]"),
            ],
            "KeyError: 'x_region'",
        ),
    ),
    (
        "code writes a field the model lacks",
        "FIELD_KEYERROR",
        traceback(
            HTTP
            + [
                (
                    "/opt/odoo/odoo/models.py",
                    4665,
                    "write",
                    'raise ValueError("Invalid field %r on model %r" % (fname, self._name))',
                )
            ],
            "ValueError: Invalid field 'x_fuel_card' on model 'fleet.vehicle'",
        ),
    ),
    ("bare key error on a custom field", "FIELD_KEYERROR", "KeyError: 'x_fuel_card'"),
    (
        "database never initialised",
        "UNDEFINED_TABLE",
        header("ERROR", "odoo.modules.loading", "Database fleet_test not initialized, you can force it with `-i base`"),
    ),
    (
        "external dependency written wrongly in the manifest",
        "MANIFEST_INVALID",
        header(
            "WARNING",
            "odoo.http",
            'Unable to install module "acme_fleet" because an external dependency is not met: '
            "requests>=2 <3 is an invalid external dependency specification: Expected end or semicolon",
        ),
    ),
    (
        "user-facing warning without its type is not guessed",
        UNKNOWN,
        header("WARNING", "odoo.http", "The odometer value cannot be lower than the previous one."),
    ),
    # --- faults the library does not know ----------------------------------------------------------
    (
        "division by zero in custom code",
        UNKNOWN,
        REQUEST_ERROR
        + "\n"
        + traceback(
            HTTP
            + [
                (
                    "/opt/odoo/custom/acme_sale/models/sale_order.py",
                    120,
                    "_compute_ratio",
                    "order.x_ratio = order.amount_total / order.x_weight",
                )
            ],
            "ZeroDivisionError: float division by zero",
        ),
    ),
    (
        "mandatory column left empty",
        UNKNOWN,
        REQUEST_ERROR
        + "\n"
        + with_cause(
            traceback(
                HTTP + SQL,
                'psycopg2.errors.NotNullViolation: null value in column "journal_id" of relation '
                '"account_payment_method_line" violates not-null constraint',
            ),
            traceback(
                HTTP[:3],
                "odoo.exceptions.ValidationError: The operation cannot be completed:\n"
                "- Create/update: a mandatory field is not set.\n"
                "- Delete: another model requires the record being deleted. If possible, archive it instead.",
            ),
        ),
    ),
    (
        "plain informational line",
        UNKNOWN,
        header(
            "INFO",
            "werkzeug",
            '10.0.0.7 - - [14/Mar/2025 09:12:33] "POST /web/dataset/call_kw HTTP/1.1" 200 - 12 0.011 0.020',
        ),
    ),
]


@pytest.fixture(scope="module")
def engine():
    return Classifier(load_library())


@pytest.mark.parametrize("name,expected,text", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_examples(engine, name, expected, text):
    result = engine.classify(text)
    assert result.error_class == expected, result.evidence
    if expected == UNKNOWN:
        assert result.guardrail is None
        assert result.confidence == 0.0
    else:
        assert engine.library.by_code[result.guardrail].error_class == expected
        assert 0.5 <= result.confidence <= 1.0


def test_every_class_has_a_development_example():
    library = load_library()
    covered = {expected for _name, expected, _text in EXAMPLES}
    missing = set(library.classes) - covered - {"OTHER"}
    assert not missing


def test_pkey_drift_captures_the_table_for_the_autopatch(engine):
    result = engine.classify(EXAMPLES[0][2])
    assert result.guardrail == "GR-SEQ-001"
    assert result.params["table"] == "stock_picking"
    assert result.params["id"] == "11063"


def test_undefined_column_captures_table_and_column(engine):
    text = next(t for n, _e, t in EXAMPLES if n == "column of a field whose module was not upgraded")
    result = engine.classify(text)
    assert (result.params["table"], result.params["column"]) == ("res_partner", "x_loyalty_tier")
    assert engine.library.by_code[result.guardrail].autopatch == "module_upgrade"


def test_view_error_captures_the_view(engine):
    text = next(t for n, _e, t in EXAMPLES if n == "custom view uses a removed field")
    result = engine.classify(text)
    assert result.params["view_id"] == "2345"
    assert result.params["view_name"] == "res.partner.form.acme"
    assert result.params["field"] == "x_loyalty_tier"


@pytest.mark.parametrize(
    "name", ["saved filter uses a field that no longer exists", "19.0 saved filter on a field that no longer exists"]
)
def test_stored_filter_captures_model_and_field(engine, name):
    text = next(t for n, _e, t in EXAMPLES if n == name)
    result = engine.classify(text)
    assert result.guardrail == "GR-DOM-001"
    assert (result.params["model"], result.params["field"]) == ("res.partner", "x_old_segment")


@pytest.mark.parametrize(
    "name", ["record rule uses a field that no longer exists", "19.0 record rule uses a field that no longer exists"]
)
def test_record_rule_goes_to_the_critical_guardrail(engine, name):
    text = next(t for n, _e, t in EXAMPLES if n == name)
    result = engine.classify(text)
    guardrail = engine.library.by_code[result.guardrail]
    assert guardrail.autopatch == "rule_deactivate"
    assert guardrail.critical is True
    assert result.params["model"] == "account.analytic.account"


def test_19_manifest_of_another_series_goes_to_the_manifest_fix(engine):
    text = next(t for n, _e, t in EXAMPLES if n == "19.0 manifest of another series")
    result = engine.classify(text)
    assert result.guardrail == "GR-MAN-002"
    assert engine.library.by_code[result.guardrail].autopatch == "manifest_fix"
    assert result.params["module"] == "acme_stock"


def test_cron_deactivation_captures_name_and_id(engine):
    text = next(t for n, _e, t in EXAMPLES if n == "cron deactivated")
    result = engine.classify(text)
    assert result.params["cron_name"] == "Acme: sync carrier tracking"
    assert result.params["cron_id"] == "57"


def test_wrapped_psycopg2_error_is_classified_by_its_root_cause(engine):
    result = engine.classify(EXAMPLES[0][2])
    assert any("UniqueViolation is the root cause" in line for line in result.evidence)
    assert result.confidence >= 0.9


def test_user_error_wrapping_a_lock_is_not_a_business_refusal(engine):
    text = traceback(
        HTTP,
        "odoo.exceptions.UserError: Record cannot be modified right now: This cron task is "
        "currently being executed and may not be modified Please try again in a few minutes",
    )
    assert engine.classify(text).error_class == "LOCK_NOT_AVAILABLE"


def test_validation_error_about_a_view_is_a_view_fault(engine):
    text = traceback(
        HTTP,
        "odoo.exceptions.ValidationError: Error while validating view near:\n\n"
        '<field name="x_foo"/>\nField "x_foo" does not exist in model "sale.order"',
    )
    result = engine.classify(text)
    assert result.error_class == "VIEW_FIELD_MISSING"


def test_missing_error_inside_a_template_is_not_called_a_template_bug(engine):
    text = (
        REQUEST_ERROR
        + "\n"
        + with_cause(
            traceback(
                [("/opt/odoo/odoo/fields.py", 1272, "__get__", 'raise MissingError("\\n".join([')],
                "odoo.exceptions.MissingError: Record does not exist or has been deleted.\n"
                "(Record: res.partner(77,), User: 2)",
            ),
            traceback(
                HTTP,
                "odoo.addons.base.models.ir_qweb.QWebException: Error while render the template\n"
                "MissingError: Record does not exist or has been deleted.\n(Record: res.partner(77,), User: 2)\n"
                "Template: sale.report_saleorder_document",
            ),
        )
    )
    result = engine.classify(text)
    assert result.error_class in ("MISSING_RECORD", UNKNOWN)
    if result.answered:
        assert result.confidence < CONFIDENT


CONFIDENT = 0.95


def test_abstains_when_two_classes_fit_equally(engine):
    # One text, two faults carried by equally strong evidence: a missing column and a missing table.
    text = (
        header(
            "ERROR",
            "odoo.sql_db",
            "bad query: SELECT x_a FROM res_partner\nERROR: column res_partner.x_a does not exist",
        )
        + "\n"
        + header("ERROR", "odoo.sql_db", 'bad query: SELECT id FROM x_b\nERROR: relation "x_b" does not exist')
    )
    result = engine.classify(text)
    assert result.error_class == UNKNOWN
    assert result.guardrail is None
    assert any("two classes fit almost equally well" in line for line in result.evidence)
    assert any("runner-up" in line for line in result.evidence)


def test_a_clearly_stronger_rival_still_lowers_confidence(engine):
    text = (
        header("ERROR", "odoo.sql_db", "bad query: x\nERROR: column res_partner.x_a does not exist")
        + "\n"
        + header(
            "ERROR",
            "odoo.sql_db",
            "bad query: y\nERROR: duplicate key value violates unique constraint "
            '"res_partner_pkey"\nDETAIL:  Key (id)=(5) already exists.',
        )
    )
    result = engine.classify(text)
    assert result.error_class == "SEQ_PKEY_DRIFT"
    alone = engine.classify(text.split("\n", 2)[2])
    assert alone.error_class == "SEQ_PKEY_DRIFT"
    assert result.confidence < alone.confidence


def test_weak_evidence_alone_is_not_enough(engine):
    result = engine.classify("something went wrong: does not exist")
    assert result.error_class == UNKNOWN
    assert result.guardrail is None


def test_empty_and_non_string_inputs(engine):
    assert engine.classify("").error_class == UNKNOWN
    assert engine.classify(None).error_class == UNKNOWN


def test_module_level_classify_uses_the_shipped_library():
    result = classify(EXAMPLES[0][2])
    assert result.error_class == "SEQ_PKEY_DRIFT"
    assert result.as_dict()["guardrail"] == "GR-SEQ-001"


def test_parse_log_puts_the_root_cause_first():
    parsed = parse_log(EXAMPLES[0][2])
    assert parsed.exception_types[0] == "UniqueViolation"
    assert parsed.exception_types[-1] == "ValidationError"
    assert parsed.loggers == ("odoo.http",)


def test_parse_log_reads_bare_exception_and_dotted_types():
    parsed = parse_log(
        "Exception: ('Table %r: unable to add constraint', 'x')\nException in cron:\n"
        "odoo.tools.convert.ParseError: while parsing /a.xml:3"
    )
    assert parsed.exception_types == ("Exception", "ParseError")


def test_parse_log_ignores_plain_error_words():
    parsed = parse_log("ERROR: column x does not exist\nError: Undefined variable\nDETAIL: nothing")
    assert parsed.exception_types == ()


@pytest.mark.parametrize(
    "pattern,literal",
    [
        (r'violates unique constraint "(?P<table>\w+)_pkey"', 'violates unique constraint "'),
        (r"Key \(id\)=\(\d+\) already exists", ") already exists"),
        (r"colou?r scheme", "r scheme"),
        (r"a|b", None),
        (r"(?i)wkhtmltopdf", "wkhtmltopdf"),
        (r"Job ['\"](?P<n>.+?)['\"] \(\d+\) timed out", ") timed out"),
        (r"x{0,3}yz", None),
    ],
)
def test_required_literal(pattern, literal):
    assert required_literal(pattern) == literal


def test_required_literals_never_reject_a_matching_text():
    """The prefilter must be safe: whenever a pattern matches, its literal is in the text."""
    library = load_library()
    texts = [text for _name, _expected, text in EXAMPLES]
    checked = 0
    for guardrail in library.guardrails:
        signals = guardrail.signals
        for pattern in signals.all_patterns + signals.any_patterns + signals.negative_patterns:
            literal = required_literal(pattern.pattern)
            for text in texts:
                if literal and pattern.search(text):
                    checked += 1
                    assert literal in text.lower(), (guardrail.code, pattern.pattern)
    assert checked > 50


def test_every_pattern_compiles_with_a_useful_literal_or_a_reason():
    """Patterns without any literal are never prefiltered: keep them rare."""
    library = load_library()
    without = [
        (g.code, p.pattern)
        for g in library.guardrails
        for p in g.signals.all_patterns
        if required_literal(p.pattern) is None
    ]
    assert len(without) <= 12, without


def test_confidence_ladder_is_ordered():
    ladder = classifier_module.CONFIDENCE_BY_EVIDENCE
    assert ladder["type at root + template"] > ladder["type in chain + template"] > ladder["weak pattern"]
    assert all(0.5 < value < 1.0 for value in ladder.values())


def test_evidence_names_the_guardrail_and_its_score(engine):
    result = engine.classify(EXAMPLES[0][2])
    assert re.match(r"GR-SEQ-001 \(SEQ_PKEY_DRIFT\) scored \d+\.\d\d", result.evidence[0])


# --- the command line ------------------------------------------------------------------------


def run_cli(lines, argv=()):
    import io
    import json

    from selfhealing_cli import classify_io as classify_cli

    stdout = io.StringIO()
    status = classify_cli.main(list(argv), stdin=io.StringIO("".join(lines)), stdout=stdout)
    return status, [json.loads(line) for line in stdout.getvalue().splitlines()]


def test_cli_classifies_json_lines():
    import json

    lines = [
        json.dumps({"id": 1, "log": EXAMPLES[0][2]}) + "\n",
        "\n",
        json.dumps({"id": "b", "log": "nothing to see"}) + "\n",
    ]
    status, out = run_cli(lines)
    assert status == 0
    assert out[0] == {
        "id": 1,
        "error_class": "SEQ_PKEY_DRIFT",
        "guardrail": "GR-SEQ-001",
        "confidence": out[0]["confidence"],
    }
    assert out[1] == {"id": "b", "error_class": UNKNOWN, "guardrail": None, "confidence": 0.0}


def test_cli_reports_bad_lines_and_keeps_going():
    import json

    lines = [
        '{"id": 1, "log": \n',
        json.dumps({"id": 2}) + "\n",
        json.dumps(["not", "an", "object"]) + "\n",
        json.dumps({"id": 4, "log": 42}) + "\n",
        json.dumps({"id": 5, "log": "WorkerHTTP (12) timeout after 120s"}) + "\n",
    ]
    status, out = run_cli(lines)
    assert status == 1
    assert [o.get("line") for o in out[:4]] == [1, 2, 3, 4]
    assert out[0]["error"].startswith("invalid JSON")
    assert out[1] == {"id": 2, "line": 2, "error": 'missing "log"'}
    assert "object" in out[2]["error"]
    assert out[3]["error"] == '"log" must be a string'
    assert out[4]["error_class"] == "TIMEOUT_OR_WORKER"


def test_cli_explain_adds_evidence_and_params(tmp_path):
    import json

    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "x", "log": EXAMPLES[0][2]}) + "\n", encoding="utf-8")
    status, out = run_cli([], ["--explain", str(source)])
    assert status == 0
    assert out[0]["params"]["table"] == "stock_picking"
    assert out[0]["evidence"][0].startswith("GR-SEQ-001")


def test_cli_usage_errors(tmp_path):
    status, out = run_cli([], [str(tmp_path / "missing.jsonl")])
    assert status == 2 and out == []
    status, out = run_cli([], ["--library", str(tmp_path)])
    assert status == 2 and out == []


LOOK_ALIKES = [
    ("pkey drift wrapped in ValidationError", "business unique constraint"),
    ("pkey drift from the bad query log", "many2many composite key looks like a pkey"),
    ("insert into a column that is missing", "relation of a module that is not installed"),
    ("filter domain inside a view names an unknown field", "saved filter uses a field that no longer exists"),
    ("empty recordset where one was expected", "record deleted meanwhile with traceback"),
    ("business refusal", "cron being executed shown as a UserError"),
    ("recursive categories refused", "infinite recursion"),
    ("stale bundle attachments after a restore", "attachment file missing from the filestore"),
    ("pos order payload lacks a custom field", "field missing on the model"),
    ("pos loader lists a field the model lacks", "saved filter uses a field that no longer exists"),
    ("worker recycled after the soft memory limit", "memory error sending mails"),
    ("duplicate posted entry name is an accounting sequence problem", "business unique constraint"),
]


@pytest.mark.parametrize("first,second", LOOK_ALIKES)
def test_look_alikes_land_in_different_classes(engine, first, second):
    texts = {name: (expected, text) for name, expected, text in EXAMPLES}
    results = [engine.classify(texts[name][1]) for name in (first, second)]
    assert [r.error_class for r in results] == [texts[first][0], texts[second][0]]
    assert results[0].error_class != results[1].error_class


def test_column_of_relation_is_never_taken_for_a_missing_table(engine):
    text = next(t for n, _e, t in EXAMPLES if n == "insert into a column that is missing")
    result = engine.classify(text)
    assert result.error_class == "UNDEFINED_COLUMN"
    assert not any("UNDEFINED_TABLE" in line for line in result.evidence)
