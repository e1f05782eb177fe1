"""Environments: construction (:mod:`envs.make`), feature maps (:mod:`agents.features.maps`) and the
envs this project registers with Gymnasium on import."""

from gymnasium.envs.registration import register

from envs.short_corridor import MAX_EPISODE_STEPS

register(
    id="ShortCorridor-v0",
    entry_point="envs.short_corridor:ShortCorridorEnv",
    max_episode_steps=MAX_EPISODE_STEPS,  # cap for near-deterministic policies (see the module)
)
