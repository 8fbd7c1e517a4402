"""Retraining from production: the next snapshot and a pull request a human merges (issue 11).

- `snapshot`: matured production rows as raw-file rows, quarantined against the data contract,
  the out-of-time test held out, and the next raw snapshot by the `retrain.policy`.
- `oot`: the production and the retrained model compared on the out-of-time rows with the
  champion gate's paired bootstrap.
- `pr`: the pull request's body (the monitoring report, then the usual PR report).
- `gitops`: the episode's branch, `dvc add`, `dvc repro` and the commits.
- `__main__`: `make retrain-pr`, everything but the GitHub call.
"""
