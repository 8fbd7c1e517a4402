"""Write the pull-request report: this working tree's pipeline results against BASE's.

    python -m modelgate.report.pr --base origin/main --out reports/pr/report.md

Run from the repository root after `dvc repro`. Exit 0 when every gate passes or only warns;
1 when a gate failed or did not run, or there are no gate results (the report is written
either way); 2 when BASE names no commit (nothing is written). BASE defaults to
`modelgate.gitdvc.base_ref()`, the champion gate's base.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from modelgate import gitdvc, io
from modelgate.cli import configure_logging
from modelgate.gates import results
from modelgate.report import datachange, fairness, links
from modelgate.report.collect import Paths, base_side, data_evidence, working_side
from modelgate.report.render import Inputs, render

logger = logging.getLogger(__name__)


def champion_result(gates: dict[str, Any] | None, champion_file: Path) -> dict[str, Any] | None:
    """The champion gate's result, unless it did not run in the pipeline behind `gates`: its
    file would then be left over from an earlier run."""
    gate = next((g for g in (gates or {}).get("gates", []) if g["gate"] == "champion"), None)
    if gate is None or gate["status"] == results.Status.NOT_RUN:
        return None
    return io.read_json(champion_file) if champion_file.is_file() else gate


def champion_base_note(champion: dict[str, Any] | None, ref: str, commit: str) -> list[str]:
    """A warning when the champion gate compared with another commit than this report."""
    notes = (champion or {}).get("notes", [])
    names = [n.removeprefix("base: ") for n in notes if n.startswith("base: ")]
    try:
        same = all(gitdvc.verify_ref(name, Path()) == commit for name in names)
    except gitdvc.UnknownRefError:
        same = False
    if same:
        return []
    return [
        f"the champion gate compared with `{names[0]}`, this report with `{ref}`; run "
        f"`dvc repro` with MODELGATE_BASE_REF={ref} to compare both with the same base."
    ]


def _dvc(query: Callable[[str, Path], dict[str, Any]], ref: str, problems: list[str]) -> dict:
    try:
        return query(ref, Path())
    except (gitdvc.DvcError, ValueError) as exc:
        problems.append(str(exc))
        return {}


def gather(ref: str, commit: str, paths: Paths) -> Inputs:
    base, pr = base_side(ref, paths, Path()), working_side(paths)
    merged = results.merge(paths.reports / "gates")
    ran = any(g["status"] != results.Status.NOT_RUN for g in merged)
    gates = {"gates": merged} if ran else None  # None: no gate ever ran in this tree
    changed = datachange.changed_snapshots(base.raw_md5, pr.raw_md5) if base.raw_md5 else []
    champion = champion_result(gates, paths.reports / "gates" / "champion.json")
    fairness_file = paths.reports / "gates" / fairness.FILE
    problems = champion_base_note(champion, ref, commit)
    return Inputs(
        base_ref=ref,
        paths=paths,
        base=base,
        pr=pr,
        gates=gates,
        champion=champion,
        metrics_diff=_dvc(gitdvc.metrics_diff, ref, problems),
        params_diff=_dvc(gitdvc.params_diff, ref, problems),
        changed_data=changed,
        data=data_evidence(base, pr, changed, paths) if changed else None,
        links=links.section(sorted((paths.reports / "deepchecks").glob("*.html")), os.environ),
        problems=problems,
        base_commit=commit,
        fairness=io.read_json(fairness_file) if fairness_file.is_file() else None,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--base",
        default=gitdvc.base_ref(),
        help=f"git ref to compare with (default ${gitdvc.BASE_REF_ENV}, else main)",
    )
    parser.add_argument("--out", type=Path, default=Path("reports/pr/report.md"))
    defaults = Paths()
    parser.add_argument("--reports", type=Path, default=defaults.reports)
    parser.add_argument("--model", type=Path, default=defaults.model)
    parser.add_argument("--raw-dir", type=Path, default=defaults.raw_dir)
    parser.add_argument("--train", type=Path, default=defaults.train)
    parser.add_argument("--params", type=Path, default=defaults.params)
    parser.add_argument("--cache-dir", type=Path, default=defaults.cache_dir)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    args = _parser().parse_args(argv)
    try:
        commit = gitdvc.verify_ref(args.base, Path())
    except gitdvc.UnknownRefError as exc:
        logger.error("%s", exc)
        return 2
    paths = Paths(args.reports, args.model, args.raw_dir, args.train, args.params, args.cache_dir)
    inputs = gather(args.base, commit, paths)
    io.write_bytes(args.out, render(inputs).encode("utf-8"))
    status = results.overall((inputs.gates or {}).get("gates"))
    logger.info("PR report against %s: gates %s -> %s", args.base, status, args.out)
    return 0 if status in results.PASSING else 1


if __name__ == "__main__":
    sys.exit(main())
