from odoo import api, fields, models

from ..engine.detect import release

# The summary is for reading and searching; the JSON keeps every module the traceback names.
MAX_RELEASE_CHARS = 500


class SelfHealingOccurrence(models.Model):
    _inherit = "self_healing.occurrence"

    module_versions = fields.Json(
        string="Module Releases",
        readonly=True,
        help="The modules whose code is in this occurrence's traceback, each with the version installed "
        "and the git commit of its checkout when the server observed it.",
    )
    release = fields.Char(
        readonly=True,
        help="The modules of the traceback at their release: module version (commit).",
    )

    @api.model
    def _release_values(self, traceback, addons_roots=()):
        """``module_versions`` and ``release`` for an occurrence of ``traceback``, observed now."""
        folders = release.traceback_modules(traceback, addons_roots)
        if not folders:
            return {}
        releases = self._current_releases(folders)
        if not releases:
            return {}
        summary = ", ".join(
            f"{module} {facts['version']}" + (f" ({facts['commit'][:7]})" if facts.get("commit") else "")
            for module, facts in releases.items()
        )
        return {"module_versions": releases, "release": summary[:MAX_RELEASE_CHARS]}

    @api.model
    def _current_releases(self, folders):
        """{module: {"version", "commit"}} for the installed modules among ``folders`` ({module: folder})."""
        self.env.cr.execute(
            "SELECT name, latest_version FROM ir_module_module"
            " WHERE state IN ('installed', 'to upgrade') AND name = ANY(%s)",
            [list(folders)],
        )
        versions = dict(self.env.cr.fetchall())
        return {
            module: {"version": versions[module] or "", "commit": release.git_commit(folder)}
            for module, folder in folders.items()
            if module in versions
        }
