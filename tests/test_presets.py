"""Every tuned preset (configs/experiment/<name>.yaml) composes, documents what it reaches, and
trains for a few hundred steps; the results table formats its rows."""

from __future__ import annotations

import importlib.util

import pytest

from agents.runtime.trainer import Trainer
from agents.tools.results import (
    EXPERIMENT_DIR,
    LONG_PRESETS,
    QUICK_PRESETS,
    PresetResult,
    SeedResult,
    available_presets,
    results_table,
)

PRESETS = available_presets()
NEEDS = {"lunarlander": "Box2D"}
"""Presets whose env needs an optional dependency (the ``box2d`` extra)."""


def test_the_results_table_covers_every_preset():
    assert sorted(QUICK_PRESETS + LONG_PRESETS) == PRESETS


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_is_global_and_documents_the_return_it_reaches(preset):
    text = (EXPERIMENT_DIR / f"{preset}.yaml").read_text()
    assert text.startswith("# @package _global_\n")
    assert "Reaches" in text, f"{preset}.yaml should say (in a comment) what return it reaches"


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_trains_a_thousand_steps(preset, make_config):
    if preset in NEEDS and importlib.util.find_spec(NEEDS[preset]) is None:
        pytest.skip(f"needs the optional {NEEDS[preset]} package: pip install -e '.[box2d]'")
    overrides = ["budget.total_env_steps=1000", "agent.episodes_per_update=1", "logging.tensorboard=false"]
    cfg = make_config(f"experiment={preset}", *overrides)  # one episode per update: Acrobot's last 500 steps
    assert cfg.budget.total_env_steps == 1000  # the command line still overrides the preset
    result = Trainer(cfg).run()
    assert result.env_steps >= 1000 and result.updates >= 1


def test_results_table_row():
    runs = [SeedResult(0, 1000, 2.0, -10.0), SeedResult(1, 1200, 4.0, -14.0)]
    table = results_table([PresetResult("acrobot", "Acrobot-v1", runs)])
    header, rule, row = table.splitlines()
    assert "final return (mean ± std)" in header and rule.startswith("|-")
    assert "`experiment=acrobot`" in row and "1,100" in row and "3.0 s" in row and "-12.00 ± 2.83" in row
