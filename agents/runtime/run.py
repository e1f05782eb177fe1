"""The one entry to training: :func:`train` dispatches a config to a single run, a resumed run or
``num_seeds`` runs side by side, and prints where the results went."""

from __future__ import annotations

import copy
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from omegaconf import DictConfig, OmegaConf

from agents.errors import UserError, warn_at_caller
from agents.runtime import tags
from agents.runtime.checkpoint import (
    CHECKPOINT_NAME,
    KEPT_CHECKPOINT_GLOB,
    file_version,
    kept_steps,
    load_checkpoint,
    resolve_checkpoint,
    run_folder_of,
    saved_config,
    saved_seed_mode,
    seed_run_folders,
    write_text_atomically,
)
from agents.runtime.env_failures import TIME_LIMIT
from agents.runtime.many_seeds import BatchedSeedsTrainer
from agents.runtime.multi_seed import MultiSeedResult, MultiSeedTrainer
from agents.runtime.program import path_override, program_command
from agents.runtime.restore import (
    REQUIRED_KEYS,
    RESUME_KEYS,
    check_schema,
    checkpoint_config,
    refuse_unregistered_env,
    refuse_untrusted_code,
)
from agents.runtime.resume import apply_resume_overrides
from agents.runtime.return_stats import counted, shown_return
from agents.runtime.run_folder import refuse_another_folder_for_a_resume
from agents.runtime.run_lock import RunFolderLock
from agents.runtime.run_log import write_to_run_logs
from agents.runtime.trainer import RunResult, Trainer, TrainResult
from agents.runtime.unread_settings import unread_settings_note
from envs.make import ID_CHECK_VARIABLE, registered_time_limit, registering_module


def command_line() -> list[str]:
    """The overrides of this Hydra run or job (``key=value`` strings); none outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return list(OmegaConf.to_container(HydraConfig.get().overrides.task, resolve=False))  # as typed


SEEDS_TABLE_NAME = "seeds.txt"
"""The seeds table of a finished ``num_seeds`` run, in its top folder (it went to the console only)."""


def save_seeds_table(multi: MultiSeedResult) -> None:
    """Write ``multi``'s seeds table to its top folder; a folder that takes no more (a full disk)
    loses the table's file only, and says so: the seeds' own files are saved."""
    path = multi.run_dir / SEEDS_TABLE_NAME
    try:
        write_text_atomically(path, multi.table() + "\n")
    except OSError as error:
        print(f"note: the seeds table was not saved to {path}: {error.strerror or error}", file=sys.stderr)


def train(cfg: DictConfig, overrides: Sequence[str] | None = None, summary: bool = True) -> RunResult:
    """Train one agent as configured (or continue ``resume=<run dir>``, or ``num_seeds`` agents
    side by side); the function ``scripts/train.py``, ``agents.train`` and the tests call.

    :param overrides: for ``resume=``, the ``key=value`` overrides to apply to the resumed run
        (:mod:`agents.runtime.resume`); ``None`` = Hydra's command line.
    :param summary: print the final lines (where the run folder, checkpoint and config went) and a
        resume's changes (they are logged to TensorBoard either way); ``agents.train`` leaves them out.
    """
    if os.environ.get(ID_CHECK_VARIABLE):  # a module that trains as it is imported, imported by the check
        raise UserError("no training in the process that checks which module registers an env id")
    # for the note on unread ones (a resume applies them as changes, and says so)
    settings = [] if cfg.resume else command_line() if overrides is None else overrides
    if not cfg.resume:
        cfg = with_env_module(cfg)
        if cfg.num_seeds == 1 and cfg.seed_mode == "batched":  # one seed is one run: say so in its config,
            cfg = copy.deepcopy(cfg)  # which resume= then reads as the run it is
            cfg.seed_mode = "exact"
    if cfg.num_seeds > 1 and not cfg.resume:
        trainer = BatchedSeedsTrainer(cfg) if cfg.seed_mode == "batched" else MultiSeedTrainer(cfg)
        note = unread_settings_note(cfg, settings, trainer.info.observation_space)
        say_unread_settings(note, summary, before=True)
        multi = trainer.run()
        save_seeds_table(multi)
        if summary:
            print(f"\n{multi.table()}\nrun folders: {absolute(multi.run_dir)}/seed*")
            write_to_run_logs(multi.table())
            print_tensorboard_line(multi.run_dir)
            print_no_episode_note(multi, cfg)
        else:
            warn_if_nothing_learned(multi, cfg)
        say_unread_settings(note, summary, before=False)
        return multi
    if cfg.resume:
        folder = run_folder_of(cfg.resume)  # a run writing there (or a num_seeds run writing its seeds
        for held in (folder, folder.parent):  # there): say so, not "no checkpoint" (yet)
            RunFolderLock.check_free(held, unless_ours=held != folder)
        if saved_seed_mode(folder) == "batched" and not (folder / CHECKPOINT_NAME).is_file():  # its top
            refuse_batched_resume(cfg.resume)  # folder: not "pass one of its seeds"
        version = file_version(resolve_checkpoint(cfg.resume))  # before it is read: saved over since?
        state = load_checkpoint(cfg.resume)
        check_schema(state, cfg.resume)  # a dict of ours, before anything reads it
        batched = isinstance(state.get("config"), dict) and state["config"].get("seed_mode") == "batched"
        if batched and "rng" not in state:  # a seed of many (num_seeds=1 ran as one run, and resumes)
            refuse_batched_resume(cfg.resume)
        resumed = checkpoint_config(state, cfg.resume, REQUIRED_KEYS + RESUME_KEYS)
        if not cfg.trust_code:  # the caller's word (or env, as the caller named it), never the checkpoint's
            refuse_untrusted_code(
                resumed.env, resumed.env_wrappers, cfg.resume, caller_env=cfg.env, trust="trust_code=true"
            )
        refuse_unregistered_env(resumed.env, cfg.resume)
        resumed.trust_code = cfg.trust_code
        source = resolve_checkpoint(cfg.resume)
        refuse_another_runs_checkpoint(resumed, source)
        latest = source.parent / CHECKPOINT_NAME
        if source.name != CHECKPOINT_NAME and latest.is_file():  # e.g. resume=<run>/checkpoint_best.pt
            raise UserError(
                f"resume={source} would continue in {source.parent} and overwrite its {CHECKPOINT_NAME} "
                f"(the run's latest point): resume={source.parent} for that one; for this one, copy the "
                f"folder, move the copy's {source.name} over its {CHECKPOINT_NAME}, delete its later "
                f"periodic saves ({KEPT_CHECKPOINT_GLOB}) and resume the copy"
            )
        steps = state["counters"].get("env_steps")  # (an altered value is refused as the run restores)
        kept = source.parent.glob(KEPT_CHECKPOINT_GLOB) if isinstance(steps, int) else ()
        later = sorted((path for path in kept if kept_steps(path) > steps), key=kept_steps)
        if later:  # another history would write over them, beside the rest (a folder of two runs)
            raise UserError(
                f"resume={source} would continue from env step {steps:,} in {source.parent}, which holds "
                f"periodic saves of later steps ({later[0].name}{', ...' if len(later) > 1 else ''}) that it "
                "would write over with another history: move them out of the folder first"
            )
        if cfg.run_dir:
            refuse_another_folder_for_a_resume(source.parent, "run_dir", cfg.run_dir)
        resumed.run_dir, resumed.resume = str(absolute(source.parent)), None  # as a new run writes it
        # the display follows this command line; the rest of logging (how the curves are written:
        # a num_seeds seed's are means per interval) stays the run's unless overridden below
        resumed.logging.progress_bar = cfg.logging.progress_bar
        resumed.logging.print_every_seconds = cfg.logging.print_every_seconds
        given = with_env_module(cfg)  # "Mine-v0" that an import registered is the run's "module:Mine-v0"
        changes = apply_resume_overrides(resumed, given, command_line() if overrides is None else overrides)
        trainer = Trainer(resumed, resume_from=state, resume_path=source, resume_version=version)
        try:
            for change in changes if summary else []:  # once the checkpoint has loaded: a refused file
                print(f"resume: {change}", file=sys.stderr)  # prints only its line
            trainer.logger.text(tags.RESUME_CHANGES, "\n\n".join(changes), trainer.env_steps)
        except BaseException:  # a Ctrl-C (one an import deferred) before the run handles signals
            trainer.abandon_start()
            raise
    else:
        trainer = Trainer(cfg)
    note = unread_settings_note(trainer.config, settings, trainer.info.observation_space)
    say_unread_settings(note, summary, before=True)
    result = trainer.run()
    if summary:
        print_summary(result, trainer.cfg)
    else:
        warn_if_nothing_learned(result, trainer.cfg)
    say_unread_settings(note, summary, before=False)
    return result


def say_unread_settings(note: str | None, summary: bool, before: bool) -> None:
    """The note about keys the run's options do not read (:mod:`agents.runtime.unread_settings`):
    printed once the run is built (``summary``; not before a mistake's error line), or, for
    ``agents.train``, a ``UserWarning`` once it has trained (one raised as an error under ``-W
    error`` would otherwise leave a started run folder behind)."""
    if note is not None and before == summary:
        print(f"note: {note}") if summary else warn_at_caller(note)


def with_env_module(cfg: DictConfig) -> DictConfig:
    """``cfg`` with ``env`` named ``module:EnvId-v0`` where an import in this process registered its
    id (:func:`~envs.make.registering_module`): the saved config then lets evaluation and
    ``resume=`` in a new process import that module (told ``trust_code=true``), where the bare id
    was no registered id. The run folder's name (``experiment_name``) stays the id as given."""
    module = registering_module(cfg.env)
    if module is None:
        return cfg
    cfg = copy.deepcopy(cfg)  # the caller's config stays as given
    cfg.experiment_name = cfg.experiment_name  # resolved: ${env} before the module is added
    cfg.env = f"{module}:{cfg.env}"
    return cfg


FOLDER_IDENTITY = ("env", "seed", "agent.policy")
"""Settings a run folder's ``config.yaml`` and its checkpoint agree on (fixed on resume)."""


def refuse_another_runs_checkpoint(resumed: DictConfig, source: Path) -> None:
    """A checkpoint whose run is not its folder's (copied or linked over the folder's own, whose
    ``config.yaml`` says another env or seed) is refused: resuming it trained that run in this
    folder, rewrote its ``config.yaml`` and cut the folder's own curves at the checkpoint's step."""
    saved = saved_config(source.parent)
    if saved is None:
        return
    for key in FOLDER_IDENTITY:
        here = OmegaConf.select(saved, key, default=None, throw_on_resolution_failure=False)
        there = OmegaConf.select(resumed, key, default=None)
        if here is not None and str(here) != str(there):
            raise UserError(
                f"{source} is a checkpoint of {key}={there}, but {source.parent / 'config.yaml'} says "
                f"{key}={here}: it comes from another run (copied over this folder's own?); resume the "
                "folder it was saved in"
            )


def refuse_batched_resume(path: str) -> NoReturn:
    """The one line for ``resume=`` of a ``seed_mode=batched`` run (its top folder or a seed's); the
    evaluation it suggests names a seed's folder (a top folder holds none of its own)."""
    folder = run_folder_of(path)
    seeds = seed_run_folders(folder)
    cannot = f"{path} comes from a seed_mode=batched run, which cannot be resumed (its seeds share generators"
    if not seeds and not (folder / CHECKPOINT_NAME).is_file() and not Path(path).is_file():
        raise UserError(  # the evaluation it suggested then said "no checkpoint at"
            f"{cannot}), and holds no checkpoint: it saves at its end or where a signal stops it, and this "
            "one was quit or killed before; start it again (with seed_mode=exact to resume)"
        )
    checkpoint = seeds[0] if seeds and not (folder / CHECKPOINT_NAME).is_file() else path
    evaluate = f"{program_command('evaluate')} {path_override('checkpoint', checkpoint)}"
    raise UserError(f"{cannot}); evaluate it with {evaluate}, or train with seed_mode=exact to resume")


def print_summary(result: TrainResult, cfg: DictConfig | None = None) -> None:
    """The last lines a training script prints: counters, final mean return, where things went
    (``cfg``, the run's config, lets a note about a run without episodes name its time limit)."""
    run_dir = absolute(result.run_dir)
    finished = (
        f"finished: {counted(result.env_steps, 'env step')}, {counted(result.episodes, 'episode')}, "
        f"{counted(result.updates, 'update')} in {result.seconds:.1f} s; mean return over the last "
        f"{counted(len(result.recent_returns), 'episode')}: "
        f"{shown_return(result.final_mean_return)}{target_note(result)}"
    )
    print(
        f"\n{finished}\n"
        f"run folder:  {run_dir}\n"
        f"checkpoint:  {run_dir / CHECKPOINT_NAME}\n"
        f"config:      {run_dir / 'config.yaml'}"
    )
    write_to_run_logs(finished)  # the log ended with its last progress line, as a stopped run's did
    print_tensorboard_line(run_dir)
    print_no_episode_note(result, cfg)


def time_limit(cfg: DictConfig) -> int | None:
    """The run's time limit: its ``env_kwargs.max_episode_steps`` (``gymnasium.make`` takes it over
    the registered one), else the registered one; None when neither is set."""
    own = cfg.env_kwargs.get("max_episode_steps")
    return own if isinstance(own, int) and not isinstance(own, bool) else registered_time_limit(cfg.env)


def target_note(result: TrainResult) -> str:
    """What the final mean return says about the target: `` (target 475 reached)``, `` (target 475
    reached during the run; the final mean is below it)`` (``budget.stop_at_target=false`` trains
    on after reaching it) or, never reached, ``""``."""
    if not result.reached_target:
        return ""
    if result.ends_at_target:
        return f" (target {result.target:g} reached)"
    return f" (target {result.target:g} reached during the run; the final mean is below it)"


def print_tensorboard_line(run_dir: Path) -> None:
    """The command that opens ``run_dir``'s curves, where it has any (``logging.tensorboard=false``
    writes none; a ``num_seeds`` run's are in its seed folders)."""
    if any(run_dir.rglob("events.out.tfevents.*")):
        print(f"tensorboard: tensorboard --logdir {shlex.quote(str(absolute(run_dir)))}")


def absolute(path: Path) -> Path:
    """``path`` from the root, where the OS finds it (a relative ``run_dir=`` or ``resume=``, or
    one through a link and ``..``, is printed where it lies)."""
    return Path(os.path.realpath(path))


def print_no_episode_note(result: RunResult, cfg: DictConfig | None = None) -> None:
    """``note: <no_episode_note>``, where there is one."""
    note = no_episode_note(result, cfg)
    if note is not None:
        print(f"note: {note}")


def warn_if_nothing_learned(result: RunResult, cfg: DictConfig) -> None:
    """:func:`no_episode_note` as a ``UserWarning`` (``agents.train`` prints no summary)."""
    note = no_episode_note(result, cfg)
    if note is not None:
        warn_at_caller(note)


def no_episode_note(result: RunResult, cfg: DictConfig | None = None) -> str | None:
    """What to change when a run (a seed's, of several) made no update; None when each made one.
    It did what it was told, so this is no error, but an env that never ends an episode trains only
    with a time limit (evaluation cuts such episodes at its own cap and says so too), and one whose
    time limit no sub-env reached needs a larger budget (or fewer sub-envs)."""
    idle = [seed for seed in result.seed_results if seed.episodes == 0]
    if not idle:
        unused = [seed for seed in result.seed_results if seed.updates == 0]
        if unused:  # episodes ended, fewer than an update takes
            return (
                f"{counted(unused[0].episodes, 'episode')} ended in "
                f"{counted(unused[0].env_steps, 'env step', grouped=True)}"
                f"{'' if len(result.seed_results) == 1 else f' ({len(unused)} seeds)'}, fewer than "
                "agent.episodes_per_update, so nothing was learned (0 updates): raise "
                "budget.total_env_steps or lower agent.episodes_per_update"
            )
        return None
    seeds = len(result.seed_results)
    where = f"{len(idle)} of {seeds} seeds' runs"
    short = sum(1 for seed in result.seed_results if seed.episodes and not seed.updates)
    also = ""
    if short:  # (the note named only the seeds without an episode)
        where += f" (and {short} more ended fewer episodes than agent.episodes_per_update)"
        also = "; for those, also lower agent.episodes_per_update"
    if seeds == 1:
        where = counted(idle[0].env_steps, "env step", grouped=True)
    num_envs, limit = (1, None) if cfg is None else (cfg.vector.num_envs, time_limit(cfg))
    each = idle[0].env_steps // num_envs  # steps of each sub-env (of one seed)
    if limit is not None and each < limit:  # (Taxi-v4's 200 over 16 sub-envs of 125 steps each)
        took = f"each of the {num_envs} sub-envs took {each:,} steps, " if num_envs > 1 else ""
        return (
            f"no episode ended in {where}, so nothing was learned (0 updates): {took}fewer than "
            f"env={cfg.env}'s time limit of {limit:,} steps; raise budget.total_env_steps"
            f"{' or lower vector.num_envs' if num_envs > 1 else ''}{also}"
        )
    return (
        f"no episode ended in {where}, so nothing was learned (0 updates): an env that never ends "
        f"one needs a time limit ({TIME_LIMIT}, or max_episode_steps= in its gymnasium.register call); "
        f"otherwise raise budget.total_env_steps{also}"
    )
