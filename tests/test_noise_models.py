"""Noise models: declared probabilities, empirical sampling frequencies, and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gymnasium import spaces

from noisy_expert_envs import (
    BoltzmannNoise,
    BoxUniformNoise,
    ChainNoise,
    FixedWrongNoise,
    GaussianNoise,
    NoNoise,
    StateDependentNoise,
    StickyNoise,
    TeacherNoise,
    NoisyOracle,
    UniformNoise,
    make_noise,
)

N_ACTIONS = 4
SAMPLES_PER_STATE = 20_000
TOL = 0.015  # absolute; the binomial std at 20k samples is <= 0.0036, so this is > 4 sigma


def softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def states(k: int, dim: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(k, dim))


def repeated(obs: np.ndarray, clean: np.ndarray, prefs: np.ndarray | None, reps: int):
    """Each state repeated ``reps`` times, so one batched call draws many labels per state."""
    big_obs = np.repeat(obs, reps, axis=0)
    big_clean = np.repeat(clean, reps)
    big_prefs = None if prefs is None else np.repeat(prefs, reps, axis=0)
    return big_obs, big_clean, big_prefs


def empirical(actions: np.ndarray, k: int, reps: int, n: int) -> np.ndarray:
    """Per-state action frequencies, shape (k, n)."""
    per_state = actions.reshape(k, reps)
    return np.stack([np.bincount(row, minlength=n) / reps for row in per_state])


DISCRETE_MODELS = {
    "none": lambda: NoNoise(),
    "uniform": lambda: UniformNoise(epsilon=0.3),
    "fixed_wrong": lambda: FixedWrongNoise(epsilon=0.35),
    "state_dependent_hashed": lambda: StateDependentNoise(epsilon=0.8, profile="hashed"),
    "state_dependent_radial": lambda: StateDependentNoise(epsilon=0.9, profile="radial", scale=1.5),
    "boltzmann": lambda: BoltzmannNoise(temperature=0.7),
    "boltzmann_no_prefs": lambda: BoltzmannNoise(temperature=0.5),
    "sticky_fresh_uniform": lambda: StickyNoise(repeat_prob=0.4, inner="uniform"),
    "chain": lambda: UniformNoise(0.3) >> FixedWrongNoise(0.25),
    "teacher": lambda: TeacherNoise(temperature=0.8, epsilon=0.2),
}


@pytest.mark.parametrize("name", sorted(DISCRETE_MODELS))
def test_discrete_empirical_frequencies_match_declared_probs(name):
    k = 3
    model = DISCRETE_MODELS[name]().bind(spaces.Discrete(N_ACTIONS), noise_seed=7)
    obs = states(k)
    clean = np.array([0, 2, 3])
    prefs = None
    if name in ("boltzmann", "teacher"):
        prefs = np.random.default_rng(1).normal(size=(k, N_ACTIONS))
        prefs[np.arange(k), clean] += 2.0  # argmax = clean action
    probs = model.probs(obs, clean, prefs)
    assert probs.shape == (k, N_ACTIONS)
    assert np.all(probs >= 0.0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)

    big_obs, big_clean, big_prefs = repeated(obs, clean, prefs, SAMPLES_PER_STATE)
    model.reset()
    actions = model.sample(big_obs, big_clean, np.random.default_rng(123), big_prefs)
    assert actions.shape == (k * SAMPLES_PER_STATE,)
    assert np.issubdtype(actions.dtype, np.integer)
    assert actions.min() >= 0 and actions.max() < N_ACTIONS
    freq = empirical(actions, k, SAMPLES_PER_STATE, N_ACTIONS)
    np.testing.assert_allclose(freq, probs, atol=TOL)


@pytest.mark.parametrize("name", sorted(DISCRETE_MODELS))
def test_discrete_sampling_is_reproducible_from_the_rng(name):
    model = DISCRETE_MODELS[name]().bind(spaces.Discrete(N_ACTIONS), noise_seed=1)
    obs = states(200, seed=5)
    clean = np.arange(200) % N_ACTIONS
    first = model.sample(obs, clean, np.random.default_rng(9))
    model.reset()
    again = model.sample(obs, clean, np.random.default_rng(9))
    np.testing.assert_array_equal(first, again)
    if name != "none":
        model.reset()
        other = model.sample(obs, clean, np.random.default_rng(10))
        assert np.any(first != other)


def test_none_is_one_hot_and_never_touches_the_rng():
    model = NoNoise().bind(spaces.Discrete(3))
    clean = np.array([2, 0, 1])
    np.testing.assert_array_equal(model.probs(states(3), clean), np.eye(3)[clean])
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    np.testing.assert_array_equal(model.sample(states(3), clean, rng), clean)
    assert rng.bit_generator.state == before


@pytest.mark.parametrize("epsilon", [0.0, 0.2, 0.5, 0.9, 1.0])
def test_uniform_closed_form_and_mode_margin(epsilon):
    n = 5
    model = UniformNoise(epsilon).bind(spaces.Discrete(n))
    clean = np.array([0, 3, 4])
    p = model.probs(states(3), clean)
    expected = np.full((3, n), epsilon / n)
    expected[np.arange(3), clean] += 1.0 - epsilon
    np.testing.assert_allclose(p, expected)
    np.testing.assert_allclose(model.agreement(states(3), clean), 1.0 - epsilon + epsilon / n)
    np.testing.assert_allclose(model.mode_margin(states(3), clean), 1.0 - epsilon)


def test_fixed_wrong_map_is_never_clean_fixed_per_state_and_varies_across_states():
    model = FixedWrongNoise(0.3).bind(spaces.Discrete(N_ACTIONS), noise_seed=11)
    obs = states(300, seed=2)
    clean = np.zeros(300, dtype=np.int64)  # same clean action everywhere: only the state varies
    wrong = model.wrong_action(obs, clean)
    assert np.all(wrong != clean)
    assert np.all((wrong >= 0) & (wrong < N_ACTIONS))
    assert len(set(wrong.tolist())) == N_ACTIONS - 1  # every wrong action is used somewhere
    # Fixed per state: recomputing, and computing inside a reshuffled batch, gives the same map.
    np.testing.assert_array_equal(model.wrong_action(obs, clean), wrong)
    perm = np.random.default_rng(0).permutation(300)
    np.testing.assert_array_equal(model.wrong_action(obs[perm], clean[perm]), wrong[perm])
    # The map is hidden structure seeded by noise_seed: another seed gives another map.
    other = FixedWrongNoise(0.3).bind(spaces.Discrete(N_ACTIONS), noise_seed=12)
    assert np.any(other.wrong_action(obs, clean) != wrong)


def test_fixed_wrong_samples_only_clean_or_the_state_wrong_action():
    model = FixedWrongNoise(0.3).bind(spaces.Discrete(N_ACTIONS), noise_seed=4)
    k, reps = 5, 4000
    obs, clean = states(k, seed=3), np.array([0, 1, 2, 3, 0])
    wrong = model.wrong_action(obs, clean)
    big_obs, big_clean, _ = repeated(obs, clean, None, reps)
    actions = model.sample(big_obs, big_clean, np.random.default_rng(0)).reshape(k, reps)
    for i in range(k):
        assert set(np.unique(actions[i]).tolist()) == {int(clean[i]), int(wrong[i])}
        assert abs(np.mean(actions[i] == wrong[i]) - 0.3) < 0.03


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.3, 0.5, 0.6, 0.9])
def test_fixed_wrong_mode_margin_is_one_minus_two_epsilon(epsilon):
    model = FixedWrongNoise(epsilon).bind(spaces.Discrete(3), noise_seed=0)
    clean = np.array([0, 1, 2, 2])
    margin = model.mode_margin(states(4), clean)
    np.testing.assert_allclose(margin, 1.0 - 2.0 * epsilon)
    if epsilon > 0.5:
        assert np.all(margin < 0)  # the wrong action is the mode: the mode condition fails


def test_state_dependent_hashed_levels_are_fixed_per_state_bounded_and_varied():
    model = StateDependentNoise(epsilon=0.6, profile="hashed").bind(spaces.Discrete(3), noise_seed=2)
    obs = states(100, seed=4)
    levels = model.levels(obs)
    assert np.all((levels >= 0.0) & (levels <= 0.6))
    assert levels.std() > 0.1  # spread over [0, 0.6], not one level
    np.testing.assert_array_equal(model.levels(obs[::-1]), levels[::-1])
    clean = np.zeros(100, dtype=np.int64)
    np.testing.assert_allclose(model.agreement(obs, clean), 1.0 - levels + levels / 3)


def test_state_dependent_radial_profile_is_clean_at_origin_and_noisy_far_away():
    model = StateDependentNoise(epsilon=0.9, profile="radial", scale=1.0).bind(spaces.Discrete(2))
    obs = np.array([[0.0, 0.0], [1.0, 0.0], [30.0, 0.0]])
    levels = model.levels(obs)
    np.testing.assert_allclose(levels, [0.0, 0.9 * (1 - math.exp(-1.0)), 0.9])
    p = model.probs(obs, np.array([1, 1, 1]))
    np.testing.assert_allclose(p[0], [0.0, 1.0])
    np.testing.assert_allclose(p[2], [0.45, 0.55])


def test_state_dependent_custom_epsilon_fn():
    def eps_fn(obs):
        return np.clip(obs[:, 0], 0.0, 1.0)

    model = StateDependentNoise(epsilon_fn=eps_fn).bind(spaces.Discrete(4))
    obs = np.array([[0.0, 5.0], [0.4, -1.0], [1.0, 0.0]])
    p = model.probs(obs, np.array([0, 1, 2]))
    expected = np.array([[1, 0, 0, 0], [0.1, 0.7, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]])
    np.testing.assert_allclose(p, expected)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0, 3.0])
def test_boltzmann_with_preferences_is_softmax_of_prefs_over_temperature(temperature):
    model = BoltzmannNoise(temperature).bind(spaces.Discrete(5))
    prefs = np.random.default_rng(0).normal(size=(6, 5)) * 3.0
    clean = prefs.argmax(axis=1)
    np.testing.assert_allclose(model.probs(states(6), clean, prefs), softmax(prefs / temperature), rtol=1e-12)


def test_boltzmann_without_preferences_uses_one_hot_preferences():
    n, t = 4, 0.5
    model = BoltzmannNoise(t).bind(spaces.Discrete(n))
    p = model.probs(states(2), np.array([1, 3]))
    p_clean = math.exp(1 / t) / (math.exp(1 / t) + n - 1)
    np.testing.assert_allclose(p[0], [(1 - p_clean) / 3, p_clean, (1 - p_clean) / 3, (1 - p_clean) / 3])
    # Low temperature approaches the clean expert, high temperature approaches uniform.
    cold = BoltzmannNoise(0.01).bind(spaces.Discrete(n)).probs(states(1), np.array([2]))
    hot = BoltzmannNoise(1e4).bind(spaces.Discrete(n)).probs(states(1), np.array([2]))
    np.testing.assert_allclose(cold[0], [0, 0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(hot[0], 0.25, atol=1e-3)


def test_boltzmann_is_stable_for_huge_preferences():
    model = BoltzmannNoise(0.01).bind(spaces.Discrete(3))
    prefs = np.array([[1e6, 0.0, -1e6]])
    p = model.probs(states(1), np.array([0]), prefs)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p, [[1.0, 0.0, 0.0]])


@pytest.mark.parametrize("temperature,epsilon", [(0.5, 0.0), (1.0, 0.1), (2.0, 0.6)])
def test_teacher_is_tempered_softmax_plus_uniform_floor(temperature, epsilon):
    n = 5
    prefs = np.random.default_rng(2).normal(size=(4, n))
    clean = prefs.argmax(axis=1)
    teacher = TeacherNoise(temperature, epsilon).bind(spaces.Discrete(n))
    p = teacher.probs(states(4), clean, prefs)
    np.testing.assert_allclose(p, (1 - epsilon) * softmax(prefs / temperature) + epsilon / n, rtol=1e-12)
    chain = (BoltzmannNoise(temperature) >> UniformNoise(epsilon)).bind(spaces.Discrete(n))
    np.testing.assert_allclose(p, chain.probs(states(4), clean, prefs), atol=1e-12)
    assert np.all(teacher.mode_margin(states(4), clean, prefs) > 0)  # clean has the top logit


def test_sticky_repeats_last_emitted_action_with_the_right_frequency():
    r, n, rows = 0.3, 3, 20_000
    model = StickyNoise(repeat_prob=r).bind(spaces.Discrete(n))  # inner: the clean action
    rng = np.random.default_rng(42)
    obs = np.zeros((rows, 2))
    first = model.sample(obs, np.zeros(rows, dtype=np.int64), rng)
    np.testing.assert_array_equal(first, 0)  # no memory yet: the inner (clean) action
    second = model.sample(obs, np.ones(rows, dtype=np.int64), rng)
    assert abs(np.mean(second == 0) - r) < TOL  # repeated the last action
    assert set(np.unique(second).tolist()) == {0, 1}
    # Third step: declared probs use the memory of each row; P(0) = r^2, P(1) = r(1-r), P(2) = 1-r.
    clean = np.full(rows, 2)
    probs = model.probs(obs, clean)
    np.testing.assert_allclose(probs, r * np.eye(n)[second] + (1 - r) * np.eye(n)[clean])
    third = model.sample(obs, clean, rng)
    freq = np.bincount(third, minlength=n) / rows
    np.testing.assert_allclose(freq, [r * r, r * (1 - r), 1 - r], atol=TOL)
    # It repeats what it *emitted*, so a row that emitted 0 twice keeps emitting 0 with prob >= r.
    was_zero = second == 0
    assert abs(np.mean(third[was_zero] == 0) - r) < 0.03


def test_sticky_forgets_on_reset_and_on_batch_size_change():
    model = StickyNoise(repeat_prob=0.9).bind(spaces.Discrete(3))
    rng = np.random.default_rng(0)
    obs = np.zeros((4, 1))
    model.sample(obs, np.array([0, 0, 0, 0]), rng)
    clean = np.array([1, 2, 1, 2])
    assert not np.allclose(model.probs(obs, clean), np.eye(3)[clean])  # memory in effect
    model.reset()
    np.testing.assert_array_equal(model.probs(obs, clean), np.eye(3)[clean])
    np.testing.assert_array_equal(model.sample(obs, clean, rng), clean)
    # A batch of another size has no memory.
    np.testing.assert_array_equal(model.probs(np.zeros((2, 1)), np.array([0, 0])), np.eye(3)[[0, 0]])


def test_chain_of_uniforms_matches_closed_form():
    n, e1, e2 = 4, 0.3, 0.5
    chain = UniformNoise(e1) >> UniformNoise(e2)
    assert isinstance(chain, ChainNoise)
    chain.bind(spaces.Discrete(n))
    p = chain.probs(states(2), np.array([1, 2]))
    q1 = 1 - e1 + e1 / n  # stage 1 keeps the clean action
    p_clean = q1 * (1 - e2 + e2 / n) + (1 - q1) * (e2 / n)
    np.testing.assert_allclose(p[0, 1], p_clean)
    np.testing.assert_allclose(p[0, [0, 2, 3]], (1 - p_clean) / 3)
    # Equivalently, uniform noise is closed under chaining: 1 - eps = (1 - e1)(1 - e2).
    single = UniformNoise(1 - (1 - e1) * (1 - e2)).bind(spaces.Discrete(n))
    np.testing.assert_allclose(p, single.probs(states(2), np.array([1, 2])))


def test_chain_probs_are_the_matrix_product_and_sampling_matches():
    n, k, reps = 4, 3, 20_000
    chain = ChainNoise([UniformNoise(0.4), FixedWrongNoise(0.3)]).bind(spaces.Discrete(n), noise_seed=5)
    obs, clean = states(k, seed=8), np.array([0, 1, 3])
    p = chain.probs(obs, clean)
    second = chain.stages[1]
    for i in range(k):
        first_row = np.full(n, 0.4 / n)
        first_row[clean[i]] += 0.6
        transition = np.zeros((n, n))  # transition[b, a] = P(second stage emits a | input b)
        for b in range(n):
            wrong = second.wrong_action(obs[i : i + 1], np.array([b]))[0]
            transition[b, b] += 0.7
            transition[b, wrong] += 0.3
        np.testing.assert_allclose(p[i], first_row @ transition, atol=1e-12)
    big_obs, big_clean, _ = repeated(obs, clean, None, reps)
    freq = empirical(chain.sample(big_obs, big_clean, np.random.default_rng(3)), k, reps, n)
    np.testing.assert_allclose(freq, p, atol=TOL)


def test_chain_accepts_names_and_its_config_lists_stages():
    chain = ChainNoise(["uniform", BoltzmannNoise(2.0)])
    assert chain.needs_preferences
    assert chain.config() == {
        "noise": "chain",
        "stages": [{"noise": "uniform", "epsilon": 0.2}, {"noise": "boltzmann", "temperature": 2.0}],
    }


# -- continuous ----------------------------------------------------------------------------------


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def test_gaussian_samples_stay_in_bounds_with_right_moments_away_from_bounds():
    space = spaces.Box(-10.0, 10.0, shape=(2,), dtype=np.float32)
    model = GaussianNoise(sigma=0.5).bind(space)
    rows = 20_000
    clean = np.tile(np.array([[1.0, -2.0]], dtype=np.float32), (rows, 1))
    draws = model.sample(np.zeros((rows, 1)), clean, np.random.default_rng(0))
    assert draws.shape == (rows, 2) and draws.dtype == np.float32
    np.testing.assert_allclose(draws.mean(axis=0), [1.0, -2.0], atol=0.02)
    np.testing.assert_allclose(draws.std(axis=0), 0.5, atol=0.02)


def test_gaussian_clips_to_bounds_and_puts_the_tail_mass_there():
    space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
    model = GaussianNoise(sigma=1.0).bind(space)
    rows = 20_000
    draws = model.sample(np.zeros((rows, 1)), np.zeros((rows, 1), dtype=np.float32), np.random.default_rng(1))
    assert draws.min() >= -1.0 and draws.max() <= 1.0
    tail = normal_cdf(-1.0)  # 0.1587
    assert abs(np.mean(draws == -1.0) - tail) < TOL
    assert abs(np.mean(draws == 1.0) - tail) < TOL


def test_gaussian_log_prob_density_atoms_and_total_mass():
    space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
    sigma = 0.8
    model = GaussianNoise(sigma=sigma).bind(space)
    dist = model.distribution(np.zeros((1, 1)), np.array([[0.25]], dtype=np.float32))
    # Density at the mean, and at one sigma away.
    peak = -math.log(sigma * math.sqrt(2 * math.pi))
    np.testing.assert_allclose(dist.log_prob(np.array([[0.25]])), [peak], rtol=1e-12)
    np.testing.assert_allclose(dist.log_prob(np.array([[0.25 + sigma * 0.5]])), [peak - 0.125], rtol=1e-12)
    # Atoms on the bounds carry the clipped tails.
    np.testing.assert_allclose(np.exp(dist.log_prob(np.array([[-1.0]]))), normal_cdf((-1.0 - 0.25) / sigma))
    np.testing.assert_allclose(np.exp(dist.log_prob(np.array([[1.0]]))), 1 - normal_cdf((1.0 - 0.25) / sigma))
    assert dist.log_prob(np.array([[1.5]]))[0] == -np.inf
    # Density over the open interior plus both atoms integrates to one.
    grid = np.linspace(-1.0, 1.0, 4001)
    grid[0], grid[-1] = np.nextafter(-1.0, 0.0), np.nextafter(1.0, 0.0)
    batch = model.distribution(np.zeros((len(grid), 1)), np.full((len(grid), 1), 0.25, dtype=np.float32))
    dens = np.exp(batch.log_prob(grid[:, None]))
    interior = float(np.sum((dens[1:] + dens[:-1]) / 2 * np.diff(grid)))
    atoms = np.exp(dist.log_prob(np.array([[-1.0]]))[0]) + np.exp(dist.log_prob(np.array([[1.0]]))[0])
    assert abs(interior + atoms - 1.0) < 1e-6


def test_gaussian_log_prob_sums_over_dimensions():
    space = spaces.Box(-5.0, 5.0, shape=(3,), dtype=np.float64)
    dist = GaussianNoise(sigma=1.0).bind(space).distribution(np.zeros((2, 1)), np.zeros((2, 3)))
    lp = dist.log_prob(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, -1.0]]))
    one_d = -0.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(lp, [3 * one_d, 3 * one_d - 1.0])


def test_gaussian_with_zero_sigma_is_the_clean_expert():
    space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
    model = GaussianNoise(sigma=0.0).bind(space)
    clean = np.array([[0.3], [-0.7]], dtype=np.float32)
    np.testing.assert_array_equal(model.sample(np.zeros((2, 1)), clean, np.random.default_rng(0)), clean)
    dist = model.distribution(np.zeros((2, 1)), clean)
    np.testing.assert_array_equal(dist.log_prob(clean), [0.0, 0.0])
    assert dist.log_prob(np.array([[0.0], [0.0]]))[0] == -np.inf


def test_box_uniform_mixture_frequency_bounds_and_log_prob():
    space = spaces.Box(np.array([-2.0, 0.0]), np.array([2.0, 1.0]), dtype=np.float64)
    eps, rows = 0.3, 20_000
    model = BoxUniformNoise(epsilon=eps).bind(space)
    clean = np.tile([[0.5, 0.9]], (rows, 1))
    draws = model.sample(np.zeros((rows, 1)), clean, np.random.default_rng(0))
    at_clean = np.all(draws == clean, axis=1)
    assert abs(at_clean.mean() - (1 - eps)) < TOL
    replaced = draws[~at_clean]
    assert np.all(replaced >= space.low) and np.all(replaced <= space.high)
    np.testing.assert_allclose(replaced.mean(axis=0), [0.0, 0.5], atol=0.05)  # uniform over the box
    np.testing.assert_allclose(replaced.std(axis=0), [4 / math.sqrt(12), 1 / math.sqrt(12)], atol=0.03)
    dist = model.distribution(np.zeros((1, 1)), clean[:1])
    np.testing.assert_allclose(dist.log_prob(clean[:1]), [math.log(1 - eps)])
    np.testing.assert_allclose(dist.log_prob(np.array([[1.0, 0.2]])), [math.log(eps / 4.0)])
    assert dist.log_prob(np.array([[3.0, 0.2]]))[0] == -np.inf


def test_none_on_box_returns_the_clean_action():
    space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    model = NoNoise().bind(space)
    clean = np.array([[0.1, -0.2]], dtype=np.float32)
    np.testing.assert_array_equal(model.sample(np.zeros((1, 1)), clean, np.random.default_rng(0)), clean)
    np.testing.assert_array_equal(model.distribution(np.zeros((1, 1)), clean).log_prob(clean), [0.0])


def test_make_noise_picks_the_family_from_the_action_space():
    assert isinstance(make_noise("uniform", spaces.Discrete(3), epsilon=0.1), UniformNoise)
    box_uniform = make_noise("uniform", spaces.Box(-1, 1, (1,)), epsilon=0.1)
    assert isinstance(box_uniform, BoxUniformNoise) and box_uniform.epsilon == 0.1
    assert isinstance(make_noise("none"), NoNoise)
    model = FixedWrongNoise(0.1)
    assert make_noise(model) is model


# -- the oracle's path for one observation ---------------------------------------------------------


@pytest.mark.parametrize("n,epsilon,start", [(4, 0.3, 0), (3, 1.0, 0), (2, 0.2, 5), (5, 0.0, 0), (7, 0.9, -3)])
def test_uniform_single_observation_labels_match_declared_probs(n, epsilon, start):
    """Labels of the oracle's one-observation path (one buffered uniform per label) follow ``probs``."""
    obs_space = spaces.Box(-np.inf, np.inf, shape=(3,))
    clean_of = {0: start, 1: start + n - 1}  # the clean action is read from the first coordinate

    class Expert:
        def __call__(self, obs):
            return np.array([clean_of[int(o[0])] for o in obs])

        def act_one(self, obs):
            return clean_of[int(obs[0])]

    oracle = NoisyOracle(Expert(), UniformNoise(epsilon), spaces.Discrete(n, start=start), obs_space, seed=8)
    for state in (0, 1):
        obs = np.array([float(state), 0.3, -0.2])
        probs = oracle.probs(obs)
        labels = np.array([oracle.sample(obs) for _ in range(SAMPLES_PER_STATE)])
        freq = np.bincount(labels - start, minlength=n) / SAMPLES_PER_STATE
        np.testing.assert_allclose(freq, probs, atol=TOL)
        if epsilon == 0.0:
            assert np.all(labels == clean_of[state])


class PrefExpert:
    """Clean action ``obs[0] % N_ACTIONS``, with random preferences whose argmax is that action."""

    def __call__(self, obs):
        return np.asarray(obs[:, 0], dtype=np.int64) % N_ACTIONS

    def preferences(self, obs):
        prefs = np.random.default_rng(len(obs)).normal(size=(len(obs), N_ACTIONS))
        prefs[np.arange(len(obs)), self(obs)] += 10.0
        return prefs


@pytest.mark.parametrize("name", sorted(set(DISCRETE_MODELS) - {"uniform", "none"}))
def test_single_labels_of_other_models_are_the_batch_labels_of_one_row(name):
    """Only ``uniform`` draws single labels from the buffered stream: every other model's single
    label is its batch draw of one row, memory included (their label streams are unchanged)."""
    obs_space = spaces.Box(-np.inf, np.inf, shape=(3,))
    single, batch = (NoisyOracle(PrefExpert(), DISCRETE_MODELS[name](), spaces.Discrete(N_ACTIONS), obs_space,
                                 seed=4, noise_seed=2) for _ in range(2))
    rows = states(300, seed=3)
    rows[:, 0] = np.arange(300)
    labels = [single.sample(row) for row in rows]
    assert all(type(label) is np.int64 for label in labels)
    assert labels == [batch.sample(row[None])[0] for row in rows]
    assert len(set(labels)) > 1  # not trivially equal


def test_none_single_labels_are_the_clean_action_without_drawing():
    obs_space = spaces.Box(-np.inf, np.inf, shape=(3,))
    oracle = NoisyOracle(PrefExpert(), NoNoise(), spaces.Discrete(N_ACTIONS), obs_space, seed=0)
    before = oracle.rng.bit_generator.state
    rows = states(3)
    rows[:, 0] = [2, 0, 1]
    assert [oracle.sample(row) for row in rows] == [2, 0, 1]
    assert oracle.rng.bit_generator.state == before
