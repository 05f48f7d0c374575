"""Shared fixtures: a fake clock and a store on it."""

import pytest

from ingressd.cluster.clock import FakeClock
from ingressd.cluster.store import Store


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def store(clock):
    return Store(clock)
