"""The kubelet's crash-loop back-off (flowcontrol.Backoff as doBackOff uses it), as a table."""

import pytest

from ingressd.pods.backoff import Backoff, next_restart


def delays(crash_gaps, initial=10.0, maximum=300.0):
    """The restart delays for crashes that each come `gap` seconds after the previous restart."""
    entry, now, result = Backoff(), 1000.0, []
    for gap in crash_gaps:
        now += gap
        delay, entry = next_restart(entry, now, initial, maximum)
        result.append(delay)
        now += delay
    return result


@pytest.mark.parametrize("gaps, expected", [
    ([1], [0]),  # the first crash restarts at once: no entry yet
    ([1, 1], [0, 10]),  # the second is CrashLoopBackOff 10s
    ([1] * 8, [0, 10, 20, 40, 80, 160, 300, 300]),  # doubling, capped at 5 min
    ([1, 1, 1, 601], [0, 10, 20, 0]),  # ran well for over 2 x max since the last restart: reset
    ([1, 1, 1, 600], [0, 10, 20, 40]),  # exactly 2 x max is not yet expired
    ([1, 599, 1], [0, 10, 20]),  # a good run shorter than 2 x max keeps the window
])
def test_restart_delays(gaps, expected):
    assert delays(gaps) == expected


def test_entry_after_restart_is_stamped_at_the_restart():
    delay, entry = next_restart(Backoff(10.0, 100.0), 105.0, 10.0, 300.0)
    assert (delay, entry) == (10.0, Backoff(20.0, 115.0))
