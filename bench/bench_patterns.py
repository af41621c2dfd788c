"""Every pattern the engine runs on error text must take time linear in the text's size.

Python's ``re`` backtracks: a pattern such as ``(?P<x>\\S[^\\n]*?) is invalid``
restarts its scan at every position of a long line, so its time grows with the
square of the line. The probes here build, for each pattern, texts that
repeat what the pattern starts with (its literal runs, followed by characters
its repeats accept) and time it at one size and four times that size: a
linear pattern takes about 4x as long, a quadratic one about 16x.

Run: ``bin/self-healing bench patterns`` (prints the 1 MB figures and the worst ratio).

"""

import time

try:
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # Python < 3.11
    import sre_constants
    import sre_parse

# Characters that typical repeats (\S, \w, [^\n], .) accept, and separators they stop at.
FILLERS = ("a", "A", "1", " ", ".", "'", '"', "(", ")", "/", ":", "_", "-", ",", "<", ">")
SMALL = 20000
LARGE = 4 * SMALL
# Linear gives ~4 between the sizes, quadratic ~16. A bounded repeat costs up to its bound at
# each start, and a shared machine's noise can double one figure: a pattern is called
# quadratic only when it also takes more than FLOOR seconds on the large text (the quadratic
# patterns this replaced took 0.6 to 30 s there, the bounded ones under 0.1 s).
RATIO_LIMIT = 10.0
FLOOR = 0.3


def shipped_patterns():
    """(where, compiled pattern) for the guardrail library and the engine's own text patterns."""
    from engine.library.guardrails import load_library
    from engine.match import classifier

    found = []
    for guardrail in load_library().guardrails:
        signals = guardrail.signals
        for kind in ("all_patterns", "any_patterns", "negative_patterns", "capture_patterns"):
            for pattern in getattr(signals, kind):
                found.append((f"{guardrail.code} {kind}", pattern))
    for name in ("_EXCEPTION_LINE", "_LOG_HEADER"):
        found.append((f"classifier.{name}", getattr(classifier, name)))
    from engine.detect import localized

    for _needle, pattern, english in localized._ENTRIES:
        found.append((f"localized {english!r}", pattern))
    found.append(("localized._SEVERITY", localized._SEVERITY))
    return found


def _literal_runs(parsed, runs, current):
    """Collect the runs of literal characters of a parsed pattern, in their case."""
    for op, value in parsed:
        if op is sre_constants.LITERAL:
            current.append(chr(value))
            continue
        if current:
            runs.append("".join(current))
            current.clear()
        if op is sre_constants.SUBPATTERN:
            _literal_runs(value[-1], runs, current)
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT):
            _literal_runs(value[2], runs, [])
        elif op is sre_constants.BRANCH:
            for branch in value[1]:
                _literal_runs(branch, runs, [])
                if current:
                    runs.append("".join(current))
                    current.clear()
    if current:
        runs.append("".join(current))
        current.clear()


def probe_units(pattern):
    """Short strings whose repetition makes a backtracking pattern restart often."""
    runs = []
    try:
        _literal_runs(sre_parse.parse(pattern.pattern, pattern.flags), runs, [])
    except Exception:  # noqa: BLE001 - a probe only; the plain fillers still run
        runs = []
    runs = [run for run in dict.fromkeys(runs) if run.strip()][:4]
    units = list(FILLERS)
    for run in runs:
        units.append(run)
        units.extend(run + filler for filler in FILLERS)
    if len(runs) > 1:
        units.append(runs[0] + runs[1])
    return units


def _fill(unit, size):
    return (unit * (size // len(unit) + 1))[:size]


def _time(pattern, text, repeat=3):
    best = None
    for _ in range(repeat):
        begin = time.perf_counter()
        pattern.search(text)
        elapsed = time.perf_counter() - begin
        best = elapsed if best is None else min(best, elapsed)
    return best


def superlinear(pattern, small=SMALL, large=LARGE):
    """(unit, small time, large time) of the first probe that grows faster than linear, or None."""
    for unit in probe_units(pattern):
        fast = _time(pattern, _fill(unit, small), repeat=1)
        slow = _time(pattern, _fill(unit, large), repeat=1)
        if slow < FLOOR:
            continue
        # Measured once more, best of three, before a pattern is called quadratic.
        fast = _time(pattern, _fill(unit, small), repeat=5)
        slow = _time(pattern, _fill(unit, large), repeat=5)
        if slow >= FLOOR and slow > RATIO_LIMIT * max(fast, 1e-6):
            return unit, fast, slow
    return None


_SINGLE_CHARACTER = (sre_constants.IN, sre_constants.ANY, sre_constants.NOT_LITERAL, sre_constants.CATEGORY)
_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT)


def _leads_with_repeat(parsed):
    """True/False once the leading items decide it, None when ``parsed`` is only single-character classes."""
    for op, value in parsed:
        if op in _SINGLE_CHARACTER:
            continue
        if op in _REPEATS:
            if value[1] is sre_constants.MAXREPEAT:
                return True
            continue
        if op is sre_constants.SUBPATTERN:
            inner = _leads_with_repeat(value[-1])
            if inner is not None:
                return inner
            continue
        if op is sre_constants.BRANCH:
            answers = [_leads_with_repeat(branch) for branch in value[1]]
            if any(answers):
                return True
            return False
        return False  # a literal, an anchor or a lookaround: the starts are pinned
    return None


def starts_with_unbounded_repeat(pattern):
    """True when a match may begin with an unbounded repeat: every position of a long run is a start then.

    Such a pattern (``(?P<x>\\w+) has no field``, ``\\S[^\\n]*? is invalid``)
    rescans the rest of the run from each of its characters; an anchor (``^``,
    ``\\b``, a lookbehind) or a leading literal keeps its starts apart.
    """
    return bool(_leads_with_repeat(sre_parse.parse(pattern.pattern, pattern.flags)))


MEGABYTE = 1 << 20
TRACEBACK = (
    "2024-05-01 10:00:00,123 4242 ERROR prod odoo.http: Exception during request handling.\n"
    "Traceback (most recent call last):\n"
    '  File "/opt/odoo/odoo/models.py", line 4807, in _create\n    cr.execute(query)\n'
    'psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "res_partner_pkey"\n'
    "DETAIL:  Key (id)=(11063) already exists.\n"
)


def megabyte_texts():
    """(label, text of 1 MB): a real error buried in noise, and the worst probes of the old patterns."""
    noise = "x" * 70 + "\n"
    body = noise * ((MEGABYTE - len(TRACEBACK)) // len(noise))
    return [
        ("traceback after 1 MB of log lines", body + TRACEBACK),
        ("one 1 MB line of word characters", "a" * MEGABYTE),
        ("'The cron ' repeated on one line", _fill("The cron ", MEGABYTE)),
        ("'Key (' repeated on one line", _fill("Key (a", MEGABYTE)),
        ("'/web/assets/' repeated", _fill("/web/assets/a", MEGABYTE)),
    ]


def run(ctx):
    from engine.match.classifier import MAX_TEXT_CHARS, Classifier

    classifier = Classifier()
    figures = {}
    print(f"Classifying 1 MB texts (the classifier reads {MAX_TEXT_CHARS} characters of head and tail; goal <= 50 ms):")
    worst = 0.0
    for label, text in megabyte_texts():
        classifier.classify(text[:1000])  # warm the caches once
        times = []
        for _ in range(3):
            begin = time.perf_counter()
            classifier.classify(text)
            times.append(time.perf_counter() - begin)
        best = min(times) * 1000
        worst = max(worst, best)
        print(f"  {label}: {best:.1f} ms")
    figures["classify_1mb_worst_ms"] = round(worst, 1)
    patterns = shipped_patterns()
    ratios = []
    small, large = (SMALL // 2, LARGE // 2) if ctx.quick else (SMALL, LARGE)
    for where, pattern in patterns:
        for unit in probe_units(pattern):
            slow = _time(pattern, _fill(unit, large), repeat=1)
            if slow < 0.002:
                continue
            # A single figure may include a pause of this shared machine: the best of three counts.
            fast = _time(pattern, _fill(unit, small))
            slow = _time(pattern, _fill(unit, large))
            if slow >= 0.002:
                ratios.append((slow, slow / max(fast, 1e-6), where, unit))
    # The slowest probes matter; a ratio of two figures of a few ms is mostly this machine's noise.
    ratios.sort(reverse=True)
    print(
        f"Pattern probes ({len(patterns)} patterns, {small} vs {large} characters; linear ~{large // small}, "
        f"quadratic ~{(large // small) ** 2}):"
    )
    for slow, ratio, where, unit in ratios[:5]:
        print(f"  slowest: {where} on {unit!r} repeated: {slow * 1000:.1f} ms at {large} (x{ratio:.1f})")
    figures["pattern_slowest_ms"] = round(ratios[0][0] * 1000, 1) if ratios else 0.0
    figures["pattern_slowest_ratio"] = round(ratios[0][1], 2) if ratios else 0.0
    return figures
