"""The statistics of experiments, on scipy and numpy: a mean with its t interval, Welch's t-test at a fixed
horizon, and an always-valid sequential test (mSPRT) that may be looked at after every new outcome.

Why two tests: the `experiments` asset is re-materialized continuously. A fixed-horizon test is valid only when
it is computed once, on exactly `horizon` outcomes per arm, so it always takes the first `horizon` outcomes of
each arm in the order they settled (later outcomes never change it). The mSPRT (Johari, Pekelis, Walsh, "Always
valid inference", 2017) bounds the chance of ever declaring a difference that is not there, however often it is
looked at: its p-value is the running minimum of 1/Λₙ, where Λₙ is the likelihood ratio of "the difference is θ,
θ ~ N(0, τ²)" against "no difference", a martingale under the null (Ville's inequality).

The functions take numpy arrays whose last axis is the outcomes, so that the simulations in the tests and the
benchmark run the very code the asset runs, on a thousand experiments at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
Arms = npt.NDArray[np.bool_]

# τ in units of the outcomes' pooled standard deviation: the mixing distribution's spread over the differences
# the test looks for. 0.5 puts its weight on effects of about half a standard deviation, the size that matters.
MIXING_SD = 0.5
# The sequential test starts looking once each arm has this many outcomes: before that, the plug-in variance
# is too noisy for the likelihood ratio to be trusted (with 2 or 3 outcomes it can be near zero).
BURN_IN = 10


@dataclass(frozen=True)
class MeanInterval:
    n: int
    mean: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class FixedHorizonResult:
    """Welch's t-test on the first `horizon` outcomes of each arm; not computed before both arms have them."""

    horizon: int
    reached: bool
    statistic: float | None
    p_value: float | None
    difference: float | None  # treatment mean − control mean
    significant: bool


@dataclass(frozen=True)
class SequentialResult:
    """The mSPRT after every outcome so far: the always-valid p-value and when (if ever) it crossed alpha."""

    outcomes: int
    p_value: float
    difference: float | None
    significant: bool
    decided_at: int | None  # the number of outcomes (both arms) seen when the p-value first fell below alpha


def mean_interval(values: Array, confidence: float = 0.95) -> MeanInterval:
    """The mean and its Student-t confidence interval (none for fewer than two values)."""
    n = int(values.size)
    if n == 0:
        return MeanInterval(0, None, None, None)
    mean = float(values.mean())
    if n < 2:
        return MeanInterval(n, mean, None, None)
    from scipy import stats  # here, not at the top: ~1 s to import, and every run process loads this module

    sem = float(stats.sem(values))
    if sem == 0.0:
        return MeanInterval(n, mean, mean, mean)
    low, high = stats.t.interval(confidence, df=n - 1, loc=mean, scale=sem)
    return MeanInterval(n, mean, float(low), float(high))


def welch(control: Array, treatment: Array) -> tuple[Array, Array]:
    """Welch's t statistic and two-sided p-value along the last axis (scipy; unequal variances)."""
    from scipy import stats

    result = stats.ttest_ind(treatment, control, equal_var=False, axis=-1)
    return np.asarray(result.statistic, dtype=float), np.asarray(result.pvalue, dtype=float)


def fixed_horizon(control: Array, treatment: Array, horizon: int, alpha: float) -> FixedHorizonResult:
    """Welch at the horizon, on each arm's first `horizon` outcomes in the order they settled."""
    if horizon < 2 or min(control.size, treatment.size) < horizon:
        return FixedHorizonResult(horizon, False, None, None, None, False)
    a, b = control[:horizon], treatment[:horizon]
    statistic, p_value = welch(a, b)
    t, p = float(statistic), float(p_value)
    if np.isnan(p):  # no variance in either arm: a difference of means, but no test of it
        return FixedHorizonResult(horizon, True, None, None, float(b.mean() - a.mean()), False)
    return FixedHorizonResult(horizon, True, t, p, float(b.mean() - a.mean()), p <= alpha)


def msprt_log_ratio(
    treated: Arms, values: Array, mixing_sd: float = MIXING_SD, burn_in: int = BURN_IN
) -> tuple[Array, Array]:
    """log Λₙ after each outcome, and the difference of means then, along the last axis.

    `treated[..., i]` says which arm outcome i belongs to (True: the treatment). The variance of the difference
    is estimated from each arm (s²_A/n_A + s²_B/n_B) and τ² = (mixing_sd · pooled sd)²; Λ is -inf (p = 1) while
    an arm has fewer than `burn_in` outcomes or no variance."""
    control = ~treated
    n_b = np.cumsum(treated, axis=-1, dtype=float)
    n_a = np.cumsum(control, axis=-1, dtype=float)
    sum_b = np.cumsum(np.where(treated, values, 0.0), axis=-1)
    sum_a = np.cumsum(np.where(control, values, 0.0), axis=-1)
    sq_b = np.cumsum(np.where(treated, values * values, 0.0), axis=-1)
    sq_a = np.cumsum(np.where(control, values * values, 0.0), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_a, mean_b = sum_a / n_a, sum_b / n_b
        var_a = np.maximum(sq_a - n_a * mean_a**2, 0.0) / (n_a - 1)
        var_b = np.maximum(sq_b - n_b * mean_b**2, 0.0) / (n_b - 1)
        v = var_a / n_a + var_b / n_b
        pooled = ((n_a - 1) * var_a + (n_b - 1) * var_b) / (n_a + n_b - 2)
        tau2 = mixing_sd**2 * pooled
        difference = mean_b - mean_a
        log_ratio = 0.5 * np.log(v / (v + tau2)) + tau2 * difference**2 / (2 * v * (v + tau2))
    ready = (np.minimum(n_a, n_b) >= burn_in) & (v > 0)
    return np.where(ready, log_ratio, -np.inf), difference


def always_valid_p(log_ratio: Array) -> Array:
    """The running minimum of min(1, 1/Λ) along the last axis."""
    return np.minimum.accumulate(np.minimum(1.0, np.exp(-log_ratio)), axis=-1)


def sequential(
    treated: Arms, values: Array, alpha: float, mixing_sd: float = MIXING_SD, burn_in: int = BURN_IN
) -> SequentialResult:
    """The mSPRT on one experiment's outcomes, in the order they settled."""
    if values.size == 0:
        return SequentialResult(0, 1.0, None, False, None)
    log_ratio, difference = msprt_log_ratio(treated, values, mixing_sd, burn_in)
    p = always_valid_p(log_ratio)
    crossed = np.flatnonzero(p <= alpha)
    decided_at = int(crossed[0]) + 1 if crossed.size else None
    last = float(difference[-1])
    return SequentialResult(
        int(values.size), float(p[-1]), None if np.isnan(last) else last, decided_at is not None, decided_at
    )


@dataclass(frozen=True)
class Simulation:
    """How often the tests declared a difference over many simulated experiments, and how soon."""

    experiments: int
    fixed_rate: float  # Welch at the horizon
    sequential_rate: float  # mSPRT monitored after every outcome, up to `max_per_arm`
    sequential_mean_n: float  # mean outcomes per arm when the sequential test stopped (at the cap when it did not)


def simulate(
    effect: float,
    experiments: int,
    horizon: int,
    max_per_arm: int,
    alpha: float,
    seed: int,
    mixing_sd: float = MIXING_SD,
    burn_in: int = BURN_IN,
) -> Simulation:
    """Two arms of normal outcomes (sd 1, treatment shifted by `effect` sds), each outcome landing in either arm
    with probability ½; the fixed-horizon test on the first `horizon` per arm, the sequential one after each."""
    rng = np.random.default_rng(seed)
    total = 2 * max_per_arm
    treated = rng.random((experiments, total)) < 0.5
    values = rng.standard_normal((experiments, total)) + effect * treated
    # Welch on each experiment's first `horizon` outcomes of each arm (a stable sort keeps the arrival order).
    n_treated = treated.sum(axis=-1)
    enough = (n_treated >= horizon) & (total - n_treated >= horizon)
    b = np.take_along_axis(values, np.argsort(~treated, axis=-1, kind="stable"), axis=-1)[:, :horizon]
    a = np.take_along_axis(values, np.argsort(treated, axis=-1, kind="stable"), axis=-1)[:, :horizon]
    _, p_fixed = welch(a, b)
    fixed = enough & (p_fixed <= alpha)
    # The mSPRT after every outcome, stopped at the cap of `max_per_arm` outcomes in either arm.
    log_ratio, _ = msprt_log_ratio(treated, values, mixing_sd, burn_in)
    n_per_arm = np.maximum(np.cumsum(treated, axis=-1), np.cumsum(~treated, axis=-1))
    within = n_per_arm <= max_per_arm
    crossed = (always_valid_p(log_ratio) <= alpha) & within
    rejected = crossed.any(axis=-1)
    stop = np.where(rejected, crossed.argmax(axis=-1), within.sum(axis=-1) - 1)
    outcomes_at_stop = (stop + 1) / 2.0
    return Simulation(experiments, float(fixed.mean()), float(rejected.mean()), float(outcomes_at_stop.mean()))
