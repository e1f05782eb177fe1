"""scripts/compare_gradients.py: the comparison function, then the script as users run it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from agents.core.policies import LinearSoftmaxPolicy
from agents.errors import UserError
from agents.runtime.config import register_configs, validate
from agents.runtime.run import train
from agents.studies.gradient_check import compare_gradients, format_report, register_compare_config

ROOT = Path(__file__).resolve().parent.parent


def compare_config(*overrides: str):
    register_configs()
    register_compare_config()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "configs")):
        return compose(
            "compare", overrides=["num_states=64", "num_random_states=16", "repeats=2", *overrides]
        )


@pytest.mark.parametrize(
    "overrides",
    [["env=CartPole-v1"], ["env=Acrobot-v1"], ["env=ShortCorridor-v0", "agent.policy=action"],
     ["env=CartPole-v1", "agent.policy=action", "features=fourier"],
     ["env=FrozenLake-v1", "+env_kwargs.is_slippery=false"]],
)  # fmt: skip
def test_both_paths_agree_on_real_and_random_states(overrides):
    report = compare_gradients(compare_config(*overrides))
    assert report.passed
    assert report.num_real == 64 and report.num_random == 16
    by_dtype = {result.dtype: result for result in report.results}
    assert by_dtype["float64"].comparison.max_abs_discrepancy < 1e-12
    assert by_dtype["float32"].comparison.max_abs_discrepancy < 1e-5
    assert by_dtype["float64"].comparison.cosine_similarity == pytest.approx(1.0, abs=1e-12)
    assert all(result.closed_form_seconds > 0 and result.autograd_seconds > 0 for result in report.results)
    table = format_report(report)
    assert "float32" in table and "float64" in table and "FAIL" not in table


def test_broken_score_fails_and_names_the_samples(monkeypatch):
    right = LinearSoftmaxPolicy.score

    def off_on_sample_three(self, features, actions):
        scores = right(self, features, actions).clone()
        scores[3] += 1e-6  # above the float64 tolerance, below the float32 one
        return scores

    monkeypatch.setattr(LinearSoftmaxPolicy, "score", off_on_sample_three)
    report = compare_gradients(compare_config("env=CartPole-v1"))
    assert not report.passed
    by_dtype = {result.dtype: result for result in report.results}
    assert by_dtype["float32"].passed and by_dtype["float64"].failing.tolist() == [3]
    assert "FAIL float64: 1 samples above 1e-10 (absolute and relative): real #3 (1.00e-06)" in (
        format_report(report)
    )


def test_float32_tolerance_is_relative_for_large_scores(monkeypatch):
    """At param_scale=50 the MLP's float32 scores reach ~1e2 and round by ~1e-4: right math
    passes (it failed on an absolute 1e-4), a score off by 1e-3 of its size fails."""
    overrides = ("env=CartPole-v1", "agent.policy=mlp", "param_scale=50", "dtypes=[float32]")
    report = compare_gradients(compare_config(*overrides))
    assert report.passed
    assert report.results[0].comparison.max_abs_discrepancy > 1e-5  # large scores: rounding is large

    from agents.core.mlp import MLPSoftmaxPolicy

    right = MLPSoftmaxPolicy.score
    monkeypatch.setattr(MLPSoftmaxPolicy, "score", lambda self, x, a: right(self, x, a) * (1 + 1e-3))
    assert not compare_gradients(compare_config(*overrides)).passed


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from agents.tools.composing import compose_train_config

    run_dir = tmp_path_factory.mktemp("trained") / "run"
    return train(compose_train_config(["env=CartPole-v1", "budget.total_env_steps=2000", f"run_dir={run_dir}",
                                       "logging.progress_bar=false"]))  # fmt: skip


def test_trained_checkpoint(trained_run):
    report = compare_gradients(compare_config(f"checkpoint={trained_run.run_dir}", "env=CartPole-v1"))
    assert report.passed and report.env_id == "CartPole-v1"  # the run's env, given again: accepted
    assert "trained parameters from" in report.source


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "agent.policy=action",
            "was trained with agent.policy=state, which the comparison uses; drop agent.policy",
        ),
        # these ran silently on the checkpoint's env and parameters, as if they had been used
        ("env=NoSuch-v0", "was trained with env=CartPole-v1, which the comparison uses; drop env=NoSuch-v0"),
        (
            "env=Acrobot-v1",
            "was trained with env=CartPole-v1, which the comparison uses; drop env=Acrobot-v1",
        ),
        (
            "+env_kwargs.sutton_barto_reward=true",
            "was trained with env_kwargs={}, which the comparison uses; drop",
        ),
        (
            "env_wrappers=[{_target_:gymnasium.wrappers.FlattenObservation}]",
            "drop env_wrappers=[{'_target_':",
        ),
        ("param_scale=5", "param_scale=5 scales random parameters, and checkpoint="),
    ],
)
def test_a_checkpoint_fixes_env_form_and_parameters(trained_run, override, message):
    with pytest.raises(UserError, match=re.escape(message)):
        compare_gradients(compare_config(f"checkpoint={trained_run.run_dir}", override))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("agent.policy=matrix", "agent.policy='matrix' is not one of state, action, mlp"),
        ("dtypes=[float16]", "dtypes=['float16'] must be a non-empty list of float32, float64"),
        ("dtypes=[float64,float64]", "lists float64 more than once: list each dtype once"),  # two rows
        ("checkpoint=/no/such/run", "no checkpoint at /no/such/run"),
        ("checkpoint=", "checkpoint= is empty"),  # compared random parameters as if none were given
        ("num_states=0", "need num_states >= 1"),
        ("repeats=100000", "repeats=100000 must be <= 10,000"),
        ("num_states=1000000000", "samples would need about"),  # refused before any state is collected
        ("num_random_states=100000000000", "lower num_random_states"),
        ("features=rbf features.num_centers=1000", "lower features.num_centers"),  # was killed for memory
        ("seed=-1", "seed=-1 must be in [0, 2**32)"),  # was a ValueError traceback
    ],
)
def test_bad_arguments_are_user_errors(override, message):
    with pytest.raises(UserError, match=re.escape(message)):
        compare_gradients(compare_config(*override.split()))


@pytest.mark.parametrize(
    "override",
    ["agent.lr=-1", "agent.dtype=float16", "agent.gamma=2", "agent.optimizer=rmsprop",
     "agent.hidden_sizes=[0]", "agent.baseline_lr=nan", "features.clip=-1", "features.degree=0"],
)  # fmt: skip
def test_agent_and_feature_values_are_refused_as_training_refuses_them(make_config, override):
    """The comparison builds the whole agent (its optimizer too): a bad value was a torch traceback
    (``agent.lr=-1``: Adam's ValueError; ``agent.dtype=float16``: a KeyError), not training's line."""
    with pytest.raises(UserError) as training:
        validate(make_config(override))
    with pytest.raises(UserError, match=f"^{re.escape(str(training.value))}$"):
        compare_gradients(compare_config(override))


def run_script(*overrides: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compare_gradients.py"), "repeats=3", *overrides],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip


def test_script_prints_the_table_and_exits_zero():
    completed = run_script("env=ShortCorridor-v0", "agent.policy=action")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("ShortCorridor-v0, agent.policy=action, parameter [2]")
    assert [line.split()[0] for line in lines[3:5]] == ["float32", "float64"]
    assert all(line.endswith("ok") for line in lines[3:5])


def test_script_bad_argument_exits_2_with_one_line():
    completed = run_script("agent.policy=matrix")  # the other mistakes: test_bad_arguments_are_user_errors
    assert completed.returncode == 2
    assert completed.stderr.strip() == "error: agent.policy='matrix' is not one of state, action, mlp"
    assert "Traceback" not in completed.stderr


def test_script_bad_agent_value_exits_2_with_trainings_line():
    completed = run_script("agent.lr=-1")  # was Adam's ValueError traceback, exit 1
    assert completed.returncode == 2
    assert completed.stderr.strip() == "error: agent.lr=-1.0 must be > 0 (try agent.lr=0.01)"


@pytest.mark.slow
def test_script_refuses_a_default_value_given_for_another_runs_checkpoint(tmp_path):
    """``env=CartPole-v1`` (the default) given with a FrozenLake run's checkpoint compared the
    FrozenLake run without a word; any other env was refused."""
    from agents.runtime.run import train
    from agents.tools.composing import compose_train_config

    run_dir = tmp_path / "frozen"
    train(compose_train_config(["env=FrozenLake-v1", "budget.total_env_steps=300", f"run_dir={run_dir}",
                                "logging.progress_bar=false"]))  # fmt: skip
    completed = run_script(f"checkpoint={run_dir}", "env=CartPole-v1")
    assert completed.returncode == 2 and "Traceback" not in completed.stderr, completed.stderr
    assert completed.stderr.strip() == (
        f"error: checkpoint={run_dir} was trained with env=FrozenLake-v1, which the comparison uses; drop "
        "env=CartPole-v1 (or compare random parameters without checkpoint=)"
    )
    assert run_script(f"checkpoint={run_dir}").returncode == 0  # (the run's own env: compared)


@pytest.mark.slow
def test_script_refuses_a_feature_or_network_setting_a_checkpoint_fixes(trained_run):
    """``features.bias=false`` given with a checkpoint compared the run's own features without a
    word; the run's own value is accepted, and a key the run does not read (``agent.hidden_sizes``
    of a linear run) is a note, not "fixed to the run's [64, 64]"."""
    run_dir = trained_run.run_dir
    completed = run_script(f"checkpoint={run_dir}", "features.bias=false")
    assert completed.returncode == 2 and "Traceback" not in completed.stderr, completed.stderr
    assert completed.stderr.strip() == (
        f"error: checkpoint={run_dir} fixes features.bias to the run's true; drop features.bias=false "
        "(or compare random parameters without checkpoint=)"
    )
    noted = run_script(
        f"checkpoint={run_dir}", "features.bias=true", "agent.hidden_sizes=[3]", "agent.lr=0.5"
    )
    assert noted.returncode == 0, noted.stderr
    assert noted.stdout.splitlines()[0] == (
        "note: agent.hidden_sizes has no effect with agent.policy=state (read with agent.policy=mlp); "
        "agent.lr has no effect on the comparison (it compares scores, not updates)"
    )


@pytest.mark.slow
def test_script_notes_the_settings_the_comparison_does_not_read():
    """``agent.lr=5 agent.gamma=0.1`` or ``features=raw features.degree=3`` gave the same numbers
    as without them, without a word (training says the latter in a note)."""
    given = ["features=raw", "features.degree=3", "agent.dtype=float64", "agent.lr=5", "agent.gamma=0.1"]
    completed = run_script("num_states=8", "num_random_states=4", *given)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[0] == (
        "note: features.degree has no effect with features=raw (read with features=polynomial, fourier); "
        "agent.dtype has no effect on the comparison (dtypes= sets the dtypes it compares in); "
        "agent.lr, agent.gamma have no effect on the comparison (it compares scores, not updates)"
    ), completed.stdout
    plain = run_script("num_states=8", "num_random_states=4", "agent.policy=mlp", "agent.activation=relu")
    assert plain.returncode == 0 and "has no effect" not in plain.stdout, plain.stdout


def test_samples_where_the_policy_is_one_hot_on_the_action_are_noted():
    """A relu MLP at param_scale=1 is one-hot at most states: e_a - pi = 0 there, both scores are 0,
    and the table's 0.00e+00 read as a perfect agreement while most samples tested nothing."""
    relu = ["env=CartPole-v1", "agent.policy=mlp", "agent.activation=relu"]
    saturated = compare_gradients(compare_config(*relu))
    assert saturated.passed and saturated.saturated > (saturated.num_real + saturated.num_random) // 2
    assert saturated.saturation_note().endswith(
        "lower param_scale (e.g. param_scale=0.1) for a policy that is not saturated"
    )
    assert compare_gradients(compare_config(*relu, "param_scale=0.1")).saturation_note() is None
    assert compare_gradients(compare_config("env=CartPole-v1")).saturated == 0
    completed = run_script("num_states=8", "num_random_states=4", *relu[1:])
    assert completed.returncode == 0, completed.stderr
    assert re.match(
        r"note: at \d+ of 12 samples pi\(\.\|s\) puts all its mass", completed.stdout.splitlines()[-1]
    )
