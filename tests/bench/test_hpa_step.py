"""benchmarks/hpa_step.py's pure parts: the scale decisions it marks on its plot and reports."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "hpa_step.py"


@pytest.fixture(scope="module")
def hpa_step():
    spec = importlib.util.spec_from_file_location("hpa_step", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(*desired):
    return [{"second": i, "desired": d} for i, d in enumerate(desired)]


@pytest.mark.parametrize("timeline, expected", [
    (rows(1, 1, 1), []),
    (rows(None, 1, 3, 3, 4, 4, 1), [(2, "scale-out", 1, 3), (4, "scale-out", 3, 4), (6, "scale-in", 4, 1)]),
    (rows(2, None, 1), [(2, "scale-in", 2, 1)]),  # a missed sample is not a decision
    (rows(0, 1, 1, 4), [(3, "scale-out", 1, 4)]),  # 0: no status yet, not a scale from 0
])
def test_decisions_are_the_changes_of_desired_replicas(hpa_step, timeline, expected):
    assert hpa_step.decisions(timeline) == expected


def test_the_hpa_targets_the_utilization_the_plot_draws(hpa_step):
    import yaml

    (hpa,) = [d for d in yaml.safe_load_all(hpa_step.manifests(20, 4, 30)) if d["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == hpa_step.TARGET_UTILIZATION
