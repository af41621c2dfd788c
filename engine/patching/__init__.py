"""Patching: the pure helpers the auto-patches use.

``params`` checks the parameters handed to an auto-patch (they come from
server observations) and expands its declared scope; ``manifest_text``
edits a manifest's text keeping every other byte; ``domain_refs`` finds the
field paths a stored domain refers to without evaluating it; ``view_anchor``
reads the anchor a "cannot be located in parent view" error quotes and keeps
its xpath within what Odoo views use.
"""
