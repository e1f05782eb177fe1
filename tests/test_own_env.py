"""A user's own env by name (``env=module:EnvId-v0``) and wrappers from the config (``env_wrappers``),
in single and vector mode, recorded in the checkpoint so evaluation and resume rebuild the same env."""

from __future__ import annotations

import importlib
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import agents
from agents.runtime.checkpoint import load_checkpoint
from agents.runtime.evaluation import EvaluateConfig, evaluate

ROOT = Path(__file__).resolve().parent.parent

MODULE = '''
import gymnasium as gym
import numpy as np


class SignGrid(gym.Env):
    """Observes a 2x2 grid of numbers; reward 1 when the action is the sign of the first (20 steps)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2, 2), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.obs = self.np_random.uniform(-1, 1, (2, 2)).astype(np.float32)
        return self.obs, {}

    def step(self, action):
        reward = float(int(action) == int(self.obs[0, 0] > 0))
        self.t += 1
        self.obs = self.np_random.uniform(-1, 1, (2, 2)).astype(np.float32)
        return self.obs, reward, self.t >= 20, False, {}


gym.register("SignGrid-v0", entry_point=SignGrid)
'''
ENV = "user_sign_grid:SignGrid-v0"
FLATTEN = "{_target_:gymnasium.wrappers.FlattenObservation}"
TIME_LIMIT = "{_target_:gymnasium.wrappers.TimeLimit,max_episode_steps:7}"
WRAPPERS = f"env_wrappers=[{FLATTEN},{TIME_LIMIT}]"
QUIET = ("logging.progress_bar=false", "budget.total_env_steps=3000", "budget.window=10")


@pytest.fixture(autouse=True)
def user_module(tmp_path, monkeypatch):
    (tmp_path / "user_sign_grid.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.parametrize("vector", [(), ("vector.num_envs=3",)], ids=["single", "vector"])
def test_own_env_with_wrappers_trains_evaluates_and_resumes(tmp_path, vector):
    run = tmp_path / "run"
    result = agents.train(ENV, *QUIET, WRAPPERS, f"run_dir={run}", *vector)
    assert 7 * result.episodes >= 3000 - 3 * 7 and max(result.recent_returns) <= 7  # TimeLimit(7): each
    recorded = load_checkpoint(run)["config"]["env_wrappers"]
    assert [entry["_target_"] for entry in recorded] == [
        "gymnasium.wrappers.FlattenObservation", "gymnasium.wrappers.TimeLimit",
    ]  # fmt: skip
    agent = agents.load(run)
    assert agent.predict(np.zeros(4, dtype=np.float32)) in (0, 1)  # the flattened observation
    evaluation = evaluate(EvaluateConfig(checkpoint=str(run), episodes=3, csv=str(tmp_path / "e.csv")))
    assert evaluation.modes["greedy"].lengths == [7, 7, 7]
    more = ["logging.progress_bar=false", "budget.total_env_steps=3500"]
    resumed = agents.train(ENV, f"resume={run}", *more)  # its wrappers from the run
    assert resumed.env_steps >= 3500 and max(resumed.recent_returns) <= 7


def test_an_id_registered_by_an_import_is_saved_with_its_module(tmp_path, monkeypatch):
    """``import user_sign_grid`` then ``agents.train("SignGrid-v0")`` saved env=SignGrid-v0, which a
    new process (scripts/evaluate.py, resume=) had never registered: 'not a registered Gymnasium id
    (did you mean ShortCorridor-v0?)'. The saved config names the module, which they import."""
    importlib.import_module("user_sign_grid")
    run = tmp_path / "run"
    agents.train("SignGrid-v0", *QUIET, WRAPPERS, f"run_dir={run}")
    saved = load_checkpoint(run)["config"]
    assert (saved["env"], saved["experiment_name"]) == (ENV, "SignGrid-v0")  # the folder's name as given
    again = agents.train("SignGrid-v0", f"resume={run}", *QUIET[:1], "budget.total_env_steps=3050")
    assert again.env_steps >= 3050  # the id as imported names the run's env: not "cannot change env"
    monkeypatch.delitem(gym.registry, "SignGrid-v0")  # as a new process knows neither
    monkeypatch.delitem(sys.modules, "user_sign_grid")
    with pytest.raises(
        agents.UserError, match=r"names code from outside .*\(env=user_sign_grid:SignGrid-v0\)"
    ):
        evaluate(EvaluateConfig(checkpoint=str(run), episodes=1, csv=str(tmp_path / "e.csv")))
    evaluation = evaluate(
        EvaluateConfig(checkpoint=str(run), episodes=1, csv=str(tmp_path / "e.csv"), trust_code=True)
    )
    assert evaluation.modes["greedy"].lengths == [7]
    resumed = agents.train(ENV, f"resume={run}", "trust_code=true", *QUIET[:1], "budget.total_env_steps=3100")
    assert resumed.env_steps >= 3100
    monkeypatch.delitem(gym.registry, "SignGrid-v0")
    monkeypatch.delitem(sys.modules, "user_sign_grid")  # the id alone, trusted, in a new process: the
    more = ["trust_code=true", *QUIET[:1], "budget.total_env_steps=3150"]  # run's env (it was refused
    with pytest.raises(agents.UserError, match=r"add trust_code=true, or in Python import that module first"):
        agents.train("SignGrid-v0", f"resume={run}", *more[1:])  # (it named agents.load's argument)
    assert agents.train("SignGrid-v0", f"resume={run}", *more).env_steps >= 3150  # as "cannot change env")
    monkeypatch.delitem(gym.registry, "SignGrid-v0")
    monkeypatch.delitem(sys.modules, "user_sign_grid")  # the line's first way: the env named (the
    with pytest.raises(agents.UserError, match=rf"name its env yourself, as a new run does \(env={ENV} "):
        agents.train("SignGrid-v0", f"resume={run}", *more[1:])  # command line has no import)
    assert agents.train(ENV, f"resume={run}", *QUIET[:1], "budget.total_env_steps=3200").env_steps >= 3200


def test_a_resume_may_name_the_module_of_a_run_saved_by_its_id(tmp_path):
    """A run of ``env=ShortCorridor-v0`` (this project's ``envs`` registers it) resumed with
    ``env=envs:ShortCorridor-v0`` was refused as a change of env: it is the same id, now with its
    module, which the resumed run keeps (and the bare id resumes it still)."""
    run = tmp_path / "run"
    agents.train("ShortCorridor-v0", *QUIET, f"run_dir={run}")
    resumed = agents.train(
        "envs:ShortCorridor-v0", f"resume={run}", *QUIET[:1], "budget.total_env_steps=3050"
    )
    assert resumed.env_steps >= 3050
    assert load_checkpoint(run)["config"]["env"] == "envs:ShortCorridor-v0"
    assert (
        agents.train("ShortCorridor-v0", f"resume={run}", *QUIET[:1], "budget.total_env_steps=3100").env_steps
        >= 3100
    )
    with pytest.raises(
        agents.UserError, match="resume cannot change env from envs:ShortCorridor-v0 to other:"
    ):
        agents.train("other:ShortCorridor-v0", f"resume={run}", *QUIET[:1], "budget.total_env_steps=3150")
    # the entry point's own module, then its package again: each is the module of the run's env
    for module, steps in (("envs.short_corridor", 3150), ("envs", 3200)):
        agents.train(
            f"{module}:ShortCorridor-v0", f"resume={run}", *QUIET[:1], f"budget.total_env_steps={steps}"
        )
        assert load_checkpoint(run)["config"]["env"] == f"{module}:ShortCorridor-v0"
    bare = tmp_path / "bare"  # a module that does not register the id may register another env under it
    agents.train("ShortCorridor-v0", *QUIET, f"run_dir={bare}")
    with pytest.raises(agents.UserError, match="resume cannot change env from ShortCorridor-v0 to json:"):
        agents.train("json:ShortCorridor-v0", f"resume={bare}", *QUIET[:1], "budget.total_env_steps=3150")


def test_a_resume_that_names_the_runs_env_imports_its_module_without_trust_code(tmp_path, monkeypatch):
    """``agents.train("my_envs:Slow-v0", "resume=<run>")`` (and ``env=... resume=...`` on the command
    line) was refused unless trust_code=true, although the call names the module itself: it is the
    caller's choice, as in a new run. A module only the checkpoint names still needs trust_code."""
    run = tmp_path / "run"
    agents.train(ENV, *QUIET, WRAPPERS, f"run_dir={run}")
    monkeypatch.delitem(gym.registry, "SignGrid-v0")  # as a new process knows neither
    monkeypatch.delitem(sys.modules, "user_sign_grid")
    resumed = agents.train(ENV, f"resume={run}", *QUIET[:1], "budget.total_env_steps=3100")
    assert resumed.env_steps >= 3100 and "user_sign_grid" in sys.modules
    saved = load_checkpoint(run)
    saved["config"]["env_wrappers"] = [{"_target_": "user_sign_grid.SignGrid"}]  # no Wrapper: code to trust
    torch.save(saved, run / "checkpoint.pt")
    with pytest.raises(agents.UserError, match=r"names code from outside .*\(env_wrappers\[0\]._target_="):
        agents.train(ENV, f"resume={run}", *QUIET[:1], "budget.total_env_steps=3200")


def test_an_id_the_module_builds_is_saved_with_its_module(tmp_path, monkeypatch):
    """Ids registered in a loop (``register(f"SignGrid{n}-v0", ...)``) were saved without their
    module (its source does not hold them), so evaluation and resume elsewhere could not find them."""
    (tmp_path / "user_sign_grids.py").write_text(
        "import gymnasium as gym\nfrom user_sign_grid import SignGrid\n\n\n"
        "class Grid(SignGrid):\n    pass\n\n\n"
        "for size in (2, 3):\n    gym.register(f'SignGrid{size}-v0', entry_point=Grid)\n"
    )
    importlib.import_module("user_sign_grids")
    run = tmp_path / "run"
    agents.train("SignGrid3-v0", *QUIET[:1], "budget.total_env_steps=300", WRAPPERS, f"run_dir={run}")
    assert load_checkpoint(run)["config"]["env"] == "user_sign_grids:SignGrid3-v0"
    for name in ("SignGrid2-v0", "SignGrid3-v0", "SignGrid-v0"):  # as a new process knows none
        monkeypatch.delitem(gym.registry, name)
    monkeypatch.delitem(sys.modules, "user_sign_grids")
    monkeypatch.delitem(sys.modules, "user_sign_grid")
    summary = evaluate(EvaluateConfig(checkpoint=str(run), episodes=2, trust_code=True))
    assert len(summary.modes["greedy"].lengths) == 2  # imported user_sign_grids, which registered it


def test_the_check_of_a_built_id_leaves_no_process_and_trains_nothing(tmp_path, monkeypatch):
    """The check imports the module in a new process: one that started a helper process as it was
    imported kept the check's output pipes open (train() hung 60 s, saved the bare id and left the
    helper running), and one that trains as it is imported trained again in every check."""
    sleep = f"47.{os.getpid()}"  # this suite's helper only (pgrep found another suite's on the machine)
    (tmp_path / "user_server_grids.py").write_text(
        "import subprocess, sys, gymnasium as gym\nfrom user_sign_grid import SignGrid\n\n\n"
        "class Grid(SignGrid):\n    pass\n\n\n"
        f"SERVER = subprocess.Popen(['sleep', '{sleep}'])\n"
        "NAME = 'Server' + 'Grid-v0'\n"
        "gym.register(NAME, entry_point=Grid)\n"
        "if sys.argv[-1] == NAME:  # the check's process: train as it is imported\n"
        "    import agents\n"
        f"    agents.train(NAME, 'logging.progress_bar=false', 'run_dir={tmp_path / 'again'}')\n"
    )
    importlib.import_module("user_server_grids")
    run = tmp_path / "run"
    start = time.perf_counter()
    agents.train("ServerGrid-v0", *QUIET[:1], "budget.total_env_steps=300", WRAPPERS, f"run_dir={run}")
    assert time.perf_counter() - start < 30
    assert load_checkpoint(run)["config"]["env"] == "ServerGrid-v0"  # its import in a new process failed:
    assert not (tmp_path / "again").exists()  # training is refused there
    sys.modules["user_server_grids"].SERVER.kill()  # (this process's own)
    left = subprocess.run(["pgrep", "-f", f"sleep {sleep}"], capture_output=True, text=True).stdout.split()
    assert not left, left


def test_an_id_registered_elsewhere_for_a_modules_class_is_not_saved_with_that_module(tmp_path):
    """``register("OtherSign-v0", entry_point="user_sign_grid:SignGrid")`` outside user_sign_grid
    was saved as user_sign_grid:OtherSign-v0, whose import does not register it."""
    importlib.import_module("user_sign_grid")
    gym.register("OtherSign-v0", entry_point="user_sign_grid:SignGrid")
    try:
        run = tmp_path / "run"
        agents.train("OtherSign-v0", *QUIET[:1], "budget.total_env_steps=300", WRAPPERS, f"run_dir={run}")
    finally:
        del gym.registry["OtherSign-v0"]
    assert load_checkpoint(run)["config"]["env"] == "OtherSign-v0"


def test_an_id_no_module_here_registers_is_one_line_saying_how(tmp_path):
    """An id registered with another package's entry point (or in a script's ``__main__``) cannot
    be saved with the module that registered it: loading it elsewhere says how to register it."""
    gym.register("OwnCartPole-v0", entry_point="gymnasium.envs.classic_control:CartPoleEnv")
    run = tmp_path / "run"
    agents.train(
        "OwnCartPole-v0", "logging.progress_bar=false", "budget.total_env_steps=300", f"run_dir={run}"
    )
    assert load_checkpoint(run)["config"]["env"] == "OwnCartPole-v0"
    del gym.registry["OwnCartPole-v0"]  # as a new process knows it
    message = (
        r"names env=OwnCartPole-v0, which is not registered here: if a module .* import that module first "
        r".* train with env=<module>:OwnCartPole-v0"
    )
    for load in (lambda: agents.load(run), lambda: agents.train("CartPole-v1", f"resume={run}")):
        with pytest.raises(agents.UserError, match=message):
            load()


def test_an_id_the_named_module_does_not_register_is_one_line_naming_those_it_does(tmp_path, monkeypatch):
    """``env=user_sign_grid:SignGrid`` said only that importing the module did not register it, and
    ``env=Foo-v9`` asked whether Acrobot-v1 was meant."""
    monkeypatch.delitem(sys.modules, "user_sign_grid", raising=False)  # as a new process: not imported
    monkeypatch.delitem(gym.registry, "SignGrid-v0", raising=False)  # yet (another test may have)
    # first imported, then imported before: "it registered" said so also of the ids another module
    # registered with this module's env as their entry point
    imported_before = "the registered ids whose envs are in user_sign_grid:"
    for env, which in (
        ("user_sign_grid:SignGrid", "it registered"),
        ("user_sign_grid:SignGrid-v1", imported_before),
    ):
        with pytest.raises(agents.UserError) as error:
            agents.train(env, *QUIET, f"run_dir={tmp_path / 'run'}")
        assert str(error.value) == (
            f"env={env} is not a registered Gymnasium id (importing user_sign_grid did not register it; "
            f"{which} SignGrid-v0)"
        )
    with pytest.raises(agents.UserError, match=r"^env=Foo-v9 is not a registered Gymnasium id \(list "):
        agents.train("Foo-v9", *QUIET, f"run_dir={tmp_path / 'run'}")


def test_a_module_of_ones_own_that_pythons_own_hides_is_one_line_saying_to_rename_it(tmp_path, monkeypatch):
    """``./random.py`` registering an env: Python's own ``random`` was imported instead, and the line
    said only that importing random did not register it."""
    (tmp_path / "random.py").write_text(
        "import gymnasium\n"
        "gymnasium.register('Shadow-v0', entry_point='gymnasium.envs.classic_control:CartPoleEnv')\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # as the command line's folder: still Python's own first
    with pytest.raises(agents.UserError) as error:
        agents.train("random:Shadow-v0", *QUIET, f"run_dir={tmp_path / 'run'}")
    assert str(error.value).endswith(
        f"(importing random did not register it): random.py is hidden by the module random that Python "
        f"imports instead ({random.__file__}); rename yours (e.g. my_random.py) and give env=my_random:..."
    ), str(error.value)


def test_without_the_flatten_wrapper_the_error_says_how(tmp_path):
    with pytest.raises(
        agents.UserError, match=r"observes images/arrays .*\(add env_wrappers=\[\{_target_:gym"
    ):
        agents.train(ENV, *QUIET, f"run_dir={tmp_path}")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "env=no_such_module:X-v0",
            r"env=no_such_module:X-v0: cannot import no_such_module \(ModuleNotFound",
        ),
        ("env=user_sign_grid:Other-v0", r"not a registered Gymnasium id \(importing user_sign_grid did not"),
        ("env_wrappers=[{max_episode_steps:3}]", r"env_wrappers\[0\] needs _target_: <module>.<Wrapper>"),
        ("env_wrappers=[5]", r"env_wrappers\[0\] needs _target_: <module>.<Wrapper> .*got 5$"),
        ("env_wrappers=[{_target_:gymnasium.wrappers.Nope}]", r"_target_=gymnasium.wrappers.Nope cannot be"),
        ("env_wrappers=[{_target_:gymnasium.wrappers.TimeLimit,steps:3}]", r"env_wrappers\[0\] does not fit"),
        (  # numpy printed the stacked Box's bounds over five lines
            "env_wrappers=[{_target_:gymnasium.wrappers.FrameStackObservation,stack_size:3}]",
            r"observes images/arrays \(a Box of shape \(3, 4\), float32\)",
        ),
    ],
)
def test_mistakes_are_one_line(tmp_path, override, message):
    with pytest.raises(agents.UserError, match=message) as error:
        agents.train("CartPole-v1", *QUIET, f"run_dir={tmp_path}", override)
    assert "\n" not in str(error.value)


EXITS = '''
import sys

import gymnasium as gym
import numpy as np


class Exits(gym.Env):
    """Calls sys.exit(4) in ``where`` ("init" or "close"); otherwise 20 steps of reward 1."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, where="never"):
        self.where, self.t = where, 0
        if where == "init":
            sys.exit(4)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(2, np.float32), 1.0, self.t >= 20, False, {}

    def close(self):
        if self.where == "close":
            sys.exit(4)


class ExitsWrapper(gym.Wrapper):
    def __init__(self, env):
        sys.exit(6)


gym.register("Exits-v0", entry_point=Exits)
'''


@pytest.fixture
def exits_module(tmp_path):
    (tmp_path / "user_exits.py").write_text(EXITS)
    (tmp_path / "user_exits_on_import.py").write_text("import sys\nsys.exit(5)\n")
    (tmp_path / "user_raises_on_import.py").write_text("raise RuntimeError('no licence')\n")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["env=user_exits_on_import:X-v0"], r"cannot import user_exits_on_import \(SystemExit: 5\)$"),
        (["env=user_exits:Exits-v0", "+env_kwargs.where=init"], r"could not be made .*: SystemExit: 4$"),
        (
            ["env=user_exits:Exits-v0", "env_wrappers=[{_target_:user_exits.ExitsWrapper}]"],
            r"env_wrappers\[0\] does not fit env=user_exits:Exits-v0: SystemExit: 6$",
        ),
        (
            ["env_wrappers=[{_target_:user_exits_on_import.W}]"],
            r"_target_=user_exits_on_import.W cannot be imported: SystemExit: 5$",
        ),
        (  # was a traceback
            ["env_wrappers=[{_target_:user_raises_on_import.W}]"],
            r"_target_=user_raises_on_import.W cannot be imported: RuntimeError: no licence$",
        ),
    ],
)
def test_sys_exit_in_the_users_code_is_a_user_error(tmp_path, exits_module, overrides, message):
    """sys.exit on import, in the env's or a wrapper's constructor ended the program silently with
    the env's exit code (not one line, not 2): ``except Exception`` does not catch SystemExit."""
    with pytest.raises(agents.UserError, match=message) as error:
        agents.train("CartPole-v1", *QUIET, f"run_dir={tmp_path / 'run'}", *overrides)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "vector",
    [(), ("vector.num_envs=2", "vector.mode=sync"), ("vector.num_envs=2", "vector.mode=async")],
    ids=["single", "sync", "async"],
)
def test_sys_exit_in_close_is_dropped_like_other_close_errors(tmp_path, exits_module, vector):
    run = tmp_path / "run"
    result = agents.train("user_exits:Exits-v0", "+env_kwargs.where=close", *QUIET, f"run_dir={run}", *vector)
    assert result.env_steps >= 3000 and load_checkpoint(run)["counters"]["env_steps"] == result.env_steps


@pytest.mark.parametrize(
    ("wrapper", "instead"),
    [
        ("gymnasium.wrappers.NormalizeObservation", "train with features=normalized, whose statistics are"),
        ("gymnasium.wrappers.NormalizeReward", "train with agent.normalize_returns=true"),
    ],
)
def test_wrappers_whose_statistics_a_checkpoint_cannot_hold_are_refused(tmp_path, wrapper, instead):
    """A CartPole run behind NormalizeObservation reached 500; evaluate then scored 9.6, its
    statistics started afresh (and a resumed run left the uninterrupted one's weights)."""
    with pytest.raises(agents.UserError, match=f"_target_={wrapper} keeps running statistics .*{instead}"):
        wrappers = f"env_wrappers=[{{_target_:{wrapper}}}]"
        agents.train("CartPole-v1", *QUIET, f"run_dir={tmp_path / 'run'}", wrappers)
    assert not (tmp_path / "run").exists()


def test_a_users_own_envs_package_is_one_line_saying_to_rename_it(tmp_path, monkeypatch):
    """An ``envs/`` folder beside the user's script (common in RL projects) hid the project's own
    ``envs`` package: ``agents.train("envs.my_env:K-v0")`` failed inside the project (``No module
    named 'envs.make'``, a traceback), and the command line said only ``cannot import envs.my_env
    (No module named 'envs.my_env')`` of a file that is there."""
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "__init__.py").write_text("")
    (tmp_path / "envs" / "my_env.py").write_text(
        "import gymnasium as gym\n"
        "gym.register('K-v0', entry_point='gymnasium.envs.classic_control.cartpole:CartPoleEnv')\n"
    )
    (tmp_path / "mine.py").write_text("import agents\nagents.train('envs.my_env:K-v0')\n")
    script = subprocess.run([sys.executable, "mine.py"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert script.returncode == 1
    assert script.stderr.splitlines()[-1] == (
        f"ImportError: the package envs at {tmp_path.resolve() / 'envs'} hides softmax-reinforce's own envs "
        f"package ({ROOT / 'envs'}), which agents imports: rename yours (e.g. my_envs), or run from another "
        "folder, or take its folder off sys.path"
    )
    farm = tmp_path / "farm"  # a checkout of symbolic links (cp -rs, stow): its envs is the project's
    for package in ("agents", "envs"):
        skip = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / package, farm / package, copy_function=os.symlink, ignore=skip)
    (tmp_path / "conda" / "envs" / "bin").mkdir(parents=True)  # a plain folder named envs
    check = "import agents, envs.make, gymnasium; gymnasium.spec('ShortCorridor-v0')"
    for path in ("", str(farm)):
        imported = subprocess.run(
            [sys.executable, "-c", check], cwd=tmp_path / "conda", capture_output=True, text=True,
            timeout=120, env={**os.environ, "PYTHONPATH": path},
        )  # fmt: skip
        if path:  # the farm's envs comes first
            assert imported.returncode == 0, imported.stderr[-1000:]
        else:  # make install's editable install: the folder hid the project's envs/__init__.py (which
            folder = (tmp_path / "conda" / "envs").resolve()  # registers ShortCorridor-v0)
            assert f"ImportError: the folder {folder} (no __init__.py" in imported.stderr, imported.stderr
    monkeypatch.chdir(tmp_path)  # the command line: the project's envs is imported first
    with pytest.raises(agents.UserError) as error:
        agents.train("envs.my_env:K-v0", "budget.total_env_steps=100", f"run_dir={tmp_path / 'run'}")
    assert str(error.value) == (
        "env=envs.my_env:K-v0: cannot import envs.my_env (ModuleNotFoundError: No module named "
        "'envs.my_env'): envs/my_env.py is in a package of yours named envs, which this project's own envs "
        "package hides; rename yours (e.g. my_envs) and give env=my_envs.my_env:..."
    )
