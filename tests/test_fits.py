"""Growth fits: known rates and exponents recovered from synthetic per-seed brackets, with covering
intervals; the model verdict; censoring; numerics of narrow brackets; bad input."""

from __future__ import annotations

import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

import json
import math

import numpy as np
from scipy.optimize import check_grad
from scipy.stats import norm

from baselines.analysis.fits import (Bracket, GrowthFit, _log_interval_prob, _log_lik, _mle, _mle_batch, _neg_log_lik,
                            _prepare, _start, fit_growth)

STEP = 2**0.25  # the bracket resolution of a threshold measurement
HORIZONS = (5, 10, 15, 20, 25, 30)
EXP_A, EXP_RATE = 20.0, 0.16
POW_A, POW_EXPONENT = 3.0, 1.8
N_BOOT = 200
FITS_JSON_KEYS = {"exp_rate", "exp_rate_ci", "power_exponent", "power_exponent_ci", "preferred", "evidence",
                  "n_seeds"}


def _median(model: str, horizon: float) -> float:
    if model == "exponential":
        return EXP_A * math.exp(EXP_RATE * horizon)
    return POW_A * horizon**POW_EXPONENT


def synthetic(model: str, gen_seed: int, *, horizons=HORIZONS, n_seeds: int = 10, sigma: float = 0.2,
              max_budget: float | None = None, floor: float = 32.0) -> list[Bracket]:
    """Per-seed thresholds T = median(H) * lognormal(sigma), bracketed on the 2**0.25 grid.

    Grid points at or below ``floor`` collapse to ``(0, floor]`` (reached at the first budget); T above
    ``max_budget`` is right-censored there.
    """
    rng = np.random.default_rng(gen_seed)
    out = []
    for seed in range(n_seeds):
        for h in horizons:
            t = _median(model, h) * math.exp(sigma * rng.standard_normal())
            if max_budget is not None and t > max_budget:
                out.append(Bracket(h, max_budget, None, seed))
                continue
            hi = STEP ** math.ceil(math.log(t, STEP))
            out.append(Bracket(h, 0.0, floor, seed) if hi <= floor else Bracket(h, hi / STEP, hi, seed))
    return out


def _inside(value: float, ci: tuple[float, float] | None) -> bool:
    assert ci is not None
    return ci[0] <= value <= ci[1]


# --- numerics -----------------------------------------------------------------------------------


def test_interval_probability_matches_the_naive_difference_where_that_is_accurate():
    z_lo = np.array([-3.0, -0.5, 0.2, 1.0, -np.inf, 2.0])
    z_hi = np.array([-2.0, 0.3, 0.4, 3.0, 0.5, np.inf])
    naive = np.log(norm.cdf(z_hi) - norm.cdf(z_lo))
    np.testing.assert_allclose(_log_interval_prob(z_lo, z_hi), naive, rtol=1e-12)


def test_narrow_brackets_far_in_a_tail_stay_finite_and_between_the_density_bounds():
    for z in (-40.0, 40.0, 300.0):
        z_lo, z_hi = np.array([z]), np.array([z + 0.01])
        with np.errstate(divide="ignore"):
            naive = np.log(norm.cdf(z_hi) - norm.cdf(z_lo))[0]
        got = _log_interval_prob(z_lo, z_hi)[0]
        assert math.isfinite(got)
        if z > 0:
            assert naive == -math.inf  # the naive difference cancels; the stable one does not
        # phi is monotone on the bracket, so 0.01 * phi(end) bounds the probability on both sides
        bounds = sorted(math.log(0.01) + norm.logpdf(v) for v in (z, z + 0.01))
        assert bounds[0] <= got <= bounds[1]


def _tiny_problem():
    """Six observations with every kind of bracket: open below, narrow, censored; uneven weights."""
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 1.5])
    log_lo = np.log([40.0, 40.0, 60.0, 90.0, 150.0, 300.0])
    log_lo[0] = -np.inf  # reached at the first budget: open below
    log_hi = np.log([30.0, 40.0 * STEP, 60.0 * STEP, 90.0 * STEP, 150.0 * STEP, 1.0])
    log_hi[-1] = np.inf  # censored at 300
    w = np.array([1.0, 2.0, 1.0, 0.0, 1.0, 3.0])
    return x, log_lo, log_hi, w


THETAS = ([4.5, 0.8, math.log(0.3)], [5.0, 1.2, math.log(0.05)], [3.0, -0.2, math.log(2.0)])


@pytest.mark.parametrize("theta", THETAS)
def test_gradient_matches_finite_differences_with_open_and_censored_brackets(theta):
    x, log_lo, log_hi, w = _tiny_problem()
    theta = np.array(theta)
    err = check_grad(lambda t: _neg_log_lik(t, x, log_lo, log_hi, w, 0.01)[0],
                     lambda t: _neg_log_lik(t, x, log_lo, log_hi, w, 0.01)[1], theta)
    assert err <= 1e-5 * max(1.0, np.linalg.norm(_neg_log_lik(theta, x, log_lo, log_hi, w, 0.01)[1]))


@pytest.mark.parametrize("theta", THETAS)
def test_hessian_matches_finite_differences_of_the_gradient(theta):
    x, log_lo, log_hi, w = _tiny_problem()
    theta = np.array([theta])
    _, _, hess = _log_lik(theta, x, log_lo, log_hi, w[None], 0.01, hessian=True)
    eps = 1e-6
    numeric = np.empty((3, 3))
    for j in range(3):
        step = np.zeros((1, 3))
        step[0, j] = eps
        up = _log_lik(theta + step, x, log_lo, log_hi, w[None], 0.01)[1][0]
        down = _log_lik(theta - step, x, log_lo, log_hi, w[None], 0.01)[1][0]
        numeric[:, j] = (up - down) / (2 * eps)
    np.testing.assert_allclose(hess[0], numeric, rtol=1e-5, atol=1e-5 * np.abs(numeric).max())


def test_batched_bootstrap_fits_agree_with_scipy_one_by_one():
    data = synthetic("exponential", 1, max_budget=1200.0)
    horizon = np.array([b.horizon for b in data])
    lo = np.array([b.lo for b in data])
    hi = np.array([np.nan if b.hi is None else b.hi for b in data])
    seed_of = np.array([b.seed for b in data])
    prepared = _prepare(horizon, lo, hi)
    theta, _ = _mle(prepared, np.ones(len(data)), _start(prepared), 0.01)
    rng = np.random.default_rng(1)
    weights = np.stack([np.bincount(rng.integers(0, 10, 10), minlength=10)[seed_of] for _ in range(20)])
    batch_theta, batch_ll = _mle_batch(prepared, weights.astype(float), theta, 0.01)
    for i, w in enumerate(weights.astype(float)):
        one_theta, one_ll = _mle(prepared, w, theta, 0.01)
        np.testing.assert_allclose(batch_theta[i], one_theta, atol=1e-5)
        assert batch_ll[i] >= one_ll - 1e-9


# --- recovery and coverage -----------------------------------------------------------------------


@pytest.mark.parametrize("model, truth, attr", [("exponential", EXP_RATE, "exp_rate"),
                                               ("power", POW_EXPONENT, "power_exponent")])
def test_known_rate_and_exponent_are_recovered_with_covering_intervals(model, truth, attr):
    covered = 0
    for gen_seed in range(5):
        fit = fit_growth(synthetic(model, gen_seed), n_boot=N_BOOT, seed=gen_seed)
        estimate, ci = getattr(fit, attr), getattr(fit, attr + "_ci")
        assert _inside(estimate, ci)
        assert abs(estimate - truth) < 0.1 * truth
        covered += _inside(truth, ci)
        assert fit.preferred == model, fit.evidence  # 6 horizons over a 6x range separate the two shapes
        assert fit.n_seeds == 10 and fit.n_observations == 60 and fit.n_boot == N_BOOT
        assert 0.1 < (fit.exp_sigma if model == "exponential" else fit.power_sigma) < 0.35  # true sigma 0.2
    assert covered >= 4


def test_undecided_when_the_horizons_cannot_tell_the_models_apart():
    # three horizons within +-10 %: exp(r H) and H^b are both straight enough to fit equally well
    for gen_seed in range(3):
        fit = fit_growth(synthetic("exponential", gen_seed, horizons=(18, 20, 22)), n_boot=N_BOOT)
        assert fit.preferred == "undecided", fit.evidence
        assert fit.evidence.startswith("undecided: dAIC=")


def test_horizon_free_data_are_undecided_with_slopes_around_zero():
    rng = np.random.default_rng(0)
    data = []
    for seed in range(10):
        for h in (10, 20, 40, 80, 160):
            hi = STEP ** math.ceil(math.log(200.0 * math.exp(0.3 * rng.standard_normal()), STEP))
            data.append(Bracket(h, hi / STEP, hi, seed))
    fit = fit_growth(data, n_boot=N_BOOT)
    assert fit.preferred == "undecided", fit.evidence
    assert _inside(0.0, fit.exp_rate_ci) and _inside(0.0, fit.power_exponent_ci)


def test_evidence_states_the_numbers_behind_the_verdict():
    fit = fit_growth(synthetic("power", 0), n_boot=N_BOOT)
    assert fit.delta_aic < -2
    assert fit.exp_better_fraction is not None and fit.exp_better_fraction <= 0.1
    assert fit.evidence == (f"dAIC={-fit.delta_aic:.1f} favouring power; power better in "
                            f"{100 * (1 - fit.exp_better_fraction):.0f}% of {N_BOOT} bootstrap resamples")
    assert fit.delta_aic == pytest.approx(2 * (fit.exp_log_likelihood - fit.power_log_likelihood))


# --- censoring ----------------------------------------------------------------------------------


def test_censored_seeds_keep_the_rate_unbiased_where_dropping_them_biases_it_low():
    # sigma 0.4 and a budget of 600 censor part of H = 20 (median 491), most of H = 25 and all of H = 30
    with_censored, dropped, covered = [], [], 0
    for gen_seed in range(5):
        data = synthetic("exponential", gen_seed, sigma=0.4, max_budget=600.0)
        fit = fit_growth(data, n_boot=N_BOOT)
        assert fit.n_censored >= 15
        covered += _inside(EXP_RATE, fit.exp_rate_ci)
        with_censored.append(fit.exp_rate)
        dropped.append(fit_growth([b for b in data if not b.censored], n_boot=0).exp_rate)
        assert dropped[-1] < fit.exp_rate  # the slow seeds are the ones dropped
    assert covered >= 4
    assert abs(np.mean(with_censored) - EXP_RATE) < 0.01
    assert np.mean(dropped) < EXP_RATE - 0.01


def test_a_horizon_with_every_seed_censored_still_informs_the_fit():
    data = [b for b in synthetic("exponential", 0) if b.horizon < 30]
    data += [Bracket(30, 400.0, None, s) for s in range(10)]  # not reached within 400: says T(30) > 400
    fit = fit_growth(data, n_boot=0)
    assert fit.n_censored == 10 and 30 in fit.horizons
    assert math.exp(fit.exp_intercept + fit.exp_rate * 30) > 400


# --- edge cases ---------------------------------------------------------------------------------


def test_noise_free_data_hits_the_sigma_floor_without_losing_the_rate():
    data = synthetic("exponential", 0, sigma=0.0, n_seeds=3)  # every seed has the same threshold
    fit = fit_growth(data, n_boot=50)
    assert fit.exp_sigma < 0.1
    assert abs(fit.exp_rate - EXP_RATE) < 0.01


def test_same_input_gives_the_same_fit_and_json_is_strict():
    data = synthetic("power", 3, max_budget=1000.0)
    fit = fit_growth(data, n_boot=100, seed=7)
    assert fit_growth(list(reversed(data)), n_boot=100, seed=7) == fit  # order of brackets is irrelevant
    as_tuples = [(b.horizon, b.lo, b.hi, b.seed) for b in data]
    assert fit_growth(as_tuples, n_boot=100, seed=7) == fit
    assert fit_growth(data, n_boot=100, seed=8) != fit  # the bootstrap seed matters...
    assert fit_growth(data, n_boot=100, seed=8).exp_rate == fit.exp_rate  # ...for the intervals only
    payload = fit.to_json()
    assert FITS_JSON_KEYS <= payload.keys()
    assert json.loads(json.dumps(payload, allow_nan=False)) == payload
    assert isinstance(payload["exp_rate_ci"], list) and len(payload["exp_rate_ci"]) == 2


def test_without_bootstrap_the_intervals_are_none_and_the_verdict_uses_daic_alone():
    fit = fit_growth(synthetic("exponential", 1), n_boot=0)
    assert fit.exp_rate_ci is None and fit.power_exponent_ci is None and fit.exp_better_fraction is None
    assert fit.preferred == "exponential" and "no bootstrap" in fit.evidence
    assert fit.to_json()["exp_rate_ci"] is None
    assert isinstance(fit, GrowthFit)


@pytest.mark.parametrize("kwargs, match", [
    ({"horizon": 0.0, "lo": 1.0, "hi": 2.0, "seed": 0}, "horizon must be finite and > 0"),
    ({"horizon": 5.0, "lo": -1.0, "hi": 2.0, "seed": 0}, "lo must be finite and >= 0"),
    ({"horizon": 5.0, "lo": 4.0, "hi": 4.0, "seed": 0}, "hi must be finite and > lo"),
    ({"horizon": 5.0, "lo": 0.0, "hi": None, "seed": 0}, "right-censored Bracket"),
    ({"horizon": float("nan"), "lo": 1.0, "hi": 2.0, "seed": 0}, "horizon must be finite"),
])
def test_bad_bracket_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Bracket(**kwargs)


def test_bad_input_to_fit_growth_raises():
    good = synthetic("exponential", 0, n_seeds=3)
    with pytest.raises(ValueError, match="needs >= 2 distinct horizons"):
        fit_growth([])
    with pytest.raises(ValueError, match=r"got 1 \(\[5\]\)"):
        fit_growth([b for b in good if b.horizon == 5] + [Bracket(10, 1000.0, None, s) for s in range(3)])
    with pytest.raises(ValueError, match="two brackets for seed 0 at horizon 5"):
        fit_growth(good + [Bracket(5, 10.0, 20.0, 0)])
    with pytest.raises(ValueError, match="needs >= 2 seeds"):
        fit_growth([b for b in good if b.seed == 0])
    assert fit_growth([b for b in good if b.seed == 0], n_boot=0).n_seeds == 1
    with pytest.raises(ValueError, match="n_boot must be an int >= 0"):
        fit_growth(good, n_boot=-1)
    with pytest.raises(ValueError, match="sigma_floor"):
        fit_growth(good, sigma_floor=0.0)
    with pytest.raises(ValueError, match=r"min_agreement must be in \[0.5, 1\]"):
        fit_growth(good, min_agreement=1.5)
    with pytest.raises(ValueError, match="min_delta_aic must be >= 0"):
        fit_growth(good, min_delta_aic=-1.0)
    with pytest.raises(TypeError, match="seed must be an int"):
        fit_growth([(5, 1.0, 2.0, "a")])
    with pytest.raises(TypeError, match=r"\(horizon, lo, hi, seed\) tuple"):
        fit_growth([(5, 1.0, 2.0)])
