"""Log the faults Odoo 18.0 answers to XML-RPC callers and never writes to its log.

On 18.0 an exception raised under /xmlrpc or /xmlrpc/2 becomes a Fault for the
caller and nothing else, so a view or field fault met only by an integration
over XML-RPC would never reach the capture (PostgreSQL errors do, through
sql_db's own log line). Wrapping the two functions that build that Fault logs
the exception as odoo.http logs the same exception on any other request (as
19.0 does by itself), under the controller's logger. The Fault is unchanged.
"""

import contextlib
import functools
import logging

from odoo import exceptions

from .. import compat

BUILDERS = ("xmlrpc_handle_exception_int", "xmlrpc_handle_exception_string")
# odoo.http's own message for an unexpected request error: the normaliser already knows it
# says nothing about the fault, so grouping looks at the exception instead.
MESSAGE = "Exception during request handling."
WRAPPED = "_self_healing_wraps"


def log_fault(logger, exc):
    """Log ``exc`` at the level odoo.http gives it on a JSON-RPC or page request."""
    if isinstance(exc, exceptions.AccessDenied):
        # A wrong login or API key: res.users already logs the failed login, and an
        # integration with stale credentials is not a fault of this database.
        return
    if hasattr(exc, "loglevel"):
        logger.log(exc.loglevel, exc, exc_info=getattr(exc, "exc_info", None))
    elif isinstance(exc, (exceptions.UserError, exceptions.RedirectWarning)):
        logger.warning(exc)
    else:
        logger.error(MESSAGE, exc_info=exc)


def _wrap(builder, logger):
    @functools.wraps(builder)
    def build_and_log(exc):
        # The caller gets its Fault whatever logging does.
        with contextlib.suppress(Exception):
            log_fault(logger, exc)
        return builder(exc)

    setattr(build_and_log, WRAPPED, builder)
    return build_and_log


def install(module=None):
    """Wrap the Fault builders of ``module`` (18.0's XML-RPC controller by default), once whatever the calls."""
    module = module if module is not None else compat.xmlrpc_fault_builders()
    if module is None:
        return
    logger = logging.getLogger(module.__name__)
    for name in BUILDERS:
        builder = getattr(module, name)
        if not hasattr(builder, WRAPPED):
            setattr(module, name, _wrap(builder, logger))


def uninstall(module=None):
    """Put the original Fault builders back."""
    module = module if module is not None else compat.xmlrpc_fault_builders()
    if module is None:
        return
    for name in BUILDERS:
        original = getattr(getattr(module, name), WRAPPED, None)
        if original is not None:
            setattr(module, name, original)
