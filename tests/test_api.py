"""The Python API of the README's first screen: agents.train, agents.load, agent.predict."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import agents
from agents.runtime.checkpoint import CHECKPOINT_NAME, load_checkpoint
from agents.runtime.config import AgentConfig, BudgetConfig
from agents.runtime.restore import agent_from_checkpoint

QUIET = ("logging.progress_bar=false", "budget.total_env_steps=1500")


@pytest.mark.parametrize(
    ("policy", "extra"), [("state", ()), ("action", ()), ("mlp", ("agent.hidden_sizes=[8]",))]
)
def test_train_load_predict_prints_nothing(tmp_path, capsys, policy, extra):
    result = agents.train("CartPole-v1", *QUIET, f"run_dir={tmp_path}", f"agent.policy={policy}", *extra)
    assert capsys.readouterr() == ("", "")  # no summary, no bar
    assert result.run_dir == tmp_path and result.env_steps >= 1500 and np.isfinite(result.final_mean_return)

    agent = agents.load(result.run_dir)
    obs = np.stack([gym.make("CartPole-v1").reset(seed=seed)[0] for seed in range(5)])
    action = agent.predict(obs[0], deterministic=True)
    assert type(action) is int
    actions = agent.predict(obs, deterministic=True)
    assert actions.shape == (5,) and actions[0] == action
    # greedy = argmax pi(.|s) of the policy rebuilt from the checkpoint by the trainer's own path
    _, _, parts = agent_from_checkpoint(load_checkpoint(tmp_path), tmp_path)
    features = torch.from_numpy(parts.inputs(obs)).to(parts.policy.param.dtype)
    assert np.array_equal(actions, parts.policy.probs(features).argmax(-1).numpy())
    sampled = np.array([agent.predict(obs[0], deterministic=False) for _ in range(200)])
    assert set(sampled.tolist()) <= {0, 1}
    with pytest.raises(agents.UserError, match=r"^deterministic='no' must be True or False \(a bool\)$"):
        agent.predict(obs[0], deterministic="no")  # a true value: it acted greedily


def test_one_seed_and_many_seeds_return_one_result_type(tmp_path):
    one = agents.train("CartPole-v1", *QUIET, f"run_dir={tmp_path / 'one'}")
    many = agents.train("CartPole-v1", *QUIET, f"run_dir={tmp_path / 'many'}", "num_seeds=2")
    for result in (one, many):
        assert isinstance(result, agents.RunResult) and result.seconds > 0
    assert isinstance(one, agents.TrainResult) and one.seed_results == [one]
    assert isinstance(many, agents.MultiSeedResult)
    assert [r.run_dir.name for r in many.seed_results] == ["seed0", "seed1"]
    assert many.final_mean_return == np.mean([r.final_mean_return for r in many.seed_results])


def test_discrete_observations_and_a_checkpoint_file(tmp_path):
    result = agents.train("FrozenLake-v1", *QUIET, f"run_dir={tmp_path}", "+env_kwargs.is_slippery=false")
    agent = agents.load(result.run_dir / CHECKPOINT_NAME)
    assert type(agent.predict(3)) is int
    with pytest.raises(
        agents.UserError, match=r"which='best' picks a file in a run folder, but .* is a file"
    ):
        agents.load(result.run_dir / CHECKPOINT_NAME, which="best")  # was: loaded the latest, silently
    for which in ([], {}, None, "BEST"):  # a list or a dict was a TypeError (unhashable) traceback
        with pytest.raises(agents.UserError, match=r"^which=.* is not one of latest, best$"):
            agents.load(result.run_dir, which=which)
    assert agent.predict(np.arange(16)).shape == (16,)
    with pytest.raises(agents.UserError, match=r"expects one observation of shape \(\) or a batch \[B\] "):
        agent.predict(np.zeros((2, 2), dtype=np.int64))
    for state in (-1, 16):  # -1 was state 15's one-hot, 16 an IndexError
        with pytest.raises(agents.UserError, match=rf"predict got observation {state}, outside .* 0\.\.15"):
            agent.predict(state)
    with pytest.raises(agents.UserError, match="predict got float64 observations; the observation_space"):
        agent.predict(3.7)  # was floored to 3


def test_predict_of_an_observation_the_runs_wrappers_would_change_names_them(tmp_path):
    """A Dict-observation env's raw observation, given to the agent of a run that flattened it
    (``env_wrappers``), was "got shape ()": numpy made the dict an object scalar."""
    wrapper = "env_wrappers=[{_target_:gymnasium.wrappers.DtypeObservation,dtype:float64}]"
    agent = agents.load(agents.train("CartPole-v1", *QUIET, wrapper, f"run_dir={tmp_path}").run_dir)
    wrappers = "the run's env_wrappers, gymnasium.wrappers.DtypeObservation, made its observations"
    with pytest.raises(agents.UserError) as raised:
        agent.predict({"position": 0.0, "angle": 0.1})
    assert str(raised.value) == (
        f"predict got a dict of keys ['position', 'angle'], not observations of shape (4,) for CartPole-v1 "
        f"({wrappers}: give them as those return them)"
    )
    shapes = r"shape \(4,\) or a batch \[B, 4\] .* got shape \(2, 2, 2\)"
    with pytest.raises(agents.UserError, match=rf"{shapes} \({wrappers}"):
        agent.predict(np.zeros((2, 2, 2)))
    with pytest.raises(agents.UserError, match=r"^predict got a tuple \(obs, info\), as env.reset"):
        agent.predict(gym.make("CartPole-v1").reset(seed=0))  # was "numpy cannot stack"
    with pytest.raises(agents.UserError, match=r"^predict got a list \(obs, info\), as env.reset"):
        agent.predict(list(gym.make("CartPole-v1").reset(seed=0)))  # the same, for a list
    for nothing, shown in ((None, "None"), ("left", "'left'")):  # were "got shape ()" and the wrappers
        with pytest.raises(agents.UserError) as raised:
            agent.predict(nothing)
        assert str(raised.value) == f"predict got {shown}, not observations of shape (4,) for CartPole-v1"


def test_predict_takes_tensors_and_refuses_nan(tmp_path):
    agent = agents.load(agents.train("CartPole-v1", *QUIET, f"run_dir={tmp_path}").run_dir)
    obs = torch.zeros(4, requires_grad=True)  # was torch's "Can't call numpy() on a Tensor that requires..."
    assert agent.predict(obs) == agent.predict(np.zeros(4, dtype=np.float32))
    rows = torch.tensor([[0.1, 0.5, -0.2, 0.3], [0.0, -0.5, 0.2, -0.3]])
    expected = agent.predict(rows.numpy()).tolist()
    for other in (rows.bfloat16(), rows.to_sparse()):  # were TypeErrors ("unsupported ScalarType BFloat16")
        assert agent.predict(other).tolist() == expected
    with pytest.raises(agents.UserError, match=r"cannot read this tensor .*on meta.*give a dense tensor"):
        agent.predict(torch.zeros(4, device="meta"))  # was NotImplementedError
    with pytest.raises(agents.UserError, match="predict got nan/inf observations"):
        agent.predict(np.full(4, np.nan))  # was action 0
    outside = r"^predict got observation 1e\+308, outside the float32 range of the observation_space Box\("
    for huge in (np.full(4, 1e308), np.array([[1e308] * 4, [0.1, 0, 0, 0]])):  # were actions, from nan
        with warnings.catch_warnings():  # preferences, with numpy's "overflow encountered in matmul"; then
            warnings.simplefilter("error")  # "action preferences overflow", though no float32 holds them
            with pytest.raises(agents.UserError, match=outside):
                agent.predict(huge, deterministic=False)
    assert agent.predict(np.full(4, 3e38)) in (0, 1)  # large, finite preferences (float64): an action
    with pytest.raises(agents.UserError, match="predict got observations numpy cannot stack"):
        agent.predict([[1, 2, 3, 4], [1, 2]])  # was numpy's ValueError
    for not_a_path in (None, 123):  # were TypeErrors from deep inside
        with pytest.raises(agents.UserError, match="takes a run folder or a checkpoint file"):
            agents.load(not_a_path)


def test_predict_takes_whole_floats_for_integer_observations(tmp_path):
    """A Discrete or integer Box observation given as whole floats (``2.0``, a float tensor, numbers
    from a float computation) was "predict got float64 observations; the observation_space ...
    holds integers"; a fraction still is."""
    lake = agents.load(agents.train("FrozenLake-v1", *QUIET, f"run_dir={tmp_path / 'lake'}").run_dir)
    assert lake.predict(2.0) == lake.predict(2) and lake.predict(torch.tensor(5.0)) == lake.predict(5)
    assert lake.predict(np.array([1.0, 14.0])).tolist() == lake.predict(np.array([1, 14])).tolist()
    box = agents.train("fault_envs:fault/BoxInt-v0", *QUIET, f"run_dir={tmp_path / 'box'}").run_dir
    agent, obs = agents.load(box), np.array([[-2, 2, 4], [5, -5, 0]])
    assert agent.predict(obs.astype(np.float32)).tolist() == agent.predict(obs).tolist()
    for refused in (obs + 0.5, np.where(obs > 0, np.nan, obs)):
        with pytest.raises(
            agents.UserError, match=r"predict got float(32|64) observations; the observation_space"
        ):
            agent.predict(refused)
    with pytest.raises(
        agents.UserError, match=r"predict got float64 observations; the observation_space Disc"
    ):
        lake.predict(2.5)
    with pytest.raises(
        agents.UserError,
        match=r"^predict got 9\.22337e\+18, outside the int64 range \[-9223372036854775808, ",
    ):
        agent.predict(np.array([2.0**63, 5.0, 0.0]))  # was cast to -2**63 (int64's max rounds up to 2**63)
    with pytest.raises(agents.UserError, match=r"^predict got -2e\+30, outside the int64 range"):
        agent.predict(obs * 1e30)  # whole, but no int64: it was "float64 observations ... holds integers"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # float16 against int64's range: "overflow encountered in cast"
        assert lake.predict(np.float16(3)) == lake.predict(3)
    assert agent.predict(np.zeros((0, 3))).shape == (0,)  # as an empty integer batch


def test_predict_refuses_integers_the_observations_dtype_cannot_hold(tmp_path):
    """``[256, 0, 3, 4]`` for a uint8 Box (no env of that space returns 256) was taken as it is,
    as were int64s past a Discrete's int64; whole floats there were refused already."""
    run = agents.train("fault_envs:fault/BoxUint8-v0", *QUIET, f"run_dir={tmp_path / 'box'}").run_dir
    agent = agents.load(run)
    assert agent.predict(np.array([255, 0, 3, 4])) == agent.predict(np.array([255, 0, 3, 4], np.uint8))
    for given, shown in ((np.array([256, 0, 3, 4]), "256"), (np.array([[1, 2, 3, 4], [0, -1, 0, 0]]), "-1")):
        with pytest.raises(
            agents.UserError, match=rf"^predict got {shown}, outside the uint8 range \[0, 255\] of the obs"
        ):
            agent.predict(given)
    flags = agents.load(
        agents.train("fault_envs:fault/BoxBool-v0", *QUIET, f"run_dir={tmp_path / 'b'}").run_dir
    )
    assert flags.predict([1.0, 0.0, 1.0]) == flags.predict(
        np.array([True, False, True])
    )  # was "holds integers"
    for given in ([2, 0, 1], [2.0, 0.0, 1.0]):
        with pytest.raises(agents.UserError, match=r"^predict got 2, outside the bool range \[0, 1\]"):
            flags.predict(given)
    big = np.array([2**64 - 1, 0, 0, 0], dtype=np.uint64)
    with pytest.raises(agents.UserError, match=r"^predict got 18446744073709551615, outside the uint8"):
        agent.predict(big)


def test_train_accepts_a_composed_config_and_a_dataclass(tmp_path):
    cfg = agents.compose("CartPole-v1", *QUIET, f"run_dir={tmp_path / 'a'}")
    assert agents.train(cfg).run_dir == tmp_path / "a"
    config = agents.TrainConfig(env="Acrobot-v1", run_dir=str(tmp_path / "b"))
    said = r"^a TrainConfig holds the generic defaults, without env=Acrobot-v1's preset acrobot_mlp, which ag"
    with pytest.warns(
        UserWarning, match=said + r'ents\.train\("Acrobot-v1", \.\.\.\) applies \(agents\.compose'
    ):
        result = agents.train(
            config, *QUIET, "seed=2"
        )  # it trained the generic linear defaults without a word
    with pytest.warns(UserWarning, match=said + r'ents\.compose\("Acrobot-v1", \.\.\.\) applies$'):
        agents.compose(config)
    with warnings.catch_warnings():  # a resume keeps the run's settings, the preset's among them
        warnings.simplefilter("error")
        agents.train(
            agents.TrainConfig(env="Acrobot-v1"), f"resume={tmp_path / 'b'}", "budget.total_env_steps=2000"
        )
    assert result.env_steps >= 1500 and (tmp_path / "b" / CHECKPOINT_NAME).is_file()
    assert "env: Acrobot-v1" in (tmp_path / "b" / "config.yaml").read_text()


def test_a_dataclass_takes_numpy_scalars(tmp_path):
    """``seed=np.int64(3)`` (from ``np.arange``) was "seed: Value '3' of type 'numpy.int64' could not
    be converted to Integer"; so were a numpy budget, lr and an env_kwargs flag."""
    config = agents.TrainConfig(env="FrozenLake-v1", seed=np.int64(3), run_dir=str(tmp_path / "numpy"))
    config.budget.total_env_steps, config.agent.lr = np.int64(900), np.float32(0.5)
    config.env_kwargs = {"is_slippery": np.bool_(False)}
    result = agents.train(config, "logging.progress_bar=false")
    saved = load_checkpoint(result.run_dir)["config"]
    assert (saved["seed"], saved["budget"]["total_env_steps"], saved["agent"]["lr"]) == (3, 900, 0.5)
    assert saved["env_kwargs"] == {"is_slippery": False} and result.updates > 0


def test_a_dataclass_field_given_as_a_dict_takes_the_other_keys_defaults():
    """``TrainConfig(agent={"lr": 0.05})`` was "the given config has no agent.policy: ... or pass a
    TrainConfig": the dict's other keys default as the dataclass's would; a wrong key is named."""
    cfg = agents.compose(
        agents.TrainConfig(env="FrozenLake-v1", agent={"lr": 0.05}, budget={"total_env_steps": 900})
    )
    assert (cfg.agent.lr, cfg.agent.policy, cfg.agent.gamma) == (0.05, "state", AgentConfig().gamma)
    assert cfg.budget.total_env_steps == 900 and cfg.budget.stop_at_target == BudgetConfig().stop_at_target
    with pytest.raises(agents.UserError, match=re.escape("agent.lrr")):
        agents.compose(agents.TrainConfig(agent={"lrr": 0.05}))


def test_overrides_may_be_keywords_as_stable_baselines3_takes_seed(tmp_path):
    """``agents.train("CartPole-v1", seed=1)`` was Python's "unexpected keyword argument 'seed'"."""
    folder = tmp_path / "a b,c=d"
    wrappers = [{"_target_": "gymnasium.wrappers.TimeLimit", "max_episode_steps": 50}]
    by_keywords = agents.compose(
        "FrozenLake-v1", "seed=9", seed=np.int64(3), agent={"lr": 0.05, "hidden_sizes": [32]},
        env_kwargs={"is_slippery": False}, run_dir=folder, env_wrappers=wrappers,
        budget={"total_env_steps": 1e5}, experiment_name="true", logging={"progress_bar": False},
    )  # fmt: skip
    by_text = agents.compose(
        "FrozenLake-v1", "seed=3", "agent.lr=0.05", "agent.hidden_sizes=[32]",
        "+env_kwargs.is_slippery=false",
        f"run_dir='{folder}'", "env_wrappers=[{_target_:gymnasium.wrappers.TimeLimit,max_episode_steps:50}]",
        "budget.total_env_steps=100000", "experiment_name='true'", "logging.progress_bar=false",
    )  # fmt: skip
    assert (
        by_keywords == by_text
        and by_keywords.run_dir == str(folder)
        and by_keywords.experiment_name == "true"
    )
    result = agents.train("CartPole-v1", seed=2, budget={"total_env_steps": 600}, run_dir=tmp_path / "run")
    assert load_checkpoint(result.run_dir)["config"]["seed"] == 2 and result.env_steps >= 600
    whole_floats = {"seed": np.float64(2.0), "budget": {"total_env_steps": 600.0}}  # as the keywords take
    dataclass = agents.train(agents.TrainConfig(**whole_floats, run_dir=str(tmp_path / "dc")))  # them (it
    # said "could not be converted to Integer")
    assert dataclass.recent_returns == result.recent_returns and dataclass.env_steps == result.env_steps
    with pytest.raises(
        agents.UserError, match=r"^agent\.lrr is not a config key \(did you mean agent\.lr\?\)$"
    ):
        agents.compose("CartPole-v1", agent={"lrr": 1})
    with pytest.raises(
        agents.UserError, match=r"^agent=5: agent is a config group and takes one of its options "
    ):
        agents.compose("CartPole-v1", agent=5)


def test_overrides_may_come_as_a_list_as_hydras_compose_takes_them(tmp_path):
    """``agents.compose("CartPole-v1", ["seed=3"])`` and ``overrides=[...]`` (Hydra's
    ``compose(config_name, overrides=[...])``) were "overrides are key=value strings ... got [...]"."""
    one_by_one = agents.compose("Acrobot-v1", "seed=3", "agent.lr=0.05", "budget.total_env_steps=700")
    assert (
        agents.compose("Acrobot-v1", ["seed=3", "agent.lr=0.05"], "budget.total_env_steps=700") == one_by_one
    )
    assert agents.compose(
        "Acrobot-v1", ("seed=3",), overrides=["agent.lr=0.05"], budget={"total_env_steps": 700}
    ) == (one_by_one)
    result = agents.train(
        "CartPole-v1", overrides=["seed=2", "budget.total_env_steps=600"], run_dir=tmp_path / "r"
    )
    assert load_checkpoint(result.run_dir)["config"]["seed"] == 2 and result.env_steps >= 600
    generated = (override for override in ["agent.lr=0.05"])  # a ListConfig, a generator, None: as Hydra's
    assert agents.compose("Acrobot-v1", OmegaConf.create(["seed=3"]), generated, overrides=None,
                          budget={"total_env_steps": 700}) == one_by_one  # fmt: skip
    with pytest.raises(
        agents.UserError, match=r"^overrides in a set have no order: give them in a list or tuple"
    ):
        agents.compose("CartPole-v1", {"seed=3"})
    with pytest.raises(
        agents.UserError, match=r"^overrides are .key=value. strings, as on the command line; got 3$"
    ):
        agents.compose("CartPole-v1", ["seed=1", 3])


def test_another_env_on_a_composed_config_warns_that_it_keeps_the_configs_settings(recwarn):
    """``agents.compose(agents.compose("CartPole-v1"), env="Acrobot-v1")`` gave Acrobot the settings
    CartPole's preset had chosen, without a word; another key, or an env set on a TrainConfig
    (the schema's generic defaults), says nothing."""
    cartpole = agents.compose("CartPole-v1")
    said = (
        r"^env=Acrobot-v1 replaces the env of a config composed for CartPole-v1, whose settings "
        r'\(its preset.s among them\) it keeps: agents\.compose\("Acrobot-v1", \.\.\.\)'
    )
    with pytest.warns(UserWarning, match=said):
        acrobot = agents.compose(cartpole, env="Acrobot-v1")
    assert (acrobot.env, acrobot.agent) == ("Acrobot-v1", cartpole.agent)
    recwarn.clear()
    agents.compose(cartpole, "seed=3", "env=CartPole-v1")
    agents.compose(agents.TrainConfig(), "env=Acrobot-v1")
    assert not [warning for warning in recwarn if "replaces the env" in str(warning.message)]


@pytest.mark.parametrize(
    "value",
    [
        r"C:\runs\lr=0.1",
        "a\\b'c",
        "\\\\srv\\share",
        "ends\\",
        "true",
        "1e3",
        "x,y",
        "[1]",
        "",
        "ünï",
        " spaced ",
    ],
)
def test_a_keyword_string_is_read_back_as_given(tmp_path, value):
    """Quoting doubled every backslash (``C:\\runs`` came back as ``C:\\\\runs``); an empty string in a
    list was lost (``[""]`` became ``[]``)."""
    cfg = agents.compose("CartPole-v1", experiment_name=value, env_kwargs={"items": [value, "x y", ""]})
    assert cfg.experiment_name == value and list(cfg.env_kwargs["items"]) == [value, "x y", ""]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"env_kwargs": {"x": {1, 2}}}, r"^env_kwargs\.x: \{1, 2\} is of type set: give numbers, strings, "),
        ({"run_dir": object()}, r"^run_dir: <object object at .*> is of type object: "),
        ({"env_wrappers": [{"a,b": 1}]}, r"^env_wrappers: a dict inside a list takes names as keys .*'a,b'$"),
        (
            {"env_kwargs": {"a b": 1}},
            r"^env_kwargs: a dict takes names as keys, not 'a b'$",
        ),  # Hydra's grammar
        (
            {"env_kwargs": {"a.b": 1}},
            r"^env_kwargs: a dict takes names as keys, not 'a\.b'$",
        ),  # nested a: {b:}
    ],
)
def test_a_keyword_value_a_config_cannot_hold_is_one_line(settings, message):
    with pytest.raises(agents.UserError, match=message):
        agents.compose("CartPole-v1", **settings)


def test_a_group_chosen_on_a_composed_config_is_one_line_whatever_its_value():
    """``agent=5`` on a composed config said "Invalid type assigned: int is not a subclass of
    AgentConfig"; ``agent="mlp"`` said to pass it with an env id, as this does now."""
    base = agents.compose("CartPole-v1")
    for value in (5, "mlp"):
        with pytest.raises(
            agents.UserError, match=rf"^agent={value} chooses a config group, .* with an env id"
        ):
            agents.compose(base, agent=value)


def test_mistakes_raise_the_one_line_the_command_line_prints(tmp_path):
    message = r"^agent.lrr is not a config key \(did you mean agent.lr\?\)$"
    with pytest.raises(agents.UserError, match=message):
        agents.train("CartPole-v1", "agent.lrr=1")
    with pytest.raises(agents.UserError, match=r"agent.lr=-1.0 must be > 0"):
        agents.train("CartPole-v1", "agent.lr=-1", f"run_dir={tmp_path}")
    with pytest.raises(agents.UserError, match="no checkpoint at"):
        agents.load(tmp_path / "nowhere")
    with pytest.raises(agents.UserError, match=r"seed=-1 must be in \[0, 2\*\*32\)"):
        agents.load(tmp_path / "nowhere", seed=-1)  # was numpy's ValueError
    with pytest.raises(agents.UserError, match="seed='x' must be an int"):
        agents.load(tmp_path / "nowhere", seed="x")
    for no in ("false", "no", 0):  # "false" is a true value: it trusted the checkpoint's code
        with pytest.raises(agents.UserError, match=rf"^trust_code={no!r} must be True or False \(a bool\)$"):
            agents.load(tmp_path / "nowhere", trust_code=no)
    with pytest.raises(
        agents.UserError, match=r'got a TimeLimit: give its registered id, e\.g\. "CartPole-v1"'
    ):
        agents.train(gym.make("CartPole-v1"))  # as SB3's PPO("MlpPolicy", env) takes it
    with pytest.raises(
        agents.UserError, match="config must be an env id, a composed config or a TrainConfig, got None"
    ):
        agents.train(None)
    with pytest.raises(
        agents.UserError,
        match=r"overrides are .key=value. strings, as on the command line; got \{'seed': 1\}",
    ):
        agents.train("CartPole-v1", {"seed": 1})
    with pytest.raises(agents.UserError, match=r"^features=null: features is a config group and takes one"):
        agents.train("CartPole-v1", "features=null")  # Hydra's ValueError: "Got NoneType"
    with pytest.raises(agents.UserError, match=r"^'=1' has no key before '='"):
        agents.train("CartPole-v1", "=1")  # "Got int"


def test_a_config_read_from_a_runs_config_yaml_trains_and_its_mistakes_are_one_line(tmp_path):
    """``OmegaConf.load(<run>/config.yaml)`` is plain dicts: it failed with "'dict' object has no
    attribute 'env'", and a wrong value in it (or an override of it) with a TypeError."""
    first = agents.train("CartPole-v1", *QUIET, f"run_dir={tmp_path / 'a'}")
    loaded = OmegaConf.load(first.run_dir / "config.yaml")
    loaded.run_dir = str(tmp_path / "b")
    assert agents.train(loaded).env_steps >= 1500
    with pytest.raises(agents.UserError, match=r"agent.lr=abc: Value 'abc' of type 'str' could not be"):
        agents.train(loaded, "agent.lr=abc")
    with pytest.raises(agents.UserError, match=r"seed=null: field 'seed' is not Optional"):
        agents.train(loaded, "seed=null")
    loaded.agent.lr = "abc"
    with pytest.raises(agents.UserError, match=r"Value 'abc' of type 'str' could not be converted to Float"):
        agents.train(loaded)


def test_train_inside_a_hydra_app_and_from_threads(tmp_path, monkeypatch):
    """Inside the user's own Hydra app ``agents.train`` failed with Hydra's "GlobalHydra is already
    initialized" (two threads calling it too); each call gets a folder of its own, not the app's."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.yaml").write_text("x: 1\n")
    with initialize_config_dir(config_dir=str(tmp_path), version_base=None):
        runs = [agents.train("CartPole-v1", *QUIET, f"seed={seed}").run_dir for seed in (0, 1)]
        assert compose("app").x == 1  # the app's own Hydra is as it was
    assert len(set(runs)) == 2 and all(run.parent == tmp_path / "runs" for run in runs)
    results: list[object] = []

    def train(seed: int) -> None:
        results.append(agents.train("CartPole-v1", *QUIET, f"seed={seed}"))

    threads = [threading.Thread(target=train, args=(seed,)) for seed in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(result.env_steps >= 1500 for result in results) == [True, True]


def test_user_config_folders_are_searched(tmp_path):
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "mine.yaml").write_text("defaults:\n  - reinforce\n  - _self_\nlr: 0.123\n")
    cfg = agents.compose("CartPole-v1", "agent=mine", config_dirs=[tmp_path])
    assert cfg.agent.lr == 0.123 and cfg.agent.optimizer == "adam"
    (tmp_path / "experiment").mkdir()  # a preset of one's own passes the preset check too
    (tmp_path / "experiment" / "mine.yaml").write_text("# @package _global_\nagent:\n  gamma: 0.5\n")
    assert agents.compose("CartPole-v1", "experiment=mine", config_dirs=[tmp_path]).agent.gamma == 0.5


def test_the_command_line_takes_a_config_dir_with_its_own_preset(tmp_path):
    (tmp_path / "mine" / "experiment").mkdir(parents=True)
    (tmp_path / "mine" / "experiment" / "fast.yaml").write_text("# @package _global_\nagent:\n  gamma: 0.5\n")
    script = Path(__file__).resolve().parent.parent / "scripts" / "train.py"
    command = [sys.executable, str(script), "--config-dir", "mine", "experiment=fast", "--cfg", "job"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "gamma: 0.5" in done.stdout, done.stderr


def test_import_agents_is_light():
    """``import agents`` loads neither torch nor Hydra: the API is imported on first use."""
    code = "import sys, agents; print(sorted({'torch', 'hydra', 'gymnasium'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.mark.parametrize(
    "command",
    [
        "train.py nosuch=1",
        "train.py agent.lr=abc",
        "train.py experiment=cartpol",
        "train.py -m seed=0,1 agent.lrr=1",
        "evaluate.py checkpoint=x epsiodes=2",
        "evaluate.py episodes=2",  # no checkpoint=
        "evaluate.py checkpoint=nowhere",  # the checks before the checkpoint loads
        "evaluate.py checkpoint=nowhere which=nope",
        "evaluate.py checkpoint=nowhere episodes=0",
        "train.py env=CartPol-v1",  # Gymnasium's registry is read (1.9 s before: the trainer loaded first)
    ],
)
def test_a_typo_on_the_command_line_is_answered_before_torch_is_imported(command):
    """A key, value or preset the config cannot take is found when Hydra composes it, and an
    evaluation's checks before its checkpoint loads need no torch either: their one line came after
    torch's import (2.5 s in all on 2 cores; 0.7 s without)."""
    needed = ["gymnasium", "tensorboard"] if "env=" in command else []  # (its event-file protobufs only)
    script, *args = command.split()
    code = (
        "import runpy, sys\n"
        f"sys.argv = [{script!r}, *{args!r}]\n"
        "try:\n"
        f"    runpy.run_path({str(SCRIPTS / script)!r}, run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    print(exit.code, sorted({'torch', 'gymnasium', 'tensorboard'} & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == f"2 {needed}", done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_the_package_lists_its_public_names():
    """``dir(agents)`` (a notebook's tab completion) listed the package's own imports beside the
    API (``Any``, ``annotations``, ``importlib``)."""
    code = "import agents; print(' '.join(name for name in dir(agents) if not name.startswith('__')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == agents.__all__


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    """The README's first Python block, as written (it trains CartPole to 475 in about 2 s)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(
        compile(code.replace('"seed=1"', '"seed=1", "logging.progress_bar=false"'), "README", "exec"),
        namespace,
    )
    assert type(namespace["action"]) is int
    assert namespace["result"].run_dir.parent == tmp_path / "runs"
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("policy", ["state", "mlp"])
def test_load_a_checkpoint_saved_by_a_gpu_run(tmp_path, monkeypatch, policy):
    """A GPU run's checkpoint, made here by re-saving a CPU one with every storage tagged
    ``cuda:0`` (what ``torch.save`` records for CUDA tensors) and ``device: cuda`` in its config:
    ``agents.load`` maps it to the CPU and acts as before (tests/test_device.py does it for real
    where a GPU is present)."""
    agents.train(
        "CartPole-v1",
        *QUIET,
        f"run_dir={tmp_path}",
        f"agent.policy={policy}",
        *["agent.hidden_sizes=[8]"] * (policy == "mlp"),
    )
    obs = np.stack([gym.make("CartPole-v1").reset(seed=seed)[0] for seed in range(5)])
    expected = agents.load(tmp_path).predict(obs, deterministic=True)
    path = tmp_path / CHECKPOINT_NAME
    state = load_checkpoint(path)
    state["config"]["device"] = "cuda"
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save(state, path)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(path, weights_only=True)  # the storages really are tagged for a GPU
    assert np.array_equal(agents.load(tmp_path).predict(obs, deterministic=True), expected)


def test_experiment_name_names_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = agents.train("CartPole-v1", *QUIET, "experiment_name=mine")
    assert result.run_dir.parent == tmp_path / "runs" and result.run_dir.name.startswith("mine__seed0__")
    assert agents.train("CartPole-v1", *QUIET).run_dir.name.startswith("CartPole-v1__seed0__")


@pytest.mark.parametrize("where", ["file.csv", "file.csv/x"])
def test_a_run_dir_that_cannot_be_a_folder_is_a_user_error(tmp_path, where):
    """The command line said so in one line; agents.train raised pathlib's OSError from deep inside."""
    (tmp_path / "file.csv").write_text("mine")
    with pytest.raises(agents.UserError, match=r"cannot use run_dir .*(is a file, not a folder|Not a dir)"):
        agents.train("CartPole-v1", f"run_dir={tmp_path / where}", "budget.total_env_steps=300")
    assert (tmp_path / "file.csv").read_text() == "mine"


def test_the_file_systems_root_is_no_run_dir():
    """run_dir=/ wrote checkpoint.pt, config.yaml, a lock and an event file into /."""
    with pytest.raises(
        agents.UserError, match=r"^run_dir=/ is the file system's root: give the run a folder"
    ):
        agents.train("CartPole-v1", "run_dir=/", "budget.total_env_steps=300")
    assert not Path("/checkpoint.pt").exists() and not Path("/config.yaml").exists()


def test_a_config_dir_that_is_not_a_folder_is_a_user_error(tmp_path):
    """Hydra only warned (the command line's --config-dir says it in one line)."""
    with pytest.raises(agents.UserError, match=r"config_dirs: .*nonexistent is not a folder"):
        agents.compose("CartPole-v1", config_dirs=[tmp_path / "nonexistent"])


def test_config_dirs_beside_a_composed_config_are_one_line(tmp_path):
    """They were ignored without a word (a folder that does not exist too): nothing reads them once
    a config is composed."""
    composed = agents.compose("Acrobot-v1", *QUIET)
    for given in (composed, OmegaConf.to_object(composed)):
        for call in (agents.compose, agents.train):
            with pytest.raises(agents.UserError, match=r"^config_dirs are read while an env id's config is "):
                call(given, config_dirs=tmp_path / "nonexistent")
            with pytest.raises(agents.UserError, match=r": drop config_dirs, or compose with them: agents\."):
                call(given, config_dirs=[tmp_path])
            with pytest.raises(agents.UserError, match=r"\('Acrobot-v1', \.\.\., config_dirs=\.\.\.\)$"):
                call(given, config_dirs=[tmp_path])  # the config's own env, not always CartPole-v1
    assert agents.compose(composed, config_dirs=()).env == "Acrobot-v1" and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("seed", "'seed' is not key=value: settings are key=value"),
        ("Acrobot-v1", "'Acrobot-v1' is not key=value: did you mean env=Acrobot-v1?"),
        ("", "an empty override ('') is not key=value"),
    ],
)
def test_a_bare_word_among_the_overrides_is_the_command_lines_line(override, line):
    """It was Hydra's "cannot parse override 'seed': missing EQUAL at '<EOF>'" and its grammar's
    link, where the command line says what the word needs (without its --help and shell hints)."""
    for given in ("CartPole-v1", agents.compose("CartPole-v1")):
        with pytest.raises(agents.UserError) as raised:
            agents.compose(given, override)
        assert str(raised.value) == line


def test_load_takes_a_numpy_integer_seed_as_train_does(tmp_path):
    """``agents.load(run, seed=np.int64(3))`` said "must be an int"; ``agents.train`` takes one."""
    run = agents.train("CartPole-v1", *QUIET, seed=np.int64(3), run_dir=tmp_path).run_dir
    obs = np.zeros((64, 4), dtype=np.float32)
    sampled = [agents.load(run, seed=seed).predict(obs, deterministic=False) for seed in (np.int64(3), 3)]
    assert np.array_equal(*sampled)
    with pytest.raises(agents.UserError, match=r"^seed=np.True_ must be an int"):
        agents.load(run, seed=np.bool_(True))


def test_a_config_file_that_is_not_yaml_is_a_user_error(tmp_path, monkeypatch):
    """PyYAML's ParserError came out of agents.train; the command line says the same one line."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_configs" / "agent").mkdir(parents=True)
    (tmp_path / "my_configs" / "agent" / "broken.yaml").write_text("lr: [0.05\n")
    with pytest.raises(
        agents.UserError,
        match=r"^my_configs/agent/broken.yaml line 1: while parsing a flow sequence, .*: fix its YAML$",
    ):
        agents.train("CartPole-v1", "agent=broken", *QUIET, config_dirs=["my_configs"])
    assert not (tmp_path / "runs").exists()


def test_a_config_file_that_is_not_utf8_is_one_line(tmp_path, monkeypatch):
    """A preset saved as UTF-16 (Windows' Notepad) was Hydra's bare UnicodeDecodeError, from the
    command line as from agents.train."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine" / "experiment").mkdir(parents=True)
    text = "# @package _global_\nagent:\n  lr: 0.05\n"
    (tmp_path / "mine" / "experiment" / "wide.yaml").write_text(text, encoding="utf-16")
    message = r"mine/experiment/wide.yaml: not UTF-8 text \(invalid start byte at byte 0\): save it as UTF-8$"
    with pytest.raises(agents.UserError, match=message):
        agents.train("CartPole-v1", "experiment=wide", *QUIET, config_dirs=["mine"])
    script = Path(__file__).resolve().parent.parent / "scripts" / "train.py"
    command = [sys.executable, str(script), "--config-dir", "mine", "experiment=wide", *QUIET]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2 and re.search(message, completed.stderr.strip()), completed.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "outputs").exists()


def test_a_resume_refuses_an_env_other_than_the_runs(tmp_path):
    """The command line refuses env=<other> with resume=; agents.train("Acrobot-v1",
    "resume=<CartPole run>") trained CartPole on, and took "NoSuchEnv-v9" the same way."""
    run = agents.train("CartPole-v1", *QUIET, f"run_dir={tmp_path}").run_dir
    saved = (run / CHECKPOINT_NAME).read_bytes()
    for other in ("Acrobot-v1", "NoSuchEnv-v9"):
        with pytest.raises(
            agents.UserError, match=rf"^resume cannot change env from CartPole-v1 to {other} \("
        ):
            agents.train(other, f"resume={run}", "budget.total_env_steps=2500", *QUIET[:1])
    assert (run / CHECKPOINT_NAME).read_bytes() == saved
    more = agents.train("CartPole-v1", f"resume={run}", "budget.total_env_steps=2500", *QUIET[:1])
    assert more.env_steps >= 2500


def test_one_config_dir_may_be_given_as_a_path(tmp_path, monkeypatch):
    """A string was iterated as a sequence of one-character folder names; "~/mine" was "not a
    folder" (the command line's -cd '~/mine' reads it)."""
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "mine.yaml").write_text("defaults:\n  - reinforce\n  - _self_\nlr: 0.125\n")
    monkeypatch.setenv("HOME", str(tmp_path.parent))
    for folder in (tmp_path, str(tmp_path), f"~/{tmp_path.name}", [f"~/{tmp_path.name}"]):
        assert agents.compose("CartPole-v1", "agent=mine", config_dirs=folder).agent.lr == 0.125
    for wrong in (5, b"/tmp", [5]):
        with pytest.raises(agents.UserError, match=r"^config_dirs takes a folder or a list of folders"):
            agents.compose("CartPole-v1", config_dirs=wrong)


@pytest.mark.parametrize(
    ("override", "hint"),
    [
        ("hydra.run.dir=elsewhere", "give run_dir=<folder> instead"),
        ("hydra.job.chdir=true", "run scripts/train.py for Hydra's own settings"),
        ("hydra/launcher=joblib", "run scripts/train.py"),
    ],
)
def test_hydras_own_settings_are_refused_not_dropped(override, hint):
    """``hydra.run.dir`` composed and was ignored: the run went to runs/ without a word."""
    message = rf"^{re.escape(override)} is a setting of Hydra's app, which agents.train does not run: {hint}"
    with pytest.raises(agents.UserError, match=message):
        agents.compose("CartPole-v1", override)


def test_a_partial_config_names_its_missing_key():
    """It was told that a ``~env_kwargs`` override, which nobody wrote, removed a key."""
    message = r"^the given config has no env_kwargs: compose a full one with agents.compose"
    with pytest.raises(agents.UserError, match=message):
        agents.train(OmegaConf.create({"env": "CartPole-v1"}))
    partial = agents.compose("CartPole-v1")
    del partial.agent.policy
    with pytest.raises(agents.UserError, match=r"^the given config has no agent\.policy: "):
        agents.train(partial)


def test_train_leaves_the_callers_torch_threads_and_prints_nothing_on_resume(tmp_path, capsys):
    """It left torch.set_num_threads(1) behind and printed a resume's changes to stderr."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        agents.train(
            "CartPole-v1", f"run_dir={tmp_path}", "budget.total_env_steps=300", "logging.progress_bar=false"
        )
        assert torch.get_num_threads() == 2
        capsys.readouterr()
        agents.train(
            "CartPole-v1", f"resume={tmp_path}", "budget.total_env_steps=600", "logging.progress_bar=false"
        )
        assert capsys.readouterr().err == ""
    finally:
        torch.set_num_threads(before)


def test_overrides_on_a_given_config_follow_the_command_lines_grammar():
    """A TrainConfig took overrides through OmegaConf's dotlist: '+key=' failed, a group choice was a
    merge error and a bad value a multi-line YAML parser error."""
    base = agents.TrainConfig(env="FrozenLake-v1")
    cfg = agents.compose(base, "+env_kwargs.is_slippery=false", "agent.lr=0.05", "features.name=onehot")
    assert cfg.env_kwargs == {"is_slippery": False} and cfg.agent.lr == 0.05 and cfg.features.name == "onehot"
    refused = [
        ("features=rbf", "features=rbf chooses a config group"),
        ("experiment=cartpole", "experiment=cartpole chooses a config group"),
        ("agent.lr=[1", "cannot parse override 'agent.lr=[1'"),
        ("agent.lrr=0.1", "agent.lrr is not a config key (did you mean agent.lr?)"),
        ("~eval", "~eval removes a key the run reads"),  # the run crashed on it, deep inside
        ("+foo=1", "foo is not a config key"),  # agents.compose took it; agents.train refused it
        ("+gamma=0.9", "gamma is not a config key (did you mean agent.gamma?)"),
        ("agent.lr=0.1,0.2", "agent.lr=0.1,0.2 is a sweep: run it with -m"),  # a ChoiceSweep repr
    ]
    for override, fragment in refused:
        with pytest.raises(agents.UserError, match=re.escape(fragment)):
            agents.compose(base, override)
    with pytest.raises(agents.UserError, match="foo is not a config key"):
        agents.compose("CartPole-v1", "+foo=1")
    for override in (
        "seed=1,2",
        "seed=range(3)",
    ):  # with an env id: Hydra's "add --multirun to your command line"
        with pytest.raises(agents.UserError, match=rf"^{re.escape(override)} is a sweep: run it with -m"):
            agents.compose("CartPole-v1", override)


def test_a_policy_form_registered_under_a_taken_name_warns(monkeypatch):
    """``@register_policy("state")`` in a user's module replaced the built-in form without a word (a
    built-in run then loaded as the user's class: "the env changed ... or the file was edited")."""
    from agents.core.policies import POLICIES, LinearSoftmaxPolicy, register_policy

    monkeypatch.setitem(POLICIES, "state", POLICIES["state"])  # put back afterwards
    with pytest.warns(
        UserWarning, match=r"agent.policy='state' was agents.core.linear.LinearSoftmaxPolicy; "
    ):
        register_policy("state")(type("Mine", (LinearSoftmaxPolicy,), {}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        register_policy("state")(type("Mine", (LinearSoftmaxPolicy,), {}))  # its module reloaded: itself
        try:
            register_policy("fresh_name_38")(type("Mine", (LinearSoftmaxPolicy,), {}))
        finally:
            POLICIES.pop("fresh_name_38", None)


def test_a_run_of_a_policy_form_registered_by_the_users_module_says_to_import_it(tmp_path, monkeypatch):
    """``@register_policy("hot")`` in the user's module trains; a process that has not imported it
    said "holds an invalid config: agent.policy='hot' is not one of state, action, mlp", as if the
    file were damaged."""
    from agents.core.policies import POLICIES, LinearSoftmaxPolicy
    from agents.runtime.evaluation import EvaluateConfig, evaluate

    monkeypatch.setitem(POLICIES, "hot", type("Hot", (LinearSoftmaxPolicy,), {}))  # as register_policy does
    agents.train("CartPole-v1", *QUIET, "agent.policy=hot", f"run_dir={tmp_path}")
    monkeypatch.delitem(POLICIES, "hot")  # a new process, which has not imported the module
    message = (
        r"was trained with agent.policy='hot', a policy form not registered in this process \(registered: "
        r"state, action, mlp\): import the module whose @register_policy\(\"hot\"\) defines it before "
        r"agents.load \(on the command line, evaluate.py and resume= cannot import it: have "
        r"agents/core/policies.py import it"
    )
    for load in (
        lambda: agents.load(tmp_path),
        lambda: evaluate(EvaluateConfig(checkpoint=str(tmp_path), episodes=1, csv=str(tmp_path / "e.csv"))),
        lambda: agents.train("CartPole-v1", f"resume={tmp_path}", "budget.total_env_steps=2000"),
    ):
        with pytest.raises(agents.UserError, match=message) as error:
            load()
        assert "invalid config" not in str(error.value)


STOPPER = '''
import os
import signal

import gymnasium as gym

fired = []


class StopOnce(gym.Wrapper):
    """Sends this process SIGINT at its 300th step, once a process (as a Ctrl-C would)."""

    def step(self, action):
        self.steps = getattr(self, "steps", 0) + 1
        if self.steps == 300 and not fired:
            fired.append(True)
            os.kill(os.getpid(), signal.SIGINT)
        return self.env.step(action)
'''


def test_a_run_stopped_by_a_signal_says_how_to_resume_it_in_python(tmp_path, monkeypatch):
    """agents.train's RunInterrupted said how to resume on the command line ("resume with: python
    scripts/train.py resume=... trust_code=true"); it says the Python call."""
    (tmp_path / "stopper.py").write_text(STOPPER)
    monkeypatch.syspath_prepend(str(tmp_path))
    run = tmp_path / "run"
    wrapper = "env_wrappers=[{_target_:stopper.StopOnce}]"  # the user's own: resuming it needs trust_code
    with pytest.raises(agents.RunInterrupted) as stopped:
        agents.train("CartPole-v1", *QUIET[:1], "budget.total_env_steps=3000", wrapper, f"run_dir={run}")
    call = f"agents.train('CartPole-v1', 'resume={run}', 'trust_code=true')"
    assert str(stopped.value).endswith(f"; resume with: {call}") and "scripts/train.py" not in str(
        stopped.value
    )
    assert stopped.value.exit_code == 130
    assert eval(call, {"agents": agents}).env_steps >= 3000  # the call, as printed, resumes the run


def test_an_override_in_the_env_ids_place_is_one_line_and_env_equals_is_the_env():
    """``agents.train("env=Acrobot-v1")`` and ``agents.train("budget.total_env_steps=500")`` composed
    ``env=env=Acrobot-v1``: "cannot parse override 'env=env=Acrobot-v1': mismatched input '='"."""
    assert agents.compose("env=Acrobot-v1").env == "Acrobot-v1"
    with pytest.raises(agents.UserError) as raised:
        agents.train("budget.total_env_steps=500")
    assert str(raised.value) == (
        'the first argument is the env id, not an override: agents.train("CartPole-v1", '
        '"budget.total_env_steps=500") (overrides follow the env id)'
    )
    with pytest.raises(agents.UserError, match=r'override: agents\.compose\("CartPole-v1", "seed=3"\)'):
        agents.compose("seed=3")  # it named agents.train, which the caller did not call
    for empty in ("", "env=", " "):  # compose returned a config with env '' that nothing could train
        with pytest.raises(
            agents.UserError, match=r"^the env id is empty: give one, e\.g\. agents\.compose\("
        ):
            agents.compose(empty)


def test_run_dir_comes_back_absolute_for_a_new_run_as_for_a_resume(tmp_path, monkeypatch):
    """A new run's ``result.run_dir`` was relative (``runs/CartPole-v1__seed0__...``), a resume's
    absolute."""
    monkeypatch.chdir(tmp_path)
    first = agents.train("CartPole-v1", *QUIET, "run_dir=out")
    seeds = agents.train("CartPole-v1", *QUIET, "num_seeds=2")
    resumed = agents.train("CartPole-v1", f"resume={first.run_dir}", "budget.total_env_steps=3000")
    assert first.run_dir == tmp_path / "out" == resumed.run_dir
    assert all(run.run_dir.is_absolute() for run in (seeds, *seeds.seed_results))
    assert seeds.seed_results[0].run_dir.parent == seeds.run_dir


def test_paths_starting_with_a_tilde_are_in_the_home_folder(tmp_path, monkeypatch):
    """``run_dir="~/x"`` made a folder named ``~`` in the working folder (a shell expands it on the
    command line, Python does not), from an override as from a config object; ``agents.load("~/x")``
    found no checkpoint."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    first = agents.train("CartPole-v1", *QUIET, "run_dir=~/a")
    assert first.run_dir == tmp_path / "home" / "a"
    composed = agents.compose("CartPole-v1", *QUIET)
    second = agents.train(composed, "run_dir=~/b")
    third = agents.train(agents.TrainConfig(env="CartPole-v1", run_dir="~/c"), *QUIET)
    assert (second.run_dir, third.run_dir) == (tmp_path / "home" / "b", tmp_path / "home" / "c")
    assert agents.load("~/a").predict(np.zeros(4, dtype=np.float32)) in (0, 1)
    assert not (tmp_path / "~").exists()


def test_a_new_run_does_not_write_over_a_config_yaml_in_its_folder(tmp_path):
    """The user's own ``config.yaml`` in ``run_dir`` was replaced by the run's without a word."""
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "config.yaml").write_text("my: own settings\n")
    with pytest.raises(agents.UserError, match=r"holds a config.yaml, which a run there would write over"):
        agents.train("CartPole-v1", *QUIET, f"run_dir={tmp_path / 'project'}")
    assert (tmp_path / "project" / "config.yaml").read_text() == "my: own settings\n"
    assert sorted(path.name for path in (tmp_path / "project").iterdir()) == ["config.yaml"]  # the lock
    # file of the check went too: "nothing was written" (it was left in every refused folder)


@pytest.mark.parametrize("seeds", [1, 2])
def test_a_new_run_is_refused_in_a_sweeps_folder(tmp_path, seeds):
    """``run_dir=<a sweep's folder>`` wrote ``seed0/``, ``seed1/`` and ``train.log`` beside the
    sweep's job folders, and ``plot.py`` then read both (the reverse, a sweep into a run's folder,
    was refused)."""
    sweep = tmp_path / "sweep"
    (sweep / "0_lr=0.05_seed0").mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    with pytest.raises(agents.UserError) as raised:
        agents.train("CartPole-v1", *QUIET, f"num_seeds={seeds}", f"run_dir={sweep}")
    assert str(raised.value) == (
        f"run_dir={sweep} holds a sweep ({sweep / 'multirun.yaml'}), whose job folders a run there would "
        "mix with: give a new run_dir (nothing was written)"
    )
    assert sorted(path.name for path in sweep.iterdir()) == ["0_lr=0.05_seed0", "multirun.yaml"]


@pytest.mark.slow
def test_a_one_job_sweep_trains_in_its_own_sweeps_folder(tmp_path):
    """``hydra.sweep.subdir=.``: the one job's folder is the sweep's, which holds the record the
    sweep itself wrote; the refusal of a sweep's folder above refused the job (exit 2, FAILED)."""
    sweep, script = tmp_path / "sweep", Path(__file__).resolve().parent.parent / "scripts" / "train.py"
    done = subprocess.run(
        [sys.executable, str(script), "-m", "seed=0", *QUIET, f"hydra.sweep.dir={sweep}",
         "hydra.sweep.subdir=."],
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| COMPLETED |" in (sweep / "summary.md").read_text() and (sweep / "checkpoint.pt").is_file()


def test_a_preset_that_sets_a_chosen_groups_keys_warns_as_the_command_line_says(tmp_path):
    """``agents.compose("Acrobot-v1", "agent=mine")`` trained with the Acrobot preset's agent.* keys,
    not agent=mine's, without a word (the command line's preset line says so)."""
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "mine.yaml").write_text("defaults:\n  - reinforce\n  - _self_\nlr: 0.0123\n")
    with pytest.warns(
        UserWarning,
        match=r"^preset: experiment=acrobot\S* \(tuned for Acrobot-v1; .*it sets agent\.\* "
        r"after agent=mine \(Hydra applies a preset last\)",
    ) as said:
        cfg = agents.compose("Acrobot-v1", "agent=mine", config_dirs=tmp_path)
    assert cfg.agent.lr != 0.0123 and [warning.filename for warning in said] == [__file__]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # agent=mine's values, or no choice of a group: nothing to say
        assert (
            agents.compose("Acrobot-v1", "agent=mine", "experiment=none", config_dirs=tmp_path).agent.lr
            == 0.0123
        )
        agents.compose("Acrobot-v1")


@pytest.mark.parametrize("seeds", [1, 2])
def test_a_run_that_learned_nothing_warns_what_the_command_lines_note_says(tmp_path, seeds):
    """``agents.train`` prints no summary, so the command line's "note: no episode ended ... needs a
    time limit" went nowhere: an env that never ends an episode trained silently to nothing."""
    endless = ["fault_envs:fault/Endless-v0", "logging.progress_bar=false", "budget.total_env_steps=300"]
    said = r"^no episode ended in 300 env steps" if seeds == 1 else r"^no episode ended in 2 of 2 seeds' runs"
    with pytest.warns(
        UserWarning, match=said + r", so nothing was learned \(0 updates\): an env that never"
    ) as said:
        result = agents.train(*endless, f"num_seeds={seeds}", f"run_dir={tmp_path / 'endless'}")
    assert [warning.filename for warning in said] == [__file__]  # the call, not agents/tools/api.py
    assert all(seed.updates == 0 for seed in result.seed_results)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a run that learned: no warning
        agents.train("CartPole-v1", *QUIET, f"num_seeds={seeds}", f"run_dir={tmp_path / 'learned'}")


INTERRUPTING = """
import os
import signal
import time

os.kill(os.getpid(), signal.SIGINT)  # a notebook's "interrupt" that lands in this module's import
time.sleep(0.3)
import gymnasium as gym
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

gym.register("Interrupting-v0", entry_point=CartPoleEnv, max_episode_steps=500)
IMPORTED_WHOLE = True
"""

AFTER_AN_INTERRUPT = """
import signal
import sys

signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (pytest-xdist's ignore it)
import agents

quiet = ("budget.total_env_steps=500", "logging.progress_bar=false")
try:  # long enough to be running when the signal comes (it does not end in the final save)
    agents.train("interrupting:Interrupting-v0", *quiet, "budget.total_env_steps=10000000", "run_dir=first")
except BaseException as error:
    print("first:", type(error).__name__)
print("imported whole:", getattr(sys.modules.get("interrupting"), "IMPORTED_WHOLE", False))
print("second:", agents.train("interrupting:Interrupting-v0", *quiet, "run_dir=second").env_steps)
"""


@pytest.mark.slow
def test_a_ctrl_c_that_lands_in_an_import_waits_for_it_and_reaches_the_caller(tmp_path):
    """A Ctrl-C (a notebook's "interrupt") during the imports of the first ``agents.train`` raised
    inside them: torch, gymnasium or the env's module stayed half-imported, and every later call in
    the process failed (``partially initialized module 'torch' has no attribute 'library'``). The
    signal now waits for the import it lands in, then reaches the caller's own handler."""
    (tmp_path / "interrupting.py").write_text(INTERRUPTING)
    environment = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", AFTER_AN_INTERRUPT], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=environment)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] in ("first: KeyboardInterrupt", "first: RunInterrupted"), done.stdout
    assert lines[1:] == ["imported whole: True", "second: 500"], done.stdout


def test_a_full_disk_under_the_event_file_is_the_command_lines_one_line(tmp_path, event_file_fills_up):
    """``agents.train`` raised the ``OSError`` (``File too large: 'the TensorBoard event file in
    ...'``) of which the command line prints one line and exits 2; a checkpoint that could not be
    written was a ``UserError`` already. A path the OS gave as bytes was printed ``b'/...'``."""
    import errno

    from agents.tools.exits import os_error_line

    run_dir = tmp_path / "run"
    said = rf"^cannot write the TensorBoard event file in {re.escape(str(run_dir))}: No space left on device"
    with pytest.raises(agents.UserError, match=said):
        agents.train("CartPole-v1", *QUIET, "budget.total_env_steps=3000", f"run_dir={run_dir}")
    assert load_checkpoint(run_dir)["counters"]["env_steps"] > 0
    gone = OSError(errno.ENOENT, "No such file or directory", os.fsencode(tmp_path / "gone" / "events"))
    assert (
        os_error_line(gone)
        == f"cannot use {tmp_path / 'gone' / 'events'}: No such file or directory (choose another location)"
    )
