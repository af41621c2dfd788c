"""The command-line face of self_healing: demo, test, classify, bench, chaos.

Kept outside the addon's Python package on purpose: these commands manage
PostgreSQL and Odoo processes around the addon and must run before any Odoo
is imported.
"""
