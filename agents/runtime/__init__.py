"""Training runtime: config schema, building the agent, acting, episode storage, env runners, the
trainers, checkpoints, logging and evaluation. Never imports :mod:`agents.studies` or
:mod:`agents.tools`."""
