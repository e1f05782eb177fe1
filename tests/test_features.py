"""Feature maps x(s) and phi(s, a): shape, range and determinism of each map, known values at
chosen points, and the configuration errors a user can make."""

from __future__ import annotations

import dataclasses
import math
import tracemalloc
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents.errors import UserError
from agents.features.inputs import PolicyInputs, state_action_features
from agents.features.maps import (
    FEATURE_MAP_READS,
    Fourier,
    Normalized,
    OneHot,
    Polynomial,
    RadialBasis,
    Raw,
    TileCoding,
    box_bounds,
    make_feature_map,
)
from agents.runtime.config import FeaturesConfig

BOX = gym.spaces.Box(low=np.array([-1.0, 0.0, -2.0]), high=np.array([1.0, 4.0, 2.0]), dtype=np.float64)
"""A bounded 3-D observation space."""
UNBOUNDED = gym.spaces.Box(low=-np.inf, high=np.inf, shape=(2,), dtype=np.float32)

# name -> (config overrides, expected dim on BOX, (low, high) bounds every feature lies in)
BOX_MAPS = {
    "raw": ({}, 3 + 1, (-2.0, 4.0)),
    "normalized": ({"clip": 3.0}, 3 + 1, (-3.0, 3.0)),
    "polynomial": ({"degree": 2}, math.comb(3 + 2, 2), (-1.0, 1.0)),
    "fourier": ({"degree": 2}, 3**3, (-1.0, 1.0)),
    "rbf": ({"num_centers": 4}, 4**3 + 1, (0.0, 1.0)),
    "tile": ({"num_tilings": 4, "tiles_per_dim": 5, "hash_size": 512}, 512 + 1, (0.0, 1.0)),
}


def config(name: str, **overrides: object) -> FeaturesConfig:
    return replace(FeaturesConfig(name=name), **overrides)


def observations(space: gym.spaces.Box, batch: int = 64, seed: int = 0) -> np.ndarray:
    """Uniform points inside ``space`` (bounded) as a ``[batch, D]`` float array."""
    rng = np.random.default_rng(seed)
    return rng.uniform(space.low, space.high, size=(batch, *space.shape))


@pytest.mark.parametrize("name", list(BOX_MAPS))
def test_box_maps_shape_range_and_determinism(name):
    overrides, dim, (low, high) = BOX_MAPS[name]
    feature_map = make_feature_map(config(name, **overrides), BOX)
    obs = observations(BOX)
    x = feature_map(obs)
    assert feature_map.dim == dim
    assert x.shape == (obs.shape[0], dim) and x.dtype == np.float64
    assert np.isfinite(x).all() and x.min() >= low - 1e-12 and x.max() <= high + 1e-12
    again = make_feature_map(config(name, **overrides), BOX)  # a fresh map gives the same x
    np.testing.assert_array_equal(again(obs), x)
    np.testing.assert_array_equal(feature_map(obs), x)  # and so does a second call
    np.testing.assert_array_equal(feature_map(obs[:5]), x[:5])  # rows do not depend on the batch


@pytest.mark.parametrize("name", ["raw", "normalized", "rbf", "tile"])
def test_bias_is_a_constant_last_column_that_can_be_switched_off(name):
    overrides, dim, _ = BOX_MAPS[name]
    x = make_feature_map(config(name, **overrides), BOX)(observations(BOX))
    np.testing.assert_array_equal(x[:, -1], 1.0)
    without = make_feature_map(config(name, bias=False, **overrides), BOX)
    assert without.dim == dim - 1 and without(observations(BOX)).shape[1] == dim - 1


def test_onehot_is_the_identity_row_of_each_state():
    feature_map = make_feature_map(config("onehot"), gym.spaces.Discrete(5))
    x = feature_map(np.array([0, 3, 4, 3]))
    np.testing.assert_array_equal(x, np.eye(5)[[0, 3, 4, 3]])
    assert feature_map(np.int64(2)).shape == (1, 5)  # a scalar observation is a batch of one


def test_onehot_respects_a_discrete_space_start():
    feature_map = make_feature_map(config("auto"), gym.spaces.Discrete(3, start=-1))
    np.testing.assert_array_equal(feature_map(np.array([-1, 0, 1])), np.eye(3))


def test_auto_picks_onehot_for_discrete_and_raw_for_box():
    assert isinstance(make_feature_map(config("auto"), gym.spaces.Discrete(4)), OneHot)
    assert isinstance(make_feature_map(config("auto"), BOX), Raw)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.uint8])
@pytest.mark.parametrize("bias", [True, False])
def test_raw_is_the_observation_then_one(dtype, bias):
    """Float64 whatever the observation's dtype (the cast happens in the concatenation)."""
    obs = np.arange(9).reshape(3, 3).astype(dtype)
    expected = obs.astype(np.float64)
    if bias:
        expected = np.concatenate([expected, np.ones((3, 1))], axis=1)
    features = Raw(3, bias=bias)(obs)
    assert features.dtype == np.float64
    np.testing.assert_array_equal(features, expected)


def test_the_bias_column_is_one_array_however_many_batch_sizes_come():
    """Every update's batch has its own size: the ones column is sliced from one array grown to the
    largest batch, not cached per size (that cache grew with every update of a long run)."""
    raw = Raw(2)
    for size in range(1, 100):  # first calls (numpy's own caches)
        assert (raw(np.full((size, 2), 3.0))[:, 2] == 1.0).all()
    tracemalloc.start()
    try:
        for size in range(1000, 2000):
            assert (raw(np.full((size, 2), 3.0))[:, 2] == 1.0).all()
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < 100_000  # one column of 1999 ones: 16 kB (a column per size: 12 MB)
    expected = np.concatenate([np.zeros((5, 2)), np.ones((5, 1))], axis=1)
    np.testing.assert_array_equal(raw(np.zeros((5, 2))), expected)


def test_normalized_standardises_with_merged_running_statistics():
    rng = np.random.default_rng(1)
    data = rng.normal(loc=[3.0, -2.0], scale=[2.0, 0.5], size=(400, 2))
    one_batch, two_batches = Normalized(2), Normalized(2)
    one_batch.update(data)
    two_batches.update(data[:150])
    two_batches.update(data[150:])  # Chan et al.'s merge gives the statistics of the whole
    np.testing.assert_allclose(two_batches.mean, data.mean(0), rtol=1e-6)
    np.testing.assert_allclose(two_batches.var, data.var(0), rtol=1e-5)
    np.testing.assert_allclose(two_batches.mean, one_batch.mean, rtol=1e-12)
    x = two_batches(data)[:, :2]
    np.testing.assert_allclose(x.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(x.std(0), 1.0, rtol=1e-4)


def test_normalized_clips_and_restores_its_statistics():
    feature_map = Normalized(2, clip=2.0)
    feature_map.update(np.array([[0.0, 0.0], [2.0, 2.0]]))  # mean 1, var 1
    np.testing.assert_allclose(feature_map(np.array([[100.0, -100.0]])), [[2.0, -2.0, 1.0]])
    restored = Normalized(2, clip=2.0)
    restored.load_state_dict(feature_map.state_dict())
    obs = np.array([[0.5, 1.5]])
    np.testing.assert_array_equal(restored(obs), feature_map(obs))


def test_polynomial_terms_are_the_monomials_of_the_centred_observation():
    space = gym.spaces.Box(low=np.array([0.0, 0.0]), high=np.array([2.0, 2.0]), dtype=np.float64)
    feature_map = Polynomial(space.low, space.high, degree=2)
    v = np.array([0.5, -1.0])  # obs [1.5, 0] scaled to [-1, 1]
    x = feature_map(np.array([[1.5, 0.0]]))[0]
    expected = [1.0, v[0], v[1], v[0] ** 2, v[0] * v[1], v[1] ** 2]
    np.testing.assert_allclose(x, expected)


@pytest.mark.parametrize(("dims", "degree"), [(6, 8), (2, 12), (3, 0), (1, 1)])
def test_polynomial_terms_built_by_degree_equal_each_monomials_product(dims, degree):
    """One vectorised product per degree (was one numpy call per term: 3003 for Acrobot at degree 8,
    50 env steps/s) gives each term's product bit for bit."""
    rng = np.random.default_rng(0)
    feature_map = Polynomial(-np.ones(dims), 2 * np.ones(dims), degree)
    obs = rng.uniform(-1.0, 2.0, (40, dims))
    v = feature_map.unit(obs) * 2.0 - 1.0
    expected = np.stack([v[:, term].prod(axis=1) for term in feature_map.terms], axis=1)
    np.testing.assert_array_equal(feature_map(obs), expected)
    assert feature_map.dim == math.comb(dims + degree, degree)


def test_fourier_basis_values_at_chosen_points():
    space = gym.spaces.Box(low=np.zeros(2), high=np.ones(2), dtype=np.float64)
    feature_map = Fourier(space.low, space.high, order=1)  # c in {00, 01, 10, 11}
    np.testing.assert_allclose(feature_map(np.array([[0.0, 0.0]])), [[1.0, 1.0, 1.0, 1.0]])
    np.testing.assert_allclose(feature_map(np.array([[1.0, 0.5]])), [[1.0, 0.0, -1.0, 0.0]], atol=1e-12)


def test_rbf_is_one_at_a_centre_and_decays_with_distance():
    feature_map = RadialBasis(np.zeros(1), np.ones(1), num_centers=3, bias=False)  # centres 0, .5, 1
    x = feature_map(np.array([[0.5]]))[0]  # sigma = 0.5: exp(-0.5^2 / (2 * 0.5^2)) at the neighbours
    np.testing.assert_allclose(x, [math.exp(-0.5), 1.0, math.exp(-0.5)])


def test_tile_coding_activates_one_tile_per_tiling_and_generalises_locally():
    feature_map = TileCoding(np.zeros(2), np.ones(2), num_tilings=8, tiles_per_dim=10, hash_size=100_003)
    obs = np.array([[0.30, 0.60], [0.305, 0.60], [0.90, 0.10]])
    active = feature_map.active_tiles(obs)
    assert active.shape == (3, 8) and active.min() >= 0 and active.max() < 100_003
    x = feature_map(obs)
    np.testing.assert_array_equal(x[:, :-1].sum(1), 8.0)  # a large table: no hash collisions here
    shared_near = len(set(active[0]) & set(active[1]))
    shared_far = len(set(active[0]) & set(active[2]))
    assert shared_near >= 6 and shared_far == 0
    odd = np.array([1.0, 3.0])  # tiling i is offset by i (1, 3, ...) / (n k): asymmetric (S&B 9.5.4)
    np.testing.assert_allclose(
        feature_map.offsets, np.arange(8)[:, None] * odd / (8 * 10), rtol=0, atol=1e-15
    )


def test_bounds_replace_infinite_limits():
    low, high = box_bounds(UNBOUNDED, [], clip=5.0)
    np.testing.assert_array_equal(high, [5.0, 5.0])
    low, high = box_bounds(UNBOUNDED, [1.0, 3.0], clip=5.0)
    np.testing.assert_array_equal(low, [-1.0, -3.0])
    x = make_feature_map(config("fourier", degree=1, bounds=[1.0, 3.0]), UNBOUNDED)(np.array([[9.0, -9.0]]))
    assert np.isfinite(x).all()  # out-of-bounds observations are clipped into the unit box


def test_a_half_bounded_dimension_beyond_the_stand_in_keeps_a_range():
    """Box(10, inf) with clip 5 became [10, 5] (and Box(4.99, inf) [4.99, 5]): every observation
    clipped to one feature row. The missing bound is now at least the stand-in past the known one."""
    low, high = np.array([10.0, -np.inf, 0.0, 4.99]), np.array([np.inf, -10.0, np.inf, np.inf])
    half = gym.spaces.Box(low, high, dtype=np.float64)
    expected = ([10.0, -15.0, 0.0, 4.99], [15.0, -10.0, 5.0, 4.99 + 5.0])
    np.testing.assert_array_equal(box_bounds(half, [], clip=5.0), expected)
    narrow = ([10.0, -13.0, 0.0, 4.99], [13.0, -10.0, 3.0, 4.99 + 3.0])
    np.testing.assert_array_equal(box_bounds(half, [3.0] * 4, clip=5.0), narrow)
    obs = np.array([[10.0, -15.0, 1.0, 5.0], [12.0, -14.0, 1.0, 7.0], [14.0, -11.0, 1.0, 9.0]])
    assert len(np.unique(make_feature_map(config("rbf"), half)(obs), axis=0)) == 3


@pytest.mark.parametrize("name", ["polynomial", "fourier", "rbf", "tile"])
def test_a_constant_dimension_sits_in_the_middle_of_the_unit_cube(name):
    """``low == high`` (legal in Gymnasium) divided 0 by 0: nan features (tile coding: hash garbage),
    and training failed blaming agent.lr. The constant dimension is now u = 1/2, exactly what a
    dimension with bounds around its value gives there."""
    overrides, _, (low, high) = BOX_MAPS[name]
    constant = gym.spaces.Box(low=np.array([-1.0, 3.0]), high=np.array([1.0, 3.0]), dtype=np.float64)
    around = gym.spaces.Box(low=np.array([-1.0, 2.0]), high=np.array([1.0, 4.0]), dtype=np.float64)
    obs = np.stack([np.linspace(-1.0, 1.0, 9), np.full(9, 3.0)], axis=1)
    x = make_feature_map(config(name, **overrides), constant)(obs)
    assert np.isfinite(x).all() and x.min() >= low - 1e-12 and x.max() <= high + 1e-12
    np.testing.assert_array_equal(x, make_feature_map(config(name, **overrides), around)(obs))


def test_large_finite_bounds_are_kept_and_only_sentinels_mean_unbounded():
    """Bounds of 1e6 or more were replaced by +-features.clip: Box(0, 2e6) observations 10, 1e3, 1e5
    and 1.9e6 all clipped to 5 and gave one row. +-inf, 1e38 and more (CartPole's float32 max) and
    the integer limits Gymnasium writes for +-inf mean unbounded; a uint8 image's 0..255 is a range."""
    large = gym.spaces.Box(0.0, 2e6, (1,), np.float64)
    np.testing.assert_array_equal(box_bounds(large, [], clip=5.0), ([0.0], [2e6]))
    x = make_feature_map(config("rbf"), large)(np.array([[10.0], [1e3], [1e5], [1.9e6]]))
    assert len(np.unique(x, axis=0)) == 4
    float32_max = float(np.finfo(np.float32).max)
    unbounded = [
        gym.spaces.Box(-float32_max, float32_max, (1,), np.float32),  # CartPole's velocities
        gym.spaces.Box(-3.4e38, 3.4e38, (1,), np.float32),
        gym.spaces.Box(-1e300, 1e300, (1,), np.float64),
        gym.spaces.Box(-np.inf, np.inf, (1,), np.int64),  # Gymnasium writes iinfo(int64).min/max
        gym.spaces.Box(-np.inf, np.inf, (1,), np.int32),
        gym.spaces.Box(-65504, 65504, (1,), np.float16),  # float16's largest
    ]
    for space in unbounded:
        np.testing.assert_array_equal(box_bounds(space, [], clip=5.0), ([-5.0], [5.0]), err_msg=str(space))
    for low, high, dtype in [(0, 255, np.uint8), (-32768, 32767, np.int16), (-1e10, 1e10, np.float32)]:
        space = gym.spaces.Box(low, high, (1,), dtype)
        np.testing.assert_array_equal(box_bounds(space, [], clip=5.0), ([low], [high]), err_msg=str(space))
    scalar = make_feature_map(config("rbf"), gym.spaces.Box(-np.inf, np.inf, (), np.int64))  # int64 limits
    np.testing.assert_array_equal([scalar.inner.low, scalar.inner.low + scalar.inner.span], [[-5.0], [5.0]])


def test_state_action_features_are_the_kronecker_product_with_the_action():
    rng = np.random.default_rng(2)
    x, weight = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    phi = state_action_features(x, 2)
    assert phi.shape == (4, 2, 6)
    np.testing.assert_allclose(phi @ weight.flatten(), x @ weight)  # phi(s,a)^T theta = x^T W[:, a]
    np.testing.assert_array_equal(phi[:, 0, 1::2], 0.0)  # action 0 leaves action 1's slots empty
    phi_torch = state_action_features(torch.from_numpy(x), 2)
    np.testing.assert_array_equal(phi_torch.numpy(), phi)


def test_policy_inputs_use_the_env_action_features_when_given():
    def env_phi(obs: np.ndarray) -> np.ndarray:
        return np.ones((np.asarray(obs).reshape(-1).shape[0], 2, 5))

    inputs = PolicyInputs(OneHot(4), "action", 2, env_phi)
    assert inputs.dim == 5 and inputs(np.array([0, 1, 2])).shape == (3, 2, 5)
    assert inputs.state(np.array([1])).shape == (1, 4)  # the baseline still reads x(s)
    built = PolicyInputs(OneHot(4), "action", 3)
    assert built.dim == 12 and built(np.array([1])).shape == (1, 3, 12)
    assert PolicyInputs(OneHot(4), "state", 3, env_phi)(np.array([1])).shape == (1, 4)


def test_the_env_action_features_are_probed_with_an_observation_of_the_space():
    """It was np.zeros(1): outside a Box(1, 2) (and shaped [1], not [1, 2]), outside Discrete(3, start=3)."""
    seen = []

    def env_phi(obs: np.ndarray) -> np.ndarray:
        seen.append(obs)
        return np.ones((len(obs), 2, 5))

    assert PolicyInputs(Raw(2), "action", 2, env_phi, gym.spaces.Box(1.0, 2.0, (2,))).dim == 5
    assert PolicyInputs(OneHot(3, 3), "action", 2, env_phi, gym.spaces.Discrete(3, start=3)).dim == 5
    np.testing.assert_array_equal(seen[0], [[1.0, 1.0]])
    np.testing.assert_array_equal(seen[1], [3])


@pytest.mark.parametrize(
    ("name", "space", "message"),
    [
        ("onehot", BOX, "features=onehot needs a Discrete observation space"),
        ("fourier", gym.spaces.Discrete(4), "features=fourier needs a Box observation space"),
        ("raw", gym.spaces.Discrete(4), "use features=onehot"),
    ],
)
def test_feature_map_that_does_not_fit_the_space_is_a_user_error(name, space, message):
    with pytest.raises(UserError, match=message):
        make_feature_map(config(name), space)


def test_bounds_of_the_wrong_length_are_a_user_error():
    with pytest.raises(UserError, match=r"features\.bounds has 1 values; the observation has 2 dims"):
        make_feature_map(config("rbf", bounds=[1.0]), UNBOUNDED)


def test_normalized_refuses_statistics_no_run_could_have():
    """An edited checkpoint's negative variance loaded, and predict then acted on nan features."""
    feature_map = Normalized(2)
    with pytest.raises(ValueError, match="negative variance"):
        feature_map.load_state_dict({"mean": np.zeros(2), "var": np.array([1.0, -1.0]), "count": 5.0})
    with pytest.raises(ValueError, match=r"a count of 0\.0"):
        feature_map.load_state_dict({"mean": np.zeros(2), "var": np.ones(2), "count": 0.0})
    feature_map.load_state_dict({"mean": np.ones(2), "var": np.ones(2), "count": 5.0})
    assert np.isfinite(feature_map(np.zeros((1, 2)))).all()


CHANGED_SETTINGS = {"bias": False, "degree": 3, "num_centers": 5, "num_tilings": 4, "tiles_per_dim": 5,
                    "hash_size": 512, "clip": 2.0, "bounds": [3.0, 3.0]}  # fmt: skip
"""A value other than the default for every ``features.*`` key but the name."""


@pytest.mark.parametrize("name", list(FEATURE_MAP_READS))
def test_the_keys_listed_as_read_by_a_map_are_those_that_change_its_features(name):
    """``FEATURE_MAP_READS``, which the note about settings no option reads trusts, against
    :func:`make_feature_map`: on a space with an unbounded and a bounded dimension (Discrete for
    onehot), changing a key changes the map's features exactly when the key is listed."""
    assert set(CHANGED_SETTINGS) == {f.name for f in dataclasses.fields(FeaturesConfig)} - {"name"}
    if name == "onehot":
        space, obs = gym.spaces.Discrete(5), np.arange(5)
    else:
        space = gym.spaces.Box(low=np.array([-np.inf, -1.0]), high=np.array([np.inf, 1.0]), dtype=np.float64)
        obs = np.random.default_rng(0).normal(size=(64, 2)) * [8.0, 0.4]
    default = make_feature_map(FeaturesConfig(name=name), space)(obs)
    for key, value in CHANGED_SETTINGS.items():
        changed = make_feature_map(config(name, **{key: value}), space)(obs)
        differs = changed.shape != default.shape or not np.array_equal(changed, default)
        assert differs == (key in FEATURE_MAP_READS[name]), (name, key)
