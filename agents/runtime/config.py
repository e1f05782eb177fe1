"""The run configuration: typed dataclasses registered in Hydra's ConfigStore.

``configs/train.yaml`` extends :class:`TrainConfig` (``train_schema``), so an unknown key or a
wrong type fails when Hydra composes the config; :func:`validate` then checks ranges and names
with one-line :class:`~agents.errors.UserError` messages before anything is built.
Each field's docstring says what it holds; the YAML files repeat it as comments.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from agents.errors import UserError

SCORE_PATHS = ("closed_form", "autograd")
OPTIMIZERS = ("sgd", "adam")
LR_SCHEDULES = ("constant", "linear")
DTYPES = ("float32", "float64")
FEATURE_MAPS = ("auto", "raw", "normalized", "polynomial", "fourier", "rbf", "tile", "onehot")
VECTOR_MODES = ("native", "sync", "async")
EPISODE_STATS = ("auto", "each", "mean")
DEVICES = ("cpu", "cuda")
SEED_MODES = ("exact", "batched")
MAX_HIDDEN_WIDTH = 4096
"""Widest hidden layer ``agent.hidden_sizes`` accepts (a guard against a typo'd extra digit)."""
MAX_VALUE_EPOCHS = 1000
"""Most value-baseline steps per batch ``agent.value_epochs`` accepts."""
MAX_EVAL_EPISODES = 1_000_000
"""Most episodes one evaluation accepts (``eval.episodes``, ``scripts/evaluate.py episodes=``): each
one's seed, return and length are kept, and a typo'd 10**12 allocated terabytes mid-run."""
MAX_WINDOW = 10_000_000
"""Most returns ``budget.window`` averages (a deque of that length: 10**30 overflowed it)."""


@dataclass
class AgentConfig:
    """REINFORCE hyperparameters (group ``agent``)."""

    policy: str = "state"
    """``state``: W[state_dim, n_actions] on x(s); ``action``: theta on phi(s,a) = x(s) (x) e_a;
    ``mlp``: a multilayer perceptron on x(s) (``hidden_sizes``, ``activation``)."""
    hidden_sizes: list[int] = field(default_factory=lambda: [64, 64])
    """Hidden layer widths of agent.policy=mlp (empty list = linear)."""
    activation: str = "tanh"
    """Hidden-layer nonlinearity of agent.policy=mlp: tanh or relu (relu's derivative at 0 is taken as 0)."""
    score: str = "closed_form"
    """Gradient path: ``closed_form`` (policy.score) or ``autograd`` (policy.autograd_score)."""
    dtype: str = "float32"
    """Parameter dtype: float32 or float64."""
    gamma: float = 0.97
    """Discount factor in [0, 1]."""
    lr: float = 0.1
    """Policy step size alpha (> 0)."""
    optimizer: str = "adam"
    """``sgd`` (theta += alpha * gradient, the textbook rule) or ``adam``."""
    episodes_per_update: int = 2
    """Complete episodes averaged into one gradient estimate (>= 1)."""
    normalize_returns: bool = True
    """Standardise the returns (or advantages) of each batch to mean 0, std 1."""
    discount_weighting: bool = False
    """Multiply step t's term by gamma^t (S&B p. 328, the gradient of v_pi(s_0))."""
    per_step_updates: bool = False
    """Textbook rule: one optimizer step per time step t of each episode (S&B p. 328)."""
    baseline: str = "none"
    """``none``, ``mean`` (running mean of returns), ``value`` (learned v(s, w), fitted to the returns)
    or ``time`` (the other episodes' mean return at the same time step)."""
    baseline_lr: float = 0.01
    """Step size alpha_w of the value baseline (> 0)."""
    value_hidden_sizes: list[int] = field(default_factory=list)
    """Hidden layer widths of the value baseline's network (empty list = the book's linear w^T x(s))."""
    value_optimizer: str = "sgd"
    """Optimizer of the value baseline: ``sgd`` (the book's w += alpha_w delta grad v) or ``adam``."""
    value_epochs: int = 1
    """Optimizer steps of the value baseline on each batch (>= 1)."""
    bootstrap_truncated: bool = False
    """An episode cut by a time limit at S_T gets gamma^(T-t) v(S_T) added to its returns G_t
    (needs ``baseline=value``; agents/core/reinforce.py)."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus (>= 0)."""
    max_grad_norm: float = 0.0
    """Clip the policy gradient to this L2 norm; 0 disables clipping."""
    lr_schedule: str = "linear"
    """``constant`` or ``linear`` decay of lr to 0 over the env-step budget."""


@dataclass
class FeaturesConfig:
    """State feature map x(s) (group ``features``)."""

    name: str = "auto"
    """``auto`` (onehot for Discrete observations, raw otherwise), raw, normalized, polynomial,
    fourier, rbf, tile or onehot."""
    bias: bool = True
    """Append a constant 1 (raw, normalized, rbf, tile)."""
    degree: int = 2
    """Polynomial degree / Fourier order."""
    num_centers: int = 8
    """RBF centres per dimension."""
    num_tilings: int = 8
    """Tile coding: number of offset tilings."""
    tiles_per_dim: int = 8
    """Tile coding: tiles per dimension and tiling."""
    hash_size: int = 4096
    """Tile coding: hashed feature vector length."""
    clip: float = 5.0
    """Observations are clipped to [-clip, clip] (after normalisation where used)."""
    bounds: list[float] = field(default_factory=list)
    """Per-dimension bound B_i for unbounded Box dimensions (+-inf or 1e38 and beyond; the space's
    own finite bounds are used however large), scaled from [-B_i, B_i]; empty = +-clip."""


@dataclass
class VectorConfig:
    """Vectorised environments (group ``vector``)."""

    num_envs: int = 1
    """Sub-environments stepped together (>= 1)."""
    mode: str = "native"
    """``native`` (the env's own vector entry point, else sync), ``sync`` or ``async``."""


@dataclass
class BudgetConfig:
    """How long to train and when to stop (group ``budget``)."""

    total_env_steps: int = 200_000
    """Environment steps over all sub-envs (>= 1)."""
    target_return: float | None = None
    """Stop once the mean of the last ``window`` returns reaches this; null = env reward_threshold."""
    stop_at_target: bool = True
    """Stop early when the target is reached."""
    window: int = 100
    """Episodes in the moving mean used for the target and the progress bar."""


@dataclass
class LoggingConfig:
    """Progress bar and TensorBoard (group ``logging``)."""

    progress_bar: bool = True
    """Show a tqdm progress bar."""
    print_every_seconds: float = 10.0
    """Without the bar: log one line (env steps, steps/s, recent mean return, entropy) this often,
    to the console and the run's ``train.log``; 0 = never."""
    tensorboard: bool = True
    """Write TensorBoard event files into the run folder."""
    interval_steps: int = 1000
    """Log the update statistics (losses/, policy/, steps/s) at most once per this many env steps."""
    episode_stats: str = "auto"
    """``each``: one point per finished episode (CleanRL); ``mean``: the mean return and length of
    the episodes that ended since the last point, written with the update statistics (SB3's
    ``ep_rew_mean``, over the interval); ``auto``: ``each`` for one run with one env, ``mean``
    with vector envs or ``num_seeds > 1`` (256 CartPole envs finish thousands of episodes a
    second, and each TensorBoard scalar costs ~40 us of pure-Python CRC)."""


EPISODE_STEP_CAP = 10_000
"""Default cap on an evaluation episode of an env without a time limit of its own (no registered
``max_episode_steps``): an env that never ends an episode cannot hang an evaluation. An episode
stopped there is reported as such."""


@dataclass
class EvalConfig:
    """Evaluation during training (group ``eval``), as SB3's ``EvalCallback``."""

    every_steps: int = 0
    """Evaluate the current policy every this many env steps; 0 = never."""
    episodes: int = 10
    """Episodes per evaluation, on a separate env seeded apart from training's (>= 1)."""
    deterministic: bool = True
    """Act greedily (argmax_a pi(a|s)); false samples A ~ pi(.|s)."""
    max_episode_steps: int = EPISODE_STEP_CAP
    """Stop an evaluation episode after this many steps when the env has no time limit of its
    own (its registered ``max_episode_steps`` wins); the log line counts the episodes cut."""


@dataclass
class CheckpointConfig:
    """Checkpoints (group ``checkpoint``)."""

    every_steps: int = 0
    """Also save every this many env steps; 0 = only at the end."""


@dataclass
class DiagnosticsConfig:
    """Live checks (group ``diagnostics``)."""

    check_gradients_every: int = 0
    """Compare score and autograd_score every N updates; 0 = off."""
    tolerance: float = 0.0
    """Discrepancy allowed (absolute, and relative for scores above 1); 0 = 1e-10 for float64,
    1e-4 for float32."""


@dataclass
class TrainConfig:
    """A training run: ``python scripts/train.py env=<id> seed=<n> agent.lr=<alpha> ...``."""

    env: str = "CartPole-v1"
    """Any registered Gymnasium id with a Discrete action space; ``module:EnvId-v0`` imports
    ``module`` first (so its ``register`` call runs)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for gymnasium.make (e.g. is_slippery: false)."""
    env_wrappers: list[Any] = field(default_factory=list)
    """Wrappers applied in order to every (sub-)env: ``{_target_: gymnasium.wrappers.TimeLimit,
    max_episode_steps: 50}`` entries (a dotted path and its keyword arguments)."""
    seed: int = 0
    """Seeds python, numpy, torch, the envs and action sampling."""
    num_seeds: int = 1
    """Train seeds seed .. seed+num_seeds-1 side by side in this process."""
    seed_mode: str = "exact"
    """How ``num_seeds > 1`` runs: ``exact`` (each seed equals its separate run, bit for bit;
    agents/runtime/multi_seed.py) or ``batched`` (all seeds' envs in one vector env, batched acting
    and updates: several times faster, reproducible with itself, statistically the same learner;
    agents/runtime/many_seeds.py)."""
    batched_update_every: int = 16
    """``seed_mode=batched``: the seeds that have their episodes update together every this many
    vector steps (1 = each as soon as it is ready, as the exact mode does; more = fewer, larger
    update calls, while a ready seed acts up to that many steps longer with its old parameters)."""
    device: str = "cpu"
    """``cpu``, ``cuda`` or ``cuda:<index>`` (as torch names a GPU) for the policy update."""
    trust_code: bool = False
    """``resume=``: let the checkpoint import its env's module and call its wrappers when they are
    neither Gymnasium's nor this project's (a crafted file could name any code)."""
    torch_threads: int = 1
    """torch intra-op CPU threads. A linear policy's tensors are tiny: one thread is fastest, and
    more spin-wait for each other on a busy machine (10x slower measured here)."""
    agent: AgentConfig = field(default_factory=AgentConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    vector: VectorConfig = field(default_factory=VectorConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    run_dir: str | None = None
    """Output folder; null = Hydra's output dir (or a fresh folder under runs/ without Hydra)."""
    resume: str | None = None
    """Run folder to resume from."""
    experiment_name: str = "${env}"
    """Names the run folders (``outputs/<name>/``, ``multirun/<name>/``, ``runs/<name>__seed<n>__<time>``);
    the env id unless set."""


RUN_KEYS = (
    "run_dir", "resume", "experiment_name", "device", "torch_threads", "num_seeds", "trust_code",
    "logging.", "checkpoint.", "diagnostics.", "eval.",
)  # fmt: skip
"""Config keys (or prefixes, ending in ``.``) that do not change what a run learns: where it writes,
how it reports, where it computes, what code it trusts. TensorBoard's HParams tab and the plots'
labels leave them out."""


def changes_learning(key: str) -> bool:
    """Whether the flat config key ``key`` can change what is learned (not one of :data:`RUN_KEYS`)."""
    return not any(key == name or (name.endswith(".") and key.startswith(name)) for name in RUN_KEYS)


SCHEMAS = ((None, "train_schema", TrainConfig), ("agent", "agent_schema", AgentConfig),
           ("features", "features_schema", FeaturesConfig))  # fmt: skip
"""What :func:`register_configs` stores: ``(group, name, dataclass)``."""


def register_configs() -> None:
    """Store the schemas so YAML files can extend them (``defaults: [train_schema, ...]``), where
    the ConfigStore lacks them or holds another node under their name (the user's own app may use
    ``train_schema`` too): storing builds each structured config again, 14 ms of the 0.11 s a
    composition takes (``agents.train``, ``agents.compose``, and each test's config)."""
    store = ConfigStore.instance()
    for group, name, schema in SCHEMAS:
        stored = (store.repo.get(group, {}) if group else store.repo).get(f"{name}.yaml")
        if stored is None or OmegaConf.get_type(stored.node) is not schema:
            store.store(group=group, name=name, node=schema)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


LARGEST_FEATURE_BOUND = 1e300
"""The largest ``features.clip`` and ``features.bounds`` entry: ``2 B`` must stay a finite float64."""
LARGEST_VALUE = {"float32": 3.4028234663852886e38}
"""The largest finite value of a parameter dtype narrower than Python's float."""


def check_seed(seed: int) -> None:
    """``seed`` is one numpy takes; else a one-line :class:`UserError`."""
    _require(0 <= seed < 2**32, f"seed={seed} must be in [0, 2**32) (numpy's seed range)")


def check_choice(name: str, value: str, options: tuple[str, ...]) -> None:
    """``value`` is one of ``options``; else a one-line :class:`UserError` naming the key."""
    _require(value in options, f"{name}={value!r} is not one of {', '.join(options)}")


def _positive(name: str, value: float, hint: str = "") -> None:
    """A finite ``value > 0``."""
    _require(math.isfinite(value), f"{name}={value} must be a finite number{hint}")
    _require(value > 0, f"{name}={value} must be > 0{hint}")


def check_device(device: str) -> None:
    """``cpu``, ``cuda`` or ``cuda:<index>`` (as torch names a GPU); else a one-line :class:`UserError`."""
    _require(
        device in DEVICES or re.fullmatch(r"cuda:\d+", str(device)) is not None,
        f"device={device!r} is not one of cpu, cuda, cuda:<index>",
    )


MAX_ENV_STEPS = 2**63 - 1
"""Most env steps a budget may name: the step counters are int64."""
ENV_STEPS_WHY = "2**63 - 1, the env-step counters' range"


def check_at_least(name: str, value: float, low: float) -> None:
    """A finite ``value >= low``; else a one-line :class:`UserError` naming the key."""
    _require(math.isfinite(value), f"{name}={value} must be a finite number")
    _require(value >= low, f"{name}={value} must be >= {low}")


def unknown_key_message(
    full_key: str, known: list[str], otherwise: str = "", elsewhere: Sequence[str] = ()
) -> str:
    """``agent.lrr is not a config key (did you mean agent.lr?)``; ``otherwise`` (default: the
    known keys) is the hint when no key is close. ``elsewhere`` (every dotted key of the config,
    :func:`dotted_keys`) adds the keys of that name in another node: ``num_envs`` is
    ``vector.num_envs``."""
    prefix, _, key = full_key.rpartition(".")
    scores = {f"{prefix}.{name}" if prefix else name: difflib.SequenceMatcher(None, key, name).ratio()
              for name in difflib.get_close_matches(key, known, 3)}  # fmt: skip
    for name in elsewhere:  # the same name or a near one in another node: num_env -> vector.num_envs
        ratio = difflib.SequenceMatcher(None, key, name.rpartition(".")[2]).ratio()
        if name != full_key and name not in scores and ratio >= 0.85:
            scores[name] = ratio + 0.5 * (ratio == 1.0)  # the same name first
    close = sorted(scores, key=lambda name: -scores[name])[:3]
    hint = f"did you mean {', '.join(close)}?" if close else otherwise or f"known keys: {', '.join(known)}"
    return f"{full_key} is not a config key ({hint})"


def dotted_keys(node: DictConfig, prefix: str = "") -> list[str]:
    """Every key of ``node``, a nested node's as ``vector.num_envs`` (Hydra's own node left out)."""
    keys = []
    for key in node:
        child = node._get_node(key)
        if key != "hydra":
            keys.append(f"{prefix}{key}")
            if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
                keys += dotted_keys(child, f"{prefix}{key}.")
    return keys


def check_known_keys(node: Any, schema: type, prefix: str = "") -> None:
    """Keys added with ``+key=value`` that no schema field holds are typos: nothing would read them."""
    if not isinstance(node, DictConfig):
        return
    fields = get_type_hints(schema)
    for key in node:
        if key not in fields:
            raise UserError(
                unknown_key_message(f"{prefix}{key}", list(fields), elsewhere=dotted_keys(node._get_root()))
            )
        if dataclasses.is_dataclass(fields[key]):
            check_known_keys(node[key], fields[key], f"{prefix}{key}.")
    missing = first_missing_key(node, schema, prefix)
    if missing:  # ~key on the command line: the run reads every field
        raise UserError(removed_key_message(missing))


def removed_key_message(key: str) -> str:
    """The line for ``~key`` on the command line, which removes a key the run reads."""
    return f"~{key} removes a key the run reads: set its value instead ({key}=...)"


def first_missing_key(node: DictConfig, schema: type, prefix: str = "") -> str | None:
    """The first field of ``schema`` (depth first) that ``node`` lacks, as a dotted key."""
    for key, field_type in get_type_hints(schema).items():
        if key not in node:
            return f"{prefix}{key}"
        if dataclasses.is_dataclass(field_type) and isinstance(node[key], DictConfig):
            missing = first_missing_key(node[key], field_type, f"{prefix}{key}.")
            if missing:
                return missing
    return None


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config (plain containers) as ``{"agent.lr": 0.1, ...}``; lists stay values."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(flatten(value, f"{prefix}{key}." if isinstance(value, dict) else f"{prefix}{key}"))
    return flat


def episode_stats(cfg: Any) -> str:
    """``logging.episode_stats`` with ``auto`` resolved: ``each`` for one run with one env,
    ``mean`` with vector envs or ``num_seeds > 1``."""
    if cfg.logging.episode_stats != "auto":
        return cfg.logging.episode_stats
    return "each" if cfg.vector.num_envs == 1 and cfg.num_seeds == 1 else "mean"


def validate_agent(agent: Any) -> None:
    """Check the names and ranges of a composed ``agent`` group (training and
    ``scripts/compare_gradients.py``, which builds the same agent); :class:`UserError` naming the key."""
    from agents.core.baselines import BASELINES, VALUE_OPTIMIZERS  # (torch: not for a command line's typo)
    from agents.core.policies import ACTIVATIONS, POLICIES  # linear forms first: state, action, mlp

    check_choice("agent.policy", agent.policy, tuple(POLICIES))
    check_choice("agent.score", agent.score, SCORE_PATHS)
    check_choice("agent.dtype", agent.dtype, DTYPES)
    check_choice("agent.optimizer", agent.optimizer, OPTIMIZERS)
    check_choice("agent.baseline", agent.baseline, tuple(BASELINES))
    check_choice("agent.lr_schedule", agent.lr_schedule, LR_SCHEDULES)
    check_choice("agent.activation", agent.activation, tuple(ACTIVATIONS))
    _positive("agent.lr", agent.lr, " (try agent.lr=0.01)")
    _positive("agent.baseline_lr", agent.baseline_lr)
    largest = LARGEST_VALUE.get(agent.dtype, math.inf)
    for key in ("lr", "baseline_lr"):  # torch's optimizers cast the step size to the parameters' dtype
        value = getattr(agent, key)
        _require(value < largest, f"agent.{key}={value} is past agent.dtype={agent.dtype}'s range (try 0.01)")
    _require(0.0 <= agent.gamma <= 1.0, f"agent.gamma={agent.gamma} must be in [0, 1] (try 0.99)")
    check_at_least("agent.episodes_per_update", agent.episodes_per_update, 1)
    check_at_least("agent.entropy_coef", agent.entropy_coef, 0)
    check_at_least("agent.max_grad_norm", agent.max_grad_norm, 0)
    check_choice("agent.value_optimizer", agent.value_optimizer, VALUE_OPTIMIZERS)
    check_at_least("agent.value_epochs", agent.value_epochs, 1)
    _require(
        not (agent.per_step_updates and agent.baseline == "time"),
        "agent.baseline=time compares whole episodes at each time step; agent.per_step_updates=true "
        "sees one step at a time (use agent.baseline=value or agent.per_step_updates=false)",
    )
    _require(
        not agent.bootstrap_truncated or agent.baseline == "value",
        f"agent.bootstrap_truncated=true needs a value estimate v(S_T): set agent.baseline=value "
        f"(got agent.baseline={agent.baseline})",
    )
    _require(agent.value_epochs <= MAX_VALUE_EPOCHS, f"agent.value_epochs must be <= {MAX_VALUE_EPOCHS}")
    for key in ("hidden_sizes", "value_hidden_sizes"):
        for width in getattr(agent, key):  # OmegaConf does not type a nested list's items
            integer = isinstance(width, int) and not isinstance(width, bool)
            _require(integer, f"agent.{key} entries must be integers, got {width} (e.g. agent.{key}=[64,64])")
            check_at_least(f"agent.{key} entry", width, 1)
            _require(width <= MAX_HIDDEN_WIDTH, f"agent.{key} entry {width} must be <= {MAX_HIDDEN_WIDTH}")


def validate_features(features: Any, new_run: bool = True) -> None:
    """Check the names and ranges of a composed ``features`` group; :class:`UserError` naming the key.
    ``new_run``: also the limits added since runs were saved (a checkpoint's config keeps loading)."""
    check_choice("features.name", features.name, FEATURE_MAPS)
    for name in ("degree", "num_centers", "num_tilings", "tiles_per_dim", "hash_size"):
        check_at_least(f"features.{name}", getattr(features, name), 1)
    _require(  # 100000 tilings ran at 62 steps/s, marking fewer slots than it has tilings
        not new_run or features.name != "tile" or features.num_tilings <= features.hash_size,
        f"features.num_tilings={features.num_tilings} must be <= features.hash_size={features.hash_size} "
        "(each tiling marks one of hash_size slots; raise features.hash_size or lower features.num_tilings)",
    )
    for entry in features.bounds:  # OmegaConf does not type a nested list's items ([[1],2]: a TypeError)
        number = isinstance(entry, int | float) and not isinstance(entry, bool)
        _require(
            number, f"features.bounds entries must be numbers, got {entry} (e.g. features.bounds=[2.4,3])"
        )
    bounds = [("features.clip", features.clip), *(("features.bounds entry", b) for b in features.bounds)]
    for name, value in bounds:  # a range [-B, B] 2B wide past float64's limit made features constant
        _positive(name, value)
        _require(value <= LARGEST_FEATURE_BOUND, f"{name}={value} must be <= {LARGEST_FEATURE_BOUND:g} "
                 "(the range [-B, B] it gives is 2B wide, which must be a finite float64)")  # fmt: skip


def check_batched(cfg: Any) -> None:
    """What the batched mode does not do is a one-line :class:`UserError` before anything runs."""
    refusal = batched_refusal(cfg)
    if refusal is not None:
        setting, fix = refusal  # a preset may have set it (env=Acrobot-v1 picks one with a value baseline)
        preset = " or experiment=none" if "baseline" in setting else ""
        raise UserError(
            f"seed_mode=batched does not support {setting} (use seed_mode=exact, or override it: "
            f"{fix}{preset})"
        )


def batched_refusal(cfg: Any) -> tuple[str, str] | None:
    """The first setting of ``cfg`` the batched mode does not support, and the override that
    removes it (``("agent.baseline=time", "agent.baseline=none")``); None when it runs."""
    agent = cfg.agent
    unsupported = {  # setting -> (present, the override that removes it)
        "agent.per_step_updates=true": (agent.per_step_updates, "agent.per_step_updates=false"),
        f"agent.baseline={agent.baseline}": (agent.baseline != "none", "agent.baseline=none"),
        "diagnostics.check_gradients_every>0": (
            cfg.diagnostics.check_gradients_every > 0, "diagnostics.check_gradients_every=0"
        ),
        "eval.every_steps>0": (cfg.eval.every_steps > 0, "eval.every_steps=0"),
        "checkpoint.every_steps>0": (cfg.checkpoint.every_steps > 0, "checkpoint.every_steps=0"),
        "logging.episode_stats=each": (  # its curves are means per logging.interval_steps
            cfg.logging.episode_stats == "each", "logging.episode_stats=mean"
        ),
    }  # fmt: skip
    return next(((setting, fix) for setting, (present, fix) in unsupported.items() if present), None)


def validate(cfg: Any, new_run: bool = True) -> None:
    """Check keys, ranges and names of a composed config; raise :class:`UserError` naming the key.
    ``new_run=False`` (a checkpoint's config, a resume) leaves out the limits added since runs were
    saved (:func:`validate_features`'s tilings), which would refuse a trained run."""
    check_known_keys(cfg, TrainConfig)
    validate_agent(cfg.agent)
    validate_features(cfg.features, new_run)
    budget = cfg.budget
    check_choice("vector.mode", cfg.vector.mode, VECTOR_MODES)
    check_choice("logging.episode_stats", cfg.logging.episode_stats, EPISODE_STATS)
    check_device(cfg.device)
    check_choice("seed_mode", cfg.seed_mode, SEED_MODES)
    check_seed(cfg.seed)
    check_at_least("vector.num_envs", cfg.vector.num_envs, 1)
    check_at_least("num_seeds", cfg.num_seeds, 1)
    last_seed = cfg.seed + cfg.num_seeds - 1
    _require(
        last_seed < 2**32,
        f"seed={cfg.seed} with num_seeds={cfg.num_seeds} reaches seed {last_seed}, past numpy's seed range "
        "[0, 2**32): lower seed or num_seeds",
    )
    check_at_least("batched_update_every", cfg.batched_update_every, 1)
    if cfg.seed_mode == "batched" and cfg.num_seeds > 1:  # (a sweep checks its jobs before the first runs)
        check_batched(cfg)
        vector_steps = -(-budget.total_env_steps // cfg.vector.num_envs)
        default = TrainConfig.batched_update_every  # (taken in any run, however short)
        _require(  # (it trained with one update per seed, at the end, without a word)
            cfg.batched_update_every <= max(vector_steps, default),
            f"batched_update_every={cfg.batched_update_every} is more than the {vector_steps} steps each "
            "sub-env of a seed takes (budget.total_env_steps / vector.num_envs), so the seeds would "
            f"hardly update: lower it (the default, {default}, is taken by any run)",
        )
    check_at_least("torch_threads", cfg.torch_threads, 1)
    check_at_least("logging.interval_steps", cfg.logging.interval_steps, 1)
    check_at_least("logging.print_every_seconds", cfg.logging.print_every_seconds, 0)
    check_at_least("budget.total_env_steps", budget.total_env_steps, 1)
    _require(  # seed_mode=batched counts in numpy's int64 (an OverflowError traceback)
        budget.total_env_steps <= MAX_ENV_STEPS,
        f"budget.total_env_steps={budget.total_env_steps} must be <= {MAX_ENV_STEPS} ({ENV_STEPS_WHY})",
    )
    check_at_least("budget.window", budget.window, 1)
    _require(budget.window <= MAX_WINDOW, f"budget.window={budget.window} must be <= {MAX_WINDOW:,}")
    _require(
        budget.target_return is None or math.isfinite(budget.target_return),
        f"budget.target_return={budget.target_return} must be a finite number (null: the env's threshold)",
    )
    check_at_least("checkpoint.every_steps", cfg.checkpoint.every_steps, 0)
    check_at_least("eval.every_steps", cfg.eval.every_steps, 0)
    check_at_least("eval.episodes", cfg.eval.episodes, 1)
    episodes = cfg.eval.episodes
    _require(episodes <= MAX_EVAL_EPISODES, f"eval.episodes={episodes} must be <= {MAX_EVAL_EPISODES:,}")
    check_at_least("eval.max_episode_steps", cfg.eval.max_episode_steps, 1)
    check_at_least("diagnostics.check_gradients_every", cfg.diagnostics.check_gradients_every, 0)
    check_at_least("diagnostics.tolerance", cfg.diagnostics.tolerance, 0)
