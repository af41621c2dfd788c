"""Chaos scenarios: real Odoo faults injected into a database marked for chaos, and how each shows up.

``smtp`` is plain Python (the chaos command imports it outside Odoo); the
other modules run inside Odoo and are imported where they are used, so this
package imports nothing on its own.
"""
