"""The training loop: act in vector envs, collect complete episodes, update, log, checkpoint.

Reads top to bottom: :func:`train` validates the config and the env id (user mistakes become
one-line :class:`~agents.errors.UserError`s before anything runs), builds the agent, then loops
``step -> store -> finish episodes -> update`` until the env-step budget is spent or the mean of
the last ``budget.window`` returns reaches the target. No math lives here.
"""

from __future__ import annotations

import logging
import math
import signal
import sys
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Self

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from agents.core.batch import EpisodeBatch, NumericalError, OptimizerStateOverflow
from agents.core.score_check import check_batch_gradients
from agents.errors import RunInterrupted, UserError, describe
from agents.features.inputs import ActionFeaturesFault
from agents.runtime import interrupts, tags
from agents.runtime.acting import Actor, SeedActor
from agents.runtime.buffer import EpisodeBuffer, Finished
from agents.runtime.build import AgentParts, build_agent, resolve_device
from agents.runtime.checkpoint import (
    BEST_CHECKPOINT_NAME,
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    interpolated_setting,
    keep_copy,
    kept_checkpoint_name,
    save_checkpoint,
)
from agents.runtime.config import TrainConfig, episode_stats, validate
from agents.runtime.env_failures import (
    env_named,
    env_number_warnings_off,
    nonfinite_env_data,
    raise_env_fault,
    start_envs,
    warn_if_an_episode_is_long,
)
from agents.runtime.evaluation import TrainingEvaluation, capped_note, next_multiple
from agents.runtime.global_rngs import drew_between, global_rng_states, seed_everything, set_global_rng_states
from agents.runtime.logger import Logger, run_status
from agents.runtime.program import hydra_override, path_override, program_command
from agents.runtime.restore import RESTORE_ERRORS, check_run_state, load_matching
from agents.runtime.return_stats import shown_return
from agents.runtime.return_window import ReturnWindow, window_mean
from agents.runtime.rollout import EnvFault
from agents.runtime.run_folder import FolderBefore, prepare_run_dir, resolve_run_dir
from agents.runtime.run_log import write_to_run_logs
from agents.runtime.runners import EnvRunner, make_runner
from agents.runtime.seeds_progress import close_bar_at
from agents.runtime.sizes import check_sizes
from agents.runtime.sweep_stop import StopRequest, env_faults, quit_hint
from envs.make import EnvInfo, check_env_id, code_to_trust
from envs.observations import (
    EnvOutputError,
)

log = logging.getLogger(__name__)
"""Progress lines without the bar: Hydra's job logging sends them to the console and ``train.log``
(``agents.train`` configures no logging, so they go nowhere there)."""


class RunResult:
    """What a training run returns, one seed (:class:`TrainResult`) or several
    (:class:`~agents.runtime.multi_seed.MultiSeedResult`): where it went, how long it took, the
    final mean return (over seeds: their mean) and :attr:`seed_results`."""

    run_dir: Path
    seconds: float
    final_mean_return: float

    @property
    def seed_results(self) -> list[TrainResult]:
        """One result per seed; a single run's is itself."""
        raise NotImplementedError


@dataclass
class TrainResult(RunResult):
    """One seed's run: what :func:`train` returns (and what sweeps summarise)."""

    run_dir: Path
    env_steps: int
    episodes: int
    updates: int
    seconds: float
    final_mean_return: float
    """Mean undiscounted return over the last ``budget.window`` episodes (nan if none ended)."""
    reached_target: bool
    """The last-``budget.window`` mean reached the target at some point (the run stopped there
    when ``budget.stop_at_target``; without it the mean may have fallen below since)."""
    recent_returns: list[float] = field(default_factory=list)
    target: float | None = None
    """The return the last-``budget.window`` mean was held against (None: the run had no target)."""

    @property
    def seed_results(self) -> list[TrainResult]:
        return [self]

    @property
    def ends_at_target(self) -> bool:
        """The target was reached and the final mean return is still at or above it."""
        return self.reached_target and self.target is not None and self.final_mean_return >= self.target


def checked_config(cfg: DictConfig, new_run: bool = True) -> tuple[DictConfig, TrainConfig]:
    """Validate (one-line :class:`UserError` naming the key) and return the config twice: as given,
    for saving, and as plain dataclasses, which are fast to read in the loop."""
    validate(cfg, new_run)
    if new_run:  # a run saves its config resolved, and reads none back with ${ (a crafted file's)
        saved = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else None
        interpolated = None if saved is None else interpolated_setting(saved)
        if interpolated is not None:
            raise UserError(
                f"{interpolated[0]}={interpolated[1]} holds '${{', which the run's checkpoint could not be "
                "read back with (a checkpoint's ${...} is refused unread): write the value without it"
            )
    return cfg, OmegaConf.to_object(cfg) if isinstance(cfg, DictConfig) else cfg


def preflight(cfg: DictConfig, new_run: bool = True) -> tuple[DictConfig, TrainConfig, EnvInfo]:
    """Every check a run makes before it allocates or writes anything: keys and ranges (a resume's,
    ``new_run=False``, as :func:`~agents.runtime.config.validate` says), the env id, the sizes
    (:mod:`agents.runtime.sizes`). A multirun calls it for every job first."""
    config, plain = checked_config(cfg, new_run)
    info = check_env_id(plain.env, plain.env_kwargs, plain.env_wrappers, new_run)
    check_sizes(plain, info)
    return config, plain, info


def resume_trust(cfg: TrainConfig) -> str:
    """`` trust_code=true`` when resuming ``cfg``'s run from its checkpoint will need it (its env's
    module or a wrapper is the user's own code), else ``""``: for the printed resume commands."""
    return " trust_code=true" if code_to_trust(cfg.env, cfg.env_wrappers, imported=False) else ""


def apply_lr_schedule(
    optimizer: torch.optim.Optimizer, base_lr: float, schedule: str, fraction: float
) -> None:
    """``agent.lr_schedule``: ``constant`` keeps ``base_lr``; ``linear`` decays it to 0 at the end of
    the budget (``fraction`` of it spent)."""
    if schedule == "linear":
        for group in optimizer.param_groups:
            group["lr"] = base_lr * max(1.0 - fraction, 0.0)


def numerical_failure_hint(error: NumericalError, entropy_coef: float = 0.0) -> str:
    """`` (try ...)``: the settings to change after a numerical failure, unless its message names
    the one to lower already (``agent.baseline_lr``, an optimizer's overflowed ``lr``); with an
    entropy bonus (``entropy_coef`` > 0; 1e308 made the gradient inf), its coefficient too."""
    if "agent." in str(error) or isinstance(error, OptimizerStateOverflow):  # (a lower lr leaves g as large)
        return ""
    if entropy_coef > 0:
        return " (try a lower agent.lr or agent.entropy_coef, or agent.normalize_returns=true)"
    return " (try a lower agent.lr or agent.normalize_returns=true)"


def finished_reason(
    env_steps: int, returns: Collection[float], budget: Any, target: float | None
) -> str | None:
    """Why a run at ``env_steps`` whose last window of returns is ``returns`` has nothing left to
    do (its budget spent, or its ``target`` reached with ``budget.stop_at_target``), as the words
    after "it" with the setting to raise to train on; None while it has work left."""
    total = budget.total_env_steps
    if env_steps > total:  # a stopped run resumed with a smaller budget: it did not "take its" steps
        return (
            f"has taken {env_steps:,} env steps, more than budget.total_env_steps={total}: resume with "
            f"a budget.total_env_steps above {env_steps} to train on"
        )
    if env_steps == total:
        return (
            f"took its {env_steps:,} env steps (budget.total_env_steps={total}): resume with a larger "
            "budget.total_env_steps to train on"
        )
    mean = window_mean(returns)
    if budget.stop_at_target and target is not None and len(returns) >= budget.window and mean >= target:
        return (
            f"reached its target (mean return {shown_return(mean)} >= {target:g} over the last "
            f"{len(returns)} episodes): resume with budget.stop_at_target=false to train on"
        )
    return None


def target_return(cfg: DictConfig, info: EnvInfo) -> float | None:
    """``budget.target_return``, else the env's registered ``reward_threshold``."""
    return cfg.budget.target_return if cfg.budget.target_return is not None else info.reward_threshold


class Trainer:
    """One run: owns the envs, the agent, the buffer, the counters and the logger."""

    def __init__(
        self, cfg: DictConfig, resume_from: dict[str, Any] | None = None, resume_path: Path | None = None,
        resume_version: tuple[int, int, int] | None = None,
    ) -> None:  # fmt: skip
        """:param resume_from: the state to resume, loaded from ``resume_path``, whose
        :func:`~agents.runtime.checkpoint.file_version` was ``resume_version`` before it was read."""
        self.config, self.cfg, self.info = preflight(
            cfg, resume_from is None
        )  # DictConfig for saving; dataclasses to read fast
        self.device = resolve_device(self.cfg.device)
        self.target = target_return(self.cfg, self.info)
        self.run_dir = resolve_run_dir(self.cfg)
        self.saved_where = f"the last good state is in {self.run_dir / CHECKPOINT_NAME}"
        """What a failure's line says was saved where (``num_seeds``: every seed, see multi_seed)."""
        self._build()
        self._reset_counters()
        if resume_from is not None:  # a file that does not fit fails before anything is written
            self.load_state_dict(resume_from, resume_path)
            self._refuse_finished_resume()
        before = FolderBefore.now(self.run_dir, resuming=resume_from is not None)
        try:
            loaded = None if resume_path is None or resume_version is None else (resume_path, resume_version)
            self.lock = prepare_run_dir(
                self.run_dir, self.config, resuming=resume_from is not None, loaded=loaded
            )
        except BaseException:
            self.envs.close()
            raise
        # points after the checkpoint (written before a kill -9) are dropped by TensorBoard
        purge_step = self.env_steps + 1 if resume_from is not None else None
        each_episode = episode_stats(self.cfg) == "each"
        self.folder_before = before
        """The run folder before this run wrote into it, for :meth:`abandon_start`."""
        try:
            self.logger = Logger(
                self.run_dir, self.cfg.logging.tensorboard, self.config, purge_step, each_episode
            )
        except BaseException:  # a Ctrl-C while TensorBoard starts (its import takes a while)
            self._put_folder_back()
            raise

    def abandon_start(self) -> None:
        """Undo a start that took no step (a Ctrl-C before :meth:`run` handles signals): close what
        it opened and put the folder back as it was, so a retry (or the resume's next try) finds
        it as before."""
        self.logger.close()
        self._put_folder_back()

    def _put_folder_back(self) -> None:
        self.envs.close()
        if self.evaluation is not None:
            self.evaluation.close()
        self.folder_before.put_back(self.lock)

    def _build(self) -> None:
        """Seed, then build the agent, its actor, the envs and the episode buffer."""
        cfg = self.cfg
        seed_everything(cfg.seed)
        torch.set_num_threads(cfg.torch_threads)
        self.agent: AgentParts = build_agent(cfg, self.info, self.device)
        self.dtype = self.agent.policy.param.dtype
        self.actor: SeedActor = Actor.for_policy(self.agent.policy, np.random.default_rng(cfg.seed))

        def make_and_reset() -> tuple[EnvRunner, np.ndarray]:
            vector = cfg.vector
            envs = make_runner(cfg.env, vector.num_envs, vector.mode, cfg.env_kwargs, cfg.env_wrappers)
            return envs, envs.reset(seed=cfg.seed)

        self.envs: EnvRunner
        self.envs, self.obs, self.observation_check = start_envs(
            cfg.env, make_and_reset, cfg, cfg.vector.num_envs, self.info
        )
        space = self.envs.single_observation_space
        self.buffer = EpisodeBuffer(cfg.vector.num_envs, space.shape, space.dtype, on_grow=self._buffer_grew)
        self.said_long_episodes = False
        self.evaluation = None
        if cfg.eval.every_steps:
            try:
                self.evaluation = TrainingEvaluation(cfg, self.info, self.agent.inputs, self.agent.policy)
            except BaseException:  # its env could not be made (a limit on instances): before any file
                self.envs.close()
                raise

    def abandon(self) -> None:
        """Close what this run opened without saving (a ``num_seeds`` run whose later seed failed
        to start): its logs, its envs, its folder's lock."""
        self.logger.close()
        self.envs.close()
        if self.evaluation is not None:
            self.evaluation.close()
        self.lock.release()

    def _reset_counters(self) -> None:
        """Counters, the moving window of returns and the schedule of logs and checkpoints."""
        cfg = self.cfg
        self.recent_returns = ReturnWindow(cfg.budget.window)
        self.env_steps = self.episodes = self.updates = 0
        self.best_mean_return = -math.inf
        """Best score so far: the moving mean return, or the evaluation's mean when it is on."""
        self.elapsed_before = 0.0
        self.next_log_step = 0
        self.next_checkpoint = cfg.checkpoint.every_steps or None
        self.step_limit = cfg.budget.total_env_steps
        """The loop runs while env_steps < step_limit; a signal sets it to 0 to stop cleanly."""
        self.stop_signal: int | None = None
        self.reached = False
        """Whether the moving mean return has reached the target (checked again from :meth:`start_clock`)."""
        self.reached_before = False
        """The run this one resumes had reached the same target over the same window (a result's
        ``reached_target`` says "at some point"; :attr:`reached` stops a run, this does not)."""
        self.log_prefix = ""
        """Put before this run's log lines (``seed3: `` for one of several seeds in one process)."""
        self.finished = False
        """Set by :meth:`finish` (saved and closed)."""

    def _refuse_finished_resume(self) -> None:
        """A resumed run with nothing left to do (its budget spent, or its target reached with
        ``budget.stop_at_target``) is refused before it writes anything: it would add an empty
        TensorBoard event file and report the old result as a new one.

        :raises UserError: saying which setting to raise to train on.
        """
        why = finished_reason(self.env_steps, self.recent_returns, self.cfg.budget, self.target)
        if why is None:
            return
        self.envs.close()
        raise UserError(f"the run in {self.run_dir} has nothing left to do: it {why} (nothing was written)")

    def share_acting(self, actor: Actor, run: int) -> None:
        """Act through row ``run`` of a many-seeds :class:`Actor` (built from this run's own
        generator and parameter, see :mod:`agents.runtime.multi_seed`)."""
        self.actor = SeedActor(actor, run)

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Act, store, update until the budget is spent, the target is reached or a signal came."""
        with StopOnSignal([self]), env_number_warnings_off():
            self.start_clock()  # in the block: a signal while the bar's thread starts saves the run
            try:
                if self.evaluation is not None and 0 < self.evaluation.next_step <= self.env_steps:
                    self._evaluate()  # resumed from a save that a signal made during this evaluation
                while not self.done:
                    try:
                        self.step(self.actor(self.agent.inputs(self.obs)))
                    except ActionFeaturesFault as fault:  # acting's phi(s, .), before the step
                        self.fail_in_env(str(fault), fault.__cause__)
            except BaseException:
                self.logger.close()  # a crash or a second Ctrl-C: what was logged reaches the file
                self.envs.close()  # now: at exit, Gymnasium's async workers (deaf to SIGTERM) hung it
                raise
            finally:
                close_bar_at(self.bar, self.env_steps)  # it moves at updates: the steps after the last
            result = self.finish()  # in the block: a signal during the final save lets it finish
        raise_if_stopped([self])
        return result

    def start_clock(self) -> None:
        """Start the wall clock (continuing a resumed run's) and the progress bar."""
        self.start = time.perf_counter() - self.elapsed_before
        logging_cfg = self.cfg.logging
        self.bar = tqdm(total=self.cfg.budget.total_env_steps, initial=self.env_steps, unit="step",
                        disable=not logging_cfg.progress_bar, dynamic_ncols=True)  # fmt: skip
        every = 0.0 if logging_cfg.progress_bar else logging_cfg.print_every_seconds
        self.next_print = time.perf_counter() + every if every else math.inf
        self.reached = False

    @property
    def done(self) -> bool:
        return self.env_steps >= self.step_limit or (self.reached and self.cfg.budget.stop_at_target)

    def step(self, actions: np.ndarray) -> None:
        """One vector step with ``actions``: store the transitions, finish episodes, maybe update."""
        try:
            next_obs, rewards, active, ended = self.envs.step(actions)
        except env_faults() as error:  # the user's env raised: keep what was learned, say where
            self.actor.give_back()  # the saved state is the one before this step: resuming it is exact
            self.fail_in_env(self.envs.describe_failure(error), error)
        if not self.observation_check.fits(next_obs):
            self.actor.give_back()
            self.fail_in_env(
                self.observation_check.problem(f"{self.envs.returned_by(ended)} returned", next_obs)
            )
        self.env_steps += self.buffer.store(self.obs, actions, rewards, active)
        if ended.size:
            self._log_episodes(self.buffer.finish(ended))
            if self.cfg.agent.bootstrap_truncated:
                self._bootstrap_time_limits(ended)
        self.obs = next_obs
        if self.buffer.num_finished >= self.cfg.agent.episodes_per_update:
            try:
                self._update(time.perf_counter() - self.start)
            except ActionFeaturesFault as fault:  # the env's phi(s, .) on the episodes' observations
                self.fail_in_env(str(fault), fault.__cause__, during="the update")
            except (NumericalError, UserError) as error:  # e.g. a failed live gradient check
                self.finish("failure")  # nothing is lost: save the last good state, flush logs
                if isinstance(error, UserError):  # where it was saved names the seed of num_seeds
                    raise logged_failure(f"{error}; {self.saved_where}") from None
                raise logged_failure(
                    f"numerical failure at env step {self.env_steps}: {error}; {self.saved_where}"
                    f"{numerical_failure_hint(error, self.cfg.agent.entropy_coef)}"
                ) from None
            if self.logger.failed is not None:  # a full disk: save what was learned (where it fits),
                self.finish("failure")  # then say so (its flush raises the error)
            self.bar.update(self.env_steps - self.bar.n)
            if not self.bar.disable:
                self.bar.set_postfix(mean_return=shown_return(self.mean_return(), 1), refresh=False)
        if self.evaluation is not None and self.env_steps >= self.evaluation.next_step:
            self._evaluate()
        if self.next_checkpoint is not None and self.env_steps >= self.next_checkpoint:
            self.elapsed_before = time.perf_counter() - self.start
            # first: the save holds the next one's step (it held its own, and a resume from it
            # saved again a step later, off the cadence)
            self.next_checkpoint = next_multiple(self.env_steps, self.cfg.checkpoint.every_steps)
            self.save(kept=True)

    def finish(self, ending: str | None = None) -> TrainResult:
        """Log the final metrics, save the checkpoints, flush and close the logs and the envs.

        :param ending: how the run ended, for its HParams row: ``failure`` (an error), ``stopped``
            (cut short, to be resumed: no session end); None: ``stopped`` after a signal, else
            ``success`` (:data:`~agents.runtime.logger.SESSION_STATUS`).
        """
        self.finished = True
        self.elapsed_before = time.perf_counter() - self.start
        # each part of a run (to a stop, then each resume) writes its HParams row and final/* points
        # at its end: plot compares the parts' settings, and takes the last part's results
        metrics = {"mean_return": self.mean_return(), "env_steps": self.env_steps, "episodes": self.episodes}
        self.logger.hparams(self.config, metrics, self.env_steps, run_status(ending, self.stop_signal))
        try:  # a save for a signal is no candidate for the best: the run resumes from it, and an
            self.save(candidate=self.stop_signal is None)  # uninterrupted one would have no save there
        finally:
            self.logger.close()
            self.envs.close()
            if self.evaluation is not None:
                self.evaluation.close()
            self.lock.release()
        return TrainResult(
            self.run_dir, self.env_steps, self.episodes, self.updates, self.elapsed_before,
            self.mean_return(), self.reached or self.reached_before, list(self.recent_returns),
            target=self.target,
        )  # fmt: skip

    def fail_in_env(self, problem: str, error: BaseException | None = None, during: str = "") -> NoReturn:
        """The env failed mid-run: save the last good state (the step that failed left nothing
        in the buffer), flush the logs, keep the env's traceback in ``train.log`` and raise one
        line naming the env, the step and the problem.

        :param during: ``"the update"`` or ``"the evaluation"`` that followed the last env step;
            empty for a fault in the next step (acting on it, or the env's own step).
        """
        steps = self.env_steps
        where = f"in {during} after env step {steps}" if during else f"at env step {steps + 1}"
        raise_env_fault(
            self.run_dir,
            f"{env_named(self.cfg.env, self.cfg.env_wrappers)} failed {where}",
            problem,
            error,
            lambda: self.finish("failure"),
            self.saved_where,
        )

    def stopped_line(self) -> str:
        """Where a run stopped by a signal was saved and how to resume it (one line)."""
        return (
            f"stopped at env step {self.env_steps}; saved {self.run_dir / CHECKPOINT_NAME}; "
            f"resume with: {self.resume_command()}"
        )

    def resume_command(self) -> str:
        """The command line that resumes this run."""
        return f"{program_command('train')} {path_override('resume', self.run_dir)}{resume_trust(self.cfg)}"

    def resume_call(self) -> str:
        """The ``agents.train`` call that resumes this run: it names the run's env, so the env's
        module needs no ``trust_code`` (a wrapper of the user's own still does)."""
        wrappers = code_to_trust("", self.cfg.env_wrappers, imported=False)
        overrides = [hydra_override("resume", self.run_dir), *(["trust_code=true"] if wrappers else [])]
        return f"agents.train({', '.join(map(repr, [self.cfg.env, *overrides]))})"

    def _evaluate(self) -> None:
        """Evaluate the current policy; a new best evaluation mean saves ``checkpoint_best.pt``.
        A stop signal ends the evaluation at once (it is dropped: the run saves and exits); a
        fault in the evaluation env is one line, as one in training's."""
        try:
            summary = self.evaluation(self.env_steps, stop=lambda: self.stop_signal is not None)
        except EnvFault as fault:
            # "the evaluation env returned reward None ..." or "the evaluation env raised RuntimeError: ..."
            raised = "" if isinstance(fault.error, EnvOutputError) else "raised "
            self.fail_in_env(f"the evaluation env {raised}{fault}", fault.error, during="the evaluation")
        except ActionFeaturesFault as fault:  # the evaluation env's phi(s, .)
            self.fail_in_env(str(fault), fault.__cause__, during="the evaluation")
        if summary is None:
            return
        bad = next(
            ((number, value) for number, value in enumerate(summary.returns, 1) if not math.isfinite(value)),
            None,
        )
        if bad is not None:  # its mean was logged as nan, and no evaluation could be the best
            self.fail_in_env(
                f"the evaluation env returned nan/inf rewards (episode {bad[0]}'s return is {bad[1]})",
                during="the evaluation",
            )
        if summary.capped:
            note = capped_note(summary, self.evaluation.step_cap, "evaluation", "eval.max_episode_steps")
            log.warning("%seval at env step %s: %s", self.log_prefix, f"{self.env_steps:,}", note)
        self.logger.scalar(tags.EVAL_MEAN_RETURN, summary.mean, self.env_steps)
        self.logger.scalar(tags.EVAL_STD_RETURN, summary.std, self.env_steps)
        best = summary.mean > self.best_mean_return
        log.info(
            "%seval at env step %s: return %s +- %s over %d episodes%s", self.log_prefix,
            f"{self.env_steps:,}", shown_return(summary.mean), shown_return(summary.std),
            len(summary.returns), " (new best)" if best else "",
        )  # fmt: skip
        if best:
            self.best_mean_return = summary.mean
            self.elapsed_before = time.perf_counter() - self.start
            self.save(best=True)

    def _log_episodes(self, finished: Finished) -> None:
        returns = finished.returns.tolist()
        if self.reached or self.target is None:
            self.recent_returns.extend(returns)
        else:  # checked after each episode, as they ended: "steps to 475" is exact
            self.reached = self.recent_returns.extend_reaching(returns, self.target)
        self.episodes += len(returns)
        self.logger.episodes(returns, finished.lengths.tolist(), self.env_steps)

    def _bootstrap_time_limits(self, ended: np.ndarray) -> None:
        """Episodes of ``ended`` that a time limit cut at ``S_T``: add ``gamma v(S_T)`` to their
        last stored reward (``agent.bootstrap_truncated``, :mod:`agents.core.reinforce`)."""
        cut, last_obs = self.envs.cut_by_time_limit(ended)
        if cut.size:
            bonus = self.agent.learner.time_limit_bonus(self._tensor(self.agent.inputs.state(last_obs)))
            self.buffer.add_to_last_rewards(cut, bonus.cpu().numpy())

    def _update(self, elapsed: float) -> None:
        obs, actions, rewards, dones = self.buffer.get()
        inputs = self.agent.inputs
        states = self._tensor(inputs.state(obs))
        batch = EpisodeBatch(
            inputs=states if inputs.form == "state" else self._tensor(inputs(obs)),  # x(s) twice: once
            states=states,
            actions=torch.from_numpy(actions).to(self.device),
            rewards=self._tensor(rewards),
            dones=torch.from_numpy(dones).to(self.device),
        )
        # running statistics (features=normalized): one nan/inf observation, which the clipped features
        # let through the update, makes them nan for good; an episode whose rewards' sum overflows float64
        # (its discounted returns finite: the update ran) made an inf mean return, whose checkpoint a
        # resume refused as altered (the window's sum of |returns| says so at no cost)
        if inputs.feature_map.keeps_statistics or not math.isfinite(self.recent_returns.scale):
            problem = nonfinite_env_data(obs, rewards, self.dtype, self.envs.stores_none_as_nan)
            if problem is not None:
                self._blame_env(problem)
        learner = self.agent.learner
        agent_cfg = self.cfg.agent
        fraction = self.env_steps / self.cfg.budget.total_env_steps
        apply_lr_schedule(learner.optimizer, agent_cfg.lr, agent_cfg.lr_schedule, fraction)
        diagnostics = self.cfg.diagnostics  # live check: policy.score vs autograd_score
        if diagnostics.check_gradients_every and self.updates % diagnostics.check_gradients_every == 0:
            check = check_batch_gradients(
                self.agent.policy, batch, self.cfg.agent.gamma, diagnostics.tolerance
            )
            self.logger.scalar(tags.GRAD_DISCREPANCY, check.max_abs_discrepancy, self.env_steps)
            self.logger.scalar(tags.GRAD_COSINE, check.cosine_similarity, self.env_steps)
        log_now = self.env_steps >= self.next_log_step  # TensorBoard writes cost ~60 us each: throttle
        print_now = time.perf_counter() >= self.next_print
        try:
            stats = learner.update(batch, with_stats=log_now or print_now)
        except NumericalError:
            problem = nonfinite_env_data(obs, rewards, self.dtype, self.envs.stores_none_as_nan)
            if problem is None:
                raise
            self._blame_env(problem)
        inputs.feature_map.update(obs)  # after the update (which read x(s) from before): a failed one
        # leaves the statistics of the last good state, which its checkpoint saves
        if self.device.type != "cpu":
            self.actor.refresh()
        self.updates += 1
        if log_now:
            self.next_log_step = self.env_steps + self.cfg.logging.interval_steps
            lr = learner.optimizer.param_groups[0]["lr"]
            self.logger.update(stats, lr, self.env_steps / max(elapsed, 1e-9), self.env_steps)
        if print_now:
            self.next_print = time.perf_counter() + self.cfg.logging.print_every_seconds
            self._print_progress(stats.entropy, self.env_steps / max(elapsed, 1e-9))

    def _buffer_grew(self) -> None:
        """The episode buffer doubled (its longest episode in progress, or the batch, outgrew it):
        move the bar, which only updates move (an episode that never ends froze it at 0 while the
        buffer grew to gigabytes), and say once where an episode has run very long."""
        self.bar.update(self.env_steps - self.bar.n)
        if not self.said_long_episodes:
            self.said_long_episodes = warn_if_an_episode_is_long(self.buffer, self.cfg.env, self.log_prefix)

    def _blame_env(self, problem: str) -> NoReturn:
        """The batch's env data (``problem`` says what) made the update fail: one line naming the env
        (:meth:`step` saves the last good state and adds where)."""
        raise UserError(
            f"{env_named(self.cfg.env, self.cfg.env_wrappers)} returned {problem} in the episodes up to env "
            f"step {self.env_steps}, which no policy can learn from (fix the env, or filter them with "
            "env_wrappers)"
        ) from None

    def _print_progress(self, entropy: float, steps_per_second: float) -> None:
        """One line instead of the bar (as SB3 prints its table): where the run is and how it learns."""
        total = self.cfg.budget.total_env_steps
        log.info(
            "env steps %s/%s (%.0f%%) | %s steps/s | mean return %s (last %d episodes) | entropy %.3f",
            f"{self.env_steps:,}", f"{total:,}", 100 * self.env_steps / total, f"{steps_per_second:,.0f}",
            shown_return(self.mean_return()), len(self.recent_returns), entropy,
        )  # fmt: skip

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(device=self.device, dtype=self.dtype)

    def mean_return(self) -> float:
        """Mean of the last window's returns (:func:`window_mean`)."""
        return window_mean(self.recent_returns)

    # -- persistence --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything an exact resume needs: the agent, the episodes in progress, every RNG."""
        return {
            "policy": self.agent.policy.state_dict(),
            "learner": self.agent.learner.state_dict(),
            "features": self.agent.inputs.feature_map.state_dict(),
            "buffer": self.buffer.state_dict(),
            "envs": self.envs.state_dict(),
            "counters": {
                "env_steps": self.env_steps,
                "episodes": self.episodes,
                "updates": self.updates,
                "next_checkpoint": self.next_checkpoint,
                "next_log_step": self.next_log_step,
                "best_mean_return": self.best_mean_return,
                "elapsed_seconds": self.elapsed_before,
                "reached_target": self.target if self.reached or self.reached_before else None,
            },
            "recent_returns": [value for value in self.recent_returns if math.isfinite(value)],  # see buffer
            "evaluation": self.evaluation.state_dict() if self.evaluation is not None else {},
            "rng": {"actor": self.actor.state_dict(), **global_rng_states()},
            "config": OmegaConf.to_container(self.config, resolve=True),
            "format_version": CHECKPOINT_FORMAT,
        }

    def load_state_dict(self, state: dict[str, Any], path: Path | None = None) -> None:
        """Restore :meth:`state_dict`'s output; a file that does not fit is one line naming what."""
        path = path or self.run_dir / CHECKPOINT_NAME  # where the state came from, for the messages
        load_matching(self.agent.policy, state["policy"], "policy", path, self.cfg)
        load_matching(self.agent.inputs.feature_map, state["features"], "features", path, self.cfg)
        check_run_state(state, path, self.agent, self.cfg.vector.num_envs)
        try:
            self._load_run_state(state)
        except KeyError as error:  # "KeyError: 'actor'" said nothing of what was wrong or what to do
            raise UserError(
                f"checkpoint {path} cannot be resumed: an entry it needs is missing ({error.args[0]!r}; the "
                "file was altered): resume from an unaltered save of the run, or start a new run"
            ) from None
        except RESTORE_ERRORS as error:
            raise UserError(
                f"checkpoint {path} cannot be resumed: {describe(error, last_line=True)}"
            ) from None

    def _load_run_state(self, state: dict[str, Any]) -> None:
        self.agent.learner.load_state_dict(state["learner"])
        self.actor.refresh()
        self.buffer.load_state_dict(state["buffer"])
        counters = state["counters"]
        self.env_steps, self.episodes = int(counters["env_steps"]), int(counters["episodes"])
        self.updates, self.next_checkpoint = int(counters["updates"]), counters["next_checkpoint"]
        saved_config = state.get("config", {})
        every = self.cfg.checkpoint.every_steps  # may have changed at resume: a cadence of its own
        if (  # from here, as one changed or turned on (a save before 036fef1 held its own step)
            not every
            or self.next_checkpoint is None
            or self.next_checkpoint <= self.env_steps
            or saved_config.get("checkpoint", {}).get("every_steps") != every
        ):
            self.next_checkpoint = next_multiple(self.env_steps, every) if every else None
        saved_agent = saved_config.get("agent", {})
        if saved_agent.get("lr") != self.cfg.agent.lr:  # changed at resume (else the state holds the
            for group in self.agent.learner.optimizer.param_groups:  # scheduled lr)
                group["lr"] = self.cfg.agent.lr
        if saved_agent.get("baseline_lr") != self.cfg.agent.baseline_lr:  # changed at resume (the value
            self.agent.learner.baseline.set_step_size(self.cfg.agent.baseline_lr)  # fit's state held the old)
        self.next_log_step = int(counters.get("next_log_step", 0))  # older checkpoints: log at once
        interval = self.cfg.logging.interval_steps  # changed at resume: due by the new one too (a lower
        if saved_config.get("logging", {}).get("interval_steps") != interval:  # one waited for the old)
            self.next_log_step = min(self.next_log_step, self.env_steps + interval)
        self.best_mean_return = float(counters["best_mean_return"])
        if bool(saved_config.get("eval", {}).get("every_steps")) != (self.evaluation is not None):
            # evaluation turned on or off at resume: the best so far was the other score (a moving
            # mean of training returns, or an evaluation's), which the new one was compared against
            self.best_mean_return = -math.inf
        self.elapsed_before = float(counters["elapsed_seconds"])
        self.recent_returns.extend(float(r) for r in state["recent_returns"])
        saved_window = saved_config.get("budget", {}).get("window")
        reached = counters.get("reached_target")  # older files lack it
        same_target = self.target is not None and reached == self.target
        self.reached_before = same_target and saved_window == self.cfg.budget.window
        if self.evaluation is not None:
            self.evaluation.resume_from(
                state.get("evaluation") or None,
                saved_config.get("eval", {}).get("every_steps"),
                self.env_steps,
            )
        rng = state["rng"]
        self.actor.load_state_dict(rng["actor"])
        set_global_rng_states(rng)  # the same replay at every resume of this file
        saved = global_rng_states()
        self.obs = self.envs.restore(state["envs"], self.buffer, self.cfg.seed + self.env_steps)
        self.said_long_episodes = warn_if_an_episode_is_long(self.buffer, self.cfg.env, self.log_prefix)
        if drew_between(saved, global_rng_states()):
            log.warning(
                "%senv=%s drew from the global random generators (random, numpy.random or torch) while "
                "the resume rebuilt its episode in progress: where those draws shape its observations, "
                "the resumed run leaves the uninterrupted one (an env that draws from self.np_random "
                "resumes exactly)", self.log_prefix, self.cfg.env,
            )  # fmt: skip
        set_global_rng_states(rng)  # as they were at the save: the replay's draws were made before it

    def save(self, best: bool = False, candidate: bool = True, kept: bool = False) -> Path:
        """Write ``checkpoint.pt`` (latest) and, when ``best`` (a new best evaluation) or, without
        evaluation, when the moving mean return is the best so far (a ``candidate``: not the save a
        signal asked for), ``checkpoint_best.pt``; with ``kept`` (a periodic save) a copy that
        stays, ``checkpoint_<env_steps>_steps.pt``; each atomically, after the logs up to this step
        reach their file (on a full disk: the latest and the best only).

        The best score is decided before anything is written, so both files store the same,
        current ``best_mean_return`` and a resumed run compares against the true best; the best
        file is written first, so a kill between the two leaves the latest file one save behind
        (its best score no higher than the best file's), never the best file behind.
        """
        is_best = best or (
            candidate
            and self.evaluation is None
            and self.recent_returns.full()
            and self.mean_return() > self.best_mean_return
        )
        if is_best and not best:
            self.best_mean_return = self.mean_return()
        try:
            self.logger.flush(self.env_steps)  # every point up to env_steps is on disk before the checkpoint
        except OSError:  # (a full disk) the state is saved still, where it fits: it matters more
            self._write_checkpoints(is_best)
            raise
        return self._write_checkpoints(is_best, kept)

    def _write_checkpoints(self, best: bool, kept: bool = False) -> Path:
        state = self.state_dict()
        if best:  # first: a kill between the two saves must not leave a latest that claims a better
            save_checkpoint(self.run_dir / BEST_CHECKPOINT_NAME, state)  # best than checkpoint_best.pt holds
        latest = save_checkpoint(self.run_dir / CHECKPOINT_NAME, state)
        if kept:  # last: the state to resume from is saved whether this copy fits or not
            keep_copy(latest, self.run_dir / kept_checkpoint_name(self.env_steps), state)
        return latest


def raise_if_stopped(trainers: list[Trainer]) -> None:
    """After a signal (every trainer saved by now): :class:`RunInterrupted` with one line per run
    it stopped saying where it was saved, exit status 128 + signal number (runs that had finished
    before it came are not listed: they have nothing left to resume)."""
    signum = next((t.stop_signal for t in trainers if t.stop_signal is not None), None)
    if signum is None:
        return
    name = signal.Signals(signum).name
    stopped = [trainer for trainer in trainers if trainer.stop_signal is not None]
    lines = [f"{name}: {trainer.stopped_line()}" for trainer in stopped]
    resumes = tuple((trainer.resume_command(), trainer.resume_call()) for trainer in stopped)
    stop = RunInterrupted("\n".join(lines), 128 + signum, resumes)
    write_to_run_logs(str(stop))
    raise stop


def logged_failure(failure: str | UserError) -> UserError:
    """A run's failure as the error it raises, its line (``error: ...``, as the console prints it)
    written to the run's log first (:func:`write_to_run_logs`): the log ended with the run's last
    progress line, and only the console said why it stopped and where its last good state was saved."""
    error = failure if isinstance(failure, UserError) else UserError(failure)
    write_to_run_logs(f"error: {error}")
    return error


@contextmanager
def signal_line(doing: str | None) -> Iterator[None]:
    """Within the block, the line a run's first SIGINT/SIGTERM prints says ``doing`` (None: no line)
    instead of "saving a checkpoint"; the runs stop and save as ever. For callers whose runs are
    scratch (the benchmark's measurements, results-table's seeds): they remove the folder and say
    so in their own line, where "saving" would be wrong."""
    before, StopOnSignal.doing = StopOnSignal.doing, doing
    try:
        yield
    finally:
        StopOnSignal.doing = before


class StopOnSignal(StopRequest):
    """Within the block, SIGINT/SIGTERM ask the trainers to stop after the current step (they then
    save and exit 130/143); a second signal stops at once (Python's default handlers). In a
    multirun's worker, the launching process's signal, written to its stop file
    (:mod:`agents.runtime.sweep_stop`), stops them the same way."""

    doing: str | None = "saving a checkpoint"
    """What the first signal's line says happens next; None: no line (:func:`signal_line`)."""

    def __init__(self, trainers: list[Trainer]) -> None:
        super().__init__()
        self.trainers = trainers

    def __enter__(self) -> Self:
        """A Ctrl-C that a library swallowed while the run started is heard here as one in the
        block: the run's folder is written by now, so it saves (at its step) and stops, instead of
        quitting with its config and event file and no checkpoint."""
        swallowed = interrupts.take_received()
        entered = super().__enter__()
        if swallowed is not None:
            self._handle(swallowed, None)
        return entered

    def on_stop(self, signum: int, why: str) -> None:
        for trainer in self.trainers:
            if not trainer.done:  # a seed that had finished is not "stopped" (nor to be resumed)
                trainer.stop_signal, trainer.step_limit = signum, 0
        if StopOnSignal.doing is None:
            return
        name = signal.Signals(signum).name
        message = f"\n{name}{why}: {StopOnSignal.doing} ({quit_hint(signum)})"
        print(message, file=sys.stderr, flush=True)
