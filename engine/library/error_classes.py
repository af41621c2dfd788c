"""The canonical root-cause classes (data/error_classes.json).

Every guardrail names exactly one of them; the classifier answers one of them
or ``UNKNOWN``, which is an abstention, never a wrong answer.
"""

import functools
import json
from pathlib import Path

UNKNOWN = "UNKNOWN"
CLASSES_FILE = Path(__file__).resolve().parents[2] / "data" / "error_classes.json"


@functools.lru_cache(maxsize=1)
def load_classes():
    """``{code: definition}`` in the file's order."""
    with CLASSES_FILE.open(encoding="utf-8") as handle:
        document = json.load(handle)
    return {entry["code"]: entry["definition"] for entry in document["classes"]}


def label(code):
    """A readable label such as ``Seq Pkey Drift`` for a selection field."""
    return code.replace("_", " ").title().replace("Pkey", "PKey")


def selection():
    """Selection items for Odoo fields: every class plus UNKNOWN."""
    return [(code, label(code)) for code in load_classes()] + [(UNKNOWN, "Unknown")]
