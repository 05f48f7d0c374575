"""Container log rotation and retention decisions (pure; the kubelet's container log manager)."""

from __future__ import annotations

import pytest

from ingressd.apimachinery.log_rotation import (
    Maintenance,
    check_max_files,
    expired_log_dirs,
    parse_max_size,
    plan_maintenance,
    previous_instance,
    rotated_files,
    rotated_name,
    split_writes,
)

T0 = 1795636800.0  # 2026-11-25T20:00:00Z


@pytest.mark.parametrize(("text", "want"), [
    ("10Mi", 10 * 1024 * 1024), ("500Ki", 512000), ("1000000", 1000000), ("1M", 1000000), ("-1", -1),
    ("0", "must not be 0"), ("1.5", "not a whole number of bytes"), ("10MB", "not a quantity"),
    ("", "not a quantity"),
])
def test_parse_max_size(text, want):
    if isinstance(want, str):
        with pytest.raises(ValueError, match=want):
            parse_max_size(text)
    else:
        assert parse_max_size(text) == want


@pytest.mark.parametrize(("count", "ok"), [(2, True), (5, True), (1, False), (0, False), (-3, False)])
def test_max_files_must_exceed_one(count, ok):
    if ok:
        assert check_max_files(count) == count
    else:
        with pytest.raises(ValueError, match="must be > 1"):
            check_max_files(count)


@pytest.mark.parametrize(("size", "data", "max_size", "want"), [
    # fits: one write, no rotation
    (0, b"a\nb\n", 10, [(False, b"a\nb\n")]),
    (6, b"abc\n", 10, [(False, b"abc\n")]),
    # exactly full: still fits
    (6, b"abcd", 10, [(False, b"abcd")]),
    # the whole lines that fit stay, the rest starts a new file
    (4, b"ab\ncd\nef\n", 10, [(False, b"ab\ncd\n"), (True, b"ef\n")]),
    # no line end within the room: rotate first, then the data in the fresh file
    (8, b"abcdef\n", 10, [(True, b"abcdef\n")]),
    # many files' worth in one chunk
    (0, b"aaaa\nbbbb\ncccc\n", 10, [(False, b"aaaa\nbbbb\n"), (True, b"cccc\n")]),
    (0, b"aaa\nbbb\nccc\nddd\n", 8, [(False, b"aaa\nbbb\n"), (True, b"ccc\nddd\n")]),
    # a line longer than the maximum gets a file of its own, whole
    (0, b"0123456789abc\nx\n", 10, [(False, b"0123456789abc\n"), (True, b"x\n")]),
    (3, b"0123456789abc\n", 10, [(True, b"0123456789abc\n")]),
    # ... also without a line end (a partial line: the rest follows in the next write)
    (0, b"0123456789abc", 10, [(False, b"0123456789abc")]),
    # a file already past the maximum (a long line before): the next write rotates first
    (14, b"x\n", 10, [(True, b"x\n")]),
    # negative: rotation disabled
    (10**9, b"x\n", -1, [(False, b"x\n")]),
    (0, b"", 10, []),
])
def test_split_writes(size, data, max_size, want):
    assert split_writes(size, data, max_size) == want
    assert b"".join(piece for _, piece in want) == data  # nothing lost, nothing reordered


@pytest.mark.parametrize(("now", "taken", "want"), [
    (T0, [], "c.log.20261125-200000"),
    (T0 + 3661, ["c.log.20261125-200000.gz"], "c.log.20261125-210101"),
    # the same second again: a counter sorting after the ones there, compressed or not
    (T0, ["c.log.20261125-200000.gz"], "c.log.20261125-200000-1"),
    (T0, ["c.log.20261125-200000-1.gz", "c.log.20261125-200000-2"], "c.log.20261125-200000-3"),
    # the first of that second already removed: the counter still goes up, never reuses a lower name
    (T0, ["c.log.20261125-200000-4"], "c.log.20261125-200000-5"),
    # other containers' files do not count
    (T0, ["d.log.20261125-200000", "c.previous.log.20261125-200000"], "c.log.20261125-200000"),
])
def test_rotated_name(now, taken, want):
    assert rotated_name("c.log", now, taken) == want


def test_rotated_files_sort_by_time_then_counter():
    names = ["c.log", "c.log.20261125-200000-10.gz", "c.log.20261125-200000-2", "c.log.20261125-195959.gz",
             "c.log.20261125-200000.gz", "c.log.20261125-200000-2.gz.tmp", "c.log.junk", "c.previous.log"]
    assert rotated_files("c.log", names) == [
        "c.log.20261125-195959.gz", "c.log.20261125-200000.gz", "c.log.20261125-200000-2",
        "c.log.20261125-200000-10.gz",
    ]


@pytest.mark.parametrize(("names", "max_files", "want"), [
    # one rotation: the only rotated file stays uncompressed
    (["c.log", "c.log.20261125-200000"], 5, Maintenance((), ())),
    # a second: the older one is compressed
    (["c.log", "c.log.20261125-200000", "c.log.20261125-200010"], 5,
     Maintenance((), ("c.log.20261125-200000",))),
    # at the limit: max_files - 1 rotated files kept, the oldest removed (compressed or not)
    (["c.log", "c.log.20261125-200000.gz", "c.log.20261125-200010.gz", "c.log.20261125-200020.gz",
      "c.log.20261125-200030", "c.log.20261125-200040"], 5,
     Maintenance(("c.log.20261125-200000.gz",), ("c.log.20261125-200030",))),
    (["c.log", "c.log.20261125-200000", "c.log.20261125-200010"], 2,
     Maintenance(("c.log.20261125-200000",), ())),
    # leftovers of an interrupted compression: the .tmp, and a file whose .gz exists
    (["c.log", "c.log.20261125-200000.gz.tmp", "c.log.20261125-200000", "c.log.20261125-200010",
      "c.log.20261125-200010.gz"], 5,
     Maintenance(("c.log.20261125-200000.gz.tmp", "c.log.20261125-200010"), ("c.log.20261125-200000",))),
    # another container's and the previous instance's files are not this log's
    (["c.log", "c.log.20261125-200000", "d.log.20261125-190000", "c.previous.log.20261125-190000"], 2,
     Maintenance((), ())),
])
def test_plan_maintenance(names, max_files, want):
    assert plan_maintenance("c.log", names, max_files) == want


@pytest.mark.parametrize(("names", "want_remove", "want_renames"), [
    ([], [], []),
    (["c.log"], [], [("c.log", "c.previous.log")]),
    (["c.log", "c.log.20261125-200000.gz", "c.log.20261125-200010", "c.previous.log",
      "c.previous.log.20261125-190000.gz", "d.log"],
     ["c.previous.log", "c.previous.log.20261125-190000.gz"],
     [("c.log", "c.previous.log"), ("c.log.20261125-200000.gz", "c.previous.log.20261125-200000.gz"),
      ("c.log.20261125-200010", "c.previous.log.20261125-200010")]),
])
def test_previous_instance(names, want_remove, want_renames):
    assert previous_instance("c", names) == (want_remove, want_renames)


@pytest.mark.parametrize(("dirs", "live", "now", "retention", "want"), [
    ([], set(), T0, 3600, []),
    # gone longer than the retention: removed; exactly at it: removed; just under: kept
    ([("default", "old", T0 - 7200), ("default", "edge", T0 - 3600), ("default", "recent", T0 - 3599)],
     set(), T0, 3600, [("default", "edge"), ("default", "old")]),
    # a pod that exists keeps its logs however old they are
    ([("default", "quiet", T0 - 10**6), ("shop", "quiet", T0 - 10**6)], {("default", "quiet")}, T0, 60,
     [("shop", "quiet")]),
])
def test_expired_log_dirs(dirs, live, now, retention, want):
    assert expired_log_dirs(dirs, live, now, retention) == want
