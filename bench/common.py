"""What every benchmark gets from ``bin/self-healing bench``.

A benchmark is a module ``bench/bench_<topic>.py`` with ``run(ctx) -> dict``:
it prints its figures in plain words as it goes and returns them as a flat
dict (numbers, strings or booleans) that ``--json`` merges into one object.
Speed targets are reported as ratios against a baseline measured in the same
run, never asserted as wall-clock limits.
"""

from dataclasses import dataclass, field


@dataclass
class BenchContext:
    """Shared resources; the database is only started when a benchmark asks."""

    quick: bool = False
    _cluster_factory: object = None
    _cluster: object = None
    _scratch: list = field(default_factory=list)

    def cluster(self):
        """The PostgreSQL cluster (embedded PostgreSQL 18 with pgvector by default)."""
        if self._cluster is None:
            self._cluster = self._cluster_factory()
        return self._cluster

    def scratch_database(self, name):
        """A fresh empty database ``bench_<name>``, dropped first if it exists."""
        cluster = self.cluster()
        dbname = f"bench_{name}"
        cluster.drop_database(dbname)
        cluster.create_database(dbname)
        self._scratch.append(dbname)
        return dbname

    def close(self):
        for dbname in self._scratch:
            try:
                self._cluster.drop_database(dbname)
            except Exception:  # best effort clean-up; the figures are already printed
                pass


def addon_module(dotted):
    """Import ``odoo.addons.self_healing.<dotted>``: the one name under which Odoo loads the addon.

    Process-level code (the capture handler) belongs to the addon, not to the
    engine; importing it under Odoo's name keeps a single copy of its state.
    """
    import importlib

    from selfhealing_cli.paths import addon_link

    import odoo.addons

    addons_dir = str(addon_link().parent)
    if addons_dir not in odoo.addons.__path__:
        odoo.addons.__path__.append(addons_dir)
    return importlib.import_module(f"odoo.addons.self_healing.{dotted}")
