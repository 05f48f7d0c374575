"""RequestBody: memory up to the buffer size, an unlinked temp file beyond it, files reused."""

from __future__ import annotations

import os

import pytest

from ingressd.proxy import request_body
from ingressd.proxy.request_body import RequestBody


@pytest.mark.parametrize("limit, parts, spilled", [
    (8192, [b"a" * 100], False),
    (8192, [b"a" * 8192], False),
    (8192, [b"a" * 8000, b"b" * 193], True),
    (8192, [b"a" * 9000], True),
    (0, [b"x"], True),
    (8192, [b"a" * 5000, b"b" * 5000, b"c" * 70_000, b"d"], True),
])
def test_the_body_reads_back_whole_and_again(tmp_path, limit, parts, spilled):
    body = RequestBody(limit, str(tmp_path))
    for part in parts:
        body.append(part)
    assert body.spilled is spilled
    assert body.size == sum(map(len, parts))
    assert b"".join(body.chunks()) == b"".join(parts)
    assert b"".join(body.chunks()) == b"".join(parts)  # a retry reads it again
    assert all(len(piece) <= request_body.SEND_CHUNK for piece in body.chunks())
    body.close()
    assert list(tmp_path.iterdir()) == []  # unlinked: never visible in the directory


def test_a_reused_file_yields_only_the_new_bodys_bytes(tmp_path):
    first = RequestBody(10, str(tmp_path))
    first.append(b"S" * 50_000)
    first.close()
    second = RequestBody(10, str(tmp_path))
    second.append(b"t" * 20)
    assert second.spilled and b"".join(second.chunks()) == b"t" * 20
    second.close()


def test_a_large_body_gives_its_disk_space_back_and_spares_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(request_body, "KEPT_FILES", 1)
    big = RequestBody(10, str(tmp_path))
    big.append(b"B" * (request_body.KEPT_BYTES + 1))
    fd = big._fd
    big.close()
    assert os.fstat(fd).st_size == 0  # kept, truncated
    a, b = RequestBody(10, str(tmp_path)), RequestBody(10, str(tmp_path))
    a.append(b"x" * 20)
    b.append(b"y" * 20)
    assert a._fd == fd and b._fd != fd
    spare_b = b._fd
    a.close()
    b.close()  # one spare is kept at most: this one is closed
    with pytest.raises(OSError):
        os.fstat(spare_b)
