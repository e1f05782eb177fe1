"""TensorBoard logging: scalars against env steps, the config as text and as HParams.

Tags are the constants of :mod:`agents.runtime.tags`; x is always the global env-step count.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summaries

from agents.core.batch import UpdateStats
from agents.runtime import tags
from agents.runtime.config import changes_learning, flatten


def quiet_event_writer_threads() -> None:
    """Leave out the traceback an OSError (a full disk) prints from TensorBoard's writer thread:
    the writer raises that error again in the main thread at its next write, where :class:`Logger`
    makes it one line naming the run folder. Other threads' exceptions go to the hook before."""
    previous = threading.excepthook
    if getattr(previous, "quiets_event_writers", False):
        return

    def hook(args: threading.ExceptHookArgs) -> None:
        if not (
            isinstance(args.exc_value, OSError) and type(args.thread).__module__.startswith("tensorboard.")
        ):
            previous(args)

    hook.quiets_event_writers = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def hyperparameter_table(cfg: DictConfig) -> str:
    """The resolved config as a markdown table for TensorBoard's text tab."""
    flat = flatten(OmegaConf.to_container(cfg, resolve=True))
    rows = "\n".join(f"|{key}|{value}|" for key, value in flat.items())
    return f"|parameter|value|\n|-|-|\n{rows}"


def command_line_keys() -> list[str]:
    """The keys set on this Hydra run's command line (a sweep's varied keys among them); none
    outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    overrides = OmegaConf.to_container(HydraConfig.get().overrides.task, resolve=False)  # as typed
    return [str(override).split("=", 1)[0].lstrip("+~") for override in overrides]


SESSION_STATUS = {"success": api_pb2.STATUS_SUCCESS, "failure": api_pb2.STATUS_FAILURE, "stopped": None}
"""The status of a run's HParams row, which TensorBoard's HParams tab filters on: ``success``
(the run spent its budget or reached its target) or ``failure`` (it ended on an error: the env's
fault, a numerical failure, a full disk; a batched seed cut short by another's). A run ``stopped``
by a signal (or an exact seed cut short by another's failure), to be resumed, writes no session
end: TensorBoard shows its status as ``Unknown`` and, once it is resumed, the end of the resume (it
reads the first session end in a folder). ``torch.utils.tensorboard``'s ``hparams`` writes
``STATUS_SUCCESS`` for every row."""


def _edit_plugin_data(summary: Any, edit: Callable[[Any], None]) -> None:
    """Apply ``edit`` to an HParams summary's ``HParamsPluginData`` (in place)."""
    content = summary.value[0].metadata.plugin_data
    data = plugin_data_pb2.HParamsPluginData.FromString(content.content)
    edit(data)
    content.content = data.SerializeToString()


def _mark_differing(data: Any, keys: set[str]) -> None:
    """Set ``differs`` on the experiment's hyperparameters named in ``keys``."""
    for info in data.experiment.hparam_infos:
        info.differs = info.name in keys


def hparams_record(
    config: Any, metrics: dict[str, float], differing: set[str], status: str = "success"
) -> tuple[list[Any], dict[str, float]]:
    """A run's row of TensorBoard's HParams tab: its summaries (experiment, session start, session
    end) and its ``final/<metric>`` scalars. ``config``: the resolved config (a mapping or a
    DictConfig); its keys that change learning are the row's hyperparameters, those in
    ``differing`` marked so (:meth:`Logger.hparams`); ``status``: a key of :data:`SESSION_STATUS`
    (``stopped``: no session end)."""
    container = config if isinstance(config, dict) else OmegaConf.to_container(config, resolve=True)
    values = {
        key: v if type(v) in (int, float, str) else str(v)  # bool: str
        for key, v in flatten(container).items()
        if changes_learning(key)
    }
    finals = {tags.FINAL_PREFIX + name: value for name, value in metrics.items()}
    experiment, session_start, session_end = hparams_summaries(values, finals)
    _edit_plugin_data(experiment, lambda data: _mark_differing(data, differing))
    code = SESSION_STATUS[status]
    if code is None:  # stopped, to be resumed: the resume's end is the run's
        return [experiment, session_start], finals
    _edit_plugin_data(session_end, lambda data: setattr(data.session_end_info, "status", code))
    return [experiment, session_start, session_end], finals


def run_status(ending: str | None, stop_signal: int | None) -> str:
    """The key of :data:`SESSION_STATUS` for a run (or seed) that ends: ``ending`` where its
    caller knows it (``failure``, or ``stopped`` for a seed cut short by another's failure), else
    ``stopped`` after a signal, ``success`` without one."""
    return ending or ("success" if stop_signal is None else "stopped")


class Logger:
    """TensorBoard scalars against env steps (a no-op writer when ``logging.tensorboard=false``).

    Scalars are handed to the ``SummaryWriter`` in batches, every ``handoff_seconds`` and when
    the run ends or is interrupted (:meth:`close`), each with the wall time it was logged at.
    Every hand-off wakes TensorBoard's writer thread, which must take the GIL from the training
    loop; on the 2-core VMs here each such switch stalled the loop for up to ~7 ms (16 CartPole
    envs ran 27% slower with a hand-off per update). The writer buffers its file for 120 s
    anyway, so batching loses nothing that a crash would not.

    :param each_episode: one point per finished episode; else the mean of the episodes that ended
        since the last point, written with the update statistics (``logging.episode_stats``).
    """

    handoff_seconds = 5.0
    """Seconds between hand-offs; ``math.inf`` after :meth:`leave_handoffs_to_caller`."""

    def __init__(
        self, run_dir: Path, enabled: bool, cfg: DictConfig, purge_step: int | None = None,
        each_episode: bool = True,
    ) -> None:  # fmt: skip
        self.writer = None
        self.run_dir = run_dir
        self.failed: OSError | None = None
        """The first failed write (a full disk), which :meth:`flush` raises; then nothing is written."""
        if enabled:  # max_queue: a batch must not block on a full queue (a thread switch per event)
            quiet_event_writer_threads()
            self.writer = SummaryWriter(str(run_dir), max_queue=100_000, purge_step=purge_step)
            try:
                if purge_step is None:
                    self.writer.add_text(tags.HPARAMS_TEXT, hyperparameter_table(cfg))
            except BaseException:  # a Ctrl-C: its thread writes no more (its caller removes the file)
                with suppress(Exception):  # (a full disk's error, or its thread's: the Ctrl-C goes on)
                    self.writer.close()
                raise
        self.each_episode = each_episode
        self.pending_episodes, self.pending_return, self.pending_length = 0, 0.0, 0
        self.batch: list[tuple[str, float, int, float]] = []
        self.next_handoff = time.monotonic() + self.handoff_seconds

    def scalar(self, tag: str, value: float, env_steps: int) -> None:
        if self.writer is None:
            return
        self.batch.append((tag, value, env_steps, time.time()))
        if time.monotonic() >= self.next_handoff:
            self.hand_off()

    def leave_handoffs_to_caller(self) -> None:
        """Hand off only when :meth:`hand_off` is called (``num_seeds`` runs hand all their
        loggers' batches off together, so N writer threads wake once, not N times)."""
        self.handoff_seconds = self.next_handoff = math.inf

    def hand_off(self) -> None:
        """Give the batched scalars to the ``SummaryWriter`` (whose thread writes the file)."""
        if self.writer is not None:
            try:
                for tag, value, env_steps, wall_time in self.batch:
                    self.writer.add_scalar(tag, value, env_steps, walltime=wall_time)
            except OSError as error:  # (its thread's: a full disk) raised at the next flush
                self._fail(error)
        self.batch = []
        self.next_handoff = time.monotonic() + self.handoff_seconds

    def episodes(self, returns: list[float], lengths: list[int], env_steps: int) -> None:
        """Episodes that ended at ``env_steps``: written now, or added to the next mean."""
        if self.writer is None:
            return
        if not self.each_episode:
            self.pending_episodes += len(returns)
            self.pending_return += sum(returns)
            self.pending_length += sum(lengths)
            return
        for episode_return, length in zip(returns, lengths, strict=True):
            self.scalar(tags.EPISODIC_RETURN, episode_return, env_steps)
            self.scalar(tags.EPISODIC_LENGTH, length, env_steps)

    def episode_means(self, env_steps: int) -> None:
        """Write the mean return and length of the episodes added since the last call, if any."""
        if self.pending_episodes:
            self.scalar(tags.EPISODIC_RETURN, self.pending_return / self.pending_episodes, env_steps)
            self.scalar(tags.EPISODIC_LENGTH, self.pending_length / self.pending_episodes, env_steps)
            self.scalar(tags.EPISODES_IN_MEAN, self.pending_episodes, env_steps)
            self.pending_episodes, self.pending_return, self.pending_length = 0, 0.0, 0

    def update(self, stats: UpdateStats, lr: float, steps_per_second: float, env_steps: int) -> None:
        self.episode_means(env_steps)
        for tag, value in (
            (tags.POLICY_OBJECTIVE, stats.policy_objective),
            (tags.BATCH_RETURN, stats.mean_return),
            (tags.ENTROPY, stats.entropy),
            (tags.GRAD_NORM, stats.grad_norm),
            (tags.LEARNING_RATE, lr),
            (tags.STEPS_PER_SECOND, steps_per_second),
        ):
            self.scalar(tag, value, env_steps)

    def hparams(
        self, cfg: DictConfig, metrics: dict[str, float], env_steps: int, status: str = "success"
    ) -> None:
        """One row of TensorBoard's HParams tab: the keys that change learning (not where the run
        writes or how it reports: :data:`~agents.runtime.config.RUN_KEYS`) against
        ``final/<metric>`` scalars.

        TensorBoard lists hyperparameters marked ``differs`` first, then by name
        (``backend_context._sort_and_reduce_to_hparams_limit``), and ticks the first few: the keys
        set on the command line (a sweep's, in every job alike) are marked, so they come first.
        ``status``: how the run (this part of it) ended, a key of :data:`SESSION_STATUS`.
        """
        if self.writer is None:
            return
        self.episode_means(env_steps)
        summaries, finals = hparams_record(cfg, metrics, set(command_line_keys()), status)
        try:
            for summary in summaries:  # in this run's own event file
                self.writer.file_writer.add_summary(summary)
        except OSError as error:
            self._fail(error)
        for tag, value in finals.items():
            self.scalar(tag, value, env_steps)

    def text(self, tag: str, text: str, env_steps: int) -> None:
        """A text entry (nothing for an empty ``text``)."""
        if self.writer is not None and text:
            try:
                self.writer.add_text(tag, text, env_steps)
            except OSError as error:
                self._fail(error)

    def flush(self, env_steps: int) -> None:
        """Write every point up to ``env_steps`` (the pending episode means too) to the event
        file now: called before each checkpoint, so a resume never finds a gap.

        :raises OSError: naming the event file's folder, when a write failed (now or before: see
            :attr:`failed`).
        """
        if self.writer is not None:
            self.episode_means(env_steps)
            self.hand_off()
        if self.writer is not None:
            try:
                self.writer.flush()
            except OSError as error:
                self._fail(error)
        if self.failed is not None:
            raise self.failed

    def close(self) -> None:
        """Hand off, flush and close (once; later calls do nothing). A failed write is not raised
        here (a checkpoint's :meth:`flush` raises it): close is also what an error's clean-up calls."""
        if self.writer is not None:
            self.hand_off()
        if self.writer is not None:
            writer, self.writer = self.writer, None
            with suppress(OSError):
                writer.flush()
                writer.close()

    def _fail(self, error: OSError) -> None:
        """A write failed (the writer thread's OSError, ``[Errno 28] No space left on device``,
        names no file): keep it as :attr:`failed`, naming the event file's folder, and write no more."""
        where = f"the TensorBoard event file in {self.run_dir}"
        self.failed = error if error.filename is not None else OSError(error.errno, error.strerror, where)
        writer, self.writer = self.writer, None
        with suppress(OSError):  # its thread stopped at the error
            writer.close()
