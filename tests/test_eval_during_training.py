"""Evaluation during training (eval.every_steps): separate env, greedy by default, eval/ tags,
checkpoint_best.pt chosen by evaluation, training itself untouched."""

from __future__ import annotations

import logging
import shutil

import gymnasium as gym
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.errors import UserError
from agents.runtime import tags
from agents.runtime.checkpoint import BEST_CHECKPOINT_NAME, CHECKPOINT_NAME, load_checkpoint
from agents.runtime.evaluation import EVAL_STREAM, run_episode
from agents.runtime.restore import load_agent
from agents.runtime.run import train

COMMON = ("budget.total_env_steps=6000", "budget.stop_at_target=false", "seed=5")
EVAL = ("eval.every_steps=2000", "eval.episodes=3")


def test_eval_tags_and_the_best_checkpoint(make_config, tmp_path):
    result = train(make_config(*COMMON, *EVAL), summary=False)
    events = EventAccumulator(str(result.run_dir)).Reload()
    means = events.Scalars(tags.EVAL_MEAN_RETURN)
    stds = events.Scalars(tags.EVAL_STD_RETURN)
    assert [point.step for point in means] == [point.step for point in stds] == [2000, 4000, 6000]
    best = load_checkpoint(result.run_dir / BEST_CHECKPOINT_NAME)
    best_point = max(means, key=lambda point: point.value)  # the first of equal maxima
    assert best["counters"]["env_steps"] == best_point.step
    assert best["counters"]["best_mean_return"] == pytest.approx(best_point.value)
    assert load_checkpoint(result.run_dir)["counters"]["best_mean_return"] == pytest.approx(best_point.value)

    # the same episodes replayed from the best checkpoint give the logged mean
    index = best["evaluation"]["count"] - 1
    seeds = np.random.default_rng([5, EVAL_STREAM, index]).integers(2**31, size=3).tolist()
    agent = load_agent(result.run_dir, which="best")
    env = gym.make("CartPole-v1")
    returns = [run_episode(env, agent, greedy=True, seed=seed)[0] for seed in seeds]
    assert np.mean(returns) == pytest.approx(best_point.value)


def test_evaluation_leaves_training_untouched(make_config, tmp_path):
    plain = train(make_config(*COMMON, f"run_dir={tmp_path / 'plain'}"), summary=False)
    evaluated = train(make_config(*COMMON, *EVAL, "eval.deterministic=false", f"run_dir={tmp_path / 'eval'}"),
                      summary=False)  # fmt: skip
    assert plain.recent_returns == evaluated.recent_returns
    weights = [
        load_checkpoint(run / CHECKPOINT_NAME)["policy"]["weight"]
        for run in (tmp_path / "plain", tmp_path / "eval")
    ]
    assert torch.equal(*weights)


def test_bad_eval_settings_are_one_line(make_config):
    with pytest.raises(UserError, match=r"eval.episodes=0 must be >= 1"):
        train(make_config("eval.every_steps=10", "eval.episodes=0"))
    with pytest.raises(UserError, match=r"^eval.episodes=1000000000000 must be <= 1,000,000$"):
        train(make_config("eval.every_steps=10", "eval.episodes=1000000000000"))  # was: 7.28 TiB mid-run


def test_several_seeds_eval_lines_name_their_seed(make_config, caplog):
    """With num_seeds=2 the "eval at env step" lines of the two seeds looked alike."""
    caplog.set_level(logging.INFO, logger="agents.runtime.trainer")
    train(make_config("num_seeds=2", "seed=4", "eval.every_steps=500", "eval.episodes=2",
                      "budget.total_env_steps=1000"))  # fmt: skip
    lines = [record.getMessage() for record in caplog.records if "eval at env step" in record.getMessage()]
    assert any(line.startswith("seed4: eval at env step") for line in lines)
    assert any(line.startswith("seed5: eval at env step") for line in lines)


def test_evaluations_and_periodic_saves_keep_a_fixed_cadence_with_several_envs(make_config, tmp_path):
    """With 3 envs a vector step passes a multiple of ``every_steps`` by up to 2 steps; the next
    evaluation was scheduled ``every_steps`` after that step (1,002, 2,003, 3,005, 4,007, 5,007:
    5 of 6 in 6,002 steps). Each multiple now gets its evaluation and its periodic save, and each
    save is kept as ``checkpoint_<N>_steps.pt`` (SB3's ``CheckpointCallback``), where every save
    replaced the last."""
    cadence = ("eval.every_steps=1000", "eval.episodes=1", "checkpoint.every_steps=1000")
    result = train(make_config(*COMMON, *cadence, "vector.num_envs=3", f"run_dir={tmp_path / 'run'}"))
    steps = [
        point.step for point in EventAccumulator(str(result.run_dir)).Reload().Scalars(tags.EVAL_MEAN_RETURN)
    ]
    assert [step // 1000 for step in steps] == [1, 2, 3, 4, 5, 6] and all(step % 1000 < 3 for step in steps)
    kept = sorted(result.run_dir.glob("checkpoint_*_steps.pt"), key=lambda path: int(path.stem.split("_")[1]))
    assert [int(path.stem.split("_")[1]) for path in kept] == steps
    for path, step in zip(kept, steps, strict=True):
        assert load_checkpoint(path)["counters"]["env_steps"] == step
    assert load_agent(kept[0]).predict(np.zeros(4, dtype=np.float32)) in (0, 1)
    assert load_checkpoint(result.run_dir)["counters"]["env_steps"] == steps[-1]


def _kept_steps(run_dir) -> list[int]:
    return sorted(int(path.stem.split("_")[1]) for path in run_dir.glob("checkpoint_*_steps.pt"))


def test_a_resume_keeps_the_cadence_or_starts_the_one_it_is_given(make_config, tmp_path):
    """A periodic save held its own step as the next save's, so a run resumed from one (a kill just
    after it, or the copy-the-folder hint's way) saved again a step later (``checkpoint_2001_steps.pt``);
    an ``every_steps`` changed or evaluation turned on at the resume kept the old schedule (3,000 of
    a new 2,000 after 2,500 steps) or evaluated at once."""
    run = tmp_path / "run"
    train(
        make_config(*COMMON, "budget.total_env_steps=2500", "checkpoint.every_steps=1000", f"run_dir={run}")
    )
    assert _kept_steps(run) == [1000, 2000]
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / "checkpoint_2000_steps.pt").replace(copy / CHECKPOINT_NAME)  # as the resume hint says
    longer = ["budget.total_env_steps=3000"]
    train(make_config(f"resume={copy}", *longer), overrides=longer)
    assert _kept_steps(copy) == [1000, 3000]
    changed = [
        "budget.total_env_steps=6500",
        "checkpoint.every_steps=2000",
        "eval.every_steps=2000",
        "eval.episodes=1",
    ]
    resumed = train(make_config(f"resume={run}", *changed), overrides=changed)
    assert _kept_steps(run) == [1000, 2000, 4000, 6000]
    means = EventAccumulator(str(resumed.run_dir)).Reload().Scalars(tags.EVAL_MEAN_RETURN)
    assert [point.step for point in means] == [4000, 6000]


def test_evaluation_turned_on_at_a_resume_makes_the_best_an_evaluation(make_config, tmp_path):
    """checkpoint_best.pt is the best evaluation once eval.every_steps is set; turned on at a resume,
    the evaluations were compared against the best moving mean of training returns before it (98.5),
    so the first one (98.0) was not saved, nor any that stayed below it."""
    run = tmp_path / "run"
    train(make_config(*COMMON, "budget.window=10", "checkpoint.every_steps=1000", f"run_dir={run}"))
    assert load_checkpoint(run / BEST_CHECKPOINT_NAME)["counters"]["best_mean_return"] == 98.5
    changed = [
        "budget.total_env_steps=8000",
        "eval.every_steps=1000",
        "eval.episodes=1",
        "eval.deterministic=false",
    ]
    train(make_config(f"resume={run}", *changed), overrides=changed)
    means = EventAccumulator(str(run)).Reload().Scalars(tags.EVAL_MEAN_RETURN)
    assert [(point.step, point.value) for point in means] == [(7000, 98.0), (8000, 80.0)]
    best = load_checkpoint(run / BEST_CHECKPOINT_NAME)["counters"]
    assert (best["env_steps"], best["best_mean_return"]) == (7000, 98.0)


def test_a_folder_of_kept_saves_holds_a_run_and_names_them(make_config, tmp_path):
    """A folder holding only periodic saves (copied there) was no run: a new run there wrote over
    ``checkpoint_1000_steps.pt``, and ``evaluate.py``/``agents.load``/``resume=`` said only "no
    checkpoint at <folder>/checkpoint.pt"."""
    run = train(make_config(*COMMON, "budget.total_env_steps=2000", "checkpoint.every_steps=1000")).run_dir
    copies = tmp_path / "copies"
    copies.mkdir()
    for steps in (1000, 2000):
        shutil.copy(run / f"checkpoint_{steps}_steps.pt", copies)
    before = (copies / "checkpoint_1000_steps.pt").read_bytes()
    with pytest.raises(
        UserError, match=r"already holds a run \(.*checkpoint_2000_steps\.pt\); continue it with resume="
    ):
        train(make_config(*COMMON, f"run_dir={copies}", "checkpoint.every_steps=1000"))
    assert (copies / "checkpoint_1000_steps.pt").read_bytes() == before
    said = r"holds no checkpoint\.pt, but 2 periodic saves \(checkpoint\.every_steps\): pass one, e\.g\. "
    with pytest.raises(UserError, match=said + r".*checkpoint_2000_steps\.pt$"):
        load_agent(copies)


def test_a_resume_that_would_write_over_later_kept_saves_is_refused(make_config, tmp_path):
    """Resuming an earlier save in a folder that holds later periodic saves (the copy-the-folder
    hint's way, or kept files copied out) wrote over ``checkpoint_3000_steps.pt`` with another
    history, beside the old run's 4000 and 5000. A folder in the way of a kept save was named by
    its temporary file."""
    run = train(make_config(*COMMON, "budget.total_env_steps=3000", "checkpoint.every_steps=1000")).run_dir
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / "checkpoint_1000_steps.pt").replace(copy / CHECKPOINT_NAME)
    before = {path.name: path.read_bytes() for path in copy.iterdir() if path.is_file()}
    said = r"would continue from env step 1,000 in .*copy, which holds periodic saves of later steps \(checkp"
    with pytest.raises(UserError, match=said + r"oint_2000_steps\.pt, \.\.\.\) that it would write over"):
        train(make_config(f"resume={copy}"), overrides=[])
    assert {path.name: path.read_bytes() for path in copy.iterdir() if path.is_file()} == before
    in_the_way = tmp_path / "in_the_way"
    (in_the_way / "checkpoint_1000_steps.pt").mkdir(parents=True)
    with pytest.raises(IsADirectoryError) as raised:
        train(make_config(*COMMON, f"run_dir={in_the_way}", "checkpoint.every_steps=1000"))
    assert raised.value.filename == str(in_the_way / "checkpoint_1000_steps.pt")
