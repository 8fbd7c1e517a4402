"""What adopt prints: a table of its decisions per column, then what to review."""

from __future__ import annotations

from modelgate.adopt.decide import Adoption
from modelgate.adopt.profile import Column

HEADER = ("column", "kind", "nullable", "rule", "left out")


def _row(column: Column, protected: tuple[str, ...]) -> tuple[str, ...]:
    if column.spec is None:
        return (column.name, "-", "-", column.rule, column.left_out or "")
    rule = column.rule + (" (protected: never a feature)" if column.name in protected else "")
    return (column.name, column.spec.kind, "yes" if column.spec.nullable else "no", rule, "")


def render(adoption: Adoption, raw_path: str, notes: list[str]) -> str:
    t = adoption.target
    rows = [HEADER, *(_row(c, adoption.protected) for c in adoption.columns)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    table = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    by = ", ".join(adoption.segments) or "none"
    split = f"out of time by {adoption.split_by!r}" if adoption.split_by else "seeded random"
    lines = [
        f"adopted {raw_path}: task {t.task}, target {t.name!r}",
        f"split: {split}",
        f"segments judged by: {by}",
        "",
        *table,
        "",
        "review these:",
        *(f"  - {note}" for note in [*adoption.review, *notes]),
        "",
        "next: git add params.yaml data/raw && make run",
    ]
    return "\n".join(lines) + "\n"
