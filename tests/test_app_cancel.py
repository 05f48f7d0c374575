"""Stopping ingressd cancels its loops even when a wake-up and the cancel arrive together.

asyncio.wait_for on Python 3.11 returns the inner result and drops a cancellation that lands in
the same loop iteration as the inner wait finishing (cpython#86296); ingressd's loops then never
ended and a SIGTERM'd ingressd hung until SIGKILL. ingressd uses asyncio.timeout instead."""

from __future__ import annotations

import ast
import asyncio
import io
from pathlib import Path

from ingressd.app import Ingressd, RunOptions

PACKAGE = Path(__file__).resolve().parent.parent / "ingressd"


def app(tmp_path) -> Ingressd:
    return Ingressd(RunOptions(paths=[], state_dir=str(tmp_path / "state"), certs_dir=str(tmp_path / "certs")),
                    out=io.StringIO(), err=io.StringIO())


async def test_the_control_loop_ends_when_cancelled_as_it_is_woken(tmp_path):
    ingressd = app(tmp_path)
    passes: list[int] = []

    async def reconcile() -> None:
        ingressd._reconcile_wanted.clear()
        passes.append(1)

    ingressd.reconcile = reconcile
    task = asyncio.create_task(ingressd.control_loop())
    for _ in range(5):  # into its wait for a store event
        await asyncio.sleep(0)
    ingressd._reconcile_wanted.set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=3)
    assert task in done and task.cancelled(), "the cancellation was lost: the loop went on"
    assert passes == []


async def test_stop_ends_every_loop_that_was_woken_at_the_moment_of_the_signal(tmp_path):
    ingressd = app(tmp_path)

    async def reconcile() -> None:  # as the real one: the wake-up is consumed
        ingressd._reconcile_wanted.clear()

    ingressd.reconcile = reconcile
    ingressd._tasks = [asyncio.create_task(ingressd.control_loop())]
    for _ in range(5):
        await asyncio.sleep(0)
    ingressd._reconcile_wanted.set()
    stopping = asyncio.create_task(ingressd.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)
    assert stopping in done and stopping.exception() is None and ingressd._tasks == []


def test_no_module_uses_asyncio_wait_for():
    users = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "wait_for" and \
                    isinstance(node.value, ast.Name) and node.value.id == "asyncio":
                users.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert users == [], "asyncio.wait_for drops cancellations on Python 3.11 (cpython#86296); " \
                        "use `async with asyncio.timeout(...)`"
