"""check_env_id: what this project cannot train is a one-line UserError naming the space."""

from __future__ import annotations

import re
import typing

import gymnasium as gym
import numpy as np
import pytest

from agents.errors import UserError
from envs.make import check_env_id
from envs.observations import EnvOutputError, ObservationCheck, reward_number, rewards_fit, rewards_problem


class _SpaceEnv(gym.Env):
    """An env that only declares spaces (never stepped)."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        self.observation_space, self.action_space = observation_space, action_space


gym.register(
    "test/DictObs-v0",
    entry_point=lambda: _SpaceEnv(
        gym.spaces.Dict({"a": gym.spaces.Discrete(2), "b": gym.spaces.Box(0, 1, (2,))}),
        gym.spaces.Discrete(2),
    ),
)
gym.register(
    "test/ImageObs-v0",
    entry_point=lambda: _SpaceEnv(gym.spaces.Box(0, 255, (8, 8, 3), np.uint8), gym.spaces.Discrete(2)),
)
gym.register(
    "test/SequenceObs-v0",
    entry_point=lambda: _SpaceEnv(gym.spaces.Sequence(gym.spaces.Discrete(3)), gym.spaces.Discrete(2)),
)
gym.register(
    "test/MultiDiscreteActions-v0",
    entry_point=lambda: _SpaceEnv(gym.spaces.Box(-1, 1, (2,)), gym.spaces.MultiDiscrete([2, 3])),
)


@pytest.mark.parametrize(
    ("env_id", "expected"),
    [
        ("test/DictObs-v0", "has observation space Dict; supported are Box"),
        (
            "test/DictObs-v0",
            "flatten it first (env_wrappers=[{_target_:gymnasium.wrappers.FlattenObservation}])",
        ),
        ("test/SequenceObs-v0", "has observation space Sequence; supported are Box"),
        ("test/SequenceObs-v0", "it has no fixed size to flatten: wrap the env to observe a Box"),
        ("test/ImageObs-v0", "add env_wrappers=[{_target_:gymnasium.wrappers.FlattenObservation}]"),
        ("test/MultiDiscreteActions-v0", "has an action space MultiDiscrete([2 3]); a softmax policy needs"),
        ("Pendulum-v1", "has a continuous action space Box(-2.0, 2.0, (1,), float32)"),
        ("NoSuchEnv-v0", "import envs, gymnasium; gymnasium.pprint_registry()"),  # ShortCorridor-v0 too
        ("CartPol-v1", "did you mean CartPole-v1"),
        # names are compared without their versions: ids as a whole matched Nope-v0 to Hopper-v5 ("ope-v")
        ("Nope-v0", "is not a registered Gymnasium id (list the registered ids with: python -c"),
        (
            "LunarLander-v2",
            "is not a registered Gymnasium id (did you mean LunarLander-v3?)",
        ),  # an old version
        ("cartpole-v0", "(did you mean CartPole-v0, CartPole-v1?)"),  # its case, the version typed first
        ("MountainCar", "(did you mean MountainCar-v0?)"),  # no version
        # a quoted env=' CartPole-v1' was told CartPole-v0 first, as if it had no version
        (" CartPole-v1", "is not a registered Gymnasium id (did you mean CartPole-v1, without the spaces?)"),
        ("Cart Pole-v1 ", "(did you mean CartPole-v1, without the spaces?)"),
        ("CartPol-v1 ", "(did you mean CartPole-v1, CartPole-v0?)"),
        # Gymnasium's JAX envs, without JAX: tabular/CliffWalking-v0 failed with "No module named 'jax'"
        ("CliffWalking-v0", "(did you mean CliffWalking-v1, CliffWalkingSlippery-v1?)"),
        ("Blackjack-v0", "(did you mean Blackjack-v1?)"),
    ],
)
def test_unsupported_envs_are_one_line_errors(env_id, expected):
    with pytest.raises(UserError) as caught:
        check_env_id(env_id)
    message = str(caught.value)
    assert expected in message and "\n" not in message


def test_supported_spaces_pass():
    assert check_env_id("CartPole-v1").n_actions == 2
    assert check_env_id("FrozenLake-v1", {"is_slippery": False}).observation_space.n == 16


@pytest.mark.parametrize(
    "reward", [1, 1.5, True, np.float32(2.5), np.int64(3), np.array(4.0), np.float64(-1e300)]
)
def test_a_reward_that_is_one_number_passes_as_its_float(reward):
    assert reward_number(reward) == float(reward)


@pytest.mark.parametrize(
    ("reward", "shown"),
    [(None, "reward None (NoneType)"), (np.array([1.0]), "reward array([1.]) (ndarray of shape (1,))"),
     ("1.5", "reward '1.5' (str)"), ([1.0], "reward [1.0] (list)")],
)  # fmt: skip
def test_a_reward_that_is_no_number_is_named(reward, shown):
    with pytest.raises(EnvOutputError, match=re.escape(f"step returned {shown}, not a number")):
        reward_number(reward)


def test_an_integer_reward_past_a_floats_range_is_named():
    """``10**400`` was Python's "OverflowError: int too large to convert to float"."""
    with pytest.raises(EnvOutputError, match=r"^step returned reward 1000.* \(int\), past a float's range$"):
        reward_number(10**400)


def test_vector_rewards_of_another_shape_are_named():
    assert rewards_fit(np.zeros(3), 3) and not rewards_fit(np.zeros((3, 1)), 3)
    assert not rewards_fit(np.array([None] * 3), 3) and not rewards_fit([0.0] * 3, 3)
    assert "shape (3, 1) and dtype float64; one number per sub-env (3,)" in rewards_problem(
        np.zeros((3, 1)), 3
    )


def test_an_int_box_refuses_float_observations():
    check = ObservationCheck(gym.spaces.Box(-5, 5, (3,), np.int64))
    assert check.fits(np.ones((2, 3), dtype=np.int64)) and not check.fits(np.full((2, 3), 1.5))
    assert (
        "float64 observations; the observation_space Box(-5, 5, (3,), int64) holds integers"
        in check.problem("step returned", np.full((2, 3), 1.5))
    )
    assert ObservationCheck(gym.spaces.Box(-1.0, 1.0, (3,))).fits(np.ones((2, 3), dtype=np.int64))


@pytest.mark.parametrize(
    ("space", "obs", "outside"),
    [
        (gym.spaces.Box(0, 255, (3,), np.uint8), np.array([[256, 0, 1]]), "256, outside the uint8 range"),
        (gym.spaces.Box(0, 255, (3,), np.uint8), np.array([[3, -1, 1]]), "-1, outside the uint8 range"),
        (gym.spaces.Box(-1, 1, (3,), np.float32), np.array([[0.5, 1e300, 0]]), "1e+300, outside the float32"),
        (gym.spaces.Box(-1, 1, (3,), np.float16), np.array([[0, 100000, 1]]), "100000, outside the float16"),
        (gym.spaces.Box(0, 1, (3,), bool), np.array([[1, 2, 0]]), "2, outside the bool range"),
        (
            gym.spaces.Box(0, 255, (1,), np.uint8),
            np.array([[2**64 - 1]], np.uint64),
            "18446744073709551615, out",
        ),
    ],
)
def test_an_observation_the_spaces_dtype_cannot_hold_does_not_fit(space, obs, outside):
    """The buffer stores observations in the space's dtype: 256 for a uint8 Box became 0 (acting had
    read 256), 1e300 for a float32 Box and 100000 for a float16 one inf, 2 for a bool Box True."""
    check = ObservationCheck(space)
    assert not check.fits(obs)
    assert check.problem("step returned", obs).startswith(f"step returned observation {outside}")
    fitting = np.clip(obs.astype(np.float64), 0, 1).astype(obs.dtype)  # the same dtype, values it holds
    assert check.fits(fitting)


# -- env_kwargs against the types the env's constructor declares ---------------------------------
class _KwargsEnv(_SpaceEnv):
    """Declares its kwargs in the ways envs do: annotated, typed by a default only, or neither."""

    def __init__(
        self,
        slippery: bool = True,
        rate: float = 0.5,
        steps=8,
        name: str = "4x4",
        capped: bool | None = None,
        anything=None,
        shape: tuple[int, int] = (2, 2),
    ) -> None:
        super().__init__(gym.spaces.Box(-1, 1, (2,)), gym.spaces.Discrete(2))


gym.register("test/Kwargs-v0", entry_point=_KwargsEnv)
gym.register("test/KwargsRegistered-v0", entry_point=_KwargsEnv, kwargs={"steps": 3})


@pytest.mark.parametrize(
    ("kwargs", "said"),
    [  # Hydra reads true/false and numbers; a word it cannot read stays a str, which was truthy
        (
            {"slippery": "maybe"},
            "env_kwargs.slippery='maybe' does not fit env=test/Kwargs-v0, whose slippery "
            "is a bool (its default: True): give env_kwargs.slippery=true or false",
        ),
        ({"slippery": 2}, "env_kwargs.slippery=2 does not fit env=test/Kwargs-v0, whose slippery is a bool"),
        ({"rate": "high"}, "whose rate is a float (its default: 0.5): give env_kwargs.rate=<a number>"),
        ({"rate": True}, "env_kwargs.rate=True does not fit"),
        ({"steps": "eight"}, "whose steps is a number (its default: 8): give env_kwargs.steps=<a number>"),
        ({"capped": "no"}, "whose capped is a bool | None (its default: None)"),
    ],
)
def test_an_env_kwarg_of_the_wrong_type_for_its_constructor_is_one_line(kwargs, said):
    with pytest.raises(UserError) as error:
        check_env_id("test/Kwargs-v0", kwargs)
    assert said in str(error.value) and "\n" not in str(error.value)


def test_the_registered_kwargs_type_a_parameter_as_gymnasium_make_passes_them():
    with pytest.raises(UserError, match=r"whose steps is a number \(its default: 3\)"):
        check_env_id("test/KwargsRegistered-v0", {"steps": "three"})


@pytest.mark.parametrize(
    "kwargs",
    [  # any number for a number (MountainCar's goal_velocity=0 takes 0.05); a bool for a bool;
        # None where declared; a str, tuple or untyped parameter is the env's own to judge
        {"slippery": False, "rate": 1, "steps": 2.5, "name": 8, "capped": None, "anything": "x"},
        {"shape": "3x3", "capped": True},
    ],
)
def test_env_kwargs_of_the_declared_types_or_undeclared_ones_are_left_to_the_env(kwargs):
    assert check_env_id("test/Kwargs-v0", kwargs).n_actions == 2


def test_gymnasiums_own_env_kwargs_are_checked_against_their_annotations():
    with pytest.raises(UserError, match=r"env_kwargs\.is_slippery='maybe' does not fit env=FrozenLake-v1"):
        check_env_id("FrozenLake-v1", {"is_slippery": "maybe"})
    with pytest.raises(UserError, match="whose goal_velocity is a number"):
        check_env_id("MountainCar-v0", {"goal_velocity": "fast"})
    assert check_env_id("MountainCar-v0", {"goal_velocity": 0.05}).n_actions == 3


def _typed_at_runtime(on=None, count=None, size=3):  # (annotated below, as objects)
    """An entry point whose annotations are objects (its module without ``from __future__ import
    annotations``), not text."""
    return _SpaceEnv(gym.spaces.Box(-1, 1, (2,)), gym.spaces.Discrete(2))


_typed_at_runtime.__annotations__ = {
    "on": typing.Optional[bool],  # noqa: UP045 (the typing form is the case)
    "count": typing.Optional[int],  # noqa: UP045
    "size": int | None,
}
gym.register("test/KwargsTyping-v0", entry_point=_typed_at_runtime)


def test_annotations_that_are_typing_objects_are_read_whole():
    """``typing.Optional[int]`` was read by its ``__name__``, ``Optional`` alone: an int was refused."""
    assert check_env_id("test/KwargsTyping-v0", {"count": 5, "size": None, "on": True}).n_actions == 2
    with pytest.raises(UserError, match=r"whose count is a typing\.Optional\[int\] \(its default: None\)"):
        check_env_id("test/KwargsTyping-v0", {"count": "five"})


def test_every_registered_envs_own_kwargs_pass_the_check():
    """What ``gymnasium.make`` passes each registered id (its ``kwargs``) is what its constructor
    takes: the check refuses none of them (no false alarm on Gymnasium's own envs)."""
    from envs.kwargs import check_kwarg_types

    for env_id, spec in gym.registry.items():
        check_kwarg_types(env_id, spec, dict(spec.kwargs))


class _LooselyTypedEnv(_SpaceEnv):
    """A default of None under a plain annotation, as envs often write it."""

    def __init__(self, speed: float = None, flag: bool = None, n=3) -> None:  # noqa: RUF013
        super().__init__(gym.spaces.Box(-1, 1, (2,)), gym.spaces.Discrete(2))


gym.register("test/KwargsLoose-v0", entry_point=_LooselyTypedEnv)


@pytest.mark.parametrize(
    "kwargs",
    [  # null (the default itself) was refused as "not a number"; 0 and 1 for a bool, which runs made
        # before the check had trained with; numpy's scalars from a caller of the env-making code
        {"speed": None, "flag": None, "n": None},
        {"n": [1, 2], "flag": 0},
        {"flag": np.bool_(True), "speed": np.float32(0.3), "n": np.int64(3)},
    ],
)
def test_null_zero_and_one_for_a_bool_and_numpys_scalars_pass(kwargs):
    assert check_env_id("test/KwargsLoose-v0", kwargs).n_actions == 2


def test_a_type_read_from_the_default_alone_refuses_only_a_word():
    with pytest.raises(UserError, match=r"env_kwargs\.n='three' does not fit .* whose n is a number"):
        check_env_id("test/KwargsLoose-v0", {"n": "three"})


def test_a_saved_runs_env_kwargs_are_not_refused_when_it_resumes_or_is_evaluated(
    make_config, tmp_path, monkeypatch
):
    """A run made before the check (``is_slippery=maybe``, or ``0``) could no longer be resumed nor
    evaluated, and its env_kwargs cannot be changed on a resume."""
    import agents
    import envs.make
    from agents.runtime.run import train

    lake = ["env=FrozenLake-v1", "+env_kwargs.is_slippery=maybe"]
    monkeypatch.setattr(envs.make, "check_kwarg_types", lambda *args: None)  # as the code before it
    made = train(make_config(*lake, "budget.total_env_steps=500"))
    monkeypatch.undo()
    resumed = agents.train("FrozenLake-v1", f"resume={made.run_dir}", "budget.total_env_steps=1000",
                           "logging.progress_bar=false")  # fmt: skip
    assert resumed.env_steps >= 1000
    assert agents.load(made.run_dir).predict(np.int64(0)) in range(4)
    with pytest.raises(UserError, match=r"env_kwargs\.is_slippery='maybe' does not fit env=FrozenLake-v1"):
        train(make_config(*lake, "budget.total_env_steps=500"))
