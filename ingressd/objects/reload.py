"""When hot reload applies an edit to the manifest files (pure; the clock is the caller's).

Editors and shells rarely replace a file in one step. `cat > file` and many editors truncate it and
then write it in pieces; others write a temporary file and rename it over the original, and leave
swap or backup files beside it (`.file.swp`, `file~`, vim's `4913` probe, emacs' `.#file`). Loading
whatever is on disk at the first sign of a change sees an empty or half-written file and drops
routes. So an edit applies only once the manifest files — which files there are and their
contents — have stayed the same between two observations at least a settle window apart. A file
that had content and is now empty or gone must stay so for a longer window: a truncate-then-write
refills it within milliseconds, a file emptied (or deleted) on purpose stays that way.

`ReloadGate.observe` is fed every observation and answers: apply now, or look again at a given time
even if no file event arrives. The asyncio shell (ingressd.app) watches the files and reads them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# A file's observed size and content digest. Contents, not mtime: a same-size edit within the file
# system's timestamp granularity is still seen, and `touch` alone reloads nothing.
Fingerprint = tuple[int, str]
Files = Mapping[str, Fingerprint]

# A file that went empty or vanished is honoured after at least this long unchanged.
EMPTIED_SETTLE = 1.0


def fingerprint(data: bytes) -> Fingerprint:
    return len(data), hashlib.blake2b(data, digest_size=16).hexdigest()


def settle_windows(reload_interval: float) -> tuple[float, float]:
    """(settle window for an edit, longer window for a file that went empty or vanished) for
    `--reload-interval`: an edit applies once the files stayed unchanged for one interval."""
    return reload_interval, max(EMPTIED_SETTLE, 2 * reload_interval)


@dataclass(frozen=True)
class Verdict:
    apply: bool
    recheck_at: float | None = None  # observe again at this time, even without a file event


IDLE = Verdict(False)
APPLY = Verdict(True)


class ReloadGate:
    """Decides from observations over time when the manifest files are complete and stable."""

    def __init__(self, loaded: Files, settle: float, emptied_settle: float) -> None:
        self.settle = settle
        self.emptied_settle = max(emptied_settle, settle)
        self._loaded: dict[str, Fingerprint] = dict(loaded)
        self._pending: dict[str, Fingerprint] | None = None  # the files as last observed, if not loaded
        self._since = 0.0  # when the pending files were first observed as they are

    def observe(self, files: Files, now: float) -> Verdict:
        files = dict(files)
        if files == self._loaded:  # unchanged, or changed and changed back before it settled
            self._pending = None
            return IDLE
        if files != self._pending:
            self._pending, self._since = files, now
        due = self._since + self.window(files)
        return APPLY if now >= due else Verdict(False, due)

    def loaded(self, files: Files) -> None:
        """The shell loaded these files (applied or rejected as invalid: not retried until they change)."""
        self._loaded = dict(files)
        self._pending = None

    def emptied(self, files: Files) -> list[str]:
        """Files that had content when last loaded and are now empty or gone."""
        return sorted(path for path, (size, _) in self._loaded.items()
                      if size > 0 and (path not in files or files[path][0] == 0))

    def window(self, files: Files) -> float:
        return self.emptied_settle if self.emptied(files) else self.settle


# Names editors and tools write beside a file while saving it; never manifests themselves.
_TEMP_SUFFIXES = ("~", ".swp", ".swx", ".swo", ".tmp", ".bak", ".orig")


def is_editor_temp(name: str) -> bool:
    """vim's `.file.swp`, `file~` and `4913` probe; emacs' `.#file` and `#file#`; `file.tmp`; JetBrains' `___jb_`."""
    return (name.startswith(".") or name.endswith(_TEMP_SUFFIXES) or name.isdigit()
            or (name.startswith("#") and name.endswith("#")) or "___jb_" in name)


def manifest_change_filter(paths: list[str]) -> Callable[[object, str], bool]:
    """A watchfiles `watch_filter`: does a change at `path` possibly concern the manifests under
    `paths` (files given as is, directories searched like `find_manifest_files`)? Editor temp files
    and anything under a hidden directory do not wake the reload; the observation that follows a
    wake-up decides what changed."""
    roots = [os.path.abspath(p) for p in paths]

    def wakes(_change: object, path: str) -> bool:
        path = os.path.abspath(path)
        for root in roots:
            if path == root:
                return True
            if path.startswith(root.rstrip(os.sep) + os.sep):
                *dirs, name = os.path.relpath(path, root).split(os.sep)
                if not is_editor_temp(name) and not any(d.startswith(".") for d in dirs):
                    return True
        return False

    return wakes
