"""Retraining from production: the next snapshot and a pull request a human merges (issue 11).

- `snapshot`: matured production rows as raw-file rows, quarantined against the data contract,
  the out-of-time test held out, and the next raw snapshot by the `retrain.policy`.
- `oot`: the production and the retrained model compared on the out-of-time rows with the
  champion gate's paired bootstrap.
- `pr`: the pull request's body (the monitoring report, then the usual PR report).
- `decision`: what a run does (open, update, none, drift-passed), the episode's branch name,
  `decision.json`.
- `branch`: the build on the episode's branch: snapshot, `dvc add`, `dvc repro --force`,
  commits, the out-of-time comparison and the PR report against production.
- `gitops`: the git and DVC commands, thin.
- `__main__`: `make retrain-pr`, everything but the GitHub call.
"""
