"""ContainerLog (rotation on write, maintenance), LogFollower, restarts and retention, on real files."""

from __future__ import annotations

import gzip
import os

from ingressd.apimachinery.log_rotation import LogPolicy
from ingressd.pods.container_log import (
    ContainerLog,
    LogFollower,
    maintain,
    open_instance_log,
    remove_expired_logs,
)

T0 = 1795636800.0  # 2026-11-25T20:00:00Z


class Ticking:
    """A clock one second further at every look."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        self.now += 1
        return self.now


def all_lines(directory, container="c") -> list[str]:
    """Every line kept for the container's current instance, oldest first."""
    names = sorted(os.listdir(directory))
    rotated = [n for n in names if n.startswith(f"{container}.log.")]
    text = b""
    for name in rotated:
        data = (directory / name).read_bytes()
        text += gzip.decompress(data) if name.endswith(".gz") else data
    text += (directory / f"{container}.log").read_bytes()
    return text.decode().splitlines()


def test_rotation_keeps_max_files_whole_lines_and_every_line_of_the_kept_files(tmp_path):
    log = ContainerLog(tmp_path / "c.log", LogPolicy(100, 3), now=Ticking(), maintain=maintain)
    for i in range(100):
        log.write(f"line {i:03d}\n".encode())
    log.close()
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 3
    assert names[0] == "c.log" and names[1].endswith(".gz") and not names[2].endswith(".gz")
    for name in names:
        assert os.path.getsize(tmp_path / name) <= 100 or name.endswith(".gz")
    lines = all_lines(tmp_path)
    first = int(lines[0].split()[1])
    assert lines == [f"line {i:03d}" for i in range(first, 100)]  # contiguous: nothing lost in what is kept
    assert first > 0  # and the oldest went


def test_a_chunk_larger_than_several_files_rotates_as_often_as_needed(tmp_path):
    log = ContainerLog(tmp_path / "c.log", LogPolicy(50, 5), now=Ticking(), maintain=maintain)
    log.write(b"".join(f"{i:09d}\n".encode() for i in range(18)))  # 180 bytes: 4 files of 5 lines or less
    log.close()
    assert len(os.listdir(tmp_path)) == 4
    assert all_lines(tmp_path) == [f"{i:09d}" for i in range(18)]


def test_rotation_disabled_with_a_negative_size(tmp_path):
    log = ContainerLog(tmp_path / "c.log", LogPolicy(-1, 2), now=Ticking(), maintain=maintain)
    for _ in range(100):
        log.write(b"x" * 99 + b"\n")
    log.close()
    assert os.listdir(tmp_path) == ["c.log"]


def test_the_follower_drains_the_rotated_file_before_turning_to_the_new_one(tmp_path):
    log = ContainerLog(tmp_path / "c.log", LogPolicy(20, 5), now=Ticking(), maintain=maintain)
    log.write(b"one\n")
    follower = LogFollower(tmp_path / "c.log")
    assert follower.read_new() == b"one\n"
    log.write(b"two\n")
    log.write(b"three\n")
    log.write(b"four\n")  # 19 bytes so far
    log.write(b"five\n")  # rotates: "two", "three", "four" were never read from the old file
    log.write(b"six\n")
    assert follower.read_new() == b"two\nthree\nfour\nfive\nsix\n"
    assert follower.read_new() == b""
    log.write(b"seven\n")
    assert follower.read_new() == b"seven\n"
    follower.close()
    log.close()


def test_a_restart_keeps_the_instance_that_ended_as_previous_and_drops_the_one_before(tmp_path):
    clock = Ticking()
    policy = LogPolicy(10, 3)
    first = open_instance_log(tmp_path, "c", restarted=False, policy=policy, now=clock)
    first.write(b"first-a\nfirst-b\n")  # the second line rotates the first away
    first.close()
    second = open_instance_log(tmp_path, "c", restarted=True, policy=policy, now=clock)
    second.write(b"second\n")
    second.close()
    assert (tmp_path / "c.previous.log").read_bytes() == b"first-b\n"
    assert [n for n in os.listdir(tmp_path) if n.startswith("c.previous.log.")] != []
    third = open_instance_log(tmp_path, "c", restarted=True, policy=policy, now=clock)
    third.close()
    assert (tmp_path / "c.previous.log").read_bytes() == b"second\n"
    assert sorted(os.listdir(tmp_path)) == ["c.log", "c.previous.log"]  # the first instance is gone
    fresh = open_instance_log(tmp_path, "c", restarted=False, policy=policy, now=clock)  # a new pod, same name
    fresh.close()
    assert sorted(os.listdir(tmp_path)) == ["c.log"]


def test_remove_expired_logs_removes_gone_pods_after_the_retention_only(tmp_path):
    for namespace, pod, age in [("default", "gone-long", 7200), ("default", "gone-recently", 60),
                                ("default", "running", 10**6), ("shop", "gone-long", 7200)]:
        directory = tmp_path / namespace / pod
        directory.mkdir(parents=True)
        (directory / "c.log").write_text("x\n")
        for path in (directory / "c.log", directory):
            os.utime(path, (T0 - age, T0 - age))
    removed = remove_expired_logs(tmp_path, {("default", "running")}, T0, 3600)
    assert removed == ["default/gone-long", "shop/gone-long"]
    assert sorted(p.name for p in (tmp_path / "default").iterdir()) == ["gone-recently", "running"]
    assert not (tmp_path / "shop").exists()  # an emptied namespace directory goes too
    assert remove_expired_logs(tmp_path / "missing", set(), T0, 3600) == []


def test_the_follower_reads_every_file_rotated_between_two_reads(tmp_path):
    log = ContainerLog(tmp_path / "c.log", LogPolicy(10, 10), now=Ticking(), maintain=maintain)
    follower = LogFollower(tmp_path / "c.log")
    log.write(b"first\n")
    assert follower.read_new() == b"first\n"
    lines = [f"line{i:03d}\n".encode() for i in range(30)]  # 8 bytes: one line a file
    for line in lines:
        log.write(line)
    # the file it had open ("first" only) is drained, then what the maintenance kept: 9 rotated
    # (compressed but the newest) and the current file; the 20 removed before the read are missed
    assert follower.read_new() == b"".join(lines[-10:])
    log.write(b"more\n")
    assert follower.read_new() == b"more\n"
    follower.close()
    log.close()


def test_the_follower_loses_nothing_when_the_rotated_files_are_kept(tmp_path):
    log = ContainerLog(tmp_path / "c.log", LogPolicy(20, 100), now=Ticking(), maintain=maintain)
    log.write(b"first\n")
    follower = LogFollower(tmp_path / "c.log")
    lines = [f"line{i:03d}\n".encode() for i in range(30)]
    for line in lines:  # the open file is rotated, then compressed, many times over
        log.write(line)
    assert follower.read_new() == b"first\n" + b"".join(lines)
    follower.close()
    log.close()
