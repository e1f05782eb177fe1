"""Settings given for an option the run did not choose: a note, not an error.

``features=raw features.degree=3`` and ``agent.hidden_sizes=[8]`` with a linear policy trained as if
the key had not been given, without a word (the schema holds every option's keys, so Hydra takes
them). A run still takes them, as a sweep over options shares its other keys (``-m features=raw,rbf
features.num_centers=5``), but says which of the keys it was given its options do not read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import gymnasium as gym
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException

from agents.features.maps import FEATURE_MAP_READS, fully_bounded

FEATURE_KEYS = frozenset(key for reads in FEATURE_MAP_READS.values() for key in reads)
"""Every ``features.*`` key some map reads."""
SHIPPED_POLICIES = ("state", "action", "mlp")
"""The forms whose keys are known here (a form of one's own may read any ``agent.*`` key)."""

AGENT_KEY_READERS: dict[str, tuple[Callable[[Any], bool], str, str]] = {
    "hidden_sizes": (lambda agent: agent.policy == "mlp", "agent.policy={policy}", "agent.policy=mlp"),
    "activation": (
        lambda agent: (
            (agent.policy == "mlp" and bool(agent.hidden_sizes))
            or (agent.baseline == "value" and bool(agent.value_hidden_sizes))
        ),
        "agent.policy={policy} agent.baseline={baseline}",
        "hidden layers: agent.policy=mlp, or agent.baseline=value with agent.value_hidden_sizes",
    ),
    **{
        key: (lambda agent: agent.baseline == "value", "agent.baseline={baseline}", "agent.baseline=value")
        for key in ("baseline_lr", "value_hidden_sizes", "value_optimizer", "value_epochs")
    },
}
"""``agent.*`` keys only some choices read: key -> (whether ``cfg.agent`` reads it, the choice that
does not (a template over ``cfg.agent``), the choices that do)."""


def given_keys(overrides: Iterable[str]) -> list[str]:
    """The dotted keys ``key=value`` overrides set (Hydra's grammar); a mapping given to a node
    (``'features={name:raw,degree:3}'``, ``'agent={hidden_sizes:[8]}'``) sets its keys."""
    parser = OverridesParser.create()
    keys = []
    for override in overrides:
        try:
            parsed = parser.parse_override(override)
        except HydraException:  # (composition refused it already; an API caller's odd value)
            continue
        if parsed.is_delete():
            continue
        keys.append(parsed.key_or_group)
        value = parsed.value()
        if isinstance(value, dict):
            keys += [f"{parsed.key_or_group}.{name}" for name in value]
    return keys


STAND_INS = ("bounds", "clip")
"""``features.*`` keys a map of a bounded range reads only for a dimension without its own bounds."""
BOUNDED_RANGE_MAPS = ("polynomial", "fourier", "rbf", "tile")
"""The maps that scale the observations from their bounds (:func:`~agents.features.maps.box_bounds`)."""


def unread_settings(cfg: Any, keys: Iterable[str], space: gym.Space | None = None) -> list[str]:
    """Of the dotted ``keys`` given (``features.degree``), those the options ``cfg`` chose do not
    read, each with the choice that ignores it and those that would read it (:func:`_ignored`);
    ``space``, the env's observations, where known: Discrete ones' one-hot features read no key, and
    a Box bounded in every dimension needs no stand-in bound."""
    unread = []
    name_of_map = cfg.features.name
    keys = list(dict.fromkeys(keys))
    for key in keys:
        group, _, name = key.partition(".")
        if group == "features" and name in FEATURE_KEYS:
            if isinstance(space, gym.spaces.Discrete):
                unread.append(
                    f"{key} has no effect on Discrete observations (their one-hot features read none)"
                )
            elif name not in FEATURE_MAP_READS.get(name_of_map, (name,)):
                readers = [option for option, reads in FEATURE_MAP_READS.items() if name in reads]
                unread.append(_ignored(key, f"features={name_of_map}", f"features={', '.join(readers)}"))
            elif name in STAND_INS and name_of_map in BOUNDED_RANGE_MAPS and space is not None:
                if fully_bounded(space):
                    unread.append(
                        f"{key} has no effect: every dimension of the observations has its own bounds "
                        f"(features={name_of_map} reads it for those without)"
                    )
                elif name == "clip" and cfg.features.bounds:
                    unread.append(f"{key} has no effect: features.bounds stands in for every missing bound")
        elif group == "agent" and name in AGENT_KEY_READERS and cfg.agent.policy in SHIPPED_POLICIES:
            reads, chosen, readers = AGENT_KEY_READERS[name]
            if not reads(cfg.agent):
                unread.append(
                    _ignored(
                        key, chosen.format(policy=cfg.agent.policy, baseline=cfg.agent.baseline), readers
                    )
                )
        elif key == "batched_update_every" and not (cfg.seed_mode == "batched" and cfg.num_seeds > 1):
            unread.append(
                _ignored(
                    key,
                    f"seed_mode={cfg.seed_mode} num_seeds={cfg.num_seeds}",
                    "seed_mode=batched and num_seeds > 1",
                )
            )
    agent = cfg.agent
    if (
        {"agent.baseline", "agent.episodes_per_update"} & set(keys)
        and agent.baseline == "time"
        and agent.episodes_per_update == 1
        and cfg.vector.num_envs == 1  # (several sub-envs may end episodes on one step: a batch of more)
    ):
        unread.append(
            "agent.baseline=time has no effect with agent.episodes_per_update=1: it subtracts the mean "
            "return of the batch's other episodes, and a batch of one episode has none (b = 0; give "
            "agent.episodes_per_update=2 or more)"
        )
    return unread


def unread_settings_note(cfg: Any, overrides: Iterable[str], space: gym.Space | None = None) -> str | None:
    """The note a run gives about the ``key=value`` ``overrides`` its options do not read (on
    observations of ``space``); None when it read them all."""
    unread = unread_settings(cfg, given_keys(overrides), space)
    return "; ".join(unread) if unread else None


def _ignored(key: str, chosen: str, readers: str) -> str:
    """``features.degree has no effect with features=raw (read with features=polynomial, fourier)``."""
    return f"{key} has no effect with {chosen} (read with {readers})"
