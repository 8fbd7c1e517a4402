"""Glue for the GitHub workflows, which cannot run here, written so it can be tested here.

`comment` posts the PR report (pr-comment.yml); `artifacts` computes where upload-artifact and
download-artifact put files, so a test can hold the two workflows to each other. Stdlib only,
and importing nothing from modelgate that needs more (tests/unit/test_ci_imports.py):
pr-comment.yml runs this package with the runner's system python3, from the default branch,
with no environment.
"""
