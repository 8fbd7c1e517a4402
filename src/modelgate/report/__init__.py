"""The pull-request report: this working tree's pipeline results against a base commit's.

`pr` is the entry point; `collect` (through `modelgate.gitdvc`) gathers both sides, and the
renderers (`sections`, `datachange`, `charts`) are pure functions of what was gathered.
"""
