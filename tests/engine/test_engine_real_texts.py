"""Error texts as people report them: transport prefixes, forum escaping, old Odoo, context lines.

Each text below is written for this test in the shape real reports take (the
shipped cases in data/knowledge/cases are measured by bench/bench_real_cases.py,
not here).
"""

import pytest

from engine.detect.localized import MAX_VALUE, to_english
from engine.detect.normalize import clean_report
from engine.match.classifier import UNKNOWN, classify

FILESTORE_PATH = "/var/lib/odoo/filestore/prod/3f/3f2a9c1d0e4b5a6978812233445566778899aabb"
FILESTORE_ERROR = (
    f"2024-05-02 10:11:12,345 812 ERROR prod odoo.addons.base.models.ir_attachment: _read_file reading {FILESTORE_PATH}\n"
    "Traceback (most recent call last):\n"
    '  File "/opt/odoo/odoo/addons/base/models/ir_attachment.py", line 138, in _file_read\n'
    "    with open(full_path, 'rb') as f:\n"
    f"FileNotFoundError: [Errno 2] No such file or directory: '{FILESTORE_PATH}'"
)
UPGRADE_TRACEBACK = (
    "2024-06-21 09:35:02,114 124 ERROR prod odoo.modules.registry: Failed to load registry\n"
    "Traceback (most recent call last):\n"
    '  File "/opt/odoo/odoo/modules/migration.py", line 189, in migrate_module\n'
    "    migrate(self.cr, installed_version)\n"
    "TypeError: migrate() takes 1 positional argument but 2 were given"
)


def test_docker_compose_and_journald_prefixes_are_removed():
    lines = FILESTORE_ERROR.splitlines()
    compose = "\n".join(f"odoo-web-1  | {line}" for line in lines)
    journal = "\n".join(f"Oct 25 15:05:19 erp odoo[812]: {line}" for line in lines)
    for text in (compose, journal):
        assert clean_report(text) == FILESTORE_ERROR
        assert classify(text).error_class == "FILESTORE_MISSING"


def test_html_escaped_forum_paste_reads_like_the_log():
    escaped = FILESTORE_ERROR.replace("'", "&#39;").replace("\n", "<br>\n").replace('"', "&quot;") + "\n```"
    assert clean_report("```\n" + escaped) == FILESTORE_ERROR + "\n"
    assert classify(escaped).error_class == "FILESTORE_MISSING"


def test_openerp_loggers_and_python2_spellings_become_current_ones():
    text = (
        "2015-12-06 10:14:50,111 56809 ERROR test openerp.addons.base.ir.ir_cron: Call of "
        "self.pool.get('base.synchro').upload(cr, uid) failed in Job 9\n"
        "Traceback (most recent call last):\n"
        '  File "/usr/lib/python2.7/dist-packages/openerp/addons/base/ir/ir_cron.py", line 138, in _callback\n'
        "    getattr(model, method_name)(cr, uid, *args)\n"
        "TypeError: old_api() takes at least 4 arguments (3 given)"
    )
    cleaned = clean_report(text)
    assert "odoo.addons.base.models.ir_cron: Call of" in cleaned and "/odoo/addons/base/" in cleaned
    assert classify(text).error_class == "CRON_FAILURE"
    assert clean_report("ImportError: No module named html2text") == "ImportError: No module named 'html2text'"
    assert classify("ImportError: No module named html2text").error_class == "PY_DEPENDENCY_MISSING"
    old_domain = (
        "ValueError: Invalid field u'role_ids.name' in leaf \"<osv.ExtendedLeaf: (u'role_ids.name', u'=', u'x')>\""
    )
    assert "Invalid field 'role_ids.name' in leaf" in clean_report(old_domain)
    assert classify(old_domain).error_class == "INVALID_FIELD_DOMAIN"


def test_a_missing_filestore_file_is_not_read_as_a_broken_asset_bundle():
    # The request log before the error names an asset bundle; the error itself is a plain attachment.
    text = (
        '2024-05-02 10:11:12,101 812 INFO prod werkzeug: 10.0.0.7 - - "GET /web/assets/1/web.assets_frontend.min.css '
        'HTTP/1.1" 200 - 3 0.002 0.011\n' + FILESTORE_ERROR
    )
    answer = classify(text)
    assert (answer.error_class, answer.guardrail) == ("FILESTORE_MISSING", "GR-FIL-001")


def test_an_invalid_field_in_condition_is_a_domain_error_not_a_keyerror():
    text = (
        "2025-03-14 09:12:33,481 4242 ERROR prod odoo.http: Exception during request handling.\n"
        "Traceback (most recent call last):\n"
        '  File "/opt/odoo/odoo/orm/domains.py", line 980, in _optimize_field\n'
        "    field = model._fields[self.field_expr]\n"
        "KeyError: 'mobile'\n\n"
        "The above exception was the direct cause of the following exception:\n\n"
        "Traceback (most recent call last):\n"
        '  File "/opt/odoo/odoo/http.py", line 2373, in __call__\n'
        "    response = request._serve_db()\n"
        "ValueError: Invalid field res.partner.mobile in condition ('mobile', 'ilike', 'test')"
    )
    assert classify(text).error_class == "INVALID_FIELD_DOMAIN"
    assert classify("Invalid field res.partner.mobile in condition ('mobile', 'ilike', 'x')").error_class == (
        "INVALID_FIELD_DOMAIN"
    )


def test_a_scheduled_actions_traceback_is_a_cron_failure_not_a_keyerror():
    text = (
        "2024-02-01 03:00:01,002 77 ERROR prod odoo.addons.base.models.ir_cron: Call from cron Reminders: send "
        "for server action #512 failed in Job #44\n"
        "Traceback (most recent call last):\n"
        '  File "/opt/odoo/odoo/addons/base/models/ir_cron.py", line 566, in _callback\n'
        "    self.env['ir.actions.server'].browse(server_action_id).run()\n"
        '  File "/opt/odoo/odoo/models.py", line 6581, in __getitem__\n'
        "    return self._fields[key].__get__(self)\n"
        "KeyError: 'x_reminder_date'"
    )
    assert classify(text).error_class == "CRON_FAILURE"


def test_a_module_loading_failure_is_read_by_its_error_not_the_manifest_warning():
    text = (
        "2024-03-03 08:00:00,001 9 WARNING prod odoo.modules.loading: Some modules are not loaded, some "
        "dependencies or manifest may be missing: ['report_xlsx']\n"
        "2024-03-03 08:00:00,002 9 ERROR prod odoo.modules.loading: Module report_xlsx could not be loaded\n"
        "Traceback (most recent call last):\n"
        '  File "/opt/odoo/odoo/modules/module.py", line 480, in load_openerp_module\n'
        "    __import__(qualname)\n"
        "ModuleNotFoundError: No module named 'xlsxwriter'"
    )
    assert classify(text).error_class == "PY_DEPENDENCY_MISSING"
    # Alone, the warning still says what it says.
    assert classify(text.splitlines()[0]).error_class == "MANIFEST_INVALID"


def test_an_upgrade_log_with_info_context_is_not_a_cron_failure():
    text = (
        "2024-06-21 09:34:58,678 124 INFO prod odoo.modules.migration: module l10n_es_facturae: Running "
        "migration [>16.0.1.7.0] pre-migration\n"
        "2024-06-21 09:35:01,002 124 WARNING prod odoo.modules.loading: Transient module states were reset\n"
        + UPGRADE_TRACEBACK
    )
    cleaned = clean_report(text)
    assert cleaned == UPGRADE_TRACEBACK, "the context lines go, the error stays"
    assert classify(text).error_class != "CRON_FAILURE"
    # The same lines without the timestamps Odoo puts first.
    bare = "\n".join(line.split(" ", 3)[3] for line in text.splitlines()[:2]) + "\n" + UPGRADE_TRACEBACK
    assert classify(bare).error_class != "CRON_FAILURE"


def test_only_info_lines_are_kept_as_they_are():
    text = (
        "2024-01-01 00:00:00,000 1 INFO prod odoo.modules.loading: loading 1 modules...\n"
        "2024-01-01 00:00:00,001 1 INFO prod odoo.modules.loading: 1 modules loaded in 0.01s"
    )
    assert clean_report(text) == text


def test_a_log_that_lost_its_line_breaks_is_split_again():
    folded = (
        "2024-06-21 09:34:58,678 124 INFO prod odoo.modules.loading: loading 12 modules... "
        + UPGRADE_TRACEBACK.splitlines()[0]
        + " Traceback (most recent call last):\n"
        + "\n".join(UPGRADE_TRACEBACK.splitlines()[2:])
    )
    assert clean_report(folded) == UPGRADE_TRACEBACK


def test_the_access_line_of_the_failed_request_stays():
    asset_request = (
        '2024-12-27 07:35:30,178 25 INFO prod werkzeug: 10.20.0.14 - - "GET /web/assets/c3f9a71/web.assets_web.min.css '
        'HTTP/1.1" 200 - 14 0.011 0.034'
    )
    text = FILESTORE_ERROR + "\n" + asset_request
    assert clean_report(text) == text
    assert classify(text).error_class == "ASSET_BUNDLE", "the missing file was the asset bundle's"
    # Without a real error, nothing is dropped: an INFO line may be the only evidence.
    access = (
        "2025-04-09 10:02:35,774 2555 INFO crm odoo.models: Access Denied by ACLs for operation: read, uid: 31\n"
        "2025-04-09 10:02:35,779 2555 WARNING crm odoo.http: You do not have enough rights"
    )
    assert clean_report(access) == access


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        (None, ""),
        ("\x00\x01", "\x00\x01"),
        ("&amp;" * 3, "&&&"),
        ("fu'x' u'y'", "fu'x' 'y'"),
        ("a  | b", "a | b"),  # one line that only looks like a container prefix keeps its text
        ("INFO a b: one\nINFO a b: two", "INFO a b: one\nINFO a b: two"),
    ],
)
def test_odd_texts_are_cleaned_without_error(text, expected):
    assert clean_report(text) == expected
    assert classify(text or "").error_class == UNKNOWN


def test_postgresql_messages_in_another_language_are_read_in_english():
    french = (
        "2016-04-27 10:44:27,191 9917 ERROR prod odoo.sql_db: bad query: SELECT id FROM report_x_qweb\n"
        "Traceback (most recent call last):\n"
        '  File "/opt/odoo/odoo/sql_db.py", line 226, in execute\n'
        "    res = self._obj.execute(query, params)\n"
        "ProgrammingError: ERREUR:  la relation « report_x_qweb » n'existe pas\n"
        "LINE 1: SELECT id FROM report_x_qweb"
    )
    assert 'ProgrammingError: ERROR: relation "report_x_qweb" does not exist' in clean_report(french)
    assert classify(french).error_class == "UNDEFINED_TABLE"
    german = (
        "psycopg2.errors.UniqueViolation: FEHLER:  doppelter Schlüsselwert verletzt Unique-Constraint "
        "»res_partner_pkey«\nDETAIL:  Schlüssel »(id)=(7)« existiert bereits."
    )
    answer = classify(german)
    assert (answer.error_class, answer.params.get("table")) == ("SEQ_PKEY_DRIFT", "res_partner")
    # The French "column of relation" message is not read as the shorter "relation" one.
    column = "la colonne « x_note » de la relation « sale_order » n'existe pas"
    assert to_english(column) == 'column "x_note" of relation "sale_order" does not exist'


def test_odoo_messages_in_another_language_are_read_in_english():
    # An older Italian wording quoted the field with backquotes; 18.0 uses double quotes.
    italian = (
        'odoo.tools.convert.ParseError: "Errore nella validazione del vincolo\n'
        "Il campo `x_rank` non esiste\n"
        "Contesto errore:\nVista `res.partner.form.x`\n"
        '[view_id: 911, xml_id: n/d, model: res.partner, parent_id: 124]" while parsing /mnt/x/views/partner.xml:4'
    )
    assert "Field `x_rank` does not exist" in clean_report(italian)
    assert classify(italian).error_class == "VIEW_FIELD_MISSING"
    # In Chinese Odoo's field message and PostgreSQL's column message differ by their quotes only.
    assert to_english("字段`x_rank`不存在") == "Field `x_rank` does not exist"
    assert to_english('字段 "x_rank" 不存在') == 'column "x_rank" does not exist'
    spanish = "No se han encontrado registros coincidentes para id. externo 'l10n_es.tax_x' en el campo 'Impuestos'"
    assert to_english(spanish) == "No matching record found for external id 'l10n_es.tax_x' in field 'Impuestos'"
    assert classify(spanish).error_class == "EXTERNAL_ID_NOT_FOUND"


def test_english_and_unlisted_texts_stay_as_they_are():
    assert to_english(FILESTORE_ERROR) == FILESTORE_ERROR
    prose = "Bonjour, la facture ne s'affiche pas depuis la mise à jour, une idée ?"
    assert to_english(prose) == prose
    assert classify(prose).error_class == UNKNOWN
    # A value longer than any name is not a value: the message is left alone rather than mis-read.
    long_name = "x" * (MAX_VALUE + 1)
    assert to_english(f"la relation « {long_name} » n'existe pas").startswith("la relation")


def test_a_truncated_ensure_one_traceback_is_an_expected_singleton():
    # The paste kept only the unpacking inside ensure_one, not the "Expected singleton" raised from it.
    text = (
        "Create a new line and set the product first.\n"
        "Traceback (most recent call last):\n"
        '  File "/opt/odoo/odoo/models.py", line 5177, in ensure_one\n'
        "    _id, = self._ids\n"
        "ValueError: not enough values to unpack (expected 1, got 0)"
    )
    assert classify(text).error_class == "EXPECTED_SINGLETON"
    # An xml id without its module unpacks into two names: not a singleton.
    xmlid = (
        '  File "/opt/odoo/odoo/addons/base/models/ir_model.py", line 2000, in _xmlid_lookup\n'
        "    module, name = xmlid.split('.', 1)\n"
        "ValueError: not enough values to unpack (expected 2, got 1)"
    )
    assert classify(xmlid).error_class == "EXTERNAL_ID_NOT_FOUND"


def test_older_wordings_and_pasted_indentation_are_read():
    # Odoo 8.0-10.0 worded a MissingError differently, and pastes often drop the colon after its name.
    old_missing = "MissingError One of the documents you are trying to access has been deleted, please try again after refreshing."
    assert classify(old_missing).error_class == "MISSING_RECORD"
    # The view inheritance could not print the element it looked for.
    assert classify("ValueError: Element '' cannot be located in parent view").error_class == "XPATH_NOT_FOUND"
    # A paste that indented every line by one space still has its exception line.
    indented = (
        ' File "/opt/odoo/odoo/orm/models.py", line 3373, in check_access\n'
        "    raise result[1]()\n"
        " odoo.exceptions.AccessError: You are not allowed to access\n"
        "'Employee Record' (hr.version) records."
    )
    assert classify(indented).error_class == "ACCESS_ERROR"
    # Python's own indentation (two spaces for frames, four for source) is not an exception line.
    source = '  File "/opt/odoo/addons/x/models/x.py", line 9, in f\n    KeyError: is a comment here\n'
    assert classify(source).error_class == UNKNOWN


def test_a_unix_only_standard_module_missing_is_not_a_package_to_install():
    # Python has no 'resource' or 'fcntl' on Windows: no pip install brings them, the platform is the fault.
    for module in ("resource", "fcntl"):
        assert classify(f"ImportError: No module named '{module}'").error_class == UNKNOWN
    assert classify("ImportError: No module named 'paramiko'").error_class == "PY_DEPENDENCY_MISSING"
