"""The PrometheusRule of deploy/components/monitoring, generated from the alert rules' one file.

    python -m modelgate.deploy_rules   # after editing monitoring/prometheus/alerts.yml

monitoring/prometheus/alerts.yml owns every rule: promtool tests it and a real Prometheus loads
it (monitoring/README.md). The Prometheus Operator reads rules only from PrometheusRule objects,
and kustomize cannot turn a file into an object's field (a configMapGenerator makes a ConfigMap,
which the operator ignores), so the object is this file's groups, written under a header that
says so; tests/unit/test_deploy_manifests.py fails when the two differ.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from io import StringIO
from pathlib import Path
from typing import Any

from modelgate.io import load_yaml, write_bytes

logger = logging.getLogger(__name__)

ALERTS = Path("monitoring/prometheus/alerts.yml")
OUT = Path("deploy/components/monitoring/prometheusrule.yaml")
HEADER = (
    f"# Generated from {ALERTS} (its comments say why each rule is so)\n"
    "# by `python -m modelgate.deploy_rules`: edit that file, then regenerate.\n"
    "# tests/unit/test_deploy_manifests.py fails when the two differ.\n"
)


def render(alerts_text: str) -> str:
    """The PrometheusRule manifest carrying the groups of `alerts_text`."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # no folding: a folded line ends in a blank, and may split a template
    groups = _literal(load_yaml(alerts_text)["groups"])
    rule: dict[str, Any] = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "modelgate", "labels": {"app.kubernetes.io/name": "modelgate"}},
        "spec": {"groups": groups},
    }
    out = StringIO()
    yaml.dump(rule, out)
    return HEADER + out.getvalue()


def _literal(node: Any) -> Any:
    """`node` with every multi-line string as a `|` block, so an expression reads as written."""
    from ruamel.yaml.scalarstring import LiteralScalarString

    if isinstance(node, dict):
        return {key: _literal(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_literal(value) for value in node]
    return LiteralScalarString(node) if isinstance(node, str) and "\n" in node else node


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--alerts", type=Path, default=ALERTS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    write_bytes(args.out, render(args.alerts.read_text(encoding="utf-8")).encode("utf-8"))
    logger.info("wrote %s from %s", args.out, args.alerts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
