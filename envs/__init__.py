"""Environments: construction (:mod:`envs.make`), feature maps (:mod:`envs.features`) and the
envs this project registers with Gymnasium on import."""
