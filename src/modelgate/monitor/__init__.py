"""Production monitoring: the deployed model's inputs, scores and performance, judged against
the reference the pipeline ships with the model (issue 10).

One module per kind of check, pure functions over arrays; the I/O stays at the edges:

- `reference`: what the monitor compares against, built from train + validation (a DVC output);
- `drift`, `effect`, `multiple`: two-sample tests, effect sizes and the family-wise correction;
- `estimate`, `realized`: performance before labels (from the scores) and after (per cohort);
- `log`: the serving app's prediction log, from a directory or an `s3://` prefix;
- `prometheus`: the results as Prometheus metrics;
- `run`, `__main__`: `modelgate monitor` itself, reading inputs and writing `reports/monitoring/`.
"""
