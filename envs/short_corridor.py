r"""Short corridor with switched actions (Sutton & Barto, 2nd ed., Example 13.1, p. 323).

The smallest problem on which a stochastic policy beats every deterministic one: the agent
cannot tell the states apart, so it can only choose a probability ``p = pi(right)`` for all of
them. Its value at the start state has a closed form (derived in docs/math.md),

    v_pi(s_0) = (2p - 4) / (p (1 - p)),

maximal at ``p = 2 - sqrt(2) ~ 0.586`` where ``v = -(6 + 4 sqrt(2)) ~ -11.66``; the deterministic
policies (``p = 0`` or ``1``) never reach the goal.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

LEFT, RIGHT = 0, 1
"""Action ids."""
START, GOAL = 0, 3
"""Start state and terminal state."""
STEP_REWARD = -1.0
"""Reward of every step, the last one included (so the return is minus the episode length)."""
MAX_EPISODE_STEPS = 1000
"""``TimeLimit`` cap set at registration. At ``p = 0.5`` episodes last 12 steps on average and
``P(length > 1000) < 1e-40``, so the cap only matters for near-deterministic policies, which
would otherwise never end (``p -> 0`` or ``1``). Override with ``gymnasium.make(...,
max_episode_steps=N)``."""

_MOVES = {  # state -> {action: next state}
    0: {LEFT: 0, RIGHT: 1},  # walking left into the wall: no movement
    1: {LEFT: 2, RIGHT: 0},  # the switched state: left goes right and right goes left
    2: {LEFT: 1, RIGHT: 3},
}
_ACTION_FEATURES = np.array([[0.0, 1.0], [1.0, 0.0]])
"""``phi(s, a)`` for a = left, right (rows), whatever the state: ``x(s,right) = [1, 0]``,
``x(s,left) = [0, 1]``."""

Transition = tuple[float, int, float, bool]


class ShortCorridorEnv(gym.Env[np.int64, np.int64]):
    """
    A four-state corridor in which the agent cannot see where it is.

    ## Description
    ```
        S  <->  x  <->  .  ->  G        (x: actions reversed)
        0       1       2      3
    ```
    The agent starts in state 0 and must reach the goal, state 3. In states 0 and 2 the
    actions do what they say (left from state 0 hits the wall and stays); in state 1 they are
    reversed: `left` moves to state 2 and `right` back to state 0. Every step costs -1.

    The policy's action features ignore the state: `x(s, right) = [1, 0]`,
    `x(s, left) = [0, 1]`, supplied by `action_features(obs)` (the observation is exposed for
    logging and exact evaluation, not for the agent). With `agent.policy=action` the trainer
    uses them; `pi(right) = sigmoid(theta_0 - theta_1)`.

    ## Action Space
    `Discrete(2)`:

    | Num | Action | effect in states 0, 2 | effect in state 1 |
    |-----|--------|-----------------------|-------------------|
    | 0   | left   | one state left (state 0: stay) | one state right |
    | 1   | right  | one state right       | one state left    |

    ## Observation Space
    `Discrete(4)`: the index of the current state, 0 to 3 (3 is only seen as the final
    observation).

    ## Starting State
    Always state 0.

    ## Rewards
    -1 on every step, including the one that reaches the goal: the return is minus the
    number of steps.

    ## Episode End
    - Termination: the agent reaches state 3.
    - Truncation: `max_episode_steps` steps (registered as 1000; pass
      `gymnasium.make("ShortCorridor-v0", max_episode_steps=N)` to change it).

    ## Transition table
    `P[s][a] = [(probability, next_state, reward, terminated)]`, as in Gymnasium's toy-text
    envs. The terminal state loops on itself with reward 0 and `terminated=True`.

    ## Version History
    - v0: first version.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None) -> None:
        self.observation_space = spaces.Discrete(4)
        self.action_space = spaces.Discrete(2)
        self.render_mode = render_mode
        self.P: dict[int, dict[int, list[Transition]]] = {
            state: {action: [(1.0, nxt, STEP_REWARD, nxt == GOAL)] for action, nxt in _MOVES[state].items()}
            for state in _MOVES
        }
        self.P[GOAL] = {action: [(1.0, GOAL, 0.0, True)] for action in (LEFT, RIGHT)}
        self.state = START

    def action_features(self, obs: np.ndarray) -> np.ndarray:
        """``phi(s, .)`` for a batch of observations: ``obs [B] -> [B, 2 actions, 2]``."""
        batch = np.asarray(obs).reshape(-1).shape[0]
        return np.broadcast_to(_ACTION_FEATURES, (batch, 2, 2)).copy()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.int64, dict[str, Any]]:
        super().reset(seed=seed)
        self.state = START
        return np.int64(self.state), {}

    def step(self, action: int) -> tuple[np.int64, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space} (0 = left, 1 = right)")
        ((_, next_state, reward, terminated),) = self.P[self.state][int(action)]
        self.state = next_state
        return np.int64(next_state), reward, terminated, False, {}

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        cells = ["S", "x", ".", "G"]
        cells[self.state] = "A"
        return " ".join(cells)
