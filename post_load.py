"""The addon's post_load hook: Odoo runs it once per process, before any registry exists.

With ``server_wide_modules = base,web,self_healing`` that is at server start,
so errors raised while a database's registry loads are captured too.
"""

import logging

_logger = logging.getLogger(__name__)


def post_load():
    from .detection import installer

    try:
        installer.install()
    except Exception:  # the server must start even if capture cannot
        _logger.exception("Self-Healing could not install its log capture")
