r"""``scripts/compare_gradients.py``: closed-form score against autograd on real and random states.

For a policy (random parameters, or loaded from a run's checkpoint) this collects
``num_states`` states by rolling the policy out in the env, with the actions it took, adds
``num_random_states`` states drawn uniformly from the observation space's (clipped) box with
uniform actions, and for every dtype in ``dtypes`` compares ``policy.score`` with
``policy.autograd_score`` on that batch (:func:`agents.core.score_check.compare_scores`): max abs and
relative discrepancy per sample, the cosine of the batch gradients ``sum_t c_t score_t``
(``c_t ~ N(0, 1)``, one draw shared by all dtypes), and the time of each path. A dtype fails when
a sample's discrepancy exceeds 1e-10 (float64) or 1e-4 (float32), absolutely and relatively to the
sample's largest autograd entry (:meth:`~agents.core.score_check.ScoreComparison.failing`).
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf
from torch import Tensor

from agents.core.policies import SoftmaxPolicy
from agents.core.score_check import DEFAULT_TOLERANCES, ScoreComparison, compare_scores
from agents.errors import UserError
from agents.features.inputs import ActionFeaturesFault, PolicyInputs
from agents.features.maps import box_bounds
from agents.runtime.build import DTYPES, build_agent
from agents.runtime.checkpoint import load_checkpoint
from agents.runtime.config import (
    AgentConfig,
    FeaturesConfig,
    check_known_keys,
    check_seed,
    validate_agent,
    validate_features,
)
from agents.runtime.env_failures import env_named
from agents.runtime.logger import command_line_keys
from agents.runtime.restore import agent_from_checkpoint
from agents.runtime.rollout import EnvFault, collect_episodes
from agents.runtime.sizes import check_agent_size, refuse_over_limit
from agents.runtime.unread_settings import SHIPPED_POLICIES, unread_settings
from agents.studies.timing import best_of_seconds
from envs.make import check_env_id, close_quietly, make_env


@dataclass
class CompareConfig:
    """``python scripts/compare_gradients.py env=<id> agent.policy=state|action [checkpoint=<run>]``."""

    env: str = "CartPole-v1"
    """Gymnasium id (with ``checkpoint``: the run's own env; another one is refused)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for gymnasium.make."""
    env_wrappers: list[Any] = field(default_factory=list)
    """Wrappers applied in order to the env (``_target_`` entries, as in training)."""
    seed: int = 0
    """Seeds the random parameters, the rollouts, the random states and the coefficients."""
    checkpoint: str | None = None
    """Run folder (or checkpoint file) whose trained policy, env, features and form are used (setting
    ``env``, ``env_kwargs``, ``env_wrappers``, ``agent.policy``, ``features`` (or one of its keys),
    ``agent.hidden_sizes``, ``agent.activation`` or ``param_scale`` to something else as well is refused)."""
    trust_code: bool = False
    """Let the checkpoint import its env's module and call its wrappers when they are neither
    Gymnasium's nor this project's (a crafted file could name any code)."""
    num_states: int = 256
    """Real states, collected by rolling out the policy (>= 1)."""
    num_random_states: int = 64
    """States drawn uniformly from the observation space (>= 0)."""
    dtypes: list[str] = field(default_factory=lambda: ["float32", "float64"])
    """Dtypes to compare in (float32, float64)."""
    param_scale: float = 1.0
    """Without a checkpoint: parameters ~ N(0, param_scale^2), 0 .. 1e6; 0 keeps the zero (uniform) policy."""
    repeats: int = 20
    """Timing: best of this many calls per path."""
    agent: AgentConfig = field(default_factory=AgentConfig)
    """``agent.policy`` (state | action) picks the form; the other keys are checked as training checks
    them (the agent is built whole, its optimizer too), though the comparison does not use them."""
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    """State feature map x(s), as in training."""


def register_compare_config() -> None:
    """Store :class:`CompareConfig` as ``compare_schema`` for ``configs/compare.yaml``."""
    ConfigStore.instance().store(name="compare_schema", node=CompareConfig)


@dataclass
class DtypeResult:
    """One row of the table."""

    dtype: str
    comparison: ScoreComparison
    tolerance: float
    closed_form_seconds: float
    autograd_seconds: float

    @property
    def failing(self) -> Tensor:
        return self.comparison.failing(self.tolerance)

    @property
    def passed(self) -> bool:
        return self.failing.numel() == 0


@dataclass
class CompareReport:
    """What :func:`compare_gradients` measured."""

    env_id: str
    form: str
    param_shape: tuple[int, ...]
    source: str
    """Where the parameters came from (checkpoint path or random)."""
    num_real: int
    num_random: int
    results: list[DtypeResult]
    unread: list[str] = field(default_factory=list)
    """The settings given on the command line that the comparison does not read, each saying why
    (the command prints them as a ``note:``, as training does)."""
    saturated: int = 0
    """Samples where ``pi(.|s)`` is one-hot on the action taken (to :data:`SATURATED`), so that
    ``e_a - pi = 0`` and both scores are 0: the comparison says nothing there."""
    random_parameters: bool = True
    """Whether the parameters were drawn (``param_scale``), not a checkpoint's."""

    def saturation_note(self) -> str | None:
        """What the command says when some samples test nothing (a relu MLP at ``param_scale=1``:
        75 of 80 samples, whose 0.00e+00 looked like a perfect agreement); None when none."""
        if not self.saturated:
            return None
        total = self.num_real + self.num_random
        remedy = (
            "lower param_scale (e.g. param_scale=0.1) for a policy that is not saturated"
            if self.random_parameters
            else "the trained policy is saturated there"
        )
        return (
            f"at {self.saturated} of {total} samples pi(.|s) puts all its mass (to {SATURATED:g}) on the "
            f"action taken, so e_a - pi = 0 and both scores are 0 there: the comparison tests the other "
            f"{total - self.saturated}; {remedy}"
        )

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)

    def sample_name(self, index: int) -> str:
        return f"real #{index}" if index < self.num_real else f"random #{index - self.num_real}"


SATURATED = 1e-12
"""A sample is saturated when every entry of ``e_a - pi(.|s)`` is below this (float64)."""


def saturated_samples(policy: SoftmaxPolicy, features: Tensor, actions: Tensor) -> int:
    """How many samples have ``|e_a - pi(.|s)| < SATURATED`` everywhere (computed in float64), where
    the score ``J^T (e_a - pi)`` is 0 whatever the Jacobian: no test of it."""
    with torch.no_grad():
        probs = copy.deepcopy(policy).to(torch.float64).probs(features.to(torch.float64))
    residual = torch.nn.functional.one_hot(actions, probs.shape[-1]).to(probs.dtype) - probs
    return int((residual.abs().amax(-1) < SATURATED).sum())


def _validate(cfg: Any) -> None:
    check_known_keys(
        cfg, CompareConfig
    )  # +agent.polcy=action composes (Hydra adds the key); nothing reads it
    validate_agent(cfg.agent)  # build_agent makes the whole agent (its optimizer too), as training does
    validate_features(cfg.features)
    unknown = [name for name in cfg.dtypes if name not in DTYPES]
    if unknown or not cfg.dtypes:
        raise UserError(f"dtypes={list(cfg.dtypes)} must be a non-empty list of {', '.join(DTYPES)}")
    repeated = sorted({name for name in cfg.dtypes if list(cfg.dtypes).count(name) > 1})
    if repeated:  # each was compared, and printed, once per mention
        raise UserError(
            f"dtypes={list(cfg.dtypes)} lists {', '.join(repeated)} more than once: list each dtype once"
        )
    if cfg.num_states < 1 or cfg.num_random_states < 0 or cfg.repeats < 1:
        raise UserError(
            f"need num_states >= 1, num_random_states >= 0 and repeats >= 1; got {cfg.num_states}, "
            f"{cfg.num_random_states}, {cfg.repeats}"
        )
    if cfg.repeats > MAX_REPEATS:
        raise UserError(f"repeats={cfg.repeats} must be <= {MAX_REPEATS:,} (timing takes the best; try 20)")
    check_seed(cfg.seed)
    if cfg.checkpoint is not None and not cfg.checkpoint.strip():  # else: random parameters, silently
        raise UserError(
            "checkpoint= is empty: give the run folder whose trained policy to compare (or its "
            "checkpoint file), or drop checkpoint= to compare random parameters"
        )
    if not math.isfinite(cfg.param_scale) or not 0 <= cfg.param_scale <= MAX_PARAM_SCALE:
        raise UserError(
            f"param_scale={cfg.param_scale} must be a finite number in [0, {MAX_PARAM_SCALE:g}] (try 1.0; "
            "from about 1e3 on, the policy is already one-hot at every state)"
        )


def _plain(node: Any) -> Any:
    """A config node (or the checkpoint's plain value) as plain Python, to compare and print."""
    return OmegaConf.to_container(node) if OmegaConf.is_config(node) else node


ARCHITECTURE_KEYS_READ_BY = {"hidden_sizes": ("mlp",), "activation": ("mlp",)}
"""The network's settings and the shipped forms that read them."""
ARCHITECTURE_KEYS = tuple(f"agent.{name}" for name in ARCHITECTURE_KEYS_READ_BY)
"""The network's settings, which a checkpoint fixes as it fixes ``agent.policy`` and ``features``."""


def _setting(config: Any, key: str) -> Any:
    """The value of a dotted ``key`` of a run's config (a config node or a dataclass)."""
    return functools.reduce(getattr, key.split("."), config)


UNREAD_AGENT_SETTINGS = {
    "dtype": "dtypes= sets the dtypes it compares in",
    "score": "it compares both scores",
}
"""Why the comparison does not read an ``agent`` setting; any other than the policy's own
(``agent.lr``, ``agent.gamma``, ...) sets up an update, which it does not make (it checks them as
training does)."""


def unread_by_the_comparison(run_cfg: Any, keys: list[str], space: gym.Space | None) -> list[str]:
    """Of the dotted ``keys`` given, those the comparison of ``run_cfg``'s policy (the checkpoint's,
    or the random one's) does not read, each saying why: an update's settings, the network's for a
    linear form, a key its ``features=`` map does not read
    (:func:`~agents.runtime.unread_settings.unread_settings`, as a run says them)."""
    keys = list(dict.fromkeys(keys))
    unread = unread_settings(run_cfg, [key for key in keys if key.startswith("features.")], space)
    policy, updates = run_cfg.agent.policy, []
    for key in (key for key in keys if key.startswith("agent.")):
        name = key.partition(".")[2]
        if name in ARCHITECTURE_KEYS_READ_BY:  # (a form of one's own may read them)
            if policy in SHIPPED_POLICIES and policy not in ARCHITECTURE_KEYS_READ_BY[name]:
                unread.append(f"{key} has no effect with agent.policy={policy} (read with agent.policy=mlp)")
        elif name in UNREAD_AGENT_SETTINGS:
            unread.append(f"{key} has no effect on the comparison ({UNREAD_AGENT_SETTINGS[name]})")
        elif name != "policy":
            updates.append(key)
    if updates:
        verb = "has" if len(updates) == 1 else "have"
        unread.append(
            f"{', '.join(updates)} {verb} no effect on the comparison (it compares scores, not updates)"
        )
    return unread


def _shown(value: Any) -> str:
    """A setting's value as the command line writes it (``false``, not ``False``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _load_agent(cfg: Any) -> tuple[Any, PolicyInputs, SoftmaxPolicy, str]:
    """(run config, inputs, float64 policy, source) from the checkpoint or with random parameters."""
    if cfg.checkpoint:
        run_cfg, _, parts = agent_from_checkpoint(
            load_checkpoint(cfg.checkpoint), cfg.checkpoint, trust_code=cfg.trust_code
        )
        defaults = CompareConfig()
        asked = {"agent.policy": (cfg.agent.policy, AgentConfig.policy, run_cfg.agent.policy),
                 "features": (cfg.features.name, FeaturesConfig.name, run_cfg.features.name),
                 **{key: (_plain(cfg[key]), getattr(defaults, key), _plain(getattr(run_cfg, key)))
                    for key in ("env", "env_kwargs", "env_wrappers")}}  # fmt: skip
        given = command_line_keys()  # (env=CartPole-v1 given for a FrozenLake run was not refused)
        for key, (value, default, trained) in asked.items():
            if value != trained and (value != default or key in given):  # set, and not the run's
                raise UserError(
                    f"checkpoint={cfg.checkpoint} was trained with {key}={trained}, which the comparison "
                    f"uses; drop {key}={value} (or compare random parameters without checkpoint=)"
                )
        for key in given:  # a setting of the run's features or network (features.num_tilings=30 was
            if not (key.startswith("features.") or key in ARCHITECTURE_KEYS):  # silently ignored)
                continue
            if unread_by_the_comparison(run_cfg, [key], None):  # one the run does not read: a note
                continue
            value, trained = _plain(OmegaConf.select(cfg, key)), _plain(_setting(run_cfg, key))
            if value != trained:
                raise UserError(
                    f"checkpoint={cfg.checkpoint} fixes {key} to the run's {_shown(trained)}; drop "
                    f"{key}={_shown(value)} (or compare random parameters without checkpoint=)"
                )
        if cfg.param_scale != defaults.param_scale:  # was silently ignored
            raise UserError(
                f"param_scale={cfg.param_scale:g} scales random parameters, and checkpoint={cfg.checkpoint} "
                "fixes the parameters to its trained ones: drop param_scale (or drop checkpoint=)"
            )
        source = f"trained parameters from {cfg.checkpoint}"
    else:
        run_cfg = cfg
        info = check_env_id(cfg.env, cfg.env_kwargs, cfg.env_wrappers)
        check_agent_size(cfg.features, cfg.agent, info, "this comparison's policy")
        parts = build_agent(cfg, info)
        generator = torch.Generator().manual_seed(cfg.seed)
        with torch.no_grad():
            parts.policy.param.copy_(
                torch.randn(parts.policy.param.shape, generator=generator) * cfg.param_scale
            )
        source = f"random parameters ~ N(0, {cfg.param_scale:g}^2), seed {cfg.seed}"
    return run_cfg, parts.inputs, parts.policy.double(), source


def random_observations(space: gym.Space, num: int, rng: np.random.Generator, features: Any) -> np.ndarray:
    """``num`` observations uniform over a Discrete space, or over a Box clipped to finite bounds
    (the space's own, else ``features.bounds``/``features.clip``, as the feature maps use)."""
    if isinstance(space, gym.spaces.Discrete):
        return rng.integers(space.start, space.start + space.n, size=num)
    low, high = box_bounds(space, list(features.bounds), features.clip)
    return rng.uniform(low, high, size=(num, low.shape[0])).reshape(num, *space.shape)


MAX_PARAM_SCALE = 1e6
"""Largest ``param_scale``. From about 1e3 on the random policy is one-hot at every state (both
paths give exact zeros), and at 1e6 the logits already lie far past ``exp``'s range in float64
(709), so the closed form's stability is tested there; larger scales only overflow: the
parameters are drawn in float32 (``randn * param_scale``), so even the float64 row was nan past
~1.6e38 on CartPole, the float32 row past ~2e37, and a relu MLP's float32 logits (the scale to the
power of its depth) past ~1e12, each reported as a FAIL of the math."""
MAX_REPEATS = 10_000
"""Most timing calls per path (the best of 20 is already stable to a few percent)."""
LIVE_SCORE_COPIES = 6
"""Per-sample arrays of the parameter's size alive at once in :func:`compare_scores` (both scores,
their difference and its absolute value, autograd's intermediates)."""


def check_compare_size(cfg: Any, inputs: PolicyInputs, policy: SoftmaxPolicy) -> None:
    """Refuse, before any state is collected, a comparison whose per-sample scores (``[B, *param]``
    float64 each) would not fit in :func:`~agents.runtime.sizes.memory_limit`."""
    samples = cfg.num_states + cfg.num_random_states
    input_values = inputs.dim * (inputs.n_actions if inputs.form == "action" else 1)
    needed = samples * 8 * (LIVE_SCORE_COPIES * policy.param.numel() + 2 * input_values)
    key = "num_states" if cfg.num_states >= cfg.num_random_states else "num_random_states"
    refuse_over_limit(
        {f"the per-sample scores of a {list(policy.param.shape)} parameter": (needed, key)},
        f"num_states={cfg.num_states} + num_random_states={cfg.num_random_states} samples",
    )


@torch.no_grad()
def compare_gradients(cfg: Any) -> CompareReport:
    """Run the comparison described in the module docstring; :class:`UserError` for bad arguments
    and for an env that raises while the states are collected."""
    _validate(cfg)
    run_cfg, inputs, policy, source = _load_agent(cfg)
    check_compare_size(cfg, inputs, policy)
    env = make_env(run_cfg.env, run_cfg.env_kwargs, run_cfg.env_wrappers)
    try:
        batch, _ = collect_episodes(env, inputs, policy, cfg.num_states, cfg.seed, max_steps=cfg.num_states)
    except (EnvFault, ActionFeaturesFault) as fault:  # its step or reset, or its phi(s, .)
        close_quietly(env)  # a broken env may not close cleanly
        raise UserError(
            f"{env_named(run_cfg.env, run_cfg.env_wrappers)} failed while num_states={cfg.num_states} states "
            f"were collected: {fault}; "
            "fix the env (or compare on another one)"
        ) from None
    finite = torch.isfinite(batch.inputs.reshape(batch.inputs.shape[0], -1)).all(dim=1)
    if not finite.all():
        close_quietly(env)
        first = int(torch.nonzero(~finite)[0])
        raise UserError(
            f"env={run_cfg.env} returned nan/inf observations while the states were collected (real "
            f"#{first} and {int((~finite).sum()) - 1} more): no score is defined there; fix the env (or "
            "filter them with env_wrappers)"
        )
    rng = np.random.default_rng(cfg.seed)
    random_obs = random_observations(env.observation_space, cfg.num_random_states, rng, run_cfg.features)
    unread = unread_by_the_comparison(run_cfg, command_line_keys(), env.observation_space)
    num_actions = int(env.action_space.n)
    close_quietly(env)
    features = (
        torch.cat([batch.inputs, torch.from_numpy(inputs(random_obs))])
        if cfg.num_random_states
        else batch.inputs
    )
    actions = torch.cat(
        [batch.actions, torch.from_numpy(rng.integers(num_actions, size=cfg.num_random_states))]
    )
    coefficients = torch.randn(
        actions.shape[0], generator=torch.Generator().manual_seed(cfg.seed), dtype=torch.float64
    )
    results = []
    for name in cfg.dtypes:
        dtype = DTYPES[name]
        typed = copy.deepcopy(policy).to(dtype)
        typed_features = features.to(dtype)
        comparison = compare_scores(typed, typed_features, actions, coefficients.to(dtype))
        results.append(
            DtypeResult(
                name, comparison, DEFAULT_TOLERANCES[dtype],
                best_of_seconds(lambda: typed.score(typed_features, actions), cfg.repeats),  # noqa: B023
                best_of_seconds(lambda: typed.autograd_score(typed_features, actions), cfg.repeats),  # noqa: B023
            )
        )  # fmt: skip
    return CompareReport(
        run_cfg.env, run_cfg.agent.policy, tuple(policy.param.shape), source, batch.actions.shape[0],
        cfg.num_random_states, results, unread, saturated_samples(policy, features, actions),
        random_parameters=not cfg.checkpoint,
    )  # fmt: skip


def format_report(report: CompareReport, max_listed: int = 10) -> str:
    """The table (one row per dtype) and, for a failing dtype, which samples failed."""
    lines = [
        f"{report.env_id}, agent.policy={report.form}, parameter {list(report.param_shape)}, {report.source}",
        f"{report.num_real + report.num_random} samples: {report.num_real} real states from rollouts + "
        f"{report.num_random} random states; batch gradient g = sum_t c_t score_t with c_t ~ N(0, 1)",
        f"{'dtype':<8} {'max abs':>9} {'max rel':>9} {'cosine(g, g_autograd)':>22} {'closed form':>12}"
        f" {'autograd':>10} {'ratio':>7} {'tolerance':>9}  result",
    ]
    for result in report.results:
        comparison = result.comparison
        ratio = result.autograd_seconds / result.closed_form_seconds
        lines.append(
            f"{result.dtype:<8} {comparison.max_abs_discrepancy:>9.2e} {comparison.max_rel_discrepancy:>9.2e}"
            f" {comparison.cosine_similarity:>22.15f} {result.closed_form_seconds * 1e3:>9.3f} ms"
            f" {result.autograd_seconds * 1e3:>7.3f} ms {ratio:>6.1f}x"
            f" {result.tolerance:>9.0e}  {'ok' if result.passed else 'FAIL'}"
        )
    lines.append(
        "a sample fails when it is off by more than the tolerance both absolutely and relative to its "
        "largest entry (the two maxima may come from different samples); times per batch: best of repeats "
        "on 1 thread; ratio = autograd / closed form"
    )
    for result in report.results:
        failing = result.failing.tolist()
        if failing:
            listed = ", ".join(
                f"{report.sample_name(i)} ({float(result.comparison.abs_discrepancy[i]):.2e})"
                for i in failing[:max_listed]
            )
            more = f" and {len(failing) - max_listed} more" if len(failing) > max_listed else ""
            lines.append(
                f"FAIL {result.dtype}: {len(failing)} samples above {result.tolerance:.0e} (absolute and "
                f"relative): {listed}{more}"
            )
    return "\n".join(lines)
