"""Everything that differs between the Odoo series this addon runs on (18.0 and 19.0).

One codebase serves both: code elsewhere uses the names below instead of testing the
version itself, so the day a series is dropped only this file shrinks. Each entry says
what 18.0 and 19.0 call the thing; where both series offer the same API it is used
directly and does not appear here.
"""

import contextlib
import os

from odoo import Command, fields, models, release
from odoo.modules import module as odoo_module
from odoo.tools import config
from odoo.tools.convert import convert_file

import odoo.addons

ODOO_MAJOR = release.version_info[0]
SERIES = release.major_version  # "18.0", "19.0": the same spelling as the guardrails' odoo_versions

# res.users -> res.groups: ``groups_id`` in 18.0, ``group_ids`` in 19.0 (same table, renamed field).
USER_GROUPS_FIELD = "group_ids" if ODOO_MAJOR >= 19 else "groups_id"

# The names the ORM never exposes over RPC (``_*`` and ``init``): 19.0 moved the pattern to odoo.orm.
if ODOO_MAJOR >= 19:
    from odoo.orm.utils import regex_private
else:
    from odoo.models import regex_private
PRIVATE_METHOD_RE = regex_private


def xmlrpc_access_error_code():
    """The XML-RPC fault code of an AccessError: base's controller in 18.0, the ``rpc`` addon's in 19.0."""
    if ODOO_MAJOR >= 19:
        from odoo.addons.rpc.controllers.xmlrpc import RPC_FAULT_CODE_ACCESS_ERROR
    else:
        from odoo.addons.base.controllers.rpc import RPC_FAULT_CODE_ACCESS_ERROR
    return RPC_FAULT_CODE_ACCESS_ERROR


def xmlrpc_fault_builders():
    """The module whose functions turn an exception into the Fault an XML-RPC caller gets, or None.

    18.0's base controller answers every exception of /xmlrpc and /xmlrpc/2 with a Fault
    built by ``xmlrpc_handle_exception_int`` or ``_string`` and logs nothing. 19.0's ``rpc``
    addon builds the Fault too but raises the exception again, and odoo.http logs it as it
    logs any request error: there is nothing to add (None).
    """
    if ODOO_MAJOR >= 19:
        return None
    from odoo.addons.base.controllers import rpc

    return rpc


def group_members(groups):
    """Users holding ``groups``, directly or through an implying group.

    18.0 writes implied groups onto each user, so ``users`` already holds them;
    19.0 keeps only the explicit ones in ``user_ids`` and the closure in ``all_user_ids``.
    """
    return groups.all_user_ids if ODOO_MAJOR >= 19 else groups.users


def cron_progress(env, done, remaining):
    """Report batch progress to the running scheduled action; nothing outside one.

    18.0 has ``_notify_progress`` (the caller commits); 19.0 deprecates it for
    ``_commit_progress``, which also commits, and commits even outside a cron run,
    hence the guard on the progress row both series put in the context.
    """
    if not env.context.get("ir_cron_progress_id"):
        return
    cron = env["ir.cron"]
    if ODOO_MAJOR >= 19:
        cron._commit_progress(done, remaining=remaining)
    else:
        cron._notify_progress(done=done, remaining=remaining)


if ODOO_MAJOR >= 19:
    Constraint = models.Constraint
else:

    class Constraint:
        """19.0's ``models.Constraint`` for 18.0, which only reads ``_sql_constraints``.

        Declared the 19.0 way (``_name = Constraint(definition, message)``), it adds
        ``(name, definition, message)`` to the class's own ``_sql_constraints`` when the
        class is created, before Odoo's metaclass reads them; the database constraint is
        ``<table>_<name>`` on both series.
        """

        def __init__(self, definition, message=""):
            self.definition = definition
            self.message = message

        def __set_name__(self, owner, name):
            own = list(owner.__dict__.get("_sql_constraints", []))
            owner._sql_constraints = [*own, (name[1:], self.definition, self.message)]


def load_series_data(env, module):
    """Load ``<module>/data/series/<SERIES>.xml``: the records whose fields differ per series.

    Called from the last data file of the manifest (a ``<function>`` tag), so every
    record those files refer to exists already. 18.0 groups hang from a module
    category and list ``users``; 19.0 groups hang from a ``res.groups.privilege`` and
    list ``user_ids``; actions carry ``groups_id`` / ``group_ids``. XML ids stay the
    module's, so an update rewrites them and an uninstall removes them.
    """
    convert_file(env, module, f"data/series/{SERIES}.xml", {}, mode="update", noupdate=False)
    return True


def process_cron_job(registry, db, cron_cr, job):
    """Run one acquired job as the cron worker does: 19.0 dropped the ``db`` argument."""
    if ODOO_MAJOR >= 19:
        return registry["ir.cron"]._process_job(cron_cr, job)
    return registry["ir.cron"]._process_job(db, cron_cr, job)


def add_addons_path(path):
    """Put ``path`` on the addons path of this process, as a configured ``addons_path`` entry is."""
    odoo.addons.__path__.append(path)
    forget_manifests()


def remove_addons_path(path):
    """Undo add_addons_path; ValueError if ``path`` is not on it.

    19.0 makes ``odoo.addons`` a namespace package whose frozen ``_NamespacePath``
    only offers ``append``; its entries are the list ``_path``.
    """
    paths = odoo.addons.__path__
    getattr(paths, "_path", paths).remove(path)
    forget_manifests()


def forget_manifests():
    """Drop 19.0's per-process cache of manifests found on the addons path (18.0 reads them each time)."""
    manifest_class = getattr(odoo_module, "Manifest", None)
    if manifest_class is not None:
        manifest_class._get_manifest_from_addons.cache_clear()


def filter_owners(saved_filter):
    """Users a saved filter (``ir.filters``) belongs to; empty means everyone.

    18.0 has one optional owner, ``user_id``; 19.0 shares a filter with ``user_ids``.
    """
    return saved_filter.user_ids if ODOO_MAJOR >= 19 else saved_filter.user_id


def filter_owner_values(users):
    """``ir.filters`` values giving the filter to ``users`` (18.0 keeps only the first)."""
    if ODOO_MAJOR >= 19:
        return {"user_ids": [Command.set(users.ids)]}
    return {"user_id": users[:1].id}


def config_list(key):
    """A comma-separated server option (``addons_path``, ``server_wide_modules``) as a list:
    a string in 18.0's ``odoo.tools.config``, already a list in 19.0's."""
    value = config.get(key) or []
    if isinstance(value, str):
        value = value.split(",")
    return [item.strip() for item in value if item.strip()]


def parse_bundle_name(env, filename, debug):
    """``(bundle, rtl, asset_type, autoprefix)`` of a generated bundle's file name; ValueError if not one.

    19.0 adds autoprefixed CSS bundles (``….autoprefixed.min.css``) and returns the flag as a
    fourth value; 18.0 has none, so it is always False there.
    """
    parsed = env["ir.asset"]._parse_bundle_name(filename, debug)
    return (*parsed, False) if len(parsed) == 3 else parsed


def asset_bundle_options(autoprefix):
    """Keyword arguments of ``ir.qweb._get_asset_bundle`` for that flag (18.0 has no such argument)."""
    return {"autoprefix": True} if autoprefix else {}


def run_cron_here(cron):
    """Run a scheduled action once in the current transaction; its exception propagates.

    That is 18.0's ``method_direct_trigger``. 19.0's runs the job on a cursor of its own,
    commits it and turns a failure into a client action: useless inside a fix's savepoint,
    which must see the fix's own writes and be rolled back.
    """
    if ODOO_MAJOR < 19:
        return cron.method_direct_trigger()
    cron.ensure_one()
    cron.browse().check_access("write")
    job, _progress = cron.with_user(cron.user_id).with_context(lastcall=cron.lastcall, cron_id=cron.id)._add_progress()
    job.ir_actions_server_id.run()
    cron.lastcall = fields.Datetime.now()
    cron.env.flush_all()
    return True


# The folder of the ``odoo`` package: 19.0 makes it a namespace package, without ``__file__``.
ODOO_PACKAGE_DIR = os.path.dirname(os.path.realpath(release.__file__))


# Loader warnings that give advice rather than report a fault: 19.0 also warns about a missing author.
MANIFEST_ADVICE = ("Missing `author` key",)


def load_manifest(module, module_dir):
    """The manifest of ``module`` read from ``module_dir`` now, validated as the loader does.

    Raises ValueError("Module <module>: invalid manifest") on a bad version on both series.
    18.0's ``load_manifest`` does that; 19.0 deprecates it for ``Manifest``, which parses
    the file (an unparsable one gives no manifest) and validates on first access.
    """
    if ODOO_MAJOR < 19:
        return odoo_module.load_manifest(module, module_dir)
    manifest = odoo_module.Manifest._from_path(module_dir)
    return dict(manifest) if manifest else {}


def registry_in_test_mode(registry):
    """Whether the registry hands out the running test's cursor.

    18.0 says so (``in_test_mode``); 19.0's test framework instead patches the registry
    instance's ``cursor`` method (odoo/tests/common.py, ``_registry_test_mode_patches``).
    """
    if ODOO_MAJOR < 19:
        return registry.in_test_mode()
    return "cursor" in vars(registry)


@contextlib.contextmanager
def signalled_changes(registry):
    """Signal the registry and cache changes made inside to the other workers, or drop them on error.

    That is ``Registry.manage_changes``, which 19.0 deprecates for its two halves, present in both.
    """
    try:
        yield registry
        registry.signal_changes()
    except Exception:
        registry.reset_changes()
        raise


def save_favourite(filters, values):
    """Save a favourite the way the web client's RPC does: ``create_or_replace`` in 18.0,
    ``create_filter`` in 19.0 (which no longer replaces a namesake)."""
    if ODOO_MAJOR >= 19:
        return filters.create_filter(values)
    return filters.create_or_replace(values)


def smtp_connect(mail_servers, **kwargs):
    """An SMTP session as Odoo opens one to send (None in its test mode): ``connect`` in 18.0,
    renamed ``_connect__`` in 19.0."""
    if ODOO_MAJOR >= 19:
        return mail_servers._connect__(**kwargs)
    return mail_servers.connect(**kwargs)
