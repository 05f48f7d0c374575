"""The store on disk: `<state-dir>/store.db`, an SQLite database (as k3s keeps its objects with kine).

The store (`ingressd.cluster.store`) stays pure and in memory; this shell writes every change it
makes to the database and, on the next start with the same state dir, gives them back
(`load()` then `Store.restore`), so objects created through the API, their status, uids,
creationTimestamps and resourceVersions survive a restart, and the resourceVersion counter
continues where it stopped (it never goes back: watch clients compare it).

Schema (PRAGMA application_id marks the file as ingressd's, PRAGMA user_version is the schema):

    objects(kind, namespace, name, resource_version, body)   one row per object, body its JSON
    meta(key, value)                                         resource_version: the store's counter
                                                             as of the last delete (the counter is
                                                             the greater of it and the newest row's:
                                                             one page less to write per change);
                                                             adopted_manifest_objects: JSON list of
                                                             the keys the files define but did not
                                                             create (they existed before)
    manifest_objects(kind, namespace, name, body)            what the manifest files applied (the
                                                             app deletes an object a file no longer
                                                             has only if a file created it)

Durability: each store change is committed at once, in the store's own write call, so it is on
disk before an API request that made it is answered; the app's synchronous controller passes
commit once per pass (`batch()`): no request can be answered in between. The journal is WAL with
synchronous=NORMAL: a commit is a write into the WAL file without fsync, so a crash or kill of
ingressd loses nothing (the operating system has the data); a power loss or kernel crash can lose
the last commits before the WAL was checkpointed (SQLite keeps the file consistent either way).
synchronous=FULL (`StoreDB(..., synchronous="FULL")`) closes that gap at the cost of an fsync
per commit (see benchmarks/store_persist.py).

The connection holds SQLite's exclusive lock for as long as ingressd runs (locking_mode=EXCLUSIVE),
so a second ingressd with the same state dir is refused instead of interleaving its writes.

Corrupt or foreign data (not an SQLite file, another application's database, another schema
version, a row that does not parse) is never overwritten: `StoreDBError` names the file and says
what to do. A write that fails while running (disk full) is reported once on `warn` and retried
with the next change; the process keeps serving from memory.
"""

from __future__ import annotations

import json
import os
import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingressd.cluster.clock import parse_timestamp
from ingressd.cluster.store import Store
from ingressd.kinds import is_cluster_scoped

FILE_NAME = "store.db"
APPLICATION_ID = 0x696E6764  # "ingd"
SCHEMA_VERSION = 1
EVENT_TTL_SECONDS = 3600.0  # kube-apiserver's --event-ttl default: older Events are not restored

_SCHEMA = """
CREATE TABLE objects (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    resource_version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE manifest_objects (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
) WITHOUT ROWID;
"""

Key = tuple[str, str, str]  # kind, namespace ("" when cluster-scoped), name


class StoreDBError(Exception):
    """The database cannot be used; the message names the file and what to do.
    `status`: the exit status for `ingressd run` (1 bad data, 2 in use by another instance)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Loaded:
    objects: list[dict] = field(default_factory=list)
    resource_version: int = 0
    manifest_objects: dict[Key, dict] = field(default_factory=dict)
    adopted: set[Key] = field(default_factory=set)  # manifest objects the files did not create
    expired_events: int = 0  # Events older than the TTL, dropped from the file instead of restored

    @property
    def empty(self) -> bool:
        return not self.objects and not self.resource_version and not self.manifest_objects


def object_key(obj: dict) -> Key:
    meta = obj.get("metadata") or {}
    kind = obj.get("kind", "")
    namespace = "" if is_cluster_scoped(kind) else (meta.get("namespace") or "default")
    return kind, namespace, meta.get("name", "")


def _last_seen(event: dict) -> float:
    """When an Event last happened (its newest timestamp; unparsable ones count as now)."""
    stamps = [event.get(f) for f in ("lastTimestamp", "eventTime", "firstTimestamp")]
    stamps.append((event.get("metadata") or {}).get("creationTimestamp"))
    try:
        return max(parse_timestamp(s) for s in stamps if isinstance(s, str) and s)
    except ValueError:
        return float("inf")


def manifest_body(obj: dict) -> str:
    """How save_manifest_objects stores one object."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


class StoreDB:
    """One open `<state-dir>/store.db`, locked for this process until `close()`."""

    def __init__(self, state_dir: str | os.PathLike, synchronous: str = "NORMAL",
                 warn: Callable[[str], None] | None = None) -> None:
        self.path = Path(state_dir) / FILE_NAME
        self._warn = warn or (lambda message: None)
        self._store: Store | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._pending: dict[Key, dict | None] = {}  # changes not yet committed (after a failed write)
        self._failing = ""  # the last write error reported ("" when writes succeed)
        self._batches = 0  # open batch() blocks: changes wait for the outermost one to end
        self.writes = 0  # commits (for benchmarks and tests)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreDBError(f"ingressd: cannot create the state dir {self.path.parent}: "
                               f"{exc.strerror or exc}") from None
        existed = self.path.exists() and self.path.stat().st_size > 0
        try:
            # Secrets are among the objects: readable by this user only (SQLite gives the WAL the same mode).
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise StoreDBError(f"ingressd: cannot create {self.path}: {exc.strerror or exc}") from None
        try:
            self._db = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreDBError(f"ingressd: cannot open {self.path}: {exc}") from None
        try:
            self._open(existed, synchronous)
        except BaseException:
            self._db.close()
            raise

    # -- opening -----------------------------------------------------------------------------

    def _open(self, existed: bool, synchronous: str) -> None:
        db = self._db
        try:
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            db.execute("BEGIN EXCLUSIVE")  # takes the lock now and keeps it (exclusive locking mode)
            application_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreDBError(
                    f"ingressd: {self.path} is in use by another ingressd running with the same --state-dir "
                    f"{self.path.parent}: stop it first, or give this one another --state-dir", status=2) from None
            raise self._unusable(exc) from None
        except sqlite3.DatabaseError as exc:  # "file is not a database"
            raise self._unusable(exc) from None
        if application_id != APPLICATION_ID:
            db.execute("ROLLBACK")
            if existed and (tables or application_id):
                raise self._unusable(f"it is an SQLite database of another application "
                                     f"(application_id {application_id:#x}, tables {', '.join(sorted(tables)) or 'none'})")
            self._create(synchronous)
            return
        if version != SCHEMA_VERSION:
            db.execute("ROLLBACK")
            raise self._unusable(f"its schema version is {version}; this ingressd reads version {SCHEMA_VERSION} "
                                 "(was it written by another ingressd version?)")
        missing = {"objects", "meta", "manifest_objects"} - tables
        if missing:
            db.execute("ROLLBACK")
            raise self._unusable(f"tables missing: {', '.join(sorted(missing))}")
        db.execute("COMMIT")
        self._pragmas(synchronous)

    def _create(self, synchronous: str) -> None:
        db = self._db
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript("BEGIN;" + _SCHEMA + f"PRAGMA application_id={APPLICATION_ID};"
                             f"PRAGMA user_version={SCHEMA_VERSION};"
                             "INSERT INTO meta VALUES ('resource_version', '0'); COMMIT;")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreDBError(f"ingressd: cannot create {self.path}: {exc}") from None
        self._pragmas(synchronous)

    def _pragmas(self, synchronous: str) -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous: {synchronous!r}")
        try:
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        except sqlite3.Error as exc:
            raise StoreDBError(f"ingressd: cannot use {self.path}: {exc}") from None
        if mode.lower() != "wal":
            self._warn(f"ingressd: warning: {self.path}: journal mode {mode}, not WAL (the file system may not support it)")

    def _unusable(self, why) -> StoreDBError:
        return StoreDBError(
            f"ingressd: {self.path} is not an ingressd store: {why}. ingressd does not overwrite it: "
            f"move it away (mv {self.path} {self.path}.bad) to start with an empty store, "
            f"or use another --state-dir")

    # -- reading -----------------------------------------------------------------------------

    def load(self, now: float | None = None, event_ttl: float = EVENT_TTL_SECONDS) -> Loaded:
        """Everything stored: objects (in resourceVersion order), the counter, the manifests'
        objects. Events last seen more than `event_ttl` seconds before `now` are deleted from the
        file instead (kube-apiserver's --event-ttl: etcd expires them)."""
        loaded = Loaded()
        oldest_event = (time.time() if now is None else now) - event_ttl
        expired: list[Key] = []
        try:
            loaded.resource_version = max(
                int(self._db.execute("SELECT value FROM meta WHERE key='resource_version'").fetchone()[0]),
                self._db.execute("SELECT coalesce(max(resource_version), 0) FROM objects").fetchone()[0])
            rows = self._db.execute(
                "SELECT kind, namespace, name, body FROM objects ORDER BY resource_version").fetchall()
            manifest_rows = self._db.execute("SELECT kind, namespace, name, body FROM manifest_objects").fetchall()
            adopted = self._db.execute("SELECT value FROM meta WHERE key='adopted_manifest_objects'").fetchone()
        except (sqlite3.Error, TypeError, ValueError) as exc:
            raise self._unusable(exc) from None
        if adopted is not None:
            try:
                keys = json.loads(adopted[0])
                loaded.adopted = {(k, ns, n) for k, ns, n in keys
                                  if isinstance(k, str) and isinstance(ns, str) and isinstance(n, str)}
            except (ValueError, TypeError) as exc:
                raise self._unusable(f"table meta, adopted_manifest_objects: not a list of keys ({exc})") from None
        for table, batch in (("objects", rows), ("manifest_objects", manifest_rows)):
            for kind, namespace, name, body in batch:
                where = f"{kind} {namespace + '/' if namespace else ''}{name}"
                try:
                    obj = json.loads(body)
                except ValueError as exc:
                    raise self._unusable(f"table {table}, {where}: the JSON does not parse ({exc})") from None
                if not isinstance(obj, dict) or object_key(obj) != (kind, namespace, name):
                    raise self._unusable(f"table {table}, {where}: the JSON is not that object")
                if table == "objects" and kind == "Event" and _last_seen(obj) < oldest_event:
                    expired.append((kind, namespace, name))
                elif table == "objects":
                    loaded.objects.append(obj)
                else:
                    loaded.manifest_objects[(kind, namespace, name)] = obj
        if expired:
            try:
                self._db.execute("BEGIN")
                self._db.executemany("DELETE FROM objects WHERE kind=? AND namespace=? AND name=?", expired)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StoreDBError(f"ingressd: cannot write {self.path}: {exc}") from None
            loaded.expired_events = len(expired)
        return loaded

    # -- writing -----------------------------------------------------------------------------

    def attach(self, store: Store) -> None:
        """Write every later change of `store` (call after `Store.restore`, before other subscribers)."""
        self._store = store
        self._unsubscribe = store.subscribe(self._on_change, copy_objects=False)

    def _on_change(self, event_type: str, obj: dict) -> None:
        self._pending[object_key(obj)] = None if event_type == "DELETED" else obj
        if not self._batches:
            self.flush()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Commit the changes made inside once, at the end (one transaction instead of one per
        change). Only for synchronous code: nothing can answer an API request before the block
        ends, so "on disk when the API answers" still holds."""
        self._batches += 1
        try:
            yield
        finally:
            self._batches -= 1
            if not self._batches:
                self.flush()

    def flush(self) -> bool:
        """Commit the pending changes in one transaction; False (reported once) if that failed."""
        if not self._pending:
            return True
        db = self._db
        try:
            db.execute("BEGIN")
            for key, obj in self._pending.items():
                if obj is None:
                    db.execute("DELETE FROM objects WHERE kind=? AND namespace=? AND name=?", key)
                else:
                    db.execute("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)",
                               (*key, int(obj["metadata"]["resourceVersion"]),
                                json.dumps(obj, separators=(",", ":"))))
            if self._store is not None and any(obj is None for obj in self._pending.values()):
                # A delete takes a resourceVersion no row keeps. (Other changes' are their rows'.)
                db.execute("UPDATE meta SET value=? WHERE key='resource_version'", (str(self._store.resource_version),))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            message = f"ingressd: cannot write {self.path}: {exc}; the change stays in memory and is written with the next one"
            if message != self._failing:
                self._warn(message)
                self._failing = message
            return False
        if self._failing:
            self._warn(f"ingressd: {self.path} written again")
            self._failing = ""
        self._pending.clear()
        self.writes += 1
        return True

    def save_adopted(self, keys: set[Key]) -> bool:
        """Replace the record of the manifest objects the files did not create."""
        value = json.dumps(sorted(keys), separators=(",", ":"))
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key='adopted_manifest_objects'").fetchone()
            if (row[0] if row else "[]") == value:
                return True
            self._db.execute("BEGIN")
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('adopted_manifest_objects', ?)", (value,))
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._warn(f"ingressd: cannot write {self.path}: {exc}")
            return False
        return True

    def write_manifest_rows(self, rows: dict[Key, str | None]) -> bool:
        """Change some rows of the record of what the manifest files applied, in one transaction:
        key -> manifest_body() of its object, or None to delete the row (a reload writes what
        changed, a few hundred rows at a time between requests)."""
        db = self._db
        try:
            db.execute("BEGIN")
            for key, body in rows.items():
                if body is None:
                    db.execute("DELETE FROM manifest_objects WHERE kind=? AND namespace=? AND name=?", key)
                else:
                    db.execute("INSERT OR REPLACE INTO manifest_objects VALUES (?, ?, ?, ?)", (*key, body))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            self._warn(f"ingressd: cannot write {self.path}: {exc}; which objects the files created is not saved")
            return False
        return True

    def save_manifest_objects(self, objects: dict[Key, dict], bodies: dict[Key, str] | None = None) -> bool:
        """Replace the record of what the manifest files applied (kept with the objects).
        `bodies`: manifest_body() of some of the objects, made beforehand (a reload makes them a
        few at a time between requests)."""
        bodies = bodies or {}
        try:
            old = {(k, ns, n): body for k, ns, n, body in self._db.execute("SELECT * FROM manifest_objects")}
        except sqlite3.Error as exc:
            self._warn(f"ingressd: cannot read {self.path}: {exc}; which objects the files created is not saved")
            return False
        new = {key: bodies.get(key) or manifest_body(obj) for key, obj in objects.items()}
        changed: dict[Key, str | None] = {key: None for key in old.keys() - new.keys()}
        changed.update((key, body) for key, body in new.items() if old.get(key) != body)
        return self.write_manifest_rows(changed) if changed else True

    @property
    def healthy(self) -> bool:
        return not self._pending

    @property
    def problem(self) -> str:
        """Why changes are not on disk (for /healthz), "" when they are."""
        return self._failing.removeprefix("ingressd: ") if self._pending else ""

    def close(self) -> None:
        """Write what is pending, checkpoint the WAL into the file and release the lock."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.flush()
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        self._db.close()
