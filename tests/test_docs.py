"""Links from the docs to code lines stay true: [`name`](../agents/x.py#L42) must land on `name`."""

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
