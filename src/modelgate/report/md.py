"""Markdown building blocks: tables, collapsed blocks and number formats GitHub renders."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def cell(value: object) -> str:
    """Text safe inside a table cell: no pipes, no line breaks."""
    return str(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ").strip()


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = [
        "| " + " | ".join(cell(h) for h in header) + " |",
        "|" + "|".join(" --- " for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def details(summary: str, body: str) -> str:
    """A collapsed block; blank lines around the body let GitHub render Markdown inside."""
    return f"<details>\n<summary>{summary}</summary>\n\n{body.strip()}\n\n</details>"


def num(value: object) -> str:
    """A value as the JSON files hold it: the shortest text that reads back as the same float."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return repr(value) if isinstance(value, int) else f"{value:.12g}"


def signed(value: float | None) -> str:
    # 12 significant digits drop float noise (0.0153 - 1e-17) but keep every digit of a
    # difference between two 6-digit metrics.
    return "n/a" if value is None else f"{value:+.12g}"


def percent(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:+.{digits}%}"


def code(text: object) -> str:
    return f"`{str(text).replace('`', '')}`"
