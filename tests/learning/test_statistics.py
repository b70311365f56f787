"""The experiments' statistics, by seeded simulation (1,000 experiments each) and on small known cases.

The simulations run the functions the `experiments` asset runs (the numpy core is vectorised over experiments)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from paid_dagster.learning.statistics import (
    always_valid_p,
    fixed_horizon,
    mean_interval,
    msprt_log_ratio,
    sequential,
    simulate,
)

ALPHA = 0.05
EXPERIMENTS = 1000


def test_a_a_monitored_after_every_outcome_declares_a_winner_in_at_most_5_percent() -> None:
    """No true difference, the sequential test looked at after each of up to 2 × 200 outcomes, and again with
    up to 2 × 1,000: the always-valid p-value keeps false winners under alpha however long it is watched."""
    for max_per_arm, seed in ((200, 2026), (1000, 2027)):
        result = simulate(0.0, EXPERIMENTS, 30, max_per_arm, ALPHA, seed)
        print(f"\nA/A, sequential, monitored after every outcome up to {max_per_arm}/arm: {result.sequential_rate:.1%}")
        assert result.sequential_rate <= ALPHA


def test_peeking_at_welch_after_every_outcome_would_not_be_valid() -> None:
    """Why the sequential test exists: Welch's p-value looked at after every outcome (from 10 per arm on)
    declares a false winner far more often than alpha. The asset never does this: Welch runs once, at the
    horizon."""
    rng = np.random.default_rng(7)
    treated = rng.random((300, 200)) < 0.5
    values = rng.standard_normal((300, 200))
    crossed = np.zeros(300, dtype=bool)
    for stop in range(20, 201, 2):
        for i in range(300):
            a, b = values[i, :stop][~treated[i, :stop]], values[i, :stop][treated[i, :stop]]
            if min(a.size, b.size) >= 10 and stats.ttest_ind(b, a, equal_var=False).pvalue <= ALPHA:
                crossed[i] = True
    print(f"\nA/A, Welch peeked at every 2 outcomes: {crossed.mean():.1%} false winners")
    assert crossed.mean() > 2 * ALPHA


def test_a_a_at_the_fixed_horizon_is_calibrated() -> None:
    """Welch at n = 30 per arm, once. Its false-positive rate is alpha by construction, so 1,000 simulated
    experiments land on either side of 5 % by chance: the test checks the rate is consistent with ≤ alpha
    (one-sided exact binomial test) and within three standard errors of it."""
    result = simulate(0.0, EXPERIMENTS, 30, 200, ALPHA, 2026)
    false_winners = round(result.fixed_rate * EXPERIMENTS)
    p = stats.binomtest(false_winners, EXPERIMENTS, ALPHA, alternative="greater").pvalue
    print(f"\nA/A, Welch at the horizon (30/arm): {result.fixed_rate:.1%} (binomial p of exceeding 5 %: {p:.2f})")
    assert p > 0.01
    assert result.fixed_rate <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / EXPERIMENTS)


def test_power_at_d_half() -> None:
    """d = 0.5: Welch at 65 per arm finds it in ≥ 80 % (scipy's noncentral t says 80.7 %); the sequential test's
    power and mean sample size are reported, monitored after every outcome, capped at 200 and at 65 per arm."""
    fixed = simulate(0.5, EXPERIMENTS, 65, 200, ALPHA, 2028)
    capped = simulate(0.5, EXPERIMENTS, 65, 65, ALPHA, 2029)
    df, nc = 2 * 65 - 2, 0.5 * math.sqrt(65 / 2)
    critical = stats.t.ppf(1 - ALPHA / 2, df)
    analytic = stats.nct.sf(critical, df, nc) + stats.nct.cdf(-critical, df, nc)
    print(
        f"\nd = 0.5: Welch at 65/arm {fixed.fixed_rate:.1%} (analytic {analytic:.1%});"
        f" sequential ≤ 200/arm {fixed.sequential_rate:.1%}, mean n {fixed.sequential_mean_n:.1f}/arm;"
        f" sequential ≤ 65/arm {capped.sequential_rate:.1%}, mean n {capped.sequential_mean_n:.1f}/arm"
    )
    assert fixed.fixed_rate >= 0.80
    assert abs(fixed.fixed_rate - analytic) < 3 * math.sqrt(analytic * (1 - analytic) / EXPERIMENTS)
    assert fixed.sequential_rate >= 0.9 and fixed.sequential_mean_n < 100


def test_the_fixed_horizon_test_ignores_what_came_after_the_horizon() -> None:
    rng = np.random.default_rng(3)
    control, treatment = rng.standard_normal(30), rng.standard_normal(30) + 0.2
    at_horizon = fixed_horizon(control, treatment, 30, ALPHA)
    later = fixed_horizon(np.r_[control, np.full(50, -5.0)], np.r_[treatment, np.full(50, 5.0)], 30, ALPHA)
    assert at_horizon == later and at_horizon.reached
    assert at_horizon.p_value == pytest.approx(stats.ttest_ind(treatment, control, equal_var=False).pvalue)
    assert not fixed_horizon(control[:29], treatment, 30, ALPHA).reached


def test_the_sequential_p_value_only_falls_and_a_decision_stands() -> None:
    rng = np.random.default_rng(5)
    treated = rng.random(300) < 0.5
    values = rng.standard_normal(300) + 0.8 * treated
    log_ratio, _ = msprt_log_ratio(treated, values)
    p = always_valid_p(log_ratio)
    assert np.all(np.diff(p) <= 0) and np.all(p[: 2 * 10 - 1] == 1.0)  # nothing before the burn-in
    full = sequential(treated, values, ALPHA)
    assert full.significant and full.decided_at is not None
    prefix = sequential(treated[: full.decided_at], values[: full.decided_at], ALPHA)
    assert prefix.significant and prefix.decided_at == full.decided_at  # later outcomes never undo it


def test_no_variance_and_no_outcomes_decide_nothing() -> None:
    flat = np.ones(40)
    treated = np.arange(40) % 2 == 0
    assert not sequential(treated, flat, ALPHA).significant
    assert not fixed_horizon(flat[:20], flat[20:], 20, ALPHA).significant
    assert sequential(np.array([], dtype=bool), np.array([]), ALPHA).p_value == 1.0


def test_mean_interval_is_the_t_interval() -> None:
    values = np.array([0.2, 0.4, 0.9, 0.5, 0.7])
    interval = mean_interval(values)
    low, high = stats.t.interval(0.95, 4, loc=values.mean(), scale=stats.sem(values))
    assert (interval.n, interval.mean) == (5, pytest.approx(0.54))
    assert (interval.low, interval.high) == (pytest.approx(low), pytest.approx(high))
    assert mean_interval(np.array([0.3])).low is None and mean_interval(np.array([])).mean is None
