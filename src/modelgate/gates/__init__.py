"""Quality gates: each gate stage measures conditions, writes `reports/gates/<gate>.json`,
re-assembles `reports/gates.json`, and exits non-zero when a condition fails."""

import sys

# jsonschema imports rfc3987_syntax for its IRI format checker, which costs 2-3 s per process
# (python-jsonschema/jsonschema#1521); Deepchecks never validates IRIs. Every gate stage is a
# fresh process, so this is seconds per pipeline run. Must run before deepchecks is imported.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
