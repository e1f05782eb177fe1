r"""``seed_mode=batched``: N seeds as one batched learner, at the vector env's own speed.

``num_seeds=N`` in the exact mode (:mod:`agents.runtime.multi_seed`) keeps every seed bitwise
equal to its separate run, so each seed steps its own Python env and updates on its own. Here
the N seeds (``vector.num_envs = E`` envs each) share everything that can be batched:

* **one vector env** of ``N E`` sub-envs (Gymnasium's native one where the env has it: CartPole,
  Acrobot, MountainCar), reset once with ``seed``; seed ``n`` owns columns ``nE .. nE+E-1``;
* **one acting call** per vector step: ``params [N, *param]`` read through a numpy view,
  ``A[n, e] = argmax_a (h_n(s_{n,e}, a) + g_{n,e,a})`` with Gumbel noise ``g = -log(Exp(1))``
  drawn in blocks from one generator (an exponential draw and a log are 7x cheaper than
  numpy's ``gumbel`` and have the same law);
* **one episode buffer** (:class:`~agents.runtime.buffer.EpisodeBuffer`) whose columns are all
  the sub-envs, with the episode statistics summed as rewards are stored;
* **one batched update** (:class:`~agents.core.stacked.StackedReinforce`) for whichever seeds
  have ``agent.episodes_per_update`` complete episodes after a vector step: each of them takes
  exactly the step its exact run would take on those episodes (its own Adam state, learning
  rate schedule, return standardisation), the gradients by ``vmap`` over the stacked rows.

Each seed keeps its own budget, moving window of returns, target check, TensorBoard folder
``<run_dir>/seed<s>`` (plus ``<run_dir>/seeds`` with the mean and spread over seeds) and
checkpoint. What differs from the exact mode is only where the randomness comes from (the
seeds' envs and noise share generators), so a seed's curve is not its separate run's, but the
same seeds give the same curves, and the learner is statistically the same:
``tests/test_many_seeds.py`` compares the distributions of steps-to-threshold of the two modes.
A batched run cannot be resumed (its shared generators are not per seed); its checkpoints hold
each seed's policy, optimizer state and counters for evaluation.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch
import yaml
from omegaconf import DictConfig, OmegaConf

from agents.core.batch import NumericalError
from agents.core.stacked import RowAdam, RowOptimizer, RowSGD, StackedReinforce, lr_at
from agents.errors import RunInterrupted, UserError, unwritable_run_dir
from agents.features.inputs import ActionFeaturesFault
from agents.runtime import interrupts, tags
from agents.runtime.buffer import EpisodeBuffer, Finished
from agents.runtime.build import build_policy, build_policy_inputs, resolve_device
from agents.runtime.checkpoint import CHECKPOINT_NAME, save_checkpoints
from agents.runtime.env_failures import (
    env_named,
    env_number_warnings_off,
    nonfinite_env_data,
    raise_env_fault,
    start_envs,
    warn_if_an_episode_is_long,
)
from agents.runtime.event_files import EventFile
from agents.runtime.global_rngs import seed_everything
from agents.runtime.logger import Logger, command_line_keys, hparams_record, run_status
from agents.runtime.multi_seed import MultiSeedResult
from agents.runtime.return_window import rescaled_means
from agents.runtime.run_folder import (
    SEEDS_TOP_FILES,
    check_seed_folders,
    lock_run_folder,
    remove_unstarted_run,
    resolve_run_dir,
)
from agents.runtime.run_log import write_to_run_logs
from agents.runtime.seeds_progress import SeedsProgress
from agents.runtime.sweep_stop import env_faults
from agents.runtime.trainer import (
    StopOnSignal,
    TrainResult,
    logged_failure,
    numerical_failure_hint,
    preflight,
    target_return,
)
from envs.make import close_quietly, describe_vector_failure, make_vector_env, stores_none_as_nan
from envs.observations import hold_first_step_warnings, rewards_fit, rewards_problem

ROW_OPTIMIZERS: dict[str, type[RowOptimizer]] = {"sgd": RowSGD, "adam": RowAdam}
"""``agent.optimizer`` -> the row-wise twin of the torch optimizer the exact mode uses."""
NOISE_BLOCK_VALUES = 1 << 16
"""Gumbel values drawn per generator call."""


def distinct_and_sorted(seeds: np.ndarray) -> bool:
    """Whether no seed repeats in ``seeds`` and they ascend (one env per seed)."""
    return len(seeds) == 1 or bool((np.diff(seeds) > 0).all())


def rank_within_seed(seeds: np.ndarray) -> np.ndarray:
    """For each entry of ``seeds``, how many entries before it hold the same seed (0 for a seed's
    first episode in the array, 1 for its second, ...)."""
    order = np.argsort(seeds, kind="stable")
    positions = np.arange(len(seeds))
    first = np.r_[True, seeds[order][1:] != seeds[order][:-1]]
    rank = np.empty(len(seeds), dtype=np.int64)
    rank[order] = positions - np.maximum.accumulate(np.where(first, positions, 0))
    return rank


def one_per_seed(seeds: np.ndarray, returns: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The episodes that ended in one vector step, ``seeds`` and ``returns`` in the order they
    ended, in rounds that hold each seed at most once (its first episode, then its second, ...):
    with several envs per seed a window may reach the target after one of a seed's episodes and
    fall below it by the next. One round when no seed repeats."""
    if distinct_and_sorted(seeds):
        yield seeds, returns
        return
    rank = rank_within_seed(seeds)
    for round_index in range(int(rank.max()) + 1):
        chosen = rank == round_index
        yield seeds[chosen], returns[chosen]


class RecentReturns:
    """Each seed's last ``window`` episode returns in a ring ``[N, window]``, filled in order."""

    def __init__(self, num_seeds: int, window: int) -> None:
        self.ring = np.zeros((num_seeds, window))
        self.count = np.zeros(num_seeds, dtype=np.int64)
        """Episodes recorded per seed (the ring holds the last ``min(count, window)``)."""

    def add(self, seeds: np.ndarray, returns: np.ndarray) -> np.ndarray:
        """Record ``returns`` of episodes of ``seeds`` (in order; a seed may repeat); returns the
        seeds touched, sorted."""
        if distinct_and_sorted(seeds):
            self.ring[seeds, self.count[seeds] % self.ring.shape[1]] = returns
            self.count[seeds] += 1
            return seeds
        self.ring[seeds, (self.count[seeds] + rank_within_seed(seeds)) % self.ring.shape[1]] = returns
        touched = np.unique(seeds)
        self.count[touched] += np.bincount(seeds, minlength=len(self.count))[touched]
        return touched

    def full(self, seeds: np.ndarray) -> np.ndarray:
        return self.count[seeds] >= self.ring.shape[1]

    def mean(self, seeds: np.ndarray) -> np.ndarray:
        """Mean of each seed's recorded returns (nan for a seed without any)."""
        filled = np.minimum(self.count[seeds], self.ring.shape[1])
        rows = self.ring[seeds]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            means = rows.sum(1) / filled
        over = np.isinf(means)  # sums of finite returns past float64's largest number
        if over.any():
            means[over] = rescaled_means(rows[over], filled[over])
        return means

    def in_order(self, seed: int) -> list[float]:
        """Seed ``seed``'s recorded returns, oldest first."""
        window = self.ring.shape[1]
        count = int(self.count[seed])
        if count <= window:
            return self.ring[seed, :count].tolist()
        return np.roll(self.ring[seed], -(count % window)).tolist()


class BatchedSeedsTrainer:
    """``num_seeds`` seeds ``seed, seed+1, ...`` trained as one batched learner (module docstring)."""

    def __init__(self, cfg: DictConfig) -> None:
        self.config, self.cfg, self.info = preflight(cfg)  # keys, the env and its wrappers, the sizes
        cfg = self.cfg
        self.device = resolve_device(cfg.device)
        self.target = target_return(cfg, self.info)
        self.run_dir = resolve_run_dir(cfg)
        self.num_seeds, self.envs_per_seed = cfg.num_seeds, cfg.vector.num_envs
        self.seeds = list(range(cfg.seed, cfg.seed + cfg.num_seeds))
        self._build()
        self._reset_counters()
        self._prepare_folders()

    def _build(self) -> None:
        """The agent (shared inputs and form), one parameter row per seed initialised as that
        seed's exact run initialises it, the learner, the vector env and the buffer."""
        cfg = self.cfg
        seed_everything(cfg.seed)
        torch.set_num_threads(cfg.torch_threads)
        self.inputs = build_policy_inputs(cfg, self.info)
        if self.inputs.feature_map.keeps_statistics:
            raise UserError(
                f"seed_mode=batched needs a feature map without statistics; features={cfg.features.name} "
                "keeps some per run (use features=raw, polynomial, fourier, rbf, tile or onehot, "
                "or seed_mode=exact)"
            )
        rows = []
        for seed in self.seeds:
            torch.manual_seed(seed)  # what seed_everything(seed) does before the exact run builds it
            self.policy = build_policy(cfg.agent, self.inputs, self.info.n_actions, self.device)
            rows.append(self.policy.param.detach())
        self.params = torch.stack(rows)  # [N, *param.shape]
        agent = cfg.agent
        gradient_fn = None
        if agent.score == "autograd":
            gradient_fn = self._autograd_policy_gradient
        self.learner = StackedReinforce(
            self.policy, optimizer=ROW_OPTIMIZERS[agent.optimizer](self.params), gamma=agent.gamma,
            normalize_returns=agent.normalize_returns, discount_weighting=agent.discount_weighting,
            entropy_coef=agent.entropy_coef, max_grad_norm=agent.max_grad_norm, gradient_fn=gradient_fn,
        )  # fmt: skip
        self.acting_params = self.params.cpu().numpy()  # a view on CPU; refreshed after updates on CUDA
        columns = self.num_seeds * self.envs_per_seed

        def make_and_reset() -> tuple[Any, np.ndarray]:
            with interrupts.held(cfg.vector.mode == "async"):  # its workers are forked
                envs = make_vector_env(cfg.env, columns, cfg.vector.mode, cfg.env_kwargs, cfg.env_wrappers)
            return envs, envs.reset(seed=cfg.seed)[0]

        self.envs, self.obs, self.observation_check = start_envs(
            cfg.env, make_and_reset, cfg, columns, self.info
        )
        hold_first_step_warnings(self.envs)  # the env checker's warning of what the one line refuses
        space = self.envs.single_observation_space
        self.buffer = EpisodeBuffer(columns, space.shape, space.dtype, on_grow=self._buffer_grew)
        self.said_long_episodes = False
        self.rng = np.random.default_rng(cfg.seed)
        self.noise = np.zeros((0, 0))
        self.noise_row = 0

    def _buffer_grew(self) -> None:
        """Say once where an episode has run very long (the buffer keeps it whole)."""
        if not self.said_long_episodes:
            self.said_long_episodes = warn_if_an_episode_is_long(self.buffer, self.cfg.env)

    def _autograd_policy_gradient(
        self, param: torch.Tensor, inputs: torch.Tensor, actions: torch.Tensor, coefficients: torch.Tensor
    ) -> torch.Tensor:
        """``agent.score=autograd``: ``sum_t c_t autograd_score_t`` at ``param``."""
        return torch.tensordot(coefficients, self.policy.autograd_score_with(param, inputs, actions), dims=1)

    def _reset_counters(self) -> None:
        seeds = self.num_seeds
        self.env_steps = np.zeros(seeds, dtype=np.int64)
        self.updates = np.zeros(seeds, dtype=np.int64)
        self.counts = np.zeros((3, seeds), dtype=np.int64)
        """Per seed: episodes finished, finished since the last update, finished since the last log."""
        self.episodes, self.waiting, self.log_episodes = self.counts  # views of the rows
        self.reached = np.zeros(seeds, dtype=bool)
        self.live = np.ones(seeds, dtype=bool)
        self.live_columns = np.ones(seeds * self.envs_per_seed, dtype=bool)
        self.autoreset = np.zeros(seeds * self.envs_per_seed, dtype=bool)
        self.recent = RecentReturns(seeds, self.cfg.budget.window)
        self.log_sums = np.zeros((2, seeds))
        """Per seed: sum of the returns and of the lengths of the episodes since the last log."""
        self.next_log = np.zeros(seeds, dtype=np.int64)
        self.first_log = 0
        """The smallest ``next_log`` of a live seed."""
        self.log_check_every = max(1, self.cfg.logging.interval_steps // (10 * self.envs_per_seed))
        """Vector steps between checks for due points (seeds drift apart, so a check at every step
        would write a point or two each time): a seed's point lands within a tenth of
        ``logging.interval_steps`` after it is due."""
        self.next_summary = 0
        """The ``seeds`` run's next point, at most one per ``logging.interval_steps`` of the leading seed."""
        self.vector_steps = 0
        self.step_limit = self.cfg.budget.total_env_steps
        """The loop runs while this is > 0; a signal sets it to 0 to stop cleanly."""
        self.stop_signal: int | None = None

    def _prepare_folders(self) -> None:
        """``<run_dir>/seed<s>/config.yaml`` (the seed's config) and the event files."""
        self.seed_configs: list[dict[str, Any]] = []
        try:
            self.lock = lock_run_folder(self.run_dir, files=SEEDS_TOP_FILES)
        except UserError:
            close_quietly(self.envs)
            raise
        try:
            check_seed_folders([self.run_dir / f"seed{seed}" for seed in self.seeds])
        except UserError:
            self.lock.give_up()  # nothing was written
            close_quietly(self.envs)
            raise
        try:
            self._write_configs_and_event_files()
        except BaseException as error:  # a full disk, a quota, a Ctrl-C: what was written goes
            close_quietly(self.envs)
            for name in [f"seed{seed}" for seed in self.seeds] + ["seeds"]:  # the folders this run made
                remove_unstarted_run(self.run_dir / name)
                with suppress(OSError):  # (only an empty one)
                    (self.run_dir / name).rmdir()
            remove_unstarted_run(self.run_dir, self.lock)  # (and lets the folder go)
            if not isinstance(error, OSError):
                raise
            raise unwritable_run_dir(self.run_dir, error) from None

    def _write_configs_and_event_files(self) -> None:
        base = OmegaConf.to_container(self.config, resolve=True)
        (self.run_dir / "config.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
        # one YAML dump for all seeds (a dump per seed took seconds for 100 seeds): only these differ
        template = yaml.safe_dump({**base, "seed": "@S@", "num_seeds": 1, "run_dir": "@D@"}, sort_keys=False)
        group = (  # its numbers depend on the other seeds it learned beside (not so its config alone)
            f"# one seed of a seed_mode=batched run of num_seeds={self.cfg.num_seeds} from "
            f"seed={self.cfg.seed}, which {self.run_dir / 'config.yaml'} reproduces\n"
        )
        for seed in self.seeds:
            folder = self.run_dir / f"seed{seed}"
            folder.mkdir(exist_ok=True)
            text = group + template.replace("'@S@'", str(seed)).replace("'@D@'", str(folder))
            (folder / "config.yaml").write_text(text)
            self.seed_configs.append({**base, "seed": seed, "num_seeds": 1, "run_dir": str(folder)})
        self.event_files: list[EventFile] = []
        self.summary_events: EventFile | None = None
        if self.cfg.logging.tensorboard:
            self.event_files = [EventFile(self.run_dir / f"seed{seed}") for seed in self.seeds]
            self.summary_events = EventFile(self.run_dir / "seeds")

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> MultiSeedResult:
        """Step all seeds until each has spent its budget or reached the target, or a signal came."""
        self.start = time.perf_counter()
        next_flush = time.monotonic() + Logger.handoff_seconds
        with StopOnSignal([self]), env_number_warnings_off():  # type: ignore[list-item]
            self.progress = SeedsProgress(  # in the block: a signal while its thread starts saves the seeds
                self.num_seeds, self.cfg.budget.total_env_steps, self.cfg.logging,
                lambda: self.recent.mean(np.arange(self.num_seeds)),
            )  # fmt: skip
            try:
                while not self.done:
                    try:
                        self.step()
                    except ActionFeaturesFault as fault:  # acting's phi(s, .), before the step
                        self._fail_in_env(str(fault), fault.__cause__)
                    if time.monotonic() >= next_flush:
                        try:
                            self._flush()
                        except OSError:  # a full disk: save what was learned, where it fits
                            with suppress(Exception):
                                self._save_checkpoints()
                            raise
                        next_flush = time.monotonic() + Logger.handoff_seconds
            except BaseException:
                with suppress(OSError):  # (a full disk: the error being raised says so)
                    self._flush()  # a crash or a second Ctrl-C: what was logged reaches the files
                close_quietly(self.envs)  # now: at exit, Gymnasium's async workers (deaf to SIGTERM) hung it
                raise
            finally:
                self.progress.close(int(self.env_steps.sum()))
            return self.finish()  # in the block: a signal during the final saves lets them finish

    @property
    def done(self) -> bool:
        """Every seed has spent its budget or reached its target (or a signal stopped the run)."""
        return not self.live.any() or self.step_limit <= 0

    def step(self) -> None:
        """One vector step of all seeds: act, store, finish episodes, update the ready seeds."""
        inputs = self.inputs(self.obs)  # [N E, ...]
        grouped = inputs.reshape(self.num_seeds, self.envs_per_seed, *inputs.shape[1:])
        logits = self.policy.acting_logits(self.acting_params, grouped)  # h_n(s, .)  [N, E, A]
        actions = np.argmax(logits + self._noise(logits.shape), axis=-1).reshape(-1)
        try:
            next_obs, rewards, terminated, truncated, _ = self.envs.step(actions)
        except env_faults() as error:  # the user's env raised: keep what was learned, say where
            self._fail_in_env(describe_vector_failure(self.envs, error), error)
        if not self.observation_check.fits(next_obs):
            self._fail_in_env(self.observation_check.problem("step returned", next_obs))
        if not rewards_fit(rewards, len(actions)):  # a vector env's own step (sync and async give float64)
            self._fail_in_env(rewards_problem(rewards, len(actions)))
        active = self.live_columns & ~self.autoreset  # not an autoreset step, seed not stopped
        self.autoreset = terminated | truncated
        self.buffer.store(self.obs, actions, rewards, active)  # its float64 rows take them as they are
        self.obs = next_obs
        if self.envs_per_seed == 1:
            self.env_steps += active
        else:
            self.env_steps += active.reshape(self.num_seeds, self.envs_per_seed).sum(1)
        ended = (self.autoreset & active).nonzero()[0]
        if ended.size:
            self._episodes_ended(self.buffer.finish(ended))
        self.vector_steps += 1
        if self.vector_steps % self.cfg.batched_update_every == 0:
            self._update_ready(self.live)
        most = self.env_steps.max()  # one reduction, then scalar tests (this runs every vector step)
        if most >= self.first_log and self.vector_steps % self.log_check_every == 0:
            due = self.live & (self.env_steps >= self.next_log)
            self._log(np.flatnonzero(due), summary=most >= self.next_summary)
            self.next_log[due] = self.env_steps[due] + self.cfg.logging.interval_steps
            self.first_log = self.next_log[self.live].min(initial=self.step_limit)
        if most >= self.step_limit:
            over = self.live & (self.env_steps >= self.step_limit)
            if over.any():
                self._stop(over)

    def _fail_in_env(self, problem: str, error: BaseException | None = None, during: str = "") -> NoReturn:
        """The env failed mid-run: save every seed's last good state (the failed step stored
        nothing), keep the env's traceback in ``train.log`` and raise one line saying where
        (``during``: ``"the update"`` after the last vector step; empty: in the next one)."""
        steps = self.vector_steps
        where = f"in {during} after vector step {steps}" if during else f"at vector step {steps + 1}"
        raise_env_fault(
            self.run_dir, f"{env_named(self.cfg.env, self.cfg.env_wrappers)} failed {where}", problem, error,
            lambda: self.finish(interrupted=False, ending="failure"),
            f"each seed's last good state is in {self.run_dir}/seed*/{CHECKPOINT_NAME}",
        )  # fmt: skip

    def _noise(self, shape: tuple[int, ...]) -> np.ndarray:
        """The next ``shape`` of Gumbel(0, 1) values, ``-log E`` with ``E ~ Exp(1)``, from blocks."""
        if self.noise_row == len(self.noise) or self.noise.shape[1:] != shape:
            rows = max(1, NOISE_BLOCK_VALUES // int(np.prod(shape)))
            self.noise = np.log(self.rng.standard_exponential(size=(rows, *shape)))
            np.negative(self.noise, out=self.noise)
            self.noise_row = 0
        self.noise_row += 1
        return self.noise[self.noise_row - 1]

    def _episodes_ended(self, finished: Finished) -> None:
        """Count the episodes per seed, add them to the logging sums and the windows, check targets."""
        seeds = finished.env_ids // self.envs_per_seed
        rounds: Iterable[tuple[np.ndarray, np.ndarray]]
        if self.envs_per_seed == 1:  # distinct seeds: plain fancy-index adds, one round
            self.counts[:, seeds] += 1
            self.log_sums[0, seeds] += finished.returns
            self.log_sums[1, seeds] += finished.lengths
            rounds = [(seeds, finished.returns)]
        else:
            self.counts += np.bincount(seeds, minlength=self.num_seeds)
            self.log_sums[0] += np.bincount(seeds, weights=finished.returns, minlength=self.num_seeds)
            self.log_sums[1] += np.bincount(seeds, weights=finished.lengths, minlength=self.num_seeds)
            rounds = one_per_seed(seeds, finished.returns)
        for round_seeds, round_returns in rounds:
            touched = self.recent.add(round_seeds, round_returns)
            if self.target is not None:  # checked at every episode end, as the exact mode does
                self._check_target(touched)

    def _check_target(self, touched: np.ndarray) -> None:
        """Mark the seeds of ``touched`` whose window reached the target (and stop them if asked)."""
        touched = touched[~self.reached[touched]]
        reached = touched[self.recent.full(touched) & (self.recent.mean(touched) >= self.target)]
        if reached.size:
            self.reached[reached] = True
            if self.cfg.budget.stop_at_target:
                stopping = np.zeros(self.num_seeds, dtype=bool)
                stopping[reached] = True
                self._stop(stopping)

    def _update_ready(self, among: np.ndarray) -> None:
        """Update the seeds of ``among`` (bool ``[N]``) that have ``agent.episodes_per_update``
        finished episodes."""
        ready = among & (self.waiting >= self.cfg.agent.episodes_per_update)
        if ready.any():
            self._update(np.flatnonzero(ready))

    def _update(self, rows: np.ndarray) -> None:
        """One batched REINFORCE step for the seeds ``rows`` on their finished episodes."""
        columns = np.zeros(self.num_seeds, dtype=bool)
        columns[rows] = True
        episodes = self.buffer.get_columns(np.repeat(columns, self.envs_per_seed))
        obs, actions, rewards, dones, step_columns = episodes
        segments = np.searchsorted(rows, step_columns // self.envs_per_seed)
        inputs = self.inputs
        try:
            policy_inputs = inputs.state(obs) if inputs.form == "state" else inputs(obs)
        except ActionFeaturesFault as fault:  # the env's phi(s, .) on the episodes' observations
            self._fail_in_env(str(fault), fault.__cause__, during="the update")
        agent = self.cfg.agent
        fractions = self.env_steps[rows] / self.cfg.budget.total_env_steps
        try:
            self.learner.update(
                torch.from_numpy(rows).to(self.device), self._tensor(policy_inputs),
                torch.from_numpy(actions).to(self.device), self._tensor(rewards),
                torch.from_numpy(dones).to(self.device), torch.from_numpy(segments).to(self.device),
                torch.from_numpy(lr_at(agent.lr, agent.lr_schedule, fractions)).to(self.device),
            )  # fmt: skip
        except NumericalError as error:
            self.finish(interrupted=False, ending="failure")
            seeds = [self.seeds[r] for r in rows.tolist()]
            problem = nonfinite_env_data(obs, rewards, self.params.dtype, stores_none_as_nan(self.envs))
            if problem is not None:
                named = env_named(self.cfg.env, self.cfg.env_wrappers)
                raise logged_failure(
                    f"{named} returned {problem} in episodes of seeds {seeds}, which no policy can learn "
                    f"from (fix the env, or filter them with env_wrappers); each seed's last good state is "
                    f"in {self.run_dir}/seed*/{CHECKPOINT_NAME}"
                ) from None
            hint = numerical_failure_hint(error, self.cfg.agent.entropy_coef)
            raise logged_failure(
                f"numerical failure in an update of seeds {seeds}: {error}; each seed's last good state is "
                f"in {self.run_dir}/seed*/{CHECKPOINT_NAME}{hint}"
            ) from None
        self.waiting[rows] = 0
        self.updates[rows] += 1
        if self.device.type != "cpu":
            self.acting_params = self.params.cpu().numpy()

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(device=self.device, dtype=self.params.dtype)

    def _stop(self, stopping: np.ndarray) -> None:
        """Seeds ``stopping`` (bool ``[N]``) are done: their columns stop counting and storing,
        their due updates happen now (as the exact mode updates on its last step), the finished
        episodes left over are dropped."""
        self._update_ready(stopping)
        self.live &= ~stopping
        columns = np.repeat(stopping, self.envs_per_seed)
        self.live_columns &= ~columns
        self.buffer.discard_columns(columns)
        self.progress.show(int(self.env_steps.sum()))

    def _log(self, seeds: np.ndarray, summary: bool = True) -> None:
        """Each seed in ``seeds``: the mean return and length of its episodes since its last point;
        with ``summary``, the ``seeds`` run: the mean, 10th and 90th percentile over seeds of the
        moving mean."""
        for seed in seeds[self.log_episodes[seeds] > 0].tolist():
            if self.event_files:
                mean_return, mean_length = self.log_sums[:, seed] / self.log_episodes[seed]
                self.event_files[seed].scalars(int(self.env_steps[seed]), {
                    tags.EPISODIC_RETURN: float(mean_return), tags.EPISODIC_LENGTH: float(mean_length),
                    tags.EPISODES_IN_MEAN: float(self.log_episodes[seed]),
                })  # fmt: skip
        self.log_sums[:, seeds] = 0.0
        self.log_episodes[seeds] = 0
        if self.summary_events is not None and seeds.size and summary:
            self.next_summary = int(self.env_steps.max()) + self.cfg.logging.interval_steps
            means = self.recent.mean(np.arange(self.num_seeds))
            means = means[np.isfinite(means)]
            if means.size:
                elapsed = time.perf_counter() - self.start
                self.summary_events.scalars(int(self.env_steps[seeds].max()), {
                    tags.EPISODIC_RETURN: float(means.mean()),
                    tags.SEEDS_RETURN_P10: float(np.percentile(means, 10)),
                    tags.SEEDS_RETURN_P90: float(np.percentile(means, 90)),
                    tags.SEEDS_REACHED: float(self.reached.mean()),
                    tags.STEPS_PER_SECOND: float(self.env_steps.sum() / max(elapsed, 1e-9)),
                })  # fmt: skip
        self.progress.show(int(self.env_steps.sum()))

    def _flush(self) -> None:
        for events in self.event_files:
            events.flush()
        if self.summary_events is not None:
            self.summary_events.flush()

    # -- the end ------------------------------------------------------------------------------
    def finish(self, interrupted: bool = True, ending: str | None = None) -> MultiSeedResult:
        """Last points, each seed's checkpoint, the event files flushed, the envs closed; after a
        signal raise :class:`RunInterrupted` (unless not ``interrupted``). ``ending``: ``failure``
        where an error ends the run, cutting short the seeds still running (their HParams rows'
        status: :func:`~agents.runtime.logger.run_status`)."""
        seconds = time.perf_counter() - self.start
        self._log(np.arange(self.num_seeds))
        cut_short = run_status(ending, self.stop_signal)
        completed = (self.env_steps >= self.cfg.budget.total_env_steps) | (
            self.reached & self.cfg.budget.stop_at_target
        )  # (a signal stops every seed: not live either)
        self._log_hparams(np.where(completed, "success", cut_short).tolist())
        folders = self._save_checkpoints()
        results = []
        for index, folder in enumerate(folders):
            results.append(TrainResult(
                folder, int(self.env_steps[index]), int(self.episodes[index]), int(self.updates[index]),
                seconds, float(self.recent.mean(np.array([index]))[0]), bool(self.reached[index]),
                self.recent.in_order(index), target=self.target,
            ))  # fmt: skip
        self._flush()
        close_quietly(self.envs)
        self.lock.release()
        if interrupted and self.stop_signal is not None:
            stop = RunInterrupted(
                f"stopped by {signal.Signals(self.stop_signal).name}; saved each seed's {CHECKPOINT_NAME} "
                f"under {self.run_dir} (a seed_mode=batched run cannot be resumed)",
                128 + self.stop_signal,
            )
            write_to_run_logs(str(stop))
            raise stop
        return MultiSeedResult(self.run_dir, results, seconds)

    def _save_checkpoints(self) -> list[Path]:
        """Each seed's ``checkpoint.pt`` in its folder; the folders."""
        folders = [self.run_dir / f"seed{seed}" for seed in self.seeds]
        save_checkpoints([(folder / CHECKPOINT_NAME, self.seed_state(i)) for i, folder in enumerate(folders)])
        return folders

    def _log_hparams(self, statuses: list[str]) -> None:
        """Each seed's HParams row (with its ``statuses`` entry) and ``final/*`` scalars, as a run of
        the exact mode logs them: ``scripts/plot.py`` and TensorBoard's HParams tab read a batched
        seed like any run."""
        differing = set(command_line_keys())
        for index, events in enumerate(self.event_files):
            metrics = {
                "mean_return": float(self.recent.mean(np.array([index]))[0]),
                "env_steps": int(self.env_steps[index]),
                "episodes": int(self.episodes[index]),
            }
            summaries, finals = hparams_record(self.seed_configs[index], metrics, differing, statuses[index])
            for summary in summaries:
                events.summary(summary)
            events.scalars(int(self.env_steps[index]), finals)

    def seed_state(self, index: int) -> dict[str, Any]:
        """Seed ``index``'s checkpoint: its policy, optimizer state (torch's layout), counters,
        window of returns and config; what evaluation and ``agent_from_checkpoint`` read."""
        (name,) = self.policy.state_dict()
        agent = self.cfg.agent
        fraction = np.array([self.env_steps[index] / self.cfg.budget.total_env_steps])
        lr = float(lr_at(agent.lr, agent.lr_schedule, fraction)[0])
        optimizer = self.learner.optimizer.row_state_dict(index, lr)
        return {
            "policy": {name: self.params[index].detach().cpu().clone()},
            "learner": {"optimizer": optimizer, "baseline": {}},
            "features": {},
            "counters": {
                "env_steps": int(self.env_steps[index]), "episodes": int(self.episodes[index]),
                "updates": int(self.updates[index]), "elapsed_seconds": time.perf_counter() - self.start,
                "reached_target": self.target if self.reached[index] else None,  # as a single run's
            },
            "recent_returns": self.recent.in_order(index),
            "config": self.seed_configs[index],
        }  # fmt: skip
