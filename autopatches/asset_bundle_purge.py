"""ASSET_BUNDLE: a generated web asset bundle whose stored file is missing or corrupt."""

import hashlib

from .base import AutoPatch, Diagnosis, register, replayed

BUNDLE_URL_PREFIX = "/web/assets/"


def bundle_attachments(env, bundle=None):
    """The generated bundle attachments (optionally of one bundle), as Odoo creates them."""
    domain = [("url", "=like", BUNDLE_URL_PREFIX + "%"), ("res_model", "=", "ir.ui.view"), ("public", "=", True)]
    if bundle:
        domain.append(("name", "=like", bundle.replace("_", "\\_") + ".%"))
    return env["ir.attachment"].with_context(active_test=False).search(domain, order="id")


def defect(attachment):
    """Why the attachment cannot be served as it is, or "" when it is fine."""
    if attachment.store_fname:
        path = attachment._full_path(attachment.store_fname)
        try:
            with open(path, "rb") as handle:
                content = handle.read()
        except FileNotFoundError:
            return f"its file {attachment.store_fname} is missing from the filestore"
        except OSError as exc:
            return f"its file {attachment.store_fname} cannot be read ({exc.strerror})"
    elif attachment.db_datas:
        content = attachment.raw
    else:
        return "it has no content at all"
    if not content:
        return "its content is empty"
    if attachment.checksum and hashlib.sha1(content).hexdigest() != attachment.checksum:
        return "its content does not match its checksum (corrupt file)"
    return ""


def bundle_key(env, attachment):
    """``(bundle_name, asset_type, rtl, debug)`` of a bundle attachment, or None for a source map."""
    filename = attachment.url.rsplit("/", 1)[-1]
    # Minified bundles end in .min.js/.min.css; the debug ones do not.
    for debug in (False, True):
        try:
            name, rtl, asset_type = env["ir.asset"]._parse_bundle_name(filename, debug)
        except ValueError:
            continue
        return name, asset_type, rtl, debug
    return None


def regenerate(env, key):
    """Build a bundle again the way the /web/assets route does; return its attachment."""
    name, asset_type, rtl, debug = key
    bundle = env["ir.qweb"]._get_asset_bundle(
        name,
        css=asset_type == "css",
        js=asset_type == "js",
        debug_assets=debug,
        rtl=rtl,
    )
    if asset_type == "css":
        return bundle.css() if bundle.stylesheets else env["ir.attachment"]
    return bundle.js() if bundle.javascripts else env["ir.attachment"]


def request_bundle(env, key):
    """What ``/web/assets/<version>/<file>`` does for a page that links the bundle: the bytes it serves.

    The page links the bundle's current version; the route serves the stored attachment of that
    URL, builds the bundle when there is none, and streams its file. Raises what the route would.
    """
    name, asset_type, rtl, debug = key
    bundle = env["ir.qweb"]._get_asset_bundle(
        name, css=asset_type == "css", js=asset_type == "js", debug_assets=debug, rtl=rtl
    )
    url = bundle.get_link(asset_type)
    attachment = (
        env["ir.attachment"]
        .sudo()
        .search(
            [
                ("public", "=", True),
                ("url", "=like", url),
                ("res_model", "=", "ir.ui.view"),
                ("res_id", "=", 0),
            ],
            limit=1,
        )
    )
    if not attachment:
        attachment = regenerate(env, key)
    if not attachment:
        raise ValueError(f"{url} is not found: bundle {name} has no {asset_type} files")
    # What the route's stream (``ir.attachment._to_http_stream``, bound to an HTTP request) reads.
    if attachment.store_fname:
        with open(attachment._full_path(attachment.store_fname), "rb") as handle:
            content = handle.read()
    else:
        content = attachment.raw
    if not content:
        raise ValueError(f"{url} serves an empty file")
    if attachment.checksum and hashlib.sha1(content).hexdigest() != attachment.checksum:
        raise ValueError(f"{url} serves bytes that do not match the bundle's checksum (corrupt file)")
    return f"{url} ({len(content)} bytes)"


@register
class AssetBundlePurge(AutoPatch):
    """Delete broken generated asset bundles so Odoo builds them again."""

    code = "asset_bundle_purge"
    title = "Purge broken asset bundles"
    error_classes = ("ASSET_BUNDLE",)
    guardrails = ("GR-AST-002", "GR-AST-004", "GR-AST-006")
    params = {
        "bundle": {
            "pattern": r"[A-Za-z0-9_.]{1,128}",
            "required": False,
            "description": "Bundle name such as web.assets_web; all bundles when omitted.",
        },
    }
    scope_models = ("ir.attachment",)
    risk = "low"
    replays = "the page's request for each rebuilt bundle (/web/assets/<version>/<file>): lookup, build, stream"

    def _broken(self, env, params):
        """{attachment: defect} for broken bundle attachments, with every attachment of their bundles."""
        attachments = bundle_attachments(env, params.get("bundle"))
        broken = {attachment: defect(attachment) for attachment in attachments}
        broken = {attachment: reason for attachment, reason in broken.items() if reason}
        keys = {bundle_key(env, attachment) for attachment in broken} - {None}
        # The whole bundle goes: its other files (other versions, maps) are rebuilt with it.
        siblings = attachments.filtered(lambda attachment: bundle_key(env, attachment) in keys)
        return broken, keys, siblings

    def diagnose(self, env, params):
        broken, keys, siblings = self._broken(env, params)
        evidence = {
            "bundle": params.get("bundle") or "",
            "broken": [
                {"id": attachment.id, "url": attachment.url, "store_fname": attachment.store_fname, "defect": reason}
                for attachment, reason in broken.items()
            ],
            "bundles": sorted(f"{name} ({kind})" for name, kind, _rtl, _debug in keys),
            "deleted_with_them": siblings.ids,
        }
        if not broken:
            return Diagnosis(False, "every generated asset bundle file is present and matches its checksum", evidence)
        return Diagnosis(
            True,
            "; ".join(f"{attachment.url}: {reason}" for attachment, reason in broken.items()),
            evidence,
            rows=len(siblings),
            files=len(siblings.filtered("store_fname")),
        )

    def plan(self, env, params):
        broken, keys, siblings = self._broken(env, params)
        if not broken:
            return "Nothing to do: no broken asset bundle."
        lines = ["Delete these bundle attachments (rows and file content kept in the backup):"]
        for attachment in siblings:
            reason = broken.get(attachment)
            lines.append(f"  #{attachment.id} {attachment.url}" + (f"  <- {reason}" if reason else ""))
        lines.append("Then build again: " + ", ".join(sorted(f"{name} ({kind})" for name, kind, _rtl, _debug in keys)))
        return "\n".join(lines)

    def apply(self, ctx):
        broken, keys, siblings = self._broken(ctx.env, ctx.params)
        ctx.memo["keys"] = sorted(keys)
        ctx.unlink(siblings, purge_corrupt_files=True)

    def _keys(self, env, params):
        """The bundles a page would request: those with a broken file, else the named bundle's."""
        _broken, keys, _siblings = self._broken(env, params)
        if keys or not params.get("bundle"):
            return sorted(keys)
        return sorted(
            {bundle_key(env, attachment) for attachment in bundle_attachments(env, params["bundle"])} - {None}
        )

    def replay(self, env, params, keys=None):
        keys = [tuple(key) for key in (keys if keys is not None else self._keys(env, params))]
        if not keys:
            return False, "no bundle to request"
        served = []
        for key in keys:
            ok, detail = replayed(env, f"the request for {key[0]} ({key[1]})", lambda key=key: request_bundle(env, key))
            if not ok:
                return False, detail
            served.append(detail)
        return True, "the asset requests serve " + ", ".join(served)

    def validate(self, ctx):
        for key in ctx.memo["keys"]:
            attachment = regenerate(ctx.env, tuple(key))
            if not attachment:
                return False, f"bundle {key[0]} ({key[1]}) has no {key[1]} files to build"
            problem = defect(attachment)
            if problem:
                return False, f"the rebuilt {attachment.url} is still broken: {problem}"
        return self.replay(ctx.env, ctx.params, ctx.memo["keys"])
