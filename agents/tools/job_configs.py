"""A multirun's jobs' configs, composed for the check before the first job runs."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

from agents.tools.hydra_compose import compose_files


class SweepJobConfigs:
    """A sweep's jobs' configs as ``compose(config_name, overrides=job)`` makes them, ~10x faster
    for jobs that differ in values only (``seed=range(0,1000)``: 0.1 s a job was a silent minute
    and a half before the first started). Hydra composes a config from the job's config group
    choices and then applies its ``key=value`` overrides to it in order
    (``ConfigLoaderImpl._apply_overrides_to_config``); here the first part is composed once per
    distinct set of the job's config group choices and the same function applies the values, in
    their order, to a copy. A job with any other override (``+key=``, ``~key``) is composed whole.

    :param config_name: the primary config, in the config folder already initialised.
    """

    def __init__(self, config_name: str) -> None:
        self.config_name = config_name
        self.parser = OverridesParser.create()
        self.repository = GlobalHydra.instance().config_loader().repository  # type: ignore[attr-defined]
        self.composed: dict[tuple[str, ...], DictConfig] = {}

    def __call__(self, job: Sequence[str]) -> DictConfig:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl

        choices, values = [], []
        for override in self.parser.parse_overrides(list(job)):
            if self._chooses_a_config(override):
                choices.append(override)
            elif self._sets_a_value(override):
                values.append(override)
            else:  # +key, ~key, a dict, hydra.*: applied in the command line's order with the values
                return compose_files(self.config_name, list(job))
        shape = tuple(override.input_line for override in choices)
        if shape not in self.composed:
            self.composed[shape] = compose_files(self.config_name, list(shape))
        cfg = copy.deepcopy(self.composed[shape])
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        return cfg

    def _chooses_a_config(self, override: Any) -> bool:
        """A config group choice (``experiment=acrobot``, ``+hparams_search=...``), which Hydra
        applies before every value."""
        return not isinstance(override.value(), dict) and bool(
            self.repository.group_exists(override.key_or_group)
        )

    @staticmethod
    def _sets_a_value(override: Any) -> bool:
        """``key=value`` on the job's config, not a group choice (no ``+``/``~``/``@``, ``hydra.*``)."""
        from hydra.core.override_parser.types import OverrideType

        return (
            override.type == OverrideType.CHANGE
            and override.package is None
            and not override.is_sweep_override()
            and override.key_or_group.split(".")[0] != "hydra"
            and not isinstance(override.value(), dict)
        )
