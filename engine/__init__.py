"""Pure-Python core of self_healing.

Nothing in this package imports odoo: it is loaded both as
``odoo.addons.self_healing.engine`` inside the server and as a top-level
``engine`` package by ``bin/self-healing`` (classify, bench) and the engine
tests, so modules here only use relative imports among themselves.
"""
