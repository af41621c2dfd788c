"""The detection settings of each database this process serves, kept in memory.

The logging path may not touch a database, so the filters on it read settings
from here. The cache is filled when a registry loads, when the settings are
saved, by the processing cron and by the sink (whenever it writes to a
database whose entry is older than ``MAX_AGE``).
"""

import threading
import time

from .settings import DEFAULTS

MAX_AGE = 60.0


class SettingsCache:
    def __init__(self):
        self._entries = {}  # dbname -> (settings, monotonic time of reading)
        self._lock = threading.Lock()
        self._listeners = []

    def get(self, dbname):
        """Settings of ``dbname``; the defaults until they were read once."""
        entry = self._entries.get(dbname)
        return entry[0] if entry is not None else DEFAULTS

    def level_for(self, dbname):
        entry = self._entries.get(dbname)
        return entry[0].capture_level if entry is not None else DEFAULTS.capture_level

    def is_stale(self, dbname, max_age=MAX_AGE):
        entry = self._entries.get(dbname)
        return entry is None or time.monotonic() - entry[1] > max_age

    def update(self, dbname, settings):
        with self._lock:
            previous = self._entries.get(dbname)
            self._entries[dbname] = (settings, time.monotonic())
            listeners = list(self._listeners)
        if previous is None or previous[0] != settings:
            for listener in listeners:
                listener()

    def lowest_level(self):
        """The lowest capture level any known database asks for (the default when none is known)."""
        levels = [settings.capture_level for settings, _read_at in list(self._entries.values())]
        return min(levels + [DEFAULTS.capture_level])

    def on_change(self, listener):
        with self._lock:
            if listener not in self._listeners:
                self._listeners.append(listener)


settings_cache = SettingsCache()
