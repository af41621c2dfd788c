"""`self-healing pot`: export the translation template ``i18n/self_healing.pot`` with Odoo's own exporter.

Odoo collects the terms from the Python sources (``_()`` and ``self.env._()``), the views,
the data files and the field labels of an installed database, so the template is taken from
a fresh database with the addon installed, not written by hand.
"""

import contextlib
import shutil
import subprocess

from . import pg
from .errors import UsageError
from .odoo_config import write_config
from .odoo_db import install_addon
from .odoo_locate import locate_odoo
from .paths import ADDON_ROOT, PG_DATA, RUN_DIR
from .requirements import ensure_requirements

POT_DB = "self_healing_pot"
POT_PATH = ADDON_ROOT / "i18n" / "self_healing.pot"


def add_arguments(parser):
    parser.add_argument("--pg", metavar="URI", help="use this PostgreSQL (postgresql://user:pw@host:port)")


def run(args):
    ensure_requirements()
    odoo = locate_odoo()
    cluster = pg.from_uri(args.pg) if args.pg else pg.start_embedded(PG_DATA)
    cluster.drop_database(POT_DB)
    # Odoo's exporter walks the module folder following links, and the checkout's .run/ links
    # back to the checkout: export from a clean copy of the addon instead.
    source = RUN_DIR / "pot-src"
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(ADDON_ROOT, source / "self_healing", ignore=shutil.ignore_patterns(".run", ".git", "__pycache__"))
    addons_path = ",".join(str(path) for path in [*odoo.addons_paths, source])
    config = write_config("pot", odoo, cluster, POT_DB, extra={"addons_path": addons_path})
    try:
        install_addon(odoo, config, POT_DB, demo=False, log_name="pot-install")
        POT_PATH.parent.mkdir(exist_ok=True)
        exported = RUN_DIR / "self_healing.pot"
        command = odoo.command(
            "server",
            "-c",
            str(config),
            "-d",
            POT_DB,
            f"--i18n-export={exported}",
            "--modules=self_healing",
            "--stop-after-init",
            "--no-http",
        )
        result = subprocess.run(command, env=odoo.environment(), check=False)
        if result.returncode != 0 or not exported.exists():
            raise UsageError("Odoo's exporter did not write the template; see the output above")
        POT_PATH.write_text(_strip_volatile(exported.read_text()))
    finally:
        shutil.rmtree(source, ignore_errors=True)
        with contextlib.suppress(Exception):
            cluster.drop_database(POT_DB)
    print(f"wrote {POT_PATH}")
    return 0


def _strip_volatile(text):
    # Odoo stamps the export time and its own version into the header; a template that changes
    # on every export would make every run a diff.
    keep = []
    for line in text.splitlines(keepends=True):
        if line.startswith(('"POT-Creation-Date:', '"PO-Revision-Date:')):
            continue
        keep.append(line)
    return "".join(keep)
