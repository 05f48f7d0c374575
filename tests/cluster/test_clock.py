import time

import pytest

from ingressd.cluster.clock import FAKE_EPOCH, FakeClock, RealClock, format_timestamp, parse_timestamp, time_source


def test_fake_clock_starts_at_a_recognisable_time_and_moves_only_when_told():
    clock = FakeClock()
    assert format_timestamp(clock.now()) == "2026-11-25T20:00:00Z"
    assert clock.now() == clock.now() == FAKE_EPOCH
    assert clock.advance(1.5) == FAKE_EPOCH + 1.5
    assert clock() == FAKE_EPOCH + 1.5


def test_fake_clock_refuses_to_run_backwards():
    with pytest.raises(ValueError):
        FakeClock().advance(-1)


def test_real_clock_is_wall_time():
    before = time.time()
    assert before <= RealClock().now() <= time.time()


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("2026-11-25T20:00:00Z", FAKE_EPOCH),
        ("2026-11-25T20:00:01.750Z", FAKE_EPOCH + 1.75),
        ("2026-11-25T21:00:00+01:00", FAKE_EPOCH),
    ],
)
def test_parse_timestamp(text, seconds):
    assert parse_timestamp(text) == seconds


def test_format_timestamp_has_whole_seconds():
    assert format_timestamp(FAKE_EPOCH + 0.999) == "2026-11-25T20:00:00Z"


def test_time_source_accepts_clocks_and_plain_callables():
    assert time_source(FakeClock(5))() == 5
    assert time_source(lambda: 7.0)() == 7.0
    with pytest.raises(TypeError):
        time_source(42)
