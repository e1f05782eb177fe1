"""Settings given for an option the run did not choose: a note, not an error.

``features=raw features.degree=3`` and ``agent.hidden_sizes=[8]`` with a linear policy trained as if
the key had not been given, without a word (the schema holds every option's keys, so Hydra takes
them). A run still takes them, as a sweep over options shares its other keys (``-m features=raw,rbf
features.num_centers=5``), but says which of the keys it was given its options do not read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agents.features.maps import FEATURE_MAP_READS

POLICIES_READING = {"hidden_sizes": ("mlp",), "activation": ("mlp",)}
"""``agent.*`` keys -> the shipped policy forms that read them (a form of one's own may read any)."""
VALUE_BASELINE_KEYS = ("baseline_lr", "value_hidden_sizes", "value_optimizer", "value_epochs", "activation")
"""``agent.*`` keys only the value baseline reads (``activation``: its hidden layers', as the MLP's)."""
SHIPPED_POLICIES = ("state", "action", "mlp")


def unread_settings(cfg: Any, keys: Iterable[str]) -> list[str]:
    """Of the dotted ``keys`` given (``features.degree``), those the options ``cfg`` chose do not
    read, each with the choice that ignores it and those that would read it (:func:`_ignored`)."""
    unread = []
    for key in dict.fromkeys(key.lstrip("+~") for key in keys):
        group, _, name = key.partition(".")
        if group == "features" and name in {k for reads in FEATURE_MAP_READS.values() for k in reads}:
            if name not in FEATURE_MAP_READS.get(cfg.features.name, (name,)):
                readers = [option for option, reads in FEATURE_MAP_READS.items() if name in reads]
                unread.append(
                    _ignored(key, f"features={cfg.features.name}", f"features={', '.join(readers)}")
                )
        elif group == "agent" and cfg.agent.policy in SHIPPED_POLICIES:
            by_policy = cfg.agent.policy in POLICIES_READING.get(name, (cfg.agent.policy,))
            by_baseline = name in VALUE_BASELINE_KEYS and cfg.agent.baseline == "value"
            if name in POLICIES_READING and not (by_policy or by_baseline):
                also = " or agent.baseline=value" if name in VALUE_BASELINE_KEYS else ""
                readers = f"agent.policy={', '.join(POLICIES_READING[name])}{also}"
                unread.append(_ignored(key, f"agent.policy={cfg.agent.policy}", readers))
            elif name in VALUE_BASELINE_KEYS and name not in POLICIES_READING and not by_baseline:
                unread.append(_ignored(key, f"agent.baseline={cfg.agent.baseline}", "agent.baseline=value"))
    return unread


def unread_settings_note(cfg: Any, overrides: Iterable[str]) -> str | None:
    """The note a run gives about the ``key=value`` ``overrides`` its options do not read; None
    when it read them all."""
    keys = [override.partition("=")[0] for override in overrides if "=" in override]
    unread = unread_settings(cfg, keys)
    if not unread:
        return None
    return "; ".join(unread)


def _ignored(key: str, chosen: str, readers: str) -> str:
    """``features.degree has no effect with features=raw (read with features=polynomial, fourier)``."""
    return f"{key} has no effect with {chosen} (read with {readers})"
