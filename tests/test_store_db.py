"""ingressd/store_db.py: the store's changes in <state-dir>/store.db and back after a restart."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from ingressd.cluster.store import Store
from ingressd.store_db import APPLICATION_ID, FILE_NAME, SCHEMA_VERSION, StoreDB, StoreDBError


def config_map(name: str, value: str = "1", namespace: str = "default") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {"k": value}}


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "ingressd/echo"}]}}


def restarted(state_dir) -> tuple[Store, StoreDB]:
    db = StoreDB(state_dir)
    loaded = db.load()
    store = Store()
    store.restore(loaded.objects, loaded.resource_version)
    db.attach(store)
    return store, db


def test_objects_status_and_resource_versions_survive_a_reopen(tmp_path):
    store, db = restarted(tmp_path)
    store.apply(config_map("a"))
    store.apply(pod("p"))
    status = {"phase": "Running", "podIP": "127.1.0.1"}
    store.update_status("Pod", "default", "p", status)
    store.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    before = {kind: store.list(kind) for kind in ("ConfigMap", "Pod", "Node")}
    counter = store.resource_version
    db.close()

    store, db = restarted(tmp_path)
    try:
        assert {kind: store.list(kind) for kind in ("ConfigMap", "Pod", "Node")} == before
        assert store.get("Pod", "default", "p")["status"] == status
        assert store.resource_version == counter
        assert store.kind_version("Pod") == counter  # caches keyed on it rebuild
        assert store.apply(config_map("b"))["metadata"]["resourceVersion"] == str(counter + 1)
    finally:
        db.close()


def test_the_counter_continues_past_deletes_and_never_goes_back(tmp_path):
    store, db = restarted(tmp_path)
    store.apply(config_map("a"))
    store.apply(config_map("b"))
    store.delete("ConfigMap", "default", "b")  # the delete takes resourceVersion 3, no row holds it
    assert store.resource_version == 3
    db.close()

    store, db = restarted(tmp_path)
    try:
        assert [o["metadata"]["name"] for o in store.list("ConfigMap")] == ["a"]
        assert store.resource_version == 3
        assert store.apply(config_map("a", "2"))["metadata"]["resourceVersion"] == "4"
        assert store.get("ConfigMap", "default", "b") is None
    finally:
        db.close()


def test_a_watch_from_before_the_restart_is_too_old_and_one_from_after_it_resumes(tmp_path):
    store, db = restarted(tmp_path)
    store.apply(config_map("a"))
    store.apply(config_map("a", "2"))
    db.close()
    store, db = restarted(tmp_path)
    try:
        assert store.events_since(1) is None  # 410 Gone: the history went with the old process
        assert store.events_since(2) == []
        store.apply(config_map("a", "3"))
        assert [(t, o["data"]) for t, o in store.events_since(2)] == [("MODIFIED", {"k": "3"})]
    finally:
        db.close()


def test_restore_keeps_what_the_store_owns():
    store = Store()
    obj = store.apply(config_map("a"))
    again = Store()
    again.restore([obj], 0)
    assert again.get("ConfigMap", "default", "a") == obj
    assert again.resource_version == int(obj["metadata"]["resourceVersion"])
    with pytest.raises(RuntimeError):
        again.restore([obj], 0)
    with pytest.raises(ValueError, match="no metadata.uid"):
        Store().restore([config_map("a")], 0)


def test_what_the_manifest_files_applied_is_remembered(tmp_path):
    db = StoreDB(tmp_path)
    applied = {("ConfigMap", "default", "a"): config_map("a"), ("Node", "", "n"): {"kind": "Node", "metadata": {"name": "n"}}}
    assert db.save_manifest_objects(applied)
    assert db.save_manifest_objects({("ConfigMap", "default", "a"): config_map("a", "2")})
    db.close()
    db = StoreDB(tmp_path)
    try:
        assert db.load().manifest_objects == {("ConfigMap", "default", "a"): config_map("a", "2")}
    finally:
        db.close()


def test_the_manifest_objects_the_files_did_not_create_are_remembered(tmp_path):
    db = StoreDB(tmp_path)
    assert db.load().adopted == set()
    assert db.save_adopted({("ConfigMap", "default", "a"), ("Namespace", "", "x")})
    db.close()
    db = StoreDB(tmp_path)
    assert db.load().adopted == {("ConfigMap", "default", "a"), ("Namespace", "", "x")}
    db.save_adopted(set())
    assert db.load().adopted == set()
    db.close()


def test_a_new_file_is_versioned_and_in_wal_mode(tmp_path):
    StoreDB(tmp_path / "state").close()
    db = sqlite3.connect(tmp_path / "state" / FILE_NAME)
    try:
        assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def unusable(tmp_path) -> str:
    with pytest.raises(StoreDBError) as caught:
        StoreDB(tmp_path)
    assert caught.value.status == 1
    message = caught.value.message
    assert str(tmp_path / FILE_NAME) in message and "move it away" in message
    return message


def test_a_file_that_is_not_sqlite_is_refused_and_kept(tmp_path):
    garbage = b"not a database at all\n" * 100
    (tmp_path / FILE_NAME).write_bytes(garbage)
    assert "file is not a database" in unusable(tmp_path)
    assert (tmp_path / FILE_NAME).read_bytes() == garbage


def test_another_applications_database_is_refused(tmp_path):
    db = sqlite3.connect(tmp_path / FILE_NAME)
    db.execute("CREATE TABLE users (name TEXT)")
    db.commit()
    db.close()
    assert "another application" in unusable(tmp_path)


def test_another_schema_version_is_refused(tmp_path):
    StoreDB(tmp_path).close()
    db = sqlite3.connect(tmp_path / FILE_NAME)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    assert f"schema version is {SCHEMA_VERSION + 1}" in unusable(tmp_path)


def test_a_row_that_does_not_parse_is_named(tmp_path):
    store, db = restarted(tmp_path)
    store.apply(config_map("a"))
    db.close()
    raw = sqlite3.connect(tmp_path / FILE_NAME)
    raw.execute("UPDATE objects SET body='{not json' WHERE name='a'")
    raw.commit()
    raw.close()
    db = StoreDB(tmp_path)
    try:
        with pytest.raises(StoreDBError) as caught:
            db.load()
    finally:
        db.close()
    assert "ConfigMap default/a: the JSON does not parse" in caught.value.message
    assert str(tmp_path / FILE_NAME) in caught.value.message


def test_a_second_process_on_the_same_state_dir_is_refused(tmp_path):
    db = StoreDB(tmp_path)
    try:
        code = ("import sys\nfrom ingressd.store_db import StoreDB, StoreDBError\n"
                f"try:\n    StoreDB({str(tmp_path)!r})\nexcept StoreDBError as e:\n"
                "    print(e.status, e.message)\n    sys.exit(0)\nsys.exit('opened')")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    finally:
        db.close()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2 ") and "in use by another ingressd" in result.stdout
    assert str(tmp_path) in result.stdout
    StoreDB(tmp_path).close()  # released on close


def test_a_failed_write_is_reported_once_and_retried_with_the_next_change(tmp_path):
    warnings: list[str] = []
    db = StoreDB(tmp_path, warn=warnings.append)
    store = Store()
    db.attach(store)
    real = db._db
    db._db = _Failing(real)
    store.apply(config_map("a"))
    store.apply(config_map("b"))
    assert not db.healthy
    assert len(warnings) == 1 and "cannot write" in warnings[0] and str(tmp_path / FILE_NAME) in warnings[0]
    assert db.problem.startswith(f"cannot write {tmp_path / FILE_NAME}: database or disk is full")
    db._db = real
    store.apply(config_map("c"))
    assert db.healthy and "written again" in warnings[-1] and db.problem == ""
    db.close()
    store, db = restarted(tmp_path)
    try:
        assert [o["metadata"]["name"] for o in store.list("ConfigMap")] == ["a", "b", "c"]
    finally:
        db.close()


class _Failing:
    """A connection whose writes fail as on a full disk."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real = real

    @property
    def in_transaction(self) -> bool:
        return self.real.in_transaction

    def execute(self, sql: str, *args):
        if sql.startswith("INSERT"):
            raise sqlite3.OperationalError("database or disk is full")
        return self.real.execute(sql, *args)


def test_events_older_than_the_event_ttl_are_dropped_not_restored(tmp_path):
    clock = [1_800_000_000.0]
    store = Store(clock=lambda: clock[0])
    db = StoreDB(tmp_path)
    db.attach(store)
    start = clock[0]
    for name, at in (("old", start), ("recent", start + 2)):
        clock[0] = at
        store.apply({"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": "default"},
                     "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Started",
                     "lastTimestamp": _stamp(at)})
    store.apply(config_map("a"))
    db.close()
    db = StoreDB(tmp_path)
    try:
        loaded = db.load(now=start + 3601)
        assert sorted(o["metadata"]["name"] for o in loaded.objects) == ["a", "recent"]
        assert loaded.expired_events == 1
    finally:
        db.close()
    db = StoreDB(tmp_path)
    try:
        assert db.load(now=0).expired_events == 0  # deleted from the file, not only skipped
    finally:
        db.close()


def _stamp(seconds: float) -> str:
    from ingressd.cluster.clock import format_timestamp
    return format_timestamp(seconds)


@pytest.mark.parametrize("steps", [
    ["apply a", "apply b", "delete b"],
    ["apply a", "delete a"],
    ["apply a", "apply b", "delete b", "update a"],
    ["apply a", "delete a", "apply a", "apply b", "delete b", "delete a"],
])
def test_the_counter_after_a_reopen_is_the_counter_before_it(tmp_path, steps):
    store, db = restarted(tmp_path)
    values = iter(range(100))
    for step in steps:
        verb, name = step.split()
        if verb == "apply":
            store.apply(config_map(name))
        elif verb == "update":
            store.apply(config_map(name, str(next(values))))
        else:
            store.delete("ConfigMap", "default", name)
    counter = store.resource_version
    db.close()
    store, db = restarted(tmp_path)
    try:
        assert store.resource_version == counter
    finally:
        db.close()


def test_the_file_and_its_wal_are_readable_by_their_owner_only(tmp_path):
    store, db = restarted(tmp_path / "state")
    try:
        store.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "c2VjcmV0"}})
        for name in (FILE_NAME, FILE_NAME + "-wal"):
            assert (tmp_path / "state" / name).stat().st_mode & 0o777 == 0o600, name
    finally:
        db.close()


def test_a_batch_commits_once_at_its_end_even_when_it_raises(tmp_path):
    store, db = restarted(tmp_path)
    try:
        with db.batch():
            store.apply(config_map("a"))
            with db.batch():
                store.apply(config_map("b"))
            assert db.writes == 0 and not db.healthy  # pending until the outermost batch ends
            store.delete("ConfigMap", "default", "a")
        assert db.writes == 1 and db.healthy
        with pytest.raises(RuntimeError):
            with db.batch():
                store.apply(config_map("c"))
                raise RuntimeError("a controller bug")
        assert db.writes == 2
        counter = store.resource_version
    finally:
        db.close()
    store, db = restarted(tmp_path)
    try:
        assert [o["metadata"]["name"] for o in store.list("ConfigMap")] == ["b", "c"]
        assert store.resource_version == counter
    finally:
        db.close()
