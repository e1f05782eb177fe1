"""Every tuned preset (configs/experiment/<name>.yaml) composes, documents what it reaches, and
trains for a few hundred steps; the results table formats its rows."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import gymnasium as gym
import pytest

import agents.tools.results as results_module
from agents.errors import RunInterrupted, UserError
from agents.runtime.trainer import Trainer
from agents.tools.commands import cpu_model
from agents.tools.commands import results_table as results_table_command
from agents.tools.composing import compose_train_config
from agents.tools.presets import env_presets, preset_policy, with_env_preset
from agents.tools.results import (
    EXPERIMENT_DIR,
    LONG_PRESETS,
    QUICK_PRESETS,
    TABLE_BEGIN,
    TABLE_END,
    PresetResult,
    SeedResult,
    available_presets,
    results_document,
    results_table,
)
from agents.tools.usage import CONFIG_DIR

PRESETS = available_presets()
NEEDS = {"lunarlander": "Box2D", "lunarlander_mlp": "Box2D"}
"""Presets whose env needs an optional dependency (the ``box2d`` extra)."""


def test_the_results_table_covers_every_preset():
    assert sorted(QUICK_PRESETS + LONG_PRESETS) == PRESETS


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_is_global_and_documents_the_return_it_reaches(preset):
    text = (EXPERIMENT_DIR / f"{preset}.yaml").read_text()
    assert text.startswith("# @package _global_\n")
    assert "Reaches" in text, f"{preset}.yaml should say (in a comment) what return it reaches"


def test_the_returns_preset_comments_quote_are_the_results_tables():
    """Presets quote "Reaches <mean> +- <std>" from docs/results.md: after the table was regenerated,
    acrobot still said -275 +- 206 (-273.24 ± 207.21), frozenlake_slippery 0.60 +- 0.11 and
    lunarlander +147 +- 41. Each quote is the table's row rounded to the quote's digits."""
    table = (Path(__file__).parents[1] / "docs" / "results.md").read_text()
    quoted = 0
    for preset in PRESETS:
        comment = (EXPERIMENT_DIR / f"{preset}.yaml").read_text()
        quote = re.search(r"Reaches (?:a success rate of )?([+-]?[\d.]+) \+- ([\d.]+)", comment)
        if quote is None:
            continue
        row = re.search(rf"`experiment={preset}` .*\| (-?[\d.]+) ± ([\d.]+) +\|", table)
        assert row is not None, f"{preset}.yaml quotes a return that docs/results.md has no row for"
        for said, measured in zip(quote.groups(), row.groups(), strict=True):
            digits = len(said.partition(".")[2])
            assert float(said) == round(float(measured), digits), f"{preset}.yaml: {said} vs {measured}"
        quoted += 1
    assert quoted >= 5


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_trains_a_thousand_steps(preset, make_config):
    if preset in NEEDS and importlib.util.find_spec(NEEDS[preset]) is None:
        pytest.skip(f"needs the optional {NEEDS[preset]} package: pip install -e '.[box2d]'")
    overrides = ["budget.total_env_steps=1000", "agent.episodes_per_update=1", "vector.num_envs=1",
                 "logging.tensorboard=false"]  # fmt: skip
    cfg = make_config(
        f"experiment={preset}", *overrides
    )  # one env, one episode per update: an update in 1000 steps
    assert cfg.budget.total_env_steps == 1000  # the command line still overrides the preset
    result = Trainer(cfg).run()
    assert result.env_steps >= 1000 and result.updates >= 1


def test_results_table_row():
    runs = [SeedResult(0, 1000, 2.0, -10.0), SeedResult(1, 1200, 4.0, -14.0)]
    table = results_table([PresetResult("acrobot", "Acrobot-v1", runs)])
    header, rule, row = table.splitlines()
    assert "final return (mean ± std)" in header and rule.startswith("|-")
    assert "`experiment=acrobot`" in row and "1,100" in row and "3.0 s" in row and "-12.00 ± 2.83" in row


def test_a_single_seed_row_has_no_std():
    """seeds=1 printed "-10.00 ± 0.00": a sample std (ddof=1) of one seed is undefined."""
    table = results_table([PresetResult("acrobot", "Acrobot-v1", [SeedResult(0, 1000, 2.0, -10.0)])])
    assert "| -10.00 (1 seed: no std) " in table and "±" not in table.splitlines()[2]

    """``results_table.py out=docs/results.md`` wrote the whole file: the hand-written sections
    after the table (most of the file) were gone."""
    out = Path("r.md")
    new = results_document(None, "table one\n", out)
    assert new == f"# Results\n\n{TABLE_BEGIN}\ntable one\n{TABLE_END}\n"
    edited = f"# My title\n\nquoting {TABLE_END}\n" + new[new.index(TABLE_BEGIN) :] + "\n## By hand\n"
    again = results_document(edited, "table two", out)
    assert again == edited.replace("table one", "table two")
    for foreign in ("# Notes\n\nno markers\n", f"{TABLE_END}\n{TABLE_BEGIN}\n"):
        with pytest.raises(UserError, match=r"^out=r\.md exists and has no '<!-- results-table: begin"):
            results_document(foreign, "table", out)
    docs = (Path(__file__).parents[1] / "docs" / "results.md").read_text()
    kept = results_document(docs, "table", out)
    assert kept.endswith(docs[docs.index(TABLE_END) + len(TABLE_END) :]) and "## Networks" in kept


def test_results_table_keeps_the_rest_of_its_file_and_refuses_a_file_without_markers(tmp_path, capsys):
    foreign = tmp_path / "notes.md"
    foreign.write_text("# Notes\n\nmine\n")
    with pytest.raises(SystemExit) as stopped:
        results_table_command(["presets=[short_corridor]", "seeds=1", f"out={foreign}"])
    assert stopped.value.code == 2 and foreign.read_text() == "# Notes\n\nmine\n"
    assert capsys.readouterr().err.strip() == (
        f"error: out={foreign} exists and has no '{TABLE_BEGIN}' ... '{TABLE_END}' lines to write the "
        "table between: give a new file, or add those two lines to it"
    )  # before any training: nothing was printed but the line
    out = tmp_path / "results.md"
    out.write_text(f"# Results\n\n{TABLE_BEGIN}\nold\n{TABLE_END}\n\n## By hand\n\nkept\n")
    results_table_command(["presets=[short_corridor]", "seeds=1", f"out={out}"])
    text = out.read_text()
    assert text.endswith(f"{TABLE_END}\n\n## By hand\n\nkept\n") and "old" not in text
    assert f"`softmax-reinforce results-table presets=[short_corridor] seeds=1 out={out}`" in text
    assert "torch threads: 1; float rounding" in text and "over 1 seed;" in text
    model = cpu_model()  # the CPU: its rounding
    assert isinstance(model, str) and model and f"({model}, " in text
    assert "`experiment=short_corridor`" in text


# -- env=<id> applies the env's preset (configs/env_presets.yaml) --------------------------------
def test_every_listed_env_maps_to_an_existing_preset_for_that_env():
    presets = env_presets(CONFIG_DIR)
    assert presets, "configs/env_presets.yaml lists no env"
    for env, names in presets.items():
        for name in names:
            assert name in PRESETS or (name == "none" and name is names[0])
            if name != "none":
                assert f"\nenv: {env}\n" in (EXPERIMENT_DIR / f"{name}.yaml").read_text()


def test_agent_policy_on_the_command_line_picks_the_preset_of_that_form():
    for env, names in env_presets(CONFIG_DIR).items():
        for name in (name for name in names if name != "none"):
            form = preset_policy(name, CONFIG_DIR)
            chosen = with_env_preset([f"env={env}", f"agent.policy={form}"], CONFIG_DIR).name
            assert chosen is not None and preset_policy(chosen, CONFIG_DIR) == form
    assert with_env_preset(["env=Acrobot-v1", "agent.policy=action"], CONFIG_DIR).name is None


def test_an_env_or_form_given_by_an_interpolation_gets_the_preset_of_what_it_names(monkeypatch):
    """``env='${oc.env:ENV_ID}'`` (or ``agent.policy='${oc.env:FORM}'``) trained Acrobot-v1 (an MLP)
    with the generic defaults and no ``preset:`` line: the presets were looked up by the text."""
    monkeypatch.setenv("SR50_ENV", "Acrobot-v1")
    monkeypatch.setenv("SR50_FORM", "mlp")
    assert with_env_preset(["env=${oc.env:SR50_ENV}"], CONFIG_DIR).name == "acrobot_mlp"
    assert with_env_preset(["agent.policy=${oc.env:SR50_FORM}"], CONFIG_DIR).name == "cartpole_mlp"
    assert (
        compose_train_config(["env=${oc.env:SR50_ENV}"]).agent
        == compose_train_config(["env=Acrobot-v1"]).agent
    )
    assert with_env_preset(["env=${seed}"], CONFIG_DIR).name is None  # another key's: left to Hydra


def test_env_override_applies_its_preset_and_the_command_line_still_wins():
    env, name = "Acrobot-v1", env_presets(CONFIG_DIR)["Acrobot-v1"][0]
    preset = compose_train_config([f"experiment={name}"], env_presets=False)
    plain = compose_train_config([f"env={env}", "experiment=none"])
    auto = compose_train_config([f"env={env}"])
    assert auto.agent == preset.agent and auto.agent != plain.agent
    override = compose_train_config([f"env={env}", "agent.lr=0.123"])
    assert override.agent.lr == 0.123 and override.agent.gamma == preset.agent.gamma


def test_none_first_keeps_the_generic_defaults_for_the_default_form():
    assert with_env_preset(["env=CartPole-v1"], CONFIG_DIR).name is None  # listed as [none, cartpole_mlp]
    assert with_env_preset(["env=CartPole-v1", "agent.policy=mlp"], CONFIG_DIR).name == "cartpole_mlp"


MLP_OWN = "preset: none; agent=mlp (agent.policy=mlp's own defaults; agent=reinforce for the generic ones)"


@pytest.mark.parametrize(
    ("overrides", "lr", "line"),
    [
        (["env=MountainCar-v0", "agent.policy=mlp"], 0.003, MLP_OWN),  # no preset for the env
        (["experiment=none", "agent.policy=mlp"], 0.003, MLP_OWN),  # the generic defaults of the form
        (["env=MountainCar-v0", "agent.policy=mlp", "agent.lr=0.01"], 0.01, MLP_OWN),  # typed: it wins
        (["agent=mlp"], 0.003, None),  # by hand
        (["env=MountainCar-v0", "agent=reinforce", "agent.policy=mlp"], 0.1, None),  # the user's option
        (
            ["env=CartPole-v1", "agent.policy=mlp"],
            0.003,
            "preset: experiment=cartpole_mlp (tuned for "
            "CartPole-v1; experiment=none for the generic defaults)",
        ),
        (["env=MountainCar-v0", "agent.policy=state"], 0.1, None),  # a linear form: the generic ones
    ],
)
def test_a_policy_form_named_without_a_preset_gets_its_own_defaults(tmp_path, overrides, lr, line):
    """``agent.policy=mlp`` on an env with no MLP preset trained with the generic defaults, whose
    step size (0.1 under Adam, tuned for the linear forms) made the network's policy deterministic
    at once: CartPole's return was 9.45 after 100k steps. configs/agent/mlp.yaml now applies."""
    cfg = compose_train_config([*overrides, f"run_dir={tmp_path}"])
    assert cfg.agent.lr == lr
    assert cfg.agent.policy == ("state" if "agent.policy=state" in overrides else "mlp")
    assert with_env_preset(overrides, CONFIG_DIR).line() == line


def test_a_sweep_over_envs_keeps_the_named_forms_own_defaults():
    choice = with_env_preset(["-m", "env=MountainCar-v0,Acrobot-v1", "agent.policy=mlp"], CONFIG_DIR)
    assert "agent=mlp" in choice.overrides
    assert choice.line() == (
        "preset: none (env is swept: each job gets the generic defaults, agent=mlp for agent.policy=mlp; "
        "experiment=X for one, or -m experiment=X,Y)"
    )


@pytest.mark.parametrize(
    ("swept", "hint"),
    [
        ("agent.policy=state,mlp", True),
        ("agent.policy=choice(state,'mlp')", True),  # Hydra's other sweep form, a quoted name
        ("agent.policy=state,action", False),  # the linear forms: the generic defaults are theirs
        ("agent.policy=glob(*)", False),  # no names to look up
    ],
)
def test_a_sweep_over_policy_forms_says_how_the_mlp_jobs_get_their_own_defaults(swept, hint):
    """``-m agent.policy=state,mlp`` trained its mlp job with the linear forms' step size (a return of
    9.35 on CartPole), and its line said only "the generic defaults"."""
    choice = with_env_preset(["-m", "env=MountainCar-v0", swept], CONFIG_DIR)
    assert choice.overrides == ["-m", "env=MountainCar-v0", swept]  # each job as typed: Hydra's product
    assert choice.line() == (
        "preset: none (agent.policy is swept: each job gets the generic defaults"
        + (", tuned for the linear forms, also agent.policy=mlp: -m agent=reinforce,mlp gives it its own"
           if hint else "")
        + "; experiment=X for one, or -m experiment=X,Y)"
    )  # fmt: skip
    chosen = with_env_preset(["-m", "agent=reinforce", swept], CONFIG_DIR)  # the user's own option
    assert chosen.line() == "preset: none (agent.policy is swept: each job gets the generic defaults; " \
        "experiment=X for one, or -m experiment=X,Y)"  # fmt: skip


def test_a_form_of_ones_own_gets_its_defaults_from_ones_own_config_folder(tmp_path):
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "wide.yaml").write_text(
        "defaults:\n  - reinforce\n  - _self_\npolicy: wide\nlr: 0.002\n"
    )
    choice = with_env_preset(["env=MyEnv-v0", "agent.policy=wide"], CONFIG_DIR, user_dirs=[tmp_path])
    assert choice.overrides == ["agent=wide", "env=MyEnv-v0", "agent.policy=wide"]
    assert (
        with_env_preset(["env=MyEnv-v0", "agent.policy=narrow"], CONFIG_DIR, user_dirs=[tmp_path]).line()
        is None
    )
    # an option that is no form's own (reinforce.yaml sets policy: state) said "agent.policy=reinforce's own"
    assert with_env_preset(["env=MyEnv-v0", "agent.policy=reinforce"], CONFIG_DIR).line() is None


def test_an_index_naming_no_preset_is_one_line_naming_the_index(tmp_path):
    """``CartPole-v1: [nosuch]`` in one's own env_presets.yaml was Hydra's "In 'train': Could not find
    'experiment/nosuch'", of a setting the command line never typed."""
    (tmp_path / "env_presets.yaml").write_text("CartPole-v1: [nosuch]\n")
    said = (
        r"^env_presets.yaml lists nosuch for CartPole-v1, which is no preset \(presets: acrobot, .*\): add "
    )
    with pytest.raises(UserError, match=said + "experiment/nosuch.yaml to your config folder"):
        with_env_preset(["env=CartPole-v1"], CONFIG_DIR, user_dirs=[tmp_path])
    assert (
        with_env_preset(["env=Acrobot-v1"], CONFIG_DIR, user_dirs=[tmp_path]).name == "acrobot_mlp"
    )  # not its env


def test_a_quoted_policy_form_gets_the_preset_tuned_for_it():
    """``agent.policy='mlp'`` was compared as typed, quotes and all: no preset was tuned for it."""
    assert with_env_preset(["env=Acrobot-v1", "agent.policy='mlp'"], CONFIG_DIR).name == "acrobot_mlp"


def test_the_mlp_forms_own_defaults_learn_where_the_generic_step_size_did_not(make_config):
    from agents.runtime.run import train

    cfg = make_config("experiment=none", "agent.policy=mlp", "budget.total_env_steps=40000", "seed=4")
    assert train(cfg).final_mean_return > 150  # the generic 0.1: about 10, the policy deterministic


def test_an_env_without_a_preset_gets_the_generic_defaults():
    choice = with_env_preset(["env=MountainCarContinuous-v0"], CONFIG_DIR)
    assert choice.name is None and choice.line() is None
    assert choice.overrides == ["env=MountainCarContinuous-v0"]


def test_preset_choice_says_which_and_how():
    env, name = "Acrobot-v1", env_presets(CONFIG_DIR)["Acrobot-v1"][0]
    auto = with_env_preset([f"env={env}", "seed=3"], CONFIG_DIR)
    assert auto.overrides == [f"experiment={name}", f"env={env}", "seed=3"]
    assert (
        auto.line()
        == f"preset: experiment={name} (tuned for {env}; experiment=none for the generic defaults)"
    )
    chosen = with_env_preset(["experiment=taxi"], CONFIG_DIR)
    assert chosen.overrides == ["experiment=taxi"] and "(chosen;" in str(chosen.line())
    # a preset named beside another env: its values, tuned for Acrobot, trained CartPole without a word
    other = with_env_preset(["experiment=acrobot", "env=CartPole-v1"], CONFIG_DIR)
    assert other.line() == (
        "preset: experiment=acrobot (chosen; tuned for Acrobot-v1, trained on env=CartPole-v1; "
        "experiment=none for the generic defaults)"
    )
    same_env = (["env=Acrobot-v1"], [], ["env='Acrobot-v1'"], ["env=gymnasium.envs:Acrobot-v1"])  # quoted,
    for same in same_env:  # or with its module, it is the preset's own env
        assert with_env_preset(["experiment=acrobot", *same], CONFIG_DIR).line() == (
            "preset: experiment=acrobot (chosen; experiment=none for the generic defaults)"
        )
    assert with_env_preset([f"env={env}", "experiment=none"], CONFIG_DIR).overrides == [f"env={env}"]
    swept = with_env_preset([f"env={env},CartPole-v1"], CONFIG_DIR)  # an env sweep
    assert swept.name is None and "env is swept" in str(swept.line())
    # a sweep over policy forms got the first form's preset silently (the mlp job ran the linear one)
    forms = with_env_preset(["env=CartPole-v1", "agent.policy=state,mlp"], CONFIG_DIR)
    assert forms.name is None and "agent.policy is swept" in str(forms.line())
    presets = with_env_preset(["experiment=cartpole,acrobot,none"], CONFIG_DIR)  # none in a list: a file
    assert presets.line() == "preset: each job its own (experiment=cartpole,acrobot,none)"


def test_a_sweep_over_presets_is_one_folder_and_may_list_none():
    """Its jobs split over multirun/CartPole-v1/ and multirun/Acrobot-v1/; experiment=none in the
    list was "Could not find 'experiment/none'"."""
    from agents.tools.composing import compose_train_config
    from agents.tools.sweep_checks import ENV_SWEEP_DIR, with_env_sweep_dir

    assert ENV_SWEEP_DIR in with_env_sweep_dir(["-m", "experiment=cartpole,acrobot"])
    generic = compose_train_config(["experiment=none"], env_presets=False)
    assert generic == compose_train_config([], env_presets=False)


@pytest.mark.parametrize(
    "args",
    [
        ["-m", "env=Acrobot-v1", "seed=0,1"],
        ["--multirun", "agent.policy=mlp", "seed=0,1"],
        ["--cfg", "job", "env=Acrobot-v1"],
        ["env=Acrobot-v1", "--cfg", "job"],
        ["--config-dir", "/tmp/my_configs", "-m", "env=Acrobot-v1"],
    ],
)
def test_the_automatic_preset_leaves_hydras_flags_parseable(args):
    from hydra._internal.utils import get_args_parser

    choice = with_env_preset(args, CONFIG_DIR)
    parsed = get_args_parser().parse_args(choice.overrides)  # exits on "unrecognized arguments"
    assert parsed.overrides == [f"experiment={choice.name}", *(a for a in args if "=" in a and a[0] != "-")]
    assert set(choice.overrides) - set(args) == {f"experiment={choice.name}"}


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("experiment=cartpol", "experiment=cartpol is not a preset (did you mean cartpole or cartpole_mlp?"),
        ("experiment=taxi,acrobt", "experiment=acrobt is not a preset (did you mean acrobot"),
        ("+experiment=zzz", "experiment=zzz is not a preset (presets: acrobot, acrobot_mlp, cartpole"),
    ],
)
def test_unknown_preset_is_one_line_with_the_closest_names(override, line):
    with pytest.raises(UserError) as error:
        with_env_preset([override], CONFIG_DIR)
    assert str(error.value).startswith(line) and "\n" not in str(error.value)


def test_results_table_refuses_an_unknown_preset_before_training_any(tmp_path, capsys):
    """A typo in the last preset was found after the others had trained (and nothing was written)."""
    out = tmp_path / "table" / "results.md"
    with pytest.raises(SystemExit) as stopped:
        results_table_command(["presets=[short_corridor,cartpol]", "seeds=1", f"out={out}"])
    printed = capsys.readouterr()
    assert stopped.value.code == 2 and printed.out == "" and not out.parent.exists()
    assert printed.err.startswith("error: presets=cartpol is not a preset (did you mean cartpole")


BOX2D_MISSING = (  # Gymnasium's own words (gymnasium/envs/box2d/lunar_lander.py)
    "Box2D is not installed, you can install it by run `pip install swig` followed by "
    '`pip install "gymnasium[box2d]"`'
)


def test_results_table_makes_every_env_before_training_any(tmp_path, capsys, monkeypatch):
    """``presets=[short_corridor,lunarlander]`` without Box2D trained short_corridor, then exited 2
    with no table written, and Gymnasium's hint (``pip install swig``) contradicted the README's
    ``pip install -e '.[box2d]'``. Now every env is made before the first preset trains."""
    make = gym.make

    def without_box2d(env_id, *args, **kwargs):  # as LunarLander-v3 where Box2D is missing
        if "FrozenLake" in str(env_id):
            raise gym.error.DependencyNotInstalled(BOX2D_MISSING)
        return make(env_id, *args, **kwargs)

    monkeypatch.setattr(gym, "make", without_box2d)
    out = tmp_path / "table" / "results.md"
    with pytest.raises(SystemExit) as stopped:
        results_table_command(["presets=[short_corridor,frozenlake]", "seeds=1", f"out={out}"])
    printed = capsys.readouterr()
    assert stopped.value.code == 2 and printed.out == "" and not out.parent.exists(), printed
    assert printed.err.strip() == (
        "error: experiment=frozenlake cannot run, so nothing was trained: env=FrozenLake-v1 needs an "
        "optional dependency: Box2D is not installed (install it with pip install -e '.[box2d]')"
    )


def test_results_table_stopped_before_writing_a_new_out_does_not_call_it_unchanged(
    tmp_path, capsys, monkeypatch
):
    """A Ctrl-C in a run whose ``out`` did not exist yet (its default, a new Hydra folder's) said
    ``results.md is unchanged`` of a file that was never there."""
    out = tmp_path / "results.md"
    run_preset = results_module.run_preset

    def stopped_at_frozenlake(preset, *args, **kwargs):
        if preset == "frozenlake":
            raise RunInterrupted("SIGINT: stopped during experiment=frozenlake, seed 0", 130)
        return run_preset(preset, *args, **kwargs)

    monkeypatch.setattr(results_module, "run_preset", stopped_at_frozenlake)
    with pytest.raises(SystemExit) as stopped:
        results_table_command(["presets=[short_corridor,frozenlake]", "seeds=1", f"out={out}"])
    assert stopped.value.code == 130 and not out.exists()
    assert capsys.readouterr().err.strip().endswith(f"({out} was not written)")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("failure", "code", "line"),
    [
        (RunInterrupted("SIGINT: stopped during experiment=frozenlake, seed 0", 130), 130,
         "SIGINT: stopped during experiment=frozenlake, seed 0"),
        (UserError("env=FrozenLake-v1 failed to start: boom"), 2,
         "error: env=FrozenLake-v1 failed to start: boom"),
    ],
    ids=["signal", "error"],
)  # fmt: skip
def test_results_table_stopped_early_keeps_the_complete_table_and_writes_the_finished_beside_it(
    tmp_path, capsys, monkeypatch, failure, code, line
):
    """A Ctrl-C replaced the committed table (docs/results.md) with the presets that had finished,
    and an error after some presets wrote nothing. Now ``out`` stays as it was, the finished presets
    go to ``results.partial.md`` with a line saying which did not run and why, and a later complete
    run removes that partial file."""
    out = tmp_path / "results.md"
    results_table_command(["presets=[frozenlake]", "seeds=1", f"out={out}"])
    complete = out.read_text()
    run_preset = results_module.run_preset

    def failing_at_frozenlake(preset, *args, **kwargs):
        if preset == "frozenlake":
            raise failure
        return run_preset(preset, *args, **kwargs)

    monkeypatch.setattr(results_module, "run_preset", failing_at_frozenlake)
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        results_table_command(["presets=[short_corridor,frozenlake,taxi]", "seeds=1", f"out={out}"])
    partial = tmp_path / "results.partial.md"
    assert stopped.value.code == code and out.read_text() == complete
    assert capsys.readouterr().err.strip() == (
        f"{line}; the presets that finished are in {partial} ({out} is unchanged)"
    )
    text = partial.read_text()
    assert "`experiment=short_corridor`" in text and "`experiment=frozenlake`" not in text
    why = "stopped by a signal" if code == 130 else f"{line}"
    assert f"Not run: frozenlake, taxi ({why} during experiment=frozenlake)." in text
    monkeypatch.setattr(results_module, "run_preset", run_preset)
    results_table_command(["presets=[short_corridor]", "seeds=1", f"out={out}"])
    assert not partial.exists() and "`experiment=short_corridor`" in out.read_text()
