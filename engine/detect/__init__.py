"""Detect: what one fault observation is and how observations group.

``signal`` is the shape every source produces; ``normalize`` turns raw error
text into traceback parts and message templates; ``fingerprint`` groups
observations Sentry-style; ``access_log`` and ``sql_companions`` read the
two kinds of log line that are not tracebacks (request lines with Odoo's
figures, and the ``bad query`` line that precedes a traceback);
``fingerprint_rules`` applies a database's own grouping rules; ``release``
names the modules of a traceback and the git commit of their checkout.
"""
