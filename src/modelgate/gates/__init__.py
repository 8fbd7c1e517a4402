"""Quality gates: each gate stage measures conditions, writes `reports/gates/<gate>.json`,
re-assembles `reports/gates.json`, and exits non-zero when a condition fails."""
