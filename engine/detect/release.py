"""Release tracking: which modules a traceback runs through, at which version and commit.

An occurrence records the installed version of every module whose code is in its
traceback, and the git commit of the checkout that module lives in. An incident
marked "resolved in the next upgrade of module X" keeps the version X had then;
a recurrence reopens it only when X has moved on since (Sentry's "resolved in
next release"): an occurrence on the old code is expected until the upgrade.
"""

import os
import re

from . import normalize
from .fingerprint import classifier_for

# The modules one occurrence names: a traceback through more is cut (outermost dropped).
MAX_MODULES = 20
_COMMIT = re.compile(r"[0-9a-f]{40}")
_VERSION_PART = re.compile(r"\d+")
# folder -> its git directory ("" outside a checkout); git directory -> (stamp, commit).
_git_dirs = {}
_commit_cache = {}
_CACHE_LIMIT = 256


def traceback_modules(text, addons_roots=()):
    """{module: its folder as the traceback names it}, innermost frame first, at most MAX_MODULES.

    Only frames of addon code count (core and library frames name no module);
    the folder is the frame's path up to the module, so its checkout can be found.
    """
    classifier = classifier_for(addons_roots)
    found = {}
    for part in reversed(normalize.parse(text or "").exceptions):
        for path, _line, _function in reversed(part.frames):
            where = classifier.classify(path)
            if not where or not where[0] or where[0] in found:
                continue
            module, relative = where
            normalized = path.replace("\\", "/")
            found[module] = normalized[: len(normalized) - len(relative)].rstrip("/")
            if len(found) == MAX_MODULES:
                return found
    return found


def version_key(version):
    """A version string as a tuple of its numbers, for ordering: ``18.0.1.10.0`` > ``18.0.1.9.0``."""
    return tuple(int(number) for number in _VERSION_PART.findall(version or ""))


def is_later(current, recorded):
    """Whether the release ``current`` ({"version", "commit"}) is past ``recorded``.

    A higher version is later. At the same version, a different known commit is
    a new deploy of that module (teams that do not bump versions still move
    their checkout); the same commit, or no commit known, is the same release.
    """
    current, recorded = current or {}, recorded or {}
    now, then = version_key(current.get("version")), version_key(recorded.get("version"))
    if now != then:
        return now > then
    return bool(current.get("commit") and recorded.get("commit") and current["commit"] != recorded["commit"])


def git_commit(folder):
    """The commit checked out in the git work tree holding ``folder``, or "" when there is none.

    Read from the files git keeps (``.git/HEAD``, the ref it names, ``packed-refs``;
    a ``.git`` file points at a worktree's or submodule's git directory): no process
    is started by a production server to learn it. The answer is kept until one of
    those files changes (a deploy moves the ref, not HEAD).
    """
    git_dir = _git_dirs.get(folder)
    if git_dir is None:
        git_dir = _git_dir(folder)
        if len(_git_dirs) >= _CACHE_LIMIT:
            _git_dirs.clear()
        _git_dirs[folder] = git_dir
    if not git_dir:
        return ""
    head = _read(os.path.join(git_dir, "HEAD"))
    roots = _ref_roots(git_dir)
    watched = [os.path.join(git_dir, "HEAD")] + [os.path.join(root, "packed-refs") for root in roots]
    if head.startswith("ref:"):
        ref = head[len("ref:") :].strip().split("/")
        watched.extend(os.path.join(root, *ref) for root in roots)
    stamp = (head, tuple(_mtime(path) for path in watched))
    cached = _commit_cache.get(git_dir)
    if cached and cached[0] == stamp:
        return cached[1]
    commit = _read_head(head, roots)
    if len(_commit_cache) >= _CACHE_LIMIT:
        _commit_cache.clear()
    _commit_cache[git_dir] = (stamp, commit)
    return commit


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _ref_roots(git_dir):
    # A linked worktree keeps its HEAD in its own git directory and the refs in the main one.
    common = _read(os.path.join(git_dir, "commondir"))
    return [git_dir] + ([os.path.normpath(os.path.join(git_dir, common))] if common else [])


def _git_dir(folder):
    current = os.path.abspath(folder) if folder else ""
    while current:
        candidate = os.path.join(current, ".git")
        if os.path.isdir(candidate):
            return candidate
        if os.path.isfile(candidate):
            pointed = _read(candidate)
            if pointed.startswith("gitdir:"):
                target = pointed[len("gitdir:") :].strip()
                return os.path.normpath(os.path.join(current, target))
            return ""
        parent = os.path.dirname(current)
        if parent == current:
            return ""
        current = parent
    return ""


def _read_head(head, roots):
    if _COMMIT.fullmatch(head):
        return head  # a detached HEAD names the commit itself
    if not head.startswith("ref:"):
        return ""
    ref = head[len("ref:") :].strip()
    for root in roots:
        value = _read(os.path.join(root, *ref.split("/")))
        if _COMMIT.fullmatch(value):
            return value
    for root in roots:
        for line in _read(os.path.join(root, "packed-refs")).splitlines():
            commit, _, name = line.partition(" ")
            if name == ref and _COMMIT.fullmatch(commit):
                return commit
    return ""


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(1 << 20).strip()
    except OSError:
        return ""
