"""A sweep job's folder name: ``hydra.sweep.subdir`` in ``configs/train.yaml`` is
``<job number>_${short_overrides:${hydra.job.override_dirname}}_seed<seed>``.

Light on purpose (no torch, no Gymnasium): the launching process registers the resolver before
Hydra composes the config, so a typo on the command line is one line in under a second.
"""

from __future__ import annotations

import os

from omegaconf import OmegaConf

from agents.tools.override_words import SWEPT_KEYS_VARIABLE
from agents.tools.tables import short_number


def short_overrides(override_dirname: str, limit: int = 64) -> str:
    """A sweep job's folder name from Hydra's ``override_dirname``: the last part of each key, floats
    to 4 significant digits, whole ``key=value`` items up to ``limit`` characters (``hparams_search``
    and the seed are left out by ``exclude_keys`` in ``configs/train.yaml``)::

        agent.lr=0.022881136684755242,agent.baseline=mean -> lr=0.02288,baseline=mean
        env=my_envs\\:ns/Maze-v0 -> env=my_envs:ns-Maze-v0   (one folder, not two)
        run_dir=runs/$\\{seed\\} -> run_dir=runs-{seed}        (the text, not job 0's seed)
        experiment_name='a, b',seed=1 -> experiment_name=a, b,seed=1  (an item, quotes gone)

    Where not all fit, the swept keys (:data:`SWEPT_KEYS_VARIABLE`) are kept first: the others
    are the same in every job (the summary shows them once), so a name without them tells the jobs
    apart, and one without a swept key would not.
    """
    items, keys, depth, quote, current = [], [], 0, "", ""
    for char in override_dirname + ",":  # split on the commas outside brackets ([64,64] stays whole)
        escaped = current.endswith("\\")  # and quotes ('a, b' too: it made "x='a_seed0")
        if quote:
            quote = "" if char == quote and not escaped else quote
        elif char in "'\"" and not escaped:
            quote = char
        elif char == "," and depth == 0:
            if current:
                key, _, value = current.partition("=")
                keys.append(key.lstrip("+~").replace("\\", ""))
                name = keys[-1].rsplit(".", 1)[-1].rsplit("/", 1)[-1]  # agent.lr -> lr
                value = value.replace("\\", "").replace("/", "-")  # no escapes; ALE/Pong-v5: one folder
                value = value.replace("${", "{")  # no interpolation: Hydra resolves it again for the log
                value = value.replace("'", "").replace('"', "")  # no quotes: they are the grammar's
                items.append(f"{name}={short_number(value)}")
            current = ""
            continue
        else:
            depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(char, 0)
        current += char
    swept = set(os.environ.get(SWEPT_KEYS_VARIABLE, "").splitlines())
    order = sorted(range(len(items)), key=lambda index: keys[index] not in swept)  # stable: swept first
    kept, length = [], -1
    for index in order:  # whole items only: a name cut mid-key read as another setting
        if kept and length + 1 + len(items[index]) > limit:
            continue
        kept.append(index)
        length += 1 + len(items[index])
    return ",".join(items[index] for index in sorted(kept))[:limit]


def register_resolvers() -> None:
    """``${short_overrides:...}`` for ``hydra.sweep.subdir``: in the launching process before Hydra
    composes (:func:`agents.tools.commands.train`), and in every job's process (importing
    :mod:`agents.tools.sweep`, which Hydra does there to build the sweep callback)."""
    OmegaConf.register_new_resolver("short_overrides", short_overrides, replace=True)
