"""Shared fixtures: float64 policies with random parameters, composed configs for train()."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

from agents.tools.cli import compose_train_config


@pytest.fixture
def make_config(tmp_path: Path):
    """``make_config(*overrides)`` -> a composed train config writing into ``tmp_path``."""

    def compose(*overrides: str) -> DictConfig:
        return compose_train_config(["logging.progress_bar=false", f"run_dir={tmp_path / 'run'}", *overrides])

    return compose


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)
