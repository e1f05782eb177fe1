"""A sweep's joblib launcher and Optuna sweeper settings, checked before Hydra starts them.

Hydra's schemas type these settings (``hydra.launcher.n_jobs=abc`` fails at composition) but not
their values, which joblib and Optuna check only once the sweep has begun, with a traceback:
``hydra.launcher.prefer=x`` (joblib's ValueError), ``hydra.sweeper.direction=sideways`` (Optuna's),
``hydra.sweeper.storage=nonsense`` (SQLAlchemy's). Others failed nothing and did the wrong thing:
``hydra.launcher.pre_dispatch=0`` ran no job, ``hydra.launcher.backend=threading`` was ignored
(the launcher always uses loky), ``hydra.sweeper.direction=[maximize,minimize]`` failed every trial
(training returns one value). Each is one :class:`~agents.errors.UserError` line here, naming the
setting and what it accepts.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
import os
import re
import shutil
from enum import Enum
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig

from agents.errors import UserError, describe
from agents.runtime.config import check_choice

JOBLIB_BACKEND = "loky"
"""The backend Hydra's joblib launcher always uses (``_core.py``: threads are incompatible with Hydra)."""
JOBLIB_PREFER = ("processes", "threads")
MMAP_MODES = ("r+", "r", "w+", "c")
OPTUNA_DIRECTIONS = ("minimize", "maximize")


def _pre_dispatch_jobs(pre_dispatch: str, n_jobs: int) -> int | None:
    """How many jobs joblib hands out first for ``pre_dispatch`` (``all``: None), as it computes it
    (``joblib.Parallel``: its own arithmetic evaluator on the text with ``n_jobs`` replaced); 0 for
    text it refuses."""
    from joblib._utils import eval_expr  # what Parallel evaluates pre_dispatch with

    if pre_dispatch.strip() == "all":
        return None
    try:
        return int(eval_expr(pre_dispatch.replace("n_jobs", str(n_jobs))))
    except (ValueError, OverflowError):
        return 0


def check_joblib_launcher(launcher: DictConfig) -> None:
    """``hydra/launcher=joblib``'s settings (``hydra_joblib_launcher/config.py``), as joblib reads them."""
    from joblib import effective_n_jobs

    if launcher.n_jobs == 0:
        raise UserError("hydra.launcher.n_jobs=0 gives joblib no worker: give 1 or more (-1: one per CPU)")
    if launcher.backend not in (None, JOBLIB_BACKEND):
        raise UserError(
            f"hydra.launcher.backend={launcher.backend} is not used: Hydra's joblib launcher always runs "
            f"{JOBLIB_BACKEND} processes (leave it out, or give null or {JOBLIB_BACKEND})"
        )
    check_choice("hydra.launcher.prefer", launcher.prefer, JOBLIB_PREFER)
    if launcher.require is not None:
        raise UserError(
            f"hydra.launcher.require={launcher.require}: the launcher's {JOBLIB_BACKEND} processes share no "
            "memory, so only null is accepted"
        )
    if launcher.timeout is not None:  # joblib ends the pool: every running job dies unsaved, a traceback
        raise UserError(
            f"hydra.launcher.timeout={launcher.timeout}: a job past it would be killed without saving; leave "
            "it null and bound each job by budget.total_env_steps (Ctrl-C or kill <pid> stops the sweep, and "
            "every running job saves)"
        )
    pre_dispatch = str(launcher.pre_dispatch)
    first_jobs = _pre_dispatch_jobs(pre_dispatch, effective_n_jobs(launcher.n_jobs))
    if first_jobs is not None and first_jobs < 1:  # joblib ran no job at all with 0
        raise UserError(
            f"hydra.launcher.pre_dispatch={pre_dispatch} must be all, an integer >= 1 or an expression of "
            "n_jobs worth at least 1 (e.g. 2*n_jobs)"
        )
    batch_size = str(launcher.batch_size)
    if batch_size != "auto" and not (batch_size.isdigit() and int(batch_size) >= 1):
        raise UserError(f"hydra.launcher.batch_size={batch_size} must be auto or an integer >= 1")
    max_nbytes = launcher.max_nbytes
    if max_nbytes is not None and not re.fullmatch(r"\d+|\d+(\.\d*)?[KMG]", str(max_nbytes)):
        raise UserError(
            f"hydra.launcher.max_nbytes={max_nbytes} must be null, a byte count or a size such as 1M "
            "(units K, M, G)"
        )
    check_choice("hydra.launcher.mmap_mode", launcher.mmap_mode, MMAP_MODES)


def _direction_name(direction: Any) -> Any:
    return direction.name if isinstance(direction, Enum) else direction  # the schema's default is an Enum


def check_optuna_sweeper(sweeper: DictConfig) -> None:
    """``hydra/sweeper=optuna``'s settings (``hydra_optuna_sweeper/config.py``), as Optuna reads them."""
    for key, counts in (("n_trials", "trials in total"), ("n_jobs", "trials per batch")):
        value = sweeper.get(key)
        if isinstance(value, int) and value < 1:  # no best trial; a division by zero
            raise UserError(f"hydra.sweeper.{key}={value} must be >= 1 ({counts})")
    direction = sweeper.direction
    directions = list(direction) if isinstance(direction, (list, ListConfig)) else [direction]
    names = [_direction_name(item) for item in directions]
    if len(names) != 1 or names[0] not in OPTUNA_DIRECTIONS:
        shown = names[0] if len(names) == 1 else f"[{','.join(map(str, names))}]"
        raise UserError(
            f"hydra.sweeper.direction={shown} is not one of {', '.join(OPTUNA_DIRECTIONS)} (training returns "
            "one value, the final mean return)"
        )
    rate = sweeper.max_failure_rate
    if not (math.isfinite(rate) and 0 <= rate <= 1):
        raise UserError(
            f"hydra.sweeper.max_failure_rate={rate} must be in [0, 1] (the share of a batch that may fail)"
        )
    _check_storage(sweeper.storage)
    _check_stored_study(sweeper.storage, sweeper.study_name, names[0])
    seed = sweeper.sampler.get("seed") if isinstance(sweeper.sampler, DictConfig) else None
    if seed is not None and not 0 <= seed < 2**32:
        raise UserError(
            f"hydra.sweeper.sampler.seed={seed} must be in [0, 2**32) or null (numpy's seed range)"
        )


def _check_storage(storage: Any) -> None:
    """Null (in memory) or a database URL whose SQLite file can be made."""
    if storage is None:
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    hint = "give null (the study in memory) or a database URL such as sqlite:///optuna.db"
    if not isinstance(storage, str):
        raise UserError(f"hydra.sweeper.storage={storage} is not a database URL: {hint}")
    try:
        url = make_url(storage)
    except ArgumentError:
        raise UserError(f"hydra.sweeper.storage={storage} is not a database URL: {hint}") from None
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        folder = Path(url.database).parent
        if not folder.is_dir():
            raise UserError(
                f"hydra.sweeper.storage={storage}: the folder {folder} does not exist (create it or give "
                "another path)"
            )

    if _storage_breaks():
        raise UserError(
            f"hydra.sweeper.storage={storage}: optuna {_version('optuna')} cannot use a database with "
            f"SQLAlchemy {_version('sqlalchemy')} (its storage needs SQLAlchemy < 2; hydra-optuna-sweeper "
            "pins optuna < 3): give storage=null, the study in memory"
        )


def _check_stored_study(storage: str | None, study_name: str | None, direction: str) -> None:
    """An existing SQLite file of ``storage``: one Optuna can write, whose study ``study_name`` (if
    it holds one) optimises in ``direction``; Optuna's errors for these (``file is not a database``,
    a failed commit, ``Cannot overwrite study direction``) were tracebacks once the sweep began."""
    from sqlalchemy.engine import make_url

    url = make_url(storage) if storage else None
    if url is None or url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    path = Path(url.database)
    if not path.is_file():
        return  # Optuna makes it (its folder was checked)
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        raise UserError(
            f"hydra.sweeper.storage={storage}: {path} (or its folder) cannot be written, and the sweep "
            "adds its trials there: make it writable or give another file"
        )
    import optuna

    try:
        summaries = optuna.get_all_study_summaries(storage=storage)
    except Exception as error:  # sqlalchemy's DatabaseError for a file that is no database, ...
        raise UserError(
            f"hydra.sweeper.storage={storage}: {path} is no Optuna database ({describe(error)})"
        ) from None
    study = next((summary for summary in summaries if summary.study_name == study_name), None)
    stored = study.direction.name.lower() if study is not None else direction
    if stored != direction:
        raise UserError(
            f"hydra.sweeper.direction={direction}: study {study_name} in {path} was made to {stored}; give "
            f"hydra.sweeper.direction={stored} to continue it, or another hydra.sweeper.study_name"
        )


def _version(package: str) -> str:
    return importlib.metadata.version(package)


def _storage_breaks() -> bool:
    """Whether optuna's database storage fails with the installed pair: optuna 2's migrations
    (what hydra-optuna-sweeper 1.2 pins) fail an ``assert`` under SQLAlchemy 2, after the study's
    folder was made (``optuna.storages.RDBStorage``)."""
    return int(_version("optuna").split(".")[0]) < 3 and int(_version("sqlalchemy").split(".")[0]) >= 2


OPTIONAL_LAUNCHERS = {"ray_local": ("hydra_plugins.hydra_ray_launcher", "ray")}
"""``hydra/launcher`` choices whose Hydra plugin is an optional extra: choice -> (module, extra)."""


def check_launcher_installed(choice: str | None) -> None:
    """``hydra/launcher=ray_local`` without its plugin: Hydra said only ``Could not load
    'hydra/launcher/ray'``; one line naming the extra to install instead."""
    if choice in OPTIONAL_LAUNCHERS:
        module, extra = OPTIONAL_LAUNCHERS[choice]
        if importlib.util.find_spec(module) is None:
            raise UserError(
                f'hydra/launcher={choice} needs the {extra} extra: pip install -e ".[{extra}]" (or use '
                "hydra/launcher=joblib on this machine)"
            )


def check_slurm_launcher() -> None:
    """``hydra/launcher=slurm`` where SLURM is not installed: submitit raised a traceback once
    Hydra had written the sweep's ``multirun.yaml`` (which then refused a retry into that folder)."""
    missing = [tool for tool in ("sbatch", "srun") if shutil.which(tool) is None]
    if missing:
        raise UserError(
            f"hydra/launcher=slurm submits each job with SLURM's sbatch, and {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not on this machine's PATH: run the sweep on the "
            "cluster's login node, or use hydra/launcher=joblib or submitit_local here"
        )
