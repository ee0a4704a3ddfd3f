"""The oracle: counters, batching, reproducibility from seeds, pickling."""

from __future__ import annotations

import copy
import pickle

import cloudpickle
import numpy as np
import pytest
from gymnasium import spaces

from noisy_expert_envs import NoisyOracle
from noisy_expert_envs.oracle import BudgetExceeded, LabelMeter, oracle_seed

OBS_SPACE = spaces.Box(-np.inf, np.inf, shape=(3,), dtype=np.float64)


def sign_expert(obs: np.ndarray) -> np.ndarray:
    """Discrete(3) expert: 0, 1 or 2 by the sign of the first coordinate."""
    return (np.sign(obs[:, 0]) + 1).astype(np.int64)


class ScoredExpert:
    """An expert with action preferences (``boltzmann`` uses them)."""

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.preferences(obs).argmax(axis=1)

    def preferences(self, obs: np.ndarray) -> np.ndarray:
        return np.stack([obs[:, 0], obs[:, 1], -obs[:, 0] - obs[:, 1]], axis=1)


def box_expert(obs: np.ndarray) -> np.ndarray:
    return np.tanh(obs[:, :2]).astype(np.float32)


BOX = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)


def discrete_oracle(noise="uniform", seed=0, **params) -> NoisyOracle:
    return NoisyOracle(sign_expert, noise, spaces.Discrete(3), OBS_SPACE, seed=seed, **params)


def obs_batch(b: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(b, 3))


def test_query_counters_count_observations_not_calls():
    oracle = discrete_oracle(epsilon=0.3)
    assert oracle.queries == 0 and oracle.clean_queries == 0
    oracle.sample(obs_batch(7))
    assert oracle.queries == 7
    oracle.probs(obs_batch(5))
    assert oracle.queries == 12
    oracle.sample(obs_batch(1)[0])  # a single observation is one query
    assert oracle.queries == 13
    oracle.clean(obs_batch(4))
    assert oracle.queries == 13 and oracle.clean_queries == 4
    box = NoisyOracle(box_expert, "gaussian", BOX, OBS_SPACE, seed=0, sigma=0.1)
    box.distribution(obs_batch(6))
    box.sample(obs_batch(2))
    assert box.queries == 8 and box.clean_queries == 0


def test_a_label_meter_counts_every_attached_oracle_and_refuses_a_query_past_its_budget():
    meter = LabelMeter(budget=10)
    noisy, clean = discrete_oracle(epsilon=0.3), discrete_oracle("none")
    noisy.attach(meter)
    clean.attach(meter, clean=True)
    noisy.sample(obs_batch(3))
    noisy.sample(obs_batch(1)[0])  # the single-observation path counts too
    noisy.clean(obs_batch(2))  # privileged access is a clean-expert label
    clean.sample(obs_batch(2))
    assert (meter.labels, meter.clean_labels) == (8, 4)
    with pytest.raises(BudgetExceeded, match=r"8 labels counted \+ 3 asked > budget 10") as caught:
        noisy.probs(obs_batch(3))
    assert meter.exceeded is caught.value and (caught.value.budget, caught.value.counted, caught.value.asked) == (10, 8, 3)
    assert (meter.labels, noisy.queries) == (8, 4)  # refused: counted nowhere
    clean.clean(obs_batch(1)[0])
    noisy.sample(obs_batch(1))  # exactly the budget is allowed
    assert (meter.labels, meter.clean_labels) == (10, 5)
    with pytest.raises(BudgetExceeded, match="10 labels counted"):
        clean.clean(obs_batch(1)[0])  # the single-observation clean path refuses too
    restored = pickle.loads(pickle.dumps(caught.value))  # travels back from a sweep worker whole
    assert type(restored) is BudgetExceeded and str(restored) == str(caught.value)
    meter.close()  # after training: nothing is counted, nothing refused
    noisy.sample(obs_batch(5))
    assert meter.labels == 10 and noisy.queries == 10


def test_single_observation_gives_unbatched_answers():
    oracle = discrete_oracle(epsilon=0.3)
    one = obs_batch(1)[0]
    action = oracle.sample(one)
    assert np.ndim(action) == 0 and int(action) in (0, 1, 2)
    assert oracle.probs(one).shape == (3,)
    assert np.ndim(oracle.clean(one)) == 0
    assert oracle.sample(obs_batch(1)).shape == (1,)
    assert oracle.probs(obs_batch(2)).shape == (2, 3)
    box = NoisyOracle(box_expert, "gaussian", BOX, OBS_SPACE, seed=0, sigma=0.1)
    assert box.sample(one).shape == (2,)
    assert box.clean(one).shape == (2,)
    assert box.sample(obs_batch(4)).shape == (4, 2)


def test_clean_is_the_expert_and_probs_follow_the_noise():
    oracle = discrete_oracle(epsilon=0.3)
    obs = obs_batch(10)
    clean = sign_expert(obs)
    np.testing.assert_array_equal(oracle.clean(obs), clean)
    expected = np.full((10, 3), 0.1)
    expected[np.arange(10), clean] += 0.7
    np.testing.assert_allclose(oracle.probs(obs), expected)
    np.testing.assert_allclose(oracle.agreement(obs), 0.8)
    np.testing.assert_allclose(oracle.mode_margin(obs), 0.7)


def test_sample_with_distribution_is_one_query_and_labels_follow_that_distribution():
    oracle = discrete_oracle("fixed_wrong", epsilon=0.4)
    obs = np.repeat(obs_batch(2), 4000, axis=0)
    labels, probs = oracle.sample_with_distribution(obs)
    assert oracle.queries == len(obs)
    np.testing.assert_allclose(probs, discrete_oracle("fixed_wrong", epsilon=0.4).probs(obs))
    for row in (0, -1):  # two states: empirical label frequencies match their declared probs
        same = np.all(obs == obs[row], axis=1)
        freq = np.bincount(labels[same], minlength=3) / same.sum()
        np.testing.assert_allclose(freq, probs[row], atol=0.03)
    label, p = oracle.sample_with_distribution(obs[0])  # a single observation: unbatched answers
    assert np.ndim(label) == 0 and p.shape == (3,) and oracle.queries == len(obs) + 1
    box = NoisyOracle(box_expert, "gaussian", BOX, OBS_SPACE, seed=0, sigma=0.1)
    actions, dist = box.sample_with_distribution(obs_batch(5))
    assert actions.shape == (5, 2) and box.queries == 5
    np.testing.assert_allclose(dist.params()["mean"], box_expert(obs_batch(5)), atol=1e-6)


def test_boltzmann_oracle_uses_the_expert_preferences():
    oracle = NoisyOracle(ScoredExpert(), "boltzmann", spaces.Discrete(3), OBS_SPACE, seed=0, temperature=0.5)
    obs = obs_batch(8)
    prefs = ScoredExpert().preferences(obs) / 0.5
    expected = np.exp(prefs - prefs.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(oracle.probs(obs), expected, rtol=1e-10)


def test_batched_samples_and_probs_are_reproducible_from_the_seed():
    obs = obs_batch(500)
    a, b = discrete_oracle(epsilon=0.5, seed=3), discrete_oracle(epsilon=0.5, seed=3)
    first = [a.sample(obs) for _ in range(3)]
    second = [b.sample(obs) for _ in range(3)]
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.probs(obs), b.probs(obs))
    # Re-seeding replays the stream.
    a.reset_rng(3)
    np.testing.assert_array_equal(a.sample(obs), first[0])
    # Another seed gives other labels.
    c = discrete_oracle(epsilon=0.5, seed=4)
    assert np.any(c.sample(obs) != first[0])
    # Successive calls of one oracle draw fresh noise.
    assert np.any(first[0] != first[1])


def test_box_samples_reproducible_from_seed():
    obs = obs_batch(50)
    a = NoisyOracle(box_expert, "uniform", BOX, OBS_SPACE, seed=oracle_seed(1), epsilon=0.5)
    b = NoisyOracle(box_expert, "uniform", BOX, OBS_SPACE, seed=oracle_seed(1), epsilon=0.5)
    c = NoisyOracle(box_expert, "uniform", BOX, OBS_SPACE, seed=oracle_seed(2), epsilon=0.5)
    x = a.sample(obs)
    np.testing.assert_array_equal(x, b.sample(obs))
    assert not np.array_equal(x, c.sample(obs))
    assert x.dtype == np.float32 and np.all(np.abs(x) <= 1.0)


def test_discrete_space_with_nonzero_start():
    def expert(obs):
        return np.where(obs[:, 0] > 0, 7, 5)  # actions of Discrete(3, start=5)

    oracle = NoisyOracle(expert, "fixed_wrong", spaces.Discrete(3, start=5), OBS_SPACE, seed=0, epsilon=0.5)
    obs = obs_batch(400)
    labels = oracle.sample(obs)
    assert set(np.unique(labels).tolist()) <= {5, 6, 7}
    np.testing.assert_array_equal(oracle.clean(obs), expert(obs))
    # probs columns are indexed from the space's start: column 0 is action 5.
    p = oracle.probs(obs)
    np.testing.assert_allclose(p[np.arange(400), expert(obs) - 5], 0.5)
    assert abs(np.mean(labels == expert(obs)) - 0.5) < 0.08


def test_float_integral_actions_are_accepted():
    oracle = NoisyOracle(lambda o: np.ones(len(o)), "none", spaces.Discrete(3), OBS_SPACE, seed=0)
    labels = oracle.sample(obs_batch(3))
    np.testing.assert_array_equal(labels, [1, 1, 1])
    assert np.issubdtype(labels.dtype, np.integer)


def test_config_names_the_noise_and_its_seed():
    oracle = discrete_oracle("fixed_wrong", epsilon=0.25, noise_seed=9)
    assert oracle.config() == {"noise": "fixed_wrong", "epsilon": 0.25, "noise_seed": 9}


@pytest.mark.parametrize("dumps,loads", [(pickle.dumps, pickle.loads), (cloudpickle.dumps, pickle.loads)])
@pytest.mark.parametrize("noise,params", [("uniform", {"epsilon": 0.4}), ("fixed_wrong", {"epsilon": 0.4}),
                                          ("sticky", {"repeat_prob": 0.5, "inner": "uniform"})])
def test_pickled_oracle_continues_with_the_same_labels(dumps, loads, noise, params):
    oracle = discrete_oracle(noise, seed=11, noise_seed=2, **params)
    obs = obs_batch(64)
    oracle.sample(obs)
    copy = loads(dumps(oracle))
    assert copy.queries == oracle.queries
    for _ in range(3):
        np.testing.assert_array_equal(copy.sample(obs), oracle.sample(obs))
    np.testing.assert_array_equal(copy.probs(obs), oracle.probs(obs))


def test_cloudpickle_carries_a_lambda_expert():
    oracle = NoisyOracle(lambda o: (o[:, 0] > 0).astype(int), "uniform", spaces.Discrete(2), OBS_SPACE,
                         seed=1, epsilon=0.3)
    copy = cloudpickle.loads(cloudpickle.dumps(oracle))
    obs = obs_batch(32)
    np.testing.assert_array_equal(copy.sample(obs), oracle.sample(obs))


# -- the single-observation path (the wrapper's label at every step) ----------------------------


class OneExpert:
    """``sign_expert`` with the optional ``act_one`` protocol; counts which path was used."""

    def __init__(self, start: int = 0):
        self.start = start
        self.batch_calls = 0
        self.single_calls = 0

    def __call__(self, obs):
        self.batch_calls += 1
        return sign_expert(obs) + self.start

    def act_one(self, obs):
        self.single_calls += 1
        return int(np.sign(obs[0]) + 1) + self.start


def single_labels(oracle: NoisyOracle, obs: np.ndarray) -> list:
    return [oracle.sample(row) for row in obs]


def test_single_observations_use_act_one_and_give_np_int64_labels():
    expert = OneExpert(start=-1)
    oracle = NoisyOracle(expert, "uniform", spaces.Discrete(3, start=-1), OBS_SPACE, seed=0, epsilon=0.5)
    obs = obs_batch(300)
    labels = single_labels(oracle, obs)
    assert expert.single_calls == 300 and expert.batch_calls == 0
    assert all(type(a) is np.int64 for a in labels) and set(labels) == {-1, 0, 1}
    clean = [oracle.clean(row) for row in obs]
    assert all(type(a) is np.int64 for a in clean)
    np.testing.assert_array_equal(clean, sign_expert(obs) - 1)
    assert oracle.queries == 300 and oracle.clean_queries == 300
    # Batches, lists and probs use the batch expert.
    oracle.sample(obs)
    oracle.sample(obs[0].tolist())
    oracle.probs(obs[0])
    assert expert.batch_calls == 2 and expert.single_calls == 301 + 300

    class BoxOne:
        def __call__(self, obs):
            return box_expert(obs)

        def act_one(self, obs):
            raise AssertionError("Box experts are never asked for a Python-int action")

    box = NoisyOracle(BoxOne(), "none", BOX, OBS_SPACE, seed=0)
    np.testing.assert_array_equal(box.sample(obs[0]), box_expert(obs[:1])[0])


def test_single_labels_are_reproducible_and_reset_rng_replays_them():
    obs = obs_batch(700)  # > 2 refills of the 256-uniform buffer
    a, b = discrete_oracle(epsilon=0.5, seed=3), discrete_oracle(epsilon=0.5, seed=3)
    first = single_labels(a, obs)
    assert single_labels(b, obs) == first
    a.reset_rng(3)
    assert single_labels(a, obs[:300]) == first[:300]  # reset_rng empties the buffer too
    c = discrete_oracle(epsilon=0.5, seed=4)
    assert single_labels(c, obs) != first
    # The same sequence of calls replays, batches and single observations interleaved.
    for oracle in (a, b):
        oracle.reset_rng(9)
    for _ in range(3):
        np.testing.assert_array_equal(a.sample(obs[:50]), b.sample(obs[:50]))
        assert single_labels(a, obs[:200]) == single_labels(b, obs[:200])


def test_assigning_rng_starts_a_fresh_stream():
    a, b = discrete_oracle(epsilon=0.5, seed=3), discrete_oracle(epsilon=0.5, seed=5)
    obs = obs_batch(100)
    single_labels(a, obs[:10])  # a now holds buffered uniforms of seed 3
    a.rng = np.random.default_rng(5)
    b.rng = np.random.default_rng(5)
    assert single_labels(a, obs) == single_labels(b, obs)


@pytest.mark.parametrize("copy_fn", [lambda o: pickle.loads(pickle.dumps(o)),
                                     lambda o: cloudpickle.loads(cloudpickle.dumps(o)),
                                     copy.deepcopy])
def test_copied_oracle_continues_mid_buffer_with_the_same_single_labels(copy_fn):
    oracle = NoisyOracle(OneExpert(), "uniform", spaces.Discrete(3), OBS_SPACE, seed=11, epsilon=0.6)
    obs = obs_batch(600)
    single_labels(oracle, obs[:100])  # 156 uniforms left in the buffer
    twin = copy_fn(oracle)
    assert twin._one._uniforms == oracle._one._uniforms and len(oracle._one._uniforms) == 156
    assert single_labels(twin, obs[100:]) == single_labels(oracle, obs[100:])
    assert twin.queries == oracle.queries == 600
    assert twin.expert.single_calls == oracle.expert.single_calls  # act_one bound to the copy's expert


@pytest.mark.parametrize("bad", [3, -1, 1.5, np.nan, None, True, "a", [0, 1], np.int64(7)])
def test_bad_act_one_answer_raises_the_batch_error_before_counting(bad):
    class BadOne:
        def __call__(self, obs):
            return np.zeros(len(obs), dtype=np.int64)

        def act_one(self, obs):
            return bad

    oracle = NoisyOracle(BadOne(), "uniform", spaces.Discrete(3), OBS_SPACE, seed=0, epsilon=0.3)
    batch_only = NoisyOracle(lambda o: np.asarray([bad]), "uniform", spaces.Discrete(3), OBS_SPACE, seed=0)
    with pytest.raises(ValueError) as batch_error:
        batch_only.sample(obs_batch(1))
    for call in (oracle.sample, oracle.clean):
        with pytest.raises(ValueError) as single_error:
            call(obs_batch(1)[0])
        assert str(single_error.value) == str(batch_error.value)
    assert oracle.queries == 0 and oracle.clean_queries == 0


@pytest.mark.parametrize("answer", [np.int64(2), np.uint8(2), 2.0, np.array([2])])
def test_valid_act_one_answers_of_other_types_are_accepted_like_batch_ones(answer):
    class Other:
        def __call__(self, obs):
            return np.full(len(obs), 2)

        def act_one(self, obs):
            return answer

    oracle = NoisyOracle(Other(), "none", spaces.Discrete(3), OBS_SPACE, seed=0)
    label = oracle.sample(obs_batch(1)[0])
    assert label == 2 and type(label) is np.int64
