"""The pull-request report: this working tree's pipeline results against a base commit's.

`pr` is the entry point; `gitdvc` asks git and DVC, `collect` gathers both sides, and the
renderers (`sections`, `datachange`, `charts`) are pure functions of what was gathered.
"""
