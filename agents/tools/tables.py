"""Plain-text tables for the terminal and for ``.md`` files (sweep summaries, final scores)."""

from __future__ import annotations


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table with columns padded to their widest cell, readable as plain text too."""
    widths = [max(len(line[column]) for line in (header, *rows)) for column in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), rule, *map(line, rows)])


def short_number(text: str) -> str:
    """``0.022881136684755242`` -> ``0.02288``, ``5000.0`` -> ``5000``, ``-1e308`` -> ``-1e+308`` (as
    an int it was 309 digits across the plot's legend); words stay as they are."""
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:.4g}"
