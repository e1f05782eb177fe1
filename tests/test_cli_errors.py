"""Every user mistake on the command line: one line on stderr, exit code 2, no traceback.

Composition errors (Hydra and OmegaConf) and :func:`agents.runtime.config.validate` errors are checked
in-process through ``scripts/train.py``'s ``main`` (fast); a few run as real subprocesses. A toy
app on :func:`agents.tools.cli.hydra_main` shows that a real bug inside the task still propagates
(and prints its traceback).
"""

from __future__ import annotations

import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig
from omegaconf.errors import ConfigAttributeError

from agents.errors import UserError
from agents.runtime.config import validate
from agents.runtime.run import train
from agents.tools.cli import hydra_main
from agents.tools.composing import compose_train_config

ROOT = Path(__file__).resolve().parent.parent
TRAIN_SCRIPT = ROOT / "scripts" / "train.py"

COMPOSITION_ERRORS = [
    ("agent.lrr=1", "agent.lrr is not a config key (did you mean agent.lr?)"),
    # a key whose value is null: Hydra said "Could not delete from config. '...' does not exist."
    ("~budget.target_return", "~budget.target_return removes a key the run reads: set its value instead"),
    ("~resume", "~resume removes a key the run reads: set its value instead (resume=...); it is null now"),
    ("CartPole-v1", "'CartPole-v1' is not key=value: did you mean env=CartPole-v1?"),  # Hydra: "cannot parse"
    ("--foo", "unknown option --foo: settings are key=value without dashes"),
    ("--seed=1", "unknown option --seed=1: settings are key=value without dashes"),
    ("+agent.lrr=1", "agent.lrr is not a config key (did you mean agent.lr?)"),
    ("nosuch=1", "nosuch is not a config key (known keys: env, env_kwargs, env_wrappers, seed,"),
    # a key of another node: Hydra's or the known top-level keys, which do not hold it
    ("num_envs=8", "num_envs is not a config key (did you mean vector.num_envs?)"),
    ("agent.num_env=8", "agent.num_env is not a config key (did you mean vector.num_envs?)"),  # a near name
    ("+lr=0.1", "lr is not a config key (did you mean agent.lr?)"),
    (
        "agent.total_env_steps=1",
        "agent.total_env_steps is not a config key (did you mean budget.total_env_steps?)",
    ),
    ("agent.lr=abc", "agent.lr=abc: Value 'abc' of type 'str' could not be converted to Float"),
    ("vector.num_envs=1.5", "Value '1.5' of type 'float' could not be converted to Integer"),
    ("logging.progress_bar=maybe", "Value 'maybe' is not a valid bool"),
    ("budget=3", "Invalid type assigned: int is not a subclass of BudgetConfig"),
    ("features=nosuch", "Could not find 'features/nosuch' (options: auto, fourier, normalized,"),
    ("agent=nosuch", "Could not find 'agent/nosuch' (options: mlp, reinforce)"),
    ("agent=5", "agent=5: agent is a config group and takes one of its options (mlp, reinforce) by name"),
    ("features=true", "features=true: features is a config group and takes one of its options (auto, "),
    (
        "agent=[1,2]",
        "agent=[1,2]: agent is a config group and takes one of its options (mlp, reinforce) by name",
    ),
    ("~agent=5", "~agent=5: agent is a config group and takes one of its options (mlp, reinforce) by name"),
    ("agent.lr=[1", "cannot parse override 'agent.lr=[1'"),
    # the docs' placeholder pasted as it is: the grammar's "LexerNoViableAltException" and its link
    (
        "resume=outputs/CartPole-v1/<run>",
        "'resume=outputs/CartPole-v1/<run>': <run> is a placeholder from the docs: "
        "put what it stands for in its place (a run's folder, e.g. outputs/CartPole-v1/",
    ),
    ("resume=<my run>", "'resume=<my run>': <my run> is a placeholder from the docs: put what it stands for"),
    ("agent.lr=0.1,0.2", "Ambiguous value for argument 'agent.lr=0.1,0.2'"),
    ("agent.lr=${nosuch}", "agent.lr: Interpolation key 'nosuch' not found"),
    # the run folder's name reads them: "hydra.run.dir: Interpolation key 'seed' not found"
    ("~seed", "~seed removes a key the run reads: set its value instead (seed=...)"),
    ("~experiment_name", "~experiment_name removes a key the run reads"),
    ("~num_seeds", "~num_seeds removes a key the run reads"),  # a ConfigAttributeError traceback
    (
        "run_dir=${oc.env:NO_SUCH_VARIABLE}/a",
        "not found\", in a value the run folder's name (hydra.run.dir) reads",
    ),
    (
        "seed=${nosuch}",
        "Interpolation key 'nosuch' not found: an interpolation names it in a value the run folder's",
    ),
    # OmegaConf types a list or mapping key's interpolation only as it is read: TypeError tracebacks
    (
        "agent.hidden_sizes=${agent.lr}",
        "agent.hidden_sizes=${agent.lr} resolves to 0.1: agent.hidden_sizes holds a list",
    ),
    ("env_wrappers=${seed}", "env_wrappers=${seed} resolves to 0: env_wrappers holds a list"),
    ("env_kwargs=${seed}", "env_kwargs=${seed} resolves to 0: env_kwargs holds a mapping"),
    ("env_kwargs.x=1", "env_kwargs.x is not a config key (add it with +env_kwargs.x=<value>)"),
    # an env's own kwarg named like a key of another node: it was "did you mean vector.mode?"
    ("env_kwargs.mode=ok", "env_kwargs.mode is not a config key (add it with +env_kwargs.mode=<value>)"),
    ("env_kwargs.lr=1", "env_kwargs.lr is not a config key (add it with +env_kwargs.lr=<value>)"),
    ("experiment=cartpol", "experiment=cartpol is not a preset (did you mean cartpole or cartpole_mlp?"),
    ("experiment=acrobot,nosuch", "experiment=nosuch is not a preset (presets: acrobot,"),
    # "experiment=[cartpole is not a preset"; "-m experiment=" for an empty one
    (
        "experiment=[]",
        "experiment takes one preset by name, not a list (experiment=none for the generic defaults)",
    ),
    (
        "experiment=[cartpole,acrobot]",
        "experiment takes one preset by name, not a list (a sweep over presets: -m",
    ),
]

RANGE_ERRORS = [
    ("agent.lr=-1", "agent.lr=-1.0 must be > 0 (try agent.lr=0.01)"),
    ("agent.lr=0", "agent.lr=0.0 must be > 0"),
    ("agent.lr=inf", "agent.lr=inf must be a finite number"),
    ("agent.lr=nan", "agent.lr=nan must be a finite number"),
    ("agent.baseline_lr=-0.1", "agent.baseline_lr=-0.1 must be > 0"),
    ("agent.gamma=1.5", "agent.gamma=1.5 must be in [0, 1] (try 0.99)"),
    ("agent.gamma=-0.1", "agent.gamma=-0.1 must be in [0, 1]"),
    ("agent.gamma=nan", "agent.gamma=nan must be in [0, 1]"),
    ("agent.episodes_per_update=0", "agent.episodes_per_update=0 must be >= 1"),
    ("agent.entropy_coef=-1", "agent.entropy_coef=-1.0 must be >= 0"),
    ("agent.max_grad_norm=-1", "agent.max_grad_norm=-1.0 must be >= 0"),
    ("agent.bootstrap_truncated=true", "v(S_T): set agent.baseline=value (got agent.baseline=none)"),
    ("agent.optimizer=rmsprop", "agent.optimizer='rmsprop' is not one of sgd, adam"),
    ("agent.policy=matrix", "agent.policy='matrix' is not one of state, action, mlp"),
    ("agent.score=numeric", "agent.score='numeric' is not one of closed_form, autograd"),
    ("agent.dtype=float16", "agent.dtype='float16' is not one of float32, float64"),
    ("agent.baseline=critic", "agent.baseline='critic' is not one of none, mean, time, value"),
    ("agent.lr_schedule=cosine", "agent.lr_schedule='cosine' is not one of constant, linear"),
    ("features.name=wavelet", "features.name='wavelet' is not one of auto, raw,"),
    ("agent.hidden_sizes=[[4]]", "agent.hidden_sizes entries must be integers, got [4]"),  # tracebacks
    ("agent.value_hidden_sizes=[2,[3]]", "agent.value_hidden_sizes entries must be integers, got [3]"),
    ("features.bounds=[[1],2,3,4]", "features.bounds entries must be numbers, got [1]"),  # a TypeError
    ("features.degree=0", "features.degree=0 must be >= 1"),
    ("features.num_centers=0", "features.num_centers=0 must be >= 1"),
    ("features.clip=-1", "features.clip=-1.0 must be > 0"),
    ("features.bounds=[1,0]", "features.bounds entry=0.0 must be > 0"),
    # 2 x 1e308 overflowed: numpy's warning, and every unbounded dimension's features constant
    ("features.clip=1e308", "features.clip=1e+308 must be <= 1e+300 (the range [-B, B] it gives is 2B wide"),
    ("features.bounds=[1,1e301]", "features.bounds entry=1e+301 must be <= 1e+300"),
    ("vector.num_envs=0", "vector.num_envs=0 must be >= 1"),
    ("vector.mode=threads", "vector.mode='threads' is not one of native, sync, async"),
    ("budget.total_env_steps=-5", "budget.total_env_steps=-5 must be >= 1"),
    ("budget.total_env_steps=0", "budget.total_env_steps=0 must be >= 1"),
    ("budget.window=0", "budget.window=0 must be >= 1"),
    ("checkpoint.every_steps=-1", "checkpoint.every_steps=-1 must be >= 0"),
    ("diagnostics.check_gradients_every=-1", "diagnostics.check_gradients_every=-1 must be >= 0"),
    ("diagnostics.tolerance=-1", "diagnostics.tolerance=-1.0 must be >= 0"),
    ("device=tpu", "device='tpu' is not one of cpu, cuda, cuda:<index>"),
    ("device=cuda:x", "device='cuda:x' is not one of cpu, cuda, cuda:<index>"),
    ("device=cuda:99", "device=cuda:99 but torch sees"),  # cuda:<index> (torch's, SB3's) passes
    ("seed=-1", "seed=-1 must be in [0, 2**32)"),
    ("agent.lr=1e39", "agent.lr=1e+39 is past agent.dtype=float32's range"),  # a traceback in the optimizer
]


@pytest.fixture(scope="module")
def train_main():
    """``scripts/train.py``'s ``main`` (loaded once, not run)."""
    return runpy.run_path(str(TRAIN_SCRIPT), run_name="train_script")["main"]


def run_main(main, monkeypatch, capsys, *overrides: str) -> tuple[int, list[str]]:
    """Call ``main()`` as ``python scripts/train.py <overrides>``; return (exit code, stderr lines)."""
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setattr(sys, "argv", [str(TRAIN_SCRIPT), "logging.progress_bar=false", *overrides])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(("override", "expected"), COMPOSITION_ERRORS + RANGE_ERRORS)
def test_bad_override_is_one_line_and_exit_code_2(
    train_main, monkeypatch, capsys, tmp_path, override, expected
):
    monkeypatch.chdir(tmp_path)
    code, lines = run_main(train_main, monkeypatch, capsys, override)
    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert not list(tmp_path.rglob("checkpoint*.pt"))  # nothing ran


def readme_bad_input_rows() -> list[tuple[str, str]]:
    """The README's "Bad input: what it prints" table: (override, printed line) per row."""
    text = (ROOT / "README.md").read_text()
    table = text[text.index("| `python scripts/train.py ...` | printed |") :].split("\n\n", 1)[0]
    rows = [re.fullmatch(r"\| `([^`]+)`( \(no GPU\))? \| `(.+)` \|", line) for line in table.splitlines()[2:]]
    assert rows and all(rows), table
    return [(row[1], row[3]) for row in rows if not (row[2] and torch.cuda.is_available())]


@pytest.mark.parametrize(("override", "printed"), readme_bad_input_rows())
def test_the_readmes_bad_input_table_is_what_train_prints(
    train_main, monkeypatch, capsys, tmp_path, override, printed
):
    """Its ``env=CartPol-v1`` row offered ``phys2d/CartPole-v1``, which the suggestions had
    stopped offering; ``...`` in a row stands for the rest of the line."""
    monkeypatch.chdir(tmp_path)
    code, lines = run_main(train_main, monkeypatch, capsys, override)
    assert code == 2 and len(lines) == 1, lines
    assert re.fullmatch(".*".join(map(re.escape, printed.split("..."))), lines[0]), lines[0]


def test_more_tilings_than_hashed_slots_is_one_line(train_main, monkeypatch, capsys, tmp_path):
    """``features=tile features.num_tilings=100000`` trained at 62 steps/s, each tiling marking one of
    4096 slots; as many tilings as slots still runs, and another map ignores the key."""
    monkeypatch.chdir(tmp_path)
    code, lines = run_main(
        train_main,
        monkeypatch,
        capsys,
        "features=tile",
        "features.num_tilings=5000",
        "budget.total_env_steps=50",
    )
    assert (code, lines) == (
        2,
        [
            "error: features.num_tilings=5000 must be <= features.hash_size=4096 (each tiling marks one of "
            "hash_size slots; raise features.hash_size or lower features.num_tilings)"
        ],
    )
    for fine in (
        ["features=tile", "features.num_tilings=16", "features.hash_size=16"],
        ["features.num_tilings=5000"],
    ):
        validate(compose_train_config(fine))


def test_a_batched_update_interval_longer_than_the_run_is_one_line():
    """``batched_update_every=100000`` in a 3,000-step batched run trained with one update per seed,
    at its end, without a word; the default is taken by however short a run."""
    batched = ["num_seeds=3", "seed_mode=batched", "budget.total_env_steps=3000", "vector.num_envs=2"]
    with pytest.raises(
        UserError,
        match=r"^batched_update_every=1501 is more than the 1500 steps each sub-env of a seed takes .*"
        r"hardly update: lower it \(the default, 16, is taken by any run\)$",
    ):
        validate(compose_train_config([*batched, "batched_update_every=1501"]))
    for fine in (
        ["batched_update_every=1500"],
        ["budget.total_env_steps=10"],
        ["seed_mode=exact", "batched_update_every=9999"],
    ):
        validate(compose_train_config([*batched, *fine]))


def test_a_value_network_too_large_for_memory_is_refused_before_it_is_built(
    train_main, monkeypatch, capsys, tmp_path
):
    """Its size was not counted (the policy network's was): a thousand layers of 4096 allocated on
    towards 67 GB, or ended in torch's "can't allocate memory" traceback."""
    monkeypatch.chdir(tmp_path)
    huge = f"agent.value_hidden_sizes=[{','.join(['4096'] * 1000)}]"
    code, lines = run_main(train_main, monkeypatch, capsys, "agent.baseline=value", huge)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].endswith("500 GiB of it for the value baseline's parameters and optimizer state: lower "
                             "agent.value_hidden_sizes")  # fmt: skip
    assert list(tmp_path.iterdir()) == []


HYDRA_MODES = [
    (("-m", "--cfg", "job", "seed=0,1"), "-m and --cfg cannot be combined: give one of --run, -m, --cfg,"),
    (("--run", "--cfg", "job"), "--run and --cfg cannot be combined"),
    (("-m", "--info"), "-m and --info cannot be combined"),
    (("--shell-completion",), "--shell-completion needs one of install=bash, uninstall=bash or query=bash"),
    (("--config-dir",), "--config-dir: expected one argument (e.g. --config-dir <folder of your configs>)"),
    (("--cfg", "jobs"), "--cfg: invalid choice: 'jobs' (choose from 'job', 'hydra', 'all')"),
    (("--experimental-rerun", "nofile"), "--experimental-rerun nofile: no such file (give a job's"),
    (("--experimental-rerun", __file__), f"--experimental-rerun {__file__}: not a job's .hydra/config"),
    (("--shell-completion", "install=bash", "query=bash"), "--shell-completion needs one of install=bash,"),
    (("--package", "agent"), "--package selects what --cfg prints: give --cfg job --package agent"),
    # the setting was read as the folder: "Additional config directory '<cwd>/experiment=...' not found"
    (("--config-dir", "env=Acrobot-v1"), "--config-dir env=Acrobot-v1: no such folder; env=Acrobot-v1 looks"),
    (("--config-dir", "no_such_folder"), "--config-dir no_such_folder: no such folder (give your own"),
    (("--config-dir", __file__), f"--config-dir {__file__}: a file, not a folder (give your own"),  # no such
    # Hydra: "Primary config module 'agents.tools.no_such_folder' not found"
    (("-cp", "no_such_folder"), "--config-path no_such_folder: no such folder (a relative one is read from"),
    # argparse printed its usage block past exit_on_error=False
    (
        ("--config-", "x"),
        "ambiguous option: --config- could match --config-path, --config-name, --config-dir: give",
    ),
    # Hydra's "package 'foo' not found in config", exit 1
    (("--cfg", "job", "--package", "foo"), "--package foo: --cfg job has no such node; give one of its keys"),
    (("--cfg", "hydra", "--package", "hydra.nope"), "--package hydra.nope: --cfg hydra has no such node"),
]


@pytest.mark.parametrize(
    ("options", "printed"),
    [(("--cfg", "job", "--package", "agent.lr"), "0.1"),
     (("--cfg", "job", "--package", "agent"), "# @package agent"),
     (("--cfg", "hydra", "--package", "hydra.job"), "# @package hydra.job"),
     (("--cfg", "job", "--package", "_global_"), "env: CartPole-v1")],
)  # fmt: skip
def test_cfg_prints_the_package_it_is_given(train_main, monkeypatch, capsys, tmp_path, options, printed):
    from hydra.core.hydra_config import HydraConfig

    monkeypatch.setattr(HydraConfig.instance(), "cfg", None)  # --cfg sets it, for this test only
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(TRAIN_SCRIPT), *options])
    train_main()
    assert capsys.readouterr().out.splitlines()[0] == printed


@pytest.mark.parametrize(
    ("options", "package", "printed"),
    [
        (("-cp", "my_configs"), "seed", "7"),
        (("--config-path=my_configs",), "seed", "7"),
        (("--config-pa", "my_configs"), "seed", "7"),  # argparse's abbreviation: Hydra's line again
        (("-cp", "file://{tmp_path}/my_configs"), "seed", "7"),  # "module 'agents.tools.file:...'"
        (("-cp", "~/my_configs", "--help"), None, "|mine|"),  # its presets: --help read no ~
        (("-cp", "my_configs", "experiment=mine"), "agent.lr", "0.777"),  # "is not a preset"
    ],
)
def test_a_relative_config_path_is_read_from_the_working_folder(
    train_main, monkeypatch, capsys, tmp_path, options, package, printed
):
    """Hydra read ``-cp my_configs`` against the module that declares ``@hydra.main``: "Primary
    config module 'agents.tools.my_configs' not found", for a folder right there; and its own
    presets were refused as unknown."""
    from hydra.core.hydra_config import HydraConfig

    shutil.copytree(ROOT / "configs", tmp_path / "my_configs")
    primary = tmp_path / "my_configs" / "train.yaml"
    primary.write_text(primary.read_text().replace("\nseed: 0 ", "\nseed: 7 ", 1))
    (tmp_path / "my_configs" / "experiment" / "mine.yaml").write_text(
        "# @package _global_\nagent:\n  lr: 0.777\n"
    )
    monkeypatch.setattr(HydraConfig.instance(), "cfg", None)  # --cfg sets it, for this test only
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    argv = [option.format(tmp_path=tmp_path) for option in options]
    cfg = ["--cfg", "job", "--package", package] if package else []
    monkeypatch.setattr(sys, "argv", [str(TRAIN_SCRIPT), *argv, *cfg])
    train_main()
    if package is None:  # --help
        assert printed in capsys.readouterr().out.split("experiment=", 1)[1].splitlines()[0]
        return
    assert capsys.readouterr().out.splitlines()[0] == printed


@pytest.mark.parametrize(
    "options",
    [("-cd", "~/mine"), ("--config-dir=~/mine",), ("--config-d", "~/mine"), ("--config-di=mine",)],
)
def test_a_config_dir_is_read_with_its_tilde_and_argparses_abbreviations(
    train_main, monkeypatch, capsys, tmp_path, options
):
    """A quoted ``-cd '~/mine'`` was "no such folder" (a folder named ``~``), and an abbreviation
    argparse takes (``--config-d``) was not read for the folder's presets ("is not a preset")."""
    from hydra.core.hydra_config import HydraConfig

    (tmp_path / "mine" / "experiment").mkdir(parents=True)
    (tmp_path / "mine" / "experiment" / "fast.yaml").write_text("# @package _global_\nagent:\n  lr: 0.333\n")
    monkeypatch.setattr(HydraConfig.instance(), "cfg", None)  # --cfg sets it, for this test only
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "argv", [str(TRAIN_SCRIPT), *options, "experiment=fast", "--cfg", "job",
                                      "--package", "agent.lr"])  # fmt: skip
    train_main()
    assert capsys.readouterr().out.splitlines()[0] == "0.333"
    monkeypatch.setattr(sys, "argv", [str(TRAIN_SCRIPT), *options, "--help"])
    train_main()
    assert "|fast|" in capsys.readouterr().out.split("experiment=", 1)[1].splitlines()[0]


def test_a_config_folders_env_presets_pick_its_envs_presets(train_main, monkeypatch, capsys, tmp_path):
    """rl-zoo keeps hyperparameters per env id in a file of one's own: an ``env_presets.yaml`` in a
    ``--config-dir`` folder was not read (its env trained with the project's choice), nor a
    ``--config-path`` tree's (the project's index chose ``acrobot_mlp``, which the tree may lack:
    "Could not find 'experiment/acrobot_mlp'"); ``--help`` with ``-cp`` listed the project's presets."""
    from hydra.core.hydra_config import HydraConfig

    import agents

    mine = tmp_path / "mine"
    (mine / "experiment").mkdir(parents=True)
    (mine / "experiment" / "fastcart.yaml").write_text("# @package _global_\nagent:\n  lr: 0.333\n")
    (mine / "env_presets.yaml").write_text("CartPole-v1: fastcart\nAcrobot-v1: [none]\n")
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "configs", tree)
    (tree / "env_presets.yaml").unlink()
    for preset in (tree / "experiment").glob("acrobot*.yaml"):
        preset.unlink()
    monkeypatch.setattr(HydraConfig.instance(), "cfg", None)  # --cfg sets it, for this test only
    monkeypatch.chdir(tmp_path)

    def printed(*options: str) -> str:
        monkeypatch.setattr(
            sys, "argv", [str(TRAIN_SCRIPT), *options, "--cfg", "job", "--package", "agent.lr"]
        )
        train_main()
        return capsys.readouterr().out.splitlines()[0]

    default_lr, acrobot_lr = printed("experiment=none"), printed("env=Acrobot-v1")
    assert acrobot_lr != default_lr  # the project's Acrobot preset
    assert printed("-cd", "mine", "env=CartPole-v1") == "0.333"  # the folder's choice for its env
    assert printed("-cd", "mine") == "0.333"  # the default env
    assert printed("-cd", "mine", "env=Acrobot-v1") == default_lr  # none, as it lists
    assert printed("-cp", "tree", "env=Acrobot-v1") == default_lr  # a tree without an index: no preset
    assert agents.compose("CartPole-v1", config_dirs=[mine]).agent.lr == 0.333
    # an env of one's own is typed with its module (the README's MyEnv-v0: entry was never found), or
    # listed with it and named by its id once registered
    (mine / "env_presets.yaml").write_text("MyEnv-v0: fastcart\nmy_module:Other-v0: fastcart\n")
    for own in (
        "my_module:MyEnv-v0",
        "'my_module:MyEnv-v0'",
        "Other-v0",
        "my_module:Other-v0",
        r"my_module\:Other-v0",
    ):
        assert printed("-cd", "mine", f"env={own}") == "0.333", own
    assert printed("-cd", "mine", "env=MyEnv-v1") == default_lr
    (mine / "env_presets.yaml").write_text("other_module:ShortCorridor-v0: fastcart\n")  # another module's
    assert printed("-cd", "mine", "env=envs:ShortCorridor-v0") != "0.333"  # (an id alone could be either's)
    monkeypatch.setattr(sys, "argv", [str(TRAIN_SCRIPT), "-cp", "tree", "--help"])
    train_main()
    assert "acrobot" not in capsys.readouterr().out.split("experiment=", 1)[1].splitlines()[0]
    (mine / "env_presets.yaml").write_text("- CartPole-v1\n")
    code, lines = run_main(train_main, monkeypatch, capsys, "-cd", "mine")
    assert code == 2 and lines == [
        "error: mine/env_presets.yaml: env_presets.yaml maps env ids to presets, e.g. MyEnv-v0: [mine, none]"
    ], lines


def test_a_completion_query_outside_bash_is_one_line_saying_how_to_install(train_main, monkeypatch, capsys):
    """Bash runs ``-sc query=bash`` on a Tab with the line in ``COMP_LINE``; typed by hand, Hydra
    read the unset variable: a KeyError traceback."""
    monkeypatch.delenv("COMP_LINE", raising=False)
    monkeypatch.setattr(sys, "argv", [str(TRAIN_SCRIPT), "-sc", "query=bash"])
    with pytest.raises(SystemExit) as exit_info:
        train_main()
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: -sc query=bash answers a Tab: bash runs it with the line typed")
    assert lines[0].endswith(f'run: eval "$(python {TRAIN_SCRIPT} -sc install=bash)"'), lines


@pytest.mark.parametrize(("options", "expected"), HYDRA_MODES)
def test_hydra_modes_that_do_not_combine_are_one_line(
    train_main, monkeypatch, capsys, tmp_path, options, expected
):
    """Hydra raised a ValueError for them: a traceback of seven frames, exit 1."""
    monkeypatch.chdir(tmp_path)
    code, lines = run_main(train_main, monkeypatch, capsys, *options)
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {expected}"), lines
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("options", "reordered"),
    [(["seed=1", "-m", "agent.lr=0.01,0.02"], "-m {quiet} seed=1 agent.lr=0.01,0.02"),
     (["seed=1", "--cfg", "job", "agent.lr=0.01"], "--cfg job {quiet} seed=1 agent.lr=0.01")],
)  # fmt: skip
def test_settings_after_an_option_are_one_line_putting_the_options_first(
    train_main, monkeypatch, capsys, tmp_path, options, reordered
):
    """Hydra's parser printed its eight lines of usage and "unrecognized arguments" for a setting
    after -m (rl-baselines3-zoo takes its flags anywhere)."""
    monkeypatch.chdir(tmp_path)
    code, lines = run_main(train_main, monkeypatch, capsys, *options)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {options[-1]!r} comes after an option, where Hydra does not read"), (
        lines
    )
    reordered = reordered.format(quiet="logging.progress_bar=false")  # run_main's, first
    assert lines[0].endswith(f"put the options first (python {TRAIN_SCRIPT} {reordered})"), lines
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("options", "expected"),
    [(["hydra.run.dir="], "hydra.run.dir is empty (an unset shell variable?): give a folder, or leave"),
     (["hydra.sweep.dir="], "hydra.sweep.dir is empty (an unset shell variable?)"),
     (["hydra.run.dir=/"], "hydra.run.dir=/ makes the run folder the file system's root: give one of its"),
     # a sweep wrote .hydra, its lock, multirun.yaml, result.json and a summary of every result.json on disk
     (["hydra.sweep.dir=/"], "hydra.sweep.dir=/ makes the run folder the file system's root"),
     (["hydra.sweep.subdir=/"], "hydra.sweep.subdir=/ makes the run folder the file system's root"),
     (["hydra.sweep.dir=/tmp", "hydra.sweep.subdir=.."], "hydra.sweep.subdir=.. makes the run folder the"),
     (["hydra.run.dir=/tmp/.."], "hydra.run.dir=/tmp/.. makes the run folder the file system's root")],
)  # fmt: skip
def test_an_empty_or_root_output_folder_is_one_line(
    train_main, monkeypatch, capsys, tmp_path, options, expected
):
    """hydra.run.dir= (an unset $VAR) trained into the working folder, hydra.run.dir=/ into /."""
    monkeypatch.chdir(tmp_path)
    code, lines = run_main(train_main, monkeypatch, capsys, "budget.total_env_steps=300", *options)
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {expected}"), lines
    assert list(tmp_path.iterdir()) == [] and not Path("/checkpoint.pt").exists()


def test_a_sweep_subdir_is_read_below_its_sweep_folder(tmp_path, monkeypatch):
    """hydra.sweep.subdir=../../../.. below a deep sweep folder was read from the working folder: "the
    file system's root"."""
    from agents.tools.override_words import check_options

    monkeypatch.chdir(ROOT)  # four levels below / or fewer
    check_options(["-m", f"hydra.sweep.dir={tmp_path}/a/b/c/d", "hydra.sweep.subdir=../../../.."], "train")


@pytest.mark.parametrize(
    "sweeper", ["hparams_search=cartpole_tpe", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=1"]
)
def test_a_sweeper_without_m_is_one_line_saying_to_add_it(train_main, monkeypatch, capsys, tmp_path, sweeper):
    """``hparams_search=cartpole_tpe`` without -m ran as a sweep through the preset's hydra.mode while
    the sweep's own handling (a Ctrl-C stopping it, its summary when a trial failed) keyed on -m and
    stayed off; ``hydra/sweeper=optuna`` or a sweeper's setting without -m trained once and ignored
    the sweeper, as Hydra does. Now one line says to add -m, and nothing runs."""
    from agents.tools.sweep_checks import check_sweeper_has_multirun

    monkeypatch.chdir(tmp_path)
    overrides = (sweeper, "hydra.sweeper.n_trials=1", "budget.total_env_steps=300")
    code, lines = run_main(train_main, monkeypatch, capsys, *overrides)
    assert code == 2 and lines == [
        f"error: {sweeper} sets up a sweep, which runs only as a multirun: add -m (without it Hydra runs the "
        "app once and ignores the sweeper)"
    ]
    assert list(tmp_path.iterdir()) == []
    for fine in (
        ["-m", sweeper],
        ["--multirun", sweeper],
        ["--cfg", "hydra", sweeper],
        ["--info", "config", sweeper],
    ):
        check_sweeper_has_multirun(fine)  # a sweep, or only a look at the config


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["hparams_search=nosuch"], "In 'train': Could not find 'hparams_search/nosuch' (options: cartpole"),
        (["hydra/launcher=nosuch"], "In 'hydra/config': Could not find 'hydra/launcher/nosuch' (options: "),
        (["-m", "hydra.sweeper.n_trials=3", "seed=0,1"], "hydra.sweeper.n_trials is not a config key (a key "
         "of another sweeper: choose it first, e.g. hparams_search=cartpole_tpe (Optuna's))"),
        (["-m", "hydra.launcher.n_jobs=2", "seed=0,1"], "hydra.launcher.n_jobs is not a config key (a key "
         "of another launcher: choose it first, e.g. hydra/launcher=joblib)"),
        (["-m", "hparams_search=cartpole_tpe", "hydra.sweeper.params.agent.lr=0.05"],
         "hydra.sweeper.params.agent.lr=0.05 gives a sweep under the sweeper's own key: give it on the key "
         "itself, agent.lr=0.05, as the sweep presets do"),
        (["-m", "hparams_search=cartpole_tpe", "hydra.sweeper.params.agent.lr=interval(0.1,0.01)"],
         "hydra.sweeper.params.agent.lr=interval(0.1,0.01) gives a sweep under the sweeper's own key: give "
         "it on the key itself, agent.lr=interval(0.1,0.01), "),
        (["-m", "hydra.sweeper.params.seed='0,1'"],  # the sweep the sweeper reads, not a quoted word
         "hydra.sweeper.params.seed='0,1' gives a sweep under the sweeper's own key: give it on the key "
         "itself, seed=0,1, "),
        (["-m", "agent.lr=interval(0.001,0.1)"],  # it said "hydra/sweeper=optuna with hydra.sweeper.params"
         "agent.lr=interval(0.001,0.1): -m lists its jobs (a=1,2, choice(), range()) and cannot draw from "
         "interval(), which needs a search that samples: add hydra/sweeper=optuna (and hydra.sweeper."),
    ],
)  # fmt: skip
def test_a_sweep_setting_the_line_before_misread_says_what_works(
    train_main, monkeypatch, capsys, tmp_path, args, said
):
    """Lines whose advice did not work when followed: ``hparams_search=nosuch`` said "add -m" (and
    with it, "Could not find"), ``hydra.launcher.n_jobs=2`` with -m said "known keys: _target_"
    without naming joblib, a search space under ``hydra.sweeper.params.`` was told "did you mean
    hydra.sweeper.params.agent.lr", what was typed (or Hydra's "Sweeping over Hydra's configuration
    is not supported")."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(TRAIN_SCRIPT), *args, "logging.progress_bar=false"])  # -m first
    with pytest.raises(SystemExit) as exit_info:
        train_main()
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {said}"), lines
    assert list(tmp_path.iterdir()) == []


def test_a_launcher_or_sweeper_given_as_one_value_is_one_line_naming_its_group(
    train_main, monkeypatch, capsys, tmp_path
):
    """``hydra.launcher=joblib`` (a dot, not a slash) trained once and ignored it, and with -m the
    sweep's checks failed with "'str' object has no attribute 'get'", a traceback."""
    monkeypatch.chdir(tmp_path)
    for args in (
        ["hydra.launcher=joblib"],
        ["-m", "hydra.launcher=joblib", "seed=0,1"],
        ["hydra.sweeper=optuna"],
    ):
        code, lines = run_main(train_main, monkeypatch, capsys, *args, "budget.total_env_steps=300")
        group = args[-2 if "-m" in args else 0].split("=")[0]
        assert code == 2 and len(lines) == 1 and f"choose one with {group.replace('.', '/')}=" in lines[0], (
            lines
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("launcher", ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"])
def test_a_launcher_without_m_is_one_line_saying_to_add_it(
    train_main, monkeypatch, capsys, tmp_path, launcher
):
    """``hydra/launcher=submitit_slurm`` without -m trained once on this machine and ignored the
    launcher, while a sweeper without -m was refused."""
    from agents.tools.sweep_checks import check_sweeper_has_multirun

    monkeypatch.chdir(tmp_path)
    code, lines = run_main(train_main, monkeypatch, capsys, launcher, "budget.total_env_steps=300")
    assert code == 2 and lines == [
        f"error: {launcher} sets up where a sweep's jobs run, which applies only to a multirun: add -m "
        "(without it Hydra runs the app once, here, and ignores the launcher)"
    ]
    assert list(tmp_path.iterdir()) == []
    for fine in (["-m", launcher], ["--cfg", "hydra", launcher], ["hydra/launcher=basic"]):
        check_sweeper_has_multirun(fine)


@pytest.mark.parametrize(
    "settings",
    [
        ["hydra/launcher=joblib"],
        ["hydra/launcher=joblib", "hydra.launcher.backend=loky", "hydra.launcher.prefer=threads",
         "hydra.launcher.timeout=null", "hydra.launcher.pre_dispatch=n_jobs+1", "hydra.launcher.batch_size=4",
         "hydra.launcher.max_nbytes=10M", "hydra.launcher.mmap_mode=r+", "hydra.launcher.n_jobs=-1"],
        ["hydra/launcher=joblib", "hydra.launcher.pre_dispatch=all", "hydra.launcher.max_nbytes=1000"],
        ["hydra/launcher=joblib", "hydra.launcher.pre_dispatch=1.5*n_jobs", "hydra.launcher.n_jobs=2"],
        ["hparams_search=cartpole_tpe"],
        ["hparams_search=cartpole_tpe", "hydra.sweeper.direction=[minimize]",
         "hydra.sweeper.max_failure_rate=1", "hydra.sweeper.storage=null",
         "hydra.sweeper.sampler.seed=4294967295"],
        ["hparams_search=cartpole_tpe", "hydra.sweeper.storage=sqlite:///optuna.db"],  # SQLAlchemy 1.4
        ["hydra/sweeper=optuna"],  # its schema's direction is an Enum, Direction.minimize
    ],
)  # fmt: skip
def test_the_launcher_and_sweeper_settings_they_accept_pass_the_check(tmp_path, monkeypatch, settings):
    """The checks of joblib's and Optuna's settings (agents/tools/sweep_settings.py) refuse only
    what joblib or Optuna would refuse, or would do wrong (tests/test_faults.py lists those)."""
    from agents.runtime.config import register_configs
    from agents.tools.sweep_checks import check_sweep_settings
    from agents.tools.usage import CONFIG_DIR

    register_configs()
    monkeypatch.chdir(tmp_path)
    assert check_sweep_settings(["-m", "seed=0,1", *settings], "train", CONFIG_DIR) is not None


def test_hydra_mode_multirun_without_m_is_one_line_saying_give_m(train_main, monkeypatch, capsys, tmp_path):
    """``hydra.mode=MULTIRUN`` swept, with the project's sweep handling (Ctrl-C, failed jobs'
    summary, a closed output) off: it keys on -m."""
    monkeypatch.chdir(tmp_path)
    code, lines = run_main(train_main, monkeypatch, capsys, "hydra.mode=MULTIRUN", "seed=0,1")
    assert code == 2 and lines == [
        "error: hydra.mode=MULTIRUN starts a sweep without what -m sets up (Ctrl-C stopping it, the summary "
        "of failed jobs): give -m instead"
    ]
    assert list(tmp_path.iterdir()) == []


def test_no_search_and_a_run_dir_is_one_run(train_main, monkeypatch, tmp_path):
    """``hparams_search=null`` (no search, its default) with ``run_dir=`` was refused as a search
    whose trials would share that folder."""
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    argv = ["hparams_search=null", f"run_dir={tmp_path / 'run'}", "budget.total_env_steps=300"]
    monkeypatch.setattr(sys, "argv", [str(TRAIN_SCRIPT), "logging.progress_bar=false", *argv])
    train_main()
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


@pytest.mark.parametrize("mode", ["exact", "batched"])
def test_seeds_past_numpys_range_are_refused_before_any_folder(
    train_main, monkeypatch, capsys, tmp_path, mode
):
    """The exact mode named seed=4294967296 (never typed) after making seed4294967295/; the batched
    mode trained it and wrote a checkpoint that evaluate.py then refused."""
    monkeypatch.chdir(tmp_path)
    overrides = ("num_seeds=2", "seed=4294967295", f"seed_mode={mode}", f"run_dir={tmp_path / 'run'}")
    code, lines = run_main(train_main, monkeypatch, capsys, *overrides)
    assert code == 2 and len(lines) == 1
    assert "seed=4294967295 with num_seeds=2 reaches seed 4294967296, past numpy's seed range" in lines[0]
    assert not (tmp_path / "run").exists()


def test_an_overflowing_adam_step_is_a_numerical_failure(make_config, tmp_path):
    """lr=1e38 with Adam: its step lr / (1 - beta1) overflows float32 inside torch, which was a
    traceback (RuntimeError); now one line naming the setting, the last good state saved."""
    with pytest.raises(UserError, match=r"numerical failure at env step \d+: .*\(agent.lr is too large\)"):
        train(make_config("agent.lr=1e38", "budget.total_env_steps=2000"))
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


@pytest.mark.parametrize("mode", ["exact", "batched"])
def test_a_huge_entropy_coefficient_is_named_by_its_numerical_failure(make_config, tmp_path, mode):
    """agent.entropy_coef=1e308 made the gradient inf: the line said "try a lower agent.lr or
    agent.normalize_returns=true", neither of which was the cause."""
    seeds = ["num_seeds=2", "seed_mode=batched"] if mode == "batched" else []
    with pytest.raises(UserError, match=r"numerical failure .*\(try a lower agent.lr or agent.entropy_coef,"):
        train(make_config("agent.entropy_coef=1e308", "budget.total_env_steps=3000", *seeds))


def test_a_group_set_to_null_is_left_out_where_none_is_its_default():
    """``hparams_search=null`` (its default) was Hydra's ValueError traceback, as ``agent=null`` was;
    keys that are no config group keep their null."""
    from agents.runtime.config import register_configs
    from agents.tools.composing import check_group_choices
    from agents.tools.usage import CONFIG_DIR

    register_configs()
    argv = ["-m", "hparams_search=null", "seed=0,1", "run_dir=null", "env_kwargs.x=null"]
    assert check_group_choices(argv, "train", CONFIG_DIR) == [
        "-m",
        "seed=0,1",
        "run_dir=null",
        "env_kwargs.x=null",
    ]
    with pytest.raises(
        UserError, match=r"^agent=null: agent is a config group .* \(mlp, reinforce\); leave it out"
    ):
        check_group_choices(["agent=null"], "train", CONFIG_DIR)


def test_defaults_validate():
    validate(compose_train_config([]))


def run_script(script: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "HYDRA_FULL_ERROR"}
    return subprocess.run(
        [sys.executable, str(script), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={**environment, **env},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("agent.lrr=1", "error: agent.lrr is not a config key (did you mean agent.lr?)"),
        ("features=nosuch", "error: In 'train': Could not find 'features/nosuch' (options: auto,"),
        # Hydra's UserWarning "path=/nowhere is not available" (two lines) came first: the run
        # folder's check composed the config before the options were checked
        (
            ("--config-dir", "/nowhere"),
            "error: --config-dir /nowhere: no such folder (give your own configs'",
        ),
        (("--config-dir", "/nowhere", "agent=mine"), "error: --config-dir /nowhere: no such folder"),
    ],
)
def test_train_script_subprocess(tmp_path, override, expected):
    completed = run_script(TRAIN_SCRIPT, tmp_path, *([override] if isinstance(override, str) else override))
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.strip().splitlines() == [completed.stderr.strip()]
    assert completed.stderr.startswith(expected)
    assert completed.stdout == ""


UNREADABLE_CONFIGS = {
    "loop": ("defaults: [loop2, _self_]\n",  # a RecursionError of 2,500 lines
             "the config files' defaults lists loop (agent/loop -> agent/loop2 -> agent/loop)"),
    "scalar": ("42\n", "agent/scalar.yaml holds a YAML int, not a config: write key: value lines"),  # OSError
    "baddef": ("defaults: 5\n", "Invalid defaults list in 'agent/baddef', defaults must be a list (got int): "
               "write it as a list"),  # ValueError
}  # fmt: skip


@pytest.mark.parametrize("option", list(UNREADABLE_CONFIGS))
def test_a_config_file_hydra_cannot_read_as_one_is_one_line(tmp_path, option):
    """Hydra's errors for these are no config errors of its own: tracebacks, exit 1, from the command
    line (a run, a sweep, --cfg job) and from agents.train."""
    import agents

    (tmp_path / "mine" / "agent").mkdir(parents=True)
    for name, (text, _) in UNREADABLE_CONFIGS.items():
        (tmp_path / "mine" / "agent" / f"{name}.yaml").write_text(text)
    (tmp_path / "mine" / "agent" / "loop2.yaml").write_text("defaults: [loop]\n")
    said = UNREADABLE_CONFIGS[option][1]
    for args in (["-cd", "mine", f"agent={option}"], ["-m", "-cd", "mine", f"agent={option}", "seed=0,1"],
                 ["--cfg", "job", "-cd", "mine", f"agent={option}"]):  # fmt: skip
        completed = run_script(TRAIN_SCRIPT, tmp_path, *args, "budget.total_env_steps=300")
        assert completed.returncode == 2, completed.stderr[-2000:]
        assert completed.stderr.count("\n") == 1 and said in completed.stderr, completed.stderr[-2000:]
    with pytest.raises(agents.UserError) as raised:
        agents.compose("CartPole-v1", f"agent={option}", config_dirs=[tmp_path / "mine"])
    assert said in str(raised.value)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mine"]


TOY_CONFIG = """
defaults:
  - override hydra/job_logging: none   # keep the test process's logging as it is
  - override hydra/hydra_logging: none
  - _self_
mode: ok  # what the task does
hydra:
  output_subdir: null
  run:
    dir: .
"""


def toy_task(cfg: DictConfig) -> str:
    if cfg.mode == "bug":
        raise RuntimeError("a real bug")
    if cfg.mode == "config_bug":
        return cfg.no_such_key  # an OmegaConf error raised by the task is a bug too
    if cfg.mode == "user":
        raise UserError("a user mistake")
    return "ran"


@pytest.fixture
def toy_main(tmp_path: Path, monkeypatch):
    """``toy_main(*overrides)``: run a tiny :func:`agents.tools.cli.hydra_main` app in-process."""
    (tmp_path / "toy.yaml").write_text(TOY_CONFIG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    main = hydra_main(config_name="toy", config_path=str(tmp_path))(toy_task)

    def run(*overrides: str) -> None:
        monkeypatch.setattr(sys, "argv", ["toy.py", *overrides])
        main()

    return run


@pytest.mark.parametrize(("mode", "error"), [("bug", RuntimeError), ("config_bug", ConfigAttributeError)])
def test_a_bug_in_the_task_propagates(toy_main, mode, error):
    with pytest.raises(error):  # uncaught: Python prints its traceback and exits 1
        toy_main(f"mode={mode}")
    assert "HYDRA_FULL_ERROR" not in os.environ  # restored


def test_toy_app_runs_and_reports_user_errors(toy_main, capsys):
    toy_main()
    for override, message in [
        ("mode=user", "error: a user mistake"),
        ("mdoe=user", "error: mdoe is not a config key (did you mean mode?)"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            toy_main(override)
        assert exit_info.value.code == 2
        assert capsys.readouterr().err == message + "\n"


def test_hydra_full_error_shows_every_traceback(toy_main, monkeypatch):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(ConfigCompositionException):
        toy_main("mdoe=user")


def test_a_bug_prints_its_traceback_in_a_real_process(tmp_path):
    """End to end: ``python -c`` on the toy task, which raises RuntimeError."""
    (tmp_path / "toy.yaml").write_text(TOY_CONFIG)
    code = (
        "from agents.tools.cli import hydra_main\n"
        f"@hydra_main(config_name='toy', config_path={str(tmp_path)!r})\n"
        "def main(cfg):\n"
        "    raise RuntimeError('a real bug')\n"
        "main()\n"
    )
    script = tmp_path / "toy_app.py"
    script.write_text(code)
    completed = run_script(script, tmp_path)
    assert completed.returncode == 1, completed.stderr
    assert "Traceback (most recent call last)" in completed.stderr
    assert completed.stderr.strip().endswith("RuntimeError: a real bug")


def test_a_database_storage_is_refused_only_where_optuna_2_cannot_use_it(monkeypatch):
    """optuna 2 (hydra-optuna-sweeper's pin) fails an ``assert`` in its database storage under
    SQLAlchemy 2: refused in one line there; the lock's SQLAlchemy 1.4, or optuna 3, is fine."""
    from agents.tools import sweep_settings

    sweep_settings._check_storage("sqlite:///optuna.db")  # the installed pair
    versions = {"optuna": "2.10.1", "sqlalchemy": "2.1.9"}
    monkeypatch.setattr(sweep_settings, "_version", versions.__getitem__)
    with pytest.raises(UserError, match=r"optuna 2\.10\.1 cannot use a database with SQLAlchemy 2\.1\.9"):
        sweep_settings._check_storage("sqlite:///optuna.db")
    sweep_settings._check_storage(None)  # in memory
    versions["optuna"] = "3.6.1"
    sweep_settings._check_storage("sqlite:///optuna.db")


def test_a_sweep_of_the_users_own_config_is_checked_too(tmp_path):
    """``-m --config-dir D --config-name myjob``: the checks read the default config instead (or
    gave up on the switches), so a launcher or sweeper set in ``myjob.yaml`` ran unchecked (joblib's
    timeout killed the jobs unsaved, a traceback)."""
    from agents.runtime.config import register_configs
    from agents.tools.sweep_checks import check_sweep_settings
    from agents.tools.usage import CONFIG_DIR

    (tmp_path / "myjob.yaml").write_text(
        "defaults:\n  - train\n  - override hydra/launcher: joblib\n  - _self_\n"
        "hydra:\n  launcher:\n    timeout: 5\n"
    )
    register_configs()
    for switches in (
        ["--config-dir", str(tmp_path), "--config-name", "myjob"],
        [f"-cd={tmp_path}", "-cn=myjob"],
    ):
        with pytest.raises(UserError, match=r"hydra.launcher.timeout=5.0: a job past it would be killed"):
            check_sweep_settings(["-m", *switches, "seed=0,1"], "train", CONFIG_DIR)
    with pytest.raises(UserError, match=r"hydra.launcher.timeout=3.0: a job past it would be killed"):
        check_sweep_settings(["-m", "--config-dir", str(tmp_path), "hydra/launcher=joblib",
                              "hydra.launcher.timeout=3", "seed=0,1"], "train", CONFIG_DIR)  # fmt: skip
    cfg = check_sweep_settings(["-m", "--config-dir", str(tmp_path), "seed=0,1"], "train", CONFIG_DIR)
    assert cfg is not None and cfg.hydra.launcher.get("timeout", None) is None  # the project's train


def test_a_stored_study_that_the_sweep_cannot_continue_is_one_line(tmp_path, monkeypatch):
    """An existing SQLite storage: a study made to maximize and a sweep that minimizes, a file that is
    no database, one that cannot be written; Optuna's errors were tracebacks once the sweep began."""
    import optuna

    from agents.tools.sweep_settings import _check_stored_study

    storage = f"sqlite:///{tmp_path / 'o.db'}"
    _check_stored_study(storage, "s", "maximize")  # no file yet: Optuna makes it
    optuna.create_study(study_name="s", storage=storage, direction="maximize")
    _check_stored_study(storage, "s", "maximize")  # continued
    _check_stored_study(storage, "other", "minimize")  # a new study beside it
    with pytest.raises(UserError, match=r"direction=minimize: study s in .*o.db was made to maximize; give"):
        _check_stored_study(storage, "s", "minimize")
    (tmp_path / "t.db").write_text("not a database")
    with pytest.raises(UserError, match=r"t.db is no Optuna database \(.*file is not a database\)"):
        _check_stored_study(f"sqlite:///{tmp_path / 't.db'}", "s", "maximize")
    monkeypatch.setattr("os.access", lambda path, mode: False)  # as a read-only file (root ignores modes)
    with pytest.raises(UserError, match=r"o.db \(or its folder\) cannot be written"):
        _check_stored_study(storage, "s", "maximize")


NOT_YAML = "lr: [0.05\n"
"""A config file that does not parse: PyYAML's error spans four lines, ending in a traceback."""
NOT_YAML_LINE = (
    "line 1: while parsing a flow sequence, expected ',' or ']', but got '<stream end>' (line 2): "
    "fix its YAML"
)


@pytest.mark.parametrize(
    ("script", "sweep"), [("train.py", ()), ("train.py", ("-m", "seed=0,1")), ("compare_gradients.py", ())]
)
def test_a_config_of_ones_own_that_is_not_yaml_is_one_line(tmp_path, script, sweep):
    """``--config-dir my_configs agent=broken``: the file and line, exit 2 (a misspelled key there
    was one line already; a YAML syntax error was PyYAML's traceback, exit 1)."""
    (tmp_path / "my_configs" / "agent").mkdir(parents=True)
    (tmp_path / "my_configs" / "agent" / "broken.yaml").write_text(NOT_YAML)
    completed = run_script(
        ROOT / "scripts" / script, tmp_path, *sweep[:1], "--config-dir", "my_configs", "agent=broken",
        *sweep[1:], "budget.total_env_steps=2000", "logging.progress_bar=false",
    )  # fmt: skip
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr == f"error: my_configs/agent/broken.yaml {NOT_YAML_LINE}\n"
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "runs").exists()


def test_a_config_of_ones_own_with_a_nul_byte_names_its_file(tmp_path, monkeypatch):
    """PyYAML's ReaderError (a NUL byte) has no mark: the line named no file."""
    from agents.tools.composing import compose_train_config

    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_configs" / "experiment").mkdir(parents=True)
    (tmp_path / "my_configs" / "experiment" / "binary.yaml").write_bytes(b"\x00")
    with pytest.raises(
        UserError, match=r"^my_configs/experiment/binary.yaml: ReaderError: unacceptable character #x0000"
    ):
        compose_train_config(["experiment=binary"], config_dirs=["my_configs"])


def project_copy(tmp_path: Path, broken: str) -> Path:
    """The package, its envs and its configs copied to ``tmp_path/project``, with the config file
    ``broken`` (relative to ``configs/``) ending in a line that is not YAML (a user's edit)."""
    project = tmp_path / "project"
    for part in ("agents", "envs", "configs"):
        shutil.copytree(ROOT / part, project / part, ignore=shutil.ignore_patterns("__pycache__"))
    lines = (project / "configs" / broken).read_text().splitlines()
    (project / "configs" / broken).write_text("\n".join([*lines, "edited: [1"]) + "\n")
    return project


@pytest.mark.parametrize(
    ("broken", "args"),
    [
        ("train.yaml", ("train", "budget.total_env_steps=2000")),
        ("train.yaml", ("train", "-m", "seed=0,1", "budget.total_env_steps=2000")),
        ("train.yaml", ("train", "hparams_search=null", "budget.total_env_steps=2000")),
        ("train.yaml", ("train", "--help")),
        ("env_presets.yaml", ("train", "budget.total_env_steps=2000")),
        ("evaluate.yaml", ("evaluate", "checkpoint=run")),
        ("train.yaml", ("benchmark", "mode=worker", "steps=100", "repeats=1")),
    ],
)
def test_a_project_config_edited_into_something_not_yaml_is_one_line(tmp_path, broken, args):
    project = project_copy(tmp_path, broken)
    line = len((project / "configs" / broken).read_text().splitlines())
    command = [sys.executable, "-m", "agents.tools.console", *args, "logging.progress_bar=false"]
    if args[0] == "benchmark":
        command.pop()
    environment = {key: value for key, value in os.environ.items() if key != "HYDRA_FULL_ERROR"}
    completed = subprocess.run(
        command,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**environment, "PYTHONPATH": "."},
    )
    assert completed.returncode == 2, completed.stderr
    expected = f"configs/{broken} line {line}: while parsing a flow sequence, expected ',' or ']', but got"
    assert completed.stderr.startswith(f"error: {expected}") and completed.stderr.count("\n") == 1, (
        completed.stderr
    )


def test_a_benchmark_worker_s_one_line_is_the_report_s():
    """The report's worker said a mistake in one line (exit 2); the report raised CalledProcessError."""
    from agents.tools.benchmarking import run_worker

    said = "import sys; print('error: configs/train.yaml line 3: ...', file=sys.stderr); sys.exit(2)"
    with pytest.raises(UserError, match=r"^configs/train.yaml line 3: \.\.\.$"):
        run_worker([sys.executable, "-c", said])


@pytest.mark.parametrize(
    ("config_name", "word", "expected"),
    [
        ("evaluate", "runs/x", "'runs/x' is not key=value: did you mean checkpoint=runs/x? (--help"),
        ("compare", "Acrobot-v1", "'Acrobot-v1' is not key=value: did you mean env=Acrobot-v1? (--help"),
        ("train", "ALE/Pong-v5", "'ALE/Pong-v5' is not key=value: did you mean env=ALE/Pong-v5? (--help"),
        ("train", "run", "'run' is not key=value: did you mean resume=run? (--help"),  # holds a checkpoint
        ("train", "sweep/0_lr=0.1", "'sweep/0_lr=0.1' is not key=value: did you mean resume=sweep/0_lr=0.1?"),
        ("train", "notes.txt", "'notes.txt' is not key=value: settings are key=value (--help"),  # no guess
        ("train", ".", "'.' is not key=value: settings are key=value (--help"),  # a folder, but no run's
        ("benchmark", "CartPole-v1", "'CartPole-v1' is not key=value: settings are key=value (--help"),
        ("train", "", "an empty argument ('') is not key=value: an unset shell variable?"),
    ],
)
def test_a_bare_word_says_which_key_it_needs(tmp_path, monkeypatch, config_name, word, expected):
    """``evaluate.py <run>`` and ``compare_gradients.py Acrobot-v1`` said "cannot parse override
    '<run>': Error parsing override" with a link to Hydra's grammar."""
    from agents.tools.override_words import check_bare_words, check_options

    monkeypatch.chdir(tmp_path)
    for run in ("run", "sweep/0_lr=0.1"):
        (tmp_path / run).mkdir(parents=True)
        (tmp_path / run / "checkpoint.pt").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(UserError) as raised:
        check_options([word, "seed=1", "--cfg", "job"], config_name)
    assert str(raised.value).startswith(expected)
    check_bare_words(config_name, ["seed=1", "~foo", "env=CartPole-v1"])  # key=value and ~key pass


def test_a_value_the_shell_split_from_its_key_says_so():
    from agents.tools.override_words import check_options

    with pytest.raises(
        UserError, match=r"^'b' is not key=value: did you mean experiment_name=b \(no space after"
    ):
        check_options(["experiment_name=", "b"], "train")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("options", "added"),
    [(["env=CartPole-v1,Acrobot-v1", "budget.total_env_steps=300", "-m"], "hydra.sweep.dir="),
     (["run_dir={tmp}/run", "--cfg", "job"], "hydra.run.dir="),
     (["resume={tmp}/run", "--cfg", "job"], "hydra.run.dir=")],
)  # fmt: skip
def test_settings_the_program_adds_go_before_an_option(tmp_path, options, added):
    """The program's own settings (a sweep over envs' folder, Hydra's run folder) were appended after
    the user's trailing ``-m`` or ``--cfg job``: Hydra's "unrecognized arguments", or our line
    blaming a setting the user never typed."""
    from agents.tools.commands import _hydra_folder_is_the_run_folder
    from agents.tools.sweep_checks import with_env_sweep_dir

    (tmp_path / "run").mkdir()
    argv = [option.format(tmp=tmp_path) for option in options]
    extended = with_env_sweep_dir(_hydra_folder_is_the_run_folder(argv))
    assert extended[0].startswith(added) and extended[-len(argv) :] == argv, extended
    done = subprocess.run([sys.executable, str(TRAIN_SCRIPT), *argv], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr


MAKES_OWN_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "ARGS")
"""What a running make passes to the commands its recipes start: its flags and the variables of its
command line (``make test-slow ARGS=...`` puts ``ARGS`` in their environment too)."""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_train_takes_a_sweep_in_args(tmp_path):
    """``make train ARGS="-m seed=0,1"`` ran ``train.py env=CartPole-v1 -m seed=0,1``, a setting
    before the option: ``error: 'seed=0,1' comes after an option``. ARGS now replaces the default
    env's setting; the command it prints (dry run, the install taken as done) runs the sweep."""

    def recipe(*args: str) -> list[str]:
        dry = ["make", "-s", "-n", "-o", ".venv/.installed-from-lock", "train", *args]
        # not the settings of a make running this suite (make test-slow ARGS=...), which it passes on
        env = {key: value for key, value in os.environ.items() if key not in MAKES_OWN_VARIABLES}
        printed = subprocess.run(dry, cwd=ROOT, capture_output=True, text=True, check=True, env=env).stdout
        return printed.split()

    assert recipe() == [".venv/bin/python", "scripts/train.py", "env=CartPole-v1"]
    sweep = (
        f"-m seed=0,1 budget.total_env_steps=300 logging.progress_bar=false hydra.sweep.dir={tmp_path / 's'}"
    )
    command = recipe(f"ARGS={sweep}")
    assert command[2] == "-m"
    done = subprocess.run(
        [sys.executable, *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "s").glob("*/checkpoint.pt"))) == 2


def test_a_removed_key_set_after_its_removal_is_the_removal_line(train_main, monkeypatch, capsys, tmp_path):
    """``~budget budget.total_env_steps=2000`` was "budget is not a config key (known keys: ...)"."""
    monkeypatch.chdir(tmp_path)
    code, lines = run_main(train_main, monkeypatch, capsys, "~budget", "budget.total_env_steps=2000")
    assert code == 2 and lines == [
        "error: ~budget removes a key the run reads: set its value instead (budget=...)"
    ]
    # the folder's name then reads experiment_name, which reads env: "experiment_name: ... 'env' not found"
    code, lines = run_main(train_main, monkeypatch, capsys, "~env", f"run_dir={tmp_path / 'run'}")
    assert code == 2 and lines == ["error: ~env removes a key the run reads: set its value instead (env=...)"]
