"""The episode's branch: the next snapshot, the pipeline with every gate, the evidence, the push.

In order (`retrain`): the production model from the DVC cache (fetched when missing, with the
rows it was fitted on, so the champion gate can leave them out); the matured production rows,
quarantined and split (`collect`); the branch reset to the base, the next raw snapshot written
and `dvc add`ed and committed; `dvc repro --force` with the champion gate against production;
`dvc.lock` and the git-tracked reports committed, failed gate or not; the out-of-time
comparison; the PR report against production; `dvc push`, then `git push --force-with-lease`.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from modelgate import gitdvc, io, metadata
from modelgate.gates.champion import ChampionParams
from modelgate.gates.results import PASSING, Status, merge, overall
from modelgate.metrics import CostMatrix
from modelgate.monitor import log, outcomes
from modelgate.params import (
    EvaluateParams,
    IngestParams,
    MonitorParams,
    RetrainParams,
    parse_section,
)
from modelgate.retrain import gitops, oot, pr, snapshot
from modelgate.retrain.decision import Decision, not_retrained
from modelgate.schema import FeatureSchema, read_raw

logger = logging.getLogger(__name__)


class RetrainError(RuntimeError):
    """The retraining cannot be done as asked (usage, a dirty work tree, no model, no remote)."""


@dataclass(frozen=True)
class Options:
    """Where things are, from the command line (the paths `dvc.yaml` gives the stages)."""

    production: str  # the revision production serves
    log: str  # the prediction log: a directory or s3://...
    outcomes: Path
    base: str
    git_remote: str
    dvc_remote: str | None  # None: DVC's default
    push: bool
    model: str = "models/model.onnx"
    fit_data: tuple[str, ...] = ("data/split/train.parquet", "data/split/validation.parquet")
    gates_dir: Path = Path("reports/gates")
    pr_report: Path = Path("reports/pr/report.md")


@dataclass(frozen=True)
class Params:
    """The sections a retraining reads, from the base's params.yaml (the branch's start)."""

    retrain: RetrainParams
    ingest: IngestParams
    monitor: MonitorParams
    evaluate: EvaluateParams
    champion: ChampionParams


def load_params(repo: Path, ref: str) -> Params:
    text = gitdvc.show_text(ref, "params.yaml", repo)
    if text is None:
        raise RetrainError(f"{ref} has no params.yaml")
    data, source = io.load_yaml(text), Path(f"{ref}:params.yaml")
    ingest = parse_section(data.get("ingest"), "ingest", IngestParams, source)
    if ingest.task != "binary":
        # The snapshot, the out-of-time test and the PR body judge a classifier's decisions.
        raise RetrainError(
            f"{source}: ingest.task is {ingest.task!r}; retraining from production is binary-only"
        )
    return Params(
        parse_section(data.get("retrain"), "retrain", RetrainParams, source),
        ingest,
        parse_section(data.get("monitor"), "monitor", MonitorParams, source),
        parse_section(data.get("evaluate"), "evaluate", EvaluateParams, source),
        parse_section(
            (data.get("gates") or {}).get("champion"), "gates.champion", ChampionParams, source
        ),
    )


@dataclass(frozen=True)
class NewRows:
    trainable: pd.DataFrame
    held_out: pd.DataFrame  # the out-of-time test
    counts: dict[str, Any]  # pr.Snapshot's fields from here


def collect(
    joined: outcomes.Joined, schema: FeatureSchema, as_of: date, params: Params
) -> NewRows:  # fmt: skip
    """The matured production rows as raw rows, quarantined by the contract and split into the
    rows to train on and the out-of-time test. Raises SnapshotError when they are too few."""
    ripe = snapshot.matured(joined.frame, as_of, params.monitor.performance.maturity_days)
    good, bad = snapshot.quarantine(snapshot.to_raw(ripe, schema), params.ingest)
    trainable, held_out = snapshot.split_out_of_time(good, params.retrain)
    span = held_out[snapshot.DECIDED_AT]
    counts = {
        "logged": len(joined.frame),
        "labelled": int(joined.frame["label"].notna().sum()),
        "matured": len(ripe),
        "quarantined": {str(k): int(v) for k, v in bad[snapshot.REASON].value_counts().items()},
        "held_out": len(held_out),
        "trainable": len(trainable),
        "held_out_span": (f"{span.min():%Y-%m-%d}", f"{span.max():%Y-%m-%d}"),
        "months": months(trainable, held_out),
    }
    return NewRows(trainable, held_out, counts)


def months(trainable: pd.DataFrame, held_out: pd.DataFrame) -> list[tuple[str, int, int]]:
    """(decision month, rows trained on, rows held out), oldest first."""

    def counts(rows: pd.DataFrame) -> pd.Series:
        return rows[snapshot.DECIDED_AT].dt.strftime("%Y-%m").value_counts()

    table = pd.concat([counts(trainable), counts(held_out)], axis=1).fillna(0).sort_index()
    return [(str(m), int(t), int(h)) for m, (t, h) in table.iterrows()]


@dataclass(frozen=True)
class _Run:
    """One retraining's fixed inputs, resolved before the work tree changes."""

    repo: Path
    options: Options
    result: dict[str, Any]  # the monitor's
    params: Params
    as_of: date
    remote_head: str | None  # the branch's commit on the git remote, None when new


def _production(run: _Run) -> tuple[str, bytes]:
    """The production commit and its model, through its dvc.lock and the DVC cache."""
    repo, o = run.repo, run.options
    commit = gitdvc.verify_ref(o.production, repo)
    if not gitops.ensure_cached(repo, commit, [o.model, *o.fit_data], o.dvc_remote):
        logger.warning("the cache lacks some of %s at %s: the champion gate says what it did",
                       list(o.fit_data), commit[:12])  # fmt: skip
    cached = gitdvc.cached_out(gitdvc.show_text(commit, "dvc.lock", repo), o.model,
                               repo / ".dvc" / "cache")  # fmt: skip
    if cached is None:
        raise RetrainError(f"{o.model} of production {commit[:12]} is in no cache or remote")
    return commit, cached.read_bytes()


def _new_rows(run: _Run, model: bytes) -> NewRows:
    """The production model's logged rows (its own features), joined to their outcomes."""
    meta = metadata.decoded(metadata.read(model))
    schema = FeatureSchema.from_dict(meta[metadata.FEATURE_SCHEMA])
    o = run.options
    rows = log.read_window(o.log, None, None, schema, model_version=meta[metadata.MODEL_VERSION])
    labelled = outcomes.read_outcomes(o.outcomes, schema.classes, schema.classes[1])
    joined = outcomes.join(rows, labelled, str(o.outcomes))
    return collect(joined, schema, run.as_of, run.params)


def retrain(
    repo: Path, options: Options, result: dict[str, Any], params: Params, as_of: date,
    decision: Decision, remote_head: str | None,
) -> tuple[Decision, str | None]:  # fmt: skip
    """The decision as carried out, and the PR body (None when it was not retrained)."""
    run = _Run(repo, options, result, params, as_of, remote_head)
    production, model = _production(run)
    decision = replace(decision, production=production)
    try:
        new = _new_rows(run, model)
    except snapshot.SnapshotError as exc:
        return not_retrained(decision, str(exc)), None
    raws = gitops.tracked_inputs(repo)
    if len(raws) != 1:
        raise RetrainError(f"dvc.yaml reads {len(raws)} DVC-tracked raw files ({raws}), not one")
    raw, started = raws[0], gitops.current_ref(repo)
    gitops.start_branch(repo, str(decision.branch), options.base)
    gitops.restore(repo, [raw], options.dvc_remote)
    try:
        current = read_raw(repo / raw)
        nxt = snapshot.next_snapshot(current, new.trainable, params.retrain)
        if nxt.attrs["added"] == 0:
            raise snapshot.SnapshotError("every trainable row is already in the snapshot")
    except snapshot.SnapshotError as exc:
        gitops.checkout(repo, started)
        gitops.restore(repo, [raw], options.dvc_remote)
        return not_retrained(decision, str(exc)), None
    io.write_frame(repo / raw, nxt, lambda f, p: f.to_csv(p, index=False, lineterminator="\n"))
    return _build(run, decision, new, _snapshot(run, raw, new, current, nxt), model)


def _snapshot(
    run: _Run, raw: str, new: NewRows, current: pd.DataFrame, nxt: pd.DataFrame
) -> pr.Snapshot:
    c, policy = new.counts, run.params.retrain
    return pr.Snapshot(
        raw, policy.policy, policy.window_months, run.params.monitor.performance.maturity_days,
        c["logged"], c["labelled"], c["matured"], c["quarantined"], c["held_out"], c["trainable"],
        nxt.attrs["added"], nxt.attrs["already_present"], nxt.attrs["outside_window"],
        len(current), len(nxt), old_md5=gitops.tracked_md5(run.repo, raw), months=c["months"],
        held_out_span=c["held_out_span"],
    )  # fmt: skip


def _build(
    run: _Run, decision: Decision, new: NewRows, snap: pr.Snapshot, model: bytes
) -> tuple[Decision, str]:
    """On the branch, the next snapshot written: add, commit, reproduce, compare, push."""
    repo, o = run.repo, run.options
    gitops.add(repo, snap.raw_path)
    snap = replace(snap, new_md5=gitops.tracked_md5(repo, snap.raw_path))
    what = pr.what_happened(run.result).replace("`", "")
    gitops.commit(repo, f"retrain {decision.model}: snapshot +{snap.added} matured production "
                  f"rows ({what})", [f"{snap.raw_path}.dvc"])  # fmt: skip
    # A short, unique name for production: the gate's notes and the report's charts show it.
    base_ref = gitops.git(repo, "rev-parse", "--short=12", str(decision.production)).strip()
    ran = gitops.repro(repo, base_ref)
    gates = merge(o.gates_dir)
    status = overall(gates).value
    gitops.commit(repo, f"retrain {decision.model}: dvc repro (gates: {status})",
                  ["dvc.lock", *gitops.git_tracked_outputs(repo)])  # fmt: skip
    compared, why = _oot(run, gates, new, model)
    evidence = pr.Evidence(
        decision.model, str(decision.branch), o.base, str(decision.production),
        run.as_of.isoformat(), run.result, snap, gates, compared, why,
        _pr_report(repo, base_ref, o.pr_report),
    )  # fmt: skip
    if o.push:
        gitops.push_data(repo, o.dvc_remote)
        gitops.push_branch(repo, o.git_remote, str(decision.branch), run.remote_head)
    logger.info("the work tree is on %s (dvc repro %s); `git checkout %s && dvc checkout` goes "
                "back", decision.branch, "done" if ran else "stopped", o.base)  # fmt: skip
    done = replace(
        decision, gates=status, oot=(compared or {}).get("status", Status.NOT_RUN.value),
        commit=gitops.git(repo, "rev-parse", "HEAD").strip(), pushed=o.push,
    )  # fmt: skip
    return done, pr.render(evidence)


def _oot(
    run: _Run, gates: list[dict[str, Any]], new: NewRows, production: bytes
) -> tuple[dict[str, Any] | None, str]:
    """The out-of-time comparison, when this run exported a model: after a failed gate before
    the export, the model file on disk is an earlier run's."""
    parity = next((g for g in gates if g["gate"] == "parity"), None)
    if parity is None or parity["status"] not in PASSING:
        return None, "the pipeline stopped before the retrained model was exported"
    p = run.params
    costs = CostMatrix(p.evaluate.cost_false_negative, p.evaluate.cost_false_positive)
    retrained = (run.repo / run.options.model).read_bytes()
    result = oot.compare(new.held_out, FeatureSchema.from_params(p.ingest), production, retrained,
                         p.champion, costs, p.evaluate.calibration_bins)  # fmt: skip
    return result.to_dict(), ""


def _pr_report(repo: Path, base_ref: str, out: Path) -> str | None:
    """What `make pr-report BASE=<production>` writes (its champion gate already ran against
    production in `dvc repro`); None when it could not be written."""
    command = [sys.executable, "-m", "modelgate.report.pr", "--base", base_ref, "--out", str(out)]
    env = {**os.environ, gitdvc.BASE_REF_ENV: base_ref}
    (repo / out).unlink(missing_ok=True)  # an earlier run's report must not stand in
    done = subprocess.run(command, cwd=repo, check=False, env=env)
    if done.returncode not in (0, 1) or not (repo / out).is_file():  # 1: a gate failed
        logger.warning("the PR report was not written (exit %d)", done.returncode)
        return None
    return (repo / out).read_text(encoding="utf-8")
