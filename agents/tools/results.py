"""The results table: every preset (``configs/experiment/<name>.yaml``) trained over several seeds.

Per preset and seed, :func:`run_preset` trains in-process with ``experiment=<name> seed=<s>`` (no
progress bar, no TensorBoard, a temporary run folder) and records env steps, wall time and the
final mean return (mean undiscounted return of the last ``budget.window`` episodes, the trainer's
``final_mean_return``). :func:`results_table` reduces the seeds to mean +- sample standard
deviation (:func:`~agents.runtime.multi_seed.std_over_seeds`, ``ddof = 1``, as the seeds table of a
``num_seeds`` run) and formats one markdown row per preset.

The file it writes may hold more than the table (``docs/results.md`` goes on with hand-written
sections): :func:`results_document` replaces only what lies between :data:`TABLE_BEGIN` and
:data:`TABLE_END`, and a file without those lines is never written over. A run that stops early (a
signal, an error) leaves that file as it was: the presets that finished go to :func:`partial_path`
beside it. :func:`check_presets` makes every preset's env before the first one trains, so a missing
optional dependency (Box2D) is found before the work, not after it.
"""

from __future__ import annotations

import signal
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import TYPE_CHECKING

from agents.errors import RunInterrupted, UserError
from agents.runtime.multi_seed import std_over_seeds
from agents.runtime.return_stats import shown_return
from agents.runtime.trainer import Trainer, preflight, signal_line
from agents.tools.composing import compose_train_config
from agents.tools.presets import preset_names
from agents.tools.tables import markdown_table
from agents.tools.usage import CONFIG_DIR

if TYPE_CHECKING:
    from omegaconf import DictConfig

EXPERIMENT_DIR = Path(CONFIG_DIR) / "experiment"

QUICK_PRESETS = (
    "cartpole",
    "cartpole_mlp",
    "acrobot",
    "acrobot_mlp",
    "frozenlake",
    "frozenlake_slippery",
    "cliffwalking",
    "taxi",
    "short_corridor",
    "mountaincar",
)
"""Presets that train 5 seeds in a few minutes on 2 cores (``scripts/results_table.py``'s default)."""
LONG_PRESETS = ("lunarlander", "lunarlander_mlp")
"""Presets that take much longer (``long=true``; 1M steps a seed) and need the ``box2d`` extra."""


@dataclass
class SeedResult:
    """One training run of one preset."""

    seed: int
    env_steps: int
    seconds: float
    final_mean_return: float


@dataclass
class PresetResult:
    """All seeds of one preset."""

    preset: str
    env: str
    runs: list[SeedResult]

    @property
    def mean_env_steps(self) -> float:
        return statistics.fmean(run.env_steps for run in self.runs)

    @property
    def mean_seconds(self) -> float:
        return statistics.fmean(run.seconds for run in self.runs)

    @property
    def mean_return(self) -> float:
        return statistics.fmean(run.final_mean_return for run in self.runs)

    @property
    def std_return(self) -> float:
        """Sample standard deviation over seeds (0 for a single seed): :func:`std_over_seeds`."""
        return std_over_seeds([run.final_mean_return for run in self.runs])

    def final_return(self, spread: str = "±", digits: int = 2) -> str:
        """``mean ± std``; one seed has no spread, said so rather than printed as ``± 0.00``."""
        if len(self.runs) == 1:
            return f"{shown_return(self.mean_return, digits)} (1 seed: no std)"
        return f"{shown_return(self.mean_return, digits)} {spread} {shown_return(self.std_return, digits)}"


def available_presets() -> list[str]:
    """The presets in ``configs/experiment/``."""
    return preset_names(EXPERIMENT_DIR.parent)


TABLE_BEGIN = "<!-- results-table: begin (written by results-table; edit outside these lines) -->"
TABLE_END = "<!-- results-table: end -->"


def results_document(existing: str | None, generated: str, out: Path) -> str:
    """The markdown file ``out`` gets: ``generated`` (the table and its paragraph) between the markers,
    in place of the old block in ``existing`` (the file's text; None: a new file, titled "Results").

    :raises UserError: ``existing`` has no marked block, so it is not ours to write over.
    """
    block = f"{TABLE_BEGIN}\n{generated.strip()}\n{TABLE_END}"
    if existing is None:
        return f"# Results\n\n{block}\n"
    begin = existing.find(TABLE_BEGIN)
    end = existing.find(TABLE_END, max(begin, 0))
    if begin < 0 or end < 0:
        raise UserError(
            f"out={out} exists and has no '{TABLE_BEGIN}' ... '{TABLE_END}' lines to write the table "
            "between: give a new file, or add those two lines to it"
        )
    return existing[:begin] + block + existing[end + len(TABLE_END) :]


MAX_RESULTS_BYTES = 16 * 2**20
"""Most bytes of an existing ``out=`` file that :func:`existing_results_text` reads (a results
document is kilobytes; ``out=/dev/zero`` read until the machine ran out of memory)."""


def existing_results_text(path: Path) -> str | None:
    """The text of the file ``path`` the table goes into (None: no file yet).

    :raises UserError: ``path`` is no regular file (a device, a pipe: reading it never ended), or
        holds more than :data:`MAX_RESULTS_BYTES`."""
    try:
        stat = path.stat()
    except OSError:  # none there (or /dev/null/x.md): making its folder says why it cannot be
        return None
    if not S_ISREG(stat.st_mode):
        raise UserError(
            f"out={path} is not a regular file (a device or a pipe): give the markdown file to write"
        )
    if stat.st_size > MAX_RESULTS_BYTES:
        raise UserError(
            f"out={path} exists and holds {stat.st_size:,} bytes, more than a results document: give a "
            "new file"
        )
    return path.read_text(encoding="utf-8", errors="surrogateescape")


def partial_path(out: Path) -> Path:
    """Where a run that stopped early writes the presets that finished: ``results.partial.md``
    beside ``out=results.md``, which keeps its complete table."""
    return out.with_name(f"{out.stem}.partial{out.suffix}")


def preset_config(preset: str, seed: int, run_dir: str, overrides: Sequence[str] = ()) -> DictConfig:
    """The config one seed of ``experiment=<preset>`` trains with (no progress bar, no TensorBoard)."""
    return compose_train_config(
        [
            f"experiment={preset}",
            f"seed={seed}",
            f"run_dir={run_dir}",
            "logging.progress_bar=false",
            "logging.tensorboard=false",
            *overrides,
        ]
    )


def check_presets(presets: Sequence[str], overrides: Sequence[str] = ()) -> None:
    """Every check a run makes before it trains (:func:`~agents.runtime.trainer.preflight`: keys,
    the env made once and closed, sizes), for each preset.

    :raises UserError: one line naming the first preset that cannot run and why.
    """
    with tempfile.TemporaryDirectory() as run_dir:
        for preset in presets:
            try:
                preflight(preset_config(preset, 0, run_dir, overrides))
            except UserError as error:
                raise UserError(f"experiment={preset} cannot run, so nothing was trained: {error}") from None


STOP_MESSAGE = "stopping; the presets that finished are written, this one is dropped"
"""What the first signal's line says (a trainer's says it saves a checkpoint; here its folder goes)."""


def run_preset(preset: str, seeds: Sequence[int], overrides: Sequence[str] = ()) -> PresetResult:
    """Train ``experiment=<preset>`` once per seed; ``overrides`` go after the preset's own values."""
    runs, env = [], ""
    for seed in seeds:
        with tempfile.TemporaryDirectory() as run_dir:
            cfg = preset_config(preset, seed, run_dir, overrides)
            env = _env_label(cfg.env, dict(cfg.env_kwargs))
            try:
                with signal_line(STOP_MESSAGE):
                    result = Trainer(cfg).run()
            except RunInterrupted as stopped:  # its resume line would name the temporary folder
                name = signal.Signals(stopped.exit_code - 128).name
                raise RunInterrupted(
                    f"{name}: stopped during experiment={preset}, seed {seed}", stopped.exit_code
                ) from None
        runs.append(SeedResult(seed, result.env_steps, result.seconds, result.final_mean_return))
    return PresetResult(preset, env, runs)


def _env_label(env_id: str, env_kwargs: dict[str, object]) -> str:
    """``FrozenLake-v1 (is_slippery=False)``: the id and any non-default kwargs."""
    if not env_kwargs:
        return env_id
    return f"{env_id} ({', '.join(f'{key}={value}' for key, value in env_kwargs.items())})"


def results_table(results: Sequence[PresetResult]) -> str:
    """One markdown row per preset: env, preset, seeds, env steps, wall time, final return."""
    header = ["env", "preset", "seeds", "env steps (mean)", "wall time / seed", "final return (mean ± std)"]
    rows = [
        [
            result.env,
            f"`experiment={result.preset}`",
            str(len(result.runs)),
            f"{result.mean_env_steps:,.0f}",
            f"{result.mean_seconds:.1f} s",
            result.final_return(),
        ]
        for result in results
    ]
    return markdown_table(header, rows)
