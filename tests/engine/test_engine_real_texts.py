"""Error texts as people report them: transport prefixes, forum escaping, old Odoo, context lines.

Each text below is written for this test in the shape real reports take (the
shipped cases in data/knowledge/cases are measured by bench/bench_real_cases.py,
not here).
"""

import pytest

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
