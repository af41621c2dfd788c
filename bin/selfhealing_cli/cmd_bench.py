"""`self-healing bench`: every benchmark under bench/, figures printed, JSON on demand."""

import contextlib
import importlib
import json
import sys
import time

from . import pg
from .paths import ADDON_ROOT, PG_DATA

BENCH_DIR = ADDON_ROOT / "bench"


def add_arguments(parser):
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object of all figures on stdout (the prose goes to stderr)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer iterations, smaller data sets")
    parser.add_argument("--only", action="append", metavar="NAME", help="run only bench/bench_NAME.py (repeatable)")
    parser.add_argument("--pg", metavar="URI", help="use this PostgreSQL instead of the embedded one")


def discover(only=None):
    names = sorted(path.stem[len("bench_") :] for path in BENCH_DIR.glob("bench_*.py"))
    if only:
        unknown = set(only) - set(names)
        if unknown:
            from .errors import UsageError

            raise UsageError(f"no benchmark named {', '.join(sorted(unknown))}; known: {', '.join(names)}")
        names = [name for name in names if name in only]
    return names


def run(args):
    for path in (ADDON_ROOT, ADDON_ROOT / "bin"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    with contextlib.suppress(Exception):
        # Benchmarks that compare with Odoo's own code import it; Odoo-free ones don't care.
        from .odoo_locate import locate_odoo

        sys.path.insert(0, str(locate_odoo().root))
    from bench.common import BenchContext

    ctx = BenchContext(
        quick=args.quick,
        _cluster_factory=(lambda: pg.from_uri(args.pg)) if args.pg else (lambda: pg.start_embedded(PG_DATA)),
    )
    figures = {}
    prose = sys.stderr if args.json else sys.stdout
    failed = []
    try:
        with contextlib.redirect_stdout(prose):
            for name in discover(args.only):
                print(f"\n== bench {name} ==", flush=True)
                started = time.perf_counter()
                try:
                    module = importlib.import_module(f"bench.bench_{name}")
                    figures.update(module.run(ctx) or {})
                except Exception as exc:  # one broken benchmark must not hide the others' figures
                    failed.append(name)
                    print(f"bench {name} FAILED: {type(exc).__name__}: {exc}", flush=True)
                print(f"({name}: {time.perf_counter() - started:.1f} s)", flush=True)
    finally:
        ctx.close()
    if args.json:
        print(json.dumps(figures, sort_keys=True))
    return 1 if failed else 0
