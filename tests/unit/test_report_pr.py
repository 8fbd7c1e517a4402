"""The report's entry point in a tiny git repository: both sides gathered, the file written,
the exit code. DVC's two diffs are stood in for (the integration test runs the real ones)."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnx
import pytest
import yaml
from onnx import TensorProto, helper

from modelgate import gitdvc
from modelgate.report import links, pr
from modelgate.report.collect import Paths, base_side
from tests.unit import _report_data as data

GIT = [
    "git",
    "-c",
    "user.name=t",
    "-c",
    "user.email=t@example.invalid",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "init.defaultBranch=main",
]
MODEL_MD5 = "0123456789abcdef0123456789abcdef"


def tiny_onnx(version: str) -> bytes:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph)
    helper.set_model_props(model, {"model_version": version})
    return model.SerializeToString()


def write(root: Path, files: dict[str, Any]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content)
        else:
            path.write_text(json.dumps(content))


def side_files(metrics: dict, raw_md5: str) -> dict[str, Any]:
    plots = data.plots()
    files: dict[str, Any] = {
        "reports/metrics.json": metrics,
        "reports/split.json": data.SPLIT,
        "params.yaml": yaml.safe_dump(data.PARAMS),
        "reports/predictions/test.csv": data.predictions().to_csv(index=False),
        "data/raw/credit_data.csv.dvc": yaml.safe_dump(
            {"outs": [{"md5": raw_md5, "path": "credit_data.csv"}]}
        ),
    }
    files.update({f"reports/plots/{n}.csv": f.to_csv(index=False) for n, f in plots.items()})
    return files


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`main` holds a run's results; the working tree holds another run's, a new data
    snapshot and a model whose base is in the (fake) DVC cache."""
    lock = {"stages": {"export": {"outs": [{"path": "models/model.onnx", "md5": MODEL_MD5}]}}}
    write(
        tmp_path, {**side_files(data.metrics(0.8, 0.3), "aa11"), "dvc.lock": yaml.safe_dump(lock)}
    )
    subprocess.run([*GIT, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run([*GIT, "commit", "-qm", "base"], cwd=tmp_path, check=True)
    write(tmp_path, side_files(data.metrics(0.82, 0.25), "bb22"))
    write(
        tmp_path,
        {
            "models/model.onnx": tiny_onnx("pr-version"),
            f".dvc/cache/files/md5/{MODEL_MD5[:2]}/{MODEL_MD5[2:]}": tiny_onnx("base-version"),
            "reports/gates/champion.json": data.champion(0.01, 0.02),  # left over from a past run
        },
    )
    monkeypatch.chdir(tmp_path)
    diff = data.metrics_diff(data.metrics(0.8, 0.3), data.metrics(0.82, 0.25))
    monkeypatch.setattr(gitdvc, "metrics_diff", lambda ref, cwd: diff)
    monkeypatch.setattr(gitdvc, "params_diff", lambda ref, cwd: {})
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield tmp_path
    root.handlers[:] = handlers
    root.setLevel(level)


def _write_gates(repo: Path, record: dict) -> None:
    """Each gate's own file, as the gate stages write them: the report reads nothing else."""
    write(repo, {f"reports/gates/{g['gate']}.json": g for g in record["gates"]})


def test_a_failed_gate_writes_the_report_then_exits_1(repo: Path) -> None:
    _write_gates(repo, data.gates("fail", "not run"))
    assert pr.main(["--base", "main", "--out", "reports/pr/report.md"]) == 1
    text = (repo / "reports/pr/report.md").read_text()
    assert text.startswith("<!-- modelgate:pr-report -->\n\n> [!CAUTION]\n> **FAIL**: gate `model`")
    assert "model not exported in this run" in text  # parity did not run after the model gate
    assert "raw data changed: `data/raw/credit_data.csv`" in text
    assert "## Data changes" in text and "No drift summary" in text
    assert "the champion gate did not run" in text  # its stale file is not trusted
    assert "| roc_auc | 0.8 | 0.82 | +0.02 | +2.50% |" in text


def test_passing_gates_exit_0_and_use_the_champion_file(repo: Path) -> None:
    # Every gate but the champion, whose file (from the fixture) has the bootstrap interval.
    fair = {"gate": "fairness", "status": "pass", "notes": ["no protected columns"],
            "conditions": [], "groups": {}}  # fmt: skip
    _write_gates(repo, {"gates": [*data.gates()["gates"][:-1], fair]})
    assert pr.main(["--base", "main", "--out", "out/report.md"]) == 0
    text = (repo / "out/report.md").read_text()
    assert "> [!TIP]" in text and "**significant improvement**" in text
    assert "## Fairness\n\nGate `fairness`: **pass**." in text
    assert "No protected columns (`ingest.protected` is empty)" in text


def test_missing_gate_results_fail(repo: Path) -> None:
    assert pr.main(["--base", "main", "--out", "report.md"]) == 1
    assert "no gate results" in (repo / "report.md").read_text()


@pytest.mark.parametrize("ref", ["no-such-branch", "--output=x"])
def test_an_unknown_base_exits_2_and_writes_nothing(
    repo: Path, ref: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert pr.main([f"--base={ref}", "--out", "report.md"]) == 2
    assert not (repo / "report.md").exists()
    assert f"unknown base ref {ref!r}" in capsys.readouterr().err


def test_base_side_reads_git_and_the_dvc_cache(repo: Path) -> None:
    base = base_side("main", Paths(), Path())
    assert base.metrics == data.metrics(0.8, 0.3)
    assert base.raw_md5 == {"data/raw/credit_data.csv": "aa11"}
    assert base.model_version == "base-version"
    assert set(base.plots) == {"roc", "precision_recall", "calibration", "score_distribution"}
    assert onnx.load_from_string(tiny_onnx("x")).metadata_props[0].value == "x"


def test_run_url_needs_all_three_github_variables() -> None:
    env = {
        "GITHUB_SERVER_URL": "https://github.com/",
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_RUN_ID": "42",
    }
    assert links.run_url(env) == "https://github.com/o/r/actions/runs/42"
    assert links.run_url({**env, "GITHUB_RUN_ID": ""}) is None


def test_html_reports_are_named_in_their_artifact_never_linked(tmp_path: Path) -> None:
    html = [Path("reports/deepchecks/model evaluation.html")]
    block = links.section(html, {})
    assert "- `deepchecks/model evaluation.html`" in block and "](" not in block
    assert "CI run: not run in GitHub Actions." in block


def test_a_champion_compared_with_another_base_is_pointed_out(repo: Path) -> None:
    commit = gitdvc.verify_ref("main", Path())
    same = data.champion(0.0, 0.01)
    assert pr.champion_base_note(same, "main", commit) == []
    other = {**same, "notes": ["base: origin/main"]}  # no such ref in this repository
    (note,) = pr.champion_base_note(other, "main", commit)
    assert "compared with `origin/main`, this report with `main`" in note
    assert "MODELGATE_BASE_REF=main" in note
