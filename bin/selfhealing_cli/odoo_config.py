"""The odoo.conf the commands write for a run."""

import configparser
import socket

from .errors import UsageError
from .paths import RUN_DIR, addon_link, dev_addons_link


def write_config(name, odoo, cluster, dbname, http_port=8069, extra=None, dev_addons=False):
    """Write ``.run/<name>.conf`` and return its path; ``dev_addons`` adds the chaos addon's folder."""
    link = addon_link()
    options = {
        "addons_path": ",".join(
            str(path) for path in [*odoo.addons_paths, link.parent, *([dev_addons_link().parent] if dev_addons else [])]
        ),
        "data_dir": str(RUN_DIR / "data"),
        "db_host": cluster.host,
        "db_port": str(cluster.port),
        "db_user": cluster.user,
        "db_name": dbname,
        "dbfilter": f"^{dbname}$",
        "list_db": "False",
        "http_interface": "127.0.0.1",
        "http_port": str(http_port),
        "gevent_port": str(http_port + 1),
        "admin_passwd": "admin",
        "without_demo": "False",
        "server_wide_modules": "base,web,self_healing",
    }
    if cluster.password:  # Odoo 19 warns about "False" in a non-boolean option; absent means none
        options["db_password"] = cluster.password
    options.update(extra or {})
    parser = configparser.ConfigParser()
    parser["options"] = options
    path = RUN_DIR / f"{name}.conf"
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        parser.write(handle)
    return path


def ensure_port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise UsageError(f"port {port} on 127.0.0.1 is in use: stop what uses it or pass --port N") from exc


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
