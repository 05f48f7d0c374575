"""Wilson intervals and the chi-square p-value against published tables and closed forms."""

from __future__ import annotations

import math

import pytest

from ingressd.bench.stats import (
    chi2_sf,
    chi_square_gof,
    gamma_q,
    status_class,
    wilson_interval,
    z_score,
)


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (Wilson score).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
    ],
)
def test_wilson_95_matches_newcombe(successes, trials, low, high):
    lo, hi = wilson_interval(successes, trials, 0.95)
    assert lo == pytest.approx(low, abs=5e-5)
    assert hi == pytest.approx(high, abs=5e-5)


def test_wilson_edges_stay_in_the_unit_interval():
    assert wilson_interval(0, 1000, 0.999)[0] == 0.0
    assert wilson_interval(1000, 1000, 0.999)[1] == 1.0


def test_wilson_999_is_wider_and_contains_the_truth_for_a_typical_10_percent_sample():
    lo95, hi95 = wilson_interval(1000, 10_000, 0.95)
    lo, hi = wilson_interval(1000, 10_000, 0.999)
    assert lo < lo95 < 0.1 < hi95 < hi
    assert (hi - lo) / 2 == pytest.approx(3.2905 * math.sqrt(0.09 / 10_000), rel=0.01)


@pytest.mark.parametrize("bad", [(1, 0), (-1, 10), (11, 10)])
def test_wilson_rejects_impossible_counts(bad):
    with pytest.raises(ValueError):
        wilson_interval(*bad)


def test_z_scores():
    assert z_score(0.95) == pytest.approx(1.959963984540054, abs=1e-12)
    assert z_score(0.999) == pytest.approx(3.2905267314919255, abs=1e-12)
    with pytest.raises(ValueError):
        z_score(1.0)


@pytest.mark.parametrize(
    ("statistic", "df", "p"),
    [
        # Critical values from standard chi-square tables.
        (3.841458820694124, 1, 0.05),
        (10.827566170662733, 1, 0.001),
        (5.991464547107979, 2, 0.05),
        (13.815510557964274, 2, 0.001),
        (18.307038053275146, 10, 0.05),
        (124.342, 100, 0.05),
        (135.807, 100, 0.01),
        (1074.679, 1000, 0.05),
        (1106.969, 1000, 0.01),
    ],
)
def test_chi2_sf_matches_tables(statistic, df, p):
    assert chi2_sf(statistic, df) == pytest.approx(p, rel=2e-4)


def test_chi2_sf_rounded_table_value():
    assert chi2_sf(10.83, 1) == pytest.approx(0.001, rel=2e-3)


@pytest.mark.parametrize("x", [1e-6, 0.01, 0.5, 1.0, 2.5, 7.0, 20.0, 60.0])
def test_chi2_sf_df1_is_erfc(x):
    assert chi2_sf(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-10, abs=1e-300)


@pytest.mark.parametrize("x", [0.1, 2.0, 13.8, 50.0, 700.0])
def test_chi2_sf_df2_is_exp(x):
    assert chi2_sf(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-10)


def _poisson_tail(k: int, x: float) -> float:
    """Q(k, x) for integer k: e^-x * sum_{i<k} x^i / i!, summed in logs."""
    terms = [i * math.log(x) - x - math.lgamma(i + 1) for i in range(k)]
    top = max(terms)
    return math.exp(top) * sum(math.exp(t - top) for t in terms)


@pytest.mark.parametrize(("df", "statistic"), [(20, 31.4), (200, 180.0), (200, 250.0), (2000, 2000.0), (2000, 2150.0)])
def test_chi2_sf_even_df_is_a_poisson_sum(df, statistic):
    assert chi2_sf(statistic, df) == pytest.approx(_poisson_tail(df // 2, statistic / 2), rel=1e-9)


def test_chi2_sf_huge_df_is_near_normal():
    # Wilson–Hilferty: P(chi2 > df + z*sqrt(2 df)) ≈ P(Z > z) for huge df.
    df = 2_000_000
    assert chi2_sf(df, df) == pytest.approx(0.5, abs=1e-3)
    assert chi2_sf(df + 3 * math.sqrt(2 * df), df) == pytest.approx(0.00135, rel=0.02)


def test_gamma_q_edges():
    assert gamma_q(3.0, 0.0) == 1.0
    assert gamma_q(3.0, math.inf) == 0.0
    assert chi2_sf(1e4, 1) == 0.0
    with pytest.raises(ValueError):
        gamma_q(0.0, 1.0)
    with pytest.raises(ValueError):
        chi2_sf(1.0, 0)


def test_gof_perfect_split_passes():
    fit = chi_square_gof({"main": 900, "canary": 100}, {"main": 0.9, "canary": 0.1})
    assert (fit.statistic, fit.df, fit.p_value, fit.mismatch) == (0.0, 1, 1.0, False)


def test_gof_statistic_and_p_value():
    fit = chi_square_gof({"a": 60, "b": 40}, {"a": 0.5, "b": 0.5})
    assert fit.statistic == pytest.approx(4.0)
    assert fit.p_value == pytest.approx(math.erfc(math.sqrt(2.0)))
    assert fit.expected_counts == {"a": 50.0, "b": 50.0}
    assert not fit.mismatch


def test_gof_three_categories_has_two_degrees_of_freedom():
    fit = chi_square_gof({"a": 500, "b": 300, "c": 200}, {"a": 0.4, "b": 0.4, "c": 0.2})
    # (500-400)^2/400 + (300-400)^2/400 + 0 = 50
    assert (fit.statistic, fit.df) == (pytest.approx(50.0), 2)
    assert fit.p_value == pytest.approx(math.exp(-25.0))
    assert fit.mismatch


def test_gof_wrong_expectation_is_a_mismatch():
    fit = chi_square_gof({"main": 9000, "canary": 1000}, {"main": 0.8, "canary": 0.2})
    assert fit.mismatch and fit.p_value < 1e-100


def test_gof_traffic_to_a_backend_expected_to_get_none_is_a_mismatch():
    fit = chi_square_gof({"main": 99, "canary": 1}, {"main": 0.0, "canary": 1.0})
    assert fit.statistic == math.inf and fit.p_value == 0.0 and fit.mismatch
    fit = chi_square_gof({"main": 99, "other": 1}, {"main": 1.0})
    assert fit.mismatch


def test_gof_forced_backend_getting_everything_passes():
    fit = chi_square_gof({"canary": 100}, {"main": 0.0, "canary": 1.0})
    assert (fit.df, fit.p_value, fit.mismatch) == (0, 1.0, False)


def test_gof_notes_small_expected_counts_and_handles_no_data():
    fit = chi_square_gof({"main": 50}, {"main": 0.99, "canary": 0.01})
    assert fit.small_expected == ("canary",)
    assert chi_square_gof({}, {"main": 1.0}) is None
    with pytest.raises(ValueError):
        chi_square_gof({"a": 1}, {"a": 0.5})


@pytest.mark.parametrize(("status", "cls"), [(200, "2xx"), (302, "3xx"), (404, "4xx"), (503, "5xx"), (999, "other")])
def test_status_class(status, cls):
    assert status_class(status) == cls
