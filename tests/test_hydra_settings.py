"""What an experienced Hydra user types: the run folder set by other means than a literal
``hydra.run.dir=``, interpolated paths, ``hydra.job.chdir``, ``glob()`` sweeps, ``group=null`` in
a sweep, a sweep set up in a config file, ``hydra.searchpath``, and a preset over a group option."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from gymnasium.utils import passive_env_checker

from agents.errors import UserError
from agents.runtime.config import register_configs
from agents.tools.composing import compose_train_config
from agents.tools.sweep_checks import sweep_jobs, with_globs_listed
from agents.tools.usage import CONFIG_DIR
from envs.observations import checker_finding

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT / "scripts" / "train.py"
TINY = ("budget.total_env_steps=600", "logging.progress_bar=false")


def train(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python scripts/train.py <args>`` from ``cwd``, as a user runs it."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    environment.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, str(TRAIN), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


def one_line(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and fragment in lines[0], result.stderr


@pytest.fixture
def finished_run(tmp_path: Path) -> Path:
    folder = tmp_path / "done"
    assert train(*TINY, f"run_dir={folder}", cwd=tmp_path).returncode == 0
    return folder


def config_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "myc"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize(
    "form", ["++hydra.run.dir={}", "hydra.run.dir= {}", "experiment", "run_dir=${{hydra:runtime.cwd}}/done"]
)
def test_a_finished_runs_record_stays_whatever_names_its_folder(tmp_path, finished_run, form):
    """Only a literal ``hydra.run.dir=<folder>`` was checked before Hydra wrote its ``.hydra/``
    record: ``++``, a space, or a user's experiment file setting it replaced the finished run's
    record with the refused command's, and the line said "nothing was written"."""
    record = {path.name: path.read_bytes() for path in (finished_run / ".hydra").iterdir()}
    if form == "experiment":
        text = f"# @package _global_\nhydra:\n  run:\n    dir: {finished_run}\n"
        myc = config_folder(tmp_path, {"experiment/fixed.yaml": text})
        args = ["-cd", str(myc), "experiment=fixed", *TINY, "agent.lr=0.5"]
    else:
        args = [*TINY, "agent.lr=0.5", form.format(finished_run)]
    one_line(train(*args, cwd=tmp_path), "already holds a run")
    assert {path.name: path.read_bytes() for path in (finished_run / ".hydra").iterdir()} == record


@pytest.mark.slow
def test_cfg_and_info_print_whatever_folder_is_named(tmp_path, finished_run):
    """They write nothing: ``--cfg job run_dir=<a finished run>`` was refused as a run into it."""
    printed = train("--cfg", "job", f"run_dir={finished_run}", "-p", "seed", cwd=tmp_path)
    assert printed.returncode == 0 and printed.stdout.strip() == "0", printed.stderr


@pytest.mark.slow  # ~8 s (two or three runs): the quick suite stays near 5 minutes on 2 cores
def test_an_interpolated_run_dir_and_resume_keep_hydras_record_in_the_run(tmp_path):
    """``run_dir=${oc.env:RUNS}/a``: Hydra's folder was the text made absolute (``<cwd>/${...}/a``,
    resolved to ``<cwd>/<RUNS>/a``), so ``.hydra/`` and ``train.log`` went elsewhere; a resume left
    a stray ``outputs/<env>/<time>/``."""
    runs = tmp_path / "runs"
    work = tmp_path / "work"
    work.mkdir()
    env = {"RUNS": str(runs)}
    assert train(*TINY, "run_dir=${oc.env:RUNS}/a", cwd=work, env=env).returncode == 0
    assert (runs / "a" / ".hydra" / "config.yaml").is_file() and (runs / "a" / "train.log").is_file()
    resumed = train("budget.total_env_steps=900", "resume=${oc.env:RUNS}/a", cwd=work, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert not list(work.iterdir())  # no stray folder of Hydra's


def test_hydra_job_chdir_is_one_line(tmp_path):
    """With it, ``run_dir=nest/x`` trained into ``nest/x/nest/x`` and ``resume=nest/x`` found no
    checkpoint: paths were read from the job's folder."""
    one_line(train(*TINY, "run_dir=nest/x", "hydra.job.chdir=true", cwd=tmp_path), "hydra.job.chdir=true is")
    assert not (tmp_path / "nest").exists()


def test_the_schemas_are_stored_where_the_config_store_lacks_them(monkeypatch):
    """Each composition (``agents.compose``, ``agents.train``, every test's config) stored the three
    schemas again, building each structured config anew: 14 ms of the 0.11 s a composition takes."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    register_configs()
    stored: list[str] = []
    original = ConfigStore.store
    monkeypatch.setattr(ConfigStore, "store", lambda self, name, node, group=None, **kw: stored.append(name))
    register_configs()
    assert stored == []
    monkeypatch.delitem(store.repo, "train_schema.yaml")  # (a store cleared by someone else)
    monkeypatch.delitem(store.repo["agent"], "agent_schema.yaml")
    register_configs()
    assert stored == ["train_schema", "agent_schema"]
    monkeypatch.setattr(ConfigStore, "store", original)
    register_configs()
    assert "train_schema.yaml" in store.repo and "agent_schema.yaml" in store.repo["agent"]

    @dataclasses.dataclass
    class AgentConfig:  # the user's own app, whose schemas have our names: ours were kept (a re-test's
        lr: float = 1.0  # "Key 'agent' not in 'TrainConfig'"), and a composition is ours again

    monkeypatch.setitem(store.repo, "train_schema.yaml", store.repo["train_schema.yaml"])  # (put back after)
    monkeypatch.setitem(store.repo["agent"], "agent_schema.yaml", store.repo["agent"]["agent_schema.yaml"])
    store.store(name="train_schema", node={"mine": 1})
    store.store(group="agent", name="agent_schema", node=AgentConfig)
    assert compose_train_config(["seed=3"]).seed == 3


def test_a_glob_is_written_out_without_the_schemas_and_one_that_matches_nothing_is_one_line():
    """``agent=glob(*)`` ran a job with ``agent=agent_schema``; ``glob(nomatch*)`` launched 0 jobs, exit 0."""
    register_configs()
    assert with_globs_listed(["-m", "agent=glob(*)", "seed=1"], CONFIG_DIR) == [
        "-m",
        "agent=mlp,reinforce",
        "seed=1",
    ]
    assert with_globs_listed(["features=glob(r*,exclude=raw)"], CONFIG_DIR) == ["features=rbf"]
    with pytest.raises(
        UserError, match=r"^features=glob\(x\*\) matches no option of features \(auto, fourier,"
    ):
        with_globs_listed(["features=glob(x*)"], CONFIG_DIR)


def test_glob_sweeps_list_a_groups_options():
    """Hydra's parser needs a config loader for ``glob()``: "ConfigLoader is not set", exit 2; over
    presets, ``experiment=glob(cartpole*)`` "is not a preset"."""
    register_configs()
    assert sweep_jobs(["-m", "features=glob(r*)"]) == [["features=raw"], ["features=rbf"]]
    jobs = sweep_jobs(["-m", "experiment=glob(cartpole*)", "seed=1"])
    assert jobs == [["experiment=cartpole", "seed=1"], ["experiment=cartpole_mlp", "seed=1"]]


@pytest.mark.slow
def test_a_glob_sweep_over_presets_runs(tmp_path):
    result = train(
        "-m", "experiment=glob(cartpole*)", *TINY, f"hydra.sweep.dir={tmp_path / 'sw'}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "| cartpole_mlp " in (tmp_path / "sw" / "summary.md").read_text()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--resolve",), "--resolve resolves the interpolations --cfg prints: give --cfg job --resolve"),
        (("-m", "hparams_search=null,cartpole_tpe"), "a sweep over hparams_search lists its options"),
        (("budget.total_env_steps=${oc.decode:${oc.env:HS}}",), "extraneous input '}'"),
        (("seed=1)",), "cannot parse override 'seed=1)': extraneous input ')' expecting <EOF> (syntax"),
        (
            ("-m", "experiment=choice(null,cartpole)"),
            "NoneType is incompatible",
        ),  # "choice(null is not a preset"
        (("-m", "experiment=glob(x*)"), "experiment=glob(x*) matches no option of experiment (acrobot,"),
    ],
)
def test_hydra_mistakes_that_were_tracebacks_or_lost_their_reason(tmp_path, args, fragment):
    one_line(train(*args, *TINY, cwd=tmp_path), fragment)


@pytest.mark.slow  # ~8 s (two or three runs): the quick suite stays near 5 minutes on 2 cores
def test_experiment_null_prints_and_sweeps_as_none(tmp_path):
    """Hydra's "Config group override must be a string or a list. Got NoneType" was a traceback
    with ``--cfg job -p`` and in a sweep list."""
    printed = train("env=Acrobot-v1", "experiment=null", "--cfg", "job", "-p", "agent.policy", cwd=tmp_path)
    assert printed.returncode == 0 and printed.stdout.strip().endswith("state"), printed.stderr
    swept = train("-m", "experiment=null,cartpole", *TINY, f"hydra.sweep.dir={tmp_path / 'sw'}", cwd=tmp_path)
    assert swept.returncode == 0, swept.stderr
    assert "| none " in (tmp_path / "sw" / "summary.md").read_text()
    myc = config_folder(tmp_path, {"agent/mine.yaml": "defaults:\n  - reinforce\n  - _self_\n"})
    own = train("-cd", str(myc), "experiment=null", *TINY, f"run_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert own.returncode == 0, own.stderr  # the run folder's check composed it: a traceback


def test_null_in_any_case_is_the_generic_defaults(tmp_path):
    """``experiment=NULL`` (Hydra's null too) was "not a preset"."""
    printed = train("env=Acrobot-v1", "experiment=NULL", "--cfg", "job", "-p", "agent.policy", cwd=tmp_path)
    assert printed.returncode == 0 and printed.stdout.strip().endswith("state"), printed.stderr


@pytest.mark.slow
def test_chdir_that_moves_nothing_is_fine(tmp_path, finished_run):
    """evaluate.py's run folder is ``.``: its ``hydra.job.chdir=true`` worked before, and was refused."""
    evaluate = ROOT / "scripts" / "evaluate.py"
    args = [sys.executable, str(evaluate), f"checkpoint={finished_run}", "episodes=1", "hydra.job.chdir=true"]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == 0, done.stderr


def test_only_the_env_checkers_warnings_about_reset_and_step_join_a_failure():
    """Its warning about equal Box bounds was added to a reset that raised for its own reasons."""

    def held(text: str) -> warnings.WarningMessage:
        return warnings.WarningMessage(
            f"\x1b[33mWARN: {text}\x1b[0m", UserWarning, passive_env_checker.__file__, 1
        )

    bounds = held("A Box observation space maximum and minimum values are equal.")
    form = held("The result returned by `env.reset()` was not a tuple of the form `(obs, info)`")
    assert checker_finding([bounds]) == ""
    expected = "The result returned by `env.reset()` was not a tuple of the form `(obs, info)`"
    assert checker_finding([bounds, form]) == f" (Gymnasium's env checker: {expected})"


def test_a_sweep_a_config_file_sets_up_needs_multirun(tmp_path):
    """Without ``-m`` Hydra trained once and ignored it, exit 0."""
    text = "# @package _global_\nhydra:\n  sweeper:\n    params:\n      seed: 0,1\n"
    myc = config_folder(tmp_path, {"experiment/seeds.yaml": text})
    result = train("-cd", str(myc), "experiment=seeds", *TINY, f"run_dir={tmp_path / 'run'}", cwd=tmp_path)
    one_line(result, "the config sets up a sweep (hydra.sweeper: ")
    assert "add -m" in result.stderr and not (tmp_path / "run").exists()


def test_a_preset_in_hydras_searchpath_is_found(tmp_path):
    """``agent=`` options were found there, ``experiment=`` presets were "not a preset"."""
    myc = config_folder(tmp_path, {"experiment/mine.yaml": "# @package _global_\nagent:\n  lr: 0.07\n"})
    args = (f"hydra.searchpath=[file://{myc}]", "experiment=mine", "--cfg", "job", "-p", "agent.lr")
    result = train(*args, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "0.07", result.stderr


@pytest.mark.slow
def test_the_preset_line_says_it_sets_the_keys_of_a_group_option_typed(tmp_path):
    """``agent=mine env=Acrobot-v1`` trained with the preset's ``agent.lr``, said nowhere."""
    myc = config_folder(tmp_path, {"agent/mine.yaml": "defaults:\n  - reinforce\n  - _self_\nlr: 0.05\n"})
    args = ("-cd", str(myc), "agent=mine", "env=Acrobot-v1", "budget.total_env_steps=300")
    result = train(*args, "logging.progress_bar=false", f"run_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        "it sets agent.* after agent=mine (Hydra applies a preset last): experiment=none keeps"
        in result.stdout
    )


@pytest.mark.slow  # ~8 s (two or three runs): the quick suite stays near 5 minutes on 2 cores
def test_resume_with_the_runs_own_group_option_changes_only_what_differs(tmp_path):
    """``agent=mine agent.lr=0.01 resume=<a run made with agent=mine>`` was refused as a change of
    ``agent`` as a key the run was built with; only ``agent.lr`` differs, which may change."""
    myc = config_folder(tmp_path, {"agent/mine.yaml": "defaults:\n  - reinforce\n  - _self_\nlr: 0.05\n"})
    run = tmp_path / "run"
    assert train("-cd", str(myc), "agent=mine", *TINY, f"run_dir={run}", cwd=tmp_path).returncode == 0
    args = ("-cd", str(myc), "agent=mine", "agent.lr=0.01", f"resume={run}", "budget.total_env_steps=900")
    result = train(*args, "logging.progress_bar=false", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "resume: agent.lr: 0.05 -> 0.01" in result.stderr
    refused = train("features=rbf", f"resume={run}", "budget.total_env_steps=1200", cwd=tmp_path)
    one_line(refused, "resume cannot change features.name from auto to rbf")
