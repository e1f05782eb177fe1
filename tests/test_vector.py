"""Vector envs: the NEXT_STEP autoreset step is not a transition; episodes stay per sub-env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from toy_envs import StepCounter

from agents.runtime.buffer import EpisodeBuffer
from agents.runtime.runners import SingleEnvRunner, VectorEnvRunner
from envs.make import close_quietly, make_vector_env

gym.register("test/Staircase-v0", entry_point=StepCounter)  # rewards 1, 2, 3 over 3 steps


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_autoreset_step_is_skipped_and_returns_are_exact(mode):
    runner = VectorEnvRunner("test/Staircase-v0", 2, mode)
    buffer = EpisodeBuffer(2, (1,), np.float64)
    obs = runner.reset(seed=0)
    finished_returns = []
    for _ in range(12):
        actions = np.zeros(2, dtype=np.int64)
        next_obs, rewards, active, ended = runner.step(actions)
        assert buffer.store(obs, actions, rewards, active) == np.count_nonzero(active)  # env steps taken
        if ended.size:
            finished = buffer.finish(ended)
            finished_returns += finished.returns.tolist()
            assert finished.lengths.tolist() == [3] * ended.size
        obs = next_obs
    runner.close()
    # 12 vector steps = 3 episodes of 3 steps + 3 reset steps per sub-env
    assert finished_returns == [6.0] * 6
    obs_flat, actions, rewards, dones = buffer.get()
    assert rewards.tolist() == [1.0, 2.0, 3.0] * 6
    assert obs_flat[:, 0].tolist() == [0.0, 1.0, 2.0] * 6  # S_t is the state before the action
    assert dones.tolist() == [False, False, True] * 6


def test_single_runner_matches_the_vector_runner():
    single = SingleEnvRunner("test/Staircase-v0")
    obs = single.reset(seed=0)
    buffer = EpisodeBuffer(1, (1,), np.float64)
    returns = []
    for _ in range(9):
        actions = np.zeros(1, dtype=np.int64)
        obs_next, rewards, active, ended = single.step(actions)
        assert active.all()
        buffer.store(obs, actions, rewards, active)
        obs = obs_next
        if ended.size:
            returns += buffer.finish(ended).returns.tolist()
    assert returns == [6.0, 6.0, 6.0]


def test_buffer_grows_for_long_episodes_and_stays_per_env():
    buffer = EpisodeBuffer(2, (), np.int64, capacity=4)
    active = np.array([True, True])
    for t in range(10):
        buffer.store(np.array([t, 100 + t]), np.array([0, 1]), np.array([1.0, 2.0]), active)
    buffer.finish(np.array([1]))
    obs, _actions, rewards, dones = buffer.get()
    assert obs.tolist() == list(range(100, 110))
    assert rewards.tolist() == [2.0] * 10 and dones.tolist() == [False] * 9 + [True]
    assert buffer.length.tolist() == [10, 0]


def test_single_env_buffer_grows():
    buffer = EpisodeBuffer(1, (), np.int64, capacity=4)
    for t in range(9):
        buffer.store(np.array([t]), np.array([t % 2]), np.array([float(t)]), np.ones(1, dtype=bool))
    buffer.store(np.array([99]), np.array([0]), np.array([5.0]), np.zeros(1, dtype=bool))  # skipped
    buffer.finish(np.array([0]))
    obs, _actions, rewards, dones = buffer.get()
    assert obs.tolist() == list(range(9)) and rewards.tolist() == [float(t) for t in range(9)]
    assert dones.tolist() == [False] * 8 + [True]


def test_buffer_compacts_and_grows_without_mixing_episodes():
    """Random episode lengths in 3 sub-envs with autoreset rows, a capacity far below the run:
    every finished episode is exactly what its sub-env stored, and the rows stay bounded."""
    rng = np.random.default_rng(0)
    num_envs = 3
    buffer = EpisodeBuffer(num_envs, (), np.int64, capacity=4)
    expected: list[list[int]] = [[] for _ in range(num_envs)]
    remaining = rng.integers(1, 40, size=num_envs)
    autoreset = np.zeros(num_envs, dtype=bool)
    finished_expected, finished_got = [], []
    for t in range(3000):
        active = ~autoreset
        obs = np.array([t * 10 + e for e in range(num_envs)])
        buffer.store(obs, np.zeros(num_envs, dtype=np.int64), obs.astype(float), active)
        for e in np.flatnonzero(active):
            expected[e].append(int(obs[e]))
            remaining[e] -= 1
        ended = np.flatnonzero(active & (remaining == 0))
        if ended.size:
            buffer.finish(ended)
            for e in ended:
                finished_expected.append(expected[e])
                expected[e] = []
                remaining[e] = rng.integers(1, 40)
        autoreset = np.zeros(num_envs, dtype=bool)
        autoreset[ended] = True
        if buffer.num_finished >= 5:
            finished_got += [ep[0].tolist() for ep in buffer.finished_episodes()]
            buffer.get()
    finished_got += [ep[0].tolist() for ep in buffer.finished_episodes()]
    assert finished_got == finished_expected and len(finished_got) > 100
    assert [buffer.in_progress(e)[0].tolist() for e in range(num_envs)] == expected
    # bounded by the rows of the episodes awaiting get (5 x at most 40) and in progress, not by 3000 steps
    assert buffer.obs.shape[0] <= 2 * 256


@pytest.mark.parametrize(
    ("env_id", "num_envs"), [("CartPole-v1", 7), ("Acrobot-v1", 3), ("FrozenLake-v1", 4)]
)
def test_episode_statistics_from_the_buffer_equal_gymnasiums_wrapper(env_id, num_envs):
    """The buffer's returns and lengths are RecordEpisodeStatistics' numbers, bit for bit: the
    same vector env twice, one wrapped, the same random actions."""
    plain = VectorEnvRunner(env_id, num_envs, "native")
    wrapped = gym.wrappers.vector.RecordEpisodeStatistics(gym.make_vec(env_id, num_envs=num_envs))
    space = plain.single_observation_space
    buffer = EpisodeBuffer(num_envs, space.shape, space.dtype, capacity=8)
    obs = plain.reset(seed=3)
    wrapped.reset(seed=3)
    rng = np.random.default_rng(0)
    ours, theirs = [], []
    for _ in range(1100):
        actions = rng.integers(0, int(wrapped.single_action_space.n), num_envs)
        next_obs, rewards, active, ended = plain.step(actions)
        buffer.store(obs, actions, rewards, active)
        obs = next_obs
        if ended.size:
            finished = buffer.finish(ended)
            ours += zip(
                finished.env_ids.tolist(), finished.returns.tolist(), finished.lengths.tolist(), strict=True
            )
        *_, infos = wrapped.step(actions)
        if "episode" in infos:
            done = np.flatnonzero(infos["_episode"])
            episode = infos["episode"]
            theirs += zip(
                done.tolist(), episode["r"][done].tolist(), episode["l"][done].tolist(), strict=True
            )
        if buffer.num_finished > 5:
            buffer.get()
    assert ours == theirs and len(ours) >= 2 * num_envs


def test_an_async_env_is_built_with_signals_held_and_closed_at_exit():
    """A SIGTERM while the workers fork raised in the fork hooks and was lost (or left a half-built
    env); it now waits until the env exists. The exit hook kills workers Gymnasium's close would wait
    for (it sends SIGTERM, which they ignore)."""
    import signal

    from envs.make import _async_vector_env

    held = []

    def make() -> gym.vector.VectorEnv:
        held.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        return make_vector_env("CartPole-v1", 2, "async")

    envs = _async_vector_env(make)
    try:
        assert {signal.SIGINT, signal.SIGTERM} <= held[0]
        assert not {signal.SIGINT, signal.SIGTERM} & signal.pthread_sigmask(signal.SIG_BLOCK, [])
    finally:
        envs.close()


def test_an_async_worker_whose_main_process_closed_its_pipe_exits_quietly(tmp_path):
    """Stopping a run closes the workers' pipes; Gymnasium's worker then reported the closed pipe
    through that pipe and printed a BrokenPipeError traceback (one per worker: hundreds)."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "worker.py"
    script.write_text(
        "import multiprocessing as mp\n"
        "import gymnasium as gym\n"
        "from gymnasium.vector import AutoresetMode\n"
        "from envs.make import signal_safe_worker\n"
        "ctx = mp.get_context('fork')\n"
        "parent, child = ctx.Pipe()\n"
        "args = (0, lambda: gym.make('CartPole-v1'), child, parent, None, ctx.Queue(),\n"
        "        AutoresetMode.NEXT_STEP, ctx.Semaphore(0))\n"
        "process = ctx.Process(target=signal_safe_worker, args=args)\n"
        "process.start(); child.close(); parent.close(); process.join()\n"
        "print('exit', process.exitcode)\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=root,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=120)  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout.strip() == "exit 0"


def _async_steps_in_this_process() -> int:
    """Make an async vector env, step it 5 times and close it; 5."""
    envs = make_vector_env("CartPole-v1", 2, "async")
    try:
        envs.reset(seed=0)
        for _ in range(5):
            envs.step(np.zeros(2, dtype=np.int64))
        return 5
    finally:
        close_quietly(envs)


def test_an_async_vector_env_starts_in_a_joblib_worker():
    """``hydra/launcher=joblib vector.mode=async``: every job failed with "env=CartPole-v1 failed to
    start: TypeError: cannot pickle 'mmap.mmap' object" (loky's own start method pickles the worker
    process, and with it the env's shared memory); the workers now start as the platform starts them."""
    from joblib import Parallel, delayed

    jobs = (delayed(_async_steps_in_this_process)() for _ in range(2))
    assert Parallel(n_jobs=2, backend="loky")(jobs) == [5, 5]


def test_the_buffer_holds_its_owners_growth_callback_weakly():
    """A trainer passing its own method made it and its buffer a reference cycle: each finished
    trainer's arrays stayed until the garbage collector ran (+33 MB of peak memory over the
    benchmark's three 256-env runs). A function is held as given, and each is called as the buffer
    doubles."""
    import gc
    import weakref

    class Owner:
        grew = 0

        def on_grow(self) -> None:
            self.grew += 1

    owner, calls = Owner(), []
    buffer = EpisodeBuffer(1, (2,), np.float32, capacity=4, on_grow=owner.on_grow)
    other = EpisodeBuffer(1, (2,), np.float32, capacity=4, on_grow=lambda: calls.append(1))
    for _ in range(5):  # the fifth row doubles each buffer's 4 rows: one episode holds them all
        for each in (buffer, other):
            each.store(np.zeros((1, 2), np.float32), np.zeros(1, np.int64), np.zeros(1), np.ones(1, bool))
    assert owner.grew == 1 and calls == [1]
    owner.buffer = buffer
    alive = weakref.ref(owner)
    gc.disable()
    try:
        del owner, buffer
        assert alive() is None  # freed by its count, not by the collector
    finally:
        gc.enable()
