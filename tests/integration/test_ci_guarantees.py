"""What CI must guarantee, shown with the real `dvc`, git and make in a copy of the repository:

- a gate cannot be skipped: a hand-written passing gate file plus `dvc commit` fools a plain
  `dvc repro` and `lock-check`, but not `make ci-repro`, the target CI runs;
- a library bump in `uv.lock` makes exactly the stages that import the library out of date;
- `dvc exp run -S` (DVC rewrites params.yaml with its YAML 1.2 writer) runs the whole pipeline,
  gates included, and `dvc exp show --json` lists the experiment with numeric gate metrics.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.integration.repo_copy import (
    git,
    ran_stages,
    replace_file,
    reproduced_main,
    run_dvc,
    run_make,
)

pytestmark = pytest.mark.slow

RAW = Path("data/raw/credit_data.csv")
UP_TO_DATE = re.compile(r"Data and pipelines are up to date|didn't change, skipping")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`main` with the pipeline reproduced and every git-tracked result committed."""
    return reproduced_main(tmp_path_factory.mktemp("ci") / "repo")


def _on_branch(repo: Path, name: str) -> None:
    git(repo, "checkout", "--quiet", "--force", "-B", name, "main")
    run_dvc(repo, "checkout", "--force")


def make(repo: Path, target: str) -> subprocess.CompletedProcess[str]:
    return run_make(repo, target)


def _forge_passing_gate(repo: Path, gate: str) -> None:
    record = {
        "gate": gate,
        "status": "pass",
        "notes": [],
        "conditions": [{"name": "forged", "status": "pass", "value": 0, "threshold": "-"}],
    }
    gates = repo / "reports" / "gates"
    (gates / f"{gate}.json").write_text(json.dumps(record), encoding="utf-8")
    counts = {f"{gate}_gate": {"failed": 0, "warned": 0, "passed": 1}}
    (gates / f"{gate}.counts.json").write_text(json.dumps(counts), encoding="utf-8")


def test_a_forged_gate_file_fools_plain_repro_but_fails_the_ci_target(repo: Path) -> None:
    _on_branch(repo, "forged-gate")
    # 6% of rows duplicated: the data gate's DataDuplicates condition (at most 1%) fails.
    lines = (repo / RAW).read_bytes().splitlines(keepends=True)
    replace_file(repo / RAW, b"".join(lines + lines[1 : 1 + len(lines) * 6 // 100]))
    run_dvc(repo, "add", str(RAW))
    # The forgery: for each gate that fails, a passing record and `dvc commit`; then the
    # rest of the pipeline runs, and everything is committed.
    forged = []
    while (run := run_dvc(repo, "repro", check=False)).returncode != 0:
        gate = re.search(r"gate '(\w+)' failed", run.stdout)
        assert gate and len(forged) < 3, run.stdout
        forged.append(gate.group(1))
        _forge_passing_gate(repo, forged[-1])
        run_dvc(repo, "commit", "--force", f"{forged[-1]}_gate")
    assert forged[0] == "data"  # the split gate catches the duplicates too
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "a PR with a hand-written passing data gate")

    fooled = run_dvc(repo, "repro")
    assert ran_stages(fooled.stdout) == [] and UP_TO_DATE.search(fooled.stdout)
    assert make(repo, "lock-check").returncode == 0  # the old CI's check passes too

    ci = make(repo, "ci-repro")
    assert ci.returncode != 0, ci.stdout
    assert "Running stage 'data_gate'" in ci.stdout
    assert "gate 'data' failed 1 condition(s):\n  - DataDuplicates" in ci.stdout
    assert "Running stage 'split'" not in ci.stdout  # nothing after the failed gate ran


def test_a_pr_that_commits_params_without_their_dvc_lock_fails_the_ci_target(repo: Path) -> None:
    """DVC stages the dvc.lock it rewrites (core.autostage): lock-check compares with HEAD."""
    _on_branch(repo, "stale-lock")
    params = (repo / "params.yaml").read_text(encoding="utf-8")
    # Not max_depth: the experiment test sets that, and must see train run, not restored.
    changed = params.replace("min_child_weight: 2.0", "min_child_weight: 3.0", 1)
    assert changed != params
    (repo / "params.yaml").write_text(changed)
    git(repo, "commit", "--quiet", "--all", "--message", "a param, dvc.lock not reproduced")

    ci = make(repo, "ci-repro")

    assert ci.returncode != 0, ci.stdout
    assert "dvc.lock differs from what this run reproduced" in ci.stdout
    assert git(repo, "diff", "--cached", "--name-only").split() == ["dvc.lock"]  # autostaged


def test_a_locked_library_bump_makes_the_stages_that_import_it_out_of_date(repo: Path) -> None:
    _on_branch(repo, "bump-xgboost")
    assert run_dvc(repo, "status", "--json").stdout.strip() == "{}"
    lock = (repo / "uv.lock").read_text(encoding="utf-8")
    bumped, count = re.subn(
        r'(\[\[package\]\]\nname = "xgboost"\nversion = ")([^"]+)"', r'\g<1>99.0.0"', lock
    )
    assert count == 1
    (repo / "uv.lock").write_text(bumped, encoding="utf-8")
    # What `make env` does when uv.lock changes (Dependabot's PR changes nothing else).
    assert make(repo, "libraries.yaml").returncode == 0
    assert 'xgboost: "99.0.0"' in (repo / "libraries.yaml").read_text(encoding="utf-8")

    status = json.loads(run_dvc(repo, "status", "--json").stdout)

    # Exactly the stages whose own `libraries.yaml` params name xgboost; every stage after
    # them has a changed dep the next run would see, not one `dvc status` reports now.
    stale = {
        name
        for name, stage in yaml.safe_load((repo / "dvc.yaml").read_text())["stages"].items()
        if any("xgboost" in (p.get("libraries.yaml") or []) for p in stage.get("params", [])
               if isinstance(p, dict))
    }  # fmt: skip
    assert {"train", "evaluate", "export", "champion_gate"} <= stale
    assert not {"ingest", "split", "data_gate"} & stale
    assert set(status) == stale, status
    for stage in stale:
        (entry,) = status[stage]
        assert entry["changed deps"] == {"libraries.yaml": {"xgboost": "modified"}}, entry


def test_dvc_exp_run_set_param_runs_every_gate_and_shows_numeric_metrics(repo: Path) -> None:
    _on_branch(repo, "experiments")
    result = run_dvc(
        repo,
        "exp", "run", "--name", "shallow",
        "-S", "train.max_depth=3",
        "-S", "gates.model.metrics.roc_auc.min=0.7",
        "-S", "ingest.extra_columns=drop",
    )  # fmt: skip
    # DVC's writer dropped the quotes the committed file has: YAML 1.2 keeps them strings.
    params = (repo / "params.yaml").read_text(encoding="utf-8")
    assert re.search(r"categories: \[no, yes\]|- no\n", params), params
    assert re.search(r"on_fail: off\b", params)
    # ingest reran and wrote the same bytes (no extra columns to drop), so the data gate and
    # split were rightly skipped; train onward reran for max_depth.
    ran = ran_stages(result.stdout)
    assert {"ingest", "train", "model_gate", "export", "champion_gate"} <= set(ran), ran

    shown = json.loads(run_dvc(repo, "exp", "show", "--json").stdout)
    experiments = [
        exp for rev in shown for exp in (rev.get("experiments") or []) if exp.get("name")
    ]
    (shallow,) = [e for e in experiments if e["name"] == "shallow"]
    data = shallow["revs"][0]["data"]
    assert data["params"]["params.yaml"]["data"]["train"]["max_depth"] == 3
    metrics = data["metrics"]
    assert metrics["reports/gates/model.counts.json"]["data"]["model_gate"]["failed"] == 0
    assert isinstance(metrics["reports/metrics.json"]["data"]["test"]["roc_auc"], float)
    for path, entry in metrics.items():
        assert _leaves_are_numbers(entry["data"]), f"{path} puts strings in `dvc exp show`"


def _leaves_are_numbers(value: object) -> bool:
    if isinstance(value, dict):
        return all(_leaves_are_numbers(v) for v in value.values())
    return isinstance(value, int | float | list)  # DVC shows no lists
