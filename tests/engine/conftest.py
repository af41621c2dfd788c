"""Engine tests import ``engine`` as a top-level package: no Odoo needed."""

import sys
from pathlib import Path

ADDON_ROOT = Path(__file__).resolve().parents[2]
if str(ADDON_ROOT) not in sys.path:
    sys.path.insert(0, str(ADDON_ROOT))
