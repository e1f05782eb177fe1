"""Many seeds in one process: N independent runs stepped side by side, acting in one batch.

Each seed is a full :class:`~agents.runtime.trainer.Trainer` (its own envs seeded with its seed, its own
buffer, optimizer, checkpoints and TensorBoard folder ``<run_dir>/seed<s>``), so the results are
identical to N separate runs with those seeds (``tests/test_multi_seed.py`` checks it). What is
shared is the acting computation: the N policy parameters live in one ``[N, *param.shape]``
tensor (each policy's parameter is bound to a row of it) and one :class:`~agents.runtime.acting.Actor`
computes every seed's logits per step with the form's batched ``acting_logits``::

    h[n] = x[n] @ W[n]            (n = 1..N)        A[n] = argmax_a (h[n, a] + g[n, a])

with each seed's Gumbel noise ``g[n]`` drawn from that seed's own generator, exactly as a
single run draws it (a single run is the same actor with N = 1). Updates stay per seed because
each happens when that seed's own episode ends (a batched update would have to wait for all seeds
and change the results).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from agents.errors import UserError
from agents.features.inputs import ActionFeaturesFault
from agents.runtime.acting import Actor
from agents.runtime.checkpoint import CHECKPOINT_NAME
from agents.runtime.config import episode_stats
from agents.runtime.env_failures import env_named, env_number_warnings_off, spaces_problem
from agents.runtime.logger import Logger
from agents.runtime.return_stats import shown_return, spread
from agents.runtime.run_folder import (
    SEEDS_TOP_FILES,
    check_seed_folders,
    lock_run_folder,
    remove_unstarted_run,
    resolve_run_dir,
)
from agents.runtime.run_lock import make_room_for_seeds, restore_open_file_limit
from agents.runtime.seeds_progress import SeedsProgress
from agents.runtime.trainer import RunResult, StopOnSignal, Trainer, TrainResult, preflight, raise_if_stopped
from envs.make import EnvInfo


@contextmanager
def _save_all_on_error(trainers: list[Trainer]) -> Iterator[None]:
    """One seed's failure (an env fault, a numerical failure) saves every other seed too; a second
    Ctrl-C only closes the loggers, so what every seed logged reaches its event file."""
    try:
        yield
    except Exception:
        for trainer in trainers:
            if not trainer.finished:
                with suppress(Exception):  # the first failure is the one to report
                    trainer.finish("stopped")  # cut short by another's failure: its resume ends it
        raise
    except BaseException:
        for trainer in trainers:
            trainer.logger.close()
            trainer.envs.close()  # now: at exit, Gymnasium's async workers (deaf to SIGTERM) hung it
        raise


def std_over_seeds(returns: Sequence[float] | np.ndarray) -> float:
    """Sample standard deviation over seeds (``ddof = 1``), the spread of "mean +- std over N seeds"
    in the seeds table and the results table (as rliable and rl-baselines3-zoo report it)::

        s = sqrt( sum_n (R_n - mean(R))^2 / (N - 1) )        R_n: seed n's final mean return

    0 for a single seed; nan if a seed's return is nan (a seed that ended no episode).
    """
    return spread(returns, ddof=1) if len(returns) > 1 else 0.0


@dataclass
class MultiSeedResult(RunResult):
    """Per-seed results plus the aggregate a researcher reports."""

    run_dir: Path
    results: list[TrainResult]
    seconds: float

    @property
    def final_mean_return(self) -> float:
        """Mean over seeds of each seed's final moving-mean return (what sweepers optimise)."""
        with np.errstate(over="ignore"):  # returns near the float64 limit: inf, not a warning
            return float(self.final_mean_returns.mean())

    @property
    def seed_results(self) -> list[TrainResult]:
        return self.results

    @property
    def final_mean_returns(self) -> np.ndarray:
        return np.array([r.final_mean_return for r in self.results])

    def table(self) -> str:
        """One row per seed and a summary line; without a target (the env has no
        ``reward_threshold`` and no ``budget.target_return`` was given) no target column or count."""
        has_target = any(r.target is not None for r in self.results)
        target_header = f" {'target':>7}" if has_target else ""
        lines = [f"{'seed':>6} {'env steps':>10} {'episodes':>9} {'final mean return':>18}{target_header}"]
        for seed_result in self.results:
            target_cell = f" {_target_column(seed_result):>7}" if has_target else ""
            lines.append(
                f"{seed_result.run_dir.name:>6} {seed_result.env_steps:>10} {seed_result.episodes:>9} "
                f"{shown_return(seed_result.final_mean_return):>18}{target_cell}"
            )
        returns = self.final_mean_returns
        summary = (
            f"{len(self.results)} seeds in {self.seconds:.1f} s: final mean return "
            f"{shown_return(self.final_mean_return)} +- {shown_return(std_over_seeds(returns))} "
            "(std over seeds, ddof=1)"
        )
        if has_target:
            solved = sum(r.reached_target for r in self.results)
            below = solved - sum(r.ends_at_target for r in self.results)  # reached, then fell back
            earlier = f", {below} of them ending below it (earlier)" if below else ""
            summary += f"; {solved} reached the target{earlier}"
        lines.append(summary)
        return "\n".join(lines)


def _target_column(result: TrainResult) -> str:
    """``yes``: the final mean is at the target; ``earlier``: it was reached, then fell below."""
    if result.ends_at_target:
        return "yes"
    return "earlier" if result.reached_target else "no"


class MultiSeedTrainer:
    """``num_seeds`` trainers with seeds ``seed, seed+1, ...`` and one batched acting step."""

    def __init__(self, cfg: DictConfig) -> None:
        preflight(cfg)  # the sizes of all seeds together, before the first seed allocates
        async_envs = cfg.num_seeds * cfg.vector.num_envs if cfg.vector.mode == "async" else 0
        self.open_file_limit = make_room_for_seeds(cfg.num_seeds, async_envs)
        root = resolve_run_dir(cfg)
        # held to the end: another run into this folder, or a single run into one of its seed folders
        # before that seed has started (or after it finished), would mix its files with ours
        self.lock = lock_run_folder(root, files=SEEDS_TOP_FILES)  # and refuses another run's checkpoints
        self.run_dir = root
        self.logging_cfg = cfg.logging  # the seeds' own is quiet: the progress over all seeds is ours
        self.trainers: list[Trainer] = []
        folders = [root / f"seed{cfg.seed + offset}" for offset in range(cfg.num_seeds)]
        try:
            check_seed_folders(folders)
        except BaseException:  # nothing was written: the seed folders stay as they are (their own
            self.lock.give_up()  # config.yaml was removed with the run's)
            restore_open_file_limit(self.open_file_limit)
            raise
        try:
            self._build_seeds(cfg, root)
        except BaseException:  # a seed that failed to start, or a signal while they were set up
            for trainer in self.trainers:  # the seeds built before the failure
                with suppress(Exception):
                    trainer.abandon()
            for folder in folders:  # and the one being built: no seed took a step
                if folder.is_dir():
                    remove_unstarted_run(folder)
            self.lock.give_up()  # the folder as it was (the command line removes one Hydra made)
            restore_open_file_limit(self.open_file_limit)
            raise

    def _build_seeds(self, cfg: DictConfig, root: Path) -> None:
        named = env_named(cfg.env, cfg.env_wrappers)
        for offset in range(cfg.num_seeds):
            seed_cfg = OmegaConf.merge(cfg, {
                "seed": cfg.seed + offset, "num_seeds": 1, "run_dir": str(root / f"seed{cfg.seed + offset}"),
                # N bars (or N progress lines) would garble the terminal (the table follows); N x every
                # episode would make TensorBoard's writers the bottleneck (curves over seeds use the means)
                "logging": {"progress_bar": False, "print_every_seconds": 0,
                            "episode_stats": episode_stats(cfg)},
            })  # fmt: skip
            try:
                self.trainers.append(Trainer(seed_cfg))
                info = self.trainers[-1].info  # all seeds act in one call: one policy shape
                problem = spaces_problem(
                    named, info.observation_space, info.action_space, self.trainers[0].info
                )
                if problem is not None:  # (a stack of [3, 2] and [3, 4] parameters: torch's traceback)
                    raise UserError(problem)
            except UserError as error:  # (e.g. an env whose reset misfits for this seed only)
                if offset and type(error) is UserError:
                    raise UserError(f"seed {cfg.seed + offset} (those before it started): {error}") from None
                raise
            self.trainers[-1].log_prefix = f"seed{cfg.seed + offset}: "  # whose eval line it is
        policies = [trainer.agent.policy for trainer in self.trainers]
        self.stacked = aligned_rows([policy.param.detach() for policy in policies])  # [N, *param.shape]
        for index, policy in enumerate(policies):
            policy.bind_param(self.stacked[index])  # a view: optimizers update the stack in place
        # One actor for all seeds: each seed keeps its own generator (so its noise is what its
        # separate run would draw) and acts through its row of the actor (its checkpoints too).
        self.actor = Actor(policies[0], self.stacked, [trainer.actor.rng for trainer in self.trainers])
        for index, trainer in enumerate(self.trainers):
            trainer.share_acting(self.actor, index)
            trainer.saved_where = (  # _save_all_on_error saves the others after its failure
                f"seed {trainer.cfg.seed}'s last good state is in {trainer.run_dir / CHECKPOINT_NAME}, "
                f"every other seed's in {root}/seed*/{CHECKPOINT_NAME}"
            )
        feature_map = self.trainers[0].agent.inputs.feature_map
        self.shared_inputs = not feature_map.keeps_statistics  # stateless maps: one call for all seeds

    def _actions(self, live: list[int]) -> np.ndarray:
        """``[len(live), num_envs]`` actions, one batched logits computation for all live seeds."""
        trainers = [self.trainers[i] for i in live]
        if self.shared_inputs:
            obs = np.stack([t.obs for t in trainers])  # [n, E, ...]
            flat = trainers[0].agent.inputs(obs.reshape(-1, *obs.shape[2:]))  # [n*E, d] or [n*E, A, d]
            inputs = flat.reshape(len(live), obs.shape[1], *flat.shape[1:])
        else:
            inputs = np.stack([t.agent.inputs(t.obs) for t in trainers])
        return self.actor(inputs, None if len(live) == len(self.trainers) else live)

    @property
    def info(self) -> EnvInfo:
        """The env's spaces, as its seeds read them (the same env for each)."""
        return self.trainers[0].info

    def run(self) -> MultiSeedResult:
        """Step every live seed until each is done or a signal came; save them all; let the folder go."""
        try:
            return self._run()
        finally:
            self.lock.release()
            restore_open_file_limit(self.open_file_limit)

    def _run(self) -> MultiSeedResult:
        begin = time.perf_counter()
        with StopOnSignal(self.trainers), _save_all_on_error(self.trainers), env_number_warnings_off():
            for trainer in self.trainers:  # in the block: a signal while they start (the progress bar's
                trainer.start_clock()  # thread) stops the run with each seed saved, not its files unsaved
                trainer.logger.leave_handoffs_to_caller()  # all seeds together, below
            progress = SeedsProgress(
                len(self.trainers), self.trainers[0].cfg.budget.total_env_steps, self.logging_cfg,
                lambda: np.array([trainer.mean_return() for trainer in self.trainers]),
            )  # fmt: skip
            try:
                self._step_until_done(progress)
                progress.show(sum(trainer.env_steps for trainer in self.trainers))
            finally:  # the bar ends at the steps taken (a failed seed's run too)
                progress.close(sum(trainer.env_steps for trainer in self.trainers))
            results = finish_all(self.trainers)  # in the block: a signal during the saves lets them end
        raise_if_stopped(self.trainers)  # every seed is saved and flushed by now
        return MultiSeedResult(self.run_dir, results, time.perf_counter() - begin)

    def _step_until_done(self, progress: SeedsProgress) -> None:
        """Step every live seed until each is done or a signal came (``progress`` shows them)."""
        next_handoff, next_show = time.monotonic() + Logger.handoff_seconds, 0.0
        live = [i for i, t in enumerate(self.trainers) if not t.done]
        while live:
            now = time.monotonic()
            if now >= next_show:
                progress.show(sum(trainer.env_steps for trainer in self.trainers))
                next_show = now + SeedsProgress.SHOW_SECONDS
            if now >= next_handoff:
                for trainer in self.trainers:
                    trainer.logger.hand_off()
                next_handoff = time.monotonic() + Logger.handoff_seconds
            try:
                actions = self._actions(live)
            except ActionFeaturesFault as fault:  # one call for all seeds: the first live one's
                self.trainers[live[0]].fail_in_env(str(fault), fault.__cause__)
            still_live = []
            for position, (index, seed_actions) in enumerate(zip(live, actions, strict=True)):
                trainer = self.trainers[index]
                try:
                    trainer.step(seed_actions)
                except Exception:
                    for later in live[position + 1 :]:  # they drew noise for a step they will not take
                        self.trainers[later].actor.give_back()
                    raise
                if not trainer.done:
                    still_live.append(index)
            live = still_live


ROW_ALIGNMENT_BYTES = 64
"""Where torch places a fresh tensor's first element: float32 products round by it (a vectorised
kernel sums in another order from an unaligned start)."""


def aligned_rows(params: list[Tensor]) -> Tensor:
    """``torch.stack(params)`` with each row starting on a 64-byte boundary, as each seed's own
    tensor does in its separate run: a row at a 40-byte offset made the float32 action form's
    ``phi @ theta`` round differently, so a seed left its separate run in the last bits."""
    first = params[0]
    per_row = -(-ROW_ALIGNMENT_BYTES // first.element_size())  # elements per aligned block
    padded = -(-first.numel() // per_row) * per_row
    storage = torch.zeros(len(params), padded + per_row, dtype=first.dtype, device=first.device)
    skip = (-storage.data_ptr() % ROW_ALIGNMENT_BYTES) // first.element_size()  # to the first boundary
    rows = storage[:, skip : skip + first.numel()].view(len(params), *first.shape)
    rows.copy_(torch.stack(params))
    return rows


def finish_all(trainers: list[Trainer]) -> list[TrainResult]:
    """Save, flush and close every seed, even when one of them fails (its error is raised after;
    a user's one line, e.g. a full disk's, then says which seeds were saved: it named one seed, and
    the others' missing checkpoints were found only by resuming them)."""
    results, failed, errors = [], [], []
    for trainer in trainers:
        try:
            results.append(trainer.finish())
        except Exception as error:
            failed.append(trainer.run_dir.name)
            errors.append(error)
    if errors and isinstance(errors[0], UserError) and len(trainers) > 1:
        saved = [trainer.run_dir.name for trainer in trainers if trainer.run_dir.name not in failed]
        saved_ones = f"; saved: {', '.join(saved)}" if saved else ""
        raise UserError(
            f"{errors[0]}; of the {len(trainers)} seeds, {', '.join(failed)} could not be saved{saved_ones}"
        ) from None
    if errors:
        raise errors[0]
    return results
