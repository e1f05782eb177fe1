"""Per-env presets, as rl-baselines3-zoo keeps its tuned hyperparameters per env id.

``configs/env_presets.yaml`` maps an env id to its presets (``configs/experiment/<name>.yaml``):
``env=<id>`` applies the first by itself, or, with ``agent.policy=<form>`` on the command line,
the first one tuned for that policy form (none listed: the generic defaults). The preset enters
the override list as ``experiment=<name>``, so it is composed after the groups' defaults and
before the command line: an override the user typed always wins. ``experiment=<name>`` picks a preset by hand,
``experiment=none`` asks for the generic defaults; a name that is not a preset is a one-line
error with the closest names. Where no preset applies, ``agent.policy=<form>`` on the command line
brings the form's own defaults, ``agent=<form>`` where ``configs/agent/<form>.yaml`` holds them
(:func:`with_form_defaults`: the generic ones are tuned for the linear forms).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import QuotedString
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from agents.errors import UserError
from agents.tools.usage import config_groups, load_yaml

PRESET_GROUP = "experiment"
"""The Hydra config group that holds the presets."""
INDEX_FILE = "env_presets.yaml"
"""The env id -> preset map, in the config folder."""
AGENT_GROUP = "agent"
"""The config group of the agent's hyperparameters: ``reinforce`` (the generic defaults), and a policy
form's own defaults under the form's name (``agent/mlp.yaml``)."""
DEFAULT_AGENT = "reinforce"
"""The ``agent`` option ``configs/train.yaml`` chooses: the generic defaults."""
NO_PRESET = ("none", "null")
"""``experiment=none`` (or Hydra's ``null``): the generic defaults, whatever the env."""


def is_no_preset(name: str) -> bool:
    """``none``, or ``null`` as Hydra reads it (``NULL``, ``Null`` too): the generic defaults."""
    return name in NO_PRESET or name.strip().lower() == "null"


def preset_names(config_dir: str | Path) -> list[str]:
    """The presets in ``<config_dir>/experiment/`` (``none.yaml``, the generic defaults, is none)."""
    paths = (Path(config_dir) / PRESET_GROUP).glob("*.yaml")
    return sorted(path.stem for path in paths if path.stem not in NO_PRESET)


def all_preset_names(config_dir: str | Path, user_dirs: Sequence[str | Path] = ()) -> list[str]:
    """The presets of ``config_dir`` and of the user's own config folders, sorted."""
    return sorted({name for folder in [config_dir, *user_dirs] for name in preset_names(folder)})


def env_presets(config_dir: str | Path, user_dirs: Sequence[str | Path] = ()) -> dict[str, list[str]]:
    """``env id -> [preset, ...]`` from ``<config_dir>/env_presets.yaml`` and the user's own config
    folders' (``--config-dir``), whose entries win for the env ids they list (as an rl-zoo user's
    own hyperparameter file); empty where there is none. The first preset is the env's default
    (``none``: the generic defaults), the others serve other policy forms."""
    presets: dict[str, list[str]] = {}
    for folder in [config_dir, *user_dirs]:
        path = Path(folder) / INDEX_FILE
        listed = (load_yaml(path) or {}) if path.is_file() else {}
        if not isinstance(listed, dict) or not all(
            isinstance(names, str) or (isinstance(names, list) and all(isinstance(n, str) for n in names))
            for names in listed.values()
        ):  # a user's own file ("'list' object has no attribute 'items'" was a traceback)
            raise UserError(f"{path}: {INDEX_FILE} maps env ids to presets, e.g. MyEnv-v0: [mine, none]")
        for env, names in listed.items():
            presets[str(env)] = [names] if isinstance(names, str) else names
    return presets


def preset_file(name: str, config_dir: str | Path, user_dirs: Sequence[str | Path] = ()) -> Path | None:
    """Preset ``name``'s file: in the user's own config folders, else ``config_dir``; None where none is."""
    files = [Path(folder) / PRESET_GROUP / f"{name}.yaml" for folder in [*user_dirs, config_dir]]
    return next((file for file in files if file.is_file()), None)


def preset_policy(name: str, config_dir: str | Path, user_dirs: Sequence[str | Path] = ()) -> str:
    """The policy form (``agent.policy``) preset ``name`` trains (:func:`preset_file`); ``state``
    where it sets none."""
    path = preset_file(name, config_dir, user_dirs)
    preset = (load_yaml(path) or {}) if path is not None else {}
    return str((preset.get("agent") or {}).get("policy", "state"))


def preset_for(
    env: str, policy: str | None, config_dir: str | Path, user_dirs: Sequence[str | Path] = ()
) -> str | None:
    """The preset ``env=<env>`` applies: the env's first listed preset, or, when the command line
    names ``agent.policy``, the first listed one for that form (None: generic defaults). The env's
    entry is the one with its text, else the first with its id (:func:`same_env`: ``MyEnv-v0:``
    serves ``env=my_module:MyEnv-v0``, and ``my_module:MyEnv-v0:`` serves ``MyEnv-v0`` once the
    module registered it; the README's form was never found)."""
    listed = env_presets(config_dir, user_dirs)
    names = listed.get(env) or next((value for key, value in listed.items() if same_env(key, env)), [])
    known = all_preset_names(config_dir, user_dirs) if names else []
    missing = [name for name in names if name not in NO_PRESET and name not in known]
    if missing:  # Hydra's "In 'train': Could not find 'experiment/nosuch'", of a setting nobody typed
        raise UserError(
            f"{INDEX_FILE} lists {missing[0]} for {env}, which is no preset (presets: {', '.join(known)}): "
            f"add experiment/{missing[0]}.yaml to your config folder, or fix the name"
        )
    if policy is None:
        return names[0] if names and names[0] not in NO_PRESET else None
    tuned = (
        name for name in names
        if name not in NO_PRESET and preset_policy(name, config_dir, user_dirs) == policy
    )  # fmt: skip
    return next(tuned, None)


def same_env(first: str, second: str) -> bool:
    """Whether two env ids (as Hydra parses them: :func:`parsed_override_value`), each maybe with
    the module that registers the env (``my_module:MyEnv-v0``), name one env: the same id, and the
    same module where both name one (``MyEnv-v0`` is ``my_module:MyEnv-v0``; ``a:MyEnv-v0`` is not
    ``b:MyEnv-v0``)."""
    first_module, _, first_id = first.rpartition(":")
    second_module, _, second_id = second.rpartition(":")
    return first_id == second_id and (not first_module or not second_module or first_module == second_module)


def override_key(override: str) -> str:
    """The key that ``key=value``, ``+key=value``, ``++key=value`` or ``~key`` names."""
    return override.lstrip("+~").partition("=")[0]


def _split(override: str) -> tuple[str, str, str]:
    """``(key, "=", value)`` of ``key=value``, ``+key=value`` or ``++key=value``."""
    return override.lstrip("+").partition("=")


def override_value(overrides: list[str], key: str) -> str | None:
    """The value of the last ``key=value`` (also ``+key=`` / ``++key=``) in ``overrides``."""
    found = None
    for override in overrides:
        name, sep, value = _split(override)
        if sep and name == key:
            found = value
    return found


def parsed_override(overrides: list[str], key: str) -> Any:
    """The value of the last ``key=value`` in ``overrides`` as Hydra parses it (a list for
    ``[a,b]``); None when ``key`` is absent or set to null, its text when it does not parse."""
    found = [override for override in overrides if _split(override)[1] and _split(override)[0] == key]
    if not found:
        return None
    try:
        return OverridesParser.create().parse_overrides([found[-1]])[0].value()
    except HydraException:  # Hydra's own error comes later
        return _split(found[-1])[2]


def parsed_override_value(overrides: list[str], key: str) -> str | None:
    """:func:`override_value` as Hydra reads it: quotes removed and escapes resolved
    (``run_dir='/tmp/it\\'s'`` -> ``/tmp/it's``); None when ``key`` is absent or set to null."""
    value = parsed_override(overrides, key)
    return None if value is None else str(value)


def resolved_alone(value: str | None) -> str | None:
    """``value`` with the interpolations that need no config resolved (``${oc.env:ENV_ID}``,
    ``${oc.decode:...}``): what the composed config will hold. One that reads another key (or
    fails) is left as written: Hydra resolves or refuses it later."""
    if value is None or "${" not in value:
        return value
    try:
        return str(OmegaConf.create({"value": value})["value"])
    except OmegaConfBaseException:
        return value


def is_sweep(override: str) -> bool:
    """``key=a,b`` (or ``choice(...)``, ``range(...)``, ``glob(...)``): a value Hydra's ``-m`` sweeps
    over, by Hydra's own override parser (an override it cannot parse is none: its error comes later)."""
    try:
        return OverridesParser.create().parse_overrides([override])[0].is_sweep_override()
    except HydraException:
        return False


def override_text(value: Any) -> str:
    """A value as an override writes it: ``true``, ``null``, ``[64,64]``, ``0.05``."""
    return json.dumps(value, separators=(",", ":")) if not isinstance(value, str) else value


def check_preset(
    name: str, config_dir: str | Path, user_dirs: Sequence[str | Path] = (), key: str = PRESET_GROUP
) -> None:
    """A one-line :class:`UserError` (with the closest names) for a preset that does not exist in
    ``config_dir`` nor in the user's own config folders (``--config-dir``); ``key``: the key that
    named it (the benchmark's ``preset=``)."""
    names = all_preset_names(config_dir, user_dirs)
    if name.strip().startswith("["):  # it was "experiment=[cartpole is not a preset"
        listed = name.strip().strip("[]").strip()
        sweep = (
            f"a sweep over presets: -m {key}={listed}" if listed else f"{key}=none for the generic defaults"
        )
        raise UserError(f"{key}={name}: {key} takes one preset by name, not a list ({sweep})")
    for choice in preset_choices(name):  # a sweep over presets: every choice
        if choice not in names and not is_no_preset(choice):
            close = difflib.get_close_matches(choice, names, n=3)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            raise UserError(
                f"{key}={choice} is not a preset ({hint}presets: {', '.join(names)}; "
                f"{key}=none for the generic defaults)"
            )


def preset_choices(name: str) -> list[str]:
    """The presets ``experiment=<name>`` names: the one, or each that a sweep lists (``a,b``,
    ``choice(a,b)``; a ``-m`` sweep's ``glob()`` is written out before it comes here:
    :func:`~agents.tools.sweep_checks.with_globs_listed`)."""
    try:
        (parsed,) = OverridesParser.create().parse_overrides([f"{PRESET_GROUP}={name}"])
        if parsed.is_sweep_override() and parsed.is_discrete_sweep():
            return list(parsed.sweep_string_iterator())
    except HydraException:  # Hydra's own error comes later (choice(null,a): null is no choice)
        return [] if "(" in name else name.split(",")
    return name.split(",")


@dataclass(frozen=True)
class PresetChoice:
    """The override list to compose and the preset it includes."""

    overrides: list[str]
    name: str | None = None
    """The preset applied; None: the generic defaults."""
    automatic_for: str | None = None
    """The env id ``env_presets.yaml`` chose it for; None when the user named it."""
    swept: str | None = None
    """No automatic preset because this key (``env``, ``agent.policy``) is swept: one preset
    cannot fit every job."""
    covered: tuple[str, ...] = ()
    """The user's group choices (``agent=mine``) whose keys the preset sets after them (Hydra
    applies a preset last): its values, not the option's, are the run's."""
    retargeted: tuple[str, str] | None = None
    """(the env a named preset is tuned for, the command line's other ``env``), which wins: the
    preset's hyperparameters train another env than the one they were tuned on."""
    form_defaults: str | None = None
    """The ``agent`` option added for the policy form the command line names, where no preset is
    (:func:`with_form_defaults`)."""
    untuned_forms: tuple[str, ...] = ()
    """Swept policy forms (``-m agent.policy=state,mlp``) with an ``agent`` option of their own,
    which their jobs do not get (:func:`swept_forms_own_options`): the line says how they would."""

    def line(self) -> str | None:
        """What a run prints about it (None: nothing to say)."""
        form = self.form_defaults
        if self.swept:
            each = "the generic defaults"
            if form:
                each += f", agent={form} for agent.policy={form}"
            if self.untuned_forms:
                options = ",".join((DEFAULT_AGENT, *self.untuned_forms))
                each += (f", tuned for the linear forms, also agent.policy={self.untuned_forms[0]}: "
                         f"-m agent={options} gives it its own")  # fmt: skip
            return (f"preset: none ({self.swept} is swept: each job gets {each}; "
                    "experiment=X for one, or -m experiment=X,Y)")  # fmt: skip
        if self.name is None:
            own = f"agent.policy={form}'s own defaults; agent={DEFAULT_AGENT} for the generic ones"
            return f"preset: none; agent={form} ({own})" if form else None
        if is_sweep(f"{PRESET_GROUP}={self.name}"):
            return f"preset: each job its own (experiment={self.name})"
        how = f"tuned for {self.automatic_for}" if self.automatic_for else "chosen"
        if self.retargeted:
            how += f"; tuned for {self.retargeted[0]}, trained on env={self.retargeted[1]}"
        line = f"preset: experiment={self.name} ({how}; experiment=none for the generic defaults)"
        if self.covered:
            groups = ", ".join(f"{choice.partition('=')[0]}.*" for choice in self.covered)
            line += (
                f"; it sets {groups} after {' '.join(self.covered)} (Hydra applies a preset last): "
                f"experiment=none keeps {' '.join(self.covered)}'s values"
            )
        return line


def covered_choices(
    overrides: Sequence[str], preset: str, config_dir: str | Path, user_dirs: Sequence[str | Path] = ()
) -> tuple[str, ...]:
    """The group choices among ``overrides`` (``agent=mine``) whose group the preset's file sets
    keys of (``agent: {lr: 0.003}``), which it then overrides: :attr:`PresetChoice.covered`."""
    sets = set(preset_content(preset, config_dir, user_dirs))
    groups = config_groups(config_dir) - {PRESET_GROUP}
    return tuple(
        f"{_split(arg)[0]}={_split(arg)[2]}" for arg in overrides
        if _split(arg)[1] and _split(arg)[0] in groups & sets and not arg.startswith(("+", "~"))
    )  # fmt: skip


def preset_content(
    preset: str, config_dir: str | Path, user_dirs: Sequence[str | Path] = ()
) -> dict[str, Any]:
    """The top-level keys and values a preset's file sets; empty for one that does not load
    (composing says why)."""
    path = preset_file(preset, config_dir, user_dirs)
    try:
        content = load_yaml(path) if path is not None else {}
    except (OSError, ValueError, UserError):
        return {}
    return content if isinstance(content, dict) else {}


def retargeted(
    overrides: Sequence[str], preset: str, config_dir: str | Path, user_dirs: Sequence[str | Path] = ()
) -> tuple[str, str] | None:
    """:attr:`PresetChoice.retargeted` for a preset the user named beside an ``env`` of their own."""
    typed = override_value(overrides, "env")
    if typed is None or is_sweep(f"env={typed}"):
        return None
    given = parsed_override_value(overrides, "env")  # env='Acrobot-v1' is Acrobot-v1
    tuned_for = preset_content(preset, config_dir, user_dirs).get("env")
    if not given or not isinstance(tuned_for, str):
        return None
    if same_env(given, tuned_for):  # envs:ShortCorridor-v0 is ShortCorridor-v0
        return None
    return tuned_for, given


def with_env_preset(
    overrides: list[str],
    config_dir: str | Path,
    default_env: str = "CartPole-v1",
    user_dirs: Sequence[str | Path] = (),
) -> PresetChoice:
    """``overrides`` with the env's preset put before the first ``key=value``, and which preset
    that is (:func:`env_preset`); where none applies, the named policy form's own defaults
    (:func:`with_form_defaults`)."""
    choice = env_preset(overrides, config_dir, default_env, user_dirs)
    if choice.name is not None or parsed_override_value(overrides, "resume"):
        return choice
    return with_form_defaults(choice, config_dir, user_dirs)


def with_form_defaults(
    choice: PresetChoice, config_dir: str | Path, user_dirs: Sequence[str | Path] = ()
) -> PresetChoice:
    """``choice`` (no preset) with ``agent=<form>`` added where the command line names policy form
    ``<form>`` (``agent.policy=mlp``, not swept) and ``agent/<form>.yaml`` holds the form's own
    defaults, unless it chose an ``agent`` option itself. The generic defaults are tuned for the
    linear forms: their step size, 0.1 under Adam, made an MLP's policy deterministic at once (a
    return of 9.45 on CartPole after 100k steps; 477 with the MLP presets' 0.003)."""
    form = parsed_override_value(choice.overrides, "agent.policy")
    typed = override_value(choice.overrides, "agent.policy")
    if form is None or typed is None or is_sweep(f"agent.policy={typed}"):
        return choice
    if any(override_key(arg) == AGENT_GROUP for arg in choice.overrides):  # agent=mine: the user's
        return choice
    if not has_own_option(form, config_dir, user_dirs):
        return choice
    return replace(
        choice, overrides=with_overrides(choice.overrides, f"{AGENT_GROUP}={form}"), form_defaults=form
    )


def has_own_option(form: str, config_dir: str | Path, user_dirs: Sequence[str | Path] = ()) -> bool:
    """Whether ``agent/<form>.yaml`` (the project's, else the user's: Hydra's order) sets
    ``policy: <form>``: that form's own defaults (``agent=reinforce`` sets ``policy: state``)."""
    if not form.isidentifier():
        return False
    files = [Path(folder) / AGENT_GROUP / f"{form}.yaml" for folder in [config_dir, *user_dirs]]
    found = next((file for file in files if file.is_file()), None)
    try:
        sets = (load_yaml(found) or {}) if found is not None else {}
    except (OSError, ValueError, UserError):  # composing says why
        return False
    return isinstance(sets, dict) and sets.get("policy") == form


def swept_forms_own_options(
    overrides: list[str], config_dir: str | Path, user_dirs: Sequence[str | Path] = ()
) -> tuple[str, ...]:
    """The forms of a sweep over ``agent.policy`` (``state,mlp``) that have an ``agent`` option of
    their own, where no ``agent`` option is chosen: :attr:`PresetChoice.untuned_forms`."""
    if any(override_key(arg) == AGENT_GROUP for arg in overrides):
        return ()
    swept = [arg for arg in overrides if _split(arg)[1] and _split(arg)[0] == "agent.policy"]
    try:
        sweep = OverridesParser.create().parse_overrides(swept[-1:])[0].value()
    except (HydraException, IndexError):
        return ()
    names = [form.text if isinstance(form, QuotedString) else form for form in getattr(sweep, "list", [])]
    forms = [form for form in names if isinstance(form, str)]  # glob(*), range(): no names
    return tuple(form for form in dict.fromkeys(forms) if has_own_option(form, config_dir, user_dirs))


def env_preset(
    overrides: list[str],
    config_dir: str | Path,
    default_env: str = "CartPole-v1",
    user_dirs: Sequence[str | Path] = (),
) -> PresetChoice:
    """``overrides`` with the env's preset put before the first ``key=value``, and which preset that is.

    A preset the user named is checked and kept; ``experiment=none`` is dropped (nothing to
    compose); either is refused with ``resume=`` (the run keeps its settings); with no
    ``experiment`` override, the preset ``env_presets.yaml`` lists for the ``env`` override (or
    ``default_env``) is added in front, so later overrides still win. An
    env sweep (``env=A,B``) or a sweep over policy forms gets no automatic preset: one preset cannot
    fit every job (``-m experiment=A,B`` names one per job).
    ``user_dirs``: the user's own config folders, whose ``experiment/`` presets are valid names too.
    """
    chosen = override_value(overrides, PRESET_GROUP)
    resuming = bool(parsed_override_value(overrides, "resume"))  # resume=, resume=Null: a new run
    typed = [arg for arg in overrides if override_key(arg) == PRESET_GROUP]
    if typed and resuming:  # (the run's own preset was refused as a change, none ignored)
        raise UserError(
            f"{typed[-1]} picks the settings of a new run, and resume= continues a run with its own: "
            f"drop it (set single keys instead, e.g. agent.lr=0.05)"
        )
    if chosen is not None:
        check_preset(chosen, config_dir, user_dirs)
        if is_no_preset(chosen):
            return PresetChoice([o for o in overrides if _split(o)[0] != PRESET_GROUP])
        swept = is_sweep(f"{PRESET_GROUP}={chosen}")  # (each job's preset has its own env)
        return PresetChoice(
            overrides,
            chosen,
            covered=covered_choices(overrides, chosen, config_dir, user_dirs),
            retargeted=None if swept else retargeted(overrides, chosen, config_dir, user_dirs),
        )
    if resuming:  # a resumed run keeps its config
        return PresetChoice(overrides)
    env = override_value(overrides, "env") or default_env
    if is_sweep(f"env={env}"):  # env=A,B or env=choice(A,B): a sweep over envs
        return PresetChoice(overrides, swept="env")
    policy = override_value(overrides, "agent.policy")
    if policy is not None and is_sweep(f"agent.policy={policy}"):  # the presets are per policy form
        untuned = swept_forms_own_options(overrides, config_dir, user_dirs)
        return PresetChoice(overrides, swept="agent.policy", untuned_forms=untuned)
    # 'mlp' is mlp (as the env is compared); env='${oc.env:ENV_ID}' is the env it names (it got no
    # preset, without a word)
    policy = resolved_alone(parsed_override_value(overrides, "agent.policy"))
    env = resolved_alone(parsed_override_value(overrides, "env")) or env
    preset = preset_for(env, policy, config_dir, user_dirs)
    if preset is None:
        return PresetChoice(overrides)
    covered = covered_choices(overrides, preset, config_dir, user_dirs)
    return PresetChoice(with_overrides(overrides, f"{PRESET_GROUP}={preset}"), preset, env, covered=covered)


def with_overrides(argv: Sequence[str], *overrides: str) -> list[str]:
    """``argv`` with ``overrides`` (settings the program adds) put before its first ``key=value``:
    Hydra's parser takes the overrides as one block, which an option between them splits
    (``a=1 -m`` then ``b=2``: "unrecognized arguments: b=2")."""
    keys = [i for i, arg in enumerate(argv) if "=" in arg and not arg.startswith("-")]
    first = keys[0] if keys else len(argv)
    return [*argv[:first], *overrides, *argv[first:]]
