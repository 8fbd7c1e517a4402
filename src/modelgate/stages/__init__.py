"""Pipeline stages, one module each; `dvc.yaml` runs them as `python -m modelgate.stages.<name>`."""
