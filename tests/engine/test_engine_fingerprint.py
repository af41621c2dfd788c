"""Grouping of Odoo errors: same fault -> same fingerprint, other fault -> other fingerprint."""

import traceback

from engine.detect import fingerprint as fp
from engine.detect import normalize
from engine.detect.signal import Signal

# A request-time sequence drift as Odoo 18 logs it (core paths of a Debian
# install, the faulty code in a custom module under /mnt/extra-addons).
PKEY_TRACEBACK = """Exception during request handling.
Traceback (most recent call last):
  File "/usr/lib/python3/dist-packages/odoo/http.py", line 2375, in __call__
    response = request._serve_db()
               ^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3/dist-packages/odoo/http.py", line 1951, in _serve_db
    return service_model.retrying(self._serve_ir_http, self.env)
  File "/usr/lib/python3/dist-packages/odoo/service/model.py", line 134, in retrying
    result = func()
  File "/usr/lib/python3/dist-packages/odoo/addons/web/controllers/dataset.py", line 28, in call_kw
    return call_kw(request.env[model], method, args, kwargs)
  File "/usr/lib/python3/dist-packages/odoo/api.py", line 517, in call_kw
    result = getattr(recs, name)(*args, **kwargs)
  File "/mnt/extra-addons/my_sale/models/sale_order.py", line {line}, in action_confirm
    self._copy_partner()
  File "/mnt/extra-addons/my_sale/models/sale_order.py", line 77, in _copy_partner
    self.env['res.partner'].create({{'name': '{name}'}})
  File "/usr/lib/python3/dist-packages/odoo/models.py", line 4735, in create
    records = self._create(data_list)
  File "/usr/lib/python3/dist-packages/odoo/sql_db.py", line 354, in execute
    res = self._obj.execute(query, params)
          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "{constraint}"
DETAIL:  Key (id)=({record_id}) already exists.

"""

UNDEFINED_COLUMN = """Traceback (most recent call last):
  File "/opt/odoo/odoo/http.py", line 2375, in __call__
    response = request._serve_db()
  File "/opt/odoo/addons/sale/models/sale_order.py", line 120, in _compute_amounts
    for order in self:
  File "/opt/odoo/odoo/models.py", line 3900, in _fetch_query
    rows = self.env.execute_query(query.select(*sql_terms))
  File "/opt/odoo/odoo/sql_db.py", line 354, in execute
    res = self._obj.execute(query, params)
psycopg2.errors.UndefinedColumn: column res_partner.{column} does not exist
LINE 1: SELECT "res_partner"."id", "res_partner"."{column}" FROM "res_partner" WHERE ("res_partner"."id" IN ({record_id}))
                                   ^

"""


def pkey(**values):
    defaults = {"line": 50, "name": "Azure Interior", "record_id": 11063, "constraint": "res_partner_pkey"}
    defaults.update(values)
    return PKEY_TRACEBACK.format(**defaults)


def test_same_fault_with_other_ids_values_and_lines_shares_a_fingerprint():
    first = fp.fingerprint(pkey())
    second = fp.fingerprint(pkey(line=61, name="Deco Addict", record_id=5))
    assert first.fingerprint == second.fingerprint
    assert len(first.fingerprint) == 40 and int(first.fingerprint, 16) >= 0
    assert first.exception_type == "psycopg2.errors.UniqueViolation"
    assert first.message_template == (
        'duplicate key value violates unique constraint "res_partner_pkey"\nDETAIL: Key (id)=(<value>) already exists.'
    )


def test_constraint_name_is_kept_so_other_tables_do_not_merge():
    partner = fp.fingerprint(pkey())
    move = fp.fingerprint(pkey(constraint="account_move_pkey"))
    assert partner.fingerprint != move.fingerprint
    assert '"account_move_pkey"' in move.message_template


def test_missing_columns_with_other_names_do_not_merge_but_other_ids_do():
    foo = fp.fingerprint(UNDEFINED_COLUMN.format(column="x_foo", record_id=7))
    foo_again = fp.fingerprint(UNDEFINED_COLUMN.format(column="x_foo", record_id=9123))
    bar = fp.fingerprint(UNDEFINED_COLUMN.format(column="x_bar", record_id=7))
    assert foo.fingerprint == foo_again.fingerprint
    assert foo.fingerprint != bar.fingerprint
    # The query echoed by PostgreSQL (LINE 1 and its caret) is not part of the fault.
    assert foo.message_template == "column res_partner.x_foo does not exist"


def test_in_app_frames_are_innermost_addon_frames_without_line_numbers():
    grouping = fp.fingerprint(pkey())
    assert grouping.in_app_frames == (
        "my_sale/models/sale_order.py:_copy_partner",
        "my_sale/models/sale_order.py:action_confirm",
        "web/controllers/dataset.py:call_kw",
    )
    assert grouping.module == "my_sale"
    assert grouping.title == 'UniqueViolation: duplicate key value violates unique constraint "res_partner_pkey"'


def test_same_message_from_other_addon_code_is_another_fault():
    elsewhere = pkey().replace("/mnt/extra-addons/my_sale/", "/mnt/extra-addons/my_stock/")
    assert fp.fingerprint(elsewhere).fingerprint != fp.fingerprint(pkey()).fingerprint
    assert fp.fingerprint(elsewhere).module == "my_stock"


def test_installation_path_does_not_change_the_fingerprint():
    moved = pkey().replace("/mnt/extra-addons/", "/home/odoo/src/custom_addons/")
    moved = moved.replace("/usr/lib/python3/dist-packages/odoo/", "/opt/odoo18/odoo/")
    assert fp.fingerprint(moved).fingerprint == fp.fingerprint(pkey()).fingerprint


def test_configured_addons_roots_recognise_modules_outside_addons_folders():
    text = pkey().replace("/mnt/extra-addons/", "/srv/oca/sale-workflow/")
    assert fp.fingerprint(text).module == "web"
    grouping = fp.fingerprint(text, addons_roots=["/srv/oca/sale-workflow"])
    assert grouping.module == "my_sale"
    assert grouping.in_app_frames[0] == "my_sale/models/sale_order.py:_copy_partner"


def test_module_falls_back_to_the_logger_addon():
    grouping = fp.fingerprint("KeyError: 'serial_id'", logger="odoo.addons.pos_custom.models.pos_order_line")
    assert grouping.module == "pos_custom"
    assert grouping.exception_type == "KeyError"
    assert grouping.message_template == "'serial_id'"


def _real_traceback(code, filename):
    """Run ``code`` compiled under ``filename`` and return Python's own traceback text."""
    try:
        exec(compile(code, filename, "exec"), {})
    except Exception:
        return traceback.format_exc()
    raise AssertionError("the code did not raise")


CHAINED_CODE = """
class UniqueViolation(Exception):
    pass
UniqueViolation.__module__ = "psycopg2.errors"

class ValidationError(Exception):
    pass
ValidationError.__module__ = "odoo.exceptions"

def write_moves():
    raise UniqueViolation('duplicate key value violates unique constraint "stock_lot_name_ref_uniq"\\n'
                          'DETAIL:  Key (name, product_id, company_id)=(LOT-{n}, {n}, 1) already exists.\\n')

def action_done():
    try:
        write_moves()
    except UniqueViolation as exc:
        raise ValidationError("The operation cannot be completed: lot name must be unique") from exc

action_done()
"""


def test_chained_exceptions_keep_the_raised_type_and_the_cause():
    texts = [
        _real_traceback(CHAINED_CODE.format(n=n), "/opt/odoo/custom/addons/stock_ext/models/stock_move.py")
        for n in (17, 4242)
    ]
    assert "The above exception was the direct cause of the following exception" in texts[0]
    first, second = (fp.fingerprint(text) for text in texts)
    assert first.fingerprint == second.fingerprint
    assert first.exception_type == "odoo.exceptions.ValidationError"
    assert [kind for kind, _ in first.chain] == ["psycopg2.errors.UniqueViolation", "odoo.exceptions.ValidationError"]
    assert first.module == "stock_ext"
    assert first.in_app_frames[0] == "stock_ext/models/stock_move.py:action_done"
    assert first.title.endswith("(from UniqueViolation)")
    # A ValidationError that wraps a database error is a real fault.
    assert not fp.is_business_error(first)


def test_during_handling_chain_is_parsed_into_both_exceptions():
    code = "d = {}\ntry:\n    d['missing']\nexcept KeyError:\n    int('x')\n"
    text = _real_traceback(code, "/opt/odoo/addons/my_mod/models/thing.py")
    parsed = normalize.parse(text)
    assert [part.type for part in parsed.exceptions] == ["KeyError", "ValueError"]
    assert parsed.exceptions[0].message == "'missing'"
    assert parsed.final.frames[-1][0] == "/opt/odoo/addons/my_mod/models/thing.py"
    grouping = fp.fingerprint(text)
    assert grouping.message_template == "invalid literal for int() with base <n>: <value>"


def test_bad_query_log_line_groups_like_a_database_error():
    record = (
        'bad query: b\'INSERT INTO "res_partner" ("id", "name") VALUES (11063, \\\'Azure\\\')\'\n'
        'ERROR: duplicate key value violates unique constraint "res_partner_pkey"\n'
        "DETAIL:  Key (id)=(11063) already exists.\n"
    )
    other_ids = record.replace("11063", "88")
    first = fp.fingerprint(record, logger="odoo.sql_db")
    assert first.exception_type == "psycopg2.errors.UniqueViolation"
    assert first.fingerprint == fp.fingerprint(other_ids, logger="odoo.sql_db").fingerprint
    assert first.message_template == fp.fingerprint(pkey()).message_template


def test_messages_without_traceback_are_grouped_per_logger():
    text = "Job 'Mail: Email Queue Manager' (12) timed out"
    cron = fp.fingerprint(text, logger="odoo.addons.base.models.ir_cron")
    same = fp.fingerprint(text.replace("(12)", "(13)"), logger="odoo.addons.base.models.ir_cron")
    other_logger = fp.fingerprint(text, logger="odoo.addons.other.thing")
    other_job = fp.fingerprint(
        text.replace("Mail: Email", "Stock: Scheduler"), logger="odoo.addons.base.models.ir_cron"
    )
    assert cron.fingerprint == same.fingerprint
    assert cron.fingerprint != other_logger.fingerprint
    assert cron.fingerprint != other_job.fingerprint
    assert cron.exception_type == ""
    assert cron.module == "base"


def test_signal_and_signal_dict_and_text_give_the_same_grouping():
    signal = Signal(source="log", logger="odoo.http", message="Exception during request handling.", traceback=pkey())
    assert fp.fingerprint(signal) == fp.fingerprint(signal.to_dict()) == fp.fingerprint(pkey(), logger="odoo.http")


def test_grouping_to_dict_is_plain_data():
    data = fp.fingerprint(pkey()).to_dict()
    assert data["in_app_frames"][0] == "my_sale/models/sale_order.py:_copy_partner"
    assert data["chain"] == [["psycopg2.errors.UniqueViolation", data["message_template"]]]


def test_business_errors_by_name_qualified_or_not():
    def grouping(text):
        return fp.fingerprint(text)

    assert fp.is_business_error(grouping("odoo.exceptions.UserError: Please set a customer first."))
    assert fp.is_business_error(grouping("odoo.exceptions.ValidationError: The end date must follow the start date"))
    assert fp.is_business_error(grouping("odoo.exceptions.AccessDenied: Access Denied"))
    assert fp.is_business_error(grouping("odoo.exceptions.RedirectWarning: Configure your journals"))
    assert not fp.is_business_error(grouping("odoo.exceptions.AccessError: You are not allowed to access 'Contact'"))
    assert not fp.is_business_error(
        grouping("odoo.exceptions.MissingError: Record does not exist or has been deleted.")
    )
    assert not fp.is_business_error(grouping("ValueError: Expected singleton: res.partner(1, 2)"))
    assert not fp.is_business_error(grouping("a message without any exception"))
    # Configurable: qualified names match exactly, bare names match the last component.
    custom = grouping("odoo.addons.my_mod.models.errors.QuotaExceeded: too many calls")
    assert not fp.is_business_error(custom)
    assert fp.is_business_error(custom, names={"QuotaExceeded"})
    assert fp.is_business_error(custom, names={"odoo.addons.my_mod.models.errors.QuotaExceeded"})
    assert not fp.is_business_error(custom, names={"other.module.QuotaExceeded"})
    assert "UserError" in fp.DEFAULT_BUSINESS_EXCEPTIONS


def test_server_action_code_counts_as_in_app():
    text = (
        "Traceback (most recent call last):\n"
        '  File "/opt/odoo/odoo/addons/base/models/ir_cron.py", line 563, in _callback\n'
        "    self.env['ir.actions.server'].browse(server_action_id).run()\n"
        '  File "/opt/odoo/odoo/tools/safe_eval.py", line 397, in safe_eval\n'
        "    return unsafe_eval(c, globals_dict, locals_dict)\n"
        '  File "ir.actions.server(34,)", line 2, in <module>\n'
        "ValueError: Expected singleton: res.partner(3, 4)\n"
    )
    grouping = fp.fingerprint(text)
    assert grouping.in_app_frames == ("ir.actions.server(34,):<module>", "base/models/ir_cron.py:_callback")
    assert grouping.module == "base"
    assert grouping.message_template == "Expected singleton: res.partner(<ids>)"


def test_odoo_log_header_and_colours_are_stripped():
    line = (
        "2024-05-01 10:00:00,123 4242 \x1b[1;31m\x1b[1;49mERROR\x1b[0m mydb odoo.addons.sale.models.sale_order: "
        "ValueError: Expected singleton: sale.order(5, 6)"
    )
    header, _message = normalize.split_log_header(normalize.strip_ansi(line))
    assert header["dbname"] == "mydb" and header["logger"] == "odoo.addons.sale.models.sale_order"
    grouping = fp.fingerprint(line)
    assert grouping.exception_type == "ValueError"
    assert grouping.message_template == "Expected singleton: sale.order(<ids>)"


def test_truncated_traceback_without_exception_line_still_groups():
    text = 'Something broke\nTraceback (most recent call last):\n  File "/opt/odoo/addons/x_mod/a.py", line 3, in f\n'
    grouping = fp.fingerprint(text)
    assert grouping.message_template == "Something broke"
    assert grouping.module == "x_mod"


def test_message_template_masks_values_and_keeps_identifiers():
    cases = {
        "Invalid field res.partner.x_foo in leaf ('x_foo', '=', 'Azure Interior')": "Invalid field res.partner.x_foo in leaf ('x_foo', '=', <value>)",
        "Invalid field 'x_foo' on model 'res.partner'": "Invalid field 'x_foo' on model 'res.partner'",
        'Field "x_foo" does not exist in model "res.partner"': 'Field "x_foo" does not exist in model "res.partner"',
        "Expected singleton: res.partner(12, 14, 15)": "Expected singleton: res.partner(<ids>)",
        "Record does not exist or has been deleted.\n(Record: res.partner(5,), User: 2)": "Record does not exist or has been deleted.\n(Record: res.partner(<ids>), User: <n>)",
        "External ID not found in the system: my_module.action_foo": "External ID not found in the system: my_module.action_foo",
        'relation "x_custom_table" does not exist': 'relation "x_custom_table" does not exist',
        'invalid input syntax for type integer: "abc"': "invalid input syntax for type integer: <value>",
        "Wrong value for res.partner.type: 'foo'": "Wrong value for res.partner.type: <value>",
        "[Errno 2] No such file or directory: '/var/lib/odoo/filestore/prod/d7/d764a1b2c3d4e5f607182'": "[Errno <n>] No such file or directory: '<path>'",
        "[Errno 2] No such file or directory: '/opt/odoo/addons/web/static/src/x.js'": "[Errno <n>] No such file or directory: 'web/static/src/x.js'",
        "while parsing /mnt/extra-addons/my_mod/views/partner_views.xml:12, somewhere inside": "while parsing my_mod/views/partner_views.xml:<n>, somewhere inside",
        "mail to john.doe@example.com at 2024-05-01 10:00:00 via https://smtp.example.com:465/x?a=1": "mail to <email> at <ts> via <url>",
        "token 123e4567-e89b-12d3-a456-426614174000 object at 0x7f3a2b1c4d50 hash d764a1b2c3d4": "token <uuid> object at <hex> hash <hex>",
        "column res_partner.x_studio_field21 does not exist": "column res_partner.x_studio_field21 does not exist",
        "ids 1234567 and 123456789": "ids <n> and <n>",
        "Sorry, Mitchell Admin (id=2) doesn't have 'read' access to:\n- Contact, Azure Interior (res.partner: 14)": "Sorry, <user> doesn't have 'read' access to:\n- Contact, <record> (res.partner: <n>)",
        "sequence number (INV/2024/00012) isn't aligned": "sequence number (INV/<n>/<n>) isn't aligned",
        "KeyError: 'Sale Order'": "KeyError: '<str>'",
    }
    for message, template in cases.items():
        assert normalize.message_template(message) == template, message


def test_database_exception_type_from_postgres_text():
    assert normalize.database_exception_type("could not serialize access due to concurrent update") == (
        "psycopg2.errors.SerializationFailure"
    )
    assert normalize.database_exception_type('relation "x_table" does not exist') == "psycopg2.errors.UndefinedTable"
    assert normalize.database_exception_type("something else") == ""


def test_syntax_error_frames_without_function_are_parsed():
    text = (
        "Traceback (most recent call last):\n"
        '  File "/opt/odoo/odoo/modules/module.py", line 480, in load_openerp_module\n'
        "    __import__(qualname)\n"
        '  File "/opt/odoo/addons/my_mod/models/broken.py", line 3\n'
        "    def foo(\n"
        "           ^\n"
        "SyntaxError: '(' was never closed\n"
    )
    parsed = normalize.parse(text)
    assert parsed.final.type == "SyntaxError"
    assert parsed.final.frames[-1] == ("/opt/odoo/addons/my_mod/models/broken.py", "3", "")
    assert fp.fingerprint(text).in_app_frames == ("my_mod/models/broken.py:",)
