"""Links from the docs to code lines stay true: [`name`](../agents/x.py#L42) must land on `name`; the
README's commands say what they do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\[`([^`]+)`\]\(((?:\.\./)?[\w/]+\.py)#L(\d+)\)")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def links() -> list[tuple[str, str, str, int]]:
    found = []
    for doc in DOCS:
        for name, target, line in LINK.findall(doc.read_text()):
            found.append((doc.name, name, target, int(line)))
    return found


@pytest.mark.parametrize(("doc", "name", "target", "line"), links())
def test_code_link_points_at_its_name(doc, name, target, line):
    path = (ROOT / "docs" / target) if target.startswith("..") else ROOT / target
    lines = path.resolve().read_text().splitlines()
    assert line <= len(lines), f"{doc}: {target}#L{line} is past the end"
    symbol = name.split("(")[0].split(".")[-1].strip()
    name_pattern = re.escape(symbol)
    defined = re.compile(rf"^\s*(def|class)\s+{name_pattern}\b|^\s*{name_pattern}\s*[:=]")
    linked = lines[line - 1]  # the defining line itself (a blank or decorator line above was accepted)
    assert defined.search(linked), f"{doc}: {target}#L{line} does not define `{symbol}`: {linked!r}"


def test_the_readmes_textbook_rule_command_is_the_textbook_rule():
    """The README's "textbook rule" line set only sgd, per-step updates and the gamma^t weights, so
    it still standardised the returns, decayed alpha and averaged 2 episodes per update. Its
    config is S&B p. 328's: theta += alpha gamma^t G_t grad log pi(A_t|S_t), each step, constant
    alpha, one episode at a time, raw returns, nothing added."""
    from agents.tools.composing import compose_train_config

    text = (ROOT / "README.md").read_text().replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if line.endswith("# the textbook rule (S&B p. 328)")]
    command = line.split("#")[0].split()
    assert command[:2] == ["python", "scripts/train.py"]
    agent = compose_train_config(command[2:]).agent
    assert (agent.optimizer, agent.lr_schedule, agent.episodes_per_update) == ("sgd", "constant", 1)
    assert agent.per_step_updates and agent.discount_weighting and not agent.normalize_returns
    assert (agent.baseline, agent.entropy_coef, agent.max_grad_norm) == ("none", 0.0, 0.0)
