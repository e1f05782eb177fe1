r"""State feature maps ``x(s)`` (the action features built from them are in :mod:`agents.features.inputs`).

Every map is a callable on a batch of observations (numpy, ``[B, obs_dim]`` for Box spaces,
``[B]`` for Discrete ones) that returns ``[B, dim]`` float64 features. They run in numpy because
they sit in the acting hot path (one call per vector step); the update converts the batch to
torch once. Maps with state (running normalisation) only change in :meth:`FeatureMap.update`,
which the trainer calls at update time, so acting and learning see the same ``x(s)`` in between.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import gymnasium as gym
import numpy as np

from agents.errors import UserError

Array = np.ndarray


class FeatureMap:
    """Base class: ``x = feature_map(obs)``; ``dim`` is the length of ``x``."""

    dim: int

    def __call__(self, obs: Array) -> Array:
        raise NotImplementedError

    @property
    def keeps_statistics(self) -> bool:
        """Whether :meth:`update` folds observations into running statistics (what
        :meth:`state_dict` holds); False for fixed maps."""
        return False

    def update(self, obs: Array) -> None:
        """Fold a batch of observations into running statistics (no-op for fixed maps)."""

    def state_dict(self) -> dict[str, Any]:
        """Tensors/arrays to checkpoint (empty for fixed maps)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


_ONES = np.ones((0, 1))
"""The bias column, sliced for each batch: grown to the largest batch seen, never one per size
(the updates' batches all differ in size: a cache per size grew with the steps taken)."""


def _with_bias(x: Array, bias: bool) -> Array:
    """``[x, 1]`` row-wise, as float64 (cast in the same copy: this runs every step)."""
    global _ONES
    if not bias:
        return x.astype(np.float64, copy=False)
    if len(_ONES) < len(x):
        _ONES = np.ones((len(x), 1))
    return np.concatenate([x, _ONES[: len(x)]], axis=1, dtype=np.float64)


class OneHot(FeatureMap):
    r"""``x(s) = e_{s - start}`` for a ``Discrete(n, start)`` observation: the tabular case, ``dim = n``."""

    def __init__(self, n: int, start: int = 0) -> None:
        self.dim, self.start = n, start
        self._eye = np.eye(n)

    def __call__(self, obs: Array) -> Array:
        return self._eye[np.asarray(obs, dtype=np.int64).reshape(-1) - self.start]


class Raw(FeatureMap):
    r"""``x(s) = [s, 1]``: the observation itself plus a bias term."""

    def __init__(self, obs_dim: int, bias: bool = True) -> None:
        self.dim, self.bias = obs_dim + int(bias), bias

    def __call__(self, obs: Array) -> Array:
        return _with_bias(obs, self.bias)


class Normalized(FeatureMap):
    r"""``x(s) = [clip((s - mu) / sqrt(var + eps), -c, c), 1]`` with running ``mu``, ``var``.

    The statistics are merged batch by batch (Chan et al.'s parallel variance update), like
    Stable-Baselines3's ``VecNormalize``.
    """

    def __init__(self, obs_dim: int, bias: bool = True, clip: float = 5.0) -> None:
        self.dim, self.bias, self.clip = obs_dim + int(bias), bias, clip
        self.mean, self.var, self.count = np.zeros(obs_dim), np.ones(obs_dim), 1e-4

    def __call__(self, obs: Array) -> Array:
        scaled = (np.asarray(obs, dtype=np.float64) - self.mean) / np.sqrt(self.var + 1e-8)
        return _with_bias(np.clip(scaled, -self.clip, self.clip), self.bias)

    def update(self, obs: Array) -> None:
        obs = np.asarray(obs, dtype=np.float64)
        batch_mean, batch_var, batch_count = obs.mean(0), obs.var(0), obs.shape[0]
        delta, total = batch_mean - self.mean, self.count + batch_count
        self.mean = self.mean + delta * batch_count / total
        m2 = self.var * self.count + batch_var * batch_count
        self.var = (m2 + delta**2 * self.count * batch_count / total) / total
        self.count = total

    keeps_statistics = True

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        mean, var, count = np.asarray(state["mean"]), np.asarray(state["var"]), float(state["count"])
        if (var < 0).any() or not count > 0:  # an edited file: sqrt(var) would make every feature nan
            raise ValueError(f"running statistics with a negative variance or a count of {count}")
        self.mean, self.var, self.count = mean, var, count


class _UnitBox(FeatureMap):
    """Maps that first scale the observation into the unit cube ``u = (s - low) / (high - low)``.

    A constant dimension (``low == high``, which Gymnasium allows) has ``u = 1/2``, the middle of the
    cube, whatever it observes: ``0 / 0`` made every feature nan (tile coding's hash garbage)."""

    def __init__(self, low: Array, high: Array) -> None:
        constant = high == low
        self.low, self.span = low, np.where(constant, 1.0, high - low)
        self.constant = np.flatnonzero(constant) if constant.any() else None

    def unit(self, obs: Array) -> Array:
        unit = np.clip((np.asarray(obs, dtype=np.float64) - self.low) / self.span, 0.0, 1.0)
        if self.constant is not None:
            unit[:, self.constant] = 0.5
        return unit


class Polynomial(_UnitBox):
    r"""``x(s) = [prod_i v_i^{c_i}]`` over all exponent vectors with ``sum_i c_i <= degree``, where
    ``v = 2u - 1`` is the observation scaled to ``[-1, 1]`` (the constant term, ``c = 0``, is the
    bias)."""

    def __init__(self, low: Array, high: Array, degree: int) -> None:
        super().__init__(low, high)
        dims = range(low.shape[0])
        self.terms = [
            list(t) for d in range(degree + 1) for t in itertools.combinations_with_replacement(dims, d)
        ]
        self.dim = len(self.terms)
        # each term of degree d >= 1 is a term of degree d - 1 (its indices but the last) times v_last:
        # one vectorised product per degree instead of one per term (3003 terms for degree 8 in 6-D)
        position = {tuple(term): index for index, term in enumerate(self.terms)}
        self.levels = []
        for d in range(1, degree + 1):
            level = [index for index, term in enumerate(self.terms) if len(term) == d]
            parents = [position[tuple(self.terms[index][:-1])] for index in level]
            lasts = [self.terms[index][-1] for index in level]
            self.levels.append((np.array(level), np.array(parents), np.array(lasts)))

    def __call__(self, obs: Array) -> Array:
        unit = self.unit(obs) * 2.0 - 1.0  # centre on 0 so odd powers keep the sign
        features = np.empty((unit.shape[0], self.dim))
        features[:, 0] = 1.0  # the constant term
        for level, parents, lasts in self.levels:  # v_a v_b ... v_z = (v_a v_b ...) v_z, left to right
            features[:, level] = features[:, parents] * unit[:, lasts]
        return features


class Fourier(_UnitBox):
    r"""Fourier basis (Konidaris, Osentoski & Thomas 2011): ``x_c(s) = cos(pi c . u)`` for every
    ``c in {0, ..., order}^D``; ``c = 0`` is the bias. ``dim = (order + 1)^D``."""

    def __init__(self, low: Array, high: Array, order: int) -> None:
        super().__init__(low, high)
        grid = itertools.product(range(order + 1), repeat=low.shape[0])
        self.coefficients = np.array(list(grid), dtype=np.float64)  # [dim, D]
        self.dim = self.coefficients.shape[0]

    def __call__(self, obs: Array) -> Array:
        return np.cos(np.pi * self.unit(obs) @ self.coefficients.T)


class RadialBasis(_UnitBox):
    r"""Gaussian RBFs on a grid of ``k^D`` centres ``c`` in the unit cube:
    ``x_c(s) = exp(-||u - c||^2 / (2 sigma^2))``, ``sigma = 1 / (k - 1)``, plus a bias."""

    def __init__(self, low: Array, high: Array, num_centers: int, bias: bool = True) -> None:
        super().__init__(low, high)
        axis = np.linspace(0.0, 1.0, num_centers)
        self.centers = np.array(list(itertools.product(axis, repeat=low.shape[0])))  # [k^D, D]
        self.sigma, self.bias = 1.0 / max(num_centers - 1, 1), bias
        self.dim = self.centers.shape[0] + int(bias)

    def __call__(self, obs: Array) -> Array:
        sq_dist = ((self.unit(obs)[:, None, :] - self.centers[None]) ** 2).sum(-1)
        return _with_bias(np.exp(-sq_dist / (2 * self.sigma**2)), self.bias)


class TileCoding(_UnitBox):
    r"""Tile coding (S&B sec. 9.5.4): ``n`` grids of ``k`` tiles per dimension, tiling ``i``
    offset by ``i (1, 3, 5, ...) / (n k)`` (asymmetric offsets); each tiling activates one tile,
    whose coordinates are hashed into ``hash_size`` slots. ``x`` has ``n`` ones (plus a bias)."""

    _PRIMES = np.array([1_000_003, 998_244_353, 1_000_000_007, 104_729, 7_919, 15_485_863])

    def __init__(
        self, low: Array, high: Array, num_tilings: int, tiles_per_dim: int, hash_size: int,
        bias: bool = True,
    ) -> None:  # fmt: skip
        super().__init__(low, high)
        dims = low.shape[0]
        odd = 2 * np.arange(dims) + 1
        self.offsets = np.arange(num_tilings)[:, None] * odd[None, :] / (num_tilings * tiles_per_dim)
        self.tiles, self.hash_size, self.bias = tiles_per_dim, hash_size, bias
        self.multipliers = self._PRIMES[np.arange(dims + 1) % len(self._PRIMES)]
        self.dim = hash_size + int(bias)

    def active_tiles(self, obs: Array) -> Array:
        """Hashed index of the active tile in each tiling; ``[B, num_tilings]`` int64."""
        scaled = self.unit(obs)[:, None, :] * self.tiles + self.offsets[None] * self.tiles
        coords = np.floor(scaled).astype(np.int64)  # [B, n, D]
        tiling = np.arange(self.offsets.shape[0])[None, :]
        key = tiling * self.multipliers[-1] + (coords * self.multipliers[:-1]).sum(-1)
        return key % self.hash_size

    def __call__(self, obs: Array) -> Array:
        active = self.active_tiles(obs)
        x = np.zeros((active.shape[0], self.hash_size))
        np.put_along_axis(x, active, 1.0, axis=1)
        return _with_bias(x, self.bias)


class ScalarColumn(FeatureMap):
    """A map for ``Box(shape=())`` observations (one number each, ``[B]`` per batch): the wrapped
    map sees them as one-dimensional vectors ``[B, 1]``."""

    def __init__(self, inner: FeatureMap) -> None:
        self.inner, self.dim = inner, inner.dim

    def __call__(self, obs: Array) -> Array:
        return self.inner(np.asarray(obs).reshape(-1, 1))

    def update(self, obs: Array) -> None:
        self.inner.update(np.asarray(obs).reshape(-1, 1))

    @property
    def keeps_statistics(self) -> bool:
        return self.inner.keeps_statistics

    def state_dict(self) -> dict[str, Any]:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state)


UNBOUNDED_FROM = 1e38
"""A Box bound at least this large in magnitude means "no bound" (float32's largest value, 3.4e38, is the
customary one: CartPole's velocities)."""


def unbounded_from(dtype: np.dtype) -> float:
    """The magnitude from which a Box bound of ``dtype`` means "no bound" rather than a range to scale
    into: :data:`UNBOUNDED_FROM`, or the dtype's own largest value where that is smaller (float16's
    65504; the limits Gymnasium writes for +-inf into an integer Box of 32 or 64 bits). The limits of
    an 8- or 16-bit integer are a real range (a uint8 image's 0..255); a finite bound below this, even
    2e6, is the range the space declares."""
    if np.issubdtype(dtype, np.floating):
        return min(float(np.finfo(dtype).max), UNBOUNDED_FROM)
    if np.issubdtype(dtype, np.integer) and np.iinfo(dtype).bits >= 32:
        return float(np.iinfo(dtype).max)
    return math.inf


def missing_bounds(space: gym.spaces.Box) -> tuple[Array, Array]:
    """Per dimension, whether the low and the high bound are missing: +-inf, or from
    :func:`unbounded_from` on."""
    low, high = space.low.astype(np.float64).reshape(-1), space.high.astype(np.float64).reshape(-1)
    limit = unbounded_from(space.dtype)
    return ~(np.isfinite(low) & (low > -limit)), ~(np.isfinite(high) & (high < limit))


def fully_bounded(space: gym.Space) -> bool:
    """Whether ``space`` is a Box whose every dimension has both bounds, as :func:`box_bounds` reads
    them (``features.bounds`` and ``features.clip`` stand in for missing ones only)."""
    if not isinstance(space, gym.spaces.Box):
        return False
    no_low, no_high = missing_bounds(space)
    return not (no_low | no_high).any()


def box_bounds(space: gym.spaces.Box, bounds: list[float], clip: float) -> tuple[Array, Array]:
    """Finite ``(low, high)`` per dimension: the space's own, else ``+-bounds[i]``, else ``+-clip``
    (a bound is missing when it is +-inf or from :func:`unbounded_from` on); where the one bound a
    dimension has lies beyond that stand-in, the missing one is ``bounds[i]`` (or ``clip``) past it."""
    low, high = space.low.astype(np.float64).reshape(-1), space.high.astype(np.float64).reshape(-1)
    if bounds:
        if len(bounds) != low.shape[0]:
            raise UserError(
                f"features.bounds has {len(bounds)} values; the observation has {low.shape[0]} dims"
            )
        fallback = np.asarray(bounds, dtype=np.float64)
    else:
        fallback = np.full_like(low, clip)
    no_low, no_high = missing_bounds(space)
    # a missing bound is +-fallback, and at least fallback past the one a half-bounded dimension has
    # (Box(10, inf) with clip 5 was [10, 5], and Box(4.99, inf) [4.99, 5]: one feature row for all)
    low_known, high_known = np.where(no_low, np.nan, low), np.where(no_high, np.nan, high)
    low = np.where(no_low, np.fmin(-fallback, high_known - fallback), low)
    high = np.where(no_high, np.fmax(fallback, low_known + fallback), high)
    return low, high


FEATURE_MAP_READS: dict[str, tuple[str, ...]] = {
    "auto": ("bias",),  # raw's on a Box observation; on a Discrete one, onehot's (none)
    "raw": ("bias",),
    "normalized": ("bias", "clip"),
    "polynomial": ("degree", "bounds", "clip"),
    "fourier": ("degree", "bounds", "clip"),
    "rbf": ("num_centers", "bias", "bounds", "clip"),
    "tile": ("num_tilings", "tiles_per_dim", "hash_size", "bias", "bounds", "clip"),
    "onehot": (),
}
"""The ``features.*`` keys each map of :func:`make_feature_map` reads; it ignores the others."""


def make_feature_map(cfg: Any, observation_space: gym.Space) -> FeatureMap:
    """Build the map named by ``cfg.name`` (a :class:`~agents.runtime.config.FeaturesConfig`)."""
    name = cfg.name
    if isinstance(observation_space, gym.spaces.Discrete):
        if name not in ("auto", "onehot"):
            raise UserError(
                f"features={name} needs a Box observation space; this env's is {observation_space}"
                " (use features=onehot)"
            )
        return OneHot(int(observation_space.n), int(observation_space.start))
    if name == "onehot":
        raise UserError(f"features=onehot needs a Discrete observation space, got {observation_space}")
    if observation_space.shape == ():
        low, high = observation_space.low.reshape(1), observation_space.high.reshape(1)
        column = gym.spaces.Box(low, high, dtype=observation_space.dtype)  # the dtype: see unbounded_from
        return ScalarColumn(make_feature_map(cfg, column))
    obs_dim = int(np.prod(observation_space.shape))
    if name in ("auto", "raw"):
        return Raw(obs_dim, cfg.bias)
    if name == "normalized":
        return Normalized(obs_dim, cfg.bias, cfg.clip)
    low, high = box_bounds(observation_space, list(cfg.bounds), cfg.clip)
    if name == "polynomial":
        return Polynomial(low, high, cfg.degree)
    if name == "fourier":
        return Fourier(low, high, cfg.degree)
    if name == "rbf":
        return RadialBasis(low, high, cfg.num_centers, cfg.bias)
    if name == "tile":
        return TileCoding(low, high, cfg.num_tilings, cfg.tiles_per_dim, cfg.hash_size, cfg.bias)
    raise UserError(f"features={name} is unknown")


def feature_sizes(cfg: Any, observation_space: gym.Space) -> tuple[int, int, int]:
    """What :func:`make_feature_map` would build, counted without building it (a typo such as
    ``features.num_centers=1000`` must fail in a line, not after allocating for seconds).

    :return: ``(dim, fixed, per_obs)``: the length of ``x(s)``, the float64 values the map itself
        holds (centres, coefficients, OneHot's identity) and those one observation's call
        allocates (RBF's distances ``[k^D, D]``, a tile coder's ``hash_size`` row).
    """
    if isinstance(observation_space, gym.spaces.Discrete):
        n = int(observation_space.n)
        return n, n * n, n
    dims = int(np.prod(observation_space.shape))
    bias = int(cfg.bias)
    if cfg.name in ("auto", "raw", "normalized", "onehot"):
        return dims + bias, 0, dims + bias
    if cfg.name == "polynomial":
        terms = math.comb(dims + cfg.degree, cfg.degree)
        return terms, terms * 8, terms  # a Python list of index lists: ~8 values' worth per term
    if cfg.name == "fourier":
        coefficients = (cfg.degree + 1) ** dims
        return coefficients, coefficients * dims, coefficients
    if cfg.name == "rbf":
        centers = cfg.num_centers**dims
        return centers + bias, centers * dims, centers * (dims + 1)
    if cfg.name == "tile":
        return cfg.hash_size + bias, cfg.num_tilings * dims, cfg.hash_size + cfg.num_tilings * dims
    return dims + bias, 0, dims + bias
