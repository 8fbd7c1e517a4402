"""The data-change section: sizes, class balance, schema and drift, base against PR."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelgate.report import md
from modelgate.report.drift import MAJOR_PSI, MODERATE_PSI, FeatureDrift

CONTRACT_KEYS = ("target", "positive_class", "target_classes")


@dataclass(frozen=True)
class RawDiff:
    """Rows (lines) of a raw file present in only one side, counted as multisets."""

    path: str
    added: int
    removed: int


def raw_line_diff(path: str, base: bytes, pr: bytes) -> RawDiff:
    base_lines = Counter(base.decode("utf-8", "replace").splitlines()[1:])
    pr_lines = Counter(pr.decode("utf-8", "replace").splitlines()[1:])
    return RawDiff(
        path, sum((pr_lines - base_lines).values()), sum((base_lines - pr_lines).values())
    )


def changed_snapshots(base: Mapping[str, str], pr: Mapping[str, str]) -> list[str]:
    """Raw data files whose md5 differs (or exists on one side only)."""
    return sorted(p for p in set(base) | set(pr) if base.get(p) != pr.get(p))


def _totals(split: Mapping[str, Any]) -> dict[str, float]:
    rows = sum(int(s["rows"]) for s in split.values())
    positives = sum(int(s["positives"]) for s in split.values())
    return {"rows": rows, "positives": positives, "positive_rate": positives / max(rows, 1)}


def _split_row(name: str, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    return [
        name,
        md.num(old["rows"]) if old else "n/a",
        md.num(new["rows"]),
        f"{int(new['rows']) - int(old['rows']):+d}" if old else "n/a",
        f"{old['positive_rate']:.2%}" if old else "n/a",
        f"{new['positive_rate']:.2%}",
    ]


def split_table(base: Mapping[str, Any] | None, pr: Mapping[str, Any]) -> str:
    """Rows and positive rate per split and overall (from each side's `split.json`)."""
    base = base or {}
    pairs = [(name, base.get(name), side) for name, side in pr.items()]
    pairs.append(("all", _totals(base) if base else None, _totals(pr)))
    header = ["split", "base rows", "PR rows", "change", "base positive rate", "PR positive rate"]
    return md.table(header, [_split_row(*pair) for pair in pairs])


def schema_changes(base: Mapping[str, Any] | None, pr: Mapping[str, Any]) -> list[str]:
    """What the data contract (`ingest` params) changed, one sentence each."""
    if base is None:
        return ["the base has no `ingest` params to compare with"]
    out = [
        f"`{key}`: {base.get(key)!r} -> {pr.get(key)!r}"
        for key in CONTRACT_KEYS
        if base.get(key) != pr.get(key)
    ]
    old, new = base.get("columns", {}), pr.get("columns", {})
    out += [f"column `{c}` added ({new[c].get('kind')})" for c in new if c not in old]
    out += [f"column `{c}` removed" for c in old if c not in new]
    out += [
        f"column `{c}` rule changed: {old[c]} -> {new[c]}"
        for c in new
        if c in old and old[c] != new[c]
    ]
    return out


def drift_table(drift: Sequence[FeatureDrift]) -> str:
    rows = [
        [
            d.feature,
            d.kind,
            f"{d.psi:.4f}",
            "n/a" if d.ks is None else f"{d.ks:.4f}",
            "n/a" if d.ks_pvalue is None else f"{d.ks_pvalue:.3g}",
            d.level,
        ]
        for d in drift
    ]
    return md.table(["feature", "kind", "PSI", "KS statistic", "KS p-value", "reading"], rows)


def render(
    changed: Sequence[str],
    splits: tuple[Mapping[str, Any] | None, Mapping[str, Any] | None],
    ingest: tuple[Mapping[str, Any] | None, Mapping[str, Any]],
    raw: Sequence[RawDiff],
    drift: Sequence[FeatureDrift] | None,
    drift_note: str,
) -> str:
    """The whole section; `splits` and `ingest` are (base, PR) pairs."""
    parts = ["## Data changes", "Raw data snapshot changed: " + ", ".join(map(md.code, changed))]
    parts += [
        f"- `{r.path}`: {r.added} row(s) added, {r.removed} row(s) removed (line by line)"
        for r in raw
    ]
    if splits[1] is not None:
        parts.append(split_table(splits[0], splits[1]))
    schema = schema_changes(*ingest)
    parts.append("Schema: " + ("; ".join(schema) if schema else "no change to the data contract"))
    parts.append("### Drift of the training data (base -> PR)")
    if drift is None:
        parts.append(drift_note)
    else:
        parts.append(
            f"PSI below {MODERATE_PSI:g} reads as stable, {MODERATE_PSI:g}-{MAJOR_PSI:g} as a "
            f"moderate shift, above {MAJOR_PSI:g} as a major shift."
        )
        parts.append(drift_table(drift))
    return "\n\n".join(parts)
