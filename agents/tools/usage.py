"""Where the configs live and what ``--help`` says, with nothing heavy imported (no torch, no Hydra):
``python scripts/train.py --help`` answers in the time Python takes to start.

``--help`` lists the config groups with their options (read from the config folder, so the
schema entries Hydra would list beside them stay out), the keys of the primary config with their
comments, each group's keys as its default option sets them and the keys each other option sets,
Hydra's switches and the command that installs tab completion.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import yaml

from agents.errors import UserError, broken_yaml
from agents.tools.override_paths import config_dir_values, config_path_given


def _config_dir() -> str:
    """``configs/`` of a source checkout; in an installed wheel the same files, shipped as the package
    data of ``agents.conf`` (``pyproject.toml`` maps it to ``configs/``)."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "conf"
    return str(installed if (installed / "train.yaml").is_file() else package.parent / "configs")


CONFIG_DIR = _config_dir()
"""The project's config folder (absolute, so scripts and the console command run from anywhere)."""


def config_groups(*folders: str | Path) -> set[str]:
    """The config groups of config folders: their subfolders (a folder that is missing has none)."""
    return {
        path.name
        for folder in map(Path, folders)
        if folder.is_dir()
        for path in folder.iterdir()
        if path.is_dir()
    }


def load_yaml(path: str | Path) -> Any:
    """The YAML file at ``path`` (a config of the project's or of the user's own folders) as plain
    Python values.

    :raises UserError: naming the file and line when it does not parse (PyYAML's four lines)."""
    text = Path(path).read_text()
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UserError(broken_yaml(error, path)) from None


VERSION_FLAGS = ("-V", "--version")
"""What asks a program for its version (Hydra's own ``--version`` printed ``Hydra 1.3.8``)."""

VERSION_HELP = "--version prints the versions of this package, Python and the main libraries."
"""What every program's ``--help`` says of it."""

VERSION_OF = ("torch", "gymnasium", "hydra-core", "numpy")
"""The libraries whose versions the version line gives beside ours (what a bug report needs)."""


def version_line() -> str:
    """``softmax-reinforce 0.1.0 (Python 3.11.7, torch 2.13.0, ...)``, read from the installed
    packages' metadata, nothing imported."""
    from importlib.metadata import PackageNotFoundError, version
    from platform import python_version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    libraries = ", ".join(f"{name} {installed(name)}" for name in VERSION_OF)
    return f"softmax-reinforce {installed('softmax-reinforce')} (Python {python_version()}, {libraries})"


def print_version() -> None:
    """Print :func:`version_line` (quietly for a reader that left: ``--version | head -c 5``)."""
    from agents.tools.closed_pipe import quiet_when_the_reader_leaves

    with quiet_when_the_reader_leaves():
        print(version_line())


def version_requested(argv: Sequence[str]) -> bool:
    """``-V`` or ``--version`` among the arguments, or an abbreviation of it that argparse takes in
    a Hydra app (``--vers``: no other option of Hydra's begins with ``--v``)."""
    return any(arg in VERSION_FLAGS or (len(arg) >= 3 and "--version".startswith(arg)) for arg in argv)


def help_requested(argv: list[str]) -> bool:
    """``-h`` or ``--help`` among the arguments (Hydra's own ``--hydra-help`` is left to Hydra)."""
    return any(arg in ("-h", "--help") for arg in argv)


def program_name() -> str:
    """How this program was started: ``python scripts/train.py`` or ``softmax-reinforce train``."""
    first = sys.argv[0]
    return f"python {first}" if first.endswith(".py") else first


def as_started(usage: str) -> str:
    """A usage line that names its program (``Training run: python scripts/train.py env=...``, or
    ``plot runs=...``) the way this process was started: ``softmax-reinforce train`` under the
    console command, ``python scripts/plot.py`` from the script (each named the other)."""
    program = program_name()
    named, found = re.subn(r"python scripts/\w+\.py", lambda _: program, usage, count=1)
    return named if found else f"{program} {usage.partition(' ')[2]}"


def app_help(
    config_name: str, config_dir: str = CONFIG_DIR, hydra_app: bool = True, user_dirs: Sequence[str] = ()
) -> str:
    """``--help`` of the program whose primary config is ``<config_dir>/<config_name>.yaml``;
    ``hydra_app``: it runs as a Hydra app, so Hydra's switches and tab completion apply;
    ``user_dirs``: the command line's own config folders (``--config-dir``), whose options are listed too."""
    program = program_name()
    path = Path(config_dir) / f"{config_name}.yaml"
    lines = path.read_text().splitlines()
    usage = [line.removeprefix("# ") for line in lines if line.startswith("#")][:1]
    groups, group_keys = [], []
    for entry in load_yaml(path).get("defaults", []):
        if not isinstance(entry, dict):
            continue
        ((key, default),) = entry.items()
        if key.startswith("override "):
            continue
        group = key.removeprefix("optional ").strip()
        folders = [Path(config_dir), *map(Path, user_dirs)]
        options = sorted({path.stem for folder in folders for path in (folder / group).glob("*.yaml")})
        groups.append(
            f"  {group}={'|'.join(options)}  (default: {default if default is not None else 'none'})"
        )
        option_file = Path(config_dir) / group / f"{default}.yaml"
        if default is not None and option_file.is_file():  # the group's keys, as its default option sets them
            option_keys = _keys_section(option_file.read_text().splitlines())
            source = f"{group}={default}: configs/{group}/{default}.yaml; {group}.<key>=value"
            group_keys += ["", f"  {group}:  ({source})"]
            group_keys += [f"  {line}" for line in option_keys]
            own_first = [*(folder / group for folder in folders[1:]), Path(config_dir) / group]
            group_keys += _other_options_keys(own_first, group, default, options)
    keys = _keys_section(lines)
    out = [*(f"usage: {as_started(line)}" for line in usage), ""]
    if groups:
        out += ["config groups (group=option):", *groups, ""]
    out += ["keys (key=value; the comment says what each holds):", *keys, *group_keys]
    out += ["", VERSION_HELP]
    if not hydra_app:
        return "\n".join(out)
    out += [
        "",
        "Hydra: -m sweeps (key=a,b), --cfg job prints the composed config, --config-dir DIR adds a folder",
        "of your own configs, hydra/launcher=joblib|submitit_local|slurm|ray_local runs jobs in parallel,",
        "--hydra-help lists Hydra's own options.",
        f'tab completion (bash): eval "$({program} -sc install=bash)"',
    ]
    return "\n".join(out)


def _other_options_keys(folders: list[Path], group: str, default: str, options: list[str]) -> list[str]:
    """The keys each other option of a group sets (``features=tile``: ``num_tilings``, ...), under
    the default's: ``features=auto`` sets only ``name``, which hid every feature map's settings.
    ``folders``: the group's folders, the user's own first."""
    lines = []
    for option in options:
        path = next(folder / f"{option}.yaml" for folder in folders if (folder / f"{option}.yaml").is_file())
        keys = _keys_section(path.read_text().splitlines())
        keys = [key for key in keys if key.strip() and not key.strip().startswith(("name:", "#"))]
        if option != default and keys:
            lines += [f"    {group}={option} sets:", *(f"    {key}" for key in keys)]
    return lines


def _keys_section(lines: list[str]) -> list[str]:
    """The primary config's own keys: the lines after the defaults list, up to the ``hydra:`` block."""
    keys, in_defaults = [], False
    for line in lines:
        if line.startswith("defaults:"):
            in_defaults = True
            continue
        if line.startswith("hydra:"):
            break
        if in_defaults and (line.startswith(" ") or not line.strip()):
            continue
        in_defaults = False
        if line.startswith("#") and not keys:
            continue  # the file's own header comment
        keys.append(f"  {line}")
    while keys and not keys[-1].strip():
        keys.pop()
    return [key for key in keys if not key.strip().startswith(("# Folder names", "# hydra/launcher"))]


def config_dirs_given(argv: Sequence[str]) -> list[str]:
    """The folders of Hydra's ``--config-dir DIR`` / ``--config-dir=DIR`` / ``-cd DIR`` arguments, the
    ``--config-path`` folder (a tree in place of ``configs/``; its presets and options were refused
    as unknown), and the ``file://`` folders of a ``hydra.searchpath=[...]`` setting
    (``experiment=mine`` is found there)."""
    folders = config_dir_values(argv)
    primary = config_path_given(argv)
    if primary is not None:
        folders.append(primary)
    searchpath = [arg for arg in argv if arg.lstrip("+").startswith("hydra.searchpath=")]
    if not searchpath:  # (--help imports no Hydra)
        return folders
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    with suppress(HydraException):
        value = OverridesParser.create().parse_overrides(searchpath[-1:])[0].value()
        items = value if isinstance(value, list) else [value]
        folders += [str(item).removeprefix("file://") for item in items if str(item).startswith("file://")]
    return folders
